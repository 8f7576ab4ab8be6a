"""The input's side of the LSTM: x W + b forward, xᵀ dz backward.

Inputs whose every row has one non-zero (one-hot characters, or one feature)
are read once into the column and value of each row's non-zero (`one_hot`),
and each step adds that row of W (`add_row`, `add_row_outer`): no scan of the
row's D values at every use. Other inputs with at most SPARSE_INPUT_SHARE
non-zeros are multiplied row by row over their non-zeros: a lookup instead of
a product.
Such inputs, and narrow ones, are added inside the time loop, row by row
(`add_input`, `add_outer`); wide dense ones are projected for every timestep
at once by BLAS before the loop (`project`) and after it (`project_back`).
"""
import numpy as np
from numba import njit

from .blas import dot
from .pointwise import FASTMATH, NO_REFS

SPARSE_INPUT_SHARE = 0.25

OPTIONS = dict(cache=True, fastmath=FASTMATH, error_model="numpy")


@njit(inline="always", **OPTIONS)
def copy(dst, src):
    """dst (n,) = src (n,). Numba's `dst[:] = src` goes through its general
    broadcasting copy, 6x slower than this loop on a row of 256 (170 vs 28 ns),
    which adds up over the T*B rows of a call."""
    for j in range(dst.shape[0]):
        dst[j] = src[j]


@njit(**NO_REFS)
def all_zero(a):
    """True when a (n, H) holds only zeros (a NaN is not one): a state h_0 whose product with
    U need not be computed. Counting rather than returning at the first non-zero lets the
    loop vectorise; the count stops mattering after one."""
    found = 0
    for r in range(a.shape[0]):
        row = a[r]
        for j in range(row.shape[0]):
            found += row[j] != 0.0
    return found == 0


@njit(**NO_REFS)
def sum_rows(a, total):
    """total (K,) += the sum of a (N, K)'s rows: a bias's gradient from its rows of dz."""
    for i in range(a.shape[0]):
        ai = a[i]
        for k in range(total.shape[0]):
            total[k] += ai[k]


@njit(**OPTIONS)
def rows(x, b0, b1):
    """x (T, B, D) -> its rows b0:b1 as one contiguous (T*n, D) block."""
    T, B, D = x.shape
    xc = np.empty((T * (b1 - b0), D), x.dtype)
    _rows_into(x, b0, xc)
    return xc


@njit(**NO_REFS)
def _rows_into(x, b0, xc):
    T = x.shape[0]
    n = xc.shape[0] // T
    for t in range(T):
        for r in range(n):
            copy(xc[t * n + r], x[t, b0 + r])


@njit(**OPTIONS)
def sparse(xc):
    """True when at most SPARSE_INPUT_SHARE of xc (N, D)'s values are non-zero (NaN counts)."""
    nonzero = 0
    for i in range(xc.shape[0]):
        for d in range(xc.shape[1]):
            nonzero += xc[i, d] != 0.0
    return nonzero <= SPARSE_INPUT_SHARE * xc.size


@njit(**OPTIONS)
def project(xc, W, b, xw):
    """xw (N, K) = xc (N, D) W (D, K) + b: one BLAS product, or a lookup for a sparse xc."""
    N, D = xc.shape
    K = W.shape[1]
    if sparse(xc):
        for i in range(N):
            row = xw[i]
            for k in range(K):
                row[k] = b[k]
            for d in range(D):
                v = xc[i, d]
                if v != 0.0:
                    Wd = W[d]
                    for k in range(K):
                        row[k] += v * Wd[k]
        return
    dot(xc, W, xw)
    for i in range(N):
        row = xw[i]
        for k in range(K):
            row[k] += b[k]


@njit(**OPTIONS)
def project_back(xc, dz, dW):
    """dW (D, K) = xc (N, D)ᵀ dz (N, K), skipping the zeros of a sparse xc."""
    if not sparse(xc):
        dot(xc.T, dz, dW)
        return
    N, D = xc.shape
    dW[...] = 0.0
    for i in range(N):
        for d in range(D):
            v = xc[i, d]
            if v != 0.0:
                row, g = dW[d], dz[i]
                for k in range(row.shape[0]):
                    row[k] += v * g[k]


# Up to this many input features, a dense input is also added inside the time
# loop (D multiply-adds per gate) rather than projected ahead into a
# (T*B, 4H) array that is written once and read back once: at these sizes the
# array's trip through memory costs more than the arithmetic.
INLINE_MAX_FEATURES = 8


@njit(**OPTIONS)
def inline(xc):
    """True when the kernels add x_t W inside the time loop: sparse or narrow inputs."""
    return xc.shape[1] <= INLINE_MAX_FEATURES or sparse(xc)


# W[d, k] rather than a row view W[d]: a view made under the branch holds a
# reference to W (an atomic increment and decrement, shared by every thread),
# which made these loops 3x slower (190 vs 68 ns for a one-hot row of 256).
@njit(inline="always", **OPTIONS)
def add_input(g, zb, xr, W, b):
    """g (K,) = zb + b + xr (D,) W (D, K), skipping xr's zeros: one row of one step."""
    for k in range(g.shape[0]):
        g[k] = zb[k] + b[k]
    for d in range(xr.shape[0]):
        v = xr[d]
        if v != 0.0:
            for k in range(g.shape[0]):
                g[k] += v * W[d, k]


@njit(inline="always", **OPTIONS)
def add_outer(dW, xr, dz):
    """dW (D, K) += xr (D,)ᵀ dz (K,), skipping xr's zeros: one row's share of W's gradient."""
    for d in range(xr.shape[0]):
        v = xr[d]
        if v != 0.0:
            for k in range(dz.shape[0]):
                dW[d, k] += v * dz[k]


@njit(**NO_REFS)
def one_hot(x, b0, ids, vals):
    """True when every row b0:b0+n of x (T, B, D) has exactly one non-zero; then ids, vals (T*n,)
    hold its column and value, row t*n + r for x[t, b0 + r]. False at the first row that has not.

    The count and the column are integer sums over the row with no branch, which vectorise
    (a float sum would not: the kernels do not let LLVM reorder float additions); the value
    is then read at the column. Sums in int64 rather than int32: measured on a 2-core Zen 3
    VM, `time_major_one_hot` over 32 rows of a W4 batch took 66.6 against 80.4 µs.
    """
    T, D = x.shape[0], x.shape[2]
    n = ids.shape[0] // T
    for t in range(T):
        for r in range(n):
            row = x[t, b0 + r]
            count, col = 0, 0
            for d in range(D):
                nz = row[d] != 0.0
                count += nz
                col += d * nz
            if count != 1:
                return False
            ids[t * n + r] = col
            vals[t * n + r] = row[col]
    return True


@njit(**NO_REFS)
def time_major_one_hot(xb, b0, b1, x, ids, vals):
    """x[:, b0:b1] = xb[b0:b1] transposed: batch rows b0:b1 of xb (B, T, D) into x (T, B, D),
    and, in the same pass, `one_hot`'s scan: -> True when every row has one non-zero, its
    column and value then in ids, vals (T*n,), row t*n + r for x[t, b0 + r].

    One pass over the rows instead of a copy and a scan of the copy (measured, with int32
    sums: 81 against 119 µs for 32 rows of a W4 batch, T=100, D=60). After the first row
    with another count the rest are only copied.
    """
    T, D = x.shape[0], x.shape[2]
    n = b1 - b0
    found = True
    for r in range(n):
        for t in range(T):
            src, dst = xb[b0 + r, t], x[t, b0 + r]
            if not found:
                copy(dst, src)
                continue
            count, col = 0, 0
            for d in range(D):
                v = src[d]
                dst[d] = v
                nz = v != 0.0
                count += nz
                col += d * nz
            if count != 1:
                found = False
                continue
            ids[t * n + r] = col
            vals[t * n + r] = src[col]
    return found


@njit(inline="always", **OPTIONS)
def add_row(g, zb, W, d, v, b):
    """g (K,) = zb + b + v W[d]: `add_input` for a row whose one non-zero is v, at column d.
    One pass, summed in add_input's order: (zb + b) first, then v W[d] (a fused multiply-add)."""
    for k in range(g.shape[0]):
        g[k] = (zb[k] + b[k]) + v * W[d, k]


@njit(inline="always", **OPTIONS)
def add_row_outer(dW, d, v, dz):
    """dW[d] += v dz (K,): `add_outer` for a row whose one non-zero is v, at column d."""
    for k in range(dz.shape[0]):
        dW[d, k] += v * dz[k]
