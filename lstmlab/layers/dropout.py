"""Dropout: during training, zero each input with probability `rate` and scale the rest by 1/(1 - rate)."""
import numpy as np

from .. import config
from .base import Grads, Layer


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1). Received: rate={rate!r}.")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = config.rng(seed) if seed is not None else None

    def forward(self, x, training=False):
        # A float input keeps its type: a Dropout inside a float64 model stays float64.
        x = np.asarray(x)
        x = x if x.dtype.kind == "f" else self._prepare(x)
        if not training or self.rate == 0.0:
            return x, None
        mask = self.draw_mask(x.shape, x.dtype)
        return x * mask, mask

    def draw_mask(self, shape, dtype):
        """One training call's mask for an input of `shape`: 0 or 1/(1 - rate) at each entry,
        of the noise shape (broadcasting against `shape`) when there is one."""
        if self.noise_shape is not None:   # Keras: None entries take the input's size
            shape = tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))
        rng = self._rng if self._rng is not None else config.rng()
        keep = 1.0 - self.rate
        return ((rng.random(shape) < keep) / keep).astype(dtype)

    def backward(self, dy, mask):
        return Grads(dy if mask is None else dy * mask, [])

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed}
