"""The one-call fit for LSTM -> Dense with MSE and Adam equals the general training loop."""
import numpy as np
import pytest

from lstmlab import callbacks, config, layers, optimizers
from lstmlab.models import Sequential, fused


def twins(T=3, D=2, H=5, O=1, lstm_bias=True, dense_bias=True, dtype="float32"):
    a = Sequential([layers.Input((T, D)), layers.LSTM(H, use_bias=lstm_bias, dtype=dtype),
                    layers.Dense(O, use_bias=dense_bias, dtype=dtype)])
    b = Sequential.from_config(a.get_config())
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    return a, b


class Nothing(callbacks.Callback):
    """A callback that does nothing: it sends fit down the general path."""


@pytest.mark.parametrize("kw", [
    dict(),
    dict(T=1, D=1, H=10),                                   # the seed program's shapes
    dict(O=3, lstm_bias=False),
    dict(dense_bias=False, dtype="float64"),
])
@pytest.mark.parametrize("shuffle", [False, True])
def test_fused_fit_equals_the_general_loop(kw, shuffle):
    rng = np.random.default_rng(0)
    fast, slow = twins(**kw)
    T, D = fast.batch_input_shape[1:]
    O = fast.layers[-1].units
    x, y = rng.normal(size=(11, T, D)), rng.normal(size=(11, O))
    assert fused.eligible(fast, None, None, 0, shuffle, 0)
    config.set_random_seed(3)
    h_fast = fast.fit(x, y, batch_size=4, epochs=7, shuffle=shuffle, verbose=0)
    config.set_random_seed(3)
    h_slow = slow.fit(x, y, batch_size=4, epochs=7, shuffle=shuffle, verbose=0, callbacks=[Nothing()])
    tol = 1e-5 if kw.get("dtype", "float32") == "float32" else 1e-12
    np.testing.assert_allclose(h_fast.history["loss"], h_slow.history["loss"], rtol=tol)
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert fast.optimizer.iterations == slow.optimizer.iterations == 7 * 3
    assert fast.history is h_fast and h_fast.epoch == list(range(7))


def test_anything_else_takes_the_general_loop():
    fast, _ = twins()
    assert not fused.eligible(fast, [Nothing()], None, 0, True, 0)
    assert not fused.eligible(fast, None, (1, 2), 0, True, 0)
    assert not fused.eligible(fast, None, None, 1, True, 0)
    fast.compile(optimizer=optimizers.Adam(clipnorm=1.0), loss="mse")
    assert not fused.eligible(fast, None, None, 0, True, 0)
    fast.compile(optimizer="sgd", loss="mse")
    assert not fused.eligible(fast, None, None, 0, True, 0)


def test_a_nan_loss_stops_and_keeps_the_last_good_weights():
    fast, slow = twins()
    x, y = np.random.default_rng(0).normal(size=(8, 3, 2)), np.zeros((8, 1))
    y[5] = np.nan
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 2"):
        fast.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 2"):
        slow.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[Nothing()])
    assert all(np.isfinite(w).all() for w in fast.get_weights())
    assert fast.optimizer.iterations == slow.optimizer.iterations == 1
    for a, b in zip(fast.get_weights(), slow.get_weights()):   # the weights after the first batch
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_an_update_that_overflows_is_undone():
    """A finite loss whose update overflows the weights: the next loss is not finite, and the
    model goes back to the weights that gave the last finite loss (here the initial ones)."""
    fast, slow = twins(H=3)
    start = fast.get_weights()
    x, y = np.random.default_rng(1).normal(size=(8, 3, 2)), np.ones((8, 1))
    for m, cbs in ((fast, None), (slow, [Nothing()])):
        m.compile(optimizer=optimizers.Adam(learning_rate=1e37), loss="mse")
        with pytest.raises(FloatingPointError, match=r"epoch 1, batch 2"):
            m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=cbs)
    for a, b, w in zip(fast.get_weights(), slow.get_weights(), start):
        np.testing.assert_array_equal(a, w)
        np.testing.assert_array_equal(b, w)


# -- predict ---------------------------------------------------------------------------
def _general_predict(monkeypatch, model, x, **kw):
    with monkeypatch.context() as m:
        m.setattr(fused, "predict_layers", lambda *a: None)
        return model.predict(x, verbose=0, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("head,seq,dropout", [("linear", False, False), ("relu", True, True),
                                              ("linear", True, False), ("relu", False, True)])
def test_fused_predict_equals_the_general_loop_to_the_bit(monkeypatch, dtype, head, seq, dropout):
    """LSTM -> [Dropout] -> Dense(linear or relu): predict in one compiled call, batch by batch
    (a last short batch too), the general loop's numbers exactly."""
    config.set_random_seed(3)
    x = np.random.default_rng(0).normal(size=(7, 5, 3))
    stack = [layers.LSTM(6, input_shape=(5, 3), return_sequences=seq, activation="relu", dtype=dtype)]
    stack += [layers.Dropout(0.5)] if dropout else []
    model = Sequential(stack + [layers.Dense(2, activation=head, dtype=dtype)])
    model.build((None, 5, 3))
    assert fused.predict_layers(model, x, 3) is not None
    got = model.predict(x, batch_size=3, verbose=0)
    want = _general_predict(monkeypatch, model, x, batch_size=3)
    assert got.shape == want.shape == ((7, 5, 2) if seq else (7, 2)) and got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, want)


def test_fused_predict_leaves_the_rest_to_the_general_loop(monkeypatch):
    config.set_random_seed(4)
    x = np.random.default_rng(1).normal(size=(4, 3, 2)).astype(np.float32)
    softmax = Sequential([layers.LSTM(5, input_shape=(3, 2)), layers.Dense(3, activation="softmax")])
    softmax.build((None, 3, 2))
    assert fused.predict_layers(softmax, x, 32) is None        # its compiled form may differ in the last bit
    stateful = Sequential([layers.LSTM(5, stateful=True, batch_input_shape=(4, 3, 2)), layers.Dense(1)])
    stateful.build((4, 3, 2))
    assert fused.predict_layers(stateful, x, 4) is None
    wide = Sequential([layers.LSTM(300, input_shape=(3, 2)), layers.Dense(1)])
    wide.build((None, 3, 2))
    assert fused.predict_layers(wide, x, 32) is None           # threads split its units
    model = Sequential([layers.LSTM(5, input_shape=(3, 2)), layers.Dense(1)])
    model.build((None, 3, 2))
    assert fused.predict_layers(model, x[:, :, :1], 32) is None  # the general loop's error says why
    bad = x.copy()
    bad[2, 1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        model.predict(bad, verbose=0)
    y, states = model.predict(x, verbose=0, return_state=True)  # the general loop, same numbers
    np.testing.assert_array_equal(y, model.predict(x, verbose=0))
