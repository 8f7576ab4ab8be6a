"""The LSTM compiled with Numba: the fast twin of `reference.py`, same signatures.

Forward: one BLAS product projects the inputs of all timesteps at once; then,
per timestep, the recurrent product h_{t-1} U through BLAS and one fused
pointwise pass that applies the four gates, updates c and h, and keeps the
post-activation gates for backward. Backward walks time in reverse, taking
every derivative from those saved outputs, and leaves the weight gradients to
large products after the loop.

Threads split the batch, never time: each thread runs the whole time loop for
its rows (`_forward_chunks`, `_backward_chunks`), so the threads meet once per
call rather than once per step, and each sums its own share of the weight
gradients. The time loop is compiled, so no Python runs per timestep, and
nothing is allocated inside it.
"""
import functools

import numba
import numpy as np
from numba import njit, prange

from . import blas, memory  # noqa: F401  (one BLAS thread in the kernels; freed memory reused)
from .common import NO_ARRAY, Cache, activation_code, as_mask
from .pointwise import FASTMATH, TANH, SIGMOID, FAST_TANH, FAST_SIGMOID, act_slice, dact_scalar, \
    kernel_code

# A float32 one, so that float32 arithmetic stays float32 (a float64 literal
# would promote it); with float64 values it promotes to float64 as it should.
ONE = np.float32(1.0)

# Below this many (batch x unit) cells per step a thread launch costs more
# than it saves; the serial compilation of the same loop is used instead.
PARALLEL_MIN_CELLS = 1024


# Inputs with at most this share of non-zeros (one-hot characters: 1/V) are
# multiplied row by row, skipping the zeros: a lookup instead of a product.
SPARSE_INPUT_SHARE = 0.25


@njit(cache=True, error_model="numpy")
def _rows(x, b0, b1):
    """x (T, B, D) -> its rows b0:b1 as one contiguous (T*n, D) block."""
    T, B, D = x.shape
    n = b1 - b0
    xc = np.empty((T * n, D), x.dtype)
    for t in range(T):
        for r in range(n):
            xc[t * n + r] = x[t, b0 + r]
    return xc


@njit(cache=True, error_model="numpy")
def _sparse(xc):
    return np.count_nonzero(xc) <= SPARSE_INPUT_SHARE * xc.size


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _project(xc, W, b):
    """xc (N, D) W (D, 4H) + b: one BLAS product, or row by row over the non-zeros of a sparse xc."""
    N, D = xc.shape
    H4 = W.shape[1]
    if _sparse(xc):
        xw = np.empty((N, H4), xc.dtype)
        for i in range(N):
            row = xw[i]
            for k in range(H4):
                row[k] = b[k]
            for d in range(D):
                v = xc[i, d]
                if v != 0.0:
                    Wd = W[d]
                    for k in range(H4):
                        row[k] += v * Wd[k]
        return xw
    xw = np.dot(xc, W)
    for i in range(N):
        for k in range(H4):
            xw[i, k] += b[k]
    return xw


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _project_back(xc, dzf, dW):
    """dW (D, 4H) = xc (N, D)ᵀ dzf (N, 4H), skipping the zeros of a sparse xc."""
    if not _sparse(xc):
        np.dot(xc.T, dzf, dW)
        return
    N, D = xc.shape
    dW[...] = 0.0
    for i in range(N):
        for d in range(D):
            v = xc[i, d]
            if v != 0.0:
                row, g = dW[d], dzf[i]
                for k in range(row.shape[0]):
                    row[k] += v * g[k]


def _forward_rows(x, W, b, U, hs, cs, gates, ac, out, mask, zero_output, act, ract, rmask, b0, b1):
    """Every step for batch rows b0:b1 (rows never interact, so threads split them).

    x (T, B, D) time-major; fills hs, cs (T+1, B, H), gates (T, B, 4H), ac (T, B, H).
    `out` (T, B, H) is filled only when masked; unmasked, the output is hs[1:].
    The products use the single-threaded BLAS of the calling thread.
    """
    T, B, D = x.shape
    H = U.shape[0]
    H4 = 4 * H
    n = b1 - b0
    xc = _rows(x, b0, b1)                           # (T*n, D) these rows' inputs, contiguous
    xw = _project(xc, W, b)                         # (T*n, 4H): every step's input projection at once
    z = np.empty((n, H4), x.dtype)                  # recurrent product, reused every step
    h_drop = np.empty((n, H), x.dtype)
    masked = mask.shape[0] > 0
    for t in range(T):
        if rmask.shape[0] > 0:
            for r in range(n):
                hr, mr, dr = hs[t, b0 + r], rmask[b0 + r], h_drop[r]
                for j in range(H):
                    dr[j] = hr[j] * mr[j]
            np.dot(h_drop, U, z)
        else:
            np.dot(hs[t, b0:b1], U, z)             # (n, H) @ (H, 4H), one contiguous block
        # The pointwise pass works on views that start at 0 (g[H:2 * H], not g[H + j]):
        # LLVM then knows no index is negative and vectorises every loop.
        for r in range(n):
            bb = b0 + r
            g, zb, xb = gates[t, bb], z[r], xw[t * n + r]
            for k in range(H4):
                g[k] = zb[k] + xb[k]
            act_slice(g[:2 * H], ract)              # i, f
            act_slice(g[2 * H:3 * H], act)          # g, the candidate
            act_slice(g[3 * H:], ract)              # o
            gi, gf, gg, go = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
            c_prev, c_new, a, h_new = cs[t, bb], cs[t + 1, bb], ac[t, bb], hs[t + 1, bb]
            for j in range(H):
                c_new[j] = gf[j] * c_prev[j] + gi[j] * gg[j]
                a[j] = c_new[j]
            act_slice(a, act)
            for j in range(H):
                h_new[j] = go[j] * a[j]
            if masked:
                o = out[t, bb]
                if mask[t, bb] != 0:
                    for j in range(H):
                        o[j] = h_new[j]
                else:                               # carry the state; repeat or zero the output
                    h_prev = hs[t, bb]
                    for j in range(H):
                        c_new[j] = c_prev[j]
                        h_new[j] = h_prev[j]
                    if zero_output or t == 0:
                        for j in range(H):
                            o[j] = 0.0
                    else:
                        o_prev = out[t - 1, bb]
                        for j in range(H):
                            o[j] = o_prev[j]


def _backward_rows(dout, dh, dc, x, W, hs, cs, gates, ac, UT, mask, zero_output, act, ract, rmask,
                   dW, dU, db, dx, b0, b1):
    """The reverse time loop for batch rows b0:b1, then these rows' share of the weight gradients.

    dout (T, B, H); dh, dc (B, H) in: d h_T, d c_T; out: d h_0, d c_0.
    dW (D, 4H), dU (H, 4H), db (4H,) receive this chunk's sums; dx (T, B, D)
    its rows, unless dx has no rows (the input's gradient is not wanted).
    """
    T, B, D = x.shape
    H = UT.shape[1]
    H4 = 4 * H
    n = b1 - b0
    dz = np.empty((T, n, H4), x.dtype)              # pre-activation gradients of these rows
    dh_prev = np.empty((n, H), x.dtype)
    d_repeat = np.zeros((n, H), x.dtype)            # reaches out_t via later masked repeats
    masked = mask.shape[0] > 0
    plain = (act == TANH or act == FAST_TANH) and (ract == SIGMOID or ract == FAST_SIGMOID)
    for t in range(T - 1, -1, -1):
        for r in range(n):
            bb = b0 + r
            g, a, d, c_prev = gates[t, bb], ac[t, bb], dz[t, r], cs[t, bb]
            dhr, dcr, doutr, drep = dh[bb], dc[bb], dout[t, bb], d_repeat[r]
            if masked and mask[t, bb] == 0:         # state passed through untouched
                for j in range(H):
                    drep[j] = 0.0 if zero_output else doutr[j] + drep[j]
                for k in range(H4):
                    d[k] = 0.0
                continue
            # Views that start at 0, as in forward, so that these loops vectorise.
            gi, gf, gg, go = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
            di, df, dg, do = d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:]
            if plain:                               # tanh and sigmoid, written out
                for j in range(H):
                    dht = dhr[j] + doutr[j] + drep[j]
                    drep[j] = 0.0
                    i, f, gj, o = gi[j], gf[j], gg[j], go[j]
                    dct = dcr[j] + dht * o * (ONE - a[j] * a[j])
                    di[j] = dct * gj * i * (ONE - i)
                    df[j] = dct * c_prev[j] * f * (ONE - f)
                    dg[j] = dct * i * (ONE - gj * gj)
                    do[j] = dht * a[j] * o * (ONE - o)
                    dcr[j] = dct * f
            else:
                for j in range(H):
                    dht = dhr[j] + doutr[j] + drep[j]
                    drep[j] = 0.0
                    i, f, gj, o = gi[j], gf[j], gg[j], go[j]
                    dct = dcr[j] + dht * o * dact_scalar(a[j], act)
                    di[j] = dct * gj * dact_scalar(i, ract)
                    df[j] = dct * c_prev[j] * dact_scalar(f, ract)
                    dg[j] = dct * i * dact_scalar(gj, act)
                    do[j] = dht * a[j] * dact_scalar(o, ract)
                    dcr[j] = dct * f
        np.dot(dz[t], UT, dh_prev)                  # (n, 4H) @ (4H, H)
        for r in range(n):
            bb = b0 + r
            if masked and mask[t, bb] == 0:
                continue
            dhr, dpr = dh[bb], dh_prev[r]
            if rmask.shape[0] > 0:
                mr = rmask[bb]
                for j in range(H):
                    dhr[j] = dpr[j] * mr[j]
            else:
                for j in range(H):
                    dhr[j] = dpr[j]
    # Weight gradients: large products over all T*n rows at once instead of T small ones.
    dzf = dz.reshape(T * n, H4)
    xc = _rows(x, b0, b1)
    hp = np.empty((T * n, H), x.dtype)              # h_{t-1} as multiplied by U (after dropout)
    for t in range(T):
        for r in range(n):
            if rmask.shape[0] > 0:
                hpr, hr, mr = hp[t * n + r], hs[t, b0 + r], rmask[b0 + r]
                for j in range(H):
                    hpr[j] = hr[j] * mr[j]
            else:
                hp[t * n + r] = hs[t, b0 + r]
    _project_back(xc, dzf, dW)
    np.dot(hp.T, dzf, dU)
    for k in range(H4):
        db[k] = 0.0
    for i in range(T * n):
        for k in range(H4):
            db[k] += dzf[i, k]
    if dx.shape[0] > 0:
        dxc = np.dot(dzf, W.T)                      # (T*n, D)
        for t in range(T):
            for r in range(n):
                dx[t, b0 + r] = dxc[t * n + r]


_forward_rows_c = njit(cache=True, fastmath=FASTMATH, error_model="numpy")(_forward_rows)
_backward_rows_c = njit(cache=True, fastmath=FASTMATH, error_model="numpy")(_backward_rows)


@njit(cache=True, parallel=True, error_model="numpy")
def _forward_chunks(x, W, b, U, hs, cs, gates, ac, out, mask, zero_output, act, ract, rmask, chunks):
    """Parallel over the batch, never over time: each thread runs every step for its rows."""
    B = x.shape[1]
    for k in prange(chunks):
        _forward_rows_c(x, W, b, U, hs, cs, gates, ac, out, mask, zero_output, act, ract, rmask,
                        k * B // chunks, (k + 1) * B // chunks)


@njit(cache=True, parallel=True, error_model="numpy")
def _backward_chunks(dout, dh, dc, x, W, hs, cs, gates, ac, UT, mask, zero_output, act, ract, rmask,
                     dW, dU, db, dx, chunks):
    """Each thread: its rows' reverse loop and its share of dW, dU, db (dW[k] for chunk k)."""
    B = x.shape[1]
    for k in prange(chunks):
        _backward_rows_c(dout, dh, dc, x, W, hs, cs, gates, ac, UT, mask, zero_output, act, ract,
                         rmask, dW[k], dU[k], db[k], dx, k * B // chunks, (k + 1) * B // chunks)


# Below this many units the single step multiplies in its own loops; above, BLAS's
# matrix-vector product is faster than they are.
STEP_BLAS_MIN_UNITS = 32


def _step_kernel(x, W, U, b, h, c, act, ract, z, z2, h_out, c_out):
    """x (B, D), h, c (B, H) -> h_out, c_out (B, H); z, z2 (B, 4H) are scratch."""
    B, H = h.shape
    D = x.shape[1]
    if H >= STEP_BLAS_MIN_UNITS:
        np.dot(h, U, z2)                            # z2 = h U through BLAS
    for r in range(B):
        zr = z[r]
        for k in range(4 * H):
            zr[k] = b[k]
        for d in range(D):                          # z += x W, a row of W at a time
            xd = x[r, d]
            if xd == 0.0:                           # one-hot and sparse inputs skip most rows
                continue
            Wd = W[d]
            for k in range(4 * H):
                zr[k] += xd * Wd[k]
        if H >= STEP_BLAS_MIN_UNITS:
            z2r = z2[r]
            for k in range(4 * H):
                zr[k] += z2r[k]
        else:
            hr = h[r]
            for m in range(H):                      # z += h U
                hm = hr[m]
                Um = U[m]
                for k in range(4 * H):
                    zr[k] += hm * Um[k]
        act_slice(zr[:2 * H], ract)                 # i, f
        act_slice(zr[2 * H:3 * H], act)             # g
        act_slice(zr[3 * H:], ract)                 # o
        zi, zf, zg, zo = zr[:H], zr[H:2 * H], zr[2 * H:3 * H], zr[3 * H:]
        cr, cor, hor = c[r], c_out[r], h_out[r]
        for j in range(H):
            cor[j] = zf[j] * cr[j] + zi[j] * zg[j]
            hor[j] = cor[j]
        act_slice(hor, act)
        for j in range(H):
            hor[j] *= zo[j]


step_into = njit(cache=True, fastmath=FASTMATH, error_model="numpy")(_step_kernel)


def _chunks(B, H):
    """How many threads share the batch: one each for big enough work, else 1 (no launch)."""
    if B * H < PARALLEL_MIN_CELLS or B < 2:
        return 1
    return min(numba.get_num_threads(), B)


@functools.lru_cache(maxsize=64)
def _codes(activation, recurrent_activation, dtype):
    return (kernel_code(activation_code(activation), dtype),
            kernel_code(activation_code(recurrent_activation), dtype))


def codes(activation, recurrent_activation, dtype):
    """The kernels' activation codes for these names at this float type (looked up once)."""
    try:
        return _codes(activation, recurrent_activation, np.dtype(dtype))
    except TypeError:                               # an unhashable name: let the lookup say so
        return (kernel_code(activation_code(activation), dtype),
                kernel_code(activation_code(recurrent_activation), dtype))


def forward(x, W, U, b, h0, c0, mask=None, zero_output=False,
            activation="tanh", recurrent_activation="sigmoid", rmask=None):
    """x (B, T, D) -> out (B, T, H), h_T (B, H), c_T (B, H), cache."""
    dt = x.dtype
    act, ract = codes(activation, recurrent_activation, dt)
    B, T, D = x.shape
    H = U.shape[0]
    xt = np.ascontiguousarray(x.transpose(1, 0, 2))           # (T, B, D)
    m = as_mask(mask, T, B)
    rm = NO_ARRAY.astype(dt) if rmask is None else np.ascontiguousarray(rmask, dt)
    hs = np.empty((T + 1, B, H), dt); hs[0] = h0
    cs = np.empty((T + 1, B, H), dt); cs[0] = c0
    gates = np.empty((T, B, 4 * H), dt)
    ac = np.empty((T, B, H), dt)
    out = np.empty((T, B, H), dt) if m.size else NO_ARRAY.astype(dt).reshape(0, 0, 0)
    W, U, b = (np.ascontiguousarray(a, dt) for a in (W, U, b))
    args = (xt, W, b, U, hs, cs, gates, ac, out, m, bool(zero_output), act, ract, rm)
    chunks = _chunks(B, H)
    if chunks > 1:
        _forward_chunks(*args, chunks)
    else:
        _forward_rows_c(*args, 0, B)
    cache = Cache(xt, W, U, hs, cs, gates, ac, m, bool(zero_output), act, ract, rm)
    seq = out if m.size else hs[1:]
    return seq.transpose(1, 0, 2), hs[T], cs[T], cache


def backward(dout, dh_T, dc_T, cache, inputs=True):
    """Gradients of (out (B, T, H), h_T, c_T) back to dx (B, T, D), dW, dU, db, dh0, dc0.

    With `inputs` False, dx is None: its product is skipped.
    """
    T, B, D, H = cache.shape
    dt = cache.x.dtype
    dout = np.ascontiguousarray(dout.transpose(1, 0, 2), dt)  # (T, B, H)
    dh = np.array(dh_T, dtype=dt, order="C")                  # updated in place to d h_0
    dc = np.array(dc_T, dtype=dt, order="C")
    chunks = _chunks(B, H)
    dW = np.empty((chunks, D, 4 * H), dt)                     # one share per thread, summed below
    dU = np.empty((chunks, H, 4 * H), dt)
    db = np.empty((chunks, 4 * H), dt)
    dx = np.empty((T, B, D) if inputs else (0, 0, 0), dt)
    args = (dout, dh, dc, cache.x, np.ascontiguousarray(cache.W), cache.hs, cache.cs, cache.gates,
            cache.ac, np.ascontiguousarray(cache.U.T), cache.mask, cache.zero_output, cache.act,
            cache.ract, cache.rmask)
    if chunks > 1:
        _backward_chunks(*args, dW, dU, db, dx, chunks)
    else:
        _backward_rows_c(*args, dW[0], dU[0], db[0], dx, 0, B)
    dx = dx.transpose(1, 0, 2) if inputs else None
    return dx, dW.sum(axis=0), dU.sum(axis=0), db.sum(axis=0), dh, dc


def step(x, W, U, b, h, c, activation="tanh", recurrent_activation="sigmoid"):
    """One timestep: x (B, D), h (B, H), c (B, H) -> new h (B, H), new c (B, H)."""
    act, ract = codes(activation, recurrent_activation, h.dtype)
    B, H = h.shape
    h_out, c_out = np.empty_like(h), np.empty_like(c)
    z = np.empty((2, B, 4 * H), h.dtype)                      # scratch for x W + b and h U
    step_into(_c(x), _c(W), _c(U), b, _c(h), _c(c), act, ract, z[0], z[1], h_out, c_out)
    return h_out, c_out


def _c(a):
    """The array itself when already C-contiguous (the usual case), else a contiguous copy."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)
