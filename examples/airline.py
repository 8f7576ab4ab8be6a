"""The airline-passengers LSTM tutorial, on lstmlab.

Jason Brownlee's "Time Series Prediction with LSTM Recurrent Neural Networks in
Python with Keras": predict next month's international airline passengers
(thousands, 1949-01..1960-12, 144 months) from the previous month(s), in five
variants, with the tutorial's data handling, model and training kept as it
wrote them so the numbers can be compared with what its readers report:

    window1     look_back=1, X (samples, timesteps=1, features=1)
    window3     look_back=3 as features,  X (samples, timesteps=1, features=3)
    timesteps3  look_back=3 as timesteps, X (samples, timesteps=3, features=1)
    stateful    as timesteps3, one stateful LSTM, batch 1, state reset by hand
    stacked     as stateful, two stateful LSTMs stacked

Beside each model's RMSE the script prints the persistence baseline's (next
month = this month): an LSTM that cannot beat it has learnt nothing useful.

    .venv/bin/python examples/airline.py                      # all five
    .venv/bin/python examples/airline.py --variant stateful --epochs 20

By default it reads the copy of airline-passengers.csv shipped with lstmlab
(lstmlab/datasets/); pass --data to read another.
"""
import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

from lstmlab import config, datasets
from lstmlab.layers import LSTM, Dense
from lstmlab.models import Sequential

DEFAULT_DATA = datasets.path("airline-passengers.csv")

# name -> how the tutorial builds that variant.
#   look_back: months of history per sample
#   layout:    "features"  -> X (samples, 1, look_back): the window is one step of look_back features
#              "timesteps" -> X (samples, look_back, 1): the window is look_back steps of one feature
#   stateful:  batch_input_shape=(1, look_back, 1), stateful=True, trained epoch by epoch
#   layers:    how many LSTM(4) layers
VARIANTS = {
    "window1":    dict(look_back=1, layout="features",  stateful=False, layers=1),
    "window3":    dict(look_back=3, layout="features",  stateful=False, layers=1),
    "timesteps3": dict(look_back=3, layout="timesteps", stateful=False, layers=1),
    "stateful":   dict(look_back=3, layout="timesteps", stateful=True,  layers=1),
    "stacked":    dict(look_back=3, layout="timesteps", stateful=True,  layers=2),
}


# -- data ---------------------------------------------------------------------------
def load_series(path=None):
    """The passenger counts as a float32 column, shape (144, 1), as the tutorial's
    `read_csv(..., usecols=[1]).values.astype('float32')` gives.

    The file has a header ("Month","Passengers"), CRLF line endings and no
    final newline; the csv module copes with all three.
    """
    path = Path(path) if path is not None else DEFAULT_DATA
    if not path.is_file():
        if path == DEFAULT_DATA:
            raise FileNotFoundError(
                f"The airline data was not found where this script looks by default: {path} "
                f"(the copy shipped with lstmlab; is the package installed whole?). "
                f"Pass the file with --data PATH (e.g. a copy of airline-passengers.csv from "
                f"github.com/jbrownlee/Datasets)."
            )
        raise FileNotFoundError(
            f"The airline data file given with --data was not found: {path}. "
            f"Pass the path of airline-passengers.csv with --data PATH."
        )
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    if len(header) < 2 or header[1].strip() != "Passengers":
        raise ValueError(
            f"{path} does not look like airline-passengers.csv: its header is {header!r}, "
            f"expected ['Month', 'Passengers']."
        )
    return np.array([[float(r[1])] for r in body], dtype=np.float32)


class MinMaxScaler:
    """sklearn's MinMaxScaler(feature_range=(0, 1)) on one column, without sklearn."""

    def fit(self, x):
        self.lo, self.hi = x.min(), x.max()
        return self

    def transform(self, x):
        return ((x - self.lo) / (self.hi - self.lo)).astype(np.float32)

    def inverse_transform(self, x):
        return (np.asarray(x, np.float32) * (self.hi - self.lo) + self.lo).astype(np.float32)


def create_dataset(dataset, look_back=1):
    """(n, 1) series -> X (samples, look_back), y (samples,): X[i] = dataset[i:i+look_back], y[i] the next value.

    As the tutorial wrote it, including its `- 1`: the last window that has a
    target is dropped, so there are n - look_back - 1 samples, not n - look_back.
    Kept so that the sample counts (and the RMSEs) are the tutorial's.
    """
    dataX, dataY = [], []
    for i in range(len(dataset) - look_back - 1):
        dataX.append(dataset[i:(i + look_back), 0])
        dataY.append(dataset[i + look_back, 0])
    return np.array(dataX), np.array(dataY)


def to_lstm_input(X, layout):
    """X (samples, look_back) -> (samples, timesteps, features), the only input shape an LSTM takes."""
    if layout == "features":
        return np.reshape(X, (X.shape[0], 1, X.shape[1]))     # (samples, 1, look_back)
    if layout == "timesteps":
        return np.reshape(X, (X.shape[0], X.shape[1], 1))     # (samples, look_back, 1)
    raise ValueError(f"layout must be 'features' or 'timesteps'. Received: {layout!r}.")


def persistence_forecast(X):
    """The naive forecast: next month = the last month of the input window.

    Works on X (samples, look_back) and on either (samples, timesteps, features)
    layout, since the window's last value is the last one in memory in all three.
    """
    X = np.asarray(X)
    return X.reshape(len(X), -1)[:, -1]


def rmse(y_true, y_pred):
    """Root mean squared error, in float64 (as sklearn's mean_squared_error computes it)."""
    y_true = np.asarray(y_true, np.float64).ravel()
    y_pred = np.asarray(y_pred, np.float64).ravel()
    return math.sqrt(np.mean((y_true - y_pred) ** 2))


# -- the model ------------------------------------------------------------------------
def build_model(spec, look_back, features, timesteps):
    model = Sequential()
    if spec["stateful"]:
        # A stateful layer's state has one row per sequence of a fixed batch, so the
        # batch size (1) is part of the input shape.
        if spec["layers"] == 2:
            # The first LSTM passes its whole sequence (1, look_back, 4) up to the second.
            model.add(LSTM(4, batch_input_shape=(1, look_back, 1), stateful=True, return_sequences=True))
            model.add(LSTM(4, stateful=True))
        else:
            model.add(LSTM(4, batch_input_shape=(1, look_back, 1), stateful=True))
    else:
        model.add(LSTM(4, input_shape=(timesteps, features)))
    model.add(Dense(1))
    model.compile(loss="mean_squared_error", optimizer="adam")
    return model


def run_variant(name, series, epochs=100, seed=7, verbose=0, train_fraction=0.67):
    """Train and score one variant; returns a dict of its RMSEs (passengers, thousands) and seconds.

    `series` is the raw (n, 1) float32 column from `load_series`.
    """
    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}. Expected one of: {', '.join(VARIANTS)}.")
    spec = VARIANTS[name]
    look_back = spec["look_back"]
    # Seeded per variant (the tutorial's numpy.random.seed(7)), so a variant run
    # alone gives the same numbers as in a run of all five.
    config.set_random_seed(seed)
    start = time.perf_counter()

    # The scaler is fitted on the whole series, test months included, as the
    # tutorial does; strictly the test set's max/min leak into training, but this
    # keeps the numbers comparable with the tutorial's.
    scaler = MinMaxScaler().fit(series)
    dataset = scaler.transform(series)
    train_size = int(len(dataset) * train_fraction)        # 96 of 144 months
    train, test = dataset[0:train_size, :], dataset[train_size:len(dataset), :]
    trainX, trainY = create_dataset(train, look_back)       # (samples, look_back), (samples,)
    testX, testY = create_dataset(test, look_back)
    trainX = to_lstm_input(trainX, spec["layout"])          # (samples, timesteps, features)
    testX = to_lstm_input(testX, spec["layout"])
    _, timesteps, features = trainX.shape

    model = build_model(spec, look_back, features, timesteps)
    if spec["stateful"]:
        # One epoch per fit call: the state carries from sample to sample through
        # the epoch (hence shuffle=False, to keep the months in order) and is
        # zeroed by hand between epochs.
        for _ in range(epochs):
            model.fit(trainX, trainY, epochs=1, batch_size=1, verbose=verbose, shuffle=False)
            model.reset_states()
        trainPredict = model.predict(trainX, batch_size=1, verbose=0)   # (samples, 1)
        # The test months follow the training months, but the tutorial starts them
        # from a zero state.
        model.reset_states()
        testPredict = model.predict(testX, batch_size=1, verbose=0)
    else:
        # Keras's default shuffle=True, as in the tutorial: each sample is a whole
        # window, so their order does not matter (the shuffling draws from the seed).
        model.fit(trainX, trainY, epochs=epochs, batch_size=1, verbose=verbose)
        trainPredict = model.predict(trainX, verbose=0)
        testPredict = model.predict(testX, verbose=0)

    # Back to passengers (thousands) before scoring, as the tutorial does.
    train_true = scaler.inverse_transform(trainY)
    test_true = scaler.inverse_transform(testY)
    result = {
        "variant": name,
        "look_back": look_back,
        "input_shape": tuple(trainX.shape),
        "train_rmse": rmse(train_true, scaler.inverse_transform(trainPredict[:, 0])),
        "test_rmse": rmse(test_true, scaler.inverse_transform(testPredict[:, 0])),
        "persistence_train_rmse": rmse(train_true, scaler.inverse_transform(persistence_forecast(trainX))),
        "persistence_test_rmse": rmse(test_true, scaler.inverse_transform(persistence_forecast(testX))),
        "seconds": time.perf_counter() - start,
    }
    return result


# -- the command line -------------------------------------------------------------------
def results_table(results):
    from rich.table import Table

    table = Table(title="Airline passengers: RMSE in thousands of passengers")
    table.add_column("variant")
    for col in ("train RMSE", "test RMSE", "persistence train RMSE", "persistence test RMSE", "seconds"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r["variant"], f"{r['train_rmse']:.2f}", f"{r['test_rmse']:.2f}",
                      f"{r['persistence_train_rmse']:.2f}", f"{r['persistence_test_rmse']:.2f}",
                      f"{r['seconds']:.1f}")
    return table


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=None,
                   help=f"airline-passengers.csv (default: {DEFAULT_DATA})")
    p.add_argument("--variant", choices=list(VARIANTS), action="append",
                   help="run only this variant (may be repeated; default: all five)")
    p.add_argument("--epochs", type=int, default=100, help="training epochs (default: 100)")
    p.add_argument("--seed", type=int, default=7, help="random seed for weights and shuffling (default: 7)")
    p.add_argument("--quiet", action="store_true", help="print only the final table")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be at least 1. Received: {args.epochs}.")
    return args


def main(argv=None):
    from rich.console import Console

    args = parse_args(argv)
    try:
        series = load_series(args.data)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    console = Console()
    results = []
    for name in args.variant or list(VARIANTS):
        r = run_variant(name, series, epochs=args.epochs, seed=args.seed)
        results.append(r)
        if not args.quiet:
            print(
                f"{name}: X {r['input_shape']}  Train Score: {r['train_rmse']:.2f} RMSE  "
                f"Test Score: {r['test_rmse']:.2f} RMSE  (persistence: train "
                f"{r['persistence_train_rmse']:.2f}, test {r['persistence_test_rmse']:.2f})  "
                f"{r['seconds']:.1f} s", flush=True)
    console.print(results_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
