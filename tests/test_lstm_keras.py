"""The LSTM layer against Keras 3 (torch backend), flag by flag, same weights, 1e-5 in float32."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from lstmlab import initializers, layers  # noqa: E402

B, T, D, H = 3, 6, 4, 5


def pair(**kw):
    """An lstmlab LSTM and a Keras LSTM with the same arguments and the same random weights."""
    rng = np.random.default_rng(0)
    ours = layers.LSTM(H, **kw)
    theirs = keras.layers.LSTM(H, **kw)
    x = rng.normal(size=(B, T, D)).astype("float32")
    ours(x)
    theirs(x)
    weights = [rng.normal(size=w.shape).astype("float32") * 0.5 for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs, x, rng


def np_(t):
    return keras.ops.convert_to_numpy(t)


def assert_same(a, b):
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_same(u, v)
        return
    np.testing.assert_allclose(a, np_(b), rtol=1e-5, atol=1e-5)


FLAGS = [
    {},
    {"return_sequences": True},
    {"return_state": True},
    {"return_sequences": True, "return_state": True},
    {"go_backwards": True},
    {"go_backwards": True, "return_sequences": True},
    {"use_bias": False},
    {"unit_forget_bias": False},
    {"activation": "relu"},
    {"recurrent_activation": "hard_sigmoid"},
    {"activation": "linear", "recurrent_activation": "tanh"},
    {"unroll": True, "return_sequences": True},
]


@pytest.mark.parametrize("kw", FLAGS, ids=lambda kw: ",".join(kw) or "defaults")
def test_outputs_equal_keras(kw):
    ours, theirs, x, _ = pair(**kw)
    assert_same(ours(x), theirs(x))


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_masks_equal_keras(go_backwards, zero_output, return_sequences):
    kw = dict(go_backwards=go_backwards, return_sequences=return_sequences, return_state=True,
              zero_output_for_mask=zero_output)
    ours, theirs, x, rng = pair(**kw)
    mask = rng.random((B, T)) > 0.35
    mask[0, 0] = False          # a masked first step: the output repeats zeros
    mask[1, -1] = False         # a masked last step
    mask[2] = True
    assert_same(ours(x, mask=mask), theirs(x, mask=mask))


@pytest.mark.parametrize("kw", [{}, {"return_sequences": True, "go_backwards": True}])
def test_initial_state_equals_keras(kw):
    ours, theirs, x, rng = pair(return_state=True, **kw)
    h0, c0 = (rng.normal(size=(B, H)).astype("float32") for _ in range(2))
    assert_same(ours(x, initial_state=[h0, c0]), theirs(x, initial_state=[h0, c0]))


def test_stateful_with_reset_equals_keras():
    ours, theirs, x, rng = pair(stateful=True, return_sequences=True)
    ours.reset_state()                       # building them ran one call on other weights
    theirs.reset_state()
    x2 = rng.normal(size=x.shape).astype("float32")
    for batch in (x, x2, x):                 # the state carries from call to call
        assert_same(ours(batch), theirs(batch))
    assert_same(ours.states, theirs.states)
    ours.reset_state()
    theirs.reset_state()
    assert_same(ours(x2), theirs(x2))
    ours.reset_states()                      # the Keras 2 spelling
    assert np.all(ours.states[0] == 0) and np.all(ours.states[1] == 0)


def test_unit_forget_bias_is_exactly_one():
    ours = layers.LSTM(H)
    ours.build((None, T, D))
    theirs = keras.layers.LSTM(H)
    theirs.build((None, T, D))
    b_ours, b_theirs = ours.get_weights()[2], np_(theirs.weights[2])
    np.testing.assert_array_equal(b_ours, b_theirs)
    assert np.all(b_ours[H:2 * H] == 1.0) and np.all(b_ours[:H] == 0) and np.all(b_ours[2 * H:] == 0)


def test_weight_shapes_and_order_equal_keras():
    ours, theirs, x, _ = pair()
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert [w.shape for w in ours.get_weights()] == [(D, 4 * H), (H, 4 * H), (4 * H,)]


def test_dense_equals_keras_on_2d_and_3d():
    rng = np.random.default_rng(1)
    for shape in [(B, D), (B, T, D)]:
        x = rng.normal(size=shape).astype("float32")
        for act in ["linear", "relu", "sigmoid", "tanh", "softmax", "hard_sigmoid"]:
            ours, theirs = layers.Dense(7, activation=act), keras.layers.Dense(7, activation=act)
            ours(x), theirs(x)
            theirs.set_weights(ours.get_weights())
            assert_same(ours(x), theirs(x))


def test_embedding_equals_keras():
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 10, size=(B, T))
    ours, theirs = layers.Embedding(10, 4), keras.layers.Embedding(10, 4)
    ours(ids), theirs(ids)
    theirs.set_weights(ours.get_weights())
    assert_same(ours(ids), theirs(ids))


def test_the_issue_example_equals_keras():
    x = np.arange(72.0).reshape(3, 6, 4)
    ours = layers.LSTM(3, kernel_initializer=initializers.Constant(0.01))
    theirs = keras.layers.LSTM(3, kernel_initializer=keras.initializers.Constant(0.01))
    y = ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())   # the orthogonal recurrent kernel is random
    assert_same(y, theirs(x))
