"""Where lstmlab's time goes, for a missed target: a per-phase breakdown and a cProfile top-10.

The breakdowns call the library's own pieces (Sequential.forward/backward,
the loss, the optimizer, lstmlab.engine) one at a time on the workload's
shapes and time each warm, as `timing.measure` does. Phases marked "↳" are
inside the phase above them. A phase that cannot be timed (an internal API
changed) says so instead of stopping the run. Nothing here edits lstmlab.
(Named profiles.py, not profile.py: that would shadow the module cProfile imports.)
"""
import cProfile
import io
import os
import pstats
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import data
from . import side_lstmlab as lab
from .timing import fmt_seconds, measure


@dataclass
class Phase:
    name: str
    seconds: Optional[float]
    note: str = ""
    level: int = 0            # 1 = inside the phase above


@dataclass
class Profile:
    title: str
    unit: str                 # what `total` is: "per epoch", "per step", ...
    total: Optional[float]
    phases: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    top: list = field(default_factory=list)       # cProfile rows, per call of `top_of`
    top_calls: int = 0                            # how many calls were profiled
    top_of: str = ""                              # what one profiled call is
    others: Optional[float] = None                # cores other processes used meanwhile


def _median(fn, repeats=7, min_time=0.01):
    return measure(fn, repeats=repeats, min_time=min_time).median


class Breakdown:
    """Collects phases; each phase a callable timed warm, or an error note."""

    def __init__(self):
        self.phases = []
        self.values = {}

    def add(self, key, name, fn=None, level=0, seconds=None, note="", repeats=7, per=1.0):
        if seconds is None and fn is not None:
            try:
                seconds = _median(fn, repeats) * per
            except Exception as e:   # noqa: BLE001
                note = f"not timed: {type(e).__name__}: {str(e)[:120]}"
                seconds = None
        self.values[key] = seconds
        self.phases.append(Phase(name, seconds, note, level))
        return seconds

    def get(self, key):
        return self.values.get(key)


def cprofile_top(fn, calls, n=10):
    """The n functions with the most own time over `calls` warm calls: rows of
    (calls per run, own time per run, cumulative time per run, function)."""
    rows, _ = cprofile(fn, calls, n)
    return rows


def cprofile(fn, calls, n=10):
    """(top-n rows as in cprofile_top, {'Numba kernels': s, 'NumPy/C builtins': s, 'Python': s}
    own time per call by kind). A Numba dispatcher shows in cProfile under its Python
    function's name; its own time is the compiled code (BLAS calls inside it included)."""
    fn()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    compiled = _numba_keys()
    rows = []
    split = {"Numba kernels": 0.0, "NumPy/C builtins": 0.0, "Python": 0.0}
    for (path, line, name), (cc, nc, tt, ct, _) in stats.stats.items():
        if "_lsprof" in name:
            continue
        kind = ("Numba kernels" if (path, line, name) in compiled else
                "NumPy/C builtins" if path == "~" else "Python")
        split[kind] += tt / calls
        rows.append((nc / calls, tt / calls, ct / calls, _where(path, line, name)))
    rows.sort(key=lambda r: r[1], reverse=True)
    return rows[:n], split


def _numba_keys():
    """(file, first line, name) of every Numba-compiled function in lstmlab's loaded modules."""
    import sys
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return set()
    keys = set()
    for mod_name, mod in list(sys.modules.items()):
        if not mod_name.startswith("lstmlab") or mod is None:
            continue
        for value in list(vars(mod).values()):
            if isinstance(value, Dispatcher):
                code = value.py_func.__code__
                keys.add((code.co_filename, code.co_firstlineno, code.co_name))
    return keys


def split_finding(split, unit):
    total = sum(split.values())
    if not total:
        return []
    return ["cProfile's split of the time " + unit + ": " + "; ".join(
        f"{k} {fmt_seconds(v)} ({v / total:.0%})" for k, v in split.items())
        + " (cProfile adds ~0.1-0.5 µs to each Python call it sees, so Python is overstated a little)."]


def _where(path, line, name):
    if path == "~":
        return name                                    # a builtin: "<method 'dot' ...>"
    parts = path.replace(os.sep, "/").split("/")
    for anchor in ("lstmlab", "torch", "numpy", "numba", "keras", "benchmarks"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return f"{'/'.join(parts[i:])}:{line}({name})"
    return f"{parts[-1]}:{line}({name})"


# -- the Numba dispatch floor --------------------------------------------------------------------
_noop = {}


def dispatch_floor(n_args):
    """Seconds to call a compiled function that does nothing, with n_args float32 (B, H) arrays:
    what crossing from Python into Numba costs before any work."""
    from numba import njit
    if n_args not in _noop:
        names = ", ".join(f"a{i}" for i in range(n_args))
        ns = {}
        exec(f"def f({names}):\n    return 0\n", ns)     # a function of exactly n_args arguments
        _noop[n_args] = njit(ns["f"])
    f = _noop[n_args]
    args = [np.zeros((1, 8), np.float32) for _ in range(n_args)]
    return _median(lambda: f(*args))


def _share_findings(bd, total, keys_engine, unit):
    """One sentence: how much of the total the compiled engine is, how much is around it."""
    eng = sum(bd.get(k) or 0.0 for k in keys_engine)
    if not total or not eng:
        return []
    if eng >= total:
        return [f"The compiled engine calls take all of the {fmt_seconds(total)} {unit} "
                f"(timed alone: {fmt_seconds(eng)}); nothing measurable is around them."]
    return [f"The compiled engine calls take {fmt_seconds(eng)} of the {fmt_seconds(total)} {unit} "
            f"({eng / total:.0%}); the other {fmt_seconds(total - eng)} ({1 - eng / total:.0%}) "
            f"is Python and NumPy around them."]


def _largest(bd, total, n=3, level=0):
    ranked = sorted((p for p in bd.phases if p.seconds is not None and p.level == level),
                    key=lambda p: p.seconds, reverse=True)[:n]
    if not ranked or not total:
        return []
    return ["Largest phases: " + "; ".join(f"{p.name} {fmt_seconds(p.seconds)} ({p.seconds / total:.0%})"
                                           for p in ranked) + "."]


# -- W1 ---------------------------------------------------------------------------------------------
def profile_w1(epochs=300):
    from lstmlab import engine
    X, y = data.seed_data()
    bd = Breakdown()
    program = lab.seed_program(X, y, epochs)
    total = bd.add("program", "whole program (build, compile, fit 300 epochs, predict)",
                   program, repeats=5)
    bd.add("build", "build + compile a model", lambda: lab.seed_model(), level=1)
    model = lab.seed_model()
    fit = bd.add("fit", f"fit, {epochs} epochs", lambda: model.fit(X, y, epochs=epochs, shuffle=False,
                                                                    verbose=0), level=1, repeats=5)
    bd.add("predict", "predict", lambda: model.predict(X, verbose=0), level=1)
    per_epoch = fit / epochs if fit else None
    p = Profile("W1: the seed program", "per program", total)
    # Per epoch: one batch of 5 = one training step.
    e = Breakdown()
    e.add("epoch", "one epoch inside fit (fit ÷ 300)", seconds=per_epoch)
    step = e.add("step", "Trainer._train_step (forward, loss, backward, Adam)",
                 lambda: model._train_step(X, y), level=1)
    try:
        y_pred, caches = model.forward(X, training=True)
        g = model.loss.gradient(y, y_pred)
        grads = model.backward(g, caches)
    except Exception as ex:   # noqa: BLE001
        y_pred = caches = g = grads = None
        e.add("x", f"phases not timed: {type(ex).__name__}: {ex}", seconds=None)
    if grads is not None:
        e.add("fwd", "Sequential.forward(training=True)", lambda: model.forward(X, training=True), level=2)
        lstm = model.layers[0]
        W, U, b = lstm.get_weights()
        h0 = np.zeros((5, 10), np.float32)
        out = engine.forward(X, W, U, b, h0, h0)
        e.add("efwd", "engine.forward (LSTM kernel)", lambda: engine.forward(X, W, U, b, h0, h0), level=3)
        e.add("loss", "loss value", lambda: float(model.loss(y, y_pred)), level=2)
        e.add("grad", "loss gradient", lambda: model.loss.gradient(y, y_pred), level=2)
        e.add("bwd", "Sequential.backward", lambda: model.backward(g, caches), level=2)
        dout = np.zeros((5, 1, 10), np.float32)
        e.add("ebwd", "engine.backward (LSTM kernel)",
              lambda: engine.backward(dout, h0, h0, out[3]), level=3)
        params = model.trainable_weights
        e.add("adam", "optimizer.apply (Adam, 5 arrays)",
              lambda: model.optimizer.apply(grads, params), level=2)
        e.add("floor", "Numba dispatch floor, one 12-argument call", seconds=dispatch_floor(12), level=3)
    if per_epoch and step:
        e.add("loop", "fit's loop around the step (callbacks, logs, progress, slicing)",
              seconds=per_epoch - step, level=1)
    p.phases = bd.phases + [Phase("— per epoch —", None)] + e.phases
    p.findings += _w1_findings(e, per_epoch, epochs, total, bd)
    p.top_calls, p.top_of = 2, f"model.fit({epochs} epochs)"
    p.top, split = cprofile(lambda: model.fit(X, y, epochs=epochs, shuffle=False, verbose=0), p.top_calls)
    p.findings += split_finding(split, f"per fit of {epochs} epochs")
    p.unit = "per fit of 300 epochs (cProfile); phases per program and per epoch"
    return p


def _w1_findings(e, per_epoch, epochs, total, bd):
    out = []
    if not per_epoch:
        return out
    eng = (e.get("efwd") or 0) + (e.get("ebwd") or 0)
    out.append(f"One epoch costs {fmt_seconds(per_epoch)}; the two engine kernels take "
               f"{fmt_seconds(eng)} of it ({eng / per_epoch:.0%}). The rest is Python per epoch: "
               + ", ".join(f"{name} {fmt_seconds(e.get(k))}" for k, name in
                           (("fwd", "forward"), ("loss", "loss"), ("grad", "loss gradient"),
                            ("bwd", "backward"), ("adam", "Adam"), ("loop", "fit's loop"))
                           if e.get(k) is not None) + ".")
    if e.get("floor"):
        out.append(f"Floor: a Numba call costs {fmt_seconds(e.get('floor'))} before any work; "
                   f"an epoch makes at least 2 (forward, backward loops), plus NumPy's BLAS and "
                   f"ufunc calls, each ~1 µs.")
    if total:
        out.append(f"Per program: fit {fmt_seconds(bd.get('fit'))}, build + compile "
                   f"{fmt_seconds(bd.get('build'))}, predict {fmt_seconds(bd.get('predict'))}: "
                   f"the 300 epochs are the whole cost.")
    return out


# -- W2 ------------------------------------------------------------------------------------------------
def profile_w2():
    from lstmlab import engine
    X, _ = data.seed_data()
    model = lab.seed_model()
    bd = Breakdown()
    total = bd.add("predict", "model.predict(X, verbose=0)", lambda: model.predict(X, verbose=0))
    bd.add("call", "model(X)", lambda: model(X), level=1)
    bd.add("fwd", "Sequential.forward(X)", lambda: model.forward(X), level=1)
    lstm, dense = model.layers
    bd.add("lstm", "LSTM.forward", lambda: lstm.forward(X), level=2)
    W, U, b = lstm.get_weights()
    h0 = np.zeros((5, 10), np.float32)
    bd.add("eng", "engine.forward", lambda: engine.forward(X, W, U, b, h0, h0), level=3)
    hX = lstm.forward(X)[0]
    bd.add("dense", "Dense.forward", lambda: dense.forward(hX), level=2)
    if total and bd.get("call"):
        bd.add("over", "predict's own overhead (batching, progress bar, concatenate) = predict − model(X)",
               seconds=total - bd.get("call"), level=1)
    bd.add("floor", "Numba dispatch floor, one 12-argument call", seconds=dispatch_floor(12), level=1)
    p = Profile("W2: one predict call", "per predict call", total, bd.phases)
    p.findings += _share_findings(bd, total, ("eng",), "per call")
    p.top_calls, p.top_of = 1000, "model.predict(X, verbose=0)"
    p.top, split = cprofile(lambda: model.predict(X, verbose=0), p.top_calls)
    p.findings += split_finding(split, "per predict")
    return p


# -- W3 -------------------------------------------------------------------------------------------------
def profile_w3(D, H):
    """engine.step at batch 1: the Python wrapper, the Numba call, the products inside."""
    from lstmlab import engine
    W, U, b = data.lstm_weights(D, H)
    x, h, c = data.step_input(D, H)
    bd = Breakdown()
    total = bd.add("step", "engine.step (one call)", lambda: engine.step(x, W, U, b, h, c))
    bd.add("floor", "Numba dispatch floor, one 11-argument call", seconds=dispatch_floor(11), level=1)
    bd.add("npdot", "for scale: NumPy x·W + h·U from Python (2 BLAS calls, 3 temporaries)",
           lambda: np.dot(x, W) + np.dot(h, U))
    xh = np.concatenate([x, h], axis=1)
    WU = np.concatenate([W, U], axis=0)
    out = np.empty((1, 4 * H), np.float32)
    bd.add("npdot1", "for scale: the same as one product [x, h]·[W; U] into a preallocated output",
           lambda: np.dot(xh, WU, out))
    p = Profile(f"W3: engine.step, D={D}, H={H}", "per step", total, bd.phases)
    p.top_calls, p.top_of = 5, "a loop of 1000 engine.step calls"
    p.top, split = cprofile(lab.engine_steps(W, U, b, x, h, c, 1000), p.top_calls)
    split = {k: v / 1000 for k, v in split.items()}
    p.findings += split_finding(split, "per step")
    wbytes = (W.nbytes + U.nbytes)
    p.findings.append(f"The weights W and U are {wbytes / 1024:.0f} KiB, all read once per step "
                      f"(matrix-vector products at batch 1: bound by memory, not arithmetic); "
                      f"at {fmt_seconds(total)} per step that is {wbytes / total / 1e9:.1f} GB/s.")
    return p


def profile_w3_stream(D, H):
    """Sequential.stream(1).step on a model of LSTM(H) alone, against engine.step on the same weights."""
    from lstmlab import engine
    from lstmlab.layers import LSTM
    from lstmlab.models import Sequential
    x, h, c = data.step_input(D, H)
    model = Sequential([LSTM(H, input_shape=(1, D))])
    W, U, b = model.layers[0].get_weights()
    stream = model.stream(batch_size=1)
    bd = Breakdown()
    total = bd.add("stream", "stream.step(x_t) (one call)", lambda: stream.step(x))
    eng = bd.add("eng", "engine.step on the same weights", lambda: engine.step(x, W, U, b, h, c), level=1)
    if total and eng:
        bd.add("over", "the stream's own cost per step = stream.step − engine.step",
               seconds=total - eng, level=1)
    p = Profile(f"W3: stream.step, D={D}, H={H}", "per step", total, bd.phases)
    p.top_calls, p.top_of = 3, "a loop of 1000 stream.step calls"

    def loop():
        for _ in range(1000):
            stream.step(x)
    p.top, split = cprofile(loop, p.top_calls)
    p.findings += split_finding({k: v / 1000 for k, v in split.items()}, "per step")
    if total and eng:
        p.findings.append(f"stream.step costs {total / eng:.2f}× engine.step on the same weights"
                          + (f": {fmt_seconds(total - eng)} per step is the stream, not the LSTM."
                             if total > eng else "."))
    return p


# -- W4, W6: one training step ----------------------------------------------------------------------------
def profile_train(model, x, y, title, matmul_gflops=None, torch_step=None, probe=True, needed=None):
    """One training step, phase by phase, against a floor: the same matrix products done by
    NumPy alone. engine time − floor = everything that is not those products (the pointwise
    gate passes, synchronisation between threads, memory traffic, Python)."""
    from lstmlab import engine
    try:
        from lstmlab.engine import kernels
        threshold = getattr(kernels, "PARALLEL_MIN_CELLS", None)
    except Exception:   # noqa: BLE001
        threshold = None
    B, T, D = x.shape
    lstm, dense = model.layers[0], model.layers[-1]
    H = lstm.units
    bd = Breakdown()
    total = bd.add("step", "model.train_on_batch", lambda: model.train_on_batch(x, y), repeats=5)
    # A character model's step runs forward, head and backward in each thread's one share
    # (lstmlab/models/classifier_step.py); the general step's phases below are then for comparison.
    from lstmlab.models import classifier_step
    one_share = classifier_step.train_step(model, x, y) is not None
    if one_share:
        bd.add("share", "classifier_step.train_step: each thread's rows through forward, head and loss, "
               "backward", lambda: classifier_step.train_step(model, x, y), level=1, repeats=5)
    aside = "the general step's " if one_share else ""
    y_pred, caches = model.forward(x, training=True)
    bd.add("fwd", f"{aside}Sequential.forward(training=True)", lambda: model.forward(x, training=True),
           level=1 + one_share, repeats=5,
           note="not part of the step: the same work split as the general step splits it, for comparison"
           if one_share else "")
    W, U, b = lstm.get_weights()
    h0 = np.zeros((B, H), np.float32)
    bd.add("efwd", "engine.forward (LSTM)", lambda: engine.forward(x, W, U, b, h0, h0),
           level=2 + one_share, repeats=5)
    bd.add("dense", "Dense forward (+ softmax)", lambda: dense.forward(np.zeros((B, H), np.float32)),
           level=2 + one_share)
    fused = model._fused_logits()
    if fused:
        bd.add("loss", f"{aside}loss value + fused softmax-cross-entropy gradient",
               lambda: (float(model.loss(y, y_pred)), model.loss.gradient_logits(y, caches[-1].z)),
               level=1 + one_share)
        dz = model.loss.gradient_logits(y, caches[-1].z)
    else:
        bd.add("loss", "loss value + gradient",
               lambda: (float(model.loss(y, y_pred)), model.loss.gradient(y, y_pred)), level=1)
        dz = model.loss.gradient(y, y_pred)
    bd.add("bwd", f"{aside}Sequential.backward", lambda: model.backward(dz, caches, from_logits=fused),
           level=1 + one_share, repeats=5)
    _, _, _, cache = engine.forward(x, W, U, b, h0, h0)
    dout = np.zeros((B, T, H), np.float32)
    dout[:, -1] = np.random.default_rng(0).standard_normal((B, H)).astype(np.float32)
    bd.add("ebwd", "engine.backward (LSTM; the first layer: no input gradient)",
           lambda: engine.backward(dout, h0, h0, cache, inputs=False), level=2 + one_share,
           repeats=5)
    grads = model.backward(dz, caches, from_logits=fused)
    params = model.trainable_weights
    bd.add("adam", "optimizer.apply (Adam)", lambda: model.optimizer.apply(grads, params), level=1)
    loss_value = float(model.loss(y, y_pred))
    bd.add("checks", "train_on_batch's own checks and logs",
           lambda: (model._arrays(x, y), model._check_targets(x, y),
                    model._logs_for_batch(loss_value, y, y_pred, False)), level=1)
    parts = [bd.get(k) for k in (("share",) if one_share else ("fwd", "loss", "bwd")) + ("adam", "checks")]
    if total and all(v is not None for v in parts):
        rest = total - sum(parts)
        bd.add("other", "the rest: the phases above run slower inside the step than each timed alone",
               seconds=rest, level=1,
               note=("caches the other phases left cold, the threads' start after Python" if rest >= 0
                     else "negative: the phases, timed one by one, vary more than this"))
    # The floor: the same products in NumPy (its BLAS, 2 threads), nothing else.
    rng = np.random.default_rng(0)
    xf = rng.standard_normal((T * B, D)).astype(np.float32)
    hb = rng.standard_normal((B, H)).astype(np.float32)
    zb = rng.standard_normal((B, 4 * H)).astype(np.float32)
    zf = rng.standard_normal((T * B, 4 * H)).astype(np.float32)
    hf = rng.standard_normal((T * B, H)).astype(np.float32)
    UT = np.ascontiguousarray(U.T)
    # One-hot (sparse) and narrow inputs are added row by row inside the engine's loop, and W's
    # gradient summed the same way: no x W or xᵀ dz product to hold the engine against.
    from lstmlab.engine.projection import inline
    lookup = bool(inline(np.ascontiguousarray(x, np.float32).reshape(T * B, D)))
    if lookup:
        bd.add("f_proj", "floor: input projection", note="none: the inputs are one-hot (or narrow), "
               "and the engine adds their rows of W inside the loop")
        proj = 0.0
    else:
        proj = bd.add("f_proj", f"floor: input projection, ({T * B}, {D})·({D}, {4 * H}), one product",
                      lambda: xf @ W, repeats=5)
    rec = bd.add("f_rec", f"floor: {T} recurrent products ({B}, {H})·({H}, {4 * H}), one per step",
                 lambda: hb @ U, per=T)
    brec = bd.add("f_brec", f"floor: {T} backward products ({B}, {4 * H})·({4 * H}, {H}), one per step",
                  lambda: zb @ UT, per=T)
    if lookup:
        wg = bd.add("f_wg", "floor: weight gradient dU, one product over all steps (dW: rows summed "
                    "in the loop)", lambda: hf.T @ zf, repeats=5)
    else:
        wg = bd.add("f_wg", "floor: weight gradients dW, dU, one product each over all steps",
                    lambda: (xf.T @ zf, hf.T @ zf), repeats=5)
    f = []
    ef, eb = bd.get("efwd"), bd.get("ebwd")
    fwd_fl = 2.0 * T * B * (D + H) * 4 * H
    if ef and proj is not None and rec:
        floor = proj + rec
        head = (f"Forward: engine.forward takes {fmt_seconds(ef)} ({fwd_fl / ef / 1e9:.0f} GFLOP/s "
                f"as counted for every side); the same products in NumPy take {fmt_seconds(floor)} ("
                + (f"projection {fmt_seconds(proj)} + " if proj else "")
                + f"{T} × {fmt_seconds(rec / T)}). ")
        f.append(head + (f"The other {fmt_seconds(ef - floor)} ({(ef - floor) / ef:.0%}), "
                         f"{fmt_seconds((ef - floor) / T)} per step, is gates, synchronisation and memory."
                         if ef > floor else
                         "The engine is already at or below that floor: what is left is the products "
                         "themselves (fewer, larger or better-shaped products, not less overhead)."))
    if eb and brec and wg:
        floor = brec + wg
        head = (f"Backward: engine.backward takes {fmt_seconds(eb)}; its products in NumPy take "
                f"{fmt_seconds(floor)} ({T} × {fmt_seconds(brec / T)} for dz·Uᵀ, "
                f"{fmt_seconds(wg)} for {'dU' if lookup else 'dW and dU'}). ")
        f.append(head + (f"The other {fmt_seconds(eb - floor)} ({(eb - floor) / eb:.0%}) is gate "
                         "derivatives" + (", W's gradient summed row by row" if lookup else "")
                         + ", synchronisation and memory." if eb > floor else
                         "The engine is already at or below that floor."))
    if matmul_gflops:
        f.append(f"The machine's float32 matmul rate in this run: {matmul_gflops:.0f} GFLOP/s; the "
                 f"per-step products ({B}, {H})·({H}, {4 * H}) reach "
                 f"{2.0 * B * H * 4 * H / (rec / T) / 1e9:.0f} GFLOP/s in NumPy: small products "
                 f"cannot run at the large-matmul rate." if rec else "")
    if threshold is not None:
        cells = B * H
        f.append(f"Parallel threshold: B·H = {cells} cells per step "
                 f"{'≥' if cells >= threshold else '<'} PARALLEL_MIN_CELLS = {threshold} "
                 f"({'the threads split the work' if cells >= threshold else 'one thread'}).")
    f += _largest(bd, total, level=1)
    f.append(_process_threads())
    if probe:
        f += _thread_probe(bd, B, T, D, H)
        try:
            from .cores_probe import Probe
            how, parts = kernels._plan(B, H)
            # One thread's per-step product: its rows when the threads split the batch.
            if how == "batch":
                cores = Probe(n=-(-B // parts), H=H, step=lambda: model.train_on_batch(x, y))
                f += [cores.finding(), cores.floor(T, needed)]
            else:
                f.append(Probe().finding())
        except Exception as e:   # noqa: BLE001
            f.append(f"Two threads side by side: not measured ({type(e).__name__}: {str(e)[:100]}).")
    if torch_step is not None:
        try:
            f.append(f"PyTorch's whole step for the same shapes: {fmt_seconds(_median(torch_step, 5))}.")
        except Exception:   # noqa: BLE001
            pass
    p = Profile(title, "per training step", total, bd.phases, [s for s in f if s])
    p.top_calls, p.top_of = 3, "model.train_on_batch(x, y)"
    p.top, split = cprofile(lambda: model.train_on_batch(x, y), p.top_calls)
    p.findings += split_finding(split, "per training step")
    return p


def _process_threads():
    """This process's thread state: how many OS threads, and whether Numba launched its pool."""
    from .threads_probe import _os_threads
    try:
        import numba
        layer = numba.threading_layer()
    except Exception:   # noqa: BLE001
        layer = "not launched (no parallel region has started Numba's workers)"
    return (f"In the benchmark process: {_os_threads()} OS threads; Numba threading layer: {layer}; "
            f"numba.get_num_threads() = {_numba_threads()}.")


def _numba_threads():
    try:
        import numba
        return numba.get_num_threads()
    except Exception:   # noqa: BLE001
        return "n/a"


def _thread_probe(bd, B, T, D, H, rounds=2):
    """engine.forward + backward at this shape under other thread settings, each in a fresh process.

    The thread settings take turns, `rounds` times, and each keeps its fastest process: the
    machine's slow stretches (see quiet.canary) then weigh on no setting more than on another.
    The empty-cache setting, which compiles every kernel (about 30 s), takes its turns too: from
    a single process it once read 10.5 ms against the cached kernels' 13.7 ms (the faster of
    two), a gap that four pairs of processes in turns then did not show (forward 5.25-6.75
    against 4.73-6.60 ms); one process is the luck of its minute.
    """
    from . import threads_probe
    out, best, runs = [], {}, {}
    for k in range(rounds):
        for label, nt, fresh in threads_probe.SETTINGS:
            runs[label] = runs.get(label, 0) + 1
            try:
                r = threads_probe.probe(B, T, D, H, nt, fresh)
            except Exception as e:   # noqa: BLE001
                best.setdefault(label, f"failed: {str(e)[:100]}")
                continue
            old = best.get(label)
            if not isinstance(old, dict) or r["forward"] + r["backward"] < old["forward"] + old["backward"]:
                best[label] = r
    for label, nt, fresh in threads_probe.SETTINGS:
        r = best.get(label)
        if not isinstance(r, dict):
            bd.add(f"probe{nt}{fresh}", f"threads: {label}", seconds=None, note=str(r))
            continue
        bd.add(f"probe{nt}{fresh}", f"engine.forward + backward alone, fresh process, {label}",
               seconds=r["forward"] + r["backward"],
               note=(f"the faster of {runs[label]} processes, the settings taking turns; "
                     if runs.get(label, 1) > 1 else "") +
                    f"forward {fmt_seconds(r['forward'])} (spread {r['forward_spread']:.0%}; "
                    f"per step {fmt_seconds(r['forward'] / T)}, of which one thread's h·U product, "
                    f"{r.get('step_product_what', '')}, takes {fmt_seconds(r['step_product'])}), backward "
                    f"{fmt_seconds(r['backward'])}; {r['os_threads']} OS threads, Numba threading layer: "
                    f"{r['numba_layer']}")
    two, one = (best.get(label) for label, _, _ in threads_probe.SETTINGS[:2])
    if isinstance(two, dict) and isinstance(one, dict):
        t2, t1 = two["forward"] + two["backward"], one["forward"] + one["backward"]
        out.append(f"Threads: a second thread (NUMBA_NUM_THREADS=2) makes engine.forward + backward "
                   f"{t1 / t2:.2f}× faster ({fmt_seconds(t1)} on one, {fmt_seconds(t2)} on two)"
                   + (": at this shape it costs more than it brings." if t2 > t1 else "."))
    return out


def profile_w4(H, matmul_gflops=None, needed=None):
    from .workloads import W4_B, W4_T, W4_V
    x, labels, y = data.one_hot_batch(W4_B, W4_T, W4_V)
    model = lab.char_model(W4_T, W4_V, H)
    return profile_train(model, x, y, f"W4: training step, LSTM({H})", matmul_gflops, needed=needed)


def profile_w6(matmul_gflops=None, needed=None):
    from .workloads import W6_B, W6_T, W6_V, W6_H
    x, labels, y = data.scaled_batch(W6_B, W6_T, W6_V)
    model = lab.tutorial_model(W6_T, W6_V, W6_H)
    return profile_train(model, x, y, "W6: the tutorial's training step", matmul_gflops, needed=needed)


# -- W5 ------------------------------------------------------------------------------------------------------
def profile_w5_window():
    from lstmlab import engine
    from .workloads import W5_V, W5_H  # noqa: F401
    V, H = W5_V, W5_H
    model = lab.char_model(lab.WINDOW, V, H)
    eye = np.eye(V, dtype=np.float32)
    seed = data.seed_text(lab.WINDOW, V)
    x = eye[seed][None]
    bd = Breakdown()
    total = bd.add("char", "one character: model.predict on the (1, 100, 60) window",
                   lambda: model.predict(x, verbose=0))
    bd.add("call", "model(x)", lambda: model(x), level=1)
    W, U, b = model.layers[0].get_weights()
    h0 = np.zeros((1, H), np.float32)
    bd.add("eng", "engine.forward over 100 steps", lambda: engine.forward(x, W, U, b, h0, h0), level=2)
    bd.add("onehot", "building the one-hot window (NumPy fancy index)", lambda: eye[seed][None])
    p = Profile("W5: window generation", "per character", total, bd.phases)
    if bd.get("eng"):
        p.findings.append(f"engine.forward over the window: {fmt_seconds(bd.get('eng') / lab.WINDOW)} "
                          f"per timestep at batch 1 (a (1, 256)·(256, 1024) matrix-vector product + gates).")
    p.findings += _share_findings(bd, total, ("eng",), "per character")
    p.top_calls, p.top_of = 2, "generating 20 characters"
    p.top, split = cprofile(lab.window_generate(model, seed, V, 20), p.top_calls)
    p.findings += split_finding({k: v / 20 for k, v in split.items()}, "per character")
    return p


def _w5_model():
    """W5's character model, its one-hot table, weights (W, U, b), head (Wd, bd) and a zero h (1, H)."""
    from .workloads import W5_V, W5_H
    model = lab.char_model(lab.WINDOW, W5_V, W5_H)
    W, U, b = model.layers[0].get_weights()
    Wd, bd_ = model.layers[-1].get_weights()
    return model, np.eye(W5_V, dtype=np.float32), (W, U, b), (Wd, bd_), np.zeros((1, W5_H), np.float32)


def profile_w5_stateful():
    from lstmlab import engine
    model, eye, (W, U, b), (Wd, bd_), h = _w5_model()
    V = eye.shape[0]
    seed = data.seed_text(lab.WINDOW, V)
    bd = Breakdown()
    total = bd.add("char", "one character (step + head + argmax)",
                   lab.stateful_generate(model, seed, V, 100), per=1 / 100)
    bd.add("step", "engine.step (1, 60) -> h, c (1, 256)", lambda: engine.step(eye[3:4], W, U, b, h, h), level=1)
    bd.add("head", "Dense head in NumPy: h·Wd + bd, softmax, argmax",
           lambda: lab._softmax_argmax(h[0] @ Wd + bd_), level=1)
    bd.add("floor", "Numba dispatch floor, one 10-argument call", seconds=dispatch_floor(10), level=2)
    p = Profile("W5: stateful generation", "per character", total, bd.phases)
    p.findings += _largest(bd, total, level=1)
    p.top_calls, p.top_of = 3, "generating 100 characters"
    p.top, split = cprofile(lab.stateful_generate(model, seed, V, 100), p.top_calls)
    p.findings += split_finding({k: v / 100 for k, v in split.items()}, "per character")
    return p


def profile_w5_stream():
    from lstmlab import engine
    model, eye, (W, U, b), (Wd, bd_), h = _w5_model()
    stream = model.stream(batch_size=1)
    bd = Breakdown()
    total = bd.add("char", "stream.step(one-hot char) -> softmax (one character)",
                   lambda: stream.step(eye[3:4]))
    bd.add("step", "engine.step on the same weights", lambda: engine.step(eye[3:4], W, U, b, h, h), level=1)
    bd.add("head", "Dense head in NumPy: h·Wd + bd, softmax, argmax",
           lambda: lab._softmax_argmax(h[0] @ Wd + bd_), level=1)
    p = Profile("W5: stateful generation through model.stream", "per character", total, bd.phases)
    if total and bd.get("step") and bd.get("head"):
        parts = bd.get("step") + bd.get("head")
        p.findings.append(f"stream.step costs {fmt_seconds(total)} per character; engine.step + the NumPy "
                          f"head cost {fmt_seconds(parts)}" + (
                              f": {fmt_seconds(total - parts)} per character is the stream itself."
                              if total > parts else
                              " called separately, so the stream is already cheaper than its parts; "
                              "what is left is engine.step's own kernel (see the cProfile rows)."))

    def loop():
        for _ in range(100):
            stream.step(eye[3:4])
    p.top_calls, p.top_of = 3, "100 stream.step calls"
    p.top, split = cprofile(loop, p.top_calls)
    p.findings += split_finding({k: v / 100 for k, v in split.items()}, "per character")
    return p


def profile_w5_loop():
    """generate_text(mode="state")'s compiled loop, against the product it cannot avoid."""
    from numba import njit
    model, eye, (W, U, b), (Wd, bd_), h = _w5_model()
    V = eye.shape[0]
    run = lab.compiled_generate(model, data.seed_text(lab.WINDOW, V), V, 100)
    bd = Breakdown()
    total = bd.add("char", "one character (sample, LSTM step, head), compiled", run, per=1 / 100)

    @njit
    def products(h, U, out, n):
        for _ in range(n):
            np.dot(h, U, out)
    hU = np.empty((1, U.shape[1]), np.float32)
    bd.add("product", "h·U alone, (1, 256)·(256, 1024), in a compiled loop",
           lambda: products(h, U, hU, 100), per=1 / 100, level=1)
    p = Profile("W5: stateful generation, generate_text's compiled loop", "per character", total, bd.phases)
    p.findings += _largest(bd, total, level=1)
    if total and bd.get("product"):
        p.findings.append(
            f"U is {U.nbytes / 2**10:.0f} KiB, read once per character. The product alone, timed apart, "
            f"takes {fmt_seconds(bd.get('product'))} ({bd.get('product') / total:.0%} of a character; "
            f"{U.nbytes / bd.get('product') / 1e9:.1f} GB/s): the loop is bound by streaming U from the "
            f"cache, not by the gates, the head or Python.")
    return p


def _units(cfg):
    return int(cfg.rsplit("LSTM(", 1)[1].split(")")[0])


def for_row(target, row_id, matmul_gflops=None, needed=None):
    """The profile that explains a missed target's time for one lstmlab row (Case.id);
    `needed`: the speed-up the row's verdict asks (the training profiles say what it would take)."""
    wid, cfg = target.wid, target.config
    stream = row_id.endswith(".stream")
    if wid == "W1":
        return profile_w1()
    if wid == "W2":
        return profile_w2()
    if wid == "W3":
        from .workloads import W3_SIZES
        D, H = next((d, h) for d, h in W3_SIZES if f"D={d}, H={h}" in cfg)
        return profile_w3_stream(D, H) if stream else profile_w3(D, H)
    if wid == "W4":
        return profile_w4(_units(cfg), matmul_gflops, needed)
    if wid == "W5":
        if cfg.startswith("stateful"):
            if row_id.endswith(".loop"):
                return profile_w5_loop()
            return profile_w5_stream() if stream else profile_w5_stateful()
        return profile_w5_window()
    if wid == "W6":
        return profile_w6(matmul_gflops, needed)
    raise ValueError(f"no profile for {wid}")


def for_target(target, matmul_gflops=None):
    return for_row(target, "lstmlab", matmul_gflops)
