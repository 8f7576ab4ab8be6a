"""benchmarks.interleave: the rows of a configuration take turns, sample by sample."""
import io
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def interleave(monkeypatch):
    monkeypatch.syspath_prepend(ROOT)
    from benchmarks import interleave, quiet
    monkeypatch.setattr(interleave, "SWITCH_PAUSE", 0.0)
    monkeypatch.setattr(interleave, "IDLE", 0.0)
    monkeypatch.setattr(quiet, "canary", lambda: 0.01)
    return interleave


class FakeWorker:
    """Answers as a worker process would; every sample of row i takes times[i][k] seconds."""

    def __init__(self, times, calls, fail=()):
        self.times, self.calls, self.fail, self.cpu = times, calls, set(fail), 0.0
        self.taken = {}

    def call(self, op, row=None):
        self.calls.append((op, row))
        self.cpu += 0.001
        if op == "prepare":
            if row in self.fail:
                return {"ok": False, "error": "ValueError: no such model", "cpu": self.cpu}
            return {"ok": True, "setup_s": 0.1, "first": 2.0, "number": 1, "cpu": self.cpu}
        if op == "sample":
            k = self.taken[row] = self.taken.get(row, -1) + 1
            return {"ok": True, "t": self.times[row][k], "cpu": self.cpu}
        return {"ok": True, "cpu": self.cpu}


def _case(side, repeats=3, scale=1.0):
    sys.path.insert(0, ROOT)
    from benchmarks.cases import Case
    sys.path.remove(ROOT)
    return Case("W9", "cfg", side, f"{side} thing", setup=lambda: None, repeats=repeats, scale=scale)


def test_rows_take_turns_in_rounds_reversed_every_other_round(interleave):
    calls = []
    times = {0: [1.0, 3.0, 2.0], 1: [0.5, 0.25, 0.75], 2: [9.0, 9.0, 9.0]}
    lab, torch = FakeWorker(times, calls), FakeWorker(times, calls)
    rows = [(0, _case("lstmlab")), (1, _case("lstmlab", scale=2.0)), (2, _case("torch"))]
    got = interleave.time_group(rows, {"lstmlab": lab, "torch": torch}, 0, log=lambda *a: None)
    samples = [row for op, row in calls if op == "sample"]
    assert samples == [0, 1, 2, 2, 1, 0, 0, 1, 2]
    assert got[0].timing.median == 2.0 and got[0].timing.low == 1.0 and got[0].timing.high == 3.0
    assert got[1].timing.median == 1.0                     # 0.5 scaled by 2
    assert got[2].timing.first == 2.0 and got[2].setup_s == 0.1
    assert all(r.timing.repeats == 3 for r in got.values())


def test_a_row_that_fails_to_build_is_reported_and_the_others_still_run(interleave):
    calls = []
    times = {0: [1.0, 1.0], 1: [2.0, 2.0]}
    lab, torch = FakeWorker(times, calls, fail={0}), FakeWorker(times, calls)
    rows = [(0, _case("lstmlab", repeats=2)), (1, _case("torch", repeats=2))]
    got = interleave.time_group(rows, {"lstmlab": lab, "torch": torch}, 0, log=lambda *a: None)
    assert got[0].timing is None and "no such model" in got[0].error
    assert got[1].timing.median == 2.0
    assert [row for op, row in calls if op == "sample"] == [1, 1]


def test_serve_answers_each_command_on_one_reply_line(interleave):
    case = _case("lstmlab", repeats=2)
    case.setup = lambda: (lambda: None)
    case.number = 4
    commands = [{"op": "prepare", "row": 7}, {"op": "sample", "row": 7}, {"op": "drop", "row": 7},
                {"op": "sample", "row": 7}, {"op": "quit"}]
    out = io.StringIO()
    interleave.serve({7: case}, "lstmlab", [["lstmlab", "X", None, "1"]],
                     inp=io.StringIO("".join(json.dumps(c) + "\n" for c in commands)), out=out)
    replies = [json.loads(line[len(interleave.REPLY):]) for line in out.getvalue().splitlines()]
    assert replies[0]["ready"] and replies[0]["env_changes"] == [["lstmlab", "X", None, "1"]]
    assert replies[1]["ok"] and replies[1]["number"] == 4 and replies[1]["first"] >= 0
    assert replies[2]["ok"] and replies[2]["t"] >= 0
    assert replies[3]["ok"]
    assert not replies[4]["ok"] and "KeyError" in replies[4]["error"]   # dropped: nothing to sample
    assert len(replies) == 5 and all("cpu" in r for r in replies)


@pytest.mark.parametrize("primed", [False, True])
def test_a_primed_row_times_each_sample_right_after_an_untimed_call(interleave, monkeypatch, primed):
    """Training steps are sampled as a loop runs them: a primed sample calls once untimed, then
    times its calls. Here, as on the VM after an idle pause, a sample's first call is the slow one."""
    import time
    from benchmarks import timing
    calls = []

    def step():
        time.sleep(0.05 if not calls else 0.001)
        calls.append(None)

    assert (timing.sample(step, 2, primed) < 0.02) == primed
    assert len(calls) == (3 if primed else 2)
    seen = []                                               # serve passes the row's setting on
    monkeypatch.setattr(interleave, "sample", lambda fn, number, p=False: seen.append(p) or 0.0)
    case = _case("lstmlab", repeats=1)
    case.setup, case.number, case.primed = (lambda: (lambda: None)), 1, primed
    commands = [{"op": "prepare", "row": 0}, {"op": "sample", "row": 0}, {"op": "quit"}]
    interleave.serve({0: case}, "lstmlab", [], inp=io.StringIO("".join(json.dumps(c) + "\n" for c in commands)),
                     out=io.StringIO())
    assert seen == [primed]


def test_the_matmul_share_is_held_against_the_rate_timed_in_turns(interleave):
    """A W4 group with a numpy row: the share divides by that row's rate, not the run's."""
    sys.path.insert(0, ROOT)
    from benchmarks.cases import Result, link_ratios
    from benchmarks.targets import Target, judge
    from benchmarks.timing import Timing
    sys.path.remove(ROOT)

    def row(side, seconds, flops, primary=False):
        case = _case(side)
        case.flops, case.primary, case.id = flops, primary, side
        return Result(case, Timing(seconds, seconds, seconds, seconds, 1, 1, [seconds]))

    lab, mm = row("lstmlab", 1.0, 80e9, primary=True), row("numpy", 1.0, 100e9)
    link_ratios([lab, mm])
    assert mm.ratio is None                                  # not a peer: other work
    (verdict,) = judge(Target("W9", "cfg", "≥ 65% of matmul", "rate", 0.65), [lab, mm], matmul_gflops=400.0)
    assert verdict.value == pytest.approx(0.8) and verdict.met
    (alone,) = judge(Target("W9", "cfg", "≥ 65% of matmul", "rate", 0.65), [lab], matmul_gflops=400.0)
    assert alone.value == pytest.approx(0.2) and not alone.met


def test_a_worker_that_dies_fails_its_rows_and_not_the_run(interleave):
    """A side's process that ends (a crash) answers every later command with an error."""
    code = f"print({interleave.REPLY!r} + '{{\"ready\": true, \"cpu\": 0}}', flush=True)"
    worker = interleave.Worker("torch", [sys.executable, "-c", code], ROOT)
    assert worker.ready["ready"]
    rows = [(0, _case("torch", repeats=2))]
    got = interleave.time_group(rows, {"torch": worker}, 0, log=lambda *a: None)
    assert got[0].timing is None and "ended" in got[0].error
    assert not worker.call("drop", 0)["ok"]
    worker.close()
