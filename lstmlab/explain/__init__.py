"""Shown, not told: traces, pictures of the unrolled network, experiments, and the HTML report.

    tr = trace(model, x)                 # one LayerTrace per LSTM: i, f, g, o, c, h (B, T, H)
    plot_unrolled(model, 3, "unrolled.svg", x=x)
    plot_gates(model, x, "gates.png"); plot_states(model, x, "states.png")
    run_experiments(model, x)            # one_step, ablations, stateless_vs_stateful, what_units_mean
    write_report(model, x, "report.html")
"""
from ..plotting import plot_forecast, plot_history
from .experiments import Result, ablations, one_step, run_experiments, stateless_vs_stateful, what_units_mean
from .heatmaps import plot_gates, plot_states
from .report import write_report
from .trace import LayerTrace, Trace, trace
from .unrolled import Scene, plot_unrolled

__all__ = [
    "trace", "LayerTrace", "Trace", "plot_unrolled", "Scene", "plot_gates", "plot_states", "plot_history",
    "plot_forecast", "one_step", "ablations", "stateless_vs_stateful", "what_units_mean", "run_experiments",
    "Result", "write_report",
]
