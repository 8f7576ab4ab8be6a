"""examples/airline.py: its data handling, its baseline, and a short run of two variants.

The example is a script, not a module of the package, so it is loaded from its path.
"""
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "airline.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("example_airline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


airline = _load_example()


@pytest.fixture(scope="module")
def series():
    """The real series, as shipped with lstmlab."""
    return airline.load_series()


# -- create_dataset and the input layouts -----------------------------------------------
def test_create_dataset_look_back_1():
    toy = np.arange(10, dtype=np.float32).reshape(-1, 1)          # (n, 1), as the tutorial's column
    X, y = airline.create_dataset(toy, 1)
    # The tutorial's range(len - look_back - 1): 10 - 1 - 1 = 8 samples.
    assert X.shape == (8, 1) and y.shape == (8,)
    np.testing.assert_array_equal(X[:, 0], np.arange(8))
    np.testing.assert_array_equal(y, np.arange(1, 9))
    assert airline.to_lstm_input(X, "features").shape == (8, 1, 1)


def test_create_dataset_look_back_3():
    toy = np.arange(10, dtype=np.float32).reshape(-1, 1)
    X, y = airline.create_dataset(toy, 3)
    assert X.shape == (6, 3) and y.shape == (6,)
    np.testing.assert_array_equal(X[0], [0, 1, 2])
    np.testing.assert_array_equal(X[-1], [5, 6, 7])
    np.testing.assert_array_equal(y, np.arange(3, 9))             # each target follows its window
    as_features = airline.to_lstm_input(X, "features")            # (samples, 1, 3)
    as_steps = airline.to_lstm_input(X, "timesteps")              # (samples, 3, 1)
    assert as_features.shape == (6, 1, 3) and as_steps.shape == (6, 3, 1)
    np.testing.assert_array_equal(as_features[:, 0, :], X)
    np.testing.assert_array_equal(as_steps[:, :, 0], X)


# -- the persistence baseline ------------------------------------------------------------
def test_persistence_baseline_on_a_toy_series():
    toy = np.array([1, 2, 4, 7, 11, 16], np.float32).reshape(-1, 1)
    X, y = airline.create_dataset(toy, 2)                          # windows [1,2] [2,4] [4,7]
    np.testing.assert_array_equal(y, [4, 7, 11])
    naive = airline.persistence_forecast(X)
    np.testing.assert_array_equal(naive, [2, 4, 7])               # the window's last value
    # Whichever way the window is laid out for the LSTM, its last value is the same.
    for layout in ("features", "timesteps"):
        np.testing.assert_array_equal(airline.persistence_forecast(airline.to_lstm_input(X, layout)), naive)
    # Errors 2, 3, 4.
    assert airline.rmse(y, naive) == pytest.approx(math.sqrt((4 + 9 + 16) / 3))


def test_persistence_rmse_of_the_real_series_is_the_month_to_month_change(series):
    r = airline.run_variant("window1", series, epochs=0)
    raw = series[:, 0].astype(np.float64)
    # 96 training months -> 94 samples: target months 1..94, predicted by months 0..93.
    expected_train = math.sqrt(np.mean((raw[1:95] - raw[0:94]) ** 2))
    expected_test = math.sqrt(np.mean((raw[97:143] - raw[96:142]) ** 2))
    assert r["persistence_train_rmse"] == pytest.approx(expected_train, rel=1e-5)
    assert r["persistence_test_rmse"] == pytest.approx(expected_test, rel=1e-5)


# -- the data file ---------------------------------------------------------------------------
def test_load_series(series):
    assert series.shape == (144, 1) and series.dtype == np.float32
    assert series[0, 0] == 112 and series[-1, 0] == 432


def test_missing_default_data_file_says_where_it_looked(monkeypatch, tmp_path):
    missing = tmp_path / "shared" / "data" / "airline-passengers.csv"
    monkeypatch.setattr(airline, "DEFAULT_DATA", missing)
    with pytest.raises(FileNotFoundError) as err:
        airline.load_series()
    assert str(missing) in str(err.value)
    assert "--data" in str(err.value)


def test_missing_data_file_from_the_command_line(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert airline.main(["--data", str(missing)]) == 2
    captured = capsys.readouterr()
    assert str(missing) in captured.err and "--data" in captured.err
    assert captured.out == ""


# -- short runs ----------------------------------------------------------------------------
@pytest.mark.parametrize("name,shape", [("window1", (94, 1, 1)), ("stateful", (92, 3, 1))])
def test_run_variant_two_epochs(series, name, shape):
    r = airline.run_variant(name, series, epochs=2)
    assert r["variant"] == name and r["input_shape"] == shape
    for key in ("train_rmse", "test_rmse", "persistence_train_rmse", "persistence_test_rmse"):
        assert math.isfinite(r[key]) and r[key] > 0, (key, r[key])
    assert r["seconds"] >= 0


def test_run_variant_is_repeatable_with_the_same_seed(series):
    a = airline.run_variant("window1", series, epochs=1, seed=3)
    b = airline.run_variant("window1", series, epochs=1, seed=3)
    assert a["test_rmse"] == b["test_rmse"]


def test_unknown_variant(series):
    with pytest.raises(ValueError, match="window1"):
        airline.run_variant("window2", series)


def test_main_prints_the_table(series, capsys):
    assert airline.main(["--variant", "window1", "--epochs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "window1" in out and "persistence" in out
    assert "Train Score" not in out          # --quiet: the table only
