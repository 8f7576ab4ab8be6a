"""Process-wide settings: the default float type and the random source.

`set_floatx("float64")` makes new layers compute in float64 end to end, as
`keras.backend.set_floatx` does. `set_random_seed(n)` makes every unseeded
draw (initial weights, dropout, shuffling) repeatable, as
`keras.utils.set_random_seed` does.
"""
import numpy as np

_FLOATX = "float32"
_RNG = np.random.default_rng()


def floatx():
    """The default float type of new layers: 'float32' unless set."""
    return _FLOATX


def set_floatx(dtype):
    """Set the default float type of layers made from now on: 'float32' or 'float64'."""
    global _FLOATX
    name = np.dtype(dtype).name if dtype in ("float32", "float64", np.float32, np.float64) else None
    if name is None:
        raise ValueError(
            f"set_floatx expects 'float32' or 'float64'. Received: {dtype!r}."
        )
    _FLOATX = name


def set_random_seed(seed):
    """Seed the generator behind every unseeded draw in lstmlab."""
    global _RNG
    _RNG = np.random.default_rng(seed)


def rng(seed=None):
    """A generator: a new one from `seed` when given, else the shared one."""
    return np.random.default_rng(seed) if seed is not None else _RNG
