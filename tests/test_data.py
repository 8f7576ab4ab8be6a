"""lstmlab.data: series helpers (windows, splits, scalers, baselines, walk-forward)."""
import math

import numpy as np
import pytest

from lstmlab import data, datasets
from lstmlab.data import (
    MinMaxScaler, StandardScaler, as_series, make_windows, persistence_forecast, read_csv_series,
    rmse, scale, seasonal_naive_forecast, train_test_split, unscale, walk_forward,
)

AIRLINE = datasets.path("airline-passengers.csv")      # shipped with lstmlab, byte for byte


def brownlee_create_dataset(dataset, look_back=1):
    """As the airline tutorial wrote it, including its `- 1`."""
    dataX, dataY = [], []
    for i in range(len(dataset) - look_back - 1):
        dataX.append(dataset[i:(i + look_back), 0])
        dataY.append(dataset[i + look_back, 0])
    return np.array(dataX), np.array(dataY)


# -- as_series ------------------------------------------------------------------
class FakeSeries:
    """What as_series needs of a pandas Series (pandas is not a dependency)."""

    def __init__(self, values, index=None):
        self._v = np.asarray(values, dtype=object)
        self.index = list(index) if index is not None else list(range(len(values)))

    def to_numpy(self):
        return self._v


class FakeDataFrame:
    def __init__(self, cols, index=None):
        self._cols = {k: FakeSeries(v, index) for k, v in cols.items()}
        self.columns = list(cols)
        self.index = list(index) if index is not None else list(range(len(next(iter(cols.values())))))

    def __getitem__(self, k):
        return self._cols[k]

    def to_numpy(self):
        return np.stack([c.to_numpy() for c in self._cols.values()], axis=1)


def test_as_series_numpy_list_and_columns():
    assert as_series([1, 2, 3]).dtype == np.float64
    np.testing.assert_array_equal(as_series([1, 2, 3]), [1.0, 2.0, 3.0])
    a = np.arange(6).reshape(3, 2)
    assert as_series(a).shape == (3, 2)
    np.testing.assert_array_equal(as_series(a, column=1), [1, 3, 5])
    with pytest.raises(KeyError, match="3 columns"):
        as_series(np.zeros((2, 3)), column=5)
    with pytest.raises(ValueError, match=r"\(T,\) or \(T, features\)"):
        as_series(np.zeros((2, 2, 2)))


def test_as_series_duck_typed_pandas():
    df = FakeDataFrame({"Month": ["1949-01", "1949-02", "1949-03"], "Passengers": [112, 118, 132]})
    np.testing.assert_array_equal(as_series(df, "Passengers"), [112, 118, 132])
    np.testing.assert_array_equal(as_series(df["Passengers"]), [112, 118, 132])
    with pytest.raises(KeyError, match="Available columns: 'Month', 'Passengers'") as e:
        as_series(df, "passengers_")
    assert isinstance(e.value, ValueError)       # catchable either way
    with pytest.raises(ValueError, match=r"Column 'Month', row 0 holds '1949-01'"):
        as_series(df, "Month")
    labelled = FakeSeries([1.0, "n/a", 3.0], index=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"row 1 \(index 'b'\) holds 'n/a'"):
        as_series(labelled)
    # a mapping works the same way
    np.testing.assert_array_equal(as_series({"x": [1, 2], "y": [3, 4]}), [[1, 3], [2, 4]])


def test_as_series_nan_and_non_numeric():
    with pytest.raises(ValueError, match="NaN .* at row 2"):
        as_series([1.0, 2.0, float("nan")])
    with pytest.raises(ValueError, match=r"row 1, column 0 holds 'x'"):
        as_series(np.array([[1, 2], ["x", 3]], dtype=object))
    with pytest.raises(ValueError, match="row 1 holds None"):
        as_series([1.0, None])


# -- read_csv_series -----------------------------------------------------------------
def test_read_csv_airline():
    s = read_csv_series(AIRLINE)                       # default: last numeric column
    assert s.shape == (144,) and s[0] == 112 and s[-1] == 432
    np.testing.assert_array_equal(read_csv_series(AIRLINE, "Passengers"), s)
    np.testing.assert_array_equal(read_csv_series(AIRLINE, 1), s)


def test_read_csv_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_csv_series(tmp_path / "nope.csv")
    with pytest.raises(KeyError, match="Available columns: 'Month', 'Passengers'"):
        read_csv_series(AIRLINE, "Sales")
    bad = tmp_path / "bad.csv"
    bad.write_text('"Month","Passengers"\r\n"1949-01",112\r\n"1949-02",11x8\r\n"1949-03",132')
    with pytest.raises(ValueError, match=r"line 3 \(data row 2\): column 'Passengers' holds '11x8'"):
        read_csv_series(bad, "Passengers")
    with pytest.raises(ValueError, match="no column of numbers"):
        read_csv_series(bad)
    good = tmp_path / "multi.csv"
    good.write_text("a,b,c\n1,2,x\n3,4,y\n\n")      # trailing blank line is fine
    np.testing.assert_array_equal(read_csv_series(good), [2, 4])   # last numeric column


# -- make_windows --------------------------------------------------------------------
def test_windows_timesteps_univariate():
    s = np.arange(10.0)
    X, y = make_windows(s, look_back=3)
    assert X.shape == (7, 3, 1) and y.shape == (7, 1)
    np.testing.assert_array_equal(X[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(X[-1, :, 0], [6, 7, 8])
    np.testing.assert_array_equal(y[:, 0], np.arange(3, 10))


def test_windows_features_multivariate_and_horizon():
    s = np.stack([np.arange(8.0), 100 + np.arange(8.0)], axis=1)    # (8, 2)
    X, y = make_windows(s, look_back=2, layout="features")
    assert X.shape == (6, 1, 4) and y.shape == (6, 2)
    np.testing.assert_array_equal(X[1, 0], [1, 101, 2, 102])        # time-major
    np.testing.assert_array_equal(y[1], [3, 103])
    X, y = make_windows(s, look_back=3, horizon=2)
    assert X.shape == (4, 3, 2) and y.shape == (4, 4)               # (N, horizon * F)
    np.testing.assert_array_equal(y.reshape(4, 2, 2)[0], [[3, 103], [4, 104]])
    np.testing.assert_array_equal(X[3, :, 0], [3, 4, 5])
    np.testing.assert_array_equal(y[3], [6, 106, 7, 107])


def test_windows_match_brownlee_create_dataset_with_drop_last():
    s = read_csv_series(AIRLINE).astype(np.float32)[:, None]
    for look_back in (1, 3):
        bx, by = brownlee_create_dataset(s, look_back)
        X, y = make_windows(s, look_back, layout="features", drop_last=True)
        np.testing.assert_array_equal(X, bx.reshape(len(bx), 1, look_back))
        np.testing.assert_array_equal(y[:, 0], by)
        X, y = make_windows(s, look_back, layout="timesteps", drop_last=True)
        np.testing.assert_array_equal(X, bx.reshape(len(bx), look_back, 1))
        # without drop_last there is exactly one more sample: the final window
        X2, y2 = make_windows(s, look_back)
        assert len(X2) == len(bx) + 1
        np.testing.assert_array_equal(X2[:-1], X)
        assert y2[-1, 0] == s[-1, 0]


def test_windows_too_short_says_lengths():
    with pytest.raises(ValueError, match="4 values.*look_back=3.*horizon=2.*at least 5"):
        make_windows(np.arange(4.0), 3, horizon=2)
    with pytest.raises(ValueError, match="at least 5"):
        make_windows(np.arange(4.0), 3, drop_last=True)
    make_windows(np.arange(4.0), 3)                                   # exactly enough
    with pytest.raises(ValueError, match="layout"):
        make_windows(np.arange(9.0), 3, layout="rows")


# -- split ---------------------------------------------------------------------------
def test_train_test_split_keeps_time_order():
    s = np.arange(144.0)
    train, test = train_test_split(s)
    assert len(train) == 96 and len(test) == 48
    np.testing.assert_array_equal(np.concatenate([train, test]), s)
    X, y = make_windows(s, 3)
    Xtr, Xte, ytr, yte = train_test_split(X, y, train_fraction=0.5)
    assert len(Xtr) == len(ytr) == 70 and Xte[0, 0, 0] == 70 and yte[-1, 0] == 143
    with pytest.raises(ValueError, match="empty"):
        train_test_split(np.arange(2.0), train_fraction=0.3)


# -- scalers -------------------------------------------------------------------------
def test_minmax_round_trip_and_per_column():
    x = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 20.0]])
    sc = MinMaxScaler().fit(x)
    np.testing.assert_allclose(sc.transform(x), [[0, 0], [1, 1], [0.5, 0.5]])
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(x)), x)
    sc = MinMaxScaler(feature_range=(-1, 1))
    np.testing.assert_allclose(sc.fit_transform(x[:, 0]), [-1, 1, 0])          # 1-D in, 1-D out
    assert sc.transform(x[:, 0]).shape == (3,)
    # a one-feature scaler works on any shape, e.g. windows (N, look_back, 1)
    w = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1)
    np.testing.assert_allclose(sc.transform(w).ravel(), [-1, 0, 1])
    # constant column: no division by zero
    np.testing.assert_allclose(MinMaxScaler().fit_transform(np.array([5.0, 5.0])), [0, 0])
    with pytest.raises(ValueError, match="fitted on 2 features"):
        MinMaxScaler().fit(x).transform(np.zeros((2, 3)))
    # float32 stays float32
    assert MinMaxScaler().fit_transform(x.astype(np.float32)).dtype == np.float32


def test_standard_scaler():
    x = np.array([[1.0, 0.0], [3.0, 0.0], [5.0, 0.0]])
    sc = StandardScaler().fit(x)
    z = sc.transform(x)
    np.testing.assert_allclose(z[:, 0], [-math.sqrt(1.5), 0, math.sqrt(1.5)])   # ddof=0
    np.testing.assert_allclose(z[:, 1], 0)
    np.testing.assert_allclose(sc.inverse_transform(z), x)
    s = StandardScaler().fit(np.arange(5.0))
    np.testing.assert_allclose(s.inverse_transform(s.transform(np.arange(5.0))), np.arange(5.0))


class TwoDOnlyScaler:
    """Behaves like a scikit-learn scaler: refuses anything but 2-D input."""

    def fit(self, X):
        X = np.asarray(X)
        assert X.ndim == 2
        self.n_features_in_ = X.shape[1]
        self.lo, self.hi = X.min(0), X.max(0)
        return self

    def transform(self, X):
        assert np.ndim(X) == 2, "Expected 2D array"
        return (np.asarray(X) - self.lo) / (self.hi - self.lo)

    def inverse_transform(self, X):
        assert np.ndim(X) == 2, "Expected 2D array"
        return np.asarray(X) * (self.hi - self.lo) + self.lo


def test_scale_unscale_reshape_for_2d_only_scalers():
    s = np.array([2.0, 4.0, 6.0])
    sk = TwoDOnlyScaler().fit(s.reshape(-1, 1))
    np.testing.assert_allclose(scale(sk, s), [0, 0.5, 1])
    assert scale(sk, s).shape == (3,)
    np.testing.assert_allclose(unscale(sk, scale(sk, s)), s)
    np.testing.assert_allclose(scale(sk, s.reshape(1, 3, 1)).ravel(), [0, 0.5, 1])
    np.testing.assert_allclose(scale(MinMaxScaler().fit(s), s), [0, 0.5, 1])
    with pytest.raises(TypeError, match="transform"):
        scale(object(), s)


def test_sklearn_scaler_if_installed():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    x = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 25.0]])
    for ours, theirs in ((MinMaxScaler(), preprocessing.MinMaxScaler()),
                         (StandardScaler(), preprocessing.StandardScaler())):
        np.testing.assert_allclose(ours.fit_transform(x), theirs.fit_transform(x))
    sk = preprocessing.MinMaxScaler().fit(x[:, :1])
    np.testing.assert_allclose(scale(sk, x[:, 0]), MinMaxScaler().fit(x[:, 0]).transform(x[:, 0]))
    np.testing.assert_allclose(unscale(sk, scale(sk, x[:, 0])), x[:, 0])


# -- baselines -----------------------------------------------------------------------
def test_rmse():
    assert rmse([1, 2, 3], [1, 2, 3]) == 0.0
    assert rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    assert rmse(np.array([1.0, 2.0]), np.array([[1.0], [4.0]])) == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError, match="same shape"):
        rmse([1, 2], [1, 2, 3])


def test_persistence_and_seasonal_naive_by_hand():
    s = np.array([1.0, 2.0, 4.0, 7.0, 11.0, 16.0])
    p = persistence_forecast(s, start=3, steps=3)
    np.testing.assert_array_equal(p, [4, 7, 11])
    assert rmse(s[3:], p) == pytest.approx(math.sqrt((9 + 16 + 25) / 3))
    np.testing.assert_array_equal(persistence_forecast(s, 3, walk_forward=False), [4, 4, 4])
    sn = seasonal_naive_forecast(s, start=3, steps=3, season=2)
    np.testing.assert_array_equal(sn, [2, 4, 7])
    assert rmse(s[3:], sn) == pytest.approx(math.sqrt((25 + 49 + 81) / 3))
    np.testing.assert_array_equal(seasonal_naive_forecast(s, 3, season=2, walk_forward=False), [2, 4, 2])
    with pytest.raises(ValueError, match="start >= 4"):
        seasonal_naive_forecast(s, 3, season=4)
    with pytest.raises(ValueError, match="runs past"):
        persistence_forecast(s, 3, steps=4)


# -- walk-forward --------------------------------------------------------------------
def test_walk_forward_perfect_predictor_and_baselines():
    s = read_csv_series(AIRLINE)
    t_of = {tuple(s[t - 3:t]): s[t] for t in range(3, len(s))}    # an oracle: window -> true next
    res = walk_forward(lambda w: t_of[tuple(w[:, 0])], s, start=96, look_back=3)
    assert res.rmse == 0.0
    assert res.predictions.shape == res.actual.shape == (48,)
    np.testing.assert_array_equal(res.actual, s[96:])
    assert res.persistence_rmse == pytest.approx(rmse(s[96:], s[95:-1]))
    assert res.seasonal_naive_rmse == pytest.approx(rmse(s[96:], s[84:-12]))
    assert "persistence" in str(res)


def test_walk_forward_uses_true_history_and_scaler():
    s = np.arange(20.0) * 3 + 5
    sc = MinMaxScaler().fit(s[:10])
    seen = []

    def last_value(window):                   # persistence, in scaled units
        seen.append(window.copy())
        return window[-1]

    res = walk_forward(last_value, s, start=10, look_back=2, scaler=sc)
    np.testing.assert_allclose(res.predictions, res.persistence)
    assert res.rmse == pytest.approx(res.persistence_rmse) == pytest.approx(3.0)
    np.testing.assert_allclose(seen[0][:, 0], sc.transform(s[8:10]))        # scaled, true values
    assert res.seasonal_naive is None                                        # start < 12
    with pytest.raises(ValueError, match="start >= 5"):
        walk_forward(last_value, s, start=4, look_back=5)


def test_walk_forward_multivariate_and_model_predictor():
    from lstmlab import Dense, LSTM, Sequential
    from lstmlab import config

    config.set_random_seed(0)
    s = np.stack([np.sin(np.arange(40) / 3), np.cos(np.arange(40) / 3)], axis=1)
    model = Sequential([LSTM(4, input_shape=(3, 2)), Dense(2)])
    X, y = make_windows(s[:30], 3)
    model.compile("adam", "mse")
    model.fit(X, y, epochs=1, verbose=0)
    res = walk_forward(model, s, start=30, look_back=3)        # a model is wrapped for us
    assert res.predictions.shape == (10, 2)
    direct = model.predict(make_windows(s[27:], 3)[0], verbose=0)
    np.testing.assert_allclose(res.predictions, direct, rtol=1e-5, atol=1e-6)
    pf = data.model_predictor(model)
    np.testing.assert_allclose(pf(s[27:30]), direct[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="2 feature"):
        walk_forward(lambda w: 0.0, s, start=30, look_back=3)
