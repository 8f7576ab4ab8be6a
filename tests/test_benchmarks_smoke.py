"""The benchmark harness runs end to end on one tiny workload (no timing is asserted).

`make bench` takes minutes; this keeps its code from rotting between runs:
W2 (one predict call on the seed model) with 3 samples per row, PyTorch as the
only peer when it is installed, each side in its own worker process as `make
bench` runs them, a 64x64 matmul for the rate, the profile path included, and
the Markdown report written to a temporary file.
"""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_w2_runs_end_to_end_and_writes_the_report(tmp_path):
    environ = dict(os.environ)
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch else None
    sys.path.insert(0, ROOT)
    try:
        from benchmarks import run

        peers = "torch" if importlib.util.find_spec("torch") else ""
        out = tmp_path / "BENCHMARKS.md"
        ctx = run.main(["--only", "W2", "--repeats", "3", "--peers", peers, "--no-startup",
                        "--profile-all", "--wait-quiet", "0", "--matmul-size", "64",
                        "--out", str(out)], log=lambda *a: None)
    finally:
        sys.path.remove(ROOT)
        os.environ.clear()
        os.environ.update(environ)
        if torch_threads is not None:
            sys.modules["torch"].set_num_threads(torch_threads)

    rows = [r for r in ctx["results"] if r.case.wid == "W2"]
    assert rows and all(r.error is None and r.timing is not None for r in rows), \
        [r.error for r in rows]
    assert {r.case.side for r in rows} >= {"lstmlab"} | ({"torch"} if peers else set())
    assert all(r.median > 0 and r.timing.first > 0 for r in rows)
    assert ctx["verdicts"] and all(v.met is not None for v in ctx["verdicts"])
    assert ctx["profiles"] and not isinstance(ctx["profiles"][0][1], str), ctx["profiles"]

    text = out.read_text(encoding="utf-8")
    for heading in ("## Machine", "## How it is measured", "## Results", "## Targets"):
        assert heading in text
    assert "W2" in text and "≤ 50 µs per predict" in text
    assert "cProfile top 10" in text


def test_cores_probe_times_one_thread_and_two_and_says_what_the_second_gives():
    sys.path.insert(0, ROOT)
    try:
        from benchmarks import cores_probe
        pairs = cores_probe.side_by_side(rounds=2)
        text = cores_probe.finding(rounds=3)
    finally:
        sys.path.remove(ROOT)
    assert len(pairs) == 2 and all(alone > 0 and both > 0 for alone, both in pairs)
    assert text.startswith("Two threads side by side") and "3 rounds" in text and "arithmetic" in text


def test_cores_probe_floor_puts_the_products_against_the_step_timed_in_turns():
    sys.path.insert(0, ROOT)
    try:
        from benchmarks import cores_probe
        probe = cores_probe.Probe(rounds=2, n=4, H=8, step=lambda: sum(range(1000)))
        assert probe.step > 0 and probe.product_both > 0 and probe.steps >= 10
        # The arithmetic, on set figures: 300 products of 10 µs against an 8 ms step.
        probe.product_both, probe.step = 10e-6, 8e-3
        met = probe.floor(T=100, needed=1.25)
        short = probe.floor(T=100, needed=4.0)
    finally:
        sys.path.remove(ROOT)
    assert "300 products of (4, 8)·(8, 32)'s size" in met
    assert "they take 3.00 ms, 38% of the step's 8.00 ms" in met and "the other 5.00 ms" in met
    # 1.25x faster: 8 - 8/1.25 = 1.6 ms to lose, 32% of the other 5 ms.
    assert "must lose 1.60 ms: 32% of everything else" in met
    # 4x faster: 6 ms to lose, more than the 5 ms that is not the products.
    assert "must lose 6.00 ms: more than everything else takes" in short
