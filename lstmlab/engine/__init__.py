"""The LSTM math and nothing else: Numba kernels and their NumPy twin.

`forward`, `backward` and `step` are the compiled kernels; `reference` holds
the same three functions in plain NumPy. Nothing here imports the rest of
lstmlab.
"""
import os

# Numba's threads (OpenMP here) otherwise spin after each parallel region and
# take the cores from NumPy's BLAS that runs next. Set before the OpenMP
# runtime starts; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import reference  # noqa: E402
from .common import ACTIVATIONS, Cache  # noqa: E402
from .kernels import backward, forward, step  # noqa: E402

__all__ = ["forward", "backward", "step", "reference", "Cache", "ACTIVATIONS"]
