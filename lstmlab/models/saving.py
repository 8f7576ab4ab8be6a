"""One file per model: a zip archive of a JSON config and .npy weights.

    lstmlab.json          {"format": "lstmlab", "version": 1, "model": config,
                           "build_input_shape": [...], "weights": [names], "compile": ...}
    weights/0000.npy ...  the weights, in get_weights() order
    optimizer/<key>.npy   the optimizer's state, so training can resume

Loading reads JSON and .npy with allow_pickle=False: nothing in a file is
ever executed. Saving writes a temporary file beside the target and renames
it over the target only when it is complete, so a crash mid-save leaves the
previous file whole.
"""
import io
import json
import os
import zipfile

import numpy as np

from .. import losses, metrics as metrics_module, optimizers
from ..atomic import atomic_write

FORMAT, VERSION = "lstmlab", 1
CONFIG_NAME = "lstmlab.json"


class ModelFileError(ValueError):
    """A file that is not a whole lstmlab model."""


def save_model(model, path):
    """Write `model` to `path` atomically."""
    path = os.fspath(path)
    if not model.built:
        raise ValueError("The model has no weights yet: build it (or fit/predict once) before saving.")
    names = [f"{layer.name}/{w}" for layer in model.layers for w in layer.weight_names
             if getattr(layer, w, None) is not None]
    meta = {
        "format": FORMAT, "version": VERSION,
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "build_input_shape": list(model._build_input_shape),
        "weights": names,
        "compile": _compile_config(model),
        "metadata": model.metadata,
    }

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(CONFIG_NAME, json.dumps(meta, indent=1))
            for i, w in enumerate(model.get_weights()):
                z.writestr(f"weights/{i:04d}.npy", _npy(w))
            if model.optimizer is not None:
                for key, value in model.optimizer.get_state().items():
                    z.writestr(f"optimizer/{key}.npy", _npy(value))

    atomic_write(path, write)


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def _compile_config(model):
    if not model.compiled:
        return None
    return {
        "optimizer": optimizers.serialize(model.optimizer),
        "loss": None if model.loss is None else losses.serialize(model.loss),
        "metrics": [m for m in model._metric_ids if isinstance(m, str)],
    }


def load_model(path, compile=True):
    """Read a model written by `model.save(path)`, or a Keras `.keras` archive / HDF5 `.h5` model."""
    from .sequential import Sequential   # models import saving; break the cycle here

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):               # a legacy Keras HDF5 model
        from ..interop.keras_files import load_keras_h5
        return load_keras_h5(path, compile=compile)
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path!r} is not an lstmlab model file (expected a zip archive written by model.save). "
            f"It may be damaged or of another format."
        )
    from ..interop.keras_files import is_keras_archive, load_keras_archive
    if is_keras_archive(path):                     # a Keras 3 .keras archive
        return load_keras_archive(path, compile=compile)
    try:
        with zipfile.ZipFile(path) as z:
            entries = set(z.namelist())
            if CONFIG_NAME not in entries:
                raise ModelFileError(
                    f"{path!r} is a zip archive without {CONFIG_NAME}: not an lstmlab model "
                    f"(a Keras .keras archive holds config.json instead)."
                )
            meta = json.loads(z.read(CONFIG_NAME))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ModelFileError(f"{path!r}: {CONFIG_NAME} does not describe an lstmlab model.")
            if meta.get("version", 0) > VERSION:
                raise ModelFileError(
                    f"{path!r} was written by a newer lstmlab (file version {meta['version']}, "
                    f"this lstmlab reads up to {VERSION}). Upgrade lstmlab."
                )
            weights = [_read_npy(z, f"weights/{i:04d}.npy", path) for i in range(len(meta["weights"]))]
            opt_state = {name[len("optimizer/"):-len(".npy")]: _read_npy(z, name, path)
                         for name in entries if name.startswith("optimizer/")}
    except zipfile.BadZipFile as e:
        raise ModelFileError(f"{path!r} is damaged: {e}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path!r}: {CONFIG_NAME} is not valid JSON ({e}).") from None
    except KeyError as e:
        raise ModelFileError(f"{path!r} is missing an entry: {e}.") from None

    model_meta = meta["model"]
    if model_meta.get("class_name") != "Sequential":
        raise ModelFileError(f"{path!r}: unknown model class {model_meta.get('class_name')!r}.")
    model = Sequential.from_config(model_meta["config"])
    model.build(tuple(meta["build_input_shape"]))
    expected = [w.shape for w in model.weights]
    got = [w.shape for w in weights]
    if expected != got:
        raise ModelFileError(
            f"{path!r}: the weights do not fit the model. Expected shapes {expected}; "
            f"the file holds {got}."
        )
    model.set_weights(weights)
    model.metadata = dict(meta.get("metadata") or {})
    if compile and meta.get("compile"):
        c = meta["compile"]
        model.compile(optimizer=optimizers.deserialize(c["optimizer"]),
                      loss=losses.deserialize(c["loss"]) if c["loss"] is not None else None,
                      metrics=[metrics_module.get(m) and m for m in c.get("metrics", [])])
        if opt_state:
            model.optimizer.set_state(opt_state)
    return model


def _read_npy(z, name, path):
    try:
        data = z.read(name)
    except KeyError:
        raise ModelFileError(f"{path!r} is missing {name}: the file is incomplete.") from None
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as e:
        raise ModelFileError(f"{path!r}: {name} is not a plain array ({e}).") from None
