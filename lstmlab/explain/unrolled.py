"""plot_unrolled: the picture the seed question's answers drew, from the model itself.

One cell per timestep (columns) and one row per stacked LSTM. x_t enters each
bottom cell from below, h_t leaves each cell upwards, and two lanes run from
cell to cell: c (orange, top) and h (blue, bottom), starting from the initial
state on the left. The Dense head sits on the last step, or on every step when
the top LSTM returns sequences. Steps are numbered from 1, as in the papers:
x_1..x_T, with h_0 = c_0 the initial state.

The function returns a `Scene`, the structure drawn as plain data, so that
tests (and readers) can check what the picture holds without looking at it.
"""
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")   # files only: works on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch  # noqa: E402

from ..layers import LSTM, Dense, Dropout, Embedding  # noqa: E402
from .trace import trace as run_trace  # noqa: E402

__all__ = ["Scene", "Lane", "plot_unrolled", "describe"]

C_COLOR, H_COLOR, X_COLOR, HEAD_COLOR = "#e07b00", "#1f6fb4", "#2e8b57", "#7b4fa0"
CELL_FILL, CELL_EDGE, CURRENT_FILL = "#f4f4f4", "#555555", "#ffe9a8"


@dataclass(frozen=True)
class Lane:
    """One arrow of a state lane: kind 'c' or 'h' of LSTM `row`, from src to dst.

    src is 'init' or a column; dst is a column or 'final' (the state the layer ends with).
    """

    kind: str
    row: int
    src: object
    dst: object


@dataclass
class Scene:
    """What plot_unrolled drew, as data. Columns are 0-based; labels say t = column + first + 1."""

    timesteps: int                                   # columns drawn
    first: int = 0                                   # index of the first drawn step within x
    rows: list = field(default_factory=list)         # per LSTM, bottom up: dict(name, units, ...)
    cells: list = field(default_factory=list)        # (row, col)
    lanes: list = field(default_factory=list)        # Lane
    inputs: list = field(default_factory=list)       # (col, t): x_t into the bottom row (t 1-based)
    below: list = field(default_factory=list)        # labels of the layers under the first LSTM
    links: list = field(default_factory=list)        # (row, col): h_t of `row` up into `row + 1`
    between: list = field(default_factory=list)      # per row below the top: labels of layers on its links
    outputs: list = field(default_factory=list)      # (col, returned): h_t leaving the top row
    heads: list = field(default_factory=list)        # (col, label): the layers above the top LSTM
    inside: list = field(default_factory=list)       # per cell drawn inside: the parts drawn
    annotated: bool = False
    files: list = field(default_factory=list)


def _layer_label(layer):
    if isinstance(layer, Dense):
        act = layer.activation.name
        return f"Dense({layer.units}{'' if act == 'linear' else ', ' + act})"
    if isinstance(layer, Dropout):
        return f"Dropout({layer.rate:g})"
    if isinstance(layer, Embedding):
        return f"Embedding({layer.input_dim}, {layer.output_dim})"
    return type(layer).__name__


def describe(model):
    """The model as picture rows: (rows, below, between, head) where rows are the LSTMs bottom up,
    below the layers under the first LSTM, between[k] the layers from row k to k+1, head the rest."""
    layers = [model] if isinstance(model, LSTM) else list(model.layers)
    lstms = [k for k, layer in enumerate(layers) if isinstance(layer, LSTM)]
    if not lstms:
        raise ValueError("plot_unrolled needs a model with at least one LSTM layer.")
    rows = [dict(name=layers[k].name, units=layers[k].units, go_backwards=layers[k].go_backwards,
                 return_sequences=layers[k].return_sequences) for k in lstms]
    below = [_layer_label(layer) for layer in layers[:lstms[0]]]
    between = [[_layer_label(layer) for layer in layers[a + 1:b]] for a, b in zip(lstms, lstms[1:])]
    head = [_layer_label(layer) for layer in layers[lstms[-1] + 1:]]
    return rows, below, between, head


def _scene(model, T, first=0, inside=False):
    """Build the Scene for T columns (no drawing)."""
    rows, below, between, head = describe(model)
    s = Scene(timesteps=T, first=first, rows=rows)
    top = len(rows) - 1
    n_total = first + T
    for r, row in enumerate(rows):
        for col in range(T):
            s.cells.append((r, col))
            if inside:
                s.inside.append(dict(cell=(r, col), gates=["f", "i", "g", "o"],
                                     ops=["f*c", "i*g", "+", "tanh", "o*tanh(c)"]))
        for kind in ("c", "h"):
            s.lanes.append(Lane(kind, r, "init", 0))
            s.lanes += [Lane(kind, r, col, col + 1) for col in range(T - 1)]
            s.lanes.append(Lane(kind, r, T - 1, "final"))
        if r < top:
            s.links += [(r, col) for col in range(T)]
    s.below, s.between = below, between
    for col in range(T):
        step = first + col + 1                                   # 1-based position in the sequence
        # go_backwards: the first step reads the sequence's last element
        s.inputs.append((col, n_total - step + 1 if rows[0]["go_backwards"] else step))
    returns_all = rows[top]["return_sequences"]
    s.outputs = [(col, returns_all or col == T - 1) for col in range(T)]
    if head:
        label = " → ".join(head)
        s.heads = [(col, label) for col in range(T) if returns_all or col == T - 1]
    return s


# -- drawing -----------------------------------------------------------------

def _vec(v, n=2):
    """(H,) -> '[0.12, -0.50, …]' (the first n units), or '0.12' for one unit."""
    v = np.ravel(v)
    if v.size == 1:
        return f"{v[0]:.2f}"
    body = ", ".join(f"{a:.2f}" for a in v[:n])
    return f"[{body}{', …' if v.size > n else ''}]"


def _arrow(ax, a, b, color, lw=1.8, ls="-"):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=11, color=color, lw=lw,
                                 linestyle=ls, shrinkA=0, shrinkB=0, zorder=2))


def _line(ax, pts, color, lw=1.2):
    xs, ys = zip(*pts)
    ax.plot(xs, ys, color=color, lw=lw, zorder=2, solid_capstyle="round")


def _op(ax, xy, text, wide=False):
    """A pointwise operation: a circle (×, +) or a small rounded box (tanh)."""
    if wide:
        ax.add_patch(FancyBboxPatch((xy[0] - 0.2, xy[1] - 0.1), 0.4, 0.2, boxstyle="round,pad=0.02",
                                    fc="white", ec="#333333", lw=1.1, zorder=4))
    else:
        ax.add_patch(Circle(xy, 0.13, fc="white", ec="#333333", lw=1.1, zorder=4))
    ax.text(*xy, text, ha="center", va="center", fontsize=6.5 if wide else 8, zorder=5)


# Inside a cell (inside=True), relative to its centre: colah's layout.
GATE_X = {"f": -1.05, "i": -0.47, "g": 0.11, "o": 0.69}
X_IN, H_OUT, TANH_X = -1.3, 1.35, 1.1


def _draw_inside(ax, cx, cy, g, vals=None):
    """The four gates, the two products, the sum and tanh(c).
    vals: {'f','i','g','o'} -> the annotated unit's value, or None."""
    yc, yh, yg = cy + g["lane"], cy - g["lane"], cy - 0.3
    xs = {k: cx + v for k, v in GATE_X.items()}
    xt = cx + TANH_X
    # the bus: h_{t-1} and x_t feed all four gates
    _line(ax, [(cx - g["w"] / 2, yh), (xs["o"], yh)], H_COLOR, lw=1.6)
    _line(ax, [(cx + X_IN, cy - g["h"] / 2), (cx + X_IN, yh)], X_COLOR, lw=1.6)
    hh = 0.23 if vals is not None else 0.17                 # half a gate box's height
    for k, x0 in xs.items():
        _line(ax, [(x0, yh), (x0, yg - hh)], "#777777", lw=1.0)
        ax.add_patch(FancyBboxPatch((x0 - 0.25, yg - hh), 0.5, 2 * hh, boxstyle="round,pad=0.02",
                                    fc="#e3efe0" if k == "g" else "#fff4d6", ec="#886600", lw=1.0, zorder=3))
        text = ("tanh " if k == "g" else "σ ") + k
        text += "" if vals is None else f"\n{vals[k]:.2f}"
        ax.text(x0, yg, text, ha="center", va="center", fontsize=6.5, zorder=4, linespacing=1.1)
    # c lane: c_{t-1} -> × f -> + i·g -> c_t
    _line(ax, [(cx - g["w"] / 2, yc), (cx + g["w"] / 2, yc)], C_COLOR, lw=2.2)
    _line(ax, [(xs["f"], yg + hh), (xs["f"], yc)], "#777777", lw=1.0)
    _op(ax, (xs["f"], yc), "×")
    ig = (xs["g"], cy + 0.22)
    _line(ax, [(xs["i"], yg + hh), ig], "#777777", lw=1.0)
    _line(ax, [(xs["g"], yg + hh), ig, (xs["g"], yc)], "#777777", lw=1.0)
    _op(ax, ig, "×")
    _op(ax, (xs["g"], yc), "+")
    # h_t = o · tanh(c_t): out to the right (the h lane) and up (the output)
    xo = (xt, cy - 0.12)
    _line(ax, [(xt, yc), xo, (xt, yh), (cx + g["w"] / 2, yh)], H_COLOR, lw=1.6)
    _line(ax, [(xs["o"], yg + hh), xo], "#777777", lw=1.0)
    _op(ax, (xt, cy + 0.36), "tanh", wide=True)
    _op(ax, xo, "×")
    _line(ax, [(cx + H_OUT, yh), (cx + H_OUT, cy + g["h"] / 2)], H_COLOR, lw=1.6)


def _geometry(inside, annotated):
    """Sizes in data units (1 unit = SCALE inches)."""
    if inside:
        g = dict(w=3.0, h=2.3, dx=4.3, dy=4.1, lane=0.8, x_in=X_IN, out=H_OUT)
    else:
        g = dict(w=1.5, h=1.1, dx=2.7, dy=2.9, lane=0.28, x_in=0.0, out=0.0)
    if annotated:
        g["dx"] += 0.7                     # room for the numbers on the lanes
    g["init_w"] = 1.5 if annotated else 0.9
    g["init_x"] = -g["w"] / 2 - 1.0 - g["init_w"] / 2
    return g


SCALE = 0.66


def _draw(s, tr=None, sample=0, unit=0, title=None):
    """Scene (+ optional trace) -> matplotlib figure."""
    inside, ann = bool(s.inside), tr is not None
    g = _geometry(inside, ann)
    T, R = s.timesteps, len(s.rows)
    cxs = [col * g["dx"] for col in range(T)]
    left = g["init_x"] - g["init_w"] / 2 - 0.4
    right = cxs[-1] + g["w"] / 2 + 1.6
    if title:                                   # a one-step picture must still hold its title
        right = max(right, left + 0.4 + 0.14 * len(title))
    bottom = -g["h"] / 2 - (2.1 if s.below else 1.75)
    top_cell = (R - 1) * g["dy"] + g["h"] / 2
    top = top_cell + (2.7 if s.heads else 1.4) + (0.5 if title else 0.0)
    fig = plt.figure(figsize=((right - left) * SCALE, (top - bottom) * SCALE), dpi=110)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal")
    ax.axis("off")

    def lane_y(r, kind):
        return r * g["dy"] + (g["lane"] if kind == "c" else -g["lane"])

    for r, row in enumerate(s.rows):
        cy = r * g["dy"]
        L = tr[r] if ann else None
        # the state entering the first column: the initial state, or the one carried to it
        ix, k0 = g["init_x"], s.first
        ax.add_patch(FancyBboxPatch((ix - g["init_w"] / 2, cy - g["lane"] - 0.32), g["init_w"],
                                    2 * g["lane"] + 0.64, boxstyle="round,pad=0.03", fc="white",
                                    ec="#999999", ls="--", lw=1))
        for kind in "ch":
            txt = f"${kind}_{{{k0}}}$"
            if ann:
                v = (L.c0 if kind == "c" else L.h0)[sample] if k0 == 0 else \
                    (L.c if kind == "c" else L.h)[sample, k0 - 1]
                txt += f" = {_vec(v)}" if v.size == 1 else f"\n{_vec(v)}"
            ax.text(ix, lane_y(r, kind), txt, ha="center", va="center", fontsize=7,
                    color=C_COLOR if kind == "c" else H_COLOR)
        label = f"{row['name']}: LSTM({row['units']})"
        label += ", go_backwards" if row["go_backwards"] else ""
        label += ", return_sequences" if row["return_sequences"] else ""
        label += f"   (gate values: unit {unit})" if inside and ann else ""
        ax.text(ix - g["init_w"] / 2, cy + g["h"] / 2 + 0.22, label, ha="left", va="bottom", fontsize=8.5,
                weight="bold", color="#333333")
        for col, cx in enumerate(cxs):
            box = FancyBboxPatch((cx - g["w"] / 2, cy - g["h"] / 2), g["w"], g["h"],
                                 boxstyle="round,pad=0.04,rounding_size=0.15", fc=CELL_FILL, ec=CELL_EDGE,
                                 lw=1.4, zorder=1)
            box.set_gid(f"cell-{r}-{col}")    # the HTML report highlights the current step by this id
            ax.add_patch(box)
            if inside:
                vals = {k: L.gates[k][sample, s.first + col, unit] for k in "figo"} if ann else None
                _draw_inside(ax, cx, cy, g, vals)
            else:
                ax.text(cx, cy, f"LSTM\nt = {s.first + col + 1}", ha="center", va="center", fontsize=8.5,
                        zorder=3)
        for lane in (ln for ln in s.lanes if ln.row == r):
            y = lane_y(r, lane.kind)
            color = C_COLOR if lane.kind == "c" else H_COLOR
            a = ix + g["init_w"] / 2 if lane.src == "init" else cxs[lane.src] + g["w"] / 2
            b = cxs[-1] + g["w"] / 2 + 0.8 if lane.dst == "final" else cxs[lane.dst] - g["w"] / 2
            _arrow(ax, (a, y), (b, y), color, lw=2.4 if lane.kind == "c" else 1.8,
                   ls="--" if lane.dst == "final" else "-")
            if lane.dst == "final":
                ax.text(b + 0.08, y, f"${lane.kind}_{{{s.first + T}}}$", ha="left", va="center", fontsize=8.5,
                        color=color)
            elif ann and lane.src != "init":
                v = (L.c if lane.kind == "c" else L.h)[sample, s.first + lane.src]
                up = lane.kind == "c"
                ax.text((a + b) / 2, y + (0.07 if up else -0.07), _vec(v), ha="center",
                        va="bottom" if up else "top", fontsize=6.5, color=color)
    # x_t into the bottom row
    for col, t in s.inputs:
        xb = cxs[col] + g["x_in"]
        y0 = -g["h"] / 2 - 1.0
        _arrow(ax, (xb, y0), (xb, -g["h"] / 2), X_COLOR)
        txt = f"$x_{{{t}}}$"
        if ann and not s.below:
            txt += f" = {_vec(tr[0].x[sample, s.first + col])}"
        if s.below:
            txt += "\nvia " + " → ".join(s.below)
        ax.text(xb, y0 - 0.08, txt, ha="center", va="top", fontsize=8, color=X_COLOR)
    # h_t of row r up into row r + 1 (as that row's x_t)
    for r, col in s.links:
        cx = cxs[col]
        y0, y1 = r * g["dy"] + g["h"] / 2, (r + 1) * g["dy"] - g["h"] / 2
        if inside:
            ym = (y0 + y1) / 2
            _line(ax, [(cx + g["out"], y0), (cx + g["out"], ym), (cx + g["x_in"], ym)], H_COLOR, lw=1.8)
            _arrow(ax, (cx + g["x_in"], ym), (cx + g["x_in"], y1), H_COLOR)
        else:
            _arrow(ax, (cx, y0), (cx, y1), H_COLOR)
        if s.between[r] and col == 0:
            ax.text(cx + g["x_in"] + 0.12, y1 - 0.25, " → ".join(s.between[r]), fontsize=7, color="#666666",
                    ha="left", va="top")
    # h_t out of the top row, and the head on the steps whose output is returned
    for col, returned in s.outputs:
        cx, step = cxs[col] + g["out"], s.first + col + 1
        y1 = top_cell + (0.9 if returned else 0.5)
        _arrow(ax, (cx, top_cell), (cx, y1), H_COLOR if returned else "#aaaaaa", ls="-" if returned else ":")
        if not returned:
            ax.text(cx, y1 + 0.04, f"$h_{{{step}}}$ not returned", ha="center", va="bottom", fontsize=6.5,
                    color="#999999")
        elif not s.heads:
            ax.text(cx, y1 + 0.04, f"$h_{{{step}}}$", ha="center", va="bottom", fontsize=8.5, color=H_COLOR)
    for col, label in s.heads:
        cx, step = cxs[col] + g["out"], s.first + col + 1
        y1 = top_cell + 0.9
        bw = max(1.3, 0.12 * len(label))
        ax.add_patch(FancyBboxPatch((cx - bw / 2, y1), bw, 0.55, boxstyle="round,pad=0.04", fc="#efe6f7",
                                    ec=HEAD_COLOR, lw=1.3, zorder=3))
        ax.text(cx, y1 + 0.275, label, ha="center", va="center", fontsize=8, zorder=4)
        _arrow(ax, (cx, y1 + 0.6), (cx, y1 + 1.15), HEAD_COLOR)
        txt = f"$\\hat y_{{{step}}}$"
        if ann and tr.output is not None:
            y = np.asarray(tr.output)[sample]
            txt += f" = {_vec(y[s.first + col] if y.ndim == 2 else y, 3)}"
        ax.text(cx, y1 + 1.2, txt, ha="center", va="bottom", fontsize=8.5, color=HEAD_COLOR)
    # a key to the colours, bottom left
    for k, (text, color) in enumerate((("c: cell state", C_COLOR), ("h: hidden state = output", H_COLOR),
                                       ("x: input", X_COLOR))):
        ax.text(left + 0.2, bottom + 0.2 + 0.3 * (2 - k), text, fontsize=7, color=color, ha="left",
                va="bottom")
    if title:
        ax.text(left + 0.2, top - 0.15, title, ha="left", va="top", fontsize=10, weight="bold")
    return fig


def figure(model, timesteps=None, x=None, inside=False, sample=0, unit=0, title=None):
    """(figure, scene) without writing a file; the HTML report embeds the figure as SVG."""
    tr = None
    first = 0
    if x is not None:
        x = np.asarray(x)
        tr = run_trace(model, x)
        T_all = x.shape[1]
        T = T_all if timesteps is None else int(timesteps)
        if not 1 <= T <= T_all:
            raise ValueError(f"plot_unrolled: timesteps must be in 1..{T_all} (x's timesteps). Received {T}.")
        first = T_all - T
        if not 0 <= sample < x.shape[0]:
            raise ValueError(f"plot_unrolled: sample must be in 0..{x.shape[0] - 1}. Received {sample}.")
    else:
        T = 3 if timesteps is None else int(timesteps)
        if T < 1:
            raise ValueError(f"plot_unrolled: timesteps must be at least 1. Received {timesteps!r}.")
    s = _scene(model, T, first=first, inside=inside)
    s.annotated = tr is not None
    smallest = None if tr is None else min(L.units for L in tr)   # every row shows the same unit
    if tr is not None and not 0 <= unit < smallest:
        raise ValueError(f"plot_unrolled: unit must be in 0..{smallest - 1}. Received {unit}.")
    return _draw(s, tr, sample=sample, unit=unit, title=title), s


def plot_unrolled(model, timesteps=None, file="unrolled.svg", x=None, inside=False, sample=0, unit=0,
                  title=None):
    """Draw `model` unrolled over time; write `file` (PNG or SVG by its suffix, or a list of files).

    timesteps: columns drawn; 3 by default, or all of x's timesteps when x is
    given (fewer draws the last ones, the state entering from the left as it
    was carried). With `x` (B, T, D), the picture carries sample `sample`'s
    numbers from `trace`: x_t, c_t and h_t on the lanes (first units), ŷ.
    inside=True draws each cell's inside: the four gates, the products and
    the sum, annotated with unit `unit`'s gate values.
    Returns the Scene.
    """
    fig, s = figure(model, timesteps, x, inside=inside, sample=sample, unit=unit, title=title)
    files = [] if file is None else [file] if isinstance(file, (str, Path)) else list(file)
    for f in files:
        fig.savefig(f)
        s.files.append(str(f))
    plt.close(fig)
    return s
