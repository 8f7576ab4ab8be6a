"""Series helpers: the time-series tutorials' boilerplate as library calls.

The steps every "LSTM for time series" tutorial writes by hand::

    series = read_csv_series("airline-passengers.csv", "Passengers")   # (144,)
    train, test = train_test_split(series, train_fraction=0.67)        # in time order
    scaler = MinMaxScaler().fit(train)
    X, y = make_windows(scale(scaler, train), look_back=3)             # (N, 3, 1), (N, 1)
    model.fit(X, y, ...)
    result = walk_forward(model, series, start=len(train), look_back=3, scaler=scaler)
    result.rmse, result.persistence_rmse, result.seasonal_naive_rmse

Conventions used throughout:

* A series is a NumPy array of shape (T,) (one variable) or (T, F) (F variables
  observed at each of T time steps), in time order.
* Scalers work per column (per feature, the last axis). The helpers `scale` and
  `unscale` take lstmlab's scalers or scikit-learn's (anything with
  `transform` / `inverse_transform`), and reshape 1-D data to the 2-D
  (samples, features) that scikit-learn insists on, and back.
* Baselines and `walk_forward` forecast one step ahead from the *true* history:
  the forecast for time t uses the observed values up to t-1, never earlier
  forecasts.

pandas is optional: a Series or DataFrame is recognised by its attributes
(duck typing), so lstmlab never imports pandas itself.
"""
import csv
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

__all__ = [
    "as_series", "read_csv_series", "make_windows", "train_test_split",
    "MinMaxScaler", "StandardScaler", "scale", "unscale",
    "rmse", "persistence_forecast", "seasonal_naive_forecast",
    "walk_forward", "model_predictor", "WalkForwardResult", "ColumnNotFoundError",
]


# -----------------------------------------------------------------------------
# Getting a series
# -----------------------------------------------------------------------------
class ColumnNotFoundError(KeyError, ValueError):
    """A column that is not in the data; the message lists the ones that are."""

    def __str__(self):                 # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


def _is_dataframe(obj):
    return hasattr(obj, "columns") and hasattr(obj, "__getitem__") and hasattr(obj, "to_numpy")


def _is_pandas_series(obj):
    return (not hasattr(obj, "columns")) and hasattr(obj, "to_numpy") and hasattr(obj, "index")


def _row_label(obj, i):
    """A row's position, and its index label when the object has one that differs."""
    index = getattr(obj, "index", None)
    if index is not None:
        try:
            label = list(index)[i]
        except Exception:
            label = None
        if label is not None and label != i:
            return f"row {i} (index {label!r})"
    return f"row {i}"


def _to_float(values, describe):
    """values (1-D or 2-D, any dtype) -> float array, or an error naming the first bad value."""
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        out = arr.astype(np.float64)
    else:
        out = np.empty(arr.shape, np.float64)
        for pos, v in np.ndenumerate(arr):
            try:
                if isinstance(v, (bool, np.bool_)):
                    raise ValueError
                out[pos] = float(v)
            except (TypeError, ValueError):
                v = v.item() if isinstance(v, np.generic) else v
                raise ValueError(
                    f"The series must hold numbers. {describe(pos)} holds {v!r} "
                    f"({type(v).__name__}), which is not a number."
                ) from None
    bad = ~np.isfinite(out)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN (a missing value)" if np.isnan(out[pos]) else f"{out[pos]}"
        raise ValueError(
            f"The series holds {kind} at {describe(pos)} ({int(bad.sum())} non-finite value(s) "
            f"in all). Fill or drop them first (e.g. interpolate, or keep only the rows where "
            f"np.isfinite(x)), since an LSTM cannot train on them."
        )
    return out


def as_series(obj, column=None, dtype=np.float64):
    """A series as a float array: (T,) for one variable, (T, F) for several.

    obj may be a NumPy array (1-D or 2-D), a list (of numbers, or of rows), a
    pandas Series, a pandas DataFrame, or a mapping {column name: values}.
    `column` picks columns: a name (or list of names) for a DataFrame or
    mapping, an integer position (or list) for a 2-D array. One column named
    gives (T,); a list of columns, or a DataFrame without `column`, gives
    (T, F) (all its columns, as `df.values` does).

    Raises ValueError for a missing column (listing the available ones), a
    non-numeric value (saying which row holds it) or NaN / inf (saying where).
    """
    if _is_dataframe(obj) or isinstance(obj, Mapping):
        names = list(obj.columns) if _is_dataframe(obj) else list(obj.keys())
        wanted = names if column is None else (list(column) if isinstance(column, (list, tuple)) else [column])
        missing = [c for c in wanted if c not in names]
        if missing:
            raise ColumnNotFoundError(
                f"Column {missing[0]!r} is not in the data. Available columns: "
                f"{', '.join(repr(n) for n in names)}."
            )
        cols = []
        for c in wanted:
            col = obj[c]
            col = col.to_numpy() if hasattr(col, "to_numpy") else np.asarray(col)
            cols.append(_to_float(col, lambda pos, c=c: f"Column {c!r}, {_row_label(obj, pos[0])}"))
        lengths = {len(c) for c in cols}
        if len(lengths) > 1:
            raise ValueError(f"The columns {wanted} have different lengths: {[len(c) for c in cols]}.")
        # One named column -> (T,); None (all columns) or a list -> (T, F), as `.values` gives.
        out = cols[0] if column is not None and not isinstance(column, (list, tuple)) else np.stack(cols, axis=1)
        return out.astype(dtype)

    if _is_pandas_series(obj):
        values = obj.to_numpy()
        if column is not None:
            raise ValueError(f"column={column!r} was given, but the data is a single series (a pandas Series).")
        return _to_float(values, lambda pos: _row_label(obj, pos[0])).astype(dtype)

    try:
        arr = np.asarray(obj)
    except Exception as e:
        raise ValueError(f"The series could not be turned into an array: {e}.") from None
    if arr.ndim == 0:
        raise ValueError(f"A series needs a time axis. Received a scalar: {obj!r}.")
    if arr.ndim > 2:
        raise ValueError(
            f"A series is (T,) or (T, features). Received an array of shape {arr.shape}."
        )
    if column is not None:
        if arr.ndim != 2:
            raise ValueError(f"column={column!r} needs 2-D data (T, features). Received shape {arr.shape}.")
        idx = list(column) if isinstance(column, (list, tuple)) else column
        try:
            arr = arr[:, idx]
        except IndexError:
            raise ColumnNotFoundError(
                f"Column {column!r} is out of range: the array has {arr.shape[1]} columns "
                f"(0..{arr.shape[1] - 1})."
            ) from None

    def describe(pos):
        return f"row {pos[0]}" + (f", column {pos[1]}" if len(pos) > 1 else "")

    return _to_float(arr, describe).astype(dtype)


def read_csv_series(path, column=None, dtype=np.float64):
    """One numeric column of a CSV file with a header row, as a float array (T,).

    column: a header name (e.g. "Passengers") or a 0-based position; by
    default the last column whose values are all numbers. Blank lines (such
    as a trailing newline) are skipped; CRLF and quoted fields are handled by
    the csv module. Errors name the file and, for a bad value, its line
    number (the header is line 1) and the value.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such CSV file: {path!r}.")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [(line, r) for line, r in enumerate(csv.reader(f), start=1)]
    rows = [(line, r) for line, r in rows if r and any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{path!r} is empty: expected a header row and data rows.")
    header = [h.strip() for h in rows[0][1]]
    body = rows[1:]
    if not body:
        raise ValueError(f"{path!r} has a header ({header}) but no data rows.")

    def numeric(j):
        for _, r in body:
            try:
                float(r[j])
            except (IndexError, ValueError):
                return False
        return True

    if column is None:
        numeric_cols = [j for j in range(len(header)) if numeric(j)]
        if not numeric_cols:
            raise ValueError(
                f"{path!r} has no column of numbers. Columns: {', '.join(repr(h) for h in header)}; "
                f"first data row: {body[0][1]}."
            )
        j = numeric_cols[-1]
    elif isinstance(column, (int, np.integer)) and not isinstance(column, bool):
        if not -len(header) <= column < len(header):
            raise ColumnNotFoundError(
                f"Column {column} is out of range: {path!r} has {len(header)} columns "
                f"({', '.join(repr(h) for h in header)})."
            )
        j = int(column) % len(header)
    else:
        name = str(column).strip()
        if name not in header:
            lowered = [h.lower() for h in header]
            if name.lower() in lowered:
                j = lowered.index(name.lower())
            else:
                raise ColumnNotFoundError(
                    f"Column {column!r} is not in {path!r}. Available columns: "
                    f"{', '.join(repr(h) for h in header)}."
                )
        else:
            j = header.index(name)

    values = np.empty(len(body), np.float64)
    for k, (line, r) in enumerate(body):
        if j >= len(r):
            raise ValueError(
                f"{path!r}, line {line}: the row has {len(r)} field(s), so no column "
                f"{header[j]!r} (column {j}): {r}."
            )
        cell = r[j]
        try:
            values[k] = float(cell)
        except ValueError:
            raise ValueError(
                f"{path!r}, line {line} (data row {k + 1}): column {header[j]!r} holds "
                f"{cell!r}, which is not a number."
            ) from None
        if not math.isfinite(values[k]):
            raise ValueError(
                f"{path!r}, line {line} (data row {k + 1}): column {header[j]!r} holds "
                f"{cell!r} (not a finite number). Fill or drop it first."
            )
    return values.astype(dtype)


# -----------------------------------------------------------------------------
# Windows and splits
# -----------------------------------------------------------------------------
def make_windows(series, look_back, horizon=1, layout="timesteps", drop_last=False):
    """The tutorials' `create_dataset`: a series -> supervised pairs (X, y).

    Sample i is the window series[i : i + look_back] and the target is the
    `horizon` values that follow it, series[i + look_back : i + look_back + horizon].

    series: (T,) or (T, F). A 1-D series is one feature (F = 1).
    layout:
      "timesteps": X (N, look_back, F) -- each past value is one timestep (the usual choice).
      "features":  X (N, 1, look_back * F) -- the whole window is one timestep of
                   look_back * F features, time-major: [x[t0, f0], x[t0, f1], ..., x[t1, f0], ...].
    y: (N, F) for horizon 1 -- 2-D even for a univariate series, to match a
       Dense(F) output. For horizon > 1, flattened to (N, horizon * F) so that a
       Dense(horizon * F) layer can predict it directly, step-major:
       y.reshape(N, horizon, F)[:, k] is the value k + 1 steps after the window.

    N = T - look_back - horizon + 1: every window that has a full target.
    drop_last=True drops the last of them, N - 1 samples, to reproduce
    Jason Brownlee's `create_dataset`, whose loop `range(len(dataset) - look_back - 1)`
    leaves out the final window (the airline tutorial's sample counts and RMSEs).
    """
    s = as_series(series)
    if s.ndim == 1:
        s = s[:, None]
    for name, v in (("look_back", look_back), ("horizon", horizon)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={v!r}.")
    if layout not in ("timesteps", "features"):
        raise ValueError(f"layout must be 'timesteps' or 'features'. Received: layout={layout!r}.")
    T, F = s.shape
    need = look_back + horizon + (1 if drop_last else 0)
    if T < need:
        raise ValueError(
            f"The series is too short: {T} values, but look_back={look_back} and "
            f"horizon={horizon}{' with drop_last=True' if drop_last else ''} need at least "
            f"{need} (look_back + horizon{' + 1' if drop_last else ''}) for one sample."
        )
    N = T - look_back - horizon + 1 - (1 if drop_last else 0)
    idx = np.arange(N)[:, None]
    X = s[idx + np.arange(look_back)]                      # (N, look_back, F)
    y = s[idx + look_back + np.arange(horizon)]            # (N, horizon, F)
    if layout == "features":
        X = X.reshape(N, 1, look_back * F)
    y = y.reshape(N, horizon * F)
    return X, y


def train_test_split(series_or_X, y=None, train_fraction=0.67):
    """Split in time order, without shuffling: the first part trains, the rest tests.

    train size = int(len * train_fraction), as the tutorials compute it
    (144 airline months -> 96 train, 48 test).

    Returns (train, test) for one array, or (X_train, X_test, y_train, y_test)
    (scikit-learn's order) when y is given.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1). Received: {train_fraction!r}.")
    a = np.asarray(series_or_X)
    if a.ndim == 0:
        raise ValueError("train_test_split needs an array with a time (or sample) axis. Received a scalar.")
    n = len(a)
    k = int(n * train_fraction)
    if k == 0 or k == n:
        raise ValueError(
            f"train_fraction={train_fraction} of {n} samples leaves an empty "
            f"{'train' if k == 0 else 'test'} part ({k} train, {n - k} test)."
        )
    if y is None:
        return a[:k], a[k:]
    b = np.asarray(y)
    if len(b) != n:
        raise ValueError(f"X and y must have the same length. Received {n} and {len(b)}.")
    return a[:k], a[k:], b[:k], b[k:]


# -----------------------------------------------------------------------------
# Scalers
# -----------------------------------------------------------------------------
class _Scaler:
    """Per-column scaling of (T,) or (..., F) arrays; what the two scalers share.

    Fitted on (T,) the scaler knows one feature and scales arrays of any shape
    elementwise; fitted on (T, F) it scales along the last axis, which must be F.
    transform returns the input's shape.
    """

    n_features_in_ = None

    def _fit_array(self, x):
        a = as_series(x) if np.ndim(x) <= 2 else np.asarray(x, np.float64)
        if a.ndim == 1:
            a = a[:, None]
        a = a.reshape(-1, a.shape[-1])
        if len(a) == 0:
            raise ValueError(f"{type(self).__name__}.fit needs at least one sample. Received shape {np.shape(x)}.")
        self.n_features_in_ = a.shape[1]
        return a

    def _check_fitted(self):
        if self.n_features_in_ is None:
            raise RuntimeError(f"This {type(self).__name__} is not fitted yet: call fit(train) first.")

    def _apply(self, x, fn):
        self._check_fitted()
        a = np.asarray(x, dtype=np.float64)
        if self.n_features_in_ == 1:
            out = fn(a.reshape(-1, 1)).reshape(a.shape)
        else:
            if a.ndim == 0 or a.shape[-1] != self.n_features_in_:
                raise ValueError(
                    f"{type(self).__name__} was fitted on {self.n_features_in_} features (columns); "
                    f"expected an array whose last axis is {self.n_features_in_}. "
                    f"Received shape {a.shape}."
                )
            out = fn(a.reshape(-1, self.n_features_in_)).reshape(a.shape)
        in_dtype = np.asarray(x).dtype
        return out.astype(in_dtype) if in_dtype.kind == "f" else out

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def transform(self, x):
        return self._apply(x, self._forward)

    def inverse_transform(self, x):
        return self._apply(x, self._backward)


def _nonzero(scale):
    """A zero range (a constant column) scales by 1, as scikit-learn does."""
    scale = scale.copy()
    scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
    return scale


class MinMaxScaler(_Scaler):
    """x -> (x - min) / (max - min) * (hi - lo) + lo, per column; scikit-learn's numbers.

    A constant column maps to `lo` (its range counts as 1).
    """

    def __init__(self, feature_range=(0, 1)):
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(f"feature_range must be (min, max) with min < max. Received: {feature_range!r}.")
        self.feature_range = (float(lo), float(hi))

    def fit(self, x):
        a = self._fit_array(x)
        self.data_min_, self.data_max_ = a.min(axis=0), a.max(axis=0)
        self.data_range_ = self.data_max_ - self.data_min_
        lo, hi = self.feature_range
        self.scale_ = (hi - lo) / _nonzero(self.data_range_)
        self.min_ = lo - self.data_min_ * self.scale_
        return self

    def _forward(self, a):
        return a * self.scale_ + self.min_

    def _backward(self, a):
        return (a - self.min_) / self.scale_

    def __repr__(self):
        return f"MinMaxScaler(feature_range={self.feature_range})"


class StandardScaler(_Scaler):
    """x -> (x - mean) / std, per column (population std, ddof=0, as scikit-learn).

    A constant column is only centred (its std counts as 1).
    """

    def fit(self, x):
        a = self._fit_array(x)
        self.mean_ = a.mean(axis=0)
        self.var_ = a.var(axis=0)
        self.scale_ = _nonzero(np.sqrt(self.var_))
        return self

    def _forward(self, a):
        return (a - self.mean_) / self.scale_

    def _backward(self, a):
        return a * self.scale_ + self.mean_

    def __repr__(self):
        return "StandardScaler()"


def _check_scaler(scaler, method):
    if not callable(getattr(scaler, method, None)):
        raise TypeError(
            f"A scaler needs a {method}() method (lstmlab.data.MinMaxScaler, StandardScaler, or "
            f"a fitted scikit-learn scaler). Received: {scaler!r}."
        )


def _foreign_apply(scaler, values, method):
    """A scikit-learn-style scaler on 2-D (samples, features): reshape in and out."""
    a = np.asarray(values, dtype=np.float64)
    n_in = getattr(scaler, "n_features_in_", None)
    if a.ndim == 0:
        a2 = a.reshape(1, 1)
    elif a.ndim == 1 or n_in == 1:
        a2 = a.reshape(-1, 1)
    else:
        a2 = a.reshape(-1, a.shape[-1])
    out = np.asarray(getattr(scaler, method)(a2), dtype=np.float64)
    return out.reshape(a.shape)


def scale(scaler, values):
    """scaler.transform(values), keeping the shape of values: (T,), (T, F) or (..., F).

    Works with lstmlab's scalers and with fitted scikit-learn ones (which want
    2-D input: a 1-D series, or any array when the scaler was fitted on one
    column, is reshaped to (-1, 1) and back; (..., F) to (-1, F) and back).
    """
    _check_scaler(scaler, "transform")
    if isinstance(scaler, _Scaler):
        return scaler.transform(values)
    return _foreign_apply(scaler, values, "transform")


def unscale(scaler, values):
    """scaler.inverse_transform(values), keeping the shape of values (see `scale`)."""
    _check_scaler(scaler, "inverse_transform")
    if isinstance(scaler, _Scaler):
        return scaler.inverse_transform(values)
    return _foreign_apply(scaler, values, "inverse_transform")


# -----------------------------------------------------------------------------
# Errors and baselines
# -----------------------------------------------------------------------------
def rmse(a, b):
    """Root mean squared error between two arrays of the same size (float).

    Shapes may differ only by axes of length 1, e.g. (N,) against (N, 1) as the
    tutorials compare `testY[0]` with `testPredict[:, 0]`.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        if np.squeeze(a).shape != np.squeeze(b).shape:
            raise ValueError(f"rmse needs arrays of the same shape. Received {a.shape} and {b.shape}.")
        a, b = np.squeeze(a), np.squeeze(b)
    if a.size == 0:
        raise ValueError("rmse of empty arrays is undefined.")
    return float(np.sqrt(np.mean((a - b) ** 2)))


def _forecast_range(s, start, steps, need_before, what):
    T = len(s)
    if not isinstance(start, (int, np.integer)) or isinstance(start, bool):
        raise TypeError(f"start must be an integer index into the series. Received: {start!r}.")
    if steps is None:
        steps = T - start
    if start < need_before:
        raise ValueError(
            f"{what} needs {need_before} observed value(s) before start; start={start}. "
            f"Use start >= {need_before}."
        )
    if steps < 1 or start + steps > T:
        raise ValueError(
            f"{what}: start={start}, steps={steps} runs past the series of {T} values "
            f"(start + steps must be at most {T}, steps at least 1)."
        )
    return int(start), int(steps)


def persistence_forecast(series, start, steps=None, walk_forward=True):
    """The naive forecast for series[start : start + steps]: "next value = last observed value".

    walk_forward=True (default): one step ahead with the true history, as in
    walk-forward evaluation: the forecast for time t is series[t - 1].
    walk_forward=False: a fixed-origin forecast from time start - 1: series[start - 1]
    repeated `steps` times.
    steps defaults to the rest of the series. Returns (steps,) or (steps, F).
    """
    s = as_series(series)
    start, steps = _forecast_range(s, start, steps, 1, "persistence_forecast")
    if walk_forward:
        return s[start - 1:start + steps - 1].copy()
    return np.repeat(s[start - 1:start], steps, axis=0)


def seasonal_naive_forecast(series, start, steps=None, season=12, walk_forward=True):
    """The seasonal naive forecast for series[start : start + steps]: "same as one season ago".

    walk_forward=True (default): the forecast for time t is series[t - season]
    (true history). walk_forward=False: from origin start - 1, the last observed
    season repeated: series[start - season + (k % season)] for step k.
    Both agree for the first `season` steps. Returns (steps,) or (steps, F).
    """
    if not isinstance(season, (int, np.integer)) or season < 1:
        raise ValueError(f"season must be a positive integer. Received: season={season!r}.")
    s = as_series(series)
    start, steps = _forecast_range(s, start, steps, season, f"seasonal_naive_forecast (season={season})")
    k = np.arange(steps)
    if walk_forward:
        return s[start + k - season].copy()
    return s[start - season + (k % season)].copy()


# -----------------------------------------------------------------------------
# Walk-forward evaluation
# -----------------------------------------------------------------------------
def model_predictor(model, layout="timesteps"):
    """A trained lstmlab (or Keras) model as a predictor: window (look_back, F) -> next value (F,).

    layout says how the model was trained (see `make_windows`): "timesteps"
    feeds (1, look_back, F), "features" feeds (1, 1, look_back * F). The model's
    output for the sample, (1, F) (or (1, T, F) from a return_sequences model,
    of which the last step is used), becomes (F,).

    A stateful model keeps its state from one call to the next, as it does in
    the tutorials' `model.predict(testX, batch_size=1)`; reset it
    (`model.reset_states()`) before evaluating if that is not what you want.
    """
    if layout not in ("timesteps", "features"):
        raise ValueError(f"layout must be 'timesteps' or 'features'. Received: layout={layout!r}.")
    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"model_predictor needs a model with predict(). Received: {model!r}.")

    def predict(window):
        w = np.asarray(window, np.float32)
        if w.ndim == 1:
            w = w[:, None]
        x = w[None] if layout == "timesteps" else w.reshape(1, 1, -1)
        out = np.asarray(model.predict(x, verbose=0))
        if out.ndim == 3:
            out = out[:, -1]
        return out.reshape(-1)

    predict.model, predict.layout = model, layout
    return predict


@dataclass
class WalkForwardResult:
    """What `walk_forward` returns; every forecast array is aligned with `actual`.

    predictions, actual, persistence, seasonal_naive: (steps,) for a 1-D series,
    (steps, F) otherwise, in the series' units. seasonal_naive and its RMSE are
    None when start < season (not enough history for it).
    """

    predictions: np.ndarray
    actual: np.ndarray
    start: int
    rmse: float
    persistence: np.ndarray
    persistence_rmse: float
    seasonal_naive: Optional[np.ndarray] = None
    seasonal_naive_rmse: Optional[float] = None
    season: int = 12
    extra: dict = field(default_factory=dict)

    def summary(self):
        lines = [f"walk-forward over {len(self.actual)} steps from t={self.start}:",
                 f"  model           RMSE {self.rmse:.4f}",
                 f"  persistence     RMSE {self.persistence_rmse:.4f}"]
        if self.seasonal_naive_rmse is not None:
            lines.append(f"  seasonal naive  RMSE {self.seasonal_naive_rmse:.4f} (season {self.season})")
        return "\n".join(lines)

    def __str__(self):
        return self.summary()


def walk_forward(predictor, series, start, look_back, steps=None, scaler=None,
                 layout="timesteps", season=12):
    """One-step-ahead walk-forward evaluation with the true history.

    For each t in start, ..., start + steps - 1 (default: to the end of the
    series) the predictor sees the actual window series[t - look_back : t]
    and forecasts series[t]; the forecast is never fed back. The RMSE is
    computed in the series' units, beside those of the persistence
    (series[t - 1]) and seasonal naive (series[t - season]) forecasts of the
    same steps: a model that cannot beat persistence has learnt nothing useful.

    predictor: a callable window (look_back, F) -> next value (F,) (or a scalar
      for one feature), or a trained model with `predict`, which is wrapped with
      `model_predictor(model, layout)`.
    series: (T,) or (T, F), in original units. Typically start = len(train).
    scaler: optional fitted scaler (lstmlab's or scikit-learn's). The predictor
      then sees scale(scaler, window) and its output is unscaled before scoring.
    """
    s = as_series(series)
    start, steps = _forecast_range(s, start, steps, look_back, f"walk_forward (look_back={look_back})")
    if not callable(predictor) or (hasattr(predictor, "predict") and hasattr(predictor, "layers")):
        predictor = model_predictor(predictor, layout=layout)
    s2 = s[:, None] if s.ndim == 1 else s
    F = s2.shape[1]
    preds = np.empty((steps, F), np.float64)
    for k in range(steps):
        t = start + k
        window = s2[t - look_back:t]
        if scaler is not None:
            window = scale(scaler, window if s.ndim == 2 else window[:, 0])
            window = window[:, None] if window.ndim == 1 else window
        p = np.asarray(predictor(window), np.float64).reshape(-1)
        if p.size != F:
            raise ValueError(
                f"The predictor must return the next value of each of the {F} feature(s). "
                f"It returned {p.size} value(s) (shape {np.shape(p)}) at t={t}."
            )
        if scaler is not None:
            p = np.asarray(unscale(scaler, p if s.ndim == 2 else p[0:1]), np.float64).reshape(-1)
        preds[k] = p
    actual = s[start:start + steps].copy()
    predictions = preds[:, 0] if s.ndim == 1 else preds
    pers = persistence_forecast(s, start, steps)
    result = WalkForwardResult(
        predictions=predictions, actual=actual, start=start, rmse=rmse(actual, predictions),
        persistence=pers, persistence_rmse=rmse(actual, pers), season=season)
    if start >= season:
        sn = seasonal_naive_forecast(s, start, steps, season=season)
        result.seasonal_naive, result.seasonal_naive_rmse = sn, rmse(actual, sn)
    return result
