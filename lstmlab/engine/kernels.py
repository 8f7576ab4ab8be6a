"""The LSTM compiled with Numba: the fast twin of `reference.py`, same signatures.

Forward: per timestep, the recurrent product h_{t-1} U through BLAS, the
input's x_t W + b (`projection.py`: added row by row for one-hot and narrow
inputs, projected for every timestep at once by BLAS for wide ones), and one
fused pointwise pass (`cell.py`) that applies the four gates, updates c and h,
and keeps the post-activation gates for backward. Backward walks time in
reverse, taking every derivative from those saved outputs (asked for a few
steps ahead, `prefetch.py`), and leaves the weight gradients to a few large
products: one per block of steps, while the block's gate gradients are still
in the cache (`GRAD_BLOCK_BYTES`), or one after the loop when that would not
pay. Rows whose state starts at zero skip step 0's products (h_0 U, and h_0's
share of U's gradient).

Threads never split time. Mostly they split the batch: each thread runs the
whole time loop for its rows (`_forward_rows`, `_backward_rows`, side by side
through `threads.py`), so the threads meet once per call, and each sums its
own share of the weight gradients. From 256 units with a small batch
(`_plan`) they split each step's units instead (`units.py`), meeting once per
step, which pays when U is large and the rows are few. The time loop is compiled, so no Python runs per
timestep. In float32, the time loops' per-step products whose width is a multiple
of 8 run on register tiles over U packed once per call (`tiles.py`; a unit split
at batch 1 stays on BLAS's matrix-vector product); every other product is
`blas.dot`, on lstmlab's own one-thread OpenBLAS.
"""
import functools

import numba
import numpy as np
from numba import njit

from . import cell, memory, prefetch, tiles, units  # noqa: F401  (freed memory reused)
from .blas import dot, dot_add, product
from .common import Cache, activation_code, as_mask
from .pointwise import FASTMATH, NO_REFS, kernel_code
from .projection import (add_input, add_outer, add_row, add_row_outer, all_zero, copy, inline, one_hot, project,
                         rows, sum_rows, time_major_one_hot)
from .split_step import partial_products, sum_parts
from .threads import run as threads_run

# Below this many (batch x unit) cells per step a thread launch costs more
# than it saves; the serial compilation of the same loop is used instead.
PARALLEL_MIN_CELLS = 1024

# The reverse loop asks for each row's saved gates, act(c) and c this many steps before
# it reaches them (prefetch.py). Measured on a 2-core Zen 3 VM, W4 training steps at 64
# units in turns in one process (paired medians): one step ahead 0.963, 0.985 and 0.991 of
# the time without; two steps ahead 0.994 of one's, four steps ahead 1.012 of two's; two
# steps ahead against none 0.987 and 0.991 (faster in 192 and 179 of 300), 1.011 once.
PREFETCH_STEPS = 2

# Backward takes its weight gradients in blocks of steps, about GRAD_BLOCK_BYTES of dz
# each, while the block's dz is still in the cache. Only when it pays: when all T steps'
# dz (T, n, 4H) would not stay in a core's L2 cache (more than GRAD_WHOLE_MAX_BYTES),
# and dU (H, 4H), which every block reads and writes, would (at most GRAD_DU_MAX_BYTES).
# Otherwise it is one product over all T steps after the loop. Measured on a 2-core
# Zen 3 VM (512 KiB of L2 a core): a W4 step at 64 units (dz 3.2 MiB a thread, dU
# 64 KiB) 2-10% faster in blocks of 4 steps; at 256 and 512 units (dU 1 and 4 MiB)
# 2-6% slower; at B=32, T=30, H=50 (dz 375 KiB a thread), backward 15% slower.
GRAD_BLOCK_BYTES = 128 * 1024
GRAD_WHOLE_MAX_BYTES = 512 * 1024
GRAD_DU_MAX_BYTES = 256 * 1024


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _chunk_inputs(x, b0, b1, ids_all, vals_all, onehot):
    """Batch rows b0:b1 of x (T, B, D) as the loops read them -> (ids, vals, xc, in_loop).

    One non-zero a row (one-hot, or one feature): its column and value, ids and vals (T*n,),
    and xc empty. Otherwise ids and vals empty and xc (T*n, D) the rows, contiguous. in_loop:
    x_t W is added (and W's gradient summed) row by row inside the time loop.
    ids and vals are these rows' part of ids_all, vals_all (T*B,); onehot[b0] == b1 - b0 says
    they hold them already: set by the first scan (forward's), read by the next (backward's,
    which passes them only when its threads split the rows as forward's did).
    """
    T, B, D = x.shape
    ids, vals = ids_all[T * b0:T * b1], vals_all[T * b0:T * b1]
    if onehot[b0] == b1 - b0 or one_hot(x, b0, ids, vals):
        onehot[b0] = b1 - b0
        return ids, vals, np.empty((0, D), x.dtype), True
    xc = rows(x, b0, b1)
    return ids[:0], vals[:0], xc, inline(xc)


def _forward_rows(xb, x, W, b, U, hs, cs, gates, ac, out, mask, zero_output, act, ract, rmask, ids, vals,
                  onehot, b0, b1):
    """Every step for batch rows b0:b1 (rows never interact, so threads split them).

    Copies rows b0:b1 of the input xb (B, T, D) into x (T, B, D), time-major as the loop and
    backward read it, and keeps one-hot rows' columns and values in ids, vals (T*B,) and
    onehot (B,) (`_chunk_inputs`; onehot zeros on entry); fills hs, cs (T+1, B, H), gates
    (T, B, 4H), ac (T, B, H).
    `out` (T, B, H) is filled only when masked; unmasked, the output is hs[1:].
    The products run on this thread: tiles over this call's packed U, or BLAS.
    """
    T, B, D = x.shape
    H = U.shape[0]
    H4 = 4 * H
    n = b1 - b0
    if time_major_one_hot(xb, b0, b1, x, ids[T * b0:T * b1], vals[T * b0:T * b1]):
        onehot[b0] = n                              # _chunk_inputs then takes them as found
    ids, vals, xc, in_loop = _chunk_inputs(x, b0, b1, ids, vals, onehot)
    xw = np.empty((0 if in_loop else T * n, H4), x.dtype)
    if not in_loop:
        project(xc, W, b, xw)                       # every step's input projection at once
    z = np.empty((n, H4), x.dtype)                  # recurrent product, reused every step
    h_drop = np.empty((n, H), x.dtype)
    Up = tiles.packed_or_none(U)                    # U packed once for every step's tiles
    zero_start = all_zero(hs[0, b0:b1])             # h_0 = 0, as when no initial state is given
    for t in range(T):
        h = hs[t, b0:b1]                            # (n, H), one contiguous block
        if rmask.shape[0] > 0:
            units.dropped(h, rmask[b0:b1], h_drop)
            h = h_drop
        if t == 0 and zero_start:
            z[...] = 0.0                            # h_0 U, for a finite U: one product fewer
        elif Up.shape[0] > 0:
            tiles.dot(h, Up, z)                     # (n, H) @ (H, 4H)
        else:
            dot(h, U, z)
        _cells_forward(t, b0, z, ids, vals, xc, xw, W, b, hs, cs, gates, ac, out, mask, zero_output, act,
                       ract)


@njit(**NO_REFS)
def _cells_forward(t, b0, z, ids, vals, xc, xw, W, b, hs, cs, gates, ac, out, mask, zero_output, act, ract):
    """Step t's pointwise pass for rows b0:b0+n, from their recurrent products z (n, 4H):
    the input's share (added here from ids, vals (T*n,) or xc (T*n, D), or read from
    xw (T*n, 4H)), then the cells, into gates, ac, hs[t + 1], cs[t + 1] (and out when masked)."""
    n, H4 = z.shape
    H = H4 // 4
    in_loop = xw.shape[0] == 0
    for r in range(n):
        bb = b0 + r
        g, zb = gates[t, bb], z[r]
        if ids.shape[0] > 0:
            add_row(g, zb, W, ids[t * n + r], vals[t * n + r], b)
        elif in_loop:
            add_input(g, zb, xc[t * n + r], W, b)
        else:
            xb = xw[t * n + r]
            for k in range(H4):
                g[k] = zb[k] + xb[k]
        c_prev, c_new, h_new = cs[t, bb], cs[t + 1, bb], hs[t + 1, bb]
        cell.forward(g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:], c_prev, c_new, ac[t, bb], h_new,
                     act, ract)
        if mask.shape[0] > 0:
            cell.masked(mask[t, bb] != 0, not (zero_output or t == 0), hs[t, bb], c_prev, h_new, c_new,
                        out[t, bb], out[t - 1, bb])


def _backward_rows(dout, dh, dc, x, W, hs, cs, gates, ac, UT, mask, zero_output, act, ract, rmask,
                   ids, vals, onehot, dW, dU, db, dx, dh0, b0, b1):
    """The reverse time loop for batch rows b0:b1, then these rows' share of the weight gradients.

    ids, vals, onehot: the one-hot rows forward found (`_chunk_inputs`), or onehot zeros.

    dout (T, B, H); dh, dc (B, H) in: d h_T, d c_T; out: d h_0, d c_0, but dh only when dh0
    is True (else it is left as it stands: the last product, d h_0 = dz_0 Uᵀ, is skipped).
    UT (4H, H): U.T, a view (each thread packs it for the tiles; BLAS reads it transposed).
    dW (D, 4H), dU (H, 4H), db (4H,) receive this chunk's sums; dx (T, B, D)
    its rows, unless dx has no rows (the input's gradient is not wanted).
    """
    T, B, D = x.shape
    H = UT.shape[1]
    H4 = 4 * H
    n = b1 - b0
    S = _grad_block_steps(T, n, H, x.itemsize)     # steps per block of the weight gradients
    dz = np.empty((S, n, H4), x.dtype)              # pre-activation gradients of one block's steps
    hp = np.empty((S * n, H), x.dtype)              # their h_{t-1} as multiplied by U (after dropout)
    dh_prev = np.empty((n, H), x.dtype)
    d_repeat = np.zeros((n, H), x.dtype)            # reaches out_t via later masked repeats
    no_dout = np.zeros(H, x.dtype)                  # out_t's gradient when dout has no steps
    ids, vals, xc, in_loop = _chunk_inputs(x, b0, b1, ids, vals, onehot)
    dW[...] = 0.0                                   # summed row by row in the loop, or block by block
    dU[...] = 0.0
    db[...] = 0.0
    UTp = tiles.packed_or_none(UT)                  # Uᵀ packed once for every step's tiles
    plain = mask.shape[0] == 0 and rmask.shape[0] == 0
    # h_0 = 0 (no initial state): step 0 adds nothing to dU, and its rows are left out.
    zero_start = all_zero(hs[0, b0:b1])
    for t1 in range(T, 0, -S):                      # blocks of steps t0:t1, last first
        t0 = max(0, t1 - S)
        for t in range(t1 - 1, t0 - 1, -1):
            d = dz[t - t0]
            _cells_backward(t, b0, dout, no_dout, dh, dc, d_repeat, gates, ac, cs, d, ids, vals, xc,
                            dW if in_loop else dW[:0], mask, zero_output, act, ract)
            if t == 0 and not dh0:
                break
            # d h_{t-1} (n, H) = d (n, 4H) @ Uᵀ; with no mask and no recurrent dropout, straight
            # into these rows of dh, whose d h_t the cells have just read.
            into = dh[b0:b1] if plain else dh_prev
            if UTp.shape[0] > 0:
                tiles.dot(d, UTp, into)
            else:
                dot(d, UT, into)
            if not plain:
                _take_dh_rows(t, b0, dh_prev, dh, mask, rmask)
        # The block's weight gradients while its dz is still in cache: one product of
        # (t1 - t0) * n rows each, rather than T small ones or one over all T*n rows
        # whose dz has gone to memory by the time the loop ends.
        m = (t1 - t0) * n
        dzb = dz[:t1 - t0].reshape(m, H4)
        s0 = 1 if t0 == 0 and zero_start else t0    # the block's first step with h_{t-1} not zero
        if s0 < t1:
            k = (s0 - t0) * n
            _gather_rows(hs[s0:t1], b0, rmask, hp[k:m])
            dot_add(hp[k:m].T, dzb[k:], dU)
        sum_rows(dzb, db)
        if not in_loop:                             # dense and wide: what `inline` found
            dot_add(xc[t0 * n:t1 * n].T, dzb, dW)
        if dx.shape[0] > 0:
            _scatter_rows(product(dzb, W.T), b0, dx[t0:t1])     # (m, D)


@njit(cache=True)
def _grad_block_steps(T, n, H, itemsize):
    """Steps per block of backward's weight gradients for n rows (GRAD_BLOCK_BYTES); T: one block."""
    step = max(n * 4 * H * itemsize, 1)             # bytes of dz a step
    if T * step <= GRAD_WHOLE_MAX_BYTES or 4 * H * H * itemsize > GRAD_DU_MAX_BYTES:
        return max(T, 1)
    return max(1, min(T, GRAD_BLOCK_BYTES // step))


@njit(**NO_REFS)
def _cells_backward(t, b0, dout, no_dout, dh, dc, d_repeat, gates, ac, cs, dz, ids, vals, xc, dW, mask,
                    zero_output, act, ract):
    """Step t's gate gradients dz (n, 4H) for rows b0:b0+n; dc becomes d c_{t-1}; when dW
    has rows, W's gradient is summed here from ids, vals (T*n,) or xc (T*n, D). dout (T, B, H),
    or no steps: then out_t's gradient is no_dout (H,), zeros."""
    n, H4 = dz.shape
    H = H4 // 4
    only_dh = dout.shape[0] == 0 and mask.shape[0] == 0     # d h_t is dh: no dout, no repeats
    for r in range(n):
        bb = b0 + r
        g, a, d, c_prev = gates[t, bb], ac[t, bb], dz[r], cs[t, bb]
        if t >= PREFETCH_STEPS:                     # rows the loop reaches that many steps on
            prefetch.row(gates[t - PREFETCH_STEPS, bb])
            prefetch.row(ac[t - PREFETCH_STEPS, bb])
            prefetch.row(cs[t - PREFETCH_STEPS, bb])
        dhr, dcr, drep = dh[bb], dc[bb], d_repeat[r]
        doutr = dout[t, bb] if dout.shape[0] > 0 else no_dout
        if only_dh:                                 # cell.backward: empty dout and drep say so
            doutr, drep = no_dout[:0], drep[:0]
        if mask.shape[0] > 0 and mask[t, bb] == 0:  # state passed through untouched
            cell.skipped(doutr, drep, d, zero_output)
            continue
        cell.backward(g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:], a, c_prev, dhr, dcr, doutr, drep,
                      d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:], act, ract)
        if dW.shape[0] > 0:
            if ids.shape[0] > 0:
                add_row_outer(dW, ids[t * n + r], vals[t * n + r], d)
            else:
                add_outer(dW, xc[t * n + r], d)


@njit(**NO_REFS)
def _take_dh_rows(t, b0, dh_prev, dh, mask, rmask):
    """d h_{t-1} for rows b0:b0+n from the product dh_prev (n, H), through the recurrent
    dropout mask; rows the mask skipped at step t keep theirs."""
    n, H = dh_prev.shape
    for r in range(n):
        bb = b0 + r
        if mask.shape[0] > 0 and mask[t, bb] == 0:
            continue
        dhr, dpr = dh[bb], dh_prev[r]
        if rmask.shape[0] > 0:
            mr = rmask[bb]
            for j in range(H):
                dhr[j] = dpr[j] * mr[j]
        else:
            copy(dhr, dpr)


@njit(**NO_REFS)
def _gather_rows(hs, b0, rmask, hp):
    """hp (T*n, H) = rows b0:b0+n of hs (T, B, H), times the recurrent dropout mask if any."""
    T, n = hs.shape[0], hp.shape[0] // hs.shape[0]
    for t in range(T):
        for r in range(n):
            if rmask.shape[0] > 0:
                hpr, hr, mr = hp[t * n + r], hs[t, b0 + r], rmask[b0 + r]
                for j in range(hpr.shape[0]):
                    hpr[j] = hr[j] * mr[j]
            else:
                copy(hp[t * n + r], hs[t, b0 + r])


@njit(**NO_REFS)
def _scatter_rows(src, b0, dst):
    """dst (T, B, D)'s rows b0:b0+n from src (T*n, D)."""
    T, n = dst.shape[0], src.shape[0] // dst.shape[0]
    for t in range(T):
        for r in range(n):
            copy(dst[t, b0 + r], src[t * n + r])


# nogil: `threads.run` calls them from several threads at once, each on its own rows.
_forward_rows_c = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")(_forward_rows)
_backward_rows_c = njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")(_backward_rows)


def _row_ranges(B, chunks):
    """(b0, b1) for each of `chunks` runs of batch rows, as even as possible."""
    return [(k * B // chunks, (k + 1) * B // chunks) for k in range(chunks)]


# Below this many units the single step multiplies in its own loops; above, BLAS's
# matrix-vector product is faster than they are.
STEP_BLAS_MIN_UNITS = 32

# From this many units, and up to this many rows, the threads share a step's
# product h U (split_step.py), each multiplying by its own STEP_SPLIT_MIN_UNITS / 2
# or more rows of U. Measured on a 2-core Zen 3 VM, one step_into call from
# Python, split against not, medians of runs of 3000 calls: at H=256, batch 1,
# 14-20 against 18-29 µs in most runs, even or slower (28-37 against 26-30) in a
# slow stretch of the machine; batch 3 36-51 against 62-71, batch 4 54-73
# against 85-89, batch 8 80-105 against 109-123 (batch 2 mixed: 27-54 against
# 38-42); H=512 85-96 against 158-166 at batch 2; H=128 slower (6-15 against
# 5-7). Per character, generate_text's compiled loop runs 1.31-1.40x faster at
# H=256; a Python loop of stream.step calls 0.81-1.19x (median 1.14x over seven
# runs), its Python between the steps sharing the machine with the spinning
# threads.
STEP_SPLIT_MIN_UNITS = 256
STEP_SPLIT_MAX_ROWS = 8


def step_parts(B, H):
    """How many parts `step_into` splits a step's product in: one per thread, each with
    STEP_SPLIT_MIN_UNITS / 2 rows of U or more; 1 when it is not split."""
    if H < STEP_SPLIT_MIN_UNITS or B > STEP_SPLIT_MAX_ROWS:
        return 1                                    # decided without asking Numba (1 µs a call)
    return max(1, min(numba.get_num_threads(), H // (STEP_SPLIT_MIN_UNITS // 2)))


def step_scratch(B, H, dtype):
    """`step_into`'s scratch as one array (1 + P, B, 4H), P = step_parts(B, H): z is
    its [0], hU (P, B, 4H) its [1:]."""
    return np.empty((1 + step_parts(B, H), B, 4 * H), dtype)


def _step_kernel(x, W, U, b, h, c, act, ract, z, hU, h_out, c_out):
    """x (B, D), h, c (B, H) -> h_out, c_out (B, H); z (B, 4H) and hU (P, B, 4H) are scratch
    (`step_scratch`'s [0] and [1:]). With P > 1, P threads share the product h U (split_step.py)."""
    if hU.shape[0] > 1:
        partial_products(h, U, hU)                  # hU[p] = h[:, k0:k1] U[k0:k1]
        sum_parts(hU)
    elif h.shape[1] >= STEP_BLAS_MIN_UNITS:
        dot(h, U, hU[0])                            # hU = h U through BLAS
    else:
        _small_product(h, U, hU[0])
    _cells_step(x, W, b, c, act, ract, z, hU[0], h_out, c_out)


@njit(**NO_REFS)
def _small_product(h, U, hU):
    """hU (B, 4H) = h (B, H) U (H, 4H) in plain loops."""
    for r in range(h.shape[0]):
        hr, hUr = h[r], hU[r]
        for k in range(hUr.shape[0]):
            hUr[k] = 0.0
        for m in range(hr.shape[0]):
            hm = hr[m]
            for k in range(hUr.shape[0]):
                hUr[k] += hm * U[m, k]


@njit(**NO_REFS)
def _cells_step(x, W, b, c, act, ract, z, hU, h_out, c_out):
    """The step's pointwise pass for every row, from hU = h U."""
    H = c.shape[1]
    for r in range(c.shape[0]):
        zr = z[r]
        add_input(zr, hU[r], x[r], W, b)            # z = h U + b + x W, skipping x's zeros
        # h_out's row doubles as the scratch for act(c): h = o act(c) is written over it in place.
        cell.forward(zr[:H], zr[H:2 * H], zr[2 * H:3 * H], zr[3 * H:], c[r], c_out[r], h_out[r], h_out[r],
                     act, ract)


step_into = njit(cache=True, fastmath=FASTMATH, error_model="numpy")(_step_kernel)


@njit(cache=True, error_model="numpy")
def _step_new(x, W, U, b, h, c, act, ract, parts):
    """step_into with its outputs and scratch allocated here: fewer arguments to box per call."""
    B, H = h.shape
    h_out, c_out = np.empty_like(h), np.empty_like(c)
    z = np.empty((parts + 1, B, 4 * H), h.dtype)
    step_into(x, W, U, b, h, c, act, ract, z[0], z[1:], h_out, c_out)
    return h_out, c_out


# From this many units per thread on, threads may split each step's units
# (units.py) rather than the batch: the per-step products are then larger per
# byte of U, and each core reads only its part of U. Measured on 2 cores,
# forward + backward against the batch split: 1.6x faster at H=512, B=1 and at
# H=256, B=8; 1.1x at H=256, B=1; 1.1-1.3x slower at H=128 (small parts spend
# more of each step meeting).
UNITS_PER_PART = 128

# ... but only while the batch is small: once each thread has H / 16 rows or more,
# its own (rows, H) @ (H, 4H) product runs well enough, and the batch split needs no
# meeting per step, where one core held up by the machine holds up the other.
# Measured on a 2-core Zen 3 VM, forward + backward, medians of alternating runs:
# the batch split 1.09x faster at H=256, B=64 (94.9 against 103.6 ms), 1.03x at
# B=128, even at H=512, B=64; the unit split 1.09x faster at H=512, B=32 and 1.16x
# at B=16.
UNITS_PER_BATCH_ROW = 16


def _plan(B, H):
    """How the threads share the work: ("rows", 1) on one thread, ("batch", chunks) or ("units", parts)."""
    if (B * H < PARALLEL_MIN_CELLS or B < 2) and H < 2 * UNITS_PER_PART:
        return "rows", 1                            # decided without asking Numba (2 µs a call)
    threads = numba.get_num_threads()
    if threads < 2:
        return "rows", 1
    if H >= UNITS_PER_PART * threads and B * UNITS_PER_BATCH_ROW < threads * H:
        return "units", threads
    if B * H >= PARALLEL_MIN_CELLS and B >= 2:
        return "batch", min(threads, B)
    return "rows", 1


@functools.lru_cache(maxsize=16)
def _none(dtype, ndim):
    """An empty array that stands for "none" (no mask, no output copy): shared, as nothing writes it."""
    return np.zeros((0,) * ndim, dtype)


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


@njit(cache=True)
def scan_places(T, B, dtype):
    """Where the loops keep the one-hot rows they find (`_chunk_inputs`): ids, vals (T*B,)
    and onehot (B,) zeros (nothing found yet). Compiled, for fused.py's loops too."""
    return np.empty(T * B, np.int64), np.empty(T * B, dtype), np.zeros(B, np.int64)


def forward(x, W, U, b, h0, c0, mask=None, zero_output=False,
            activation="tanh", recurrent_activation="sigmoid", rmask=None):
    """x (B, T, D) -> out (B, T, H), h_T (B, H), c_T (B, H), cache."""
    dt = x.dtype
    act, ract = codes(activation, recurrent_activation, dt)
    B, T, D = x.shape
    H = U.shape[0]
    m = as_mask(mask, T, B)
    rm = _none(dt, 2) if rmask is None else np.ascontiguousarray(rmask, dt)
    hs = np.empty((T + 1, B, H), dt); hs[0] = h0
    cs = np.empty((T + 1, B, H), dt); cs[0] = c0
    gates = np.empty((T, B, 4 * H), dt)
    ac = np.empty((T, B, H), dt)
    out = np.empty((T, B, H), dt) if m.size else _none(dt, 3)
    W, U, b = np.ascontiguousarray(W, dt), np.ascontiguousarray(U, dt), np.ascontiguousarray(b, dt)
    how, threads = _plan(B, H)
    if how == "units":
        xt = np.ascontiguousarray(x.transpose(1, 0, 2))       # (T, B, D)
        _forward_units(xt, W, b, U, hs, cs, gates, ac, out, m, bool(zero_output), act, ract, rm, threads)
        cache = Cache(xt, W, U, hs, cs, gates, ac, m, bool(zero_output), act, ract, rm)
    else:                                         # "batch", or "rows": one share, on this thread
        xt = np.empty((T, B, D), dt)                          # each share copies its rows of x into it
        seen, spans = scan_places(T, B, dt), tuple(_row_ranges(B, threads))
        args = (np.ascontiguousarray(x), xt, W, b, U, hs, cs, gates, ac, out, m, bool(zero_output), act,
                ract, rm) + seen
        threads_run(_forward_rows_c, [args + span for span in spans])
        cache = Cache(xt, W, U, hs, cs, gates, ac, m, bool(zero_output), act, ract, rm, *seen, spans)
    seq = out if m.size else hs[1:]
    return seq.transpose(1, 0, 2), hs[T], cs[T], cache


def backward(dout, dh_T, dc_T, cache, inputs=True):
    """Gradients of (out (B, T, H), h_T, c_T) back to dx (B, T, D), dW, dU, db, dh0, dc0.

    dout None: no gradient reaches the outputs but through h_T and c_T (a layer that
    returns only its last output adds that output's gradient to dh_T: it is h_T).
    With `inputs` False, dx is None: its product is skipped.
    """
    T, B, D, H = cache.shape
    dt = cache.x.dtype
    if dout is None:
        dout = _none(dt, 3)
    else:
        dout = np.ascontiguousarray(dout.transpose(1, 0, 2), dt)  # (T, B, H)
    dh = np.array(dh_T, dtype=dt, order="C")                  # updated in place to d h_0
    dc = np.array(dc_T, dtype=dt, order="C")
    how, threads = _plan(B, H)
    if how == "units":
        dx, dW, dU, db = _backward_units(dout, dh, dc, cache, inputs, threads)
        return dx, dW, dU, db, dh, dc
    chunks = threads if how == "batch" else 1
    dW = np.empty((chunks, D, 4 * H), dt)                     # one share per thread, summed below
    dU = np.empty((chunks, H, 4 * H), dt)
    db = np.empty((chunks, 4 * H), dt)
    dx = np.empty((T, B, D) if inputs else (0, 0, 0), dt)
    spans = tuple(_row_ranges(B, chunks))
    # forward's one-hot rows, when its threads split the rows as these will (else fresh places,
    # which the loops fill by scanning x: a scan of other spans would overwrite what is kept).
    seen = (cache.ids, cache.vals, cache.onehot) if cache.spans == spans else scan_places(T, B, dt)
    args = (dout, dh, dc, cache.x, np.ascontiguousarray(cache.W), cache.hs, cache.cs, cache.gates,
            cache.ac, cache.U.T, cache.mask, cache.zero_output, cache.act,
            cache.ract, cache.rmask) + seen
    # Each thread: its rows' reverse loop and its share of dW, dU, db (dW[k] for chunk k).
    threads_run(_backward_rows_c, [args + (dW[k], dU[k], db[k], dx, True, b0, b1)
                                   for k, (b0, b1) in enumerate(spans)])
    dx = dx.transpose(1, 0, 2) if inputs else None
    return dx, dW.sum(axis=0), dU.sum(axis=0), db.sum(axis=0), dh, dc


def _forward_units(xt, W, b, U, hs, cs, gates, ac, out, m, zero_output, act, ract, rm, parts):
    """forward's loop with each step cut in `parts` over the units (units.py)."""
    T, B, D = xt.shape
    H = U.shape[0]
    dt = xt.dtype
    bounds = units.bounds(H, parts)
    xc, Wq, bq = xt.reshape(T * B, D), units.pack(W, H, parts), b[units.permutation(H, parts)]
    if inline(xc):                                            # x_t W + b added inside the loop
        xwq = np.empty(0, dt)
    else:                                                     # packed (T*B, 4H) projections, made ahead
        xwq = np.empty(T * B * 4 * H, dt)
        threads_run(units.project_part, [(p, xc, Wq, bq, bounds, xwq) for p in range(parts)])
    z = np.empty(B * 4 * H, dt)
    hd = np.empty((parts, B, H) if rm.size else (parts, 0, 0), dt)
    Uq = units.pack(U, H, parts)
    Ut = units.tile_blocks(Uq, H, bounds, False, B)
    args = (xc, Wq, bq, xwq, Uq, Ut, bounds, hs, cs, gates, ac, out, m, zero_output, act, ract,
            rm, z, hd, np.zeros(T * parts, np.int64), np.zeros(T, np.int64))
    threads_run(units.forward_steps, [(home,) + args for home in range(parts)])


def _backward_units(dout, dh, dc, cache, inputs, parts):
    """backward's loop with each step cut in `parts` over the units; -> dx, dW, dU, db."""
    T, B, D, H = cache.shape
    dt = cache.x.dtype
    if dout.shape[0] == 0:                                    # zeros: few, at the unit split's batch sizes
        dout = np.zeros((T, B, H), dt)
    bounds, perm = units.bounds(H, parts), units.permutation(H, parts)
    xc = cache.x.reshape(T * B, D)
    in_loop = inline(xc)                                      # dW summed row by row inside the loop
    dWq = np.zeros(D * 4 * H, dt)
    dzq = np.empty(T * B * 4 * H, dt)                         # packed (T*B, 4H) gate gradients
    partial = np.empty((2, parts, B, H), dt)                  # the parts' terms of d h, two steps' worth
    Uq = units.pack(cache.U, H, parts)
    UTt = units.tile_blocks(Uq, H, bounds, True, B)
    args = (dout, dh, dc, cache.cs, cache.gates, cache.ac, Uq, UTt, bounds, cache.mask,
            cache.zero_output, cache.act, cache.ract, cache.rmask, dzq, np.zeros((B, H), dt), partial,
            xc, dWq if in_loop else dWq[:0], np.zeros(T * parts, np.int64), np.zeros(T, np.int64))
    threads_run(units.backward_steps, [(home,) + args for home in range(parts)])
    units.first_dh(bounds, partial, dh, cache.mask, cache.rmask)
    hprev = cache.hs[:T].reshape(T * B, H)                    # h_{t-1} as multiplied by U
    if cache.rmask.size:
        hprev = np.ascontiguousarray((cache.hs[:T] * cache.rmask).reshape(T * B, H))
    Wq = units.pack(cache.W, H, parts) if inputs else np.empty(0, dt)
    dUq, dbq = np.empty(H * 4 * H, dt), np.empty(4 * H, dt)
    dxq = np.empty((parts, T * B, D) if inputs else (0, 0, 0), dt)
    threads_run(units.weight_grads, [(p, xc, hprev, dzq, Wq, bounds, in_loop, dWq, dUq, dbq, dxq)
                                     for p in range(parts)])
    db = np.empty(4 * H, dt)
    db[perm] = dbq
    dx = dxq.sum(axis=0).reshape(T, B, D).transpose(1, 0, 2) if inputs else None
    return dx, units.unpack(dWq, D, H, parts), units.unpack(dUq, H, H, parts), db


def step(x, W, U, b, h, c, activation="tanh", recurrent_activation="sigmoid"):
    """One timestep: x (B, D), h (B, H), c (B, H) -> new h (B, H), new c (B, H)."""
    act, ract = codes(activation, recurrent_activation, h.dtype)
    return _step_new(x, W, U, b, h, c, act, ract, step_parts(*h.shape))
