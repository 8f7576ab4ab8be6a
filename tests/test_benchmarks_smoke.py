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
