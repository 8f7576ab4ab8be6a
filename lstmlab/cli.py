"""The `lstmlab` command: demo, train, forecast, generate, explain.

    lstmlab demo                                   the seed question, a forecast, a text model
    lstmlab train series.csv --column Passengers --model m.lstmlab
    lstmlab forecast series.csv --column Passengers --steps 12 --plot f.png --out f.csv
    lstmlab generate book.txt --length 300 --mode state
    lstmlab explain [model.lstmlab]                traces, pictures, experiments, an HTML report
"""
import argparse
import csv
import sys
from pathlib import Path

import numpy as np


class CommandError(Exception):
    """A problem with the user's input: printed as one clear line, exit status 2."""


def _series(args):
    from .data import read_csv_series

    path = Path(args.csv)
    if not path.exists():
        raise CommandError(f"No such file: {path}. Pass a CSV file with a header row.")
    try:
        return read_csv_series(path, column=args.column)
    except (ValueError, KeyError, TypeError, FileNotFoundError) as e:
        raise CommandError(str(e).strip("'\"")) from None


def _train_series(values, look_back, units, epochs, verbose):
    """Scale, window and fit a one-layer LSTM on a univariate series; returns (model, scaler)."""
    from . import config
    from .data import MinMaxScaler, make_windows
    from .layers import LSTM, Dense, Input
    from .models import Sequential

    if len(values) < look_back + 2:
        raise CommandError(
            f"The series has {len(values)} values; a look-back of {look_back} needs at least "
            f"{look_back + 2}. Use a smaller --look-back."
        )
    scaler = MinMaxScaler().fit(values)
    X, y = make_windows(scaler.transform(values), look_back)
    config.set_random_seed(7)
    model = Sequential([Input((look_back, 1)), LSTM(units), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, y, epochs=epochs, batch_size=16, verbose=verbose)
    model.metadata = {"scaler": {"min": float(scaler.data_min_[0]), "max": float(scaler.data_max_[0])},
                      "look_back": look_back}
    return model, scaler


def _scaler_from(model):
    from .data import MinMaxScaler

    s = model.metadata.get("scaler")
    if s is None:
        raise CommandError("This model file holds no scaler; train it with `lstmlab train`.")
    return MinMaxScaler().fit(np.array([s["min"], s["max"]]))


def cmd_demo(args):
    from .demo import run

    run(args.out, quick=args.quick)


def cmd_train(args):
    values = _series(args)
    model, _ = _train_series(values, args.look_back, args.units, args.epochs, verbose=1)
    model.metadata["column"] = args.column
    model.save(args.model)
    print(f"saved {args.model}")


def cmd_forecast(args):
    from .forecasting import forecast
    from .models import load_model
    from .plotting import plot_forecast

    values = _series(args)
    if args.model:
        if not Path(args.model).exists():
            raise CommandError(f"No such model file: {args.model}.")
        model = load_model(args.model)
        scaler = _scaler_from(model)
        look_back = model.metadata.get("look_back", args.look_back)
    else:
        model, scaler = _train_series(values, args.look_back, args.units, args.epochs, verbose=1)
        look_back = args.look_back
    if len(values) < look_back:
        raise CommandError(f"The series has {len(values)} values; the model looks back {look_back}.")
    pred = scaler.inverse_transform(forecast(model, scaler.transform(values), args.steps, mode=args.mode))
    print(f"{args.steps} steps after the last of {len(values)} values ({args.mode} mode):")
    for k, v in enumerate(pred, 1):
        print(f"  +{k}: {v:.3f}")
    if args.out:
        with open(args.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "forecast"])
            w.writerows([k, f"{v:.6g}"] for k, v in enumerate(pred, 1))
        print(f"wrote {args.out}")
    if args.plot:
        plot_forecast(values, len(values), pred, args.plot, title=f"{args.column or 'series'}: forecast")
        print(f"wrote {args.plot}")


def cmd_generate(args):
    from .text import generate_text, train_char_rnn

    path = Path(args.text)
    if not path.exists():
        raise CommandError(f"No such file: {path}. Pass a plain-text file.")
    text = path.read_text(encoding="utf-8", errors="replace")
    if len(text) < 200:
        raise CommandError(f"{path} holds {len(text)} characters; a character model needs a few thousand.")
    text = text[: args.max_chars]
    from .optimizers import Adam

    model, vocab = train_char_rnn(text, units=args.units, seq_len=50, batch_size=32, epochs=args.epochs,
                                  optimizer=Adam(learning_rate=args.learning_rate))
    seed = args.seed if args.seed is not None else text[:50]
    missing = sorted(set(seed) - set(vocab.chars))
    if missing:
        raise CommandError(f"The seed has characters the text does not: {missing!r}.")
    print(seed + generate_text(model, vocab, seed, args.length, temperature=args.temperature,
                               mode=args.mode, rng=args.random_seed))


def cmd_explain(args):
    from .explain.command import explain

    if args.model is not None and not Path(args.model).exists():
        raise CommandError(f"No such model file: {args.model}. Pass a file written by model.save or "
                           f"`lstmlab train`, or none to explain the seed model.")
    for flag, path in (("--x", args.x), ("--csv", args.csv)):
        if path is not None and not Path(path).exists():
            raise CommandError(f"No such file for {flag}: {path}.")
    try:
        explain(args.model, out=args.out, x=args.x, csv=args.csv, column=args.column, epochs=args.epochs,
                sample=args.sample)
    except (ValueError, KeyError, TypeError) as e:
        raise CommandError(str(e).strip("'\"")) from None


def build_parser():
    p = argparse.ArgumentParser(prog="lstmlab", description="LSTM models with the recurrence out in the open.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="answer the seed question, forecast airline passengers, generate Alice")
    d.add_argument("--out", default="lstmlab-demo", help="folder for the pictures (default: lstmlab-demo)")
    d.add_argument("--quick", action="store_true", help="less training: a smoke test of the whole demo")
    d.set_defaults(func=cmd_demo)

    def series_args(s):
        s.add_argument("csv", help="CSV file with a header row")
        s.add_argument("--column", help="the column to model (default: the last numeric one)")
        s.add_argument("--look-back", type=int, default=12, help="values the model sees per prediction")
        s.add_argument("--units", type=int, default=32, help="LSTM units (size of h and c)")
        s.add_argument("--epochs", type=int, default=200)

    t = sub.add_parser("train", help="train an LSTM on one column of a CSV file and save it")
    series_args(t)
    t.add_argument("--model", default="model.lstmlab", help="where to save (default: model.lstmlab)")
    t.set_defaults(func=cmd_train)

    f = sub.add_parser("forecast", help="forecast a CSV column N steps ahead, feeding predictions back")
    series_args(f)
    f.add_argument("--steps", type=int, default=12)
    f.add_argument("--mode", choices=["window", "state"], default="window")
    f.add_argument("--model", help="a model saved by `lstmlab train` (default: train one now)")
    f.add_argument("--out", help="write the forecast to this CSV file")
    f.add_argument("--plot", help="write a plot to this PNG or SVG file")
    f.set_defaults(func=cmd_forecast)

    g = sub.add_parser("generate", help="train a character model on a text file and generate text")
    g.add_argument("text", help="a plain-text file")
    g.add_argument("--length", type=int, default=300)
    g.add_argument("--mode", choices=["window", "state"], default="state")
    g.add_argument("--temperature", type=float, default=0.5)
    g.add_argument("--seed", help="text to start from (default: the file's first 50 characters)")
    g.add_argument("--units", type=int, default=128)
    g.add_argument("--epochs", type=int, default=6)
    g.add_argument("--learning-rate", type=float, default=0.01, help="Adam's step size (default: 0.01)")
    g.add_argument("--max-chars", type=int, default=100_000, help="train on at most this many characters")
    g.add_argument("--random-seed", type=int, default=None)
    g.set_defaults(func=cmd_generate)

    e = sub.add_parser("explain", help="trace, picture and test a model's use of its state; write an HTML report")
    e.add_argument("model", nargs="?", help="a saved model (default: train and explain the seed question's model)")
    e.add_argument("--out", default="lstmlab-explain", help="folder for the pictures and report.html")
    e.add_argument("--x", help="input to explain: a .npy array (batch, timesteps, features), or one sequence")
    e.add_argument("--csv", help="a CSV series to window as the model was trained (a `lstmlab train` model)")
    e.add_argument("--column", help="the CSV column (default: the model's, else the last numeric one)")
    e.add_argument("--sample", type=int, help="which sample of x the pictures and one-step equations show")
    e.add_argument("--epochs", type=int, default=300, help="epochs to train the seed model (default: 300)")
    e.set_defaults(func=cmd_explain)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        args.func(args)
    except CommandError as e:
        print(f"lstmlab {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
