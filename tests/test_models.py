"""Sequential: the seed program, stateful training, configs, summary, save/load, errors."""
import os
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lstmlab import layers, optimizers
from lstmlab.models import ModelFileError, Sequential, load_model

ROOT = Path(__file__).resolve().parents[1]


def seed_data():
    seq = np.array([[0.0, 0.1], [0.1, 0.2], [0.2, 0.3], [0.3, 0.4], [0.4, 0.5]])
    return seq[:, 0].reshape(5, 1, 1), seq[:, 1]


def small_model(**lstm_kw):
    model = Sequential([layers.Input((4, 2)), layers.LSTM(5, **lstm_kw), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_seed_program_runs_unchanged_and_learns():
    ns = runpy.run_path(str(ROOT / "examples" / "seed.py"))      # not as __main__: no printing
    model, X, y = ns["model"], ns["X"], ns["y"]
    loss = model.history.history["loss"]
    assert len(loss) == 300 and loss[-1] < loss[0] / 10
    model.fit(X, y, epochs=2000, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.predict(X, verbose=0)[:, 0], y, atol=0.01)


def test_predict_without_compile_and_keras2_input_shape():
    model = Sequential()
    model.add(layers.LSTM(10, input_shape=(1, 1)))
    model.add(layers.Dense(1, activation="linear"))
    X, _ = seed_data()
    assert model.predict(X, verbose=0).shape == (5, 1)
    assert model.output_shape == (None, 1)


def test_summary_counts_params_like_keras(capsys):
    model = Sequential([layers.LSTM(10, input_shape=(1, 1)), layers.Dense(1)])
    model.summary()
    out = capsys.readouterr().out
    assert "480" in out and "11" in out and "Total params: 491" in out
    assert "4 gates x 10 units x (1 inputs + 10 recurrent + 1) = 480" in out
    assert "state h (None, 10) and c (None, 10)" in out
    lines = []
    model.summary(print_fn=lines.append)
    assert any("491" in line for line in lines)


def test_config_round_trip_rebuilds_the_same_model():
    model = small_model(return_sequences=False)
    clone = Sequential.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 4, 2))
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_history_and_validation():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4, 2)), rng.normal(size=(40, 1))
    model = small_model()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    h = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    assert set(h.history) >= {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 3 for v in h.history.values())
    h = model.fit(x, y, epochs=2, validation_data=(x[:5], y[:5]), verbose=0)
    assert len(h.history["val_loss"]) == 2


def test_verbose_one_prints_a_progress_line_per_epoch(capsys):
    X, y = seed_data()
    model = small_model()
    model = Sequential([layers.LSTM(3, input_shape=(1, 1)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(X, y, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out and "mae:" in out
    model.fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_stateful_fit_carries_state_across_batches():
    rng = np.random.default_rng(0)
    model = Sequential([layers.Input((3, 1), batch_size=2), layers.LSTM(4, stateful=True), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.normal(size=(6, 3, 1)), rng.normal(size=(6, 1))
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    assert np.abs(model.layers[0].states[0]).sum() > 0
    # Predicting in two halves equals predicting on the joined sequence.
    model.reset_states()
    seq = rng.normal(size=(2, 6, 1))
    whole = Sequential([layers.Input((6, 1), batch_size=2), layers.LSTM(4, stateful=True), layers.Dense(1)])
    whole.set_weights(model.get_weights())
    model.predict(seq[:, :3], verbose=0)
    np.testing.assert_allclose(model.predict(seq[:, 3:], verbose=0), whole.predict(seq, verbose=0), atol=1e-6)
    model.reset_states()
    assert np.all(model.layers[0].states[0] == 0)


def test_stateful_needs_a_multiple_of_the_batch_size():
    model = Sequential([layers.LSTM(4, stateful=True, batch_input_shape=(4, 3, 1)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"batch size 4.*multiple of 4\. Received 10 samples"):
        model.fit(np.zeros((10, 3, 1)), np.zeros((10, 1)), verbose=0)
    with pytest.raises(ValueError, match="needs batch_size=4"):
        model.fit(np.zeros((8, 3, 1)), np.zeros((8, 1)), batch_size=2, verbose=0)


def test_save_and_load_predicts_identically(tmp_path):
    rng = np.random.default_rng(0)
    model = small_model(go_backwards=True)
    x, y = rng.normal(size=(8, 4, 2)), rng.normal(size=(8, 1))
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "m.lstmlab"
    model.save(path)
    again = load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.get_config() == model.get_config()
    # The optimizer's state came along: one more step gives the same weights.
    model.train_on_batch(x, y)
    again.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_crash_mid_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    model = small_model()
    model.predict(np.zeros((1, 4, 2)), verbose=0)
    path = tmp_path / "m.lstmlab"
    model.save(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.lstmlab"]      # no temporary file left behind


def test_damaged_and_foreign_files_give_clear_errors(tmp_path):
    model = small_model()
    model.predict(np.zeros((1, 4, 2)), verbose=0)
    good = tmp_path / "m.lstmlab"
    model.save(good)
    cut = tmp_path / "cut.lstmlab"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ModelFileError, match="not an lstmlab model file|damaged"):
        load_model(cut)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not an lstmlab model file"):
        load_model(text)
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ModelFileError, match="HDF5"):
        load_model(h5)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.lstmlab")


def test_a_pickle_inside_the_file_is_never_run(tmp_path):
    """An archive whose weights entry is a pickled object: refused, not executed."""

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    model = small_model()
    model.predict(np.zeros((1, 4, 2)), verbose=0)
    good = tmp_path / "m.lstmlab"
    model.save(good)
    bad = tmp_path / "bad.lstmlab"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "weights/0000.npy":
                import io
                buf = io.BytesIO()
                np.save(buf, np.array([Evil()], dtype=object), allow_pickle=True)
                data = buf.getvalue()
            dst.writestr(name, data)
    with pytest.raises(ModelFileError, match="not a plain array"):
        load_model(bad)
    assert not (tmp_path / "pwned").exists()


# -- bad input ------------------------------------------------------------------

def test_sample_counts_differ():
    with pytest.raises(ValueError, match=r"same number of samples.*x with 5 samples.*y with 4"):
        small_model().fit(np.zeros((5, 4, 2)), np.zeros((4, 1)), verbose=0)


def test_y_of_the_wrong_shape_for_the_loss():
    with pytest.raises(ValueError, match=r"y_true|shape"):
        small_model().fit(np.zeros((5, 4, 2)), np.zeros((5, 3)), verbose=0)


def test_fit_before_compile():
    model = Sequential([layers.LSTM(3, input_shape=(4, 2)), layers.Dense(1)])
    with pytest.raises(RuntimeError, match=r"compile the model.*model.compile\("):
        model.fit(np.zeros((5, 4, 2)), np.zeros((5, 1)))


@pytest.mark.parametrize("kw,pattern", [
    ({"loss": "msee"}, r"Unknown loss: 'msee'.*'mse'"),
    ({"loss": "mse", "optimizer": "adamm"}, r"adamm.*adam"),
    ({"loss": "mse", "metrics": ["maee"]}, r"Unknown metric: 'maee'.*'mae'"),
])
def test_unknown_names_list_the_valid_ones(kw, pattern):
    with pytest.raises(ValueError, match=pattern):
        Sequential([layers.Dense(1)]).compile(**kw)


@pytest.mark.filterwarnings("error::RuntimeWarning")   # the clear error, with no warning first
def test_nan_loss_stops_with_epoch_and_batch_and_keeps_good_weights():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4, 2)), rng.normal(size=(8, 1))
    model = small_model()
    model.compile(optimizer=optimizers.SGD(learning_rate=1e30), loss="mse")
    with pytest.raises(FloatingPointError, match=r"epoch \d+, batch \d+.*learning rate.*clipnorm"):
        model.fit(x, y, epochs=50, batch_size=4, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.evaluate(x, y, verbose=0))


def test_stateful_without_a_declared_batch_takes_the_first_batch():
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 3, 1)), rng.random((8, 1))
    model = Sequential([layers.LSTM(4, stateful=True), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, batch_size=2, shuffle=False, verbose=0)
    assert model.get_states()[0].h.shape == (2, 4)
