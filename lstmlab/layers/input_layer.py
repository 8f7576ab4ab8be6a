"""Input: declares the shape of what a model takes, (batch_size, *shape)."""
from .base import Grads, Layer


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, batch_shape=None, name=None, dtype=None, **kwargs):
        if batch_shape is not None:
            kwargs["batch_input_shape"] = tuple(batch_shape)
        elif shape is not None:
            kwargs["batch_input_shape"] = (batch_size, *tuple(shape))
        elif "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            raise ValueError("Input needs a shape: Input(shape=(timesteps, features)).")
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.built = True

    @property
    def shape(self):
        return self.batch_input_shape

    def forward(self, x, training=False):
        return self._prepare(x), None

    def backward(self, dy, cache):
        return Grads(dy, [])

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "batch_shape": list(self.batch_input_shape)}


def Input(shape=None, batch_size=None, name=None, dtype=None, batch_shape=None):
    """Keras's `Input(shape, batch_size)`: the first entry of a Sequential model."""
    return InputLayer(shape=shape, batch_size=batch_size, batch_shape=batch_shape, name=name, dtype=dtype)
