"""The results as one rich table on the terminal, and as BENCHMARKS.md."""
import datetime
import os
import shlex

from . import flops
from .quiet import BUSY, SLOW
from .timing import fmt_seconds

COLUMNS = ("W", "configuration", "side", "what is timed", "median", "unit", "start-up",
           "GFLOP/s", "peer ÷ lstmlab", "targets (lstmlab rows)", "spread", "others", "speed")


def _ratio(r):
    return "" if r.ratio is None else f"{r.ratio:.2f}×"


def _gf(r):
    g = r.gflops
    return "" if g is None else f"{g:.1f}"


def _startup(r):
    s = r.startup
    if s is None:
        return ""
    return "≈ 0" if s < max(0.01 * r.median, 1e-6) else fmt_seconds(s)


def row_cells(r, base=None):
    c = r.case
    if r.timing is None:
        err = (r.error or "not run").splitlines()[0]
        return [c.wid, c.config, c.side, c.how, "failed", c.unit, "", "", "", err[:120], "", "", ""]
    targets = "; ".join(v.summary() for v in r.verdicts)
    others = "" if r.others is None else f"{r.others:.2f}" + (" ⚠" if r.others >= BUSY else "")
    speed = ""
    if base and r.canary_s:
        speed = f"{r.canary_s / base:.2f}" + (" ⚠" if r.canary_s > SLOW * base else "")
    return [c.wid, c.config, c.side, c.how, fmt_seconds(r.median), c.unit,
            _startup(r), _gf(r), _ratio(r), targets, f"{r.timing.spread:.0%}", others, speed]


def print_table(results, console=None, base=None):
    from rich.console import Console
    from rich.table import Table
    console = console or Console(width=max(200, Console().width))
    table = Table(title="lstmlab vs peers: warm medians; peer ÷ lstmlab > 1 means lstmlab is faster",
                  show_lines=False)
    for name in COLUMNS:
        table.add_column(name, overflow="fold",
                         justify="right" if name in ("median", "start-up", "GFLOP/s", "peer ÷ lstmlab", "spread",
                                                     "others", "speed") else "left")
    last = None
    for r in results:
        key = (r.case.wid, r.case.config)
        if last is not None and key != last:
            table.add_section()
        last = key
        cells = row_cells(r, base)
        style = None
        if r.verdicts:
            style = "green" if all(v.met for v in r.verdicts) else "red"
        if r.timing is None:
            style = "yellow"
        table.add_row(*cells, style=style)
    console.print(table)


def _md_escape(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def markdown(ctx):
    """ctx: dict with results, verdicts, profiles, machine, versions, threads, startup,
    matmul_gflops, plan, argv, elapsed."""
    results, verdicts = ctx["results"], ctx["verdicts"]
    m, v = ctx["machine"], ctx["versions"]
    L = []
    L.append("# Benchmarks: lstmlab against PyTorch and Keras 3\n")
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cmd = "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in ctx["argv"])
    L.append(f"Written by `make bench` (here: `{cmd.strip()}`) on {now}, "
             f"in {ctx['elapsed']:.0f} s. Regenerate it rather than editing it: "
             "`make bench`, or `.venv/bin/python -m benchmarks.run --help` for the options "
             "(`--quick`, `--only W1,W3`, `--peers torch`, `--out FILE`).\n")
    if ctx["plan"].quick:
        L.append("**This is a `--quick` run: fewer repeats; use a full run for decisions.**\n")

    L.append("## Machine\n")
    L.append(f"- CPU: {m['cpu']}; {m['logical_cpus']} logical CPUs, {m['usable_cpus']} usable by "
             f"this process; SIMD: {m['simd']}; {m['os']}")
    L.append("- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    if ctx.get("revision"):
        L.append(f"- lstmlab source measured: {ctx['revision']}")
    L.append("- Threads: " + ", ".join(f"{k}={val}" for k, val in ctx["threads"].items()))
    for name, k, old, new in ctx.get("env_changes") or []:
        L.append(f"- Importing {name} set {k}={new!r} (was {old!r})")
    before, after = ctx.get("load") or (None, None)
    if before and after:
        L.append(f"- Load average (1 min) before the run {before[0]:.2f}, after {after[0]:.2f} "
                 f"(the run itself uses up to 2 cores; a higher figure before means something else "
                 f"was running)")
    if ctx.get("matmul_gflops"):
        L.append(f"- float32 matmul rate (NumPy, {ctx['matmul_n']}×{ctx['matmul_n']} @ "
                 f"{ctx['matmul_n']}×{ctx['matmul_n']}, same run): **{ctx['matmul_gflops']:.0f} GFLOP/s**")
    L.append("")

    L.append("## How it is measured\n")
    L.append(""
        + ("- Every workload runs with lstmlab and each peer in the same run, each side of each "
           "workload in its own fresh Python process (`--isolate`, the default): no library's thread "
           "pools, OpenMP runtime or environment settings can speed up or slow down another's "
           "(measured: PyTorch's W6 step is 40% faster in a process that has imported lstmlab, "
           "whose import sets glibc's malloc thresholds for the whole process; the same setting "
           "by environment, MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_, does the same). "
           "The peers' processes never import lstmlab: they run as a PyTorch or Keras user's would. "
           "The processes of a workload live side by side and take turns: the parent takes one "
           "sample of each row of a configuration, then the next round (the order reversed every "
           "other round, a 20 ms pause between two processes), so that each row's median spans the "
           "same minutes as its peers' and a ratio is not the difference between two moments of "
           "this virtual machine, whose speed changes by up to 1.8× from one minute to the next."
           if ctx.get("isolate") else
           "- Every workload runs with lstmlab and each peer in the same process and the same run "
           "(`--no-isolate`).") +
        " All sides: float32, 2 threads everywhere (NUMBA_NUM_THREADS, OMP/OPENBLAS/MKL_NUM_THREADS = 2, "
        "`torch.set_num_threads(2)`). Keras 3 runs on its torch backend; TensorFlow is used only "
        "if already installed" + (" (it is: tf.keras rows run in their own process)." if ctx["plan"].tensorflow
                                   else " (it is not, so there are no tf.keras rows).") + "\n"
        "- Each row: build the models and data (not timed), call once and time it (**first**), "
        "warm up, then the **median** of N samples with `time.perf_counter` (short calls are "
        "timed in batches and divided; the garbage collector is off while sampling, for every side). "
        "Training steps (W4, W6) are timed as a training loop runs them: each sample is one step "
        "right after an untimed one, on every side, not the first step after the pause between "
        "processes (after 20-40 ms of idle, this VM's second vCPU wakes late and a two-thread "
        "step takes 10-60% longer). "
        "**start-up** = first call − warm median: Numba's compilation or cache load, PyTorch's and "
        "Keras's first-call set-up. It is never part of the medians. Imports and a cold Numba "
        "compile are timed in fresh processes below.\n"
        "- **peer ÷ lstmlab** = the peer's median ÷ the median of the group's first lstmlab row "
        "(> 1: lstmlab is faster). Targets are judged on that row, and in W5 also on "
        "`generate_text`'s own loops (the compiled stateful loop, the windows in flight). In W3 "
        "and W5 stateful the first row is the public streaming API "
        "(`stream.step`), as the issue asks; `engine.step` rows are the kernel's step called by "
        "hand, for reference.\n"
        "- **spread** = (slowest − fastest sample) ÷ median. **others** = CPU cores the rest of the "
        "machine used while the row was timed (/proc/stat minus the benchmark's own processes). The "
        "machine is shared: before each row (each configuration, when its rows take turns) the run "
        f"waits for the others to drop below {BUSY} cores, and re-times once what was disturbed; "
        "⚠ marks rows still disturbed. "
        "**speed** = a fixed canary job (NumPy 64×64 products and a Python loop) timed before and "
        "after the row (or the configuration), divided by its best time at the start of the run: the "
        "machine is virtual and its cores slow down at times with nothing here using them (seen: "
        f"1.3×); ⚠ above {SLOW}. Rows timed one after another are re-timed once when that slow; "
        "rows that took turns are not, as every side of them ran on the same slow machine.\n"
        f"- FLOPs (W4, W6): {flops.FORMULA}. D = input features, H = units, V = the head's "
        "outputs, B batch, T timesteps. The same count for every side, so GFLOP/s ratios are time ratios. "
        "W4's share of the matmul rate divides by the NumPy product timed in turns with the "
        "LSTM(256) rows (its own process, 2 threads), not by the MM row timed at the start.\n"
        "- W1 times the whole program, model construction included, as a user runs it. The "
        "PyTorch loop does 300 Adam steps on the one batch of 5 (Keras's fit with batch_size=32 "
        "does one batch per epoch), reading the loss with `.item()` each step, then a no_grad predict.\n"
        "- W2 and W5 use untrained models (weights do not change the time). "
        f"W5 times {ctx['plan'].w5_chars} characters and scales to 1000; the state after the "
        "100-character seed is computed outside the timed loop for the stateful loops; "
        "`generate_text`'s windows in flight start every sample from the seed's window, so each "
        "pays for filling the pipeline (99 batched steps), which a generation of 1000 pays once; "
        "argmax stands in for sampling on every side.\n"
        "- W3 carries (h, c) over 1000 steps per sample and reports per step.\n"
        "- Profiles (missed targets only) time lstmlab's own pieces one at a time, run cProfile, "
        "and for W4/W6 re-time engine.forward + backward in fresh processes under other thread "
        "settings (`benchmarks/threads_probe.py`): OpenBLAS and Numba fix their thread pools when "
        "they load, and NUMBA_NUM_THREADS also sizes the pool that runs the engine's shares; "
        "they also time a loop on registers and L1 on one thread and on two side by side "
        "(`benchmarks/cores_probe.py`): how much arithmetic the second vCPU adds in those minutes; "
        "the loop is one thread's per-step product at the step's shape, and the step is timed in "
        "turns with it, for a floor: what the step's products alone cost at that rate.\n")

    L.append("## Results\n")
    L.append(md_table(COLUMNS, [row_cells(r, ctx.get("canary_base")) for r in results]))
    L.append("")

    su = ctx.get("startup") or {}
    if su:
        L.append("## Start-up (each in a fresh process)\n")
        L.append(md_table(("what", "seconds"),
                          [(k, val if isinstance(val, str) else f"{val:.2f}") for k, val in su.items()]))
        L.append("")

    L.append("## Targets\n")
    rows = []
    for vd in verdicts:
        t = vd.target
        rows.append((t.wid, t.config, vd.row.case.how, t.text, vd.value_text, vd.mark,
                     "" if vd.met is not False else f"{vd.needed:.2f}× faster", vd.note))
    L.append(md_table(("W", "configuration", "lstmlab row", "target", "achieved", "verdict",
                       "gap: lstmlab needs", "note"), rows))
    met = sum(1 for vd in verdicts if vd.met)
    L.append(f"\n{met} of {len(verdicts)} met.\n")

    profiles = ctx.get("profiles") or []
    if profiles:
        L.append("## Missed targets: gap, profile, reason\n")
        L.append("Profiles are of the lstmlab side only. In the phase tables, indented "
                 "phases (↳) are inside the phase above them.\n")
    for group_verdicts, prof in profiles:
        heads = "; ".join(f"{vd.target.text} ({vd.row.case.how}): {vd.value_text}"
                          + (f", needs {vd.needed:.2f}× faster" if vd.met is False else ", met")
                          for vd in group_verdicts)
        t0 = group_verdicts[0].target
        L.append(f"### {t0.wid} — {t0.config} — {group_verdicts[0].row.case.how}\n")
        L.append(f"Gap: {heads}.\n")
        if isinstance(prof, str):
            L.append(f"Profile failed: {prof}\n")
            continue
        busy = ("" if prof.others is None else
                f"; other processes used {prof.others:.2f} cores meanwhile"
                + (" ⚠ disturbed" if prof.others >= BUSY else ""))
        L.append(f"**Profile: {prof.title}** ({prof.unit}{busy})\n")
        prow, base = [], prof.total
        for ph in prof.phases:
            if ph.level == 0:
                base = ph.seconds
            name = ("    " * max(ph.level - 0, 0)) + ("↳ " if ph.level else "") + ph.name
            share = (f"{ph.seconds / base:.0%}" if ph.seconds is not None and base
                     and ph.level else "")
            prow.append((name.replace("    ", "&nbsp;&nbsp;"), fmt_seconds(ph.seconds)
                         if ph.seconds is not None else "", share, ph.note))
        L.append(md_table(("phase", "time", "share of the unindented row above", "note"), prow))
        L.append("")
        if prof.findings:
            L.append("Reason, from the measurements:\n")
            L += [f"- {f}" for f in prof.findings]
            L.append("")
        if prof.top:
            L.append(f"cProfile top 10 by own time, per call of {prof.top_of} "
                     f"(averaged over {prof.top_calls}; cProfile's own overhead inflates "
                     f"small functions):\n")
            L.append("```")
            L.append(f"{'calls':>9} {'own':>10} {'cumulative':>11}  function")
            for nc, tt, ct, where in prof.top:
                L.append(f"{nc:>9.1f} {fmt_seconds(tt):>10} {fmt_seconds(ct):>11}  {where}")
            L.append("```\n")
    return "\n".join(L) + "\n"


def write(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
