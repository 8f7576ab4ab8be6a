"""Sequential: a stack of layers, run forward and backward as one function.

The model is what Keras's is: layers in order, built lazily from the first
input's shape (or at once when the first layer declares its shape), trained
by `compile` + `fit` (in `training.py`), saved by `save` (in `saving.py`).
"""
import os

import numpy as np

from .. import layers as layers_module
from ..layers.base import Layer
from ..layers.input_layer import InputLayer
from ..layers.lstm import LSTMState
from .saving import save_model
from .summary import print_summary
from .training import Trainer


class Sequential(Trainer):
    """A linear stack of layers: `Sequential([LSTM(10), Dense(1)])` or `.add()` one by one."""

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__()
        self.name = name or "sequential"
        self.trainable = trainable
        self._input = None          # the InputLayer, when one was given
        self._layers = []
        self.built = False
        self._build_input_shape = None
        # JSON-able facts saved with the model (a scaler's range, a vocabulary, the data's column).
        self.metadata = {}
        for layer in layers or []:
            self.add(layer)

    # -- structure ----------------------------------------------------------
    def add(self, layer):
        """Append a layer (an `Input(...)` is only allowed first)."""
        if isinstance(layer, InputLayer):
            if self._layers or self._input is not None:
                raise ValueError(
                    "Input(...) must come first in a Sequential model. Received it after "
                    f"{len(self._layers)} layer(s)."
                )
            self._input = layer
            self._maybe_build()
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a layer (e.g. LSTM(10), Dense(1)). "
                f"Received: {layer!r} of type {type(layer).__name__}."
            )
        if any(layer is other for other in self._layers):
            raise ValueError(f"Layer '{layer.name}' is already in this model; make a new one.")
        self._layers.append(layer)
        self.built = False
        self._maybe_build()

    def pop(self):
        layer = self._layers.pop()
        self.built = False
        return layer

    @property
    def layers(self):
        """The layers, without the Input (as in Keras 3)."""
        return list(self._layers)

    @property
    def batch_input_shape(self):
        if self._input is not None:
            return self._input.batch_input_shape
        if self._layers and self._layers[0].batch_input_shape is not None:
            return self._layers[0].batch_input_shape
        return None

    @property
    def input_shape(self):
        return self.batch_input_shape

    @property
    def output_shape(self):
        shape = self.batch_input_shape
        return None if shape is None else self.compute_output_shape(shape)

    def compute_output_shape(self, input_shape):
        """The model's output shape for inputs of `input_shape`, found without running it."""
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
            shape = shape[0] if isinstance(shape, list) else shape   # return_state: the output goes on
        return tuple(shape)

    def _maybe_build(self):
        if self.batch_input_shape is not None and self._layers:
            self.build(self.batch_input_shape)

    def build(self, input_shape=None):
        """Create every layer's weights for inputs of `input_shape` (batch first)."""
        shape = tuple(input_shape if input_shape is not None else self.batch_input_shape or ())
        if not shape:
            raise ValueError(
                "The model does not know its input shape yet. Give the first layer "
                "input_shape=(timesteps, features), start with Input(shape=...), or call "
                "the model (fit/predict) on data first."
            )
        for layer in self._layers:
            if getattr(layer, "stateful", False) and layer.batch_input_shape is None and shape[0] is not None:
                # A stateful layer's state holds one row per sequence of the fixed batch.
                layer.batch_input_shape = shape
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
            shape = shape[0] if isinstance(shape, list) else shape
        self._build_input_shape = tuple(input_shape if input_shape is not None else self.batch_input_shape)
        self.built = True

    # -- computing ----------------------------------------------------------
    def forward(self, x, training=False, initial_states=None):
        """x -> (y, caches): one forward pass through every layer, keeping what backward needs."""
        if not self._layers:
            raise ValueError("This Sequential model has no layers; add some with model.add(...).")
        if not self.built:
            self.build((None, *np.shape(x)[1:]))
        caches, mask, recurrent = [], None, 0
        y = x
        for layer in self._layers:
            kw = {"training": training}
            if isinstance(layer, layers_module.LSTM):
                kw["mask"] = mask
                if initial_states is not None and initial_states[recurrent] is not None:
                    kw["initial_state"] = initial_states[recurrent]
                recurrent += 1
            next_mask = layer.compute_mask(y, mask)
            y, cache = layer.forward(y, **kw)
            if isinstance(y, list):    # return_state inside a Sequential: pass the output on
                y = y[0]
            mask = next_mask
            caches.append(cache)
        return y, caches

    def backward(self, dy, caches, from_logits=False):
        """dy (gradient of the output) -> gradients of the trainable weights, in `trainable_weights` order.

        With `from_logits`, dy is the gradient of the last Dense layer's
        pre-activation: the fused softmax/sigmoid + cross-entropy path.
        """
        grads = []
        for i in reversed(range(len(self._layers))):
            layer, cache = self._layers[i], caches[i]
            if from_logits and i == len(self._layers) - 1:
                g = layer.backward_pre_activation(dy, cache)
            else:
                if getattr(layer, "return_state", False):
                    dy = [dy, None, None]
                if i == 0 and isinstance(layer, layers_module.LSTM):
                    g = layer.backward(dy, cache, inputs=False)   # nothing below to pass it to
                else:
                    g = layer.backward(dy, cache)
            if layer.trainable:
                grads[:0] = g.weights
            dy = g.inputs
            if dy is None:             # an Embedding at the bottom: nothing below it
                break
        return grads

    def __call__(self, x, training=False):
        return self.forward(np.asarray(x), training=training)[0]

    # -- weights and state ----------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers if layer.trainable for w in layer.weights]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Set every layer's weights from one list, in `get_weights()` order."""
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self._layers)
        if not self.built or expected == 0:
            raise ValueError("The model has no weights yet: build it (or call it on data) first.")
        if len(weights) != expected:
            raise ValueError(
                f"The model has {expected} weight arrays "
                f"{[w.shape for w in self.weights]}. Received {len(weights)} arrays."
            )
        i = 0
        for layer in self._layers:
            n = len(layer.weights)
            layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        return sum(layer.count_params() for layer in self._layers)

    @property
    def lstm_layers(self):
        return [layer for layer in self._layers if isinstance(layer, layers_module.LSTM)]

    def get_states(self):
        """One LSTMState(h, c) per LSTM layer: the carried state of a stateful layer, else None."""
        return [None if layer._states is None else LSTMState(*layer.states) for layer in self.lstm_layers]

    def set_states(self, states):
        """Set the carried state of each stateful LSTM layer (None leaves one as it is)."""
        lstms = self.lstm_layers
        states = list(states)
        if len(states) != len(lstms):
            raise ValueError(
                f"The model has {len(lstms)} LSTM layer(s); set_states expects one (h, c) each. "
                f"Received {len(states)}."
            )
        for layer, s in zip(lstms, states):
            if s is None:
                continue
            if not layer.stateful:
                raise ValueError(
                    f"Layer '{layer.name}' is not stateful: it starts every call from zeros and "
                    f"keeps no state to set. Pass the state per call instead: "
                    f"model.predict(x, initial_state=...), or use model.stream()."
                )
            layer.states = list(s)

    def stream(self, batch_size=1, states=None):
        """A Stream: feed one timestep at a time, carrying every LSTM's (h, c)."""
        from ..state import Stream
        return Stream(self, batch_size=batch_size, states=states)

    def with_batch_size(self, batch_size):
        """The same model (same weights, zero state) for another fixed batch size.

        The classic case: a stateful model trained at batch 32, then predicting
        one series at batch 1.
        """
        config = self.get_config()
        for entry in config["layers"]:
            c = entry["config"]
            for key in ("batch_input_shape", "batch_shape"):
                if c.get(key) is not None:
                    c[key] = [batch_size, *c[key][1:]]
        clone = type(self).from_config(config)
        shape = self._build_input_shape or self.batch_input_shape
        clone.build((batch_size, *shape[1:]))
        for layer in clone.lstm_layers:
            if layer.stateful:
                layer.batch_input_shape = (batch_size, *shape[1:])
        clone.set_weights(self.get_weights())
        return clone

    def reset_states(self):
        """Zero the state of every stateful layer (Keras 2 had this; Keras 3 lost it)."""
        for layer in self._layers:
            if hasattr(layer, "reset_state"):
                layer.reset_state()

    reset_state = reset_states

    def save(self, filepath, overwrite=True):
        """Write the model (config, weights, optimizer state) to one file, atomically.

        A path ending in '.keras' gets a Keras 3 archive instead (config and weights).
        """
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath!r} exists and overwrite=False.")
        if os.fspath(filepath).endswith(".keras"):     # a Keras 3 archive, which Keras loads
            from ..interop.keras_write import save_keras
            return save_keras(self, filepath)
        save_model(self, filepath)

    def load_weights(self, filepath):
        """Read Keras weights (`.weights.h5`, legacy `.h5`, `.keras`) into this built model."""
        from ..interop.keras_files import load_weights
        load_weights(self, filepath)

    def export_onnx(self, path, streaming=False, opset=17):
        """Write an ONNX graph (LSTM operator) of this model; `streaming` adds state inputs/outputs."""
        from ..interop.onnx_export import export_onnx
        return export_onnx(self, path, streaming=streaming, opset=opset)

    def summary(self, print_fn=None):
        print_summary(self, print_fn=print_fn)

    # -- config -------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "layers": []}
        if self._input is not None:
            config["layers"].append({"class_name": "InputLayer", "config": self._input.get_config()})
        for layer in self._layers:
            config["layers"].append({"class_name": type(layer).__name__, "config": layer.get_config()})
        return config

    @classmethod
    def from_config(cls, config):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(layer_from_config(entry))
        return model

    def __repr__(self):
        return f"<Sequential name={self.name!r}, layers={[layer.name for layer in self._layers]}>"


# The layers a saved config may name: a config can only build these, never run code.
LAYER_CLASSES = {
    "InputLayer": InputLayer,
    "LSTM": layers_module.LSTM,
    "Dense": layers_module.Dense,
    "Dropout": layers_module.Dropout,
    "Embedding": layers_module.Embedding,
}


def layer_from_config(entry):
    """{'class_name': 'LSTM', 'config': {...}} -> a new layer, or a clear error."""
    if not isinstance(entry, dict) or "class_name" not in entry or "config" not in entry:
        raise ValueError(
            f"A layer entry must be {{'class_name': ..., 'config': {{...}}}}. Received: {entry!r:.200}."
        )
    name = entry["class_name"]
    if name not in LAYER_CLASSES:
        raise ValueError(
            f"Unknown layer class {name!r}. Expected one of: "
            f"{', '.join(sorted(LAYER_CLASSES))}."
        )
    return LAYER_CLASSES[name].from_config(dict(entry["config"]))
