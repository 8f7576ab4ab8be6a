"""Layer behaviour: building, Keras 2 arguments, config round trips, dropout, dtypes, errors."""
import numpy as np
import pytest

from lstmlab import initializers, layers

B, T, D, H = 3, 6, 4, 5


def x3(dtype="float32"):
    return np.random.default_rng(0).normal(size=(B, T, D)).astype(dtype)


def test_layer_builds_on_first_call_and_returns_numpy():
    y = layers.LSTM(3, kernel_initializer=initializers.Constant(0.01))(np.arange(72.0).reshape(3, 6, 4))
    assert isinstance(y, np.ndarray) and y.shape == (3, 3) and y.dtype == np.float32


def test_keras2_shape_arguments():
    assert layers.LSTM(H, input_shape=(T, D)).batch_input_shape == (None, T, D)
    assert layers.LSTM(H, batch_input_shape=(2, T, D)).batch_input_shape == (2, T, D)
    assert layers.Dense(2, input_dim=D).batch_input_shape == (None, D)
    assert layers.Input(shape=(T, D), batch_size=8).shape == (8, T, D)


@pytest.mark.parametrize("make", [
    lambda: layers.LSTM(H, return_sequences=True, go_backwards=True, stateful=True, dropout=0.1,
                        recurrent_dropout=0.2, unit_forget_bias=False, activation="relu",
                        kernel_initializer="he_normal", seed=3, input_shape=(T, D)),
    lambda: layers.Dense(7, activation="softmax", use_bias=False, kernel_initializer="zeros"),
    lambda: layers.Dropout(0.3, seed=1),
    lambda: layers.Embedding(20, 4, mask_zero=True),
])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config


def test_weights_round_trip_and_float64():
    a = layers.LSTM(H, dtype="float64")
    a(x3("float64"))
    assert all(w.dtype == np.float64 for w in a.get_weights())
    b = layers.LSTM(H, dtype="float64")
    b(x3("float64"))
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a(x3("float64")), b(x3("float64")))


def test_weights_start_on_a_cache_line_and_stay_there():
    """Weights are 64-byte aligned from the start (the single step's product reads U as it
    is) and are set in place, so set_weights and training keep them aligned."""
    from lstmlab.models import Sequential
    model = Sequential([layers.Input((None, 3)), layers.LSTM(5), layers.Dense(2)])
    before = [w.ctypes.data for w in model.weights]
    assert all(a % 64 == 0 for a in before)
    model.set_weights([w + 1 for w in model.get_weights()])
    model.compile("adam", "mse")
    model.fit(np.ones((2, 4, 3), "float32"), np.ones((2, 2), "float32"), epochs=1, verbose=0)
    assert [w.ctypes.data for w in model.weights] == before
    embedding = layers.Embedding(7, 3)
    embedding(np.zeros((1, 4), "int64"))
    assert embedding.embeddings.ctypes.data % 64 == 0


def test_unroll_implementation_cudnn_change_nothing():
    base = layers.LSTM(H)
    y = base(x3())
    for kw in ({"unroll": True}, {"implementation": 1}, {"use_cudnn": False}):
        other = layers.LSTM(H, **kw)
        other(x3())
        other.set_weights(base.get_weights())
        np.testing.assert_array_equal(other(x3()), y)


def test_dropout_only_in_training_and_same_mask_every_step():
    layer = layers.LSTM(H, dropout=0.5, seed=0, return_sequences=True)
    x = x3()
    y_infer = layer(x)
    np.testing.assert_array_equal(layer(x), y_infer)
    (y_train, cache) = layer.forward(x, training=True)
    assert not np.allclose(y_train, y_infer)
    m = cache.input_mask                      # (B, 1, D): one mask per sequence, every step
    assert m.shape == (B, 1, D) and set(np.unique(m)) <= {0.0, 2.0}
    d = layers.Dropout(0.25, seed=0)
    big = np.ones((200, 200), "float32")
    assert d(big) is not None and np.array_equal(d(big), big)
    y, _ = d.forward(big, training=True)
    assert abs(y.mean() - 1.0) < 0.02 and abs((y == 0).mean() - 0.25) < 0.02


def test_stateful_states_readable_and_settable():
    layer = layers.LSTM(H, stateful=True)
    assert layer.states is None
    layer(x3())
    h, c = layer.states
    assert h.shape == c.shape == (B, H)
    layer.states = [np.ones((B, H)), np.zeros((B, H))]
    np.testing.assert_array_equal(layer.states[0], 1.0)


# -- errors: what was expected, what was received, and the fix -------------------

def test_2d_input_to_lstm_shows_the_reshape():
    with pytest.raises(ValueError, match=r"\(batch, timesteps, features\).*\(100, 1000\).*reshape\(100, 1000, 1\)"):
        layers.LSTM(H)(np.zeros((100, 1000)))


def test_feature_count_differs_from_built_layer():
    layer = layers.LSTM(H)
    layer(x3())
    with pytest.raises(ValueError, match=r"built for 4 features.*\(3, 6, 7\)"):
        layer(np.zeros((B, T, 7)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_input(bad):
    x = x3()
    x[1, 2, 3] = bad
    with pytest.raises(ValueError, match=r"NaN or inf.*\(1, 2, 3\).*nan_to_num"):
        layers.LSTM(H)(x)


def test_initial_state_of_wrong_shape():
    with pytest.raises(ValueError, match=r"initial state h must have shape \(batch, units\) = \(3, 5\)\. Received shape \(3, 4\)"):
        layers.LSTM(H)(x3(), initial_state=[np.zeros((B, 4)), np.zeros((B, H))])
    with pytest.raises(ValueError, match=r"initial_state must be \[h, c\]"):
        layers.LSTM(H)(x3(), initial_state=[np.zeros((B, H))])


def test_stateful_call_with_new_batch_size():
    layer = layers.LSTM(H, stateful=True)
    layer(x3())
    with pytest.raises(ValueError, match=r"stateful with batch size 3.*Received a batch of 2"):
        layer(x3()[:2])


def test_unknown_initializer_lists_valid_names():
    with pytest.raises(ValueError, match=r"glorot_unifrom.*glorot_uniform"):
        layers.LSTM(H, kernel_initializer="glorot_unifrom")


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match=r"tanhh.*tanh"):
        layers.LSTM(H, activation="tanhh")
    with pytest.raises(ValueError, match=r"softmax.*Expected one of"):
        layers.LSTM(H, activation="softmax")   # not an activation the recurrence supports


def test_unknown_argument_is_named():
    with pytest.raises(TypeError, match="retrun_sequences"):
        layers.LSTM(H, retrun_sequences=True)


@pytest.mark.parametrize("units", [0, -3, 2.5, "10"])
def test_bad_units(units):
    with pytest.raises(ValueError, match="positive integer"):
        layers.LSTM(units)


def test_mask_of_wrong_shape():
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, timesteps\) = \(3, 6\)"):
        layers.LSTM(H)(x3(), mask=np.ones((B, 5), bool))


def test_embedding_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match=r"input_dim=5.*\[0, 7\].*at least 8"):
        layers.Embedding(5, 2)(np.array([[0, 7]]))


def test_non_numeric_input():
    with pytest.raises(TypeError, match="expects numbers"):
        layers.Dense(2)(np.array([["a", "b"]]))


def test_set_floatx_float64_end_to_end():
    from lstmlab import config
    from lstmlab.models import Sequential

    config.set_floatx("float64")
    try:
        model = Sequential([layers.LSTM(3, input_shape=(4, 2)), layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        x = np.random.default_rng(0).normal(size=(5, 4, 2))
        model.fit(x, np.zeros((5, 1)), epochs=1, verbose=0)
        assert all(w.dtype == np.float64 for w in model.get_weights())
        assert model.predict(x, verbose=0).dtype == np.float64
    finally:
        config.set_floatx("float32")
    with pytest.raises(ValueError, match="'float32' or 'float64'"):
        config.set_floatx("float16")


def test_dropout_keeps_a_float64_input_float64():
    d = layers.Dropout(0.5)
    x = np.ones((3, 4))
    assert d(x).dtype == np.float64
    assert d.forward(x, training=True)[0].dtype == np.float64


def test_new_weights_are_c_contiguous():
    """The kernels stride through rows; an initializer's transposed view would slow them tenfold."""
    lstm, dense = layers.LSTM(H), layers.Dense(3)
    dense(lstm(x3()))
    assert all(w.flags.c_contiguous for w in lstm.weights + dense.weights)


def test_backward_takes_the_outputs_gradient_of_its_shape_only():
    """A sequence's gradient reaches the engine as it is (no zero-filled copy first), but a wrong
    shape is still refused before any compiled loop reads it; a (B, 1, H) one broadcasts."""
    rng = np.random.default_rng(0)
    layer = layers.LSTM(4, return_sequences=True)
    x = rng.normal(size=(2, 3, 5)).astype(np.float32)
    y, cache = layer.forward(x)
    full = layer.backward(np.ones((2, 3, 4), np.float32), cache)
    np.testing.assert_allclose(layer.backward(np.ones((2, 1, 4), np.float32), cache).inputs, full.inputs)
    with pytest.raises(ValueError):
        layer.backward(np.ones((2, 3, 5), np.float32), cache)
