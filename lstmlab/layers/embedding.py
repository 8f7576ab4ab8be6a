"""Embedding: integer ids (B, T) -> rows of a (input_dim, output_dim) table, (B, T, output_dim)."""
import numpy as np

from .. import initializers
from .base import Grads, Layer, new_weight


class Embedding(Layer):
    weight_names = ("embeddings",)

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False,
                 input_length=None, **kwargs):
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)   # Keras 2's argument
        super().__init__(**kwargs)
        for arg, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"Embedding {arg} must be a positive integer. Received: {arg}={v!r}.")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.embeddings = None

    def build(self, input_shape):
        self.embeddings = new_weight(self.embeddings_initializer, (self.input_dim, self.output_dim),
                                     self.dtype, self.name)
        self.built = True

    def _ids(self, x):
        ids = np.asarray(x)
        if ids.dtype.kind == "f":
            if not np.all(np.isfinite(ids)) or not np.all(ids == np.round(ids)):
                raise ValueError(
                    f"Layer '{self.name}' (Embedding) expects integer ids. Received non-integer "
                    f"values such as {ids[ids != np.round(ids)].flat[0] if np.any(ids != np.round(ids)) else 'NaN'}."
                )
        elif ids.dtype.kind not in "biu":
            raise TypeError(f"Layer '{self.name}' expects integer ids. Received dtype {ids.dtype}.")
        ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise ValueError(
                f"Layer '{self.name}' has input_dim={self.input_dim}: ids must be in "
                f"[0, {self.input_dim - 1}]. Received ids in [{ids.min()}, {ids.max()}]; "
                f"make input_dim at least {ids.max() + 1} (the vocabulary size)."
            )
        return ids

    def forward(self, x, training=False):
        ids = self._ids(x)
        if not self.built:
            self.build(ids.shape)
        return self.embeddings[ids], ids

    def backward(self, dy, ids):
        dE = np.zeros_like(self.embeddings)
        np.add.at(dE, ids.reshape(-1), dy.reshape(-1, self.output_dim))
        return Grads(None, [dE])

    def compute_mask(self, inputs, mask):
        return None if not self.mask_zero else np.asarray(inputs) != 0

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero}
