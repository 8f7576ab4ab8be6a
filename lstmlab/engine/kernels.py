"""The LSTM compiled with Numba: the fast twin of `reference.py`, same signatures.

Forward: one BLAS product projects the inputs of all T*B rows at once; then,
per timestep, the recurrent product h_{t-1} U through BLAS and one fused
pointwise pass that applies the four gates, updates c and h, and keeps the
post-activation gates for backward. Backward walks time in reverse, taking
every derivative from those saved outputs, and leaves the weight gradients to
three large products after the loop. The pointwise passes run in parallel
over the batch (never over time); the time loop itself is compiled, so no
Python runs per timestep.
"""
import numpy as np
from numba import njit, prange

from .common import NO_ARRAY, Cache, activation_code, as_mask, weight_grads

# Below this many (batch x unit) cells per step a thread launch costs more
# than it saves; the serial compilation of the same loop is used instead.
PARALLEL_MIN_CELLS = 8192


@njit(inline="always", cache=True)
def _act(y, code):
    if code == 1:
        return np.tanh(y)
    if code == 2:
        return 1.0 / (1.0 + np.exp(-y))
    if code == 3:
        return min(max(y / 6.0 + 0.5, 0.0), 1.0)
    if code == 4:
        return max(y, 0.0)
    return y


@njit(inline="always", cache=True)
def _dact(y, code):
    """The activation's derivative, written from its output y."""
    if code == 1:
        return 1.0 - y * y
    if code == 2:
        return y * (1.0 - y)
    if code == 3:
        return 1.0 / 6.0 if 0.0 < y < 1.0 else 0.0
    if code == 4:
        return 1.0 if y > 0.0 else 0.0
    return 1.0


def _forward_loop(xw, U, hs, cs, gates, ac, out, mask, zero_output, act, ract, rmask):
    """xw (T, B, 4H) with bias; fills hs, cs (T+1, B, H), gates (T, B, 4H), ac, out (T, B, H)."""
    T, B, H4 = xw.shape
    H = H4 // 4
    z = np.empty((B, H4), xw.dtype)                 # recurrent product, reused every step
    h_drop = np.empty((B, H), xw.dtype)
    for t in range(T):
        if rmask.shape[0] > 0:
            for b in range(B):
                for j in range(H):
                    h_drop[b, j] = hs[t, b, j] * rmask[b, j]
            np.dot(h_drop, U, z)
        else:
            np.dot(hs[t], U, z)
        for b in prange(B):
            take = mask.shape[0] == 0 or mask[t, b] != 0
            for j in range(H):
                i = _act(xw[t, b, j] + z[b, j], ract)
                f = _act(xw[t, b, H + j] + z[b, H + j], ract)
                g = _act(xw[t, b, 2 * H + j] + z[b, 2 * H + j], act)
                o = _act(xw[t, b, 3 * H + j] + z[b, 3 * H + j], ract)
                c = f * cs[t, b, j] + i * g
                a = _act(c, act)
                gates[t, b, j] = i
                gates[t, b, H + j] = f
                gates[t, b, 2 * H + j] = g
                gates[t, b, 3 * H + j] = o
                ac[t, b, j] = a
                if take:
                    cs[t + 1, b, j] = c
                    hs[t + 1, b, j] = o * a
                    out[t, b, j] = o * a
                else:                               # carry the state; repeat or zero the output
                    cs[t + 1, b, j] = cs[t, b, j]
                    hs[t + 1, b, j] = hs[t, b, j]
                    out[t, b, j] = 0.0 if (zero_output or t == 0) else out[t - 1, b, j]


def _backward_loop(dout, dh, dc, hs, cs, gates, ac, U, mask, zero_output, act, ract, rmask, dz):
    """dout (T, B, H); dh, dc (B, H) in: d h_T, d c_T; out: d h_0, d c_0. Fills dz (T, B, 4H)."""
    T, B, H4 = dz.shape
    H = H4 // 4
    UT = np.ascontiguousarray(U.T)                  # (4H, H)
    dh_prev = np.empty((B, H), dz.dtype)
    d_repeat = np.zeros((B, H), dz.dtype)           # reaches out_t via later masked repeats
    for t in range(T - 1, -1, -1):
        for b in prange(B):
            take = mask.shape[0] == 0 or mask[t, b] != 0
            for j in range(H):
                g_out = dout[t, b, j] + d_repeat[b, j]
                if not take:                        # state passed through untouched
                    d_repeat[b, j] = 0.0 if zero_output else g_out
                    dz[t, b, j] = 0.0
                    dz[t, b, H + j] = 0.0
                    dz[t, b, 2 * H + j] = 0.0
                    dz[t, b, 3 * H + j] = 0.0
                    continue
                d_repeat[b, j] = 0.0
                i = gates[t, b, j]
                f = gates[t, b, H + j]
                g = gates[t, b, 2 * H + j]
                o = gates[t, b, 3 * H + j]
                a = ac[t, b, j]
                dht = dh[b, j] + g_out
                dct = dc[b, j] + dht * o * _dact(a, act)
                dz[t, b, j] = dct * g * _dact(i, ract)
                dz[t, b, H + j] = dct * cs[t, b, j] * _dact(f, ract)
                dz[t, b, 2 * H + j] = dct * i * _dact(g, act)
                dz[t, b, 3 * H + j] = dht * a * _dact(o, ract)
                dc[b, j] = dct * f
        np.dot(dz[t], UT, dh_prev)
        for b in prange(B):
            if mask.shape[0] == 0 or mask[t, b] != 0:
                for j in range(H):
                    dh[b, j] = dh_prev[b, j] * rmask[b, j] if rmask.shape[0] > 0 else dh_prev[b, j]


def _step_kernel(x, W, U, b, h, c, act, ract, h_out, c_out):
    """x (B, D), h, c (B, H) -> h_out, c_out (B, H), written in place."""
    B, H = h.shape
    z = np.dot(x, W) + np.dot(h, U)                 # (B, 4H)
    for r in range(B):
        for j in range(H):
            i = _act(z[r, j] + b[j], ract)
            f = _act(z[r, H + j] + b[H + j], ract)
            g = _act(z[r, 2 * H + j] + b[2 * H + j], act)
            o = _act(z[r, 3 * H + j] + b[3 * H + j], ract)
            cn = f * c[r, j] + i * g
            c_out[r, j] = cn
            h_out[r, j] = o * _act(cn, act)


_forward_serial = njit(cache=True)(_forward_loop)
_forward_parallel = njit(cache=True, parallel=True)(_forward_loop)
_backward_serial = njit(cache=True)(_backward_loop)
_backward_parallel = njit(cache=True, parallel=True)(_backward_loop)
_step_compiled = njit(cache=True)(_step_kernel)


def _parallel(B, H):
    return B * H >= PARALLEL_MIN_CELLS


def forward(x, W, U, b, h0, c0, mask=None, zero_output=False,
            activation="tanh", recurrent_activation="sigmoid", rmask=None):
    """x (B, T, D) -> out (B, T, H), h_T (B, H), c_T (B, H), cache."""
    act, ract = activation_code(activation), activation_code(recurrent_activation)
    B, T, D = x.shape
    H = U.shape[0]
    dt = x.dtype
    xt = np.ascontiguousarray(x.transpose(1, 0, 2))           # (T, B, D)
    xw = xt @ W + b                                           # (T, B, 4H), all steps at once
    m = as_mask(mask, T, B)
    rm = NO_ARRAY.astype(dt) if rmask is None else np.ascontiguousarray(rmask, dt)
    hs = np.empty((T + 1, B, H), dt); hs[0] = h0
    cs = np.empty((T + 1, B, H), dt); cs[0] = c0
    gates = np.empty((T, B, 4 * H), dt)
    ac = np.empty((T, B, H), dt)
    out = np.empty((T, B, H), dt)
    loop = _forward_parallel if _parallel(B, H) else _forward_serial
    loop(xw, np.ascontiguousarray(U), hs, cs, gates, ac, out, m, bool(zero_output), act, ract, rm)
    cache = Cache(xt, W, U, hs, cs, gates, ac, m, bool(zero_output), act, ract, rm)
    return out.transpose(1, 0, 2), hs[T], cs[T], cache


def backward(dout, dh_T, dc_T, cache):
    """Gradients of (out (B, T, H), h_T, c_T) back to dx (B, T, D), dW, dU, db, dh0, dc0."""
    T, B, D, H = cache.shape
    dt = cache.x.dtype
    dout = np.ascontiguousarray(dout.transpose(1, 0, 2), dt)  # (T, B, H)
    dh = np.array(dh_T, dtype=dt, order="C")                  # updated in place to d h_0
    dc = np.array(dc_T, dtype=dt, order="C")
    dz = np.empty((T, B, 4 * H), dt)
    loop = _backward_parallel if _parallel(B, H) else _backward_serial
    loop(dout, dh, dc, cache.hs, cache.cs, cache.gates, cache.ac, np.ascontiguousarray(cache.U),
         cache.mask, cache.zero_output, cache.act, cache.ract, cache.rmask, dz)
    dx, dW, dU, db = weight_grads(dz, cache)
    return dx, dW, dU, db, dh, dc


def step(x, W, U, b, h, c, activation="tanh", recurrent_activation="sigmoid"):
    """One timestep: x (B, D), h (B, H), c (B, H) -> new h (B, H), new c (B, H)."""
    act, ract = activation_code(activation), activation_code(recurrent_activation)
    h_out, c_out = np.empty_like(h), np.empty_like(c)
    _step_compiled(np.ascontiguousarray(x), W, U, b, np.ascontiguousarray(h),
                   np.ascontiguousarray(c), act, ract, h_out, c_out)
    return h_out, c_out
