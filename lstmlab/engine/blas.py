"""The matrix products of the compiled kernels, on lstmlab's own single-threaded OpenBLAS.

`dot(a, b, out)` is `np.dot(a, b, out)` for 2-D float arrays in C or Fortran
order (transposed views and row blocks included), called from compiled code.
It runs on a copy of OpenBLAS that lstmlab loads for itself from the
`scipy-openblas32` wheel, for two reasons:

- Threads. The per-step products in the time loop are small, and the
  kernels' own threads already split the work; a multithreaded BLAS there
  leaves its workers spinning between calls, fighting the pointwise passes for
  the cores (measured: a 2-core forward pass 9x slower). This copy is set to
  one thread and nothing else in the process uses it, so NumPy's BLAS keeps
  all its threads and no other library's setting reaches the kernels.
- Speed. Numba's own np.dot calls the OpenBLAS that SciPy ships. On a 2-core
  AMD EPYC (Zen 3) VM, OpenBLAS 0.3.34 did the LSTM's per-step products
  1.2-1.5x faster than SciPy 1.17's 0.3.30, one thread each: (32, 64) @ (64, 256)
  in 15.8 µs against 23.4, (64, 256) @ (256, 512) in 202 µs against 251,
  (32, 256) @ (256, 1024) in 232 µs against 337.

The compiled code calls the library's CBLAS by a name of lstmlab's own
(`lstmlab_sgemm`, ...), registered with LLVM at import from the addresses
ctypes finds; Numba's on-disk cache keeps the name, not the address, so a
cached kernel links to this process's copy when it loads.
"""
import ctypes
import importlib.util
import os
import sys

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types

# CBLAS's constants; its dimensions are 32-bit ints.
ROW_MAJOR, COL_MAJOR = 101, 102
NO_TRANS, TRANS = 111, 112
INT32_MAX = 2**31 - 1

_PACKAGE = "scipy_openblas32"
_PREFIX = "scipy_"                  # the wheel's symbols: scipy_cblas_sgemm, ...


def _library_path():
    """The wheel's shared library, found without importing the package: its
    __init__ loads the library RTLD_GLOBAL, which would let its symbols stand in
    for SciPy's own OpenBLAS, whose functions have the same names."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"lstmlab's engine needs the {_PACKAGE.replace('_', '-')} package (its own copy of OpenBLAS) "
            f"and it is not installed. Install it with: pip install {_PACKAGE.replace('_', '-')}"
        )
    lib_dir = os.path.join(spec.submodule_search_locations[0], "lib")
    suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
    names = sorted(n for n in os.listdir(lib_dir) if n.endswith(suffix) and "openblas" in n)
    if not names:
        raise ImportError(f"No OpenBLAS library ({suffix}) in {lib_dir}: reinstall {_PACKAGE}.")
    return os.path.join(lib_dir, names[0])


def _load():
    """Load the library on one thread and register its CBLAS functions under lstmlab's names."""
    path = _library_path()
    # OpenBLAS sizes its thread pool from the environment when it loads: ask for
    # none, so that no idle pool thread is started for a copy that never uses it.
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        lib = ctypes.CDLL(path)
    finally:
        if saved is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved
    getattr(lib, _PREFIX + "openblas_set_num_threads")(1)
    for name in ("sgemm", "dgemm", "sgemv", "dgemv"):
        address = ctypes.cast(getattr(lib, f"{_PREFIX}cblas_{name}"), ctypes.c_void_p).value
        llvm.add_symbol(f"lstmlab_{name}", address)
    return lib, path


LIBRARY, LIBRARY_PATH = _load()


def _cblas(name, t):
    """The compiled code's handle on lstmlab_<name>: CBLAS's gemm or gemv at float type t.
    Pointers travel as intp, the integer register they are passed in."""
    i, p = types.int32, types.intp
    if name.endswith("gemm"):   # order, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc
        args = (i, i, i, i, i, i, t, p, i, p, i, t, p, i)
    else:                       # order, trans, M, N, alpha, A, lda, x, incx, beta, y, incy
        args = (i, i, i, i, t, p, i, p, i, t, p, i)
    return types.ExternalFunction(f"lstmlab_{name}", types.void(*args))


_sgemm, _dgemm = _cblas("sgemm", types.float32), _cblas("dgemm", types.float64)
_sgemv, _dgemv = _cblas("sgemv", types.float32), _cblas("dgemv", types.float64)

OPTIONS = dict(cache=True, error_model="numpy")

# gemm multiplies rows in groups of this many; `dot` hands the rows left over
# (M % GEMM_ROWS) to gemv, one call each. Measured, one thread, OpenBLAS 0.3.34 on
# a Zen 3 VM, (M, 256) @ (256, 1024) float32: gemm 90 µs at M=2 and 129 µs at
# M=3 against 35 and 52 µs as gemv rows, 115 against 92 µs at M=5 (4 + 1), and
# no slower at any M from 1 to 35; (M, 64) @ (64, 256): 3.9 against 1.8 µs at M=2.
GEMM_ROWS = 4


@njit(inline="always", **OPTIONS)
def _storage(m, n, s0, s1, item):
    """(order, leading dimension) of an (m, n) matrix with strides (s0, s1) in bytes whose
    rows or columns are contiguous: ROW_MAJOR when a row is (a row block of a C array, a
    Fortran array's transpose), COL_MAJOR when a column is; (0, 0) when neither is."""
    if n == 1 or s1 == item:
        return ROW_MAJOR, max(s0 // item, n, 1)
    if m == 1 or s0 == item:
        return COL_MAJOR, max(s1 // item, m, 1)
    return 0, 0


@njit(inline="always", **OPTIONS)
def usable(a):
    """True when `dot` can read or write a as it is (its rows or its columns contiguous)."""
    return _storage(a.shape[0], a.shape[1], a.strides[0], a.strides[1], a.itemsize)[0] != 0


@njit(**OPTIONS)
def dot(a, b, out):
    """out (M, N) = a (M, K) @ b (K, N), float32 or float64, all three of one type.

    Each operand may be row-major or column-major (a transposed view), with a
    leading dimension larger than its width (a block of a wider array). A
    single output row (M = 1) or column (N = 1) is a matrix-vector product:
    OpenBLAS's gemm does not hand those to its gemv, which is 3-4x faster at
    (1, 256) @ (256, 1024). So are the rows past the last whole group of
    GEMM_ROWS (M = 2, 3, 5, ...).

    Numba compiles `dot` once for each combination of the operands' layouts (C, F,
    or any); it only reads their shapes, strides and addresses, and `_dot`, which
    does the work on those integers, is compiled once.
    """
    _product(a, b, out, 0.0)


@njit(**OPTIONS)
def dot_add(a, b, out):
    """out (M, N) += a (M, K) @ b (K, N): `dot` that adds to what out holds (BLAS's beta = 1),
    for sums of products taken block by block."""
    _product(a, b, out, 1.0)


@njit(inline="always", **OPTIONS)
def _product(a, b, out, beta):
    """out = a @ b + beta out, beta 0 or 1, for `dot` and `dot_add`."""
    M, K = a.shape
    N = b.shape[1]
    if b.shape[0] != K or out.shape[0] != M or out.shape[1] != N:
        raise ValueError("dot: the shapes of a (M, K), b (K, N) and out (M, N) do not match")
    if K == 0:
        if beta == 0.0:
            for r in range(M):
                for k in range(N):
                    out[r, k] = 0.0
        return
    _dot(M, N, K, out.itemsize, a.ctypes.data, a.strides[0], a.strides[1], b.ctypes.data, b.strides[0],
         b.strides[1], out.ctypes.data, out.strides[0], out.strides[1], beta)


@njit(**OPTIONS)
def _dot(M, N, K, item, pa, a0, a1, pb, b0, b1, po, o0, o1, beta):
    """`dot` (beta 0) or `dot_add` (beta 1) on the operands' addresses and strides (in bytes), K > 0."""
    if M == 0 or N == 0:
        return
    sa, lda = _storage(M, K, a0, a1, item)
    sb, ldb = _storage(K, N, b0, b1, item)
    so, ldo = _storage(M, N, o0, o1, item)
    if sa == 0 or sb == 0 or so == 0:
        raise ValueError("dot: every operand needs its rows or its columns contiguous")
    if max(M, N, K, lda, ldb, ldo) > INT32_MAX:
        raise ValueError("dot: CBLAS takes dimensions as 32-bit ints; split the product in row blocks")
    if M == 1:          # out's row (N,) = b^T (a's row): b (K, N) transposed, in its own order
        inc_a = a1 // item if K > 1 else 1
        inc_o = o1 // item if N > 1 else 1
        _gemv(item, sb, TRANS, K, N, pb, ldb, pa, inc_a, beta, po, inc_o)
    elif N == 1:        # out's column (M,) = a (M, K) (b's column)
        inc_b = b0 // item if K > 1 else 1
        _gemv(item, sa, NO_TRANS, M, K, pa, lda, pb, inc_b, beta, po, o0 // item)
    else:               # out's order is the call's; an operand stored the other way is transposed
        ta = NO_TRANS if sa == so else TRANS
        tb = NO_TRANS if sb == so else TRANS
        whole = M - M % GEMM_ROWS
        if whole > 0:
            if item == 4:
                _sgemm(so, ta, tb, whole, N, K, 1.0, pa, lda, pb, ldb, beta, po, ldo)
            else:
                _dgemm(so, ta, tb, whole, N, K, 1.0, pa, lda, pb, ldb, beta, po, ldo)
        inc_a = a1 // item if K > 1 else 1
        inc_o = o1 // item
        for r in range(whole, M):                   # the rows left over: one gemv each
            _gemv(item, sb, TRANS, K, N, pb, ldb, pa + r * a0, inc_a, beta, po + r * o0, inc_o)


@njit(inline="always", **OPTIONS)
def _gemv(item, order, trans, m, n, pa, lda, px, incx, beta, py, incy):
    """y = op(A) x + beta y for an m x n matrix A stored in `order`, at the float type of `item` bytes."""
    if item == 4:
        _sgemv(order, trans, m, n, 1.0, pa, lda, px, incx, beta, py, incy)
    else:
        _dgemv(order, trans, m, n, 1.0, pa, lda, px, incx, beta, py, incy)


@njit(**OPTIONS)
def product(a, b):
    """a (M, K) @ b (K, N) -> a new C-ordered (M, N) array, through `dot`."""
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    dot(a if usable(a) else np.ascontiguousarray(a), b if usable(b) else np.ascontiguousarray(b), out)
    return out
