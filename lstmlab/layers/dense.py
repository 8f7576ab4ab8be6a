"""Dense: y = act(x W + b) on the last axis, so on (B, D) or at every step of (B, T, D)."""
from typing import NamedTuple

import numpy as np

from .. import activations, initializers
from ..engine.linalg import matmul
from .base import Grads, Layer, new_weight


class _Cache(NamedTuple):
    x: np.ndarray   # (..., D)
    z: np.ndarray   # (..., units), before the activation
    y: np.ndarray   # (..., units), after the activation


class Dense(Layer):
    weight_names = ("kernel", "bias")

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense units must be a positive integer. Received: units={units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None

    def build(self, input_shape):
        D = int(input_shape[-1])
        self.kernel = new_weight(self.kernel_initializer, (D, self.units), self.dtype, self.name)  # (D, units)
        if self.use_bias:
            self.bias = new_weight(self.bias_initializer, (self.units,), self.dtype, self.name)   # (units,)
        self.built = True

    def forward(self, x, training=False):
        """x (..., D) -> y (..., units)."""
        x = self._prepare(x, ndim=(2, 3, 4), what="(batch, features) or (batch, timesteps, features)")
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Layer '{self.name}' was built for {self.kernel.shape[0]} input features. "
                f"Received an array of shape {x.shape} ({x.shape[-1]} features on the last axis)."
            )
        D = self.kernel.shape[0]
        z = matmul(x.reshape(-1, D), self.kernel).reshape(*x.shape[:-1], self.units)
        if self.use_bias:
            z += self.bias
        y = self.activation(z)
        return y, _Cache(x, z, y)

    def backward(self, dy, cache):
        return self.backward_pre_activation(self.activation.backward(cache.y, dy), cache)

    def backward_pre_activation(self, dz, cache):
        """From the gradient of the pre-activation z: the fused softmax + cross-entropy path."""
        D = self.kernel.shape[0]
        dzf = np.ascontiguousarray(dz, self.kernel.dtype).reshape(-1, self.units)
        dW = matmul(cache.x.reshape(-1, D).T, dzf)
        dweights = [dW, dzf.sum(axis=0)] if self.use_bias else [dW]
        dx = matmul(dzf, self.kernel.T).reshape(*dz.shape[:-1], D)
        return Grads(dx, dweights)

    def bias_or_zeros(self):
        """The bias (units,) the layer adds: its own array, or zeros when use_bias is False."""
        return self.bias if self.use_bias else np.zeros(self.units, self.dtype)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }
