"""Gates and states over time for one sample: heatmaps (units x timesteps) and trajectories.

Each function takes a model and x (B, T, D), or a LayerTrace already made,
and writes `file` (PNG or SVG by its suffix, or a list of files).
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")   # files only: works on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .trace import LayerTrace, trace  # noqa: E402

__all__ = ["plot_gates", "plot_states"]

GATE_TITLES = {
    "i": "i  input gate: how much of g is written",
    "f": "f  forget gate: how much of $c_{t-1}$ is kept",
    "g": "g  candidate: what would be written",
    "o": "o  output gate: how much of tanh($c_t$) is shown as $h_t$",
}


def _layer_trace(model, x, layer):
    if isinstance(model, LayerTrace):
        return model
    if x is None:
        raise ValueError("Pass x (batch, timesteps, features) with the model, or a LayerTrace instead.")
    tr = trace(model, x)
    if not -len(tr) <= layer < len(tr):
        raise ValueError(f"The model has {len(tr)} LSTM layer(s); layer must be in 0..{len(tr) - 1}. "
                         f"Received {layer}.")
    return tr[layer]


def _save(fig, file):
    files = [file] if isinstance(file, (str, Path)) else list(file)
    for f in files:
        fig.savefig(f)
    plt.close(fig)
    return files[0] if len(files) == 1 else files


def _ticks(ax, T, H, time):
    """Steps numbered from 1 in the caller's order (`time`); at most ~12 labels per axis."""
    every = max(1, T // 12)
    ax.set_xticks(np.arange(0, T, every))
    ax.set_xticklabels([str(t + 1) for t in time[::every]], fontsize=7)
    every = max(1, H // 10)
    ax.set_yticks(np.arange(0, H, every))
    ax.tick_params(axis="y", labelsize=7)


def plot_gates(model, x=None, file="gates.png", sample=0, layer=0):
    """Heatmaps of i, f, g and o (units x timesteps) for one sample of x."""
    L = _layer_trace(model, x, layer)
    B, T, H = L.i.shape
    fig, axes = plt.subplots(4, 1, figsize=(max(6.0, 2.5 + 0.35 * T), 1.6 + 4 * (0.5 + 0.12 * H)),
                             dpi=110, sharex=True, layout="constrained")
    for ax, k in zip(axes, "ifgo"):
        v = L.gates[k][sample].T                                  # (H, T)
        lo, cmap = (-1.0, "RdBu_r") if k == "g" else (0.0, "viridis")
        im = ax.imshow(v, aspect="auto", cmap=cmap, vmin=lo, vmax=1.0, interpolation="nearest")
        ax.set_title(GATE_TITLES[k], fontsize=9, loc="left")
        ax.set_ylabel("unit", fontsize=8)
        _ticks(ax, T, H, L.time)
        fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    axes[-1].set_xlabel("timestep" + ("  (processed last to first: go_backwards)" if L.go_backwards else ""))
    fig.suptitle(f"{L.name}: gates over time, sample {sample}", fontsize=10)
    return _save(fig, file)


def plot_states(model, x=None, file="states.png", sample=0, layer=0, units=8):
    """c and h over time for one sample: heatmaps (units x timesteps) and the trajectories of
    the first `units` units, starting from the initial state at t = 0."""
    L = _layer_trace(model, x, layer)
    B, T, H = L.c.shape
    fig, axes = plt.subplots(2, 2, figsize=(max(10.0, 5 + 0.5 * T), 6.0), dpi=110, layout="constrained",
                             gridspec_kw={"width_ratios": [1.2, 1]})
    steps = np.arange(T + 1)                                      # 0 = the initial state
    for r, (name, v, v0) in enumerate((("c  cell state", L.c, L.c0), ("h  hidden state (output)", L.h, L.h0))):
        vs = v[sample]                                            # (T, H)
        m = max(float(np.abs(vs).max()), 1e-12)
        ax = axes[r, 0]
        im = ax.imshow(vs.T, aspect="auto", cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
        ax.set_title(f"{name}, every unit", fontsize=9, loc="left")
        ax.set_ylabel("unit", fontsize=8)
        _ticks(ax, T, H, L.time)
        fig.colorbar(im, ax=ax, fraction=0.04, pad=0.01)
        ax = axes[r, 1]
        path = np.concatenate([v0[sample][None], vs], axis=0)     # (T+1, H)
        for u in range(min(units, H)):
            ax.plot(steps, path[:, u], marker="o", ms=3, lw=1.3, label=f"unit {u}")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_title(f"{name.split()[0]} trajectories" + (f" (units 0-{min(units, H) - 1})" if H > 1 else ""),
                     fontsize=9, loc="left")
        ax.set_xticks(steps[:: max(1, T // 12)])
        ax.grid(alpha=0.3)
        if r == 0 and H > 1:
            ax.legend(fontsize=6.5, ncol=2, frameon=False)
    axes[1, 0].set_xlabel("timestep")
    axes[1, 1].set_xlabel("timestep (0 = initial state)")
    fig.suptitle(f"{L.name}: cell and hidden state over time, sample {sample}", fontsize=10)
    return _save(fig, file)
