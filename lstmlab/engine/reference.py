"""The LSTM in plain NumPy: the equations, float64-capable, the tests' oracle.

Same signatures as the Numba kernels in `kernels.py`. Per timestep t:

    z_t = x_t W + h_{t-1} U + b                      (B, 4H)
    i, f, o = ract(z_i), ract(z_f), ract(z_o)        input, forget, output gates
    g = act(z_g)                                     candidate cell
    c_t = f * c_{t-1} + i * g
    h_t = o * act(c_t)

A masked step (mask[b, t] == False) carries h and c forward unchanged; its
output repeats the previous output (zeros before the first step), or is zero
with `zero_output`, as Keras's RNN loop does.
"""
import numpy as np

from .common import NO_ARRAY, Cache, activation_code, as_mask


# The Numba kernels record float32's fast tanh and sigmoid as codes 5 and 6:
# the same functions to the reference.
_SAME = {5: 1, 6: 2}


def _act(y, code):
    code = _SAME.get(code, code)
    if code == 1:
        return np.tanh(y)
    if code == 2:
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-y))
    if code == 3:
        return np.clip(y / 6.0 + 0.5, 0.0, 1.0)
    if code == 4:
        return np.maximum(y, 0.0)
    return y


def _dact(y, code):
    """The activation's derivative, written from its output y."""
    code = _SAME.get(code, code)
    if code == 1:
        return 1.0 - y * y
    if code == 2:
        return y * (1.0 - y)
    if code == 3:
        return ((y > 0.0) & (y < 1.0)) / 6.0
    if code == 4:
        return (y > 0.0).astype(y.dtype)
    return np.ones_like(y)


def forward(x, W, U, b, h0, c0, mask=None, zero_output=False,
            activation="tanh", recurrent_activation="sigmoid", rmask=None):
    """x (B, T, D) -> out (B, T, H), h_T (B, H), c_T (B, H), cache."""
    act, ract = activation_code(activation), activation_code(recurrent_activation)
    B, T, D = x.shape
    H = U.shape[0]
    xt = np.ascontiguousarray(x.transpose(1, 0, 2))          # (T, B, D)
    xw = xt @ W + b                                           # (T, B, 4H), all steps at once
    m = as_mask(mask, T, B).astype(bool)                      # (T, B) or (0, 0)
    hs = np.empty((T + 1, B, H), x.dtype); hs[0] = h0
    cs = np.empty((T + 1, B, H), x.dtype); cs[0] = c0
    gates = np.empty((T, B, 4 * H), x.dtype)
    ac = np.empty((T, B, H), x.dtype)
    out = np.empty((T, B, H), x.dtype)
    prev_out = np.zeros((B, H), x.dtype)
    for t in range(T):
        h_prev = hs[t] if rmask is None else hs[t] * rmask
        z = xw[t] + h_prev @ U                                # (B, 4H)
        i, f, o = _act(z[:, :H], ract), _act(z[:, H:2 * H], ract), _act(z[:, 3 * H:], ract)
        g = _act(z[:, 2 * H:3 * H], act)
        c = f * cs[t] + i * g
        ac[t] = _act(c, act)
        h = o * ac[t]
        gates[t] = np.concatenate([i, f, g, o], axis=1)
        if m.size:
            mt = m[t][:, None]
            c, h = np.where(mt, c, cs[t]), np.where(mt, h, hs[t])
            out[t] = np.where(mt, h, 0.0 if zero_output else prev_out)
        else:
            out[t] = h
        hs[t + 1], cs[t + 1], prev_out = h, c, out[t]
    cache = Cache(xt, W, U, hs, cs, gates, ac, as_mask(mask, T, B), bool(zero_output),
                  act, ract, NO_ARRAY if rmask is None else rmask)
    return out.transpose(1, 0, 2), hs[T], cs[T], cache


def backward(dout, dh_T, dc_T, cache, inputs=True):
    """Gradients of (out (B, T, H), h_T, c_T) back to dx (B, T, D), dW, dU, db, dh0, dc0.

    dout None: no gradient reaches the outputs but through h_T and c_T.
    With `inputs` False, dx is None: its product is skipped.
    """
    T, B, D, H = cache.shape
    m = cache.mask.astype(bool)
    rmask = cache.rmask if cache.rmask.size else None
    if dout is None:
        dout = np.zeros((B, T, H), cache.x.dtype)
    dout = dout.transpose(1, 0, 2)                            # (T, B, H)
    dz = np.zeros((T, B, 4 * H), cache.x.dtype)               # pre-activation gradients
    dh, dc = dh_T.copy(), dc_T.copy()
    d_repeat = np.zeros((B, H), cache.x.dtype)                # reaches out_t via later masked repeats
    for t in reversed(range(T)):
        g_out = dout[t] + d_repeat
        if m.size:
            mt = m[t][:, None]
            dh_keep, dc_keep = np.where(mt, 0.0, dh), np.where(mt, 0.0, dc)
            d_repeat = np.where(mt, 0.0, 0.0 if cache.zero_output else g_out)
            dh, dc = np.where(mt, dh + g_out, 0.0), np.where(mt, dc, 0.0)
        else:
            dh_keep = dc_keep = 0.0
            dh = dh + g_out
        gt = cache.gates[t]
        i, f, g, o = gt[:, :H], gt[:, H:2 * H], gt[:, 2 * H:3 * H], gt[:, 3 * H:]
        a = cache.ac[t]
        dct = dc + dh * o * _dact(a, cache.act)
        dz[t] = np.concatenate([
            dct * g * _dact(i, cache.ract),
            dct * cache.cs[t] * _dact(f, cache.ract),
            dct * i * _dact(g, cache.act),
            dh * a * _dact(o, cache.ract),
        ], axis=1)
        dc = dct * f + dc_keep
        dh_prev = dz[t] @ cache.U.T
        dh = (dh_prev if rmask is None else dh_prev * rmask) + dh_keep
    dx, dW, dU, db = weight_grads(dz, cache, inputs)
    return dx, dW, dU, db, dh, dc


def weight_grads(dz, cache, inputs=True):
    """After the reverse time loop: dz (T, B, 4H) -> dx (B, T, D), dW, dU, db.

    Three large products over all T*B rows at once instead of T small ones;
    dx is None when `inputs` is False (the first layer's input needs none).
    """
    T, B, D, H = cache.shape
    h_prev = cache.hs[:T] if cache.rmask.size == 0 else cache.hs[:T] * cache.rmask
    dzf = dz.reshape(T * B, 4 * H)
    dW = cache.x.reshape(T * B, D).T @ dzf                   # (D, 4H)
    dU = h_prev.reshape(T * B, H).T @ dzf                    # (H, 4H)
    db = dzf.sum(axis=0)                                     # (4H,)
    dx = (dz @ cache.W.T).transpose(1, 0, 2) if inputs else None   # (B, T, D)
    return dx, dW, dU, db


def step(x, W, U, b, h, c, activation="tanh", recurrent_activation="sigmoid"):
    """One timestep: x (B, D), h (B, H), c (B, H) -> new h (B, H), new c (B, H)."""
    act, ract = activation_code(activation), activation_code(recurrent_activation)
    H = U.shape[0]
    z = x @ W + h @ U + b
    i, f, o = _act(z[:, :H], ract), _act(z[:, H:2 * H], ract), _act(z[:, 3 * H:], ract)
    c = f * c + i * _act(z[:, 2 * H:3 * H], act)
    return o * _act(c, act), c
