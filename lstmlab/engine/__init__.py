"""The LSTM math and nothing else: Numba kernels and their NumPy twin.

`forward`, `backward` and `step` are the compiled kernels; `reference` holds
the same three functions in plain NumPy. Nothing here imports the rest of
lstmlab.
"""
from . import cache  # noqa: F401  (first: Numba picks a cached function's locator as it is decorated)
from . import reference
from .common import ACTIVATIONS, Cache
from .kernels import backward, forward, step

__all__ = ["forward", "backward", "step", "reference", "Cache", "ACTIVATIONS"]
