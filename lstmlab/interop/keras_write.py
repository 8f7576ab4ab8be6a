"""Keras files out: a Keras 3 `.keras` archive (`model.save('m.keras')`) and a Keras 3
`.weights.h5` weights file, which `keras.models.load_model` / `model.load_weights` read.

The archive is what Keras 3 writes itself: metadata.json, config.json (the model's
config, each layer's in Keras 3's keys) and model.weights.h5 (HDF5, weights at
layers/<snake class name>[_<n>]/vars/<i>, an LSTM's under .../cell/vars). Writes are
atomic: a temporary file beside the target, renamed over it when complete.
"""
import datetime
import io
import json
import os
import zipfile

import numpy as np

from .. import activations, initializers, losses, optimizers
from ..layers import LSTM, Dense, Dropout, Embedding
from ..atomic import atomic_write
from ._extras import require
from .keras_files import KERAS_CONFIG, KERAS_METADATA, KERAS_WEIGHTS, SNAKE

_NONE_LSTM = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint")
_NONE_DENSE = ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
               "kernel_constraint", "bias_constraint")
_NONE_EMBEDDING = ("embeddings_regularizer", "activity_regularizer", "embeddings_constraint")


def _init(init, where):
    try:
        entry = initializers.serialize(init)
    except ValueError as e:
        raise ValueError(f"{where}: cannot be written to a Keras file: {e}") from None
    return {"module": "keras.initializers", **entry, "registered_name": None}


def _act(act, where):
    try:
        return activations.serialize(act)
    except ValueError as e:
        raise ValueError(f"{where}: cannot be written to a Keras file: {e}") from None


def _layer_config(layer):
    base = {"name": layer.name, "trainable": layer.trainable, "dtype": layer.dtype}
    where = f"Layer {layer.name!r} ({type(layer).__name__})"
    if isinstance(layer, LSTM):
        if layer.stateful and layer._fixed_batch() is None:
            raise ValueError(f"{where} is stateful: Keras needs its fixed batch size; build the "
                             f"model with batch_input_shape=(batch, timesteps, features).")
        return {
            **base,
            "return_sequences": layer.return_sequences, "return_state": layer.return_state,
            "go_backwards": layer.go_backwards, "stateful": layer.stateful,
            "unroll": bool(layer.unroll), "zero_output_for_mask": layer.zero_output_for_mask,
            "units": layer.units,
            "activation": _act(layer.activation, where),
            "recurrent_activation": _act(layer.recurrent_activation, where),
            "use_bias": layer.use_bias,
            "kernel_initializer": _init(layer.kernel_initializer, where),
            "recurrent_initializer": _init(layer.recurrent_initializer, where),
            "bias_initializer": _init(layer.bias_initializer, where),
            "unit_forget_bias": layer.unit_forget_bias,
            **{k: None for k in _NONE_LSTM},
            "dropout": layer.dropout, "recurrent_dropout": layer.recurrent_dropout,
            "seed": layer.seed,
        }
    if isinstance(layer, Dense):
        return {**base, "units": layer.units, "activation": _act(layer.activation, where),
                "use_bias": layer.use_bias,
                "kernel_initializer": _init(layer.kernel_initializer, where),
                "bias_initializer": _init(layer.bias_initializer, where),
                **{k: None for k in _NONE_DENSE}}
    if isinstance(layer, Dropout):
        return {**base, "rate": layer.rate, "seed": layer.seed,
                "noise_shape": None if layer.noise_shape is None else list(layer.noise_shape)}
    if isinstance(layer, Embedding):
        return {**base, "input_dim": layer.input_dim, "output_dim": layer.output_dim,
                "embeddings_initializer": _init(layer.embeddings_initializer, where),
                **{k: None for k in _NONE_EMBEDDING}, "mask_zero": layer.mask_zero}
    raise ValueError(f"{where}: no Keras equivalent known to lstmlab's Keras writer.")


def _input_shape(model):
    shape = model.batch_input_shape or model._build_input_shape
    if shape is None:
        raise ValueError("The model does not know its input shape: build it before saving.")
    shape = list(shape)
    for layer in model.lstm_layers:          # a stateful LSTM fixes the batch size
        if layer.stateful and shape[0] is None:
            shape[0] = layer._fixed_batch()
    return shape


def keras_config(model):
    """The Keras 3 config.json of `model` (a dict)."""
    if not model.built:
        raise ValueError("The model has no weights yet: build it (or fit/predict once) before saving.")
    shape = _input_shape(model)
    if model._input is not None:
        in_name, in_dtype = model._input.name, model._input.dtype
    else:
        first = model.layers[0]
        in_name = "input_layer"
        in_dtype = "float32" if isinstance(first, Embedding) else first.dtype
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": shape, "dtype": in_dtype, "sparse": False, "name": in_name},
               "registered_name": None}]
    s = tuple(shape)
    for layer in model.layers:
        layers.append({"module": "keras.layers", "class_name": type(layer).__name__,
                       "config": _layer_config(layer), "registered_name": None,
                       "build_config": {"input_shape": list(s)}})
        s = layer.compute_output_shape(s)
        s = tuple(s[0] if isinstance(s, list) else s)
    config = {
        "module": "keras", "class_name": "Sequential",
        "config": {"name": model.name, "trainable": model.trainable, "layers": layers,
                   "build_input_shape": shape},
        "registered_name": None,
        "build_config": {"input_shape": shape},
    }
    compile_config = _compile_config(model)
    if compile_config:
        config["compile_config"] = compile_config
    return config


def _compile_config(model):
    if not getattr(model, "compiled", False) or model.loss is None:
        return None
    metrics = [m for m in model._metric_ids if isinstance(m, str)] or None
    return {"optimizer": optimizers.serialize(model.optimizer), "loss": losses.serialize(model.loss),
            "loss_weights": None, "metrics": metrics, "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def _weights_h5(model):
    """model.weights.h5's bytes: Keras 3's layout."""
    h5py = require("h5py")
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        counts = {}
        for layer in model.layers:
            snake = SNAKE[type(layer).__name__]
            n = counts.get(snake, -1) + 1
            counts[snake] = n
            key = snake if n == 0 else f"{snake}_{n}"
            g = f.create_group(f"layers/{key}/vars")
            g.attrs["name"] = layer.name
            if isinstance(layer, LSTM):
                g = f.create_group(f"layers/{key}/cell/vars")
                g.attrs["name"] = "lstm_cell"
            for i, w in enumerate(layer.weights):
                g.create_dataset(str(i), data=np.asarray(w))
        f.create_group("vars").attrs["name"] = model.name
    return buf.getvalue()


def _version():
    import lstmlab
    return getattr(lstmlab, "__version__", "?")


def save_keras(model, path):
    """Write `model` as a Keras 3 `.keras` archive that `keras.models.load_model` reads."""
    path = os.fspath(path)
    config = keras_config(model)
    weights = _weights_h5(model)
    metadata = {"keras_version": "3", "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "written_by": f"lstmlab {_version()}",
                # Keras ignores this; lstmlab reads it back (a scaler's range, a vocabulary, ...).
                "lstmlab_metadata": model.metadata}

    def write(f):
        with zipfile.ZipFile(f, "w") as z:
            z.writestr(KERAS_METADATA, json.dumps(metadata))
            z.writestr(KERAS_CONFIG, json.dumps(config))
            z.writestr(KERAS_WEIGHTS, weights)

    atomic_write(path, write)


def save_weights(model, path):
    """Write the weights as a Keras 3 `.weights.h5` file (Keras's `model.load_weights` reads it)."""
    path = os.fspath(path)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"A Keras weights file name ends in '.weights.h5'. Received: {path!r}.")
    if not model.built:
        raise ValueError("The model has no weights yet: build it (or fit/predict once) before saving.")
    data = _weights_h5(model)
    atomic_write(path, lambda f: f.write(data))
