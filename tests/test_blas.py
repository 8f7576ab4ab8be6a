"""engine.blas.dot: the kernels' matrix product, against NumPy in float64, for every memory order."""
import itertools

import numpy as np
import pytest

from lstmlab.engine import blas

# gemm, gemv of one row or one column, and gemm on whole groups of GEMM_ROWS rows with a gemv per
# row left over (M = 3, 7, 9).
SHAPES = [(3, 4, 5), (64, 256, 512), (1, 7, 9), (1, 256, 1024), (6, 5, 1), (1, 3, 1), (2, 1, 3),
          (7, 33, 40), (9, 256, 64)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("M,K,N", SHAPES)
@pytest.mark.parametrize("orders", ["".join(o) for o in itertools.product("CF", repeat=3)])
def test_dot_equals_numpy_in_every_order(dtype, M, K, N, orders):
    """a, b and out each C- or Fortran-ordered; one row (gemv), one column (gemv) or a matrix (gemm)."""
    rng = np.random.default_rng(M * 100 + K * 10 + N)
    a = np.asarray(rng.standard_normal((M, K)), dtype, order=orders[0])
    b = np.asarray(rng.standard_normal((K, N)), dtype, order=orders[1])
    out = np.full((M, N), np.nan, dtype, order=orders[2])
    blas.dot(a, b, out)
    want = a.astype(np.float64) @ b.astype(np.float64)
    tol = 2e-6 * np.sqrt(K) if dtype == np.float32 else 1e-13 * np.sqrt(K)
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot_reads_and_writes_blocks_of_wider_arrays(dtype):
    """Row blocks and transposed blocks (leading dimension > width), as the kernels pass them."""
    rng = np.random.default_rng(1)
    big = rng.standard_normal((12, 20)).astype(dtype)
    out = np.zeros((10, 30), dtype)
    a, b = big[2:6, 3:9], big[:6, 10:17]                # strided rows: row-major with ld = 20
    blas.dot(a, b, out[1:5, 4:11])
    np.testing.assert_allclose(out[1:5, 4:11], a @ b, rtol=1e-5)
    assert not out[0].any() and not out[5:].any() and not out[:, :4].any() and not out[:, 11:].any()
    blas.dot(big[:6, :5].T, big[:6, 5:8], out[:5, :3])  # a transposed block: column-major, ld = 20
    np.testing.assert_allclose(out[:5, :3], big[:6, :5].T @ big[:6, 5:8], rtol=1e-5)
    wide = np.zeros((30, 10), dtype)                    # 7 rows: a gemm of 4, then 3 gemv rows
    blas.dot(big[:5, :7].T, big[5:10, :9], wide[2:11, 1:8].T)  # out a transposed block too
    np.testing.assert_allclose(wide[2:11, 1:8].T, big[:5, :7].T @ big[5:10, :9], rtol=1e-5)
    assert not wide[:2].any() and not wide[11:].any() and not wide[:, 8:].any()


def test_dot_of_empty_operands():
    out = np.full((3, 4), 7.0)
    blas.dot(np.ones((3, 0)), np.ones((0, 4)), out)      # K = 0: a sum of nothing
    assert (out == 0).all()
    blas.dot(np.ones((0, 2)), np.ones((2, 4)), np.empty((0, 4)))


def test_dot_refuses_what_it_cannot_compute():
    with pytest.raises(ValueError, match="shapes"):
        blas.dot(np.ones((3, 4)), np.ones((5, 2)), np.empty((3, 2)))
    with pytest.raises(ValueError, match="contiguous"):
        blas.dot(np.ones((6, 8))[::2, ::2], np.ones((4, 2)), np.empty((3, 2)))


def test_dot_refuses_dimensions_cblas_cannot_take():
    """CBLAS's dimensions are 32-bit: 2**31 rows is an error, not a wrapped-around size.
    (The rows are views of one element, refused before anything is read or written.)"""
    one = np.zeros(1)
    tall = np.lib.stride_tricks.as_strided(one, shape=(2**31, 1), strides=(0, 8))
    with pytest.raises(ValueError, match="32-bit"):
        blas.dot(tall, np.ones((1, 1)), np.lib.stride_tricks.as_strided(one, shape=(2**31, 1), strides=(0, 8)))


def test_product_copies_what_dot_cannot_read():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((9, 12))[::3, ::2], rng.standard_normal((6, 5))
    np.testing.assert_allclose(blas.product(a, b), a @ b, rtol=1e-12)


def test_the_library_is_lstmlabs_own_on_one_thread():
    """The kernels' OpenBLAS is not NumPy's or SciPy's, and runs one thread."""
    assert "scipy_openblas32" in blas.LIBRARY_PATH
    assert blas.LIBRARY.scipy_openblas_get_num_threads() == 1
