"""make bench: every workload with lstmlab and each peer in one run; one table; BENCHMARKS.md.

    .venv/bin/python -m benchmarks.run                 # full run (~4-7 min), writes BENCHMARKS.md
    .venv/bin/python -m benchmarks.run --quick         # fewer repeats: a smoke test
    .venv/bin/python -m benchmarks.run --only W1,W3 --peers torch --out /tmp/b.md
"""
import os
import sys

if __package__ in (None, ""):                 # run as a script: python benchmarks/run.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "benchmarks"

from benchmarks import env  # noqa: E402  (nothing heavy: threads are pinned before NumPy loads)

env.pin_threads()

import argparse  # noqa: E402
import time  # noqa: E402

from benchmarks import flops, interleave, quiet, report, targets as targets_mod, workloads  # noqa: E402
from benchmarks.cases import Case, Result, link_ratios, run_case  # noqa: E402

PAUSE = 0.2      # seconds between rows: lets the last side's worker threads go idle


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats (a smoke test, not for decisions)")
    p.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3 (default: all)")
    p.add_argument("--out", default="BENCHMARKS.md", help="the Markdown report to write ('' for none)")
    p.add_argument("--peers", default="torch,keras",
                   help="comma-separated peers: torch, keras (default both; '' for lstmlab alone)")
    p.add_argument("--repeats", type=int, default=None, help="override every row's sample count")
    p.add_argument("--no-profile", action="store_true", help="skip the profiles of missed targets")
    p.add_argument("--profile-all", action="store_true", help="profile every target's group, met or not")
    p.add_argument("--no-startup", action="store_true", help="skip the fresh-process start-up timings")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n×n float32 matmul rate")
    p.add_argument("--wait-quiet", type=float, default=120.0,
                   help="before each row, wait up to this many seconds for other processes to use "
                        "< 0.25 cores; a row timed while they used more is re-timed once (0: never wait)")
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="time every side in this one process, one row after another (default: each "
                        "side of each workload in its own fresh process, so no library's threads or "
                        "settings touch another's, the rows of a configuration sampled in turns)")
    p.add_argument("--worker-side", default=None, help=argparse.SUPPRESS)
    p.add_argument("--canary-base", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--stream", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--w3-steps", type=int, default=1000, help="W3 steps per sample")
    p.add_argument("--w5-chars", type=int, default=workloads.CHARS_TIMED,
                   help="W5 characters timed (reported scaled to 1000)")
    args = p.parse_args(argv)
    args.only = [w.strip().upper() for w in args.only.split(",") if w.strip()] or list(workloads.WORKLOADS)
    unknown = [w for w in args.only if w not in workloads.WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; expected some of {list(workloads.WORKLOADS)}")
    args.peers = {s.strip() for s in args.peers.split(",") if s.strip()}
    bad = args.peers - {"torch", "keras"}
    if bad:
        p.error(f"unknown peer(s) {sorted(bad)}; expected torch and/or keras")
    return args


SIDES = ("lstmlab", "torch", "keras", "numpy")      # numpy: the matmul rate, in its own process


def _available(peers):
    """The peers that are installed, found without importing them."""
    import importlib.util
    return {p for p in peers if importlib.util.find_spec(p) is not None}


def _import_sides(sides, log):
    """Import everything a process will time up front, so no row's first call pays for an import.

    The peers load first: an OpenMP or BLAS runtime reads its environment when it
    loads, so nothing lstmlab sets on import (e.g. OMP_WAIT_POLICY) can change how
    PyTorch runs. Every environment variable an import sets is recorded for the report.
    """
    changes = []

    def load(name):
        before = dict(os.environ)
        __import__(name)
        for k in sorted(set(os.environ) | set(before)):
            if os.environ.get(k) != before.get(k):
                changes.append((name, k, before.get(k), os.environ.get(k)))

    import numpy  # noqa: F401
    for side in ("torch", "keras", "lstmlab"):
        if side in sides:
            try:
                load(side)
            except Exception as e:   # noqa: BLE001
                log(f"{side} not importable: {type(e).__name__}: {e}")
    env.configure_loaded()
    for name, k, old, new in changes:
        log(f"note: importing {name} changed {k}: {old!r} -> {new!r}")
    return changes


def _passthrough(args):
    """The options a worker needs to build the same rows as this process."""
    out = ["--peers", ",".join(sorted(args.peers)), "--wait-quiet", str(args.wait_quiet),
           "--canary-base", repr(args.canary_base), "--stream", str(int(args.stream)),
           "--w3-steps", str(args.w3_steps), "--w5-chars", str(args.w5_chars),
           "--matmul-size", str(args.matmul_size)]
    if args.quick:
        out.append("--quick")
    if args.repeats:
        out += ["--repeats", str(args.repeats)]
    return out


def _plan(args, peers):
    """The workloads' Plan from the options: the same in the parent and in every worker."""
    return workloads.Plan(quick=args.quick, peers=peers,
                          tensorflow="keras" in peers and env.has_tensorflow(),
                          w3_steps=args.w3_steps, w5_chars=args.w5_chars, stream=bool(args.stream),
                          matmul_n=args.matmul_size)


def run_interleaved(wid, cases, args, log):
    """Time every side's rows of workload `wid`, each side in its own fresh process, the rows of
    each configuration in rounds (interleave.py) -> ({row index: Result}, env changes)."""
    mine = [(i, c) for i, c in enumerate(cases) if c.timer is None]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    workers, done, changes = {}, {}, []
    try:
        for side in SIDES:
            if any(c.side == side for _, c in mine):
                cmd = [sys.executable, "-m", "benchmarks.run", "--only", wid, "--worker-side", side,
                       *_passthrough(args)]
                workers[side] = interleave.Worker(side, cmd, root)
                changes += [tuple(c) for c in workers[side].ready.get("env_changes", [])]
        groups = {}
        for i, c in mine:
            groups.setdefault(c.config, []).append((i, c))
        for rows in groups.values():
            live = []
            for i, c in rows:
                if workers[c.side].ready.get("ready"):
                    live.append((i, c))
                else:
                    done[i] = Result(c, error=f"the {c.side} process did not start: "
                                              f"{workers[c.side].ready.get('error')}")
            got = interleave.time_group(live, workers, args.wait_quiet, log)
            # Only other processes call for a second attempt here: a slow machine slowed every
            # side alike, as the rows took turns (the speed column still shows it).
            if args.wait_quiet > 0 and any(_disturbed(r, None) for r in got.values()):
                log("  other processes were busy while these rows were timed: timing them again")
                again = interleave.time_group(live, workers, args.wait_quiet, log)
                got = _less_disturbed(got, again)
            for i, c in live:
                workers[c.side].call("drop", i)
                _log_row(got[i], log)
            done.update(got)
    finally:
        for side, w in workers.items():
            for line in w.close():
                log(f"  [{side}] {line}")
    return done, changes


def _less_disturbed(first, again):
    """The attempt during which other processes used less of the machine; the first calls
    (start-up) are always the first attempt's, when nothing was warm yet."""
    def worst(rs):
        return max((r.others or 0) for r in rs.values())
    pick = again if again and worst(again) < worst(first) else first
    for i, r in pick.items():
        r.attempts = 2
        old = first.get(i)
        if r is not old and r.timing is not None and old is not None and old.timing is not None:
            r.timing.first = old.timing.first
    return pick


def worker(args):
    """--worker-side: serve one side's rows of the --only workload to the parent (interleave.py)."""
    side = args.worker_side

    def log(line):
        print(line, file=sys.stderr, flush=True)
    changes = _import_sides({side}, log)
    peers = _available(args.peers)
    cases, _ = workloads.WORKLOADS[args.only[0]](_plan(args, peers))
    rows = {i: c for i, c in enumerate(cases) if c.side == side and c.timer is None}
    for c in rows.values():
        if args.repeats:
            c.repeats = args.repeats
    interleave.serve(rows, side, changes)
    if side != "lstmlab" and "lstmlab" in sys.modules:
        log(f"warning: the {side} worker loaded lstmlab; its process-wide settings touched the peer")


def _log_row(r, log):
    case = r.case
    if r.timing is not None:
        busy = "" if r.others is None else f", others used {r.others:.2f} cores"
        log(f"  {case.config} | {case.side} {case.how}: {r.timing.median:.6g} s {case.unit}"
            f" (first {r.timing.first:.4g} s, spread {r.timing.spread:.0%}{busy})")


def _disturbed(r, base):
    busy = r.others is not None and r.others >= quiet.BUSY
    slow = base is not None and r.canary_s is not None and r.canary_s > quiet.SLOW * base
    return busy or slow


def timed(case, wait, log, base=None):
    """run_case on a quiet machine: wait for quiet first; re-time once if the row was disturbed
    (other processes busy, or the canary slow: the virtual machine itself ran slow)."""
    quiet.wait_quiet(wait, log)
    r = run_case(case, log)
    if wait > 0 and r.timing is not None and _disturbed(r, base):
        speed = "" if not (base and r.canary_s) else f", canary {r.canary_s / base:.2f}× its best"
        log(f"  disturbed while timing {case.side} {case.how} (others {r.others or 0:.2f} cores{speed}): "
            f"timing it again")
        quiet.wait_quiet(wait, log)
        again = run_case(case, log)
        key = (lambda x: (x.canary_s or 0)) if base else (lambda x: (x.others or 0))
        if again.timing is not None and key(again) < key(r):
            r = again
        r.attempts = 2
    return r


def _profile(prof_mod, verdict, row_id, matmul_gflops):
    try:
        with quiet.Monitor() as mon:
            prof = prof_mod.for_row(verdict.target, row_id, matmul_gflops, verdict.needed)
        prof.others = mon.others
        return prof
    except Exception as e:   # noqa: BLE001
        return f"{type(e).__name__}: {e}"


def main(argv=None, log=print):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    t_start = time.perf_counter()
    load_before = env.load_average()
    revision = env.source_revision()      # at the start: the code the rows ran
    if args.worker_side:
        return worker(args)
    peers = _available(args.peers)
    sides = {"lstmlab"} if args.isolate else {"lstmlab"} | peers
    env_changes = _import_sides(sides, log)
    args.canary_base = quiet.canary_base()
    log(f"canary (machine speed reference): {args.canary_base * 1e3:.1f} ms")
    from benchmarks import side_lstmlab
    args.stream = side_lstmlab.has_stream()
    plan = _plan(args, peers)

    # The machine's float32 matmul rate, in this run.
    n = args.matmul_size
    mm = Case("MM", f"float32 {n}×{n} @ {n}×{n}", "numpy", "np.matmul (the rate to hold W4/W6 against)",
              lambda: flops.matmul_case(n), repeats=plan.reps(7, 3), number=1,
              flops=flops.matmul_flops(n), unit="per product")
    if args.repeats:
        mm.repeats = args.repeats
    log(f"matmul rate: {mm.config} ...")
    mm_result = timed(mm, args.wait_quiet, log, args.canary_base)
    matmul_gflops = mm_result.gflops
    results, all_targets = [mm_result], []

    for wid in args.only:
        cases, tgts = workloads.WORKLOADS[wid](plan)
        log(f"{wid}: {workloads.TITLES[wid]} ({len(cases)} rows)")
        done = {}
        if args.isolate:                  # each side in its own fresh process, rows in turns
            done, changes = run_interleaved(wid, cases, args, log)
            env_changes += [c for c in changes if c not in env_changes]
        for i, case in enumerate(cases):
            if i not in done:
                if args.repeats:
                    case.repeats = args.repeats
                done[i] = timed(case, args.wait_quiet, log, args.canary_base)
                _log_row(done[i], log)
                time.sleep(PAUSE)
        results += [done[i] for i in range(len(cases))]
        all_targets += tgts

    link_ratios(results)
    verdicts = []
    for t in all_targets:
        verdicts += targets_mod.judge(t, results, matmul_gflops)

    profiles = []
    if not args.no_profile:
        from benchmarks import profiles as prof_mod
        groups = {}
        for vd in verdicts:
            if vd.met is False or args.profile_all:
                key = (vd.target.wid, vd.target.config, vd.row.case.id)
                groups.setdefault(key, []).append(vd)
        for (wid, cfg, row_id), vds in groups.items():
            log(f"profiling {wid} {cfg} [{vds[0].row.case.how}] ...")
            quiet.wait_quiet(args.wait_quiet, log)
            prof = _profile(prof_mod, vds[0], row_id, matmul_gflops)
            if not isinstance(prof, str) and args.wait_quiet > 0 and (prof.others or 0) >= quiet.BUSY:
                log(f"  others used {prof.others:.2f} cores meanwhile: profiling again")
                quiet.wait_quiet(args.wait_quiet, log)
                again = _profile(prof_mod, vds[0], row_id, matmul_gflops)
                if not isinstance(again, str) and (again.others or 0) < prof.others:
                    prof = again
            profiles.append((vds, prof))

    startup = {}
    if not args.no_startup:
        from benchmarks import startup as startup_mod
        startup = startup_mod.measure_all(peers, log)

    report.print_table(results, base=args.canary_base)
    for vd in verdicts:
        log(f"{vd.target.wid} {vd.target.config} [{vd.row.case.how}] {vd.summary()}")
    ctx = dict(results=results, verdicts=verdicts, profiles=profiles, machine=env.machine(),
               versions=env.versions(), threads=env.thread_report(), startup=startup,
               matmul_gflops=matmul_gflops, matmul_n=n, plan=plan, argv=argv, isolate=args.isolate,
               canary_base=args.canary_base,
               load=(load_before, env.load_average()), revision=revision, env_changes=env_changes,
               elapsed=time.perf_counter() - t_start)
    if args.out:
        report.write(args.out, report.markdown(ctx))
        log(f"wrote {args.out} ({time.perf_counter() - t_start:.0f} s)")
    return ctx


if __name__ == "__main__":
    main()
