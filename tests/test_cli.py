"""The `lstmlab` command: help, the demo, train/forecast/generate, and clear errors."""
import csv

import pytest

from lstmlab import datasets
from lstmlab.cli import main

AIRLINE = str(datasets.path("airline-passengers.csv"))


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("command", [[], ["demo"], ["train"], ["forecast"], ["generate"]])
def test_help(capsys, command):
    with pytest.raises(SystemExit) as e:
        main(command + ["--help"])
    assert e.value.code == 0
    assert "usage: lstmlab" in capsys.readouterr().out


def test_demo_quick_runs_every_part(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--quick", "--out", str(tmp_path))
    assert code == 0
    for text in ("Q1.", "Q2.", "units = 10", "persistence", "seasonal naive", "mode='state'", "mode='window'"):
        assert text in out
    assert (tmp_path / "airline_forecast.png").stat().st_size > 10_000


def test_train_then_forecast_from_the_saved_model(capsys, tmp_path):
    model = tmp_path / "m.lstmlab"
    code, out, _ = run(capsys, "train", AIRLINE, "--column", "Passengers", "--epochs", "3",
                       "--model", str(model))
    assert code == 0 and model.exists()
    csv_out, png = tmp_path / "f.csv", tmp_path / "f.png"
    code, out, _ = run(capsys, "forecast", AIRLINE, "--column", "Passengers", "--steps", "4",
                       "--model", str(model), "--out", str(csv_out), "--plot", str(png))
    assert code == 0 and "+4:" in out
    rows = list(csv.reader(csv_out.open()))
    assert rows[0] == ["step", "forecast"] and len(rows) == 5
    assert all(100 < float(r[1]) < 1000 for r in rows[1:])      # in passengers, not scaled
    assert png.stat().st_size > 5_000


def test_forecast_trains_when_no_model_is_given(capsys, tmp_path):
    code, out, _ = run(capsys, "forecast", AIRLINE, "--epochs", "2", "--steps", "3", "--mode", "state")
    assert code == 0 and "+3:" in out


def test_generate(capsys, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(datasets.wonderland()[:3000])
    code, out, _ = run(capsys, "generate", str(text), "--length", "40", "--epochs", "1", "--units", "16",
                       "--random-seed", "0")
    assert code == 0 and len(out.strip()) >= 40


@pytest.mark.parametrize("argv,message", [
    (["forecast", "nope.csv"], "No such"),
    (["forecast", AIRLINE, "--column", "Riders"], "Passengers"),
    (["forecast", AIRLINE, "--look-back", "200"], "look-back of 200"),
    (["generate", "nope.txt"], "No such file"),
])
def test_errors_are_one_clear_line(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err and err.startswith("lstmlab ")
    assert "Traceback" not in err


def test_non_numeric_values(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Month,Sales\n2020-01,10\n2020-02,eleven\n2020-03,12\n")
    code, _, err = run(capsys, "forecast", str(bad), "--column", "Sales")
    assert code == 2 and "eleven" in err
