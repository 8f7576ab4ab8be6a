"""plot_unrolled: the structure drawn (cells, lanes, heads), and the files written."""
import numpy as np
import pytest

from lstmlab.explain import plot_unrolled
from lstmlab.layers import LSTM, Dense, Dropout, Embedding, Input
from lstmlab.models import Sequential


def lanes(scene, kind, row):
    return [(ln.src, ln.dst) for ln in scene.lanes if ln.kind == kind and ln.row == row]


@pytest.mark.parametrize("T", [1, 3, 10])
def test_one_layer(T):
    m = Sequential([Input((T, 1)), LSTM(10), Dense(1)])
    s = plot_unrolled(m, timesteps=T, file=None)
    assert s.cells == [(0, t) for t in range(T)]
    for kind in "ch":                   # initial state -> cell 0 -> ... -> cell T-1 -> final state
        assert lanes(s, kind, 0) == [("init", 0), *((t, t + 1) for t in range(T - 1)), (T - 1, "final")]
    assert [t for _, t in s.inputs] == list(range(1, T + 1))
    assert s.heads == [(T - 1, "Dense(1)")]                 # the head reads the last step only
    assert [returned for _, returned in s.outputs] == [False] * (T - 1) + [True]
    assert s.links == []


@pytest.mark.parametrize("T", [1, 3, 10])
def test_stacked_return_sequences(T):
    m = Sequential([Input((T, 2)), LSTM(8, return_sequences=True), Dropout(0.2),
                    LSTM(4, return_sequences=True), Dense(1)])
    s = plot_unrolled(m, timesteps=T, file=None)
    assert len(s.rows) == 2 and len(s.cells) == 2 * T
    for row in (0, 1):
        for kind in "ch":
            assert len(lanes(s, kind, row)) == T + 1
    assert s.links == [(0, t) for t in range(T)]            # every h_t of row 0 feeds row 1
    assert s.between == [["Dropout(0.2)"]]
    assert [col for col, _ in s.heads] == list(range(T))     # a head on every step
    assert all(returned for _, returned in s.outputs)


def test_stacked_last_step_head():
    m = Sequential([Input((3, 1)), LSTM(6, return_sequences=True), LSTM(4), Dense(2, activation="softmax")])
    s = plot_unrolled(m, file=None)                          # 3 timesteps by default
    assert s.timesteps == 3 and len(s.cells) == 6
    assert s.heads == [(2, "Dense(2, softmax)")]
    assert [r["units"] for r in s.rows] == [6, 4]


def test_go_backwards_reads_from_the_end():
    m = Sequential([Input((4, 1)), LSTM(3, go_backwards=True), Dense(1)])
    s = plot_unrolled(m, timesteps=4, file=None)
    assert [t for _, t in s.inputs] == [4, 3, 2, 1]
    assert s.rows[0]["go_backwards"]


def test_files_png_and_svg_with_numbers(tmp_path):
    m = Sequential([Input((3, 1)), LSTM(10), Dense(1)])
    x = np.array([0.0, 0.1, 0.2]).reshape(1, 3, 1)
    s = plot_unrolled(m, file=[tmp_path / "u.svg", tmp_path / "u.png"], x=x)
    assert s.annotated and s.timesteps == 3
    assert (tmp_path / "u.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "u.svg").read_text()
    assert all(f'id="cell-0-{t}"' in svg for t in range(3)) and 'id="cell-0-3"' not in svg


def test_window_of_a_long_x_and_inside(tmp_path):
    m = Sequential([Input((12, 2)), LSTM(3), Dense(1)])
    x = np.random.default_rng(0).normal(size=(2, 12, 2))
    s = plot_unrolled(m, timesteps=4, file=tmp_path / "w.svg", x=x, sample=1, inside=True, unit=2)
    assert s.first == 8 and [t for _, t in s.inputs] == [9, 10, 11, 12]
    assert len(s.inside) == 4 and s.inside[0]["gates"] == ["f", "i", "g", "o"]
    with pytest.raises(ValueError, match="timesteps"):
        plot_unrolled(m, timesteps=13, file=None, x=x)


def test_embedding_below():
    m = Sequential([Input((5,)), Embedding(20, 4), LSTM(3), Dense(20, activation="softmax")])
    s = plot_unrolled(m, timesteps=5, file=None)
    assert s.below == ["Embedding(20, 4)"]
