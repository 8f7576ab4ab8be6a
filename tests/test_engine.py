"""The Numba engine against its NumPy twin (1e-12, float64), and the twin against calculus."""
import numba
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from lstmlab import engine
from lstmlab.engine import reference as ref

from gradcheck import assert_grads

ACTS = ["tanh", "sigmoid", "hard_sigmoid", "relu", "linear"]


def make(rng, B, T, D, H, scale=0.5, dtype=np.float64):
    """Random x (B, T, D), W (D, 4H), U (H, 4H), b (4H,), h0, c0 (B, H)."""
    n = lambda *s: (rng.normal(size=s) * scale).astype(dtype)
    return dict(x=n(B, T, D), W=n(D, 4 * H), U=n(H, 4 * H), b=n(4 * H), h0=n(B, H), c0=n(B, H))


@st.composite
def cases(draw):
    B, T = draw(st.integers(1, 5)), draw(st.integers(1, 8))
    D, H = draw(st.integers(1, 6)), draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    p = make(rng, B, T, D, H, scale=draw(st.sampled_from([0.1, 1.0, 4.0])))
    kw = {}
    if draw(st.booleans()):
        kw["mask"] = rng.random((B, T)) > 0.4
        kw["zero_output"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["rmask"] = (rng.random((B, H)) > 0.3) / 0.7
    kw["activation"] = draw(st.sampled_from(ACTS))
    kw["recurrent_activation"] = draw(st.sampled_from(ACTS))
    return p, kw, rng


@settings(max_examples=60, deadline=None)
@given(cases())
def test_numba_equals_reference(case):
    p, kw, rng = case
    args = (p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    with np.errstate(all="ignore"):
        slow = ref.forward(*args, **kw)
        dout = rng.normal(size=slow[0].shape)
        dh, dc = rng.normal(size=slow[1].shape), rng.normal(size=slow[2].shape)
        slow_grads = ref.backward(dout, dh, dc, slow[3])
    # relu and linear cells can grow without bound; such runs say nothing about the kernels.
    assume(all(np.isfinite(a).all() and np.abs(a).max() < 1e6 for a in (*slow[:3], *slow_grads)))
    fast = engine.forward(*args, **kw)
    for a, b in zip(fast[:3], slow[:3]):
        close(a, b)
    for name in ("hs", "cs", "gates", "ac"):
        close(getattr(fast[3], name), getattr(slow[3], name))
    # A gradient sums terms that can be far larger than the sum (unbounded relu cells, weights
    # of scale 4): summed in another order, it moved by 1.2e-12 of its scale in one example.
    for a, b in zip(engine.backward(dout, dh, dc, fast[3]), slow_grads):
        close(a, b, tol=1e-11)


def close(a, b, tol=1e-12):
    """Agreement to `tol` relative to the array's scale (1 at least)."""
    np.testing.assert_allclose(a, b, rtol=0, atol=tol * max(1.0, float(np.abs(b).max(initial=0))))


@settings(max_examples=30, deadline=None)
@given(cases())
def test_step_equals_one_timestep_of_forward(case):
    p, kw, _ = case
    act = dict(activation=kw["activation"], recurrent_activation=kw["recurrent_activation"])
    args = (p["W"], p["U"], p["b"], p["h0"], p["c0"])
    out, h, c, _ = ref.forward(p["x"][:, :1], *args, **act)
    for fn in (engine.step, ref.step):
        h1, c1 = fn(p["x"][:, 0], *args, **act)
        np.testing.assert_allclose(h1, h, atol=1e-12)
        np.testing.assert_allclose(c1, c, atol=1e-12)


@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_split_step_equals_the_reference(B, parts):
    """step_into with its product h U split in row ranges of U (split_step.py), whatever the
    number of parts and of threads: the reference's step to 1e-12 in float64, 2e-6 in float32."""
    from lstmlab.engine import kernels
    rng = np.random.default_rng(B * 10 + parts)
    H, D = 256, 5
    p = make(rng, B, 1, D, H, scale=0.2)
    want_h, want_c = ref.step(p["x"][:, 0], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-6)):
        a = {k: np.ascontiguousarray(v[:, 0] if k == "x" else v, dtype) for k, v in p.items()}
        act, ract = kernels.codes("tanh", "sigmoid", dtype)
        z, hU = np.empty((B, 4 * H), dtype), np.empty((parts, B, 4 * H), dtype)
        h, c = np.empty((B, H), dtype), np.empty((B, H), dtype)
        kernels.step_into(a["x"], a["W"], a["U"], a["b"], a["h0"], a["c0"], act, ract, z, hU, h, c)
        np.testing.assert_allclose(h, want_h, rtol=0, atol=tol)
        np.testing.assert_allclose(c, want_c, rtol=0, atol=tol)


def test_a_fresh_process_steps_on_the_cached_kernels():
    """step_into calls a parallel kernel: loaded from Numba's cache in a new process, it must
    run (the threading layer is started first, split_step.py), split or not."""
    import subprocess
    import sys
    code = ("import numpy as np; from lstmlab import engine\n"
            "for H in (6, 256):\n"
            "    x, W, U = np.ones((1, 2)), np.ones((2, 4 * H)) / H, np.ones((H, 4 * H)) / H\n"
            "    h, c = engine.step(x, W, U, np.zeros(4 * H), np.zeros((1, H)), np.zeros((1, H)))\n"
            "    assert np.isfinite(h).all()\n"
            "print('stepped')")
    for _ in range(2):                              # the second process loads what the first cached
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0 and "stepped" in run.stdout, run.stderr[-2000:]


def test_single_steps_split_their_product_from_256_units_at_small_batches():
    """engine.step and streams split h U over the threads (at most one part per 128 rows of U)."""
    from lstmlab.engine import kernels
    threads = numba.get_num_threads()
    assert kernels.step_parts(1, 128) == 1
    assert kernels.step_parts(kernels.STEP_SPLIT_MAX_ROWS + 1, 256) == 1
    assert kernels.step_parts(1, 256) == min(threads, 2)
    assert kernels.step_parts(kernels.STEP_SPLIT_MAX_ROWS, 1024) == min(threads, 8)
    assert kernels.step_scratch(2, 256, np.float32).shape == (1 + min(threads, 2), 2, 1024)


@pytest.mark.parametrize("fwd,bwd", [(ref.forward, ref.backward), (engine.forward, engine.backward)])
@pytest.mark.parametrize("kw", [
    {},
    {"mask": "random"},
    {"mask": "random", "zero_output": True},
    {"rmask": True},
    {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
    {"scale": 6.0},       # saturated gates: sigmoid and tanh near 0 and 1
])
def test_gradients_by_finite_differences(fwd, bwd, kw):
    kw = dict(kw)
    rng = np.random.default_rng(7)
    B, T, D, H = 2, 4, 3, 3
    p = make(rng, B, T, D, H, scale=kw.pop("scale", 0.7))
    if kw.get("mask") == "random":
        kw["mask"] = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], bool)
    if kw.get("rmask"):
        kw["rmask"] = (rng.random((B, H)) > 0.3) / 0.7
    if kw.get("recurrent_activation") == "hard_sigmoid":
        # Keep pre-activations off the kinks at +-3 where the derivative jumps.
        p = {k: v * 0.3 for k, v in p.items()}
    dout, dh, dc = rng.normal(size=(B, T, H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))

    def loss():
        out, h, c, _ = fwd(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"], **kw)
        return (out * dout).sum() + (h * dh).sum() + (c * dc).sum()

    out, h, c, cache = fwd(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"], **kw)
    dx, dW, dU, db, dh0, dc0 = bwd(dout, dh, dc, cache)
    assert_grads(loss, p, dict(x=dx, W=dW, U=dU, b=db, h0=dh0, c0=dc0), tol=1e-6)


def test_saturated_gates_really_saturate():
    rng = np.random.default_rng(3)
    p = make(rng, 2, 5, 3, 4, scale=6.0)
    _, _, _, cache = engine.forward(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    g = cache.gates[..., :4]
    assert ((g < 1e-3) | (g > 1 - 1e-3)).mean() > 0.3


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    p = make(rng, 3, 4, 2, 5, dtype=np.float32)
    out, h, c, cache = engine.forward(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    assert out.dtype == h.dtype == c.dtype == cache.gates.dtype == np.float32
    grads = engine.backward(np.ones_like(out), np.zeros_like(h), np.zeros_like(c), cache)
    assert all(g.dtype == np.float32 for g in grads)
    ref_out = ref.forward(*(p[k].astype(np.float64) for k in ("x", "W", "U", "b", "h0", "c0")))[0]
    np.testing.assert_allclose(out, ref_out, atol=1e-5)


@pytest.mark.parametrize("how", ["batch", "units"])
@pytest.mark.parametrize("B,H,masked", [(16, 8, False), (5, 8, True), (4, 7, True), (1, 9, False)])
def test_parallel_paths_equal_serial_and_reference(monkeypatch, how, B, H, masked):
    """Threads split the batch rows, or each step's units (odd counts too); same numbers either way."""
    from lstmlab.engine import kernels
    rng = np.random.default_rng(1)
    p = make(rng, B, 5, 3, H)
    args = (p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    kw = {}
    if masked:
        kw = {"mask": rng.random((B, 5)) > 0.3, "rmask": (rng.random((B, H)) > 0.3) / 0.7,
              "zero_output": H % 2 == 1}
    serial = engine.forward(*args, **kw)
    monkeypatch.setattr(kernels, "PARALLEL_MIN_CELLS", 1)
    monkeypatch.setattr(kernels, "UNITS_PER_PART", 1 if how == "units" else 10**9)
    monkeypatch.setattr(kernels, "UNITS_PER_BATCH_ROW", 0)
    threads = numba.get_num_threads()
    want = ("rows", 1) if threads < 2 or (how == "batch" and B < 2) else (how, threads if how == "units" else min(threads, B))
    assert kernels._plan(B, H) == want
    par = engine.forward(*args, **kw)
    slow = ref.forward(*args, **kw)
    for a, b, c in zip(par[:3], serial[:3], slow[:3]):
        np.testing.assert_allclose(a, b, atol=1e-12)
        np.testing.assert_allclose(a, c, atol=1e-12)
    d = rng.normal(size=serial[0].shape)
    dh, dc = rng.normal(size=serial[1].shape), rng.normal(size=serial[2].shape)
    for a, b, c in zip(engine.backward(d, dh, dc, par[3]), engine.backward(d, dh, dc, serial[3]),
                       ref.backward(d, dh, dc, slow[3])):
        np.testing.assert_allclose(a, b, atol=1e-12)
        np.testing.assert_allclose(a, c, atol=1e-12)


@pytest.mark.parametrize("rmask", [False, True])
@pytest.mark.parametrize("how", ["batch", "units"])
def test_a_zero_initial_state_skips_step_0s_products_and_changes_nothing(monkeypatch, how, rmask):
    """h_0 = 0 in some threads' rows and not in others' (split by rows), or in all (split by
    units): the rows starting at zero skip h_0 U (and, split by rows, their step 0 in dU),
    and agree with the reference all the same."""
    from lstmlab.engine import kernels
    rng = np.random.default_rng(11)
    B, T, H = 6, 5, 8
    p = make(rng, B, T, 3, H)
    p["h0"][:3 if how == "batch" else B] = 0.0          # the first thread's rows start at zero, or all
    kw = {"rmask": (rng.random((B, H)) > 0.3) / 0.7} if rmask else {}
    monkeypatch.setattr(kernels, "PARALLEL_MIN_CELLS", 1)
    monkeypatch.setattr(kernels, "UNITS_PER_PART", 1 if how == "units" else 10**9)
    monkeypatch.setattr(kernels, "UNITS_PER_BATCH_ROW", 0)
    args = (p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    fast, slow = engine.forward(*args, **kw), ref.forward(*args, **kw)
    for name in ("hs", "cs", "gates", "ac"):
        close(getattr(fast[3], name), getattr(slow[3], name))
    d = rng.normal(size=fast[0].shape)
    dh, dc = rng.normal(size=fast[1].shape), rng.normal(size=fast[2].shape)
    for a, b in zip(engine.backward(d, dh, dc, fast[3]), ref.backward(d, dh, dc, slow[3])):
        close(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_without_d_h0_gives_the_same_weight_gradients(dtype):
    """The training steps that train no initial state skip d h_0's product (dh0=False):
    the weight gradients and d c_0 are those of the full loop, to the bit."""
    from lstmlab.engine import kernels
    rng = np.random.default_rng(12)
    B, T, D, H = 4, 7, 5, 8                             # H = 8: float32 runs on the tiles
    p = make(rng, B, T, D, H, dtype=dtype)
    p["h0"][:] = 0.0
    _, _, _, cache = engine.forward(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    dh_T, dc_T = rng.normal(size=(B, H)).astype(dtype), rng.normal(size=(B, H)).astype(dtype)
    got = {}
    for dh0 in (True, False):
        dh, dc = dh_T.copy(), dc_T.copy()
        dW, dU, db = np.empty((D, 4 * H), dtype), np.empty((H, 4 * H), dtype), np.empty(4 * H, dtype)
        kernels._backward_rows_c(kernels._none(dtype, 3), dh, dc, cache.x, cache.W, cache.hs, cache.cs,
                                 cache.gates, cache.ac, cache.U.T, cache.mask, False, cache.act, cache.ract,
                                 cache.rmask, *kernels.scan_places(T, B, dtype), dW, dU, db,
                                 kernels._none(dtype, 3), dh0, 0, B)
        got[dh0] = (dW, dU, db, dc)
    for a, b in zip(got[True], got[False]):
        np.testing.assert_array_equal(a, b)
    p64 = (p[k].astype(np.float64) for k in ("x", "W", "U", "b", "h0", "c0"))
    want = ref.backward(None, dh_T.astype(np.float64), dc_T.astype(np.float64), ref.forward(*p64)[3])
    for a, b in zip(got[False], want[1:4] + want[5:]):
        close(a, b, tol=1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("how", ["rows", "batch", "units"])
@pytest.mark.parametrize("masked", [False, True])
def test_no_output_gradient_is_zeros_on_every_path(monkeypatch, how, masked):
    """dout None (a layer that returns only h_T) gives what a dout of zeros gives, on the
    reference and on each way the kernels split the work."""
    from lstmlab.engine import kernels
    rng = np.random.default_rng(7)
    B, T, H = 4, 6, 8
    p = make(rng, B, T, 3, H)
    kw = {"mask": rng.random((B, T)) > 0.3} if masked else {}
    monkeypatch.setattr(kernels, "PARALLEL_MIN_CELLS", 1 if how != "rows" else 10**9)
    monkeypatch.setattr(kernels, "UNITS_PER_PART", 1 if how == "units" else 10**9)
    monkeypatch.setattr(kernels, "UNITS_PER_BATCH_ROW", 0)
    dh, dc = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    for fwd, bwd in [(ref.forward, ref.backward), (engine.forward, engine.backward)]:
        out, _, _, cache = fwd(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"], **kw)
        for a, b in zip(bwd(None, dh, dc, cache), bwd(np.zeros_like(out), dh, dc, cache)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(numba.get_num_threads() != 2, reason="the plan below is for two threads")
@pytest.mark.parametrize("B,H,want", [(1, 256, "units"), (8, 256, "units"), (32, 256, "batch"),
                                      (64, 256, "batch"), (32, 512, "units"), (64, 512, "batch"),
                                      (64, 64, "batch"), (64, 128, "batch"), (5, 10, "rows")])
def test_two_threads_split_the_units_only_while_the_batch_is_small(B, H, want):
    from lstmlab.engine import kernels
    assert kernels._plan(B, H)[0] == want


@pytest.mark.parametrize("how", ["rows", "units"])
@pytest.mark.parametrize("inputs", ["narrow", "wide", "one-hot"])
def test_inputs_added_in_the_loop_or_projected_ahead_agree(monkeypatch, how, inputs):
    """Narrow (D <= 8) and sparse inputs are added row by row inside the time loop, wide dense
    ones projected by BLAS ahead of it; either way, the reference's numbers."""
    from lstmlab.engine import kernels, projection
    rng = np.random.default_rng(3)
    B, T, H = 4, 6, 6
    D = 3 if inputs == "narrow" else 12
    p = make(rng, B, T, D, H)
    if inputs == "one-hot":
        p["x"] = np.eye(D)[rng.integers(0, D, (B, T))]
    xc = np.ascontiguousarray(p["x"].transpose(1, 0, 2)).reshape(T * B, D)
    assert projection.inline(xc) == (inputs != "wide")
    monkeypatch.setattr(kernels, "PARALLEL_MIN_CELLS", 1 if how == "units" else 10**9)
    monkeypatch.setattr(kernels, "UNITS_PER_PART", 1)
    monkeypatch.setattr(kernels, "UNITS_PER_BATCH_ROW", 0)
    args = (p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    fast, slow = engine.forward(*args), ref.forward(*args)
    close(fast[0], slow[0])
    d = rng.normal(size=fast[0].shape)
    dh, dc = rng.normal(size=fast[1].shape), rng.normal(size=fast[2].shape)
    for a, b in zip(engine.backward(d, dh, dc, fast[3]), ref.backward(d, dh, dc, slow[3])):
        close(a, b)


def test_one_hot_reads_each_rows_single_non_zero_or_refuses():
    """projection.one_hot: rows b0:b1 of x (T, B, D) as (column, value) when each has exactly one
    non-zero, any value (scaled, negative, NaN); False for a row of zeros or of two non-zeros."""
    from lstmlab.engine.projection import one_hot
    T, B, D = 3, 4, 5
    x = np.zeros((T, B, D), np.float32)
    cols = np.arange(T * B).reshape(T, B) % D
    for t in range(T):
        for r in range(B):
            x[t, r, cols[t, r]] = (t + 1) * (-1.5 if r % 2 else 0.25)
    x[2, 3, cols[2, 3]] = np.nan
    ids, vals = np.empty(T * 2, np.int64), np.empty(T * 2, np.float32)
    assert one_hot(x, 2, ids, vals)                     # rows 2:4 of every step
    np.testing.assert_array_equal(ids, cols[:, 2:].reshape(-1))
    np.testing.assert_array_equal(vals, x[:, 2:][np.arange(T)[:, None], np.arange(2), cols[:, 2:]].reshape(-1))
    x[1, 0, (cols[1, 0] + 1) % D] = 2.0                 # two non-zeros in row 0 of step 1
    assert not one_hot(x, 0, ids, vals)
    x[1, 0] = 0.0                                       # none
    assert not one_hot(x, 0, ids, vals)


@pytest.mark.parametrize("spoil", [None, "two", "none"])
def test_time_major_one_hot_copies_every_row_and_finds_what_one_hot_finds(spoil):
    """projection.time_major_one_hot: rows b0:b1 of xb (B, T, D) copied into x (T, B, D), other
    rows untouched, whether or not they are one-hot; its answer, columns and values are
    one_hot's on the copy."""
    from lstmlab.engine.projection import one_hot, time_major_one_hot
    B, T, D, b0, b1 = 5, 4, 6, 1, 4
    rng = np.random.default_rng(3)
    xb = np.zeros((B, T, D), np.float32)
    xb[np.arange(B)[:, None], np.arange(T), rng.integers(0, D, (B, T))] = rng.normal(size=(B, T))
    if spoil == "two":
        xb[2, 1] = 1.0                                  # row 2, step 1: every column non-zero
    elif spoil == "none":
        xb[3, 3] = 0.0
    x = np.full((T, B, D), -7.0, np.float32)
    n = b1 - b0
    ids, vals = np.full(T * n, -1, np.int64), np.zeros(T * n, np.float32)
    found = time_major_one_hot(xb, b0, b1, x, ids, vals)
    np.testing.assert_array_equal(x[:, b0:b1], xb[b0:b1].transpose(1, 0, 2))
    assert (x[:, :b0] == -7.0).all() and (x[:, b1:] == -7.0).all()
    want_ids, want_vals = np.empty_like(ids), np.empty_like(vals)
    assert found == one_hot(x, b0, want_ids, want_vals) == (spoil is None)
    if found:
        np.testing.assert_array_equal(ids, want_ids)
        np.testing.assert_array_equal(vals, want_vals)


@pytest.mark.parametrize("R,H,parts", [(3, 10, 3), (5, 8, 2), (1, 7, 2)])
def test_unit_split_packs_each_parts_columns_as_one_block(R, H, parts):
    """pack puts part p's i, f, g, o columns as one contiguous (R, 4n) block; unpack undoes it."""
    from lstmlab.engine import units
    A = np.arange(R * 4 * H, dtype=np.float32).reshape(R, 4 * H)
    flat = units.pack(A, H, parts)
    bounds, perm = units.bounds(H, parts), units.permutation(H, parts)
    for u0, u1 in zip(bounds[:-1], bounds[1:]):
        cols = np.concatenate([gate * H + np.arange(u0, u1) for gate in range(4)])
        np.testing.assert_array_equal(flat[R * 4 * u0:R * 4 * u1].reshape(R, -1), A[:, cols])
    np.testing.assert_array_equal(A[:, perm], np.concatenate(
        [flat[R * 4 * u0:R * 4 * u1].reshape(R, -1) for u0, u1 in zip(bounds[:-1], bounds[1:])], axis=1))
    np.testing.assert_array_equal(units.unpack(flat, R, H, parts), A)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_unit_split_finishes_on_fewer_threads_than_parts(dtype, tol):
    """Any thread may take any part and only waits for parts others are running: three parts on
    one thread (or two) still finish, with the reference's numbers, inputs' gradient included."""
    from lstmlab.engine import kernels
    from lstmlab.engine.common import NO_ARRAY
    rng = np.random.default_rng(2)
    B, T, D, H = 3, 6, 4, 10
    p = make(rng, B, T, D, H, dtype=dtype)
    args = (p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    slow = ref.forward(*(a.astype(np.float64) for a in args))
    threads = numba.get_num_threads()
    try:
        for n in {1, threads}:
            numba.set_num_threads(n)
            dt = p["x"].dtype
            act, ract = kernels.codes("tanh", "sigmoid", dt)
            xt = np.ascontiguousarray(p["x"].transpose(1, 0, 2))
            hs = np.empty((T + 1, B, H), dt); hs[0] = p["h0"]
            cs = np.empty((T + 1, B, H), dt); cs[0] = p["c0"]
            gates, ac = np.empty((T, B, 4 * H), dt), np.empty((T, B, H), dt)
            none = NO_ARRAY
            kernels._forward_units(xt, p["W"], p["b"], p["U"], hs, cs, gates, ac,
                                   none.astype(dt).reshape(0, 0, 0), none, False, act, ract, none.astype(dt), 3)
            close(hs[1:].transpose(1, 0, 2), slow[0], tol)
            cache = kernels.Cache(xt, p["W"], p["U"], hs, cs, gates, ac, none, False, act, ract, none.astype(dt))
            d = rng.normal(size=(B, T, H)).astype(dt)
            z = np.zeros((B, H), dt)
            dh, dc = z.copy(), z.copy()
            grads = kernels._backward_units(np.ascontiguousarray(d.transpose(1, 0, 2)), dh, dc, cache, True, 3)
            want = ref.backward(d.astype(np.float64), z, z, slow[3])
            for a, b in zip((*grads, dh, dc), want):
                close(a, b, tol)
    finally:
        numba.set_num_threads(threads)


def test_unknown_activation_lists_valid_ones():
    rng = np.random.default_rng(0)
    p = make(rng, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="Expected one of: 'linear', 'tanh'.*Received: 'softmax'"):
        engine.forward(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"], activation="softmax")


def test_float32_fast_tanh_and_sigmoid_accuracy():
    from numba import njit
    from lstmlab.engine.pointwise import FAST_SIGMOID, FAST_TANH, act_slice

    @njit
    def apply(v, code):
        act_slice(v, code)
        return v

    x = np.linspace(-40, 40, 400_001).astype(np.float32)
    exact = np.tanh(x.astype(np.float64))
    assert np.abs(apply(x.copy(), FAST_TANH) - exact).max() < 4.3e-7
    sig = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert np.abs(apply(x.copy(), FAST_SIGMOID) - sig).max() < 2.2e-7
    assert np.isnan(apply(np.array([np.nan], np.float32), FAST_TANH)[0])   # a diverging model shows it


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_one_hot_inputs_take_the_sparse_path_and_agree(dtype, tol):
    """One-hot characters are multiplied row by row (a lookup); same numbers as the reference."""
    from lstmlab.engine.projection import rows, sparse

    rng = np.random.default_rng(5)
    B, T, V, H = 6, 7, 12, 5
    x = np.eye(V, dtype=dtype)[rng.integers(0, V, (B, T))]
    p = make(rng, B, T, V, H, dtype=dtype)
    assert sparse(rows(np.ascontiguousarray(x.transpose(1, 0, 2)), 0, B))
    args = (x, p["W"], p["U"], p["b"], p["h0"], p["c0"])
    fast, slow = engine.forward(*args), ref.forward(*(a.astype(np.float64) for a in args))
    close(fast[0], slow[0], tol)
    dout = rng.normal(size=fast[0].shape).astype(dtype)
    z = np.zeros_like(fast[1])
    for a, b in zip(engine.backward(dout, z, z, fast[3]), ref.backward(dout.astype(np.float64), z, z, slow[3])):
        close(a, b, tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_reuses_the_one_hot_rows_forward_found(dtype):
    """forward keeps each row's column and value for backward; backward gives the same
    gradients as from a cache without them (it scans x again), also when the threads split
    the rows another way (then it scans, and leaves what forward kept as it was)."""
    from lstmlab.engine import kernels
    rng = np.random.default_rng(4)
    B, T, D, H = 64, 5, 7, 16                        # B·H = 1024: the threads split the batch
    p = make(rng, B, T, D, H, dtype=dtype)
    x = (np.eye(D)[rng.integers(0, D, (B, T))] * rng.normal(size=(B, T, 1))).astype(dtype)
    out, h, c, cache = kernels.forward(x, p["W"], p["U"], p["b"], p["h0"], p["c0"])
    assert cache.onehot.sum() == B and cache.ids.shape == (T * B,)
    d = rng.normal(size=out.shape).astype(dtype)
    z = np.zeros((B, H), dtype)
    forgot = cache._replace(spans=())                # as if forward had not kept them
    for a, b in zip(kernels.backward(d, z, z, cache), kernels.backward(d, z, z, forgot)):
        np.testing.assert_array_equal(a, b)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)                    # one share of 64 rows: forward kept two of 32
        one = kernels.backward(d, z, z, cache)
    finally:
        numba.set_num_threads(threads)
    for a, b in zip(kernels.backward(d, z, z, cache), kernels.backward(d, z, z, forgot)):
        np.testing.assert_array_equal(a, b)         # what forward kept is still whole
    slow = ref.backward(d.astype(np.float64), z, z, ref.forward(*(a.astype(np.float64) for a in (
        x, p["W"], p["U"], p["b"], p["h0"], p["c0"])))[3])
    for a, b in zip(one, slow):
        close(a, b, 1e-11 if dtype == np.float64 else 2e-5)


@pytest.mark.parametrize("how", ["rows", "batch"])
@pytest.mark.parametrize("inputs", ["narrow", "wide", "one-hot"])
@pytest.mark.parametrize("masked", [False, True])
def test_weight_gradients_taken_in_blocks_of_steps_equal_the_reference(monkeypatch, how, inputs, masked):
    """Backward adds dU, db and (for wide inputs) dW block by block of steps, and makes dx block by
    block: with several blocks and a short last one, the reference's numbers."""
    from lstmlab.engine import kernels
    rng = np.random.default_rng(11)
    B, T, H = 6, 400, 16                                  # dz of every step: more than a core's L2
    D = 3 if inputs == "narrow" else 12
    p = make(rng, B, T, D, H)
    if inputs == "one-hot":
        p["x"] = np.eye(D)[rng.integers(0, D, (B, T))]
    kw = {}
    if masked:
        kw = {"mask": rng.random((B, T)) > 0.3, "rmask": (rng.random((B, H)) > 0.3) / 0.7}
    monkeypatch.setattr(kernels, "PARALLEL_MIN_CELLS", 1 if how == "batch" else 10**9)
    monkeypatch.setattr(kernels, "UNITS_PER_PART", 10**9)
    n = B // kernels._plan(B, H)[1]
    steps = kernels._grad_block_steps(T, n, H, 8)         # per block: 21 (rows) or 42 (batch, 2 threads)
    assert 1 < steps < T and T % steps != 0
    args = (p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    fast, slow = engine.forward(*args, **kw), ref.forward(*args, **kw)
    d = rng.normal(size=fast[0].shape)
    dh, dc = rng.normal(size=fast[1].shape), rng.normal(size=fast[2].shape)
    for a, b in zip(engine.backward(d, dh, dc, fast[3]), ref.backward(d, dh, dc, slow[3])):
        close(a, b)


def test_backward_takes_blocks_only_where_they_pay():
    """Blocks while dz would leave a core's L2 and dU would stay in it; else one product."""
    from lstmlab.engine import kernels
    assert kernels._grad_block_steps(100, 32, 64, 4) == 4      # W4 at 64 units: 3.2 MiB of dz a thread
    assert kernels._grad_block_steps(100, 32, 256, 4) == 100   # W4 at 256 units: dU 1 MiB
    assert kernels._grad_block_steps(30, 16, 50, 4) == 30      # a forecaster's batch: dz 375 KiB
    assert kernels._grad_block_steps(100, 300, 64, 4) == 1     # a block is at least one step
