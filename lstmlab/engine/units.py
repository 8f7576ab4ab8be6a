"""The LSTM with threads splitting the units: every timestep is cut into parts.

`kernels.py` splits the batch: each thread multiplies its rows by all of U
every step. With B=64 and H=256 that is a (32, 256) @ (256, 1024) product per
thread per step, and the BLAS repacks all of U (1 MB) for each one. Here a
part is a range of units with all four of their gates: part p multiplies every
row by its own columns of U, (64, 256) @ (256, 512), packed once per call,
and each core reads only its part of U (measured on 2 cores, forward and
backward: 1.6x faster at H=512, B=1 and at H=256, B=8; at H=128 and below,
or once each thread would have H / 16 rows of the batch, the meetings cost
more than they save: kernels.UNITS_PER_PART, UNITS_PER_BATCH_ROW).

The price is a meeting per timestep: step t+1 needs every part's h_t. The
threads meet through atomic counters (`atomics.py`): a part is claimed,
computed, then counted done; a thread that finds nothing left to claim in a
step waits until the step's parts are all done. Each thread claims its own
part first, so a core keeps multiplying by the same columns of U, which stay
in its cache. Any thread may compute any part, and a thread only ever waits
for parts that another running thread has claimed, so the loop finishes
whatever number of threads run at once (one included).

Packed layout: part p owns units u0:u1 (n = u1 - u0) and its 4n columns,
ordered i, f, g, o (`permutation`). A matrix with 4H columns is packed as the
parts' (rows, 4n) blocks one after another in a flat array (`pack`), so that
each block is contiguous for the BLAS. With two rows or more in float32, each
block of U (and of Uᵀ backward) is laid out once more as the register tiles'
panels (`tile_blocks`, tiles.py), and every step multiplies on the tiles:
measured on 2 cores in alternating processes, forward + backward over 100
steps at H=256, B=4 took 9.6 against 13.5 ms (3 pairs) and at B=8 17.6
against 22.9 ms (4 pairs); at H=512, B=16, 87 against 106 ms (3 pairs). One
row stays on BLAS's matrix-vector product, which is faster there.
"""
import functools

import numpy as np
from numba import njit

from . import cell, tiles
from .atomics import fetch_add, load, pause
from .blas import dot
from .pointwise import FASTMATH, NO_REFS
from .projection import add_input, add_outer, all_zero, copy, project, project_back, sum_rows

OPTIONS = dict(cache=True, fastmath=FASTMATH, error_model="numpy")


@functools.lru_cache(maxsize=32)
def bounds(H, parts):
    """(parts + 1,) unit boundaries, as even as possible."""
    return np.array([p * H // parts for p in range(parts + 1)], np.int64)


@functools.lru_cache(maxsize=32)
def permutation(H, parts):
    """(4H,): packed column k holds the original column permutation(H, parts)[k]."""
    cols = []
    for u0, u1 in zip(bounds(H, parts)[:-1], bounds(H, parts)[1:]):
        units = np.arange(u0, u1)
        cols.extend(gate * H + units for gate in range(4))
    return np.concatenate(cols)


@njit(**NO_REFS)
def _repack(A, bounds, flat, packing):
    """Copy between A (R, 4H) and its packed form flat (R * 4H,): into flat when
    packing, back into A otherwise."""
    R, H = A.shape[0], A.shape[1] // 4
    o = 0
    for p in range(bounds.shape[0] - 1):
        u0, u1 = bounds[p], bounds[p + 1]
        n = u1 - u0
        for r in range(R):
            row = A[r]
            for gate in range(4):
                if packing:
                    copy(flat[o:o + n], row[gate * H + u0:gate * H + u1])
                else:
                    copy(row[gate * H + u0:gate * H + u1], flat[o:o + n])
                o += n


def pack(A, H, parts):
    """A (R, 4H) -> flat (R * 4H,): each part's columns, i f g o, as one contiguous (R, 4n) block.

    A compiled copy of contiguous runs of n values: NumPy's fancy indexing or
    concatenation of strided views took 4x as long (0.2 ms for 1 MB).
    """
    A = np.ascontiguousarray(A)
    flat = np.empty(A.size, A.dtype)
    _repack(A, bounds(H, parts), flat, True)
    return flat


def unpack(flat, R, H, parts):
    """The inverse of `pack`: flat (R * 4H,) -> (R, 4H) in the original column order."""
    A = np.empty((R, 4 * H), flat.dtype)
    _repack(A, bounds(H, parts), flat, False)
    return A


@njit(inline="always", **OPTIONS)
def _block(flat, R, u0, u1):
    """Part u0:u1's (R, 4n) block of a packed flat array."""
    return flat[R * 4 * u0:R * 4 * u1].reshape(R, 4 * (u1 - u0))


@njit(**OPTIONS)
def tile_blocks(flat, R, bounds, transposed, B):
    """A packed (R, 4H) matrix with each part's block, or the block's transpose (4n, R),
    in the tiles' panels (`tiles.pack_into`), at the block's own place in a flat array of
    the same size, for products of B rows by the blocks. Empty when those products stay
    on BLAS: one row (B = 1), which BLAS's matrix-vector product does faster, or blocks
    the tiles cannot multiply by (not float32, or a width not a multiple of tiles.VECTOR)."""
    if B < 2:
        return np.empty(0, flat.dtype)
    for p in range(bounds.shape[0] - 1):
        width = R if transposed else 4 * (bounds[p + 1] - bounds[p])
        if flat.itemsize != 4 or width % tiles.VECTOR != 0 or R == 0:
            return np.empty(0, flat.dtype)
    out = np.empty(flat.shape[0], flat.dtype)
    for p in range(bounds.shape[0] - 1):
        u0, u1 = bounds[p], bounds[p + 1]
        block = _block(flat, R, u0, u1)
        tiles.pack_into(block.T if transposed else block, out[R * 4 * u0:R * 4 * u1])
    return out


@njit(inline="always", **OPTIONS)
def _gates(g, H, u0, u1):
    """The i, f, g, o views of units u0:u1 in a (4H,) row of gates."""
    return g[u0:u1], g[H + u0:H + u1], g[2 * H + u0:2 * H + u1], g[3 * H + u0:3 * H + u1]


@njit(inline="always", **OPTIONS)
def _split(v, n):
    """A packed (4n,) row as its i, f, g, o views."""
    return v[:n], v[n:2 * n], v[2 * n:3 * n], v[3 * n:]


@njit(inline="always", **OPTIONS)
def _claim(claims, s, parts, home):
    """Claim an unclaimed part of stage s, trying part `home` first; -1 when none is left.

    claims (stages * parts,) holds a flag per part and stage. A worker starts
    from its own part every step, so each core keeps multiplying by the same
    columns of U and finds them in its own cache; it takes another's part only
    when that one has not started (fewer running threads than parts).
    """
    for q in range(parts):
        p = home + q
        if p >= parts:
            p -= parts
        k = s * parts + p
        if load(claims, k) == 0 and fetch_add(claims, k, 1) == 0:
            return p
    return -1


# A wait longer than this many checks yields the core: with more threads than
# free cores, the part being waited for may need this very core to finish.
SPINS_BEFORE_YIELD = 1000


@njit(inline="always", **OPTIONS)
def _wait(done, s, parts):
    spins = 0
    while load(done, s) < parts:
        spins += 1
        if spins > SPINS_BEFORE_YIELD:
            pause()


@njit(**OPTIONS)
def _forward_part(t, u0, u1, xc, Wq, bq, xwq, Uq, Ut, hs, cs, gates, ac, out, mask, zero_output, act, ract,
                  rmask, z, hd):
    """Step t for units u0:u1 and every row: h_{t-1} times the part's U, then the cells."""
    B, H = gates.shape[1], hs.shape[2]
    zp = _block(z, B, u0, u1)                       # (B, 4n) scratch of this part
    h = hs[t]
    if rmask.shape[0] > 0:                          # recurrent dropout: h_{t-1} * rmask
        dropped(hs[t], rmask, hd)
        h = hd
    if t == 0 and all_zero(h):                      # h_0 = 0 (no initial state): h_0 U is zeros
        zp[...] = 0.0
    elif Ut.shape[0] > 0:                           # (B, H) @ (H, 4n)
        tiles.dot(h, Ut[H * 4 * u0:H * 4 * u1], zp)
    else:
        dot(h, _block(Uq, H, u0, u1), zp)
    _cells_forward(t, u0, u1, zp, xc, Wq, bq, xwq, hs, cs, gates, ac, out, mask, zero_output, act, ract)


@njit(**NO_REFS)
def dropped(h, rmask, hd):
    """hd (B, H) = h * rmask."""
    for r in range(h.shape[0]):
        hr, mr, dr = h[r], rmask[r], hd[r]
        for j in range(hr.shape[0]):
            dr[j] = hr[j] * mr[j]


@njit(**NO_REFS)
def _cells_forward(t, u0, u1, zp, xc, Wq, bq, xwq, hs, cs, gates, ac, out, mask, zero_output, act, ract):
    """Step t's pointwise pass for units u0:u1 and every row, from the part's products zp (B, 4n)."""
    T, B, H = gates.shape[0], gates.shape[1], hs.shape[2]
    n = u1 - u0
    D = xc.shape[1]
    in_loop = xwq.shape[0] == 0                     # else (T*B, 4n) input projections made ahead
    xw = _block(xwq, 0 if in_loop else T * B, u0, u1)
    for r in range(B):
        zr = zp[r]
        if in_loop:
            add_input(zr, zr, xc[t * B + r], _block(Wq, D, u0, u1), bq[4 * u0:4 * u1])
        else:
            xr = xw[t * B + r]
            for k in range(4 * n):
                zr[k] += xr[k]
        gi, gf, gg, go = _gates(gates[t, r], H, u0, u1)
        zi, zf, zg, zo = _split(zr, n)
        for j in range(n):
            gi[j], gf[j], gg[j], go[j] = zi[j], zf[j], zg[j], zo[j]
        c_prev, c_new, h_new = cs[t, r, u0:u1], cs[t + 1, r, u0:u1], hs[t + 1, r, u0:u1]
        cell.forward(gi, gf, gg, go, c_prev, c_new, ac[t, r, u0:u1], h_new, act, ract)
        if mask.shape[0] > 0:
            cell.masked(mask[t, r] != 0, not (zero_output or t == 0), hs[t, r, u0:u1], c_prev, h_new, c_new,
                        out[t, r, u0:u1], out[t - 1, r, u0:u1])


@njit(nogil=True, **OPTIONS)
def forward_steps(home, xc, Wq, bq, xwq, Uq, Ut, bounds, hs, cs, gates, ac, out, mask, zero_output, act, ract,
                  rmask, z, hd, claims, done):
    """One worker's share of every step, each step cut in parts over the units; the
    workers (`threads.run`, one per part, `home` = 0, 1, ...) meet after each step.

    xc (T*B, D) the inputs; Wq, bq, Uq the packed weights; Ut, Uq with each part's
    block in the tiles' panels (`tile_blocks`), or empty for BLAS. xwq: the packed input
    projections (T*B, 4H), bias included, made ahead; or empty, and then each
    row's x_t W + b is added inside the loop.
    Fills hs, cs (T+1, B, H), gates (T, B, 4H), ac (T, B, H) and, when masked,
    out (T, B, H). z (B * 4H,) and hd (parts, B, H) are scratch; claims and
    done (T,) int64 zeros are the per-step counters, shared by the workers.
    """
    T = gates.shape[0]
    parts = bounds.shape[0] - 1
    for t in range(T):
        p = _claim(claims, t, parts, home)
        while p >= 0:
            _forward_part(t, bounds[p], bounds[p + 1], xc, Wq, bq, xwq, Uq, Ut, hs, cs, gates, ac, out,
                          mask, zero_output, act, ract, rmask, z, hd[p])
            fetch_add(done, t, 1)
            p = _claim(claims, t, parts, home)
        _wait(done, t, parts)


@njit(**NO_REFS)
def _take_dh(t, u0, u1, partial, dh, mask, rmask):
    """d h_t for units u0:u1 from the parts' products of step t+1 (rows that took step t+1)."""
    parts, B = partial.shape[0], partial.shape[1]
    n = u1 - u0
    for r in range(B):
        if mask.shape[0] > 0 and mask[t + 1, r] == 0:
            continue                                # a skipped step passes d h through untouched
        dhr = dh[r, u0:u1]
        first = partial[0, r, u0:u1]
        for j in range(n):
            dhr[j] = first[j]
        for q in range(1, parts):
            other = partial[q, r, u0:u1]
            for j in range(n):
                dhr[j] += other[j]
        if rmask.shape[0] > 0:
            mr = rmask[r, u0:u1]
            for j in range(n):
                dhr[j] *= mr[j]


@njit(**OPTIONS)
def _backward_part(t, p, u0, u1, dout, dh, dc, cs, gates, ac, Uq, UTt, mask, zero_output, act, ract, rmask,
                   dzq, d_repeat, partial, xc, dWq):
    """Step t backwards for units u0:u1: the cells' gradients, then part p's share of d h_{t-1}."""
    T, B, H = gates.shape[0], gates.shape[1], dh.shape[1]
    if t < T - 1:
        _take_dh(t, u0, u1, partial[(t + 1) % 2], dh, mask, rmask)
    dz = _block(dzq, T * B, u0, u1)                 # (T*B, 4n)
    _cells_backward(t, u0, u1, dz, dout, dh, dc, cs, gates, ac, mask, zero_output, act, ract, d_repeat,
                    xc, dWq)
    # (B, 4n) @ (4n, H): this part's term of d h_{t-1}; the parts' terms are summed by _take_dh.
    if UTt.shape[0] > 0:
        tiles.dot(dz[t * B:(t + 1) * B], UTt[H * 4 * u0:H * 4 * u1], partial[t % 2, p])
    else:                                           # the block's transpose: Fortran-ordered, read as it is
        dot(dz[t * B:(t + 1) * B], _block(Uq, H, u0, u1).T, partial[t % 2, p])


@njit(**NO_REFS)
def _cells_backward(t, u0, u1, dz, dout, dh, dc, cs, gates, ac, mask, zero_output, act, ract, d_repeat,
                    xc, dWq):
    """Step t's gate gradients for units u0:u1 and every row, into dz (T*B, 4n)."""
    B, H = gates.shape[1], dh.shape[1]
    n = u1 - u0
    for r in range(B):
        d = dz[t * B + r]
        drep, doutr = d_repeat[r, u0:u1], dout[t, r, u0:u1]
        if mask.shape[0] > 0 and mask[t, r] == 0:   # state passed through untouched
            cell.skipped(doutr, drep, d, zero_output)
            continue
        gi, gf, gg, go = _gates(gates[t, r], H, u0, u1)
        di, df, dg, do = _split(d, n)
        cell.backward(gi, gf, gg, go, ac[t, r, u0:u1], cs[t, r, u0:u1], dh[r, u0:u1], dc[r, u0:u1],
                      doutr, drep, di, df, dg, do, act, ract)
        if dWq.shape[0] > 0:
            add_outer(_block(dWq, xc.shape[1], u0, u1), xc[t * B + r], d)


@njit(nogil=True, **OPTIONS)
def backward_steps(home, dout, dh, dc, cs, gates, ac, Uq, UTt, bounds, mask, zero_output, act, ract, rmask,
                   dzq, d_repeat, partial, xc, dWq, claims, done):
    """One worker's share of the reverse time loop, each step cut in parts over the
    units as in `forward_steps`; `first_dh` then finishes d h_0.

    dout (T, B, H); dh, dc (B, H) in: d h_T, d c_T; out: d c_0. Uq is U packed
    as in `forward_steps`; UTt, the transposes of its blocks in the tiles' panels
    (`tile_blocks`), or empty for BLAS. Fills dzq, the packed pre-activation gradients
    (T*B, 4H). When dWq (D * 4H,) is not empty it starts at zero and receives
    W's packed gradient, summed row by row from xc (T*B, D). d_repeat (B, H)
    zeros, partial (2, parts, B, H) and the counters claims, done (T,) int64
    zeros are scratch, shared by the workers.
    """
    T = gates.shape[0]
    parts = bounds.shape[0] - 1
    for s in range(T):
        t = T - 1 - s
        p = _claim(claims, s, parts, home)
        while p >= 0:
            _backward_part(t, p, bounds[p], bounds[p + 1], dout, dh, dc, cs, gates, ac, Uq, UTt, mask,
                           zero_output, act, ract, rmask, dzq, d_repeat, partial, xc, dWq)
            fetch_add(done, s, 1)
            p = _claim(claims, s, parts, home)
        _wait(done, s, parts)


@njit(**OPTIONS)
def first_dh(bounds, partial, dh, mask, rmask):
    """dh (B, H) = d h_0, from the parts' products of step 0, once `backward_steps` is done."""
    for p in range(bounds.shape[0] - 1):
        _take_dh(-1, bounds[p], bounds[p + 1], partial[0], dh, mask, rmask)


@njit(nogil=True, **OPTIONS)
def project_part(p, xc, Wq, bq, bounds, xwq):
    """Part p's input projections for every step: xwq's block p (N, 4n) = xc (N, D) W_p + b_p."""
    N, D = xc.shape
    u0, u1 = bounds[p], bounds[p + 1]
    project(xc, _block(Wq, D, u0, u1), bq[4 * u0:4 * u1], _block(xwq, N, u0, u1))


@njit(nogil=True, **OPTIONS)
def weight_grads(p, xc, hprev, dzq, Wq, bounds, dW_done, dWq, dUq, dbq, dxq):
    """Part p's weight gradients from its block of dzq (N, 4n), N = T*B rows:
    dW_p (D, 4n) = xcᵀ dz_p unless dW_done, dU_p (H, 4n) = hprevᵀ dz_p, db_p the
    column sums, all packed; and, when dxq has rows, dxq[p] (N, D) = dz_p W_pᵀ,
    which the caller sums.
    """
    N, D = xc.shape
    H = hprev.shape[1]
    u0, u1 = bounds[p], bounds[p + 1]
    dz = _block(dzq, N, u0, u1)
    if not dW_done:
        project_back(xc, dz, _block(dWq, D, u0, u1))
    dot(hprev.T, dz, _block(dUq, H, u0, u1))
    db = dbq[4 * u0:4 * u1]
    db[:] = 0.0
    sum_rows(dz, db)
    if dxq.shape[0] > 0:
        dot(dz, _block(Wq, D, u0, u1).T, dxq[p])
