"""Experiments that answer "does the LSTM really use the cell state and the previous output?"

Each runs on any built model and returns a `Result`: its numbers, a table,
and a one-line `conclusion` written from those numbers (never a canned
answer). `print(result)` shows plain text; `result.print()` shows it with rich.

- `one_step`: one step's equations written out with the model's own weights.
- `ablations`: cut h_{t-1}, cut the carried c, shuffle the history; how far
  the prediction moves.
- `stateless_vs_stateful`: two `predict` calls restart from zero; a stream
  does not.
- `what_units_mean`: the shapes of h, c, the gates and the kernels, and the
  parameter count derived term by term.

Every LSTM is run by the engine's own kernels (`engine.forward`,
`engine.step`); an ablation only changes what the kernels are given.
"""
from dataclasses import dataclass, field

import numpy as np

from .. import engine
from ..layers import LSTM, Dense
from .trace import trace

__all__ = ["Result", "one_step", "ablations", "stateless_vs_stateful", "what_units_mean", "run_experiments"]


@dataclass
class Result:
    """What an experiment found: `numbers` (a dict), `table` ([header, *rows]), `lines`, `conclusion`."""

    title: str
    conclusion: str
    numbers: dict = field(default_factory=dict)
    table: list = field(default_factory=list)
    lines: list = field(default_factory=list)

    def __str__(self):
        out = [self.title, "=" * len(self.title)]
        if self.table:
            widths = [max(len(str(r[k])) for r in self.table) for k in range(len(self.table[0]))]
            for r in self.table:
                out.append("  ".join(str(v).rjust(w) for v, w in zip(r, widths)))
        out += self.lines
        out.append("=> " + self.conclusion)
        return "\n".join(out)

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        parts = [Text(self.title, style="bold")]
        if self.table:
            t = Table(show_edge=False, pad_edge=False)
            for k, name in enumerate(self.table[0]):
                t.add_column(str(name), justify="left" if k == 0 else "right")
            for r in self.table[1:]:
                t.add_row(*map(str, r))
            parts.append(t)
        parts += [Text(line) for line in self.lines]
        parts.append(Text("=> " + self.conclusion, style="bold green"))
        return Group(*parts)

    def print(self, console=None):
        from rich.console import Console

        (console or Console(highlight=False)).print(self, "")


# -- running a model with its LSTMs changed ----------------------------------

def _layers(model):
    return [model] if isinstance(model, LSTM) else list(model.layers)


def _lstm_full(layer, x, U):
    """x (B, T, D) -> h at every step (B, T, H), from the zero state, by the fused kernel."""
    B = x.shape[0]
    z = np.zeros((B, layer.units), layer.dtype)
    return engine.forward(x, layer.kernel, U, layer.bias_or_zeros(), z, z.copy(),
                          activation=layer.activation.name,
                          recurrent_activation=layer.recurrent_activation.name)[0]


def _lstm_no_carried_c(layer, x, U):
    """As `_lstm_full`, but every step starts from c_{t-1} = 0: the cell state carries nothing."""
    B, T, _ = x.shape
    h = np.zeros((B, layer.units), layer.dtype)
    zero = np.zeros_like(h)
    out = np.empty((B, T, layer.units), layer.dtype)
    for t in range(T):
        h, _ = engine.step(np.ascontiguousarray(x[:, t]), layer.kernel, U, layer.bias_or_zeros(), h, zero,
                           layer.activation.name, layer.recurrent_activation.name)
        out[:, t] = h
    return out


def _run(model, x, zero_U=False, zero_c=False):
    """The model's output at inference (B, ...), every LSTM from the zero state, optionally ablated.
    Masks are not applied: the ablations are about the recurrence, not padding."""
    y = np.asarray(x)
    for layer in _layers(model):
        if isinstance(layer, LSTM):
            xin = np.asarray(y, dtype=layer.dtype)
            if layer.go_backwards:
                xin = xin[:, ::-1]
            xin = np.ascontiguousarray(xin)                   # (B, T, D)
            U = np.zeros_like(layer.recurrent_kernel) if zero_U else layer.recurrent_kernel
            seq = (_lstm_no_carried_c if zero_c else _lstm_full)(layer, xin, U)
            y = seq if layer.return_sequences else np.ascontiguousarray(seq[:, -1])
        else:
            y = layer.forward(y)[0]                            # Dropout is the identity here
    return y


def _tol(model, p, T):
    """What counts as "did not move": float rounding over T steps, scaled to the predictions."""
    dtype = np.result_type(*[layer.dtype for layer in _layers(model) if isinstance(layer, LSTM)])
    return 10 * T * np.finfo(dtype).eps * (1.0 + float(np.abs(p).max()))


def _g(v):
    return f"{v:.3g}"


def _check_built(model):
    lstms = [layer for layer in _layers(model) if isinstance(layer, LSTM)]
    if not lstms:
        raise ValueError("These experiments need a model with an LSTM layer.")
    if not all(layer.built for layer in _layers(model)):
        raise ValueError("Build the model first (fit it, predict once, or give its first layer input_shape=...).")
    return lstms


# -- 1. one step, written out --------------------------------------------------

def one_step(model, x, t=-1, sample=0, layer=0, unit=0, max_units=12):
    """Recompute step t of LSTM `layer` for one sample from its weights, and write the equations out.

    t counts processed steps (for go_backwards, step 0 read x's last element); -1 is the last.
    """
    lstm = _check_built(model)[layer]
    L = trace(model, x)[layer]
    T, H = L.h.shape[1], L.units
    t = t % T
    W, U, b = lstm.kernel, lstm.recurrent_kernel, lstm.bias_or_zeros()
    x_t, h_prev, c_prev = L.x[sample, t], L.h_prev[sample, t], L.c_prev[sample, t]
    xW, hU = x_t @ W, h_prev @ U                                  # (4H,) each
    z = xW + hU + b                                               # (4H,)
    sl = {k: slice(n * H, (n + 1) * H) for n, k in enumerate("ifgo")}
    act, ract = lstm.activation, lstm.recurrent_activation
    gate = {k: (act if k == "g" else ract)(z[sl[k]]) for k in "ifgo"}
    c = gate["f"] * c_prev + gate["i"] * gate["g"]
    h = gate["o"] * act(c)
    error = max(float(np.abs(c - L.c[sample, t]).max()), float(np.abs(h - L.h[sample, t]).max()),
                *(float(np.abs(gate[k] - L.gates[k][sample, t]).max()) for k in "ifgo"))
    table = [["unit", "i", "f", "g", "o", "c_(t-1)", "c_t", "h_t"]]
    for j in range(min(H, max_units)):
        table.append([j, *(f"{gate[k][j]:.4f}" for k in "ifgo"), f"{c_prev[j]:+.4f}", f"{c[j]:+.4f}",
                      f"{h[j]:+.4f}"])
    D = x_t.shape[0]
    j = unit
    name = {k: (act.name if k == "g" else ract.name).replace("sigmoid", "σ") for k in "ifgo"}
    lines = [f"step t = {t + 1} of {T}, sample {sample}, layer '{L.name}', unit {j} of {H}:",
             f"  gate = {name['i']} ({name['g']} for g) of x_t·W + h_(t-1)·U + b; "
             f"h_(t-1)·U sums {H} terms" + (f", x_t·W {D}" if D > 3 else "")]
    for k in "ifgo":
        col = sl[k].start + j
        xterm = " + ".join(f"{x_t[d]:.3f}·({W[d, col]:+.3f})" for d in range(D)) if D <= 3 else f"{xW[col]:+.4f}"
        lines.append(f"  {k} = {name[k]}({xterm} + ({hU[col]:+.4f}) + ({b[col]:+.3f})) = {name[k]}({z[col]:+.4f})"
                     f" = {gate[k][j]:.4f}")
    lines.append(f"  c_t = f·c_(t-1) + i·g = {gate['f'][j]:.4f}·({c_prev[j]:+.4f}) + {gate['i'][j]:.4f}·"
                 f"({gate['g'][j]:+.4f}) = {c[j]:+.4f}")
    lines.append(f"  h_t = o·{act.name}(c_t) = {gate['o'][j]:.4f}·{act.name}({c[j]:+.4f}) = {h[j]:+.4f}")
    ok = error <= 1e-4 if lstm.dtype == "float32" else error <= 1e-9
    if ok:
        conclusion = (f"Computed by hand from the kernel, recurrent kernel and bias, every gate, c_t and h_t "
                      f"equal the layer's own to {error:.1e}: the step is these equations, fed by x_t, "
                      f"h_(t-1) and c_(t-1)")
        if not np.any(h_prev) and not np.any(c_prev):
            conclusion += "; here h_(t-1) = c_(t-1) = 0, so the recurrent kernel and the cell state add nothing."
        else:
            conclusion += (f"; h_(t-1)·U moves the gates' inputs by up to {np.abs(hU).max():.3g} and "
                           f"f·c_(t-1) carries {np.abs(gate['f'] * c_prev).max():.3g} into c_t.")
    else:
        conclusion = f"The hand computation differs from the layer by {error:.1e}: something is wrong."
    numbers = dict(t=t, sample=sample, layer=layer, x_t=x_t, h_prev=h_prev, c_prev=c_prev, z=z, c=c, h=h,
                   error=error, **gate)
    return Result(f"One step written out: {L.name}, t = {t + 1}", conclusion, numbers, table, lines)


# -- 2. ablations ------------------------------------------------------------

def _shuffled(x, first_backwards, rng):
    """x with the steps before the last processed one in a random order (that order changes)."""
    T = x.shape[1]
    keep, rest = (0, np.arange(1, T)) if first_backwards else (T - 1, np.arange(T - 1))
    perm = rng.permutation(rest)
    while np.array_equal(perm, rest):
        perm = rng.permutation(rest)
    order = np.concatenate([[keep], perm]) if first_backwards else np.concatenate([perm, [keep]])
    return x[:, order]


def ablations(model, x, shuffles=8, seed=0):
    """How far the prediction moves when the past is cut off, path by path.

    - recurrent kernel = 0: h_(t-1) no longer reaches the gates;
    - carried c = 0: every step starts from c_(t-1) = 0;
    - both: each step sees x_t only (a memoryless model);
    - history shuffled: the steps before the last in a random order (mean over `shuffles` orders).
    """
    lstms = _check_built(model)
    x = np.asarray(x)
    T = x.shape[1]
    p0 = _run(model, x)
    tol = _tol(model, p0, T)
    scale = float(np.abs(p0).mean()) or 1.0

    def moved(p):
        d = np.abs(p - p0)
        return dict(mean=float(d.mean()), max=float(d.max()))

    d = {"recurrent kernel = 0": moved(_run(model, x, zero_U=True)),
         "carried c = 0": moved(_run(model, x, zero_c=True)),
         "both (x_t only)": moved(_run(model, x, zero_U=True, zero_c=True))}
    if T > 2:
        rng = np.random.default_rng(seed)
        runs = [moved(_run(model, _shuffled(x, lstms[0].go_backwards, rng))) for _ in range(shuffles)]
        d["history shuffled"] = dict(mean=float(np.mean([r["mean"] for r in runs])),
                                     max=max(r["max"] for r in runs))
    table = [["ablation", "mean |Δ|", "max |Δ|", "mean |Δ| / mean |pred|"]]
    table += [[k, _g(v["mean"]), _g(v["max"]), f"{v['mean'] / scale:.1%}"] for k, v in d.items()]
    uses_h = bool(d["recurrent kernel = 0"]["max"] > tol)
    uses_c = bool(d["carried c = 0"]["max"] > tol)
    last_only = bool(d["both (x_t only)"]["max"] <= tol)
    order = None if T <= 2 else bool(d["history shuffled"]["max"] > tol)
    if T == 1 and last_only:
        conclusion = (f"Each sample is a single timestep, so every step starts from the zero initial state: no "
                      f"ablation moves the prediction (max |Δ| = {_g(max(v['max'] for v in d.values()))}); "
                      f"this model uses neither the previous output nor the cell state.")
    elif last_only:
        conclusion = (f"The prediction depends on the last input only: cutting both paths from the past moves it "
                      f"by at most {_g(d['both (x_t only)']['max'])}"
                      + ("" if order is None else f", and shuffling the history by {_g(d['history shuffled']['max'])}")
                      + ".")
    else:
        paths = [f"h_(t-1) (Δ {_g(d['recurrent kernel = 0']['mean'])})"] if uses_h else []
        paths += [f"the carried c (Δ {_g(d['carried c = 0']['mean'])})"] if uses_c else []
        unused = [f"h_(t-1) (Δ {_g(d['recurrent kernel = 0']['max'])})"] if not uses_h else []
        unused += [f"the carried c (Δ {_g(d['carried c = 0']['max'])})"] if not uses_c else []
        if paths:
            conclusion = "The past reaches the prediction through " + " and ".join(paths)
            conclusion += (", not through " + " or ".join(unused)) if unused else ""
        else:
            conclusion = ("Neither path alone moves the prediction, but cutting both does "
                          f"(Δ {_g(d['both (x_t only)']['mean'])}): either path carries the past")
        if order is True:
            conclusion += f"; the order of the history matters (shuffled: Δ {_g(d['history shuffled']['mean'])})"
            conclusion += ": the cell state remembers it." if uses_c and not uses_h else "."
        elif order is False:
            conclusion += (f"; the order of the earlier steps does not matter (shuffled: max |Δ| "
                           f"{_g(d['history shuffled']['max'])})")
            conclusion += ": c carries an order-free summary of them." if uses_c and not uses_h else "."
        else:
            conclusion += f"; with {T} steps there is no order to shuffle."
    numbers = dict(prediction=p0, deltas=d, tolerance=tol, uses_h=uses_h, uses_c=uses_c,
                   last_input_only=last_only, order_matters=order)
    lines = [f"{x.shape[0]} sample(s) of {T} step(s); 'did not move' means |Δ| <= {tol:.1e} (float rounding)."]
    return Result("Ablations: cut the past, path by path", conclusion, numbers, table, lines)


# -- 3. stateless and stateful -------------------------------------------------

def stateless_vs_stateful(model, x, sample=0):
    """predict the same sequence twice, then feed it twice to a stream, and compare."""
    lstms = _check_built(model)
    xs = np.asarray(x)[sample:sample + 1]                         # (1, T, D)
    if any(layer.go_backwards for layer in lstms):
        return Result("Stateless and stateful", "A go_backwards layer reads its sequence from the end, "
                      "so it cannot be streamed; there is no stream to compare.", {})
    # A stateful model fixes its batch size; a batch-1 copy leaves the user's model and its state alone.
    m = model.with_batch_size(1) if any(layer.stateful for layer in lstms) else model

    def last(p):
        p = np.asarray(p)
        return p[0, -1] if p.ndim == 3 else p[0]

    a, b = last(m.predict(xs, verbose=0)), last(m.predict(xs, verbose=0))
    stream = m.stream(batch_size=1)
    s1, s2 = last(stream.feed(xs)), last(stream.feed(xs))
    m.reset_states()
    joined = last(m.predict(np.concatenate([xs, xs], axis=1), verbose=0))
    tol = _tol(model, np.stack([a, s1]), 2 * xs.shape[1])
    d_pred, d_stream = float(np.abs(a - b).max()), float(np.abs(s2 - s1).max())
    d_first, d_joined = float(np.abs(s1 - a).max()), float(np.abs(s2 - joined).max())
    v = lambda p: ", ".join(f"{q:.4f}" for q in np.ravel(p)[:3]) + (" …" if np.size(p) > 3 else "")  # noqa: E731
    table = [["call", "model.predict(x)", "stream.feed(x)"], ["1st", v(a), v(s1)], ["2nd", v(b), v(s2)],
             ["|2nd - 1st|", _g(d_pred), _g(d_stream)]]
    lines = [f"x: sample {sample}, {xs.shape[1]} step(s). The stream's 1st pass equals predict's to {_g(d_first)}; "
             f"its 2nd equals one predict over x twice, joined, to {_g(d_joined)}."]
    if d_pred > tol:
        conclusion = (f"The two predict calls differ ({_g(d_pred)}): this model is stateful, so predict carries "
                      f"h and c from call to call, as the stream does.")
    elif d_stream > tol:
        conclusion = (f"Two predict calls give the same output (|Δ| = {_g(d_pred)}): each restarts from h = c = 0. "
                      f"The stream's second pass moves by {_g(d_stream)}: it went on from the state the first "
                      f"left, exactly as one predict over the two joined (|Δ| = {_g(d_joined)}).")
    else:
        conclusion = (f"Both give the same output twice (predict |Δ| = {_g(d_pred)}, stream |Δ| = {_g(d_stream)}): "
                      f"the stream carried its state, but this model's output does not depend on the state it "
                      f"starts from.")
    numbers = dict(predict=(a, b), stream=(s1, s2), joined=joined, d_predict=d_pred, d_stream=d_stream,
                   d_first=d_first, d_joined=d_joined, tolerance=tol)
    return Result("Stateless and stateful: predict twice, stream twice", conclusion, numbers, table, lines)


# -- 4. what units means -----------------------------------------------------

def what_units_mean(model):
    """The shapes `units` sets, and every weight counted term by term, checked against count_params."""
    _check_built(model)
    table = [["layer", "shape or count", "because"]]
    parts, ok = [], True
    for layer in _layers(model):
        if isinstance(layer, LSTM):
            H, D = layer.units, layer.kernel.shape[0]
            n_b = 4 * H if layer.use_bias else 0
            n = 4 * H * D + 4 * H * H + n_b
            ok &= n == layer.count_params()
            out = f"(B, T, {H})" if layer.return_sequences else f"(B, {H})"
            table += [
                [layer.name, f"h, c: (B, {H}) each", f"units = {H}"],
                ["", f"i, f, g, o: (B, {H}) each", "one value per unit"],
                ["", f"kernel {layer.kernel.shape}", "D x 4H: weights on x_t"],
                ["", f"recurrent_kernel {layer.recurrent_kernel.shape}", "H x 4H: weights on h_(t-1)"],
                ["", f"bias ({n_b},)" if n_b else "no bias", "4H: one per gate and unit"],
                ["", f"4·{H}·{D} + 4·{H}·{H}" + (f" + 4·{H}" if n_b else "") + f" = {n}",
                 f"count_params() = {layer.count_params()}"],
                ["", f"output {out}", "every h_t" if layer.return_sequences else "the last h_t"],
            ]
            parts.append(f"4·{H}·({D} + {H}{' + 1' if n_b else ''}) = {n}")
        elif isinstance(layer, Dense):
            D = layer.kernel.shape[0]
            n = D * layer.units + (layer.units if layer.use_bias else 0)
            ok &= n == layer.count_params()
            table.append([layer.name, f"kernel {layer.kernel.shape} + bias ({layer.units},) = {n}",
                          f"reads a {D}-vector"])
        else:
            table.append([layer.name, f"{layer.count_params()} parameters", type(layer).__name__])
    total = sum(layer.count_params() for layer in _layers(model))
    lstms = [layer for layer in _layers(model) if isinstance(layer, LSTM)]
    sizes = ", ".join(f"units = {layer.units}" for layer in lstms)
    conclusion = (f"{sizes} {'is' if len(lstms) == 1 else 'are'} the size of h, of c and of each of the four "
                  f"gates, nothing else; the LSTM parameters are " + "; ".join(parts) + ", which "
                  + ("is" if ok else "is NOT") + f" what count_params() reports (model total {total}).")
    numbers = dict(total=total, consistent=ok, units=[layer.units for layer in lstms])
    return Result("What units means", conclusion, numbers, table)


def run_experiments(model, x, sample=0, console=None, quiet=False):
    """All four experiments on x (one step and the stream on sample `sample`); printed with rich
    unless quiet. Returns the Results."""
    results = [one_step(model, x, sample=sample), ablations(model, x),
               stateless_vs_stateful(model, x, sample=sample), what_units_mean(model)]
    if not quiet:
        for r in results:
            r.print(console)
    return results
