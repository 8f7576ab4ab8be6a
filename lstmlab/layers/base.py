"""What every layer shares: lazy building, weights in Keras's order, config, errors.

A layer is a pair of functions with an explicit cache, as in llm.c:

    y, cache = layer.forward(x, training=...)
    grads = layer.backward(dy, cache)       # Grads(inputs, weights, states)

and, for users, `layer(x)` returns `y` as a NumPy array, building the layer's
weights from the input's shape on first use, as an eager Keras layer does.
"""
import itertools
import re
from collections import defaultdict
from typing import NamedTuple

import numpy as np

from .. import config
from ..engine.memory import aligned_empty

_name_counters = defaultdict(itertools.count)


def _auto_name(prefix):
    """Keras's naming: 'lstm', 'lstm_1', 'lstm_2', ..."""
    n = next(_name_counters[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


def _snake(name):
    """'LSTM' -> 'lstm', 'InputLayer' -> 'input_layer', as Keras names layers."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class Grads(NamedTuple):
    """What a layer's backward returns."""

    inputs: object       # d loss / d inputs, shaped as the inputs
    weights: list        # d loss / d each weight, in `get_weights()` order
    states: object = None  # d loss / d initial state ([dh0, dc0] for an LSTM), else None


class Layer:
    """The base of every layer.

    Keras 2's `input_shape=`, `input_dim=` and `batch_input_shape=` are
    accepted on any layer, as the old tutorials pass them to the first one.
    """

    weight_names = ()    # attribute names of the weights, in Keras's order

    def __init__(self, name=None, dtype=None, trainable=True, input_shape=None,
                 batch_input_shape=None, batch_size=None, input_dim=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s): "
                f"{', '.join(sorted(kwargs))}. Expected the arguments of "
                f"{type(self).__name__}.__init__ (see help({type(self).__name__}))."
            )
        self.name = name or _auto_name(_snake(type(self).__name__))
        self.dtype = np.dtype(dtype or config.floatx()).name
        self.trainable = trainable
        self.built = False
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self.batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self.batch_input_shape = (batch_size, *tuple(input_shape))
        else:
            self.batch_input_shape = None

    # -- weights ----------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch first)."""
        self.built = True

    @property
    def weights(self):
        """The weight arrays themselves (not copies), in Keras's order."""
        return [getattr(self, n) for n in self.weight_names if getattr(self, n, None) is not None]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Set the weights from a list of arrays in `get_weights()` order and shapes."""
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has no weights yet: it is built on its first call. "
                f"Call it on an input (or build the model) before set_weights."
            )
        mine = self.weights
        weights = list(weights)
        if len(weights) != len(mine):
            raise ValueError(
                f"Layer '{self.name}' expects {len(mine)} weight arrays "
                f"({', '.join(n for n in self.weight_names if getattr(self, n, None) is not None)}) "
                f"with shapes {[w.shape for w in mine]}. Received {len(weights)} arrays."
            )
        for w, new in zip(mine, weights):
            new = np.asarray(new)
            if new.shape != w.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight of shape {w.shape} cannot be set from an "
                    f"array of shape {new.shape}. Expected shapes: {[v.shape for v in mine]}."
                )
            w[...] = new

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # -- calling ----------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        y, _ = self.forward(inputs, *args, **kwargs)
        return y

    def forward(self, x, training=False):
        """x -> (y, cache). Subclasses override."""
        raise NotImplementedError

    def backward(self, dy, cache):
        """dy -> Grads(inputs, weights, states). Subclasses override."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask):
        """The mask the next layer receives; most layers pass it on unchanged."""
        return mask

    def _prepare(self, inputs, ndim=None, what=None):
        """The input as a float array of this layer's dtype, checked, the layer built."""
        x = as_float_array(inputs, self.dtype, self.name)
        if ndim is not None and x.ndim not in ndim:
            raise ValueError(
                f"Layer '{self.name}' expects input of shape {what}. "
                f"Received an array of shape {x.shape}."
            )
        check_finite(x, self.name)
        if not self.built:
            self.build(x.shape)
        return x

    # -- config -----------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.batch_input_shape is not None:
            config["batch_input_shape"] = list(self.batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


def new_weight(initializer, shape, dtype, name):
    """A fresh weight from its initializer: C-contiguous (the kernels stride through rows),
    64-byte aligned (`engine.memory`), of exactly `shape` and `dtype`, whatever a custom
    initializer returns. Weights change in place from then on, so they stay aligned."""
    w = np.asarray(initializer(shape, dtype=dtype), dtype=dtype)
    if w.shape != tuple(shape):
        raise ValueError(
            f"Layer '{name}': the initializer {initializer!r} returned shape {w.shape}; "
            f"expected {tuple(shape)}."
        )
    out = aligned_empty(w.shape, dtype)
    out[...] = w
    return out


def as_float_array(inputs, dtype, name):
    """NumPy, lists, pandas objects -> a float ndarray, or a clear error."""
    try:
        x = np.asarray(inputs)
    except Exception as e:  # ragged lists and the like
        raise ValueError(
            f"Layer '{name}' could not turn its input into an array: {e}. "
            f"Pass a NumPy array of shape (batch, ...) with one length per axis."
        ) from None
    if x.dtype.kind not in "biuf":
        raise TypeError(
            f"Layer '{name}' expects numbers. Received an array of dtype {x.dtype}; "
            f"convert it first, e.g. x.astype('float32')."
        )
    return np.ascontiguousarray(x, dtype=dtype)


def check_finite(x, name):
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"Layer '{name}' received NaN or inf (first at index {tuple(int(i) for i in bad)}, "
            f"value {x[tuple(bad)]}). Expected finite numbers; clean the data first, "
            f"e.g. with np.nan_to_num or by dropping the rows with np.isfinite(x).all(axis=...)."
        )
