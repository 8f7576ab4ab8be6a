"""Keras files in: Keras 3 `.keras` archives, legacy Keras 2 HDF5 models (`.h5`), and
weights files (`.weights.h5`, legacy `.h5`) into a built model. No TensorFlow, no Keras.

What is read, and how:

    .keras   a zip: config.json (json.loads) + model.weights.h5 (h5py, datasets only)
             weights at  layers/<lstm|dense|embedding>[_<n>]/vars/<i>   (the LSTM's under .../cell/vars)
             named by the layer's class and its rank among layers of that class, as Keras names them
    .h5      HDF5: attribute model_config (JSON), group model_weights with attribute
             layer_names and, per layer, attribute weight_names: the datasets in order

Nothing in a file is executed: JSON is parsed with json.loads, HDF5 files are read
for numeric datasets and string attributes only, and a config can only build the
layers lstmlab has (LAYER_CLASSES), each from the options it knows. An option
lstmlab does not compute (a regularizer, a constraint, a mixed-precision policy,
time_major, ...) gives an error naming it, rather than a model that computes
something else than the file's.
"""
import io
import json
import os
import warnings
import zipfile

import numpy as np

from .. import activations, losses, optimizers
from ..models.saving import ModelFileError
from ._extras import require

KERAS_CONFIG, KERAS_WEIGHTS, KERAS_METADATA = "config.json", "model.weights.h5", "metadata.json"

# Keras names a layer's weights in a .keras file by its class, snake-cased.
SNAKE = {"LSTM": "lstm", "Dense": "dense", "Dropout": "dropout", "Embedding": "embedding"}

# Options lstmlab has no use for when it computes: must be None (or absent).
_MUST_BE_NONE = {
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
    "kernel_constraint", "recurrent_constraint", "bias_constraint",
    "embeddings_regularizer", "embeddings_constraint", "quantization_config", "lora_rank",
}
# Options that must be False (or absent).
_MUST_BE_FALSE = {"time_major", "sparse", "ragged", "optional"}
# Keys that carry nothing for lstmlab: dropped whatever their value.
_IGNORED = {"lora_alpha"}   # only meaningful with a lora_rank, which must be None

# The options each layer class takes from a file, passed to lstmlab's constructor as they are.
_COMMON = {"name", "trainable"}
_OPTIONS = {
    "InputLayer": {"name"},
    "LSTM": _COMMON | {
        "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
        "recurrent_initializer", "bias_initializer", "unit_forget_bias", "dropout",
        "recurrent_dropout", "return_sequences", "return_state", "go_backwards", "stateful",
        "unroll", "zero_output_for_mask", "implementation", "use_cudnn", "seed"},
    "Dense": _COMMON | {"units", "activation", "use_bias", "kernel_initializer", "bias_initializer"},
    "Dropout": _COMMON | {"rate", "noise_shape", "seed"},
    "Embedding": _COMMON | {"input_dim", "output_dim", "embeddings_initializer", "mask_zero",
                            "input_length"},
}
SUPPORTED_LAYERS = tuple(_OPTIONS)


def _h5py():
    return require("h5py")


# -- configs -------------------------------------------------------------------
def _dtype(value, where, allow_int=False):
    """A Keras dtype or dtype policy ('float32', {'class_name': 'DTypePolicy', ...}) -> a dtype name."""
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy", "Policy"):
            raise ModelFileError(
                f"{where}: unsupported dtype policy {value.get('class_name')!r}. lstmlab computes in "
                f"one float type per layer: 'float32' or 'float64'.")
        value = (value.get("config") or {}).get("name")
    ok = ("float32", "float64") + (("int32", "int64", "uint8", "int8", "int16") if allow_int else ())
    if value not in ok:
        raise ModelFileError(
            f"{where}: unsupported dtype {value!r}. lstmlab computes in 'float32' or 'float64' "
            f"(mixed precision and float16/bfloat16 are not supported); re-save the model in float32.")
    return value


def _activation(value, where, keras2):
    """A Keras activation entry ('tanh', or a serialized function dict) -> lstmlab's name."""
    if isinstance(value, dict):
        # Keras 3 may write {'module': 'keras.activations', 'class_name': 'function', 'config': 'tanh'}.
        if value.get("module") in (None, "keras.activations") and isinstance(value.get("config"), str):
            value = value["config"]
        else:
            raise ModelFileError(f"{where}: unsupported activation {value!r} (a custom function?).")
    if value is None:
        value = "linear"
    if not isinstance(value, str) or value not in activations._NAMED:
        raise ModelFileError(
            f"{where}: unsupported activation {value!r}. lstmlab has: "
            f"{', '.join(sorted(activations._NAMED))}.")
    if keras2 and value == "hard_sigmoid":
        raise ModelFileError(
            f"{where}: activation 'hard_sigmoid' in a Keras 2 file is Keras 2's (slope 0.2), which "
            f"differs from Keras 3's relu6(x + 3) / 6 that lstmlab computes; the outputs would "
            f"not be the file's. This option is not supported for Keras 2 files.")
    return value


def _initializer(value, where):
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict) or "class_name" not in value:
        raise ModelFileError(f"{where}: unreadable initializer {value!r:.200}.")
    from .. import initializers
    config = dict(value.get("config") or {})
    config.pop("dtype", None)       # TF 1.x-era Keras wrote the weight's dtype here; it is the layer's
    entry = {"class_name": value["class_name"], "config": config}
    try:
        initializers.deserialize(entry)
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{where}: unsupported initializer {value['class_name']!r} ({e}).") from None
    return entry


def convert_layer(entry, index, keras2=False):
    """One Keras layer entry {'class_name', 'config'} -> lstmlab's {'class_name', 'config'}."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ModelFileError(f"Layer entry {index} is not {{'class_name': ..., 'config': {{...}}}}: "
                             f"{entry!r:.200}.")
    cls = entry.get("class_name")
    cfg = entry["config"]
    name = cfg.get("name", f"#{index}")
    where = f"Layer {name!r} ({cls})"
    registered = entry.get("registered_name")
    if registered not in (None, cls):
        raise ModelFileError(
            f"{where} is a custom layer (registered as {registered!r}); lstmlab cannot build it. "
            f"Supported layers: {', '.join(SUPPORTED_LAYERS)}.")
    if cls not in _OPTIONS:
        raise ModelFileError(
            f"Unsupported layer {cls!r} (layer {name!r}, entry {index}). lstmlab reads Sequential "
            f"models of: {', '.join(SUPPORTED_LAYERS)}.")
    out = {}
    rejected = []
    for key, value in cfg.items():
        if key in _OPTIONS[cls]:
            out[key] = value
        elif key == "dtype":
            out["dtype"] = _dtype(value, where, allow_int=cls == "InputLayer")
        elif key in ("batch_input_shape", "batch_shape"):
            if value is not None:
                out["batch_shape" if cls == "InputLayer" else "batch_input_shape"] = list(value)
        elif key in _MUST_BE_NONE:
            if value is not None:
                shown = value.get("class_name", value) if isinstance(value, dict) else value
                rejected.append(f"{key}={shown!r:.80}")
        elif key in _MUST_BE_FALSE:
            if value:
                rejected.append(f"{key}={value!r}")
        elif key in _IGNORED:
            pass
        else:
            rejected.append(f"{key}={value!r:.80} (unknown to lstmlab)")
    if rejected:
        raise ModelFileError(
            f"{where}: unsupported option(s): {'; '.join(rejected)}. lstmlab's {cls} has no such "
            f"option; remove it from the model (in Keras) and save the model again.")
    for key in ("activation", "recurrent_activation"):
        if key in out:
            out[key] = _activation(out[key], f"{where}, {key}", keras2)
    for key in [k for k in out if k.endswith("_initializer")]:
        out[key] = _initializer(out[key], f"{where}, {key}")
    if cls == "InputLayer" and "batch_shape" not in out:
        raise ModelFileError(f"{where} declares no shape (batch_shape).")
    return {"class_name": cls, "config": out}


def convert_model_config(model_config, keras2=False):
    """A Keras model config {'class_name': 'Sequential', 'config': ...} ->
    (lstmlab Sequential config, build input shape or None)."""
    if not isinstance(model_config, dict):
        raise ModelFileError(f"The model config is not a JSON object: {model_config!r:.200}.")
    cls = model_config.get("class_name")
    if cls != "Sequential":
        raise ModelFileError(
            f"Unsupported model class {cls!r}: lstmlab reads Sequential models (a functional "
            f"Model or a subclassed model has no Sequential equivalent here).")
    cfg = model_config.get("config")
    if isinstance(cfg, list):          # Keras 2.0-2.2: the config is the list of layers
        cfg = {"layers": cfg}
    if not isinstance(cfg, dict) or not isinstance(cfg.get("layers"), list):
        raise ModelFileError("The Sequential config has no list of layers.")
    layers = [convert_layer(e, i, keras2) for i, e in enumerate(cfg["layers"])]
    for i, entry in enumerate(layers):
        if entry["class_name"] == "InputLayer" and i != 0:
            raise ModelFileError(f"InputLayer at position {i}: it must come first.")
    if cfg.get("dtype") is not None:
        _dtype(cfg["dtype"], "The model")
    shape = None
    if layers and layers[0]["class_name"] == "InputLayer":
        shape = layers[0]["config"]["batch_shape"]
    elif layers and layers[0]["config"].get("batch_input_shape") is not None:
        shape = layers[0]["config"]["batch_input_shape"]
    elif cfg.get("build_input_shape") is not None:
        shape = cfg["build_input_shape"]
    elif cfg["layers"] and isinstance(cfg["layers"][0].get("build_config"), dict):
        shape = cfg["layers"][0]["build_config"].get("input_shape")
    config = {"name": cfg.get("name", "sequential"), "trainable": cfg.get("trainable", True),
              "layers": layers}
    return config, (None if shape is None else tuple(shape))


def _build(model_config, keras2):
    from ..models.sequential import Sequential
    config, shape = convert_model_config(model_config, keras2)
    try:
        model = Sequential.from_config(config)
        if shape is not None and not model.built:
            model.build(shape)
    except ModelFileError:
        raise
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"The model in the file could not be built in lstmlab: {e}") from None
    return model


# -- compile configs ----------------------------------------------------------
def _compile(model, optimizer, loss, metrics, path):
    """Compile from a Keras compile/training config; warn and leave uncompiled if lstmlab lacks a part."""
    if optimizer is None and loss is None:
        return
    try:
        opt = optimizers.deserialize(optimizer) if isinstance(optimizer, dict) else optimizers.get(optimizer)
        if isinstance(loss, dict):
            loss = {"class_name": loss.get("class_name"), "config": loss.get("config")}
            loss = losses.deserialize(loss)
        elif loss is not None and not isinstance(loss, str):
            raise ValueError(f"loss {loss!r:.100} (one loss per output?)")
        if not (isinstance(metrics, list) and all(isinstance(m, str) for m in metrics)):
            metrics = None
        model.compile(optimizer=opt, loss=loss, metrics=metrics)
    except (ValueError, TypeError, KeyError) as e:
        warnings.warn(f"{path!r}: the training configuration was not applied ({e}); the model is "
                      f"loaded uncompiled. Call model.compile(...) before training it.", stacklevel=3)


# -- HDF5 reading -------------------------------------------------------------
def _as_str(v):
    return v.decode("utf8") if isinstance(v, bytes) else str(v)


def _attr(group, name, default=None):
    """A string or string-list attribute, also when Keras split it into chunks (name0, name1, ...)."""
    if name in group.attrs:
        value = group.attrs[name]
    elif f"{name}0" in group.attrs:
        value, i = [], 0
        while f"{name}{i}" in group.attrs:
            value.extend(group.attrs[f"{name}{i}"])
            i += 1
    else:
        return default
    if isinstance(value, (bytes, str)):
        return _as_str(value)
    arr = np.asarray(value)
    if arr.dtype.kind in "fiu" and arr.size == 0:
        return []
    if arr.dtype.kind not in "OSU":
        raise ModelFileError(f"Attribute {name!r} of {group.name!r} is not text.")
    return [_as_str(v) for v in arr.reshape(-1)]


def _get(h5py, group, path, where):
    """group[path], following only the file's own (hard) links: no soft or external link,
    so that a file cannot make lstmlab read another file. None when absent."""
    node = group
    for part in [p for p in path.split("/") if p]:
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise ModelFileError(f"{where}: {node.name}/{part} is a {type(link).__name__}; "
                                 f"lstmlab reads only the file's own groups and datasets.")
        node = node[part]
    return node


def _dataset(h5py, group, key, where):
    """A numeric dataset stored in the file, as an array, or a clear error; nothing else is read."""
    ds = _get(h5py, group, key, where)
    if ds is None:
        raise ModelFileError(f"{where}: missing weight {group.name}/{key}.")
    if not isinstance(ds, h5py.Dataset):
        raise ModelFileError(f"{where}: {ds.name} is not a dataset.")
    if ds.dtype.kind not in "fiu" or ds.attrs.get("dtype") == "bfloat16":
        raise ModelFileError(f"{where}: {ds.name} holds {ds.dtype} values, not float weights.")
    if ds.external or ds.is_virtual:
        raise ModelFileError(f"{where}: {ds.name} keeps its data outside the file; refused.")
    return np.asarray(ds[()])


def _set_layer_weights(layer, arrays, where, names=None):
    expected = [w.shape for w in layer.weights]
    names = names or [n for n in layer.weight_names if getattr(layer, n, None) is not None]
    if len(arrays) != len(expected):
        raise ModelFileError(
            f"{where}: layer {layer.name!r} ({type(layer).__name__}) has {len(expected)} weight "
            f"arrays ({', '.join(names)}) of shapes {expected}; the file holds {len(arrays)} "
            f"of shapes {[a.shape for a in arrays]}.")
    for n, shape, a in zip(names, expected, arrays):
        if a.shape != shape:
            raise ModelFileError(
                f"{where}: weight {n!r} of layer {layer.name!r} ({type(layer).__name__}) has shape "
                f"{a.shape} in the file; the model expects {shape}.")
    layer.set_weights([a.astype(layer.dtype) for a in arrays])


def _read_keras3_weights(h5file, model, where):
    """Keras 3's layout (.keras's model.weights.h5, .weights.h5) into `model`'s layers."""
    h5py = _h5py()
    root = "layers"
    if root not in h5file and "_layer_checkpoint_dependencies" in h5file:
        root = "_layer_checkpoint_dependencies"      # Keras 2.13-2.15's .keras files
    counts = {}
    for layer in model.layers:
        cls = type(layer).__name__
        snake = SNAKE.get(cls)
        if snake is None:
            raise ModelFileError(f"{where}: layer {layer.name!r} ({cls}) has no Keras weights layout.")
        n = counts.get(snake, -1) + 1
        counts[snake] = n
        key = snake if n == 0 else f"{snake}_{n}"
        if not layer.weights:
            continue
        path = f"{root}/{key}/cell/vars" if cls == "LSTM" else f"{root}/{key}/vars"
        group = _get(h5py, h5file, path, where)
        if not isinstance(group, h5py.Group):
            raise ModelFileError(
                f"{where}: missing weights of layer {layer.name!r} ({cls}): no group {path!r} in "
                f"the file. Is it the file of this model?")
        wanted = len(layer.weights)
        extra = sorted(set(group.keys()) - {str(i) for i in range(wanted)})
        if extra:
            raise ModelFileError(
                f"{where}: layer {layer.name!r} ({cls}) has {wanted} weight arrays; the file holds "
                f"more under {path!r}: {extra}. (A quantized or differently configured layer?)")
        arrays = [_dataset(h5py, group, str(i), f"{where}, layer {layer.name!r} ({cls})")
                  for i in range(wanted)]
        _set_layer_weights(layer, arrays, where)


def _read_legacy_weights(group, model, where):
    """Keras 2's layout (layer_names, weight_names) into `model`'s layers, layer by layer in order."""
    h5py = _h5py()
    layer_names = _attr(group, "layer_names")
    if layer_names is None:
        raise ModelFileError(f"{where}: no 'layer_names' attribute: not a Keras weights group.")
    stored = []
    for lname in layer_names:
        g = _get(h5py, group, lname, where)
        if not isinstance(g, h5py.Group):
            raise ModelFileError(f"{where}: layer {lname!r} is listed but its group is missing.")
        wnames = _attr(g, "weight_names", [])
        if wnames:
            stored.append((lname, [_dataset(h5py, g, w, f"{where}, layer {lname!r}") for w in wnames],
                           wnames))
    mine = [layer for layer in model.layers if layer.weights]
    if len(stored) != len(mine):
        raise ModelFileError(
            f"{where}: the file holds weights for {len(stored)} layer(s) "
            f"({', '.join(s[0] for s in stored)}); the model has {len(mine)} layer(s) with weights "
            f"({', '.join(layer.name for layer in mine)}).")
    for layer, (lname, arrays, wnames) in zip(mine, stored):
        _set_layer_weights(layer, arrays, f"{where} (layer {lname!r} in the file)")


def _keras_major(version):
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 3


# -- public readers -----------------------------------------------------------
def is_keras_archive(path):
    """A zip holding config.json and model.weights.h5 (and no lstmlab.json)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return KERAS_CONFIG in names and "lstmlab.json" not in names


def load_keras_archive(path, compile=True):
    """A Keras 3 `.keras` archive -> an lstmlab Sequential with the file's weights."""
    h5py = _h5py()
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if KERAS_CONFIG not in names:
                raise ModelFileError(f"{path!r}: no {KERAS_CONFIG} in the archive: not a .keras file.")
            if KERAS_WEIGHTS not in names:
                other = sorted(n for n in names if n.startswith("model.weights"))
                hint = (" It holds weights in another format (" + ", ".join(other) + "); lstmlab "
                        "reads only HDF5 weights (npz weights hold pickled objects). Re-save with "
                        "model.save(path) and the default weights format.") if other else ""
                raise ModelFileError(f"{path!r}: no {KERAS_WEIGHTS} in the archive.{hint}")
            config = json.loads(z.read(KERAS_CONFIG))
            meta = json.loads(z.read(KERAS_METADATA)) if KERAS_METADATA in names else {}
            weights = z.read(KERAS_WEIGHTS)
    except zipfile.BadZipFile as e:
        raise ModelFileError(f"{path!r} is damaged: {e}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path!r}: {KERAS_CONFIG} is not valid JSON ({e}).") from None
    keras2 = _keras_major(meta.get("keras_version", "3") if isinstance(meta, dict) else "3") < 3
    model = _build(config, keras2)
    if not model.built and model.layers:
        raise ModelFileError(f"{path!r}: the model has no input shape, so it has no weights to load.")
    try:
        with h5py.File(io.BytesIO(weights), "r") as f:
            _read_keras3_weights(f, model, path)
    except OSError as e:
        raise ModelFileError(f"{path!r}: {KERAS_WEIGHTS} is not a readable HDF5 file ({e}).") from None
    if isinstance(meta, dict) and isinstance(meta.get("lstmlab_metadata"), dict):
        model.metadata = dict(meta["lstmlab_metadata"])       # written by lstmlab's save
    if compile and isinstance(config.get("compile_config"), dict):
        c = config["compile_config"]
        _compile(model, c.get("optimizer"), c.get("loss"), c.get("metrics"), path)
    return model


def load_keras_h5(path, compile=True):
    """A legacy Keras HDF5 model file (`model.save('x.h5')`) -> an lstmlab Sequential."""
    h5py = _h5py()
    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ModelFileError(f"{path!r} is not a readable HDF5 file ({e}).") from None
    with f:
        raw = _attr(f, "model_config")
        if raw is None:
            if "layer_names" in f.attrs or "layers" in f:
                raise ModelFileError(
                    f"{path!r} holds weights only, no model config: build the model in lstmlab and "
                    f"call model.load_weights({path!r}).")
            raise ModelFileError(f"{path!r}: an HDF5 file without 'model_config': not a Keras model.")
        try:
            config = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ModelFileError(f"{path!r}: model_config is not valid JSON ({e}).") from None
        keras2 = _keras_major(_attr(f, "keras_version", "2")) < 3
        model = _build(config, keras2)
        weights = _get(h5py, f, "model_weights", path)
        if not isinstance(weights, h5py.Group):
            raise ModelFileError(f"{path!r}: no 'model_weights' group: the file holds no weights.")
        if not model.built:
            raise ModelFileError(f"{path!r}: the model has no input shape, so it has no weights to load.")
        _read_legacy_weights(weights, model, path)
        training = _attr(f, "training_config")
    if compile and training:
        try:
            t = json.loads(training)
        except json.JSONDecodeError:
            t = {}
        if isinstance(t, dict):
            _compile(model, t.get("optimizer_config"), t.get("loss"), t.get("metrics"), path)
    return model


def load_weights(model, path):
    """Keras weights into a built lstmlab `model`: a Keras 3 `.weights.h5`, a legacy Keras
    weights or model `.h5`, or the weights of a `.keras` archive."""
    h5py = _h5py()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No weights file at {path!r}.")
    if not model.built:
        raise ValueError("The model has no weights yet: build it (or call it on data) before load_weights.")
    if zipfile.is_zipfile(path):
        if not is_keras_archive(path):
            raise ModelFileError(f"{path!r} is a zip archive but not a Keras .keras file.")
        with zipfile.ZipFile(path) as z:
            if KERAS_WEIGHTS not in z.namelist():
                raise ModelFileError(f"{path!r}: no {KERAS_WEIGHTS} in the archive.")
            data = z.read(KERAS_WEIGHTS)
        with h5py.File(io.BytesIO(data), "r") as f:
            _read_keras3_weights(f, model, path)
        return model
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ModelFileError(f"{path!r} is not a Keras weights file (HDF5): {e}.") from None
    with f:
        if "model_weights" in f:
            _read_legacy_weights(_get(h5py, f, "model_weights", path), model, path)
        elif "layer_names" in f.attrs:
            _read_legacy_weights(f, model, path)
        elif "layers" in f or "_layer_checkpoint_dependencies" in f:
            _read_keras3_weights(f, model, path)
        else:
            raise ModelFileError(f"{path!r}: an HDF5 file in no Keras weights layout lstmlab knows.")
    return model
