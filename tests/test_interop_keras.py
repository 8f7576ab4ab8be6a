"""Keras files in and out, written and read by real Keras 3 (torch backend), 1e-5 on random weights.

Keras file -> lstmlab: `.keras` archives, legacy HDF5 `.h5` models and `.weights.h5` files
written by Keras itself; lstmlab -> `.keras` -> `keras.models.load_model`. Broken and
foreign files fail with errors that name what is wrong; nothing in a file is executed.
"""
import json
import warnings
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

from lstmlab import Dense, Dropout, Embedding, Input, LSTM, Sequential  # noqa: E402
from lstmlab.interop import load_weights, save_weights  # noqa: E402
from lstmlab.models import ModelFileError, load_model  # noqa: E402

B, T, D = 4, 6, 3
KL = keras.layers


def keras_arch(name):
    """Keras models covering stacked LSTMs, return_sequences, go_backwards and Dense heads."""
    if name == "stacked":
        return keras.Sequential([
            keras.Input((T, D)),
            KL.LSTM(5, return_sequences=True, go_backwards=True),
            KL.Dropout(0.2),
            KL.LSTM(4, return_sequences=True),
            KL.LSTM(3, go_backwards=True),
            KL.Dense(4, activation="relu"),
            KL.Dense(2, activation="softmax")])
    if name == "sequences":
        return keras.Sequential([
            keras.Input((None, D)),
            KL.LSTM(4, return_sequences=True, go_backwards=True, activation="relu",
                    recurrent_activation="hard_sigmoid"),
            KL.Dense(2, activation="sigmoid")])
    if name == "embedding":
        m = keras.Sequential([KL.Embedding(12, 4, mask_zero=True),
                              KL.LSTM(5, use_bias=False, unit_forget_bias=False),
                              KL.Dense(1)])
        m.build((None, T))
        return m
    if name == "stateful":
        return keras.Sequential([keras.Input(batch_shape=(B, T, D)),
                                 KL.LSTM(4, stateful=True, return_sequences=True),
                                 KL.LSTM(2, stateful=True, dropout=0.1, recurrent_dropout=0.1)])
    raise KeyError(name)


ARCHS = ["stacked", "sequences", "embedding", "stateful"]


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=np.shape(w)).astype("float32") * 0.5
                       for w in model.get_weights()])


def inputs(name, seed=1):
    rng = np.random.default_rng(seed)
    if name == "embedding":
        ids = rng.integers(1, 12, (B, T))
        ids[:2, :2] = 0                      # masked steps at the front of two sequences
        return ids
    return rng.normal(size=(B, T, D)).astype("float32")


def np_(t):
    return keras.ops.convert_to_numpy(t)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """Per architecture: Keras's outputs and the .keras, .h5 and .weights.h5 files Keras wrote."""
    d = tmp_path_factory.mktemp("keras")
    out = {}
    for name in ARCHS:
        km = keras_arch(name)
        randomize(km)
        km.compile(optimizer="adam", loss="mse")
        x = inputs(name)
        y = np_(km(x))
        files = {"keras": d / f"{name}.keras", "h5": d / f"{name}.h5", "weights": d / f"{name}.weights.h5"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            km.save(files["keras"])
            km.save(files["h5"])              # Keras's legacy HDF5 format
        km.save_weights(files["weights"])
        out[name] = (x, y, files)
    return out


@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("name", ARCHS)
def test_keras_file_to_lstmlab(keras_files, name, fmt):
    x, y, files = keras_files[name]
    model = load_model(files[fmt])
    close(model.predict(x, verbose=0), y)
    assert [type(layer).__name__ for layer in model.layers] == [
        type(layer).__name__ for layer in keras_arch(name).layers]


def test_loaded_model_keeps_the_options_and_compiles(keras_files):
    model = load_model(keras_files["stacked"][2]["keras"])
    lstm0, _, _, lstm2 = model.layers[:4]
    assert lstm0.go_backwards and lstm0.return_sequences and not lstm2.return_sequences
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    assert not load_model(keras_files["stacked"][2]["keras"], compile=False).compiled
    stateful = load_model(keras_files["stateful"][2]["keras"])
    assert stateful.batch_input_shape == (B, T, D) and stateful.layers[1].recurrent_dropout == 0.1


def test_weights_h5_into_a_built_model(keras_files):
    x, y, files = keras_files["stacked"]
    model = ours_arch("stacked")
    model.load_weights(files["weights"])
    close(model.predict(x, verbose=0), y)
    for source in (files["h5"], files["keras"]):       # the weights of a whole-model file
        other = Sequential.from_config(model.get_config())
        load_weights(other, source)
        close(other.predict(x, verbose=0), y)


def ours_arch(name):
    """lstmlab's twins of keras_arch."""
    if name == "stacked":
        return Sequential([Input((T, D)), LSTM(5, return_sequences=True, go_backwards=True),
                           Dropout(0.2), LSTM(4, return_sequences=True), LSTM(3, go_backwards=True),
                           Dense(4, activation="relu"), Dense(2, activation="softmax")])
    if name == "sequences":
        return Sequential([Input((None, D)),
                           LSTM(4, return_sequences=True, go_backwards=True, activation="relu",
                                recurrent_activation="hard_sigmoid"),
                           Dense(2, activation="sigmoid")])
    if name == "embedding":
        return Sequential([Input((T,)), Embedding(12, 4, mask_zero=True),
                           LSTM(5, use_bias=False, unit_forget_bias=False), Dense(1)])
    raise KeyError(name)


@pytest.mark.parametrize("name", ["stacked", "sequences", "embedding"])
def test_lstmlab_to_keras_file_to_keras(tmp_path, name):
    ours = ours_arch(name)
    randomize(ours, seed=5)
    x = inputs(name)
    path = tmp_path / "ours.keras"
    ours.save(path)
    theirs = keras.models.load_model(path)
    close(np_(theirs(x)), ours.predict(x, verbose=0))
    # and back: what lstmlab wrote, lstmlab reads.
    close(load_model(path).predict(x, verbose=0), ours.predict(x, verbose=0))


def test_lstmlab_built_model_to_keras_with_compile_config(tmp_path):
    rng = np.random.default_rng(3)
    model = Sequential([LSTM(4, input_shape=(T, D), return_sequences=True), Dropout(0.1),
                        LSTM(3, go_backwards=True, recurrent_activation="hard_sigmoid"),
                        Dense(2, activation="tanh")])
    randomize(model, seed=4)
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    model.metadata = {"scaler": [0.0, 2.5]}
    model.save(tmp_path / "m.keras")
    back = load_model(tmp_path / "m.keras")
    assert back.metadata == {"scaler": [0.0, 2.5]}
    assert type(back.optimizer).__name__ == "RMSprop" and back._metric_ids == ["mae"]
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # Keras: "Skipping variable loading for optimizer"
        theirs = keras.models.load_model(tmp_path / "m.keras")
        x = rng.normal(size=(B, T, D)).astype("float32")
        close(np_(theirs(x)), model.predict(x, verbose=0))
        assert type(theirs.optimizer).__name__ == "RMSprop"
        # Keras trains it straight away.
        theirs.fit(x, rng.normal(size=(B, 2)).astype("float32"), epochs=1, verbose=0)
    # The weights alone, for Keras's load_weights.
    save_weights(model, tmp_path / "m.weights.h5")
    clone = keras.models.clone_model(theirs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clone.load_weights(tmp_path / "m.weights.h5")
    close(np_(clone(x)), model.predict(x, verbose=0))


def test_other_suffixes_keep_lstmlab_format(tmp_path):
    model = Sequential([LSTM(2, input_shape=(T, D)), Dense(1)])
    model.save(tmp_path / "m.lstmlab")
    with zipfile.ZipFile(tmp_path / "m.lstmlab") as z:
        assert "lstmlab.json" in z.namelist()


def test_keras2_style_config(tmp_path, keras_files):
    """Keras 2's config keys (batch_input_shape, time_major, implementation, dtype strings),
    on an HDF5 file whose weights Keras wrote: mapped onto lstmlab's constructors."""
    x, y, files = keras_files["stacked"]
    path = tmp_path / "k2.h5"
    path.write_bytes(files["h5"].read_bytes())
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        layers = config["config"]["layers"]
        inp = layers[0]["config"]
        layers[0]["config"] = {"batch_input_shape": inp["batch_shape"], "dtype": "float32",
                               "sparse": False, "ragged": False, "name": "lstm_input"}
        for entry in layers[1:]:
            c = entry["config"]
            c["dtype"] = "float32"
            if entry["class_name"] == "LSTM":
                c.update(time_major=False, implementation=2)
                c.pop("seed")
            for init in [k for k in c if k.endswith("initializer")]:
                c[init] = {"class_name": c[init]["class_name"], "config": c[init]["config"]}
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
    close(load_model(path).predict(x, verbose=0), y)
    # Keras 2's hard_sigmoid (slope 0.2) is not Keras 3's: refused, not silently changed.
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["config"]["recurrent_activation"] = "hard_sigmoid"
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ModelFileError, match="Keras 2's"):
        load_model(path)


# -- errors ----------------------------------------------------------------------
def _copy(src, dst):
    dst.write_bytes(src.read_bytes())
    return dst


def _edit_archive_weights(src, dst, edit):
    """Rewrite a .keras archive with its model.weights.h5 edited by `edit(h5file)`."""
    import io
    with zipfile.ZipFile(src) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    buf = io.BytesIO(entries["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        edit(f)
    entries["model.weights.h5"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    return dst


def _edit_archive_config(src, dst, edit):
    with zipfile.ZipFile(src) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    config = json.loads(entries["config.json"])
    edit(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    return dst


def test_missing_weight_is_named(tmp_path, keras_files):
    files = keras_files["stacked"][2]
    bad = _edit_archive_weights(files["keras"], tmp_path / "m.keras",
                                lambda f: f.__delitem__("layers/lstm_1/cell/vars/2"))
    with pytest.raises(ModelFileError, match=r"missing weight .*layers/lstm_1/cell/vars/2"):
        load_model(bad)
    h5 = _copy(files["h5"], tmp_path / "m.h5")
    with h5py.File(h5, "r+") as f:           # the last layer: the softmax Dense (Keras names vary)
        name = f["model_weights"].attrs["layer_names"][-1]
        g = f["model_weights"][name]
        del g[g.attrs["weight_names"][1]]
    with pytest.raises(ModelFileError, match=r"missing weight .*dense\w*/bias"):
        load_model(h5)


def test_wrong_shape_is_named(tmp_path, keras_files):
    files = keras_files["stacked"][2]

    def edit(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((7, 4), "float32")

    with pytest.raises(ModelFileError, match=r"'kernel' of layer 'dense\w*' \(Dense\) has shape "
                                             r"\(7, 4\).*expects \(3, 4\)"):
        load_model(_edit_archive_weights(files["keras"], tmp_path / "m.keras", edit))
    model = Sequential([Input((T, D)), LSTM(6), Dense(2)])
    with pytest.raises(ModelFileError, match="weight arrays|shape"):
        model.load_weights(files["weights"])


def test_unsupported_layer_is_named(tmp_path):
    km = keras.Sequential([keras.Input((T, D)), KL.GRU(3), KL.Dense(1)])
    km.save(tmp_path / "gru.keras")
    with pytest.raises(ModelFileError, match="Unsupported layer 'GRU'"):
        load_model(tmp_path / "gru.keras")
    km = keras.Sequential([keras.Input((T, D)), KL.Bidirectional(KL.LSTM(3))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.save(tmp_path / "bi.h5")
    with pytest.raises(ModelFileError, match="Unsupported layer 'Bidirectional'"):
        load_model(tmp_path / "bi.h5")


def test_lambda_is_refused_not_run(tmp_path):
    """A Lambda layer carries code: lstmlab refuses it by class, without reading the code."""
    km = keras.Sequential([keras.Input((T, D)), KL.Lambda(lambda t: t * 2), KL.LSTM(2)])
    km.save(tmp_path / "lambda.keras")
    with pytest.raises(ModelFileError, match="Unsupported layer 'Lambda'"):
        load_model(tmp_path / "lambda.keras")


@pytest.mark.parametrize("layer,match", [
    (lambda: KL.LSTM(3, kernel_regularizer="l2"), "kernel_regularizer"),
    (lambda: KL.LSTM(3, recurrent_constraint="non_neg"), "recurrent_constraint"),
    (lambda: KL.Dense(3, activity_regularizer="l1"), "activity_regularizer"),
    (lambda: KL.LSTM(3, activation="gelu"), "activation 'gelu'"),
    (lambda: KL.LSTM(3, dtype="mixed_float16"), "mixed_float16"),
])
def test_unsupported_option_is_named(tmp_path, layer, match):
    km = keras.Sequential([keras.Input((T, D)), layer()])
    km.save(tmp_path / "m.keras")
    with pytest.raises(ModelFileError, match=match):
        load_model(tmp_path / "m.keras")


def test_custom_and_unknown_entries_are_refused(tmp_path, keras_files):
    src = keras_files["stacked"][2]["keras"]

    def custom(config):
        config["config"]["layers"][1]["registered_name"] = "my_package>LSTM"

    with pytest.raises(ModelFileError, match="custom layer"):
        load_model(_edit_archive_config(src, tmp_path / "c.keras", custom))

    def unknown_key(config):
        config["config"]["layers"][1]["config"]["peephole"] = True

    with pytest.raises(ModelFileError, match="peephole"):
        load_model(_edit_archive_config(src, tmp_path / "u.keras", unknown_key))

    def functional(config):
        config["class_name"] = "Functional"

    with pytest.raises(ModelFileError, match="Unsupported model class 'Functional'"):
        load_model(_edit_archive_config(src, tmp_path / "f.keras", functional))


def test_non_numeric_dataset_is_refused(tmp_path, keras_files):
    """A weight stored as strings/objects is refused, not deserialized."""
    def edit(f):
        del f["layers/dense/vars/1"]
        f.create_dataset("layers/dense/vars/1", data=np.array([b"import os", b"x"], dtype=object),
                         dtype=h5py.string_dtype())

    bad = _edit_archive_weights(keras_files["stacked"][2]["keras"], tmp_path / "o.keras", edit)
    with pytest.raises(ModelFileError, match="not float weights"):
        load_model(bad)


def test_damaged_files(tmp_path, keras_files):
    files = keras_files["stacked"][2]
    data = files["keras"].read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "cut.keras")
    data = files["h5"].read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFileError, match="HDF5"):
        load_model(tmp_path / "cut.h5")
    with pytest.raises(ModelFileError, match="weights only"):
        load_model(files["weights"])

    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as z:
        z.writestr("config.json", "{not json")
        z.writestr("model.weights.h5", b"")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(tmp_path / "bad.keras")


def test_writer_refuses_what_keras_cannot_hold(tmp_path):
    model = Sequential([LSTM(2, stateful=True, input_shape=(T, D)), Dense(1)])
    with pytest.raises(ValueError, match="fixed batch size"):
        model.save(tmp_path / "s.keras")
    assert not (tmp_path / "s.keras").exists()
    with pytest.raises(ValueError, match=".weights.h5"):
        save_weights(Sequential([LSTM(2, input_shape=(T, D))]), tmp_path / "w.h5")


def test_links_out_of_the_file_are_refused(tmp_path, keras_files):
    """An HDF5 link to another file would make the reader read that file: refused."""
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["w"] = np.zeros((3, 4), "float32")
    h5 = _copy(keras_files["stacked"][2]["h5"], tmp_path / "m.h5")
    with h5py.File(h5, "r+") as f:
        name = f["model_weights"].attrs["layer_names"][-2]        # the relu Dense
        g = f["model_weights"][name]
        wname = g.attrs["weight_names"][0]
        del g[wname]
        g[wname] = h5py.ExternalLink(str(other), "w")
    with pytest.raises(ModelFileError, match="ExternalLink"):
        load_model(h5)
