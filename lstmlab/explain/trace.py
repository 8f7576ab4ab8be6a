"""trace(model, x): every gate, c and h of every LSTM at every timestep.

The numbers are the ones the engine keeps for the backward pass (the Cache's
`gates`, `hs` and `cs`), turned batch-major: training and explaining read the
same arrays, there is no second implementation to disagree with.

Time runs in the order the layer processed it. For `go_backwards=True` that
is the caller's sequence reversed (step 0 read x[:, T-1]); `time` maps each
processed step back to the caller's index. This is also the order in which
Keras returns such a layer's sequence output.
"""
from dataclasses import dataclass

import numpy as np

from ..layers import LSTM

__all__ = ["LayerTrace", "Trace", "trace"]


@dataclass(frozen=True)
class LayerTrace:
    """One LSTM layer over one batch. Shape letters: B batch, T timesteps, D features, H units."""

    name: str
    x: np.ndarray        # (B, T, D) the layer's input, in processing order
    i: np.ndarray        # (B, T, H) input gate, after its activation
    f: np.ndarray        # (B, T, H) forget gate
    g: np.ndarray        # (B, T, H) candidate (Keras calls it the "c" gate)
    o: np.ndarray        # (B, T, H) output gate
    c: np.ndarray        # (B, T, H) cell state after each step
    h: np.ndarray        # (B, T, H) hidden state (the output) after each step
    c0: np.ndarray       # (B, H) the initial cell state
    h0: np.ndarray       # (B, H) the initial hidden state
    time: np.ndarray     # (T,) caller's timestep index of each processed step
    go_backwards: bool
    mask: object         # (B, T) bool in processing order, True = step taken; None when unmasked

    @property
    def units(self):
        return self.h.shape[2]

    @property
    def c_prev(self):
        """(B, T, H) the cell state each step started from: c_{t-1}."""
        return np.concatenate([self.c0[:, None], self.c[:, :-1]], axis=1)

    @property
    def h_prev(self):
        """(B, T, H) the hidden state each step started from: h_{t-1}."""
        return np.concatenate([self.h0[:, None], self.h[:, :-1]], axis=1)

    @property
    def gates(self):
        """{'i': ..., 'f': ..., 'g': ..., 'o': ...}, each (B, T, H)."""
        return {"i": self.i, "f": self.f, "g": self.g, "o": self.o}


class Trace(list):
    """A list of LayerTrace, one per LSTM layer bottom to top; `.output` is the model's output."""

    output = None


def _from_cache(layer, cache):
    """An LSTM layer's `_Cache` (engine Cache + plumbing) -> LayerTrace."""
    e = cache.engine
    T, B, D, H = e.shape
    gates = e.gates.transpose(1, 0, 2)                        # (B, T, 4H)
    i, f, g, o = (np.ascontiguousarray(gates[:, :, k * H:(k + 1) * H]) for k in range(4))
    hs, cs = e.hs.transpose(1, 0, 2), e.cs.transpose(1, 0, 2)  # (B, T+1, H)
    time = np.arange(T)[::-1].copy() if layer.go_backwards else np.arange(T)
    mask = e.mask.T.astype(bool) if e.mask.size else None       # engine keeps (T, B)
    return LayerTrace(
        name=layer.name, x=e.x.transpose(1, 0, 2).copy(), i=i, f=f, g=g, o=o,
        c=cs[:, 1:].copy(), h=hs[:, 1:].copy(), c0=cs[:, 0].copy(), h0=hs[:, 0].copy(),
        time=time, go_backwards=layer.go_backwards, mask=mask)


def trace(model, x, initial_states=None):
    """Run `model` (a Sequential, or one LSTM layer) on x at inference; one LayerTrace per LSTM.

    The last LayerTrace's `h[:, -1]` is what the top LSTM hands to the layers
    above it (without return_sequences). A stateful model's state moves, as
    it would under `predict`.
    """
    if isinstance(model, LSTM):
        state = None if initial_states is None else initial_states[0]
        y, cache = model.forward(np.asarray(x), initial_state=state, training=False)
        out = Trace([_from_cache(model, cache)])
        out.output = y
        return out
    if not hasattr(model, "forward") or not hasattr(model, "layers"):
        raise TypeError(
            f"trace expects a Sequential model or an LSTM layer. Received {type(model).__name__}."
        )
    y, caches = model.forward(np.asarray(x), training=False, initial_states=initial_states)
    out = Trace(_from_cache(layer, cache) for layer, cache in zip(model.layers, caches)
                if isinstance(layer, LSTM))
    if not out:
        raise ValueError(f"Model '{model.name}' has no LSTM layer: there is nothing to trace.")
    out.output = y
    return out
