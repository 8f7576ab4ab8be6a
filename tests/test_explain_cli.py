"""`lstmlab explain`: on the seed model, on a saved model with data, and its errors."""
import numpy as np

from lstmlab import datasets
from lstmlab.cli import main
from lstmlab.layers import LSTM, Dense, Input
from lstmlab.models import Sequential


def test_seed_model(tmp_path, capsys):
    out = tmp_path / "seed"
    assert main(["explain", "--out", str(out), "--epochs", "30"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in ("report.html", "unrolled.svg", "unrolled.png", "unrolled_inside.svg", "unrolled_as_trained.svg",
                 "gates.png", "states.png", "history.png", "forecast.png"):
        assert (out / name).stat().st_size > 1000, name
    # as trained (one step per sample) the state is never used; over the 5-step sequence it is
    assert "Each sample is a single timestep" in text
    assert "The past reaches the prediction through" in text
    assert "each restarts from h = c = 0" in text and "4·10·(1 + 10 + 1) = 480" in text
    html = (out / "report.html").read_text()
    assert html.count('id="cell-0-') == 5 and 'max="4"' in html


def test_saved_model_with_x_and_csv(tmp_path, capsys):
    m = Sequential([Input((12, 1)), LSTM(6), Dense(1)])
    m.metadata = {"scaler": {"min": 104.0, "max": 622.0}, "look_back": 12}
    path = tmp_path / "m.lstmlab"
    m.save(path)
    np.save(tmp_path / "x.npy", np.linspace(0, 1, 12))                  # one series -> (1, 12, 1)
    assert main(["explain", str(path), "--x", str(tmp_path / "x.npy"), "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "report.html").exists()
    csv = datasets.path("airline-passengers.csv")
    assert main(["explain", str(path), "--csv", str(csv), "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "forecast.png").exists()
    assert "What units means" in capsys.readouterr().out


def test_errors(tmp_path, capsys):
    assert main(["explain", str(tmp_path / "missing.lstmlab")]) == 2
    assert "No such model file" in capsys.readouterr().err
