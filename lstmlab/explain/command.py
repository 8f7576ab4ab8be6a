"""What `lstmlab explain` does: experiments, pictures and the HTML report for one model.

With no model file it explains the seed question's own model (LSTM(10),
Dense(1), trained on 0.0..0.4 -> 0.1..0.5, X shaped (5, 1, 1)), both as it
was trained (five sequences of one step: the recurrence never runs) and run
over the five values as one five-step sequence (it does).
"""
from pathlib import Path

import numpy as np
from rich.console import Console

from .. import config
from ..layers import LSTM, Dense, Embedding
from ..models import Sequential, load_model
from ..plotting import plot_forecast, plot_history
from .experiments import ablations, run_experiments
from .heatmaps import plot_gates, plot_states
from .report import write_report
from .unrolled import plot_unrolled

__all__ = ["seed_model", "explain"]


def seed_model(epochs=300, seed=7):
    """The seed question's program, as written: (model, X (5, 1, 1), y (5,), history)."""
    X = np.array([0.0, 0.1, 0.2, 0.3, 0.4]).reshape(5, 1, 1)
    y = X[:, 0, 0] + 0.1
    config.set_random_seed(seed)
    model = Sequential(name="seed")
    model.add(LSTM(10, input_shape=(1, 1)))
    model.add(Dense(1, activation="linear"))
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(X, y, epochs=epochs, shuffle=False, verbose=0)
    return model, X, y, history


def _synthetic_x(model, timesteps=8):
    """An input for a model given without data: a ramp from 0 to 1 over the timesteps."""
    first = model.layers[0]
    shape = model.batch_input_shape or (None, None, None)
    T = shape[1] or timesteps
    if isinstance(first, Embedding):
        return (np.arange(T) % first.input_dim)[None]             # (1, T) ids
    D = shape[2] if len(shape) > 2 and shape[2] else first.kernel.shape[0]
    return np.tile(np.linspace(0.0, 1.0, T)[None, :, None], (1, 1, D))   # (1, T, D)


def _load_x(path):
    x = np.load(path, allow_pickle=False)
    if x.ndim == 1:
        x = x[None, :, None]                                      # one series: (1, T, 1)
    elif x.ndim == 2:
        x = x[None]                                               # one sequence: (1, T, D)
    return x


def _series_x(model, csv, column, out, files):
    """Windows of a CSV series, scaled as the model was trained (a `lstmlab train` model);
    and a forecast of the last 12 values against the actual ones."""
    from ..data import MinMaxScaler, make_windows, read_csv_series
    from ..forecasting import forecast

    values = read_csv_series(csv, column=column or model.metadata.get("column"))
    s = model.metadata.get("scaler")
    scaler = MinMaxScaler().fit(np.array([s["min"], s["max"]]) if s else values)
    look_back = model.metadata.get("look_back") or (model.batch_input_shape or (None, 12))[1] or 12
    scaled = scaler.transform(values)
    X, _ = make_windows(scaled, look_back)                        # (N, look_back, 1)
    horizon = 12
    if len(values) > look_back + horizon:
        pred = scaler.inverse_transform(forecast(model, scaled[:-horizon], horizon, mode="window"))
        files["forecast"] = plot_forecast(values, len(values) - horizon, pred, Path(out) / "forecast.png",
                                          title=f"The last {horizon} values, each prediction fed back")
    return X[-8:]


def explain(model_path=None, out="lstmlab-explain", x=None, csv=None, column=None, epochs=300, sample=None,
            console=None):
    """Run the experiments, write the pictures and report.html into `out`; returns {name: path}."""
    console = console or Console(highlight=False)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files, extra = {}, []
    if model_path is None:
        console.rule("[bold]The seed question's model, trained as written")
        model, X, y, history = seed_model(epochs)
        # x = 0.4, the last training input, for the one-step and stream experiments
        x_run, x_report, sample = X, X.reshape(1, 5, 1), 4 if sample is None else sample
        files["history"] = plot_history(history, out / "history.png", title="The seed model: training loss")
        from ..forecasting import forecast
        pred = forecast(model, X[:, 0, 0], 5, mode="window")
        files["forecast"] = plot_forecast(np.arange(10) / 10, 5, pred, out / "forecast.png",
                                          title="The seed model from 0.4 on, each prediction fed back")
        files["unrolled_as_trained"] = plot_unrolled(model, file=[out / "unrolled_as_trained.svg"],
                                                     x=X[4:5]).files[0]
    else:
        model = load_model(model_path)
        if x is not None:
            x_run = _load_x(x)
        elif csv is not None:
            x_run = _series_x(model, csv, column, out, files)
        else:
            x_run = _synthetic_x(model)
        x_report = x_run
        sample = (len(x_run) - 1 if csv is not None else 0) if sample is None else sample
        console.rule(f"[bold]{model.name}: {Path(model_path).name}")
    results = run_experiments(model, x_run, sample=sample, console=console)
    if x_report is not x_run:                                     # the seed: also over one 5-step sequence
        r = ablations(model, x_report)
        r.title += ", over the five values as one 5-step sequence"
        r.print(console)
        extra.append(r)
    s = sample if x_report is x_run else 0
    T = np.asarray(x_report).shape[1]
    files["unrolled"] = plot_unrolled(model, file=[out / "unrolled.svg", out / "unrolled.png"], x=x_report,
                                      sample=s, timesteps=min(T, 12)).files[0]
    files["unrolled_inside"] = plot_unrolled(model, file=[out / "unrolled_inside.svg"], x=x_report, sample=s,
                                             timesteps=min(T, 6), inside=True).files[0]
    files["gates"] = plot_gates(model, x_report, out / "gates.png", sample=s)
    files["states"] = plot_states(model, x_report, out / "states.png", sample=s)
    captions = {"gates": "Gates over time", "states": "Cell and hidden state over time",
                "history": "Training history", "forecast": "Forecast against the actual series",
                "unrolled_inside": "Inside each cell: the gates, products and sum"}
    pictures = {captions[k]: files[k] for k in captions if k in files}
    files["report"] = write_report(model, x_report, out / "report.html", sample=s, results=results + extra,
                                   pictures=pictures)
    console.rule("[bold]Files")
    for name, path in files.items():
        console.print(f"{name}: {path}")
    return files
