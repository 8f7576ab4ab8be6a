"""The input's side of the LSTM, for every timestep at once: x W + b forward, xᵀ dz backward.

Inputs with at most SPARSE_INPUT_SHARE non-zeros (one-hot characters: 1/V)
are multiplied row by row over their non-zeros: a lookup instead of a product.
"""
import numpy as np
from numba import njit

from .pointwise import FASTMATH

SPARSE_INPUT_SHARE = 0.25

OPTIONS = dict(cache=True, fastmath=FASTMATH, error_model="numpy")


@njit(**OPTIONS)
def rows(x, b0, b1):
    """x (T, B, D) -> its rows b0:b1 as one contiguous (T*n, D) block."""
    T, B, D = x.shape
    n = b1 - b0
    xc = np.empty((T * n, D), x.dtype)
    for t in range(T):
        for r in range(n):
            xc[t * n + r] = x[t, b0 + r]
    return xc


@njit(**OPTIONS)
def sparse(xc):
    return np.count_nonzero(xc) <= SPARSE_INPUT_SHARE * xc.size


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
    np.dot(xc, W, xw)
    for i in range(N):
        row = xw[i]
        for k in range(K):
            row[k] += b[k]


@njit(**OPTIONS)
def project_back(xc, dz, dW):
    """dW (D, K) = xc (N, D)ᵀ dz (N, K), skipping the zeros of a sparse xc."""
    if not sparse(xc):
        np.dot(xc.T, dz, dW)
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
