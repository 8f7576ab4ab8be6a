"""engine.tiles: the packed float32 products of the batch split's time loops, against NumPy in float64."""
import numba
import numpy as np
import pytest

from lstmlab import engine
from lstmlab.engine import reference as ref
from lstmlab.engine import tiles

# Every tile height (1-6 rows, and rows cut in several blocks: 7 = 3 + 4, 13 = 4 + 4 + 5),
# full 16-column panels and an 8-column last panel, K from 1 up; the LSTM's own shapes at
# 64 units.
SHAPES = [(1, 1, 8), (2, 3, 16), (5, 7, 24), (6, 1, 40), (7, 64, 256), (13, 10, 8), (32, 64, 256),
          (32, 256, 64), (17, 33, 72)]


def _tol(K):
    return 2e-6 * np.sqrt(K)


@pytest.mark.parametrize("M,K,N", SHAPES)
def test_dot_equals_numpy(M, K, N):
    rng = np.random.default_rng(M * 1000 + K * 10 + N)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    out = np.full((M, N), np.nan, np.float32)
    tiles.dot(a, tiles.packed_or_none(b), out)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=_tol(K), atol=_tol(K))


@pytest.mark.parametrize("M", [7, 13, 32, 64])
def test_a_rows_product_does_not_depend_on_the_rows_around_it(M):
    # How the rows are cut in blocks changes with M; each output still sums its own
    # row's products in the same order, so a share of the batch gets the same bits.
    rng = np.random.default_rng(M)
    a = rng.standard_normal((M, 64)).astype(np.float32)
    packed = tiles.packed_or_none(rng.standard_normal((64, 256)).astype(np.float32))
    out, row = np.empty((M, 256), np.float32), np.empty((1, 256), np.float32)
    tiles.dot(a, packed, out)
    for r in range(M):
        tiles.dot(a[r:r + 1], packed, row)
        np.testing.assert_array_equal(out[r], row[0])


def test_dot_reads_and_writes_row_blocks_of_wider_arrays():
    """a and out as the time loops pass them: rows b0:b1 of a (T, B, H) array's step."""
    rng = np.random.default_rng(3)
    hs = rng.standard_normal((4, 11, 20)).astype(np.float32)
    b = rng.standard_normal((9, 24)).astype(np.float32)
    out = np.zeros((11, 40), np.float32)
    a = hs[2, 3:10, 5:14]                                   # (7, 9), row stride 20
    tiles.dot(a, tiles.packed_or_none(b), out[2:9, 8:32])
    np.testing.assert_allclose(out[2:9, 8:32], a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)
    assert not out[:2].any() and not out[9:].any() and not out[:, :8].any() and not out[:, 32:].any()


def test_empty_products():
    tiles.dot(np.zeros((0, 4), np.float32), tiles.packed_or_none(np.ones((4, 8), np.float32)), np.zeros((0, 8), np.float32))
    out = np.full((3, 16), np.nan, np.float32)
    tiles.dot(np.zeros((3, 0), np.float32), np.zeros(0, np.float32), out)
    assert not out.any()


def test_packing_is_panels_of_16_columns_then_8():
    """Each panel's K rows of its columns one after another, starting on a cache line."""
    K, N = 3, 40
    b = np.arange(K * N, dtype=np.float32).reshape(K, N)
    p = tiles.packed_or_none(b)
    assert p.ctypes.data % 64 == 0
    want = np.concatenate([b[:, 0:16].ravel(), b[:, 16:32].ravel(), b[:, 32:40].ravel()])
    np.testing.assert_array_equal(p, want)


@pytest.mark.parametrize("b", [np.ones((4, 8)), np.ones((4, 12), np.float32), np.ones((0, 8), np.float32)],
                         ids=["float64", "12 columns", "no rows"])
def test_products_the_tiles_cannot_run_are_left_to_blas(b):
    assert tiles.packed_or_none(b).shape == (0,)


def test_bad_operands_are_refused_with_the_reason():
    a, p = np.ones((3, 4), np.float32), tiles.packed_or_none(np.ones((4, 8), np.float32))
    with pytest.raises(ValueError, match="do not match"):
        tiles.dot(a, p, np.zeros((3, 16), np.float32))
    with pytest.raises(ValueError, match="float32"):
        tiles.dot(a.astype(np.float64), p.astype(np.float64), np.zeros((3, 8)))
    with pytest.raises(ValueError, match="contiguous"):
        tiles.dot(np.ones((4, 3), np.float32).T, p, np.zeros((3, 8), np.float32))


def _assert_float32_agrees_with_reference(rng, x, H):
    """engine.forward and backward in float32 on x (B, T, D) and random weights of H units,
    against the NumPy twin in float64."""
    B, T, D = x.shape
    W, U, b = (rng.normal(size=s) * 0.5 for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    h0, c0 = rng.normal(size=(B, H)) * 0.5, rng.normal(size=(B, H)) * 0.5
    f32 = [v.astype(np.float32) for v in (x, W, U, b, h0, c0)]
    out, h, c, cache = engine.forward(*f32)
    want = ref.forward(x, W, U, b, h0, c0)
    for got, w in zip((out, h, c), want[:3]):
        np.testing.assert_allclose(got, w, rtol=1e-4, atol=2e-5)
    d, dh, dc = rng.normal(size=out.shape), rng.normal(size=h.shape), rng.normal(size=c.shape)
    grads = engine.backward(d.astype(np.float32), dh.astype(np.float32), dc.astype(np.float32), cache)
    for got, w in zip(grads, ref.backward(d, dh, dc, want[3])):
        np.testing.assert_allclose(got, w, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(w).max()))


@pytest.mark.parametrize("B,H", [(7, 8), (64, 16), (3, 6)])
def test_float32_kernels_on_the_tiles_agree_with_the_float64_reference(B, H):
    """Forward (4H columns) and backward (H columns: H = 6 leaves Uᵀ's product to BLAS) in float32,
    against the NumPy twin in float64; one-hot inputs as in a character model."""
    rng = np.random.default_rng(B + H)
    T, D = 9, 5
    _assert_float32_agrees_with_reference(rng, np.eye(D)[rng.integers(0, D, (B, T))], H)


@pytest.mark.parametrize("B", [1, 4])
def test_the_unit_split_on_the_tiles_agrees_with_the_float64_reference(monkeypatch, B):
    """Each step cut in parts over the units, each part's block of U on the tiles (B > 1;
    one row goes to BLAS's matrix-vector product)."""
    from lstmlab.engine import kernels
    monkeypatch.setattr(kernels, "UNITS_PER_PART", 1)
    monkeypatch.setattr(kernels, "UNITS_PER_BATCH_ROW", 0)
    monkeypatch.setattr(kernels, "PARALLEL_MIN_CELLS", 1)
    rng = np.random.default_rng(B)
    T, D, H = 7, 3, 16
    if numba.get_num_threads() < 2:
        pytest.skip("the unit split needs two threads")
    assert kernels._plan(B, H)[0] == "units"
    _assert_float32_agrees_with_reference(rng, rng.normal(size=(B, T, D)) * 0.5, H)


@pytest.mark.parametrize("transposed", [False, True])
def test_unit_split_blocks_are_packed_in_place_as_panels(transposed):
    from lstmlab.engine import units
    H, parts = 16, 2
    A = np.arange(H * 4 * H, dtype=np.float32).reshape(H, 4 * H)
    flat, bounds = units.pack(A, H, parts), units.bounds(H, parts)
    got = units.tile_blocks(flat, H, bounds, transposed, 2)
    for p in range(parts):
        u0, u1 = bounds[p], bounds[p + 1]
        block = flat[H * 4 * u0:H * 4 * u1].reshape(H, 4 * (u1 - u0))
        np.testing.assert_array_equal(got[H * 4 * u0:H * 4 * u1], tiles.packed_or_none(block.T if transposed else block))
    assert units.tile_blocks(flat.astype(np.float64), H, bounds, transposed, 2).shape == (0,)
    assert units.tile_blocks(flat, H, bounds, transposed, 1).shape == (0,)   # one row: BLAS
