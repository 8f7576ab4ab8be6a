"""The README's pictures, drawn from real models: `python examples/pictures.py` writes docs/images/.

1. the seed question's model as it was trained: X shaped (5, 1, 1), so one step per sample;
2. the same model over the five values as one 5-step sequence, with its numbers;
3. the inside of each cell (four gates, two products, the sum);
4. a stacked model with return_sequences: a Dense head on every step;
5. gates and states over time, the training history, a closed-loop forecast.
"""
from pathlib import Path

import numpy as np

from lstmlab.explain import plot_forecast, plot_gates, plot_history, plot_states, plot_unrolled
from lstmlab.explain.command import seed_model
from lstmlab.forecasting import forecast
from lstmlab.layers import LSTM, Dense, Input
from lstmlab.models import Sequential

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"


def main(out=OUT):
    out.mkdir(parents=True, exist_ok=True)
    model, X, y, history = seed_model(epochs=300)
    seq = X.reshape(1, 5, 1)                                   # the five values as one sequence
    plot_unrolled(model, file=out / "unrolled_as_trained.svg", x=X[4:5],
                  title="The seed model as trained: each sample is one step")
    plot_unrolled(model, file=out / "unrolled_sequence.svg", x=seq,
                  title="The same model over 0.0, 0.1, 0.2, 0.3, 0.4 as one sequence")
    plot_unrolled(model, timesteps=3, file=out / "unrolled_inside.svg", x=seq[:, :3], inside=True,
                  title="Inside each cell: c_t = f·c_(t-1) + i·g,  h_t = o·tanh(c_t)")
    stacked = Sequential([Input((4, 1)), LSTM(8, return_sequences=True), LSTM(4, return_sequences=True), Dense(1)])
    plot_unrolled(stacked, timesteps=4, file=out / "unrolled_stacked.svg",
                  title="Stacked, return_sequences: one row per LSTM, a head on every step")
    plot_gates(model, seq, out / "gates.png")
    plot_states(model, seq, out / "states.png")
    plot_history(history, out / "history.png", title="The seed model: training loss")
    plot_forecast(np.arange(10) / 10, 5, forecast(model, X[:, 0, 0], 5, mode="window"), out / "forecast.png",
                  title="From 0.4 on, each prediction fed back (trained on 0.0..0.4 only)")
    for f in sorted(out.iterdir()):
        print(f"{f.relative_to(out.parent.parent)}  {f.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
