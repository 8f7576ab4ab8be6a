"""`lstmlab demo`: the seed question answered by running it, then a forecast and a text model.

Three parts, each on data shipped with lstmlab, in well under a minute once Numba has
compiled the engine (a machine's first run also compiles, for about a minute on two cores):
1. the seed program, trained as written, and its two questions answered with
   its own numbers;
2. the airline-passengers series forecast 12 months ahead, beside the
   persistence and seasonal-naive baselines, and a plot;
3. a character model trained on Alice in Wonderland, generating text by the
   sliding window and by carrying the state.
"""
import contextlib
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from . import config, datasets
from .data import MinMaxScaler, make_windows, rmse
from .forecasting import forecast
from .layers import LSTM, Dense, Input
from .models import Sequential
from .optimizers import Adam
from .plotting import plot_forecast
from .text import generate_text, train_char_rnn

console = Console(highlight=False)


@contextlib.contextmanager
def _warm_up(what):
    """Around throwaway work that makes Numba compile (on a machine's first run) or load the
    kernels a part then times: a status line meanwhile, and after it, when it took long enough
    to be compiling, a line that says so. The part's own times are then the work's alone."""
    t0 = time.perf_counter()
    with console.status("Loading the compiled engine (on a machine's first run, compiling it)..."):
        yield
    seconds = time.perf_counter() - t0
    if seconds > 1.0:
        console.print(f"(first run on this machine: Numba compiled the engine's {what} in {seconds:.0f} s, "
                      f"and keeps them for later runs)")


def seed_part(extra_epochs=2000):
    console.rule("[bold]1. The seed program")
    X = np.array([0.0, 0.1, 0.2, 0.3, 0.4]).reshape(5, 1, 1)
    y = X[:, 0, 0] + 0.1
    model = Sequential()
    model.add(LSTM(10, input_shape=(1, 1)))
    model.add(Dense(1, activation="linear"))
    model.compile(loss="mse", optimizer="adam")
    zeros = "zeros"                              # weights that draw nothing from the seeded generator
    throwaway = Sequential([Input((1, 1)), LSTM(10, kernel_initializer=zeros, recurrent_initializer=zeros),
                            Dense(1, kernel_initializer=zeros)])
    throwaway.compile(loss="mse", optimizer="adam")
    with _warm_up("fit and predict"):
        throwaway.fit(X, y, epochs=1, shuffle=False, verbose=0)
        throwaway.predict(X, verbose=0)
    t0 = time.perf_counter()
    history = model.fit(X, y, epochs=300, shuffle=False, verbose=0)
    took = time.perf_counter() - t0
    model.fit(X, y, epochs=extra_epochs, shuffle=False, verbose=0)
    pred = model.predict(X, verbose=0)[:, 0]
    console.print(f"fit 300 epochs in {took * 1e3:.0f} ms: loss {history.history['loss'][0]:.4f} -> "
                  f"{history.history['loss'][-1]:.4f}; {extra_epochs} more epochs: every target within "
                  f"{np.abs(pred - y).max():.4f}")
    console.print("x -> predicted: " + ", ".join(f"{a:.1f} -> {p:.3f}" for a, p in zip(X[:, 0, 0], pred)))

    console.print("\n[bold]Q1. Don't I have to pass the previous prediction and the cell state myself?[/]")
    once, twice = model.predict(X[4:5], verbose=0), model.predict(X[4:5], verbose=0)
    console.print(f"- Each predict call starts from h = c = 0: predicting x=0.4 twice gives {once[0, 0]:.6f} "
                  f"and {twice[0, 0]:.6f}; nothing is remembered between calls.")
    seq = np.array([0.0, 0.1, 0.2]).reshape(1, 3, 1)
    stream = model.stream()
    rows = []
    for t in range(3):
        out = stream.step(seq[:, t])
        h, c = stream.state[0]
        rows.append((t, seq[0, t, 0], out[0, 0], np.abs(h).sum(), np.abs(c).sum()))
    whole = model.predict(seq, verbose=0)[0, 0]
    console.print("- Inside one call the layer unrolls itself, passing h and c from step to step. "
                  "Stepping [0.0, 0.1, 0.2] by hand:")
    for t, x_t, out, hs, cs in rows:
        console.print(f"    t={t}  x={x_t:.1f}  output={out:.4f}  |h|={hs:.3f}  |c|={cs:.3f}")
    console.print(f"  and one predict on the 3-step sequence gives {whole:.4f}: the same number.")
    steps = forecast(model, [0.4], 4, mode="window")
    console.print(f"- To predict further, feed each prediction back (closed loop): from 0.4 the model "
                  f"says {', '.join(f'{v:.3f}' for v in steps)} (it was trained on 0.0..0.4 only).")

    console.print("\n[bold]Q2. What is the 10 in LSTM(10)?[/]")
    lstm = model.layers[0]
    H, D = lstm.units, lstm.kernel.shape[0]
    console.print(f"- units = {H}: the size of h {(1, H)}, of c {(1, H)} and of each gate i, f, g, o {(1, H)}; "
                  f"the layer's output is the last h, so Dense(1) reads a {H}-vector.")
    console.print(f"- kernel {lstm.kernel.shape} (D x 4H), recurrent_kernel {lstm.recurrent_kernel.shape} "
                  f"(H x 4H), bias {lstm.bias.shape}: 4 x {H} x ({D} + {H} + 1) = {lstm.count_params()} "
                  f"parameters.")
    model.summary()


def airline_part(out_dir, epochs=300):
    console.rule("[bold]2. Airline passengers: 12 months ahead")
    months, series = datasets.airline_passengers()
    horizon, look_back = 12, 12
    train = series[:-horizon]
    scaler = MinMaxScaler().fit(train)
    scaled = scaler.transform(train)
    X, y = make_windows(scaled, look_back)                       # X (N, 12, 1), y (N, 1)
    config.set_random_seed(7)
    model = Sequential([Input((look_back, 1)), LSTM(32), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    t0 = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=16, shuffle=True, verbose=0)
    took = time.perf_counter() - t0
    pred = scaler.inverse_transform(forecast(model, scaled, horizon, mode="window"))
    actual = series[-horizon:]
    persistence = np.repeat(train[-1], horizon)
    seasonal = train[-12:]
    scores = {"LSTM (window, closed loop)": rmse(pred, actual),
              "persistence (last value)": rmse(persistence, actual),
              "seasonal naive (same month last year)": rmse(seasonal, actual)}
    table = Table(title=f"RMSE over 1960, thousands of passengers (LSTM trained in {took:.1f} s)")
    table.add_column("forecast")
    table.add_column("RMSE", justify="right")
    for name, score in scores.items():
        table.add_row(name, f"{score:.1f}")
    console.print(table)
    best = min(scores, key=scores.get)
    console.print(f"Best here: {best}." + (" The LSTM does not beat the seasonal baseline on this run."
                                          if best != "LSTM (window, closed loop)" else ""))
    file = plot_forecast(series, len(series) - horizon, pred, Path(out_dir) / "airline_forecast.png",
                         title="Airline passengers: 12 months, each prediction fed back",
                         baselines={"seasonal naive": seasonal, "persistence": persistence}, labels=months)
    console.print(f"plot: {file}")


def text_part(chars=None, epochs=6):
    console.rule("[bold]3. Alice in Wonderland, one character at a time")
    text = datasets.wonderland()[:chars]
    seed = "Alice was beginning to get very tired of sitting b"       # 50 characters: one window
    with _warm_up("training and generation loops"):    # a throwaway model on a little of the text
        small, small_vocab = train_char_rnn(text[:2000], units=128, seq_len=50, batch_size=32, epochs=1)
        for mode in ("state", "window"):
            generate_text(small, small_vocab, seed, 2, mode=mode, rng=0)
    config.set_random_seed(1)
    t0 = time.perf_counter()
    model, vocab = train_char_rnn(text, units=128, seq_len=50, batch_size=32, epochs=epochs,
                                  optimizer=Adam(learning_rate=0.01))
    loss = model.history.history["loss"]
    console.print(f"trained a stateful char-rnn (truncated backpropagation through time, 50 steps), "
                  f"LSTM(128) over {vocab.size} characters, {epochs} epochs on {len(text):,} characters "
                  f"in {time.perf_counter() - t0:.1f} s: loss {loss[0]:.2f} -> {loss[-1]:.2f}")
    outputs = {}
    for mode, what in (("state", "carrying h and c from the seed on, O(1) per character"),
                       ("window", "re-reading the last 50 characters from a zero state, O(50) per character")):
        t0 = time.perf_counter()
        outputs[mode] = generate_text(model, vocab, seed, 300, temperature=0.5, mode=mode, rng=0)
        console.print(f"\n[bold]mode={mode!r}[/] ({what}; {time.perf_counter() - t0:.2f} s):")
        console.print(seed + "[cyan]" + outputs[mode].replace("[", "\\[") + "[/]")
    same = next((k for k, (a, b) in enumerate(zip(*outputs.values())) if a != b), None)
    if same is None:
        console.print("\nThe two texts are identical: with the same random draws, what this model "
                      "carries in h and c from more than 50 characters back is too little to change "
                      "a single sampled character.")
    else:
        console.print(f"\nThe two texts agree for {same} characters, then part: the carried state "
                      f"remembers more than the last 50 characters, and it shows.")


def run(out_dir="lstmlab-demo", quick=False):
    """The whole demo; `quick` trains less (a smoke test, not a result)."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    seed_part(extra_epochs=100 if quick else 2000)
    airline_part(out_dir, epochs=20 if quick else 300)
    text_part(chars=3000 if quick else None, epochs=1 if quick else 6)
    console.rule(f"done in {time.perf_counter() - t0:.1f} s; files in {out_dir}/")
