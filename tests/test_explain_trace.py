"""trace: the engine's saved arrays, batch-major, satisfying the LSTM's equations (float64)."""
import numpy as np
import pytest

from lstmlab.explain import trace
from lstmlab.layers import LSTM, Dense, Dropout, Input
from lstmlab.models import Sequential


def model64(*layers, shape=(6, 3)):
    m = Sequential([Input(shape), *layers])
    rng = np.random.default_rng(0)
    m.set_weights([rng.normal(0, 0.6, w.shape) for w in m.get_weights()])
    return m


def x64(B=4, T=6, D=3, seed=1):
    return np.random.default_rng(seed).normal(size=(B, T, D))


def check_equations(L):
    # c_t = f_t c_{t-1} + i_t g_t ;  h_t = o_t tanh(c_t)
    assert np.abs(L.c - (L.f * L.c_prev + L.i * L.g)).max() < 1e-6
    assert np.abs(L.h - L.o * np.tanh(L.c)).max() < 1e-6


def test_equations_and_predict():
    m = model64(LSTM(5, dtype="float64"), Dense(2, dtype="float64"))
    x = x64()
    tr = trace(m, x)
    assert len(tr) == 1
    L = tr[0]
    for k in ("i", "f", "g", "o", "c", "h"):
        assert getattr(L, k).shape == (4, 6, 5) and getattr(L, k).dtype == np.float64
    check_equations(L)
    assert (L.i > 0).all() and (L.i < 1).all() and (np.abs(L.g) < 1).all()
    dense = m.layers[1]
    y = L.h[:, -1] @ dense.kernel + dense.bias                       # the last h through the head
    np.testing.assert_allclose(y, m.predict(x, verbose=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr.output, y, atol=1e-12)


def test_reads_the_engines_cache():
    # the trace is the backward pass's own arrays, not a recomputation
    m = model64(LSTM(4, dtype="float64"), Dense(1, dtype="float64"))
    x = x64()
    _, caches = m.forward(x)
    e = caches[0].engine
    L = trace(m, x)[0]
    np.testing.assert_array_equal(L.f, e.gates[:, :, 4:8].transpose(1, 0, 2))
    np.testing.assert_array_equal(L.c, e.cs[1:].transpose(1, 0, 2))
    np.testing.assert_array_equal(L.h0, e.hs[0])


def test_stacked_return_sequences_and_dropout():
    m = model64(LSTM(5, return_sequences=True, dtype="float64"), Dropout(0.3, dtype="float64"),
                LSTM(3, return_sequences=True, dtype="float64"), Dense(1, dtype="float64"))
    x = x64()
    tr = trace(m, x)
    assert [L.units for L in tr] == [5, 3]
    for L in tr:
        check_equations(L)
    np.testing.assert_array_equal(tr[1].x, tr[0].h)                   # Dropout is the identity at inference
    dense = m.layers[3]
    np.testing.assert_allclose(tr[1].h @ dense.kernel + dense.bias, m.predict(x, verbose=0), atol=1e-12)


def test_go_backwards_in_processing_order():
    fwd = model64(LSTM(4, dtype="float64"), shape=(6, 3))
    back = model64(LSTM(4, go_backwards=True, dtype="float64"), shape=(6, 3))
    back.set_weights(fwd.get_weights())
    x = x64()
    Lb, Lf = trace(back, x)[0], trace(fwd, x[:, ::-1])[0]
    np.testing.assert_allclose(Lb.h, Lf.h, atol=1e-12)                # step 0 read x[:, T-1]
    np.testing.assert_array_equal(Lb.x, x[:, ::-1])
    assert Lb.go_backwards and list(Lb.time) == [5, 4, 3, 2, 1, 0]
    check_equations(Lb)
    np.testing.assert_allclose(Lb.h[:, -1], back.predict(x, verbose=0), atol=1e-12)


def test_initial_state_and_single_layer():
    layer = LSTM(3, dtype="float64")
    x = x64(B=2, T=4, D=2)
    h0, c0 = np.full((2, 3), 0.5), np.full((2, 3), -0.25)
    L = trace(layer, x, initial_states=[(h0, c0)])[0]
    np.testing.assert_array_equal(L.c0, c0)
    assert np.abs(L.c[:, 0] - (L.f[:, 0] * c0 + L.i[:, 0] * L.g[:, 0])).max() < 1e-12
    check_equations(L)


def test_no_lstm_is_an_error():
    m = Sequential([Input((3,)), Dense(2)])
    with pytest.raises(ValueError, match="no LSTM"):
        trace(m, np.zeros((1, 3)))
