"""Plots written to files (PNG or SVG by the suffix), with no screen needed."""
import matplotlib

matplotlib.use("Agg")   # files only: works on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_forecast(actual, start, predictions, file, title="Forecast", baselines=None, labels=None):
    """The series, and a forecast that starts at index `start`, with optional baselines beside it.

    actual (T,), predictions (steps,), baselines {name: (steps,)}; x labels from `labels` (T + steps,) if given.
    """
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    t = np.arange(len(actual))
    ax.plot(t, actual, color="0.25", lw=1.6, label="actual")
    steps = np.arange(start, start + len(predictions))
    ax.plot(steps, predictions, color="tab:red", lw=2.2, marker="o", ms=3.5, label="LSTM forecast")
    for (name, values), color in zip((baselines or {}).items(), ("tab:blue", "tab:green", "tab:purple")):
        ax.plot(steps, values, color=color, lw=1.2, ls="--", label=name)
    ax.axvline(start - 0.5, color="0.6", lw=1, ls=":")
    if labels is not None:
        every = max(1, len(labels) // 12)
        ax.set_xticks(np.arange(0, len(labels), every))
        ax.set_xticklabels(labels[::every], rotation=45, ha="right", fontsize=8)
    return _finish(fig, ax, title, file)


def _finish(fig, ax, title, file):
    ax.set_title(title)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(file)
    plt.close(fig)
    return file


def plot_history(history, file, title="Training"):
    """Loss (and validation loss) per epoch from a History or its dict."""
    h = getattr(history, "history", history)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for key, values in h.items():
        if "loss" in key:
            ax.plot(np.arange(1, len(values) + 1), values, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    return _finish(fig, ax, title, file)
