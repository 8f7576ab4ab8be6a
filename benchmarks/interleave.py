"""Timing every side of a workload in turns, each in its own process.

The machine is a virtual one whose speed changes by up to 1.8x from one minute
to the next, with nothing here to show for it (see quiet.canary). Timed one
side after the other, two sides of a row can meet different machines, and
their ratio says more about the minute than about the code. So every side of
a workload runs in its own long-lived process (no library's thread pools,
allocator settings or environment reach another's), and the parent takes the
samples of a configuration's rows in rounds: one sample of each row, then the
next round, the order reversed every other round. Each row's median then
spans the same stretch of time as its peers'.

Between two samples of different processes the parent waits SWITCH_PAUSE, so
that the thread pool of the process that just ran (OpenMP spins a while after
its last parallel region) is idle before the next one starts.

Protocol: the parent writes one JSON command per line on the worker's stdin;
the worker answers each with one line on stdout that starts with REPLY. Its
log goes to a file the parent reads at the end.
"""
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

from . import quiet
from .cases import Result
from .timing import Timing, sample, warm_up

REPLY = "@@bench "
SWITCH_PAUSE = 0.02      # seconds between samples of two processes
IDLE = 0.2               # seconds before the canary: the workers' thread pools have stopped spinning


# -- the worker: one side of one workload ----------------------------------------------------------
def _cpu():
    t = os.times()
    return t.user + t.system


def serve(cases, side, env_changes, inp=sys.stdin, out=sys.stdout):
    """Answer the parent's commands for the rows of `side` among `cases`, until "quit"."""
    def reply(**kw):
        out.write(REPLY + json.dumps(dict(kw, cpu=_cpu())) + "\n")
        out.flush()

    reply(ready=True, env_changes=env_changes)
    built = {}                                          # row -> (callable, calls per sample)
    for line in inp:
        cmd = json.loads(line)
        op, i = cmd["op"], cmd.get("row")
        if op == "quit":
            return
        if op == "drop":
            built.pop(i, None)
            gc.collect()
            reply(ok=True)
            continue
        case = cases[i]
        try:
            if op == "prepare":
                reply(ok=True, **_prepare(case, built, i))
            elif op == "sample":
                fn, number = built[i]
                reply(ok=True, t=sample(fn, number, case.primed))
            else:
                reply(ok=False, error=f"unknown command {op!r}")
        except Exception as e:   # noqa: BLE001 - one broken row must not sink the run
            built.pop(i, None)
            tb = traceback.format_exc(limit=3)
            reply(ok=False, error=f"{type(e).__name__}: {e}".strip()[:300] + "\n" + tb[-600:])


def _prepare(case, built, i):
    """Build the row, time its first call, warm it up, choose its calls per sample."""
    t0 = time.perf_counter()
    fn = case.setup()
    setup_s = time.perf_counter() - t0
    first, number = warm_up(fn, case.warmup, case.number)
    built[i] = (fn, number)
    return dict(setup_s=setup_s, first=first, number=number)


# -- the parent: every side of one workload, in turns ------------------------------------------------
class Worker:
    """One side's process, started with `command` (which ends in its serve loop)."""

    def __init__(self, side, command, cwd):
        self.side = side
        self.log_file = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log_file, text=True, bufsize=1)
        self.noise = []                                 # stdout lines that were not replies
        self.ready = self._read()

    def call(self, op, row=None):
        """Send one command; -> the reply, or an error reply when the process has ended."""
        try:
            self.proc.stdin.write(json.dumps({"op": op, "row": row}) + "\n")
            self.proc.stdin.flush()
        except OSError:
            return self._ended()
        return self._read()

    def _ended(self):
        """The error reply for a process that has ended (a crash): its rows fail, the run goes on."""
        return {"ok": False, "error": f"the {self.side} process ended (exit code {self.proc.wait()})"}

    def _read(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                return self._ended()
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY):])
            self.noise.append(line.rstrip())

    def close(self):
        """Stop the process; -> its log lines."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log_file.seek(0)
        lines = self.noise + self.log_file.read().splitlines()
        self.log_file.close()
        return lines


def time_group(rows, workers, wait_quiet, log):
    """Time rows [(i, case)] of one configuration in rounds -> {i: Result}."""
    quiet.wait_quiet(wait_quiet, log)
    results, ready = {}, []
    for i, case in rows:
        r = workers[case.side].call("prepare", i)
        if not r.get("ok"):
            log(f"  {case.wid} {case.config} {case.side} {case.how}: FAILED {r.get('error', '').splitlines()[0]}")
            results[i] = Result(case, error=r.get("error"))
        else:
            ready.append((i, case, r))
    if not ready:
        return results
    samples = {i: [] for i, _, _ in ready}
    time.sleep(IDLE)                                    # the workers' pools idle before the canary
    before = quiet.canary()
    t0, busy0, own0 = time.perf_counter(), quiet._busy_seconds(), quiet._own_seconds()
    start_cpu = {case.side: r["cpu"] for _, case, r in ready}      # each side's last reply so far
    end_cpu = dict(start_cpu)
    last_side = None
    rounds = max(case.repeats for _, case, _ in ready)
    for k in range(rounds):
        order = ready if k % 2 == 0 else ready[::-1]
        for i, case, _ in order:
            if k >= case.repeats or i not in samples:
                continue
            if last_side is not None and case.side != last_side:
                time.sleep(SWITCH_PAUSE)
            last_side = case.side
            r = workers[case.side].call("sample", i)
            if not r.get("ok"):
                log(f"  {case.wid} {case.config} {case.side} {case.how}: FAILED while sampling")
                results[i] = Result(case, error=r.get("error"))
                del samples[i]
                continue
            samples[i].append(r["t"])
            end_cpu[case.side] = r["cpu"]
    wall = time.perf_counter() - t0
    busy1, own1 = quiet._busy_seconds(), quiet._own_seconds()
    time.sleep(IDLE)
    after = quiet.canary()
    others = None
    if busy0 is not None and busy1 is not None and wall > 0:
        ours = (own1 - own0) + sum(end_cpu[s] - start_cpu[s] for s in start_cpu)
        others = max((busy1 - busy0) - ours, 0.0) / wall
    for i, case, r in ready:
        if i not in samples:
            continue
        s = samples[i]
        timing = Timing(r["first"], statistics.median(s), min(s), max(s), len(s), r["number"], s)
        results[i] = Result(case, timing.scaled(case.scale), setup_s=r["setup_s"], others=others,
                            canary_s=(before + after) / 2)
    return results
