"""What the two engines (NumPy reference and Numba kernels) share.

Shape letters: B batch, T timesteps, D input features, H units.
Weights use Keras's layout: kernel W (D, 4H), recurrent kernel U (H, 4H),
bias b (4H,), gates in the order i, f, g (the candidate, Keras's "c"), o.
"""
from typing import NamedTuple

import numpy as np

# Activations the fused pointwise pass knows, by code. Each derivative can be
# written from the activation's output y, so backward needs no pre-activations:
#   linear 1, tanh 1 - y^2, sigmoid y (1 - y), hard_sigmoid 1/6 on (0, 1),
#   relu [y > 0].
ACTIVATIONS = {"linear": 0, "tanh": 1, "sigmoid": 2, "hard_sigmoid": 3, "relu": 4}


def activation_code(name):
    """The engine's code for an activation name, with an error that lists the valid ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in ACTIVATIONS)
        raise ValueError(
            f"The LSTM engine has no activation {name!r}. Expected one of: {valid}. "
            f"Received: {name!r}."
        ) from None


class Cache(NamedTuple):
    """What forward keeps for backward; also what a trace of the layer shows.

    Everything is time-major so that one timestep is one contiguous block.
    """

    x: np.ndarray        # (T, B, D) input, as multiplied by W
    W: np.ndarray        # (D, 4H)
    U: np.ndarray        # (H, 4H)
    hs: np.ndarray       # (T+1, B, H) carried h; hs[0] is the initial state
    cs: np.ndarray       # (T+1, B, H) carried c; cs[0] is the initial state
    gates: np.ndarray    # (T, B, 4H) post-activation i, f, g, o
    ac: np.ndarray       # (T, B, H) act(c_t) of the step's new c
    mask: np.ndarray     # (T, B) uint8, 1 = step taken; shape (0, 0) when unmasked
    zero_output: bool    # masked steps output zeros instead of repeating the last output
    act: int             # activation code of g and of c (float32 kernels: 5 = fast tanh)
    ract: int            # activation code of i, f, o (float32 kernels: 6 = fast sigmoid)
    rmask: np.ndarray    # (B, H) recurrent-dropout mask on h_{t-1}; (0, 0) when none
    # One-hot inputs as forward's loops found them, so that backward does not scan x again:
    # ids, vals (T*B,) each row's column and value, a thread's rows b0:b1 at T*b0:T*b1 in
    # the order its loop reads them; onehot (B,) int64 b1 - b0 at b0 when those rows were
    # one-hot, else 0; spans the (b0, b1) of forward's threads, which backward must share to
    # use them. Empty when forward did not keep them (the reference, the unit split).
    ids: np.ndarray = np.zeros(0, np.int64)
    vals: np.ndarray = np.zeros(0)
    onehot: np.ndarray = np.zeros(0, np.int64)
    spans: tuple = ()

    @property
    def shape(self):
        """(T, B, D, H)."""
        T, B, D = self.x.shape
        return T, B, D, self.U.shape[0]


NO_ARRAY = np.zeros((0, 0), dtype=np.uint8)


def as_mask(mask, T, B):
    """A (B, T) boolean mask (or None) as the engine's (T, B) uint8 array."""
    if mask is None:
        return NO_ARRAY
    return np.ascontiguousarray(np.asarray(mask, dtype=bool).T, dtype=np.uint8).reshape(T, B)

