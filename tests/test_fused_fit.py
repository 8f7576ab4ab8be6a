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
    fast, _ = twins()
    x, y = np.random.default_rng(0).normal(size=(8, 3, 2)), np.zeros((8, 1))
    y[5] = np.nan
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 2"):
        fast.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    assert all(np.isfinite(w).all() for w in fast.get_weights())
    assert fast.optimizer.iterations == 1
