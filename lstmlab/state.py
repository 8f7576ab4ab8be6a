"""State as a value: streaming a model one timestep at a time.

A `Stream` holds one `LSTMState(h, c)` per LSTM layer and advances them by one
step per call, O(1) work per step whatever came before, with the engine's
single-step kernel. Its output at each step is what `predict` gives on the
whole prefix up to that step: the LSTM carries everything it knows about the
past in h and c, and nothing else.
"""
import numpy as np

from . import engine
from .layers import LSTM, Dense, Dropout, Embedding, LSTMState

__all__ = ["LSTMState", "Stream"]


class Stream:
    """Step a Sequential model through time: `stream.step(x_t)` -> the model's output at t.

    x_t is one timestep: (B, features), or (B,) integer ids for a model that
    starts with an Embedding. Every LSTM keeps its (h, c) between calls.
    """

    def __init__(self, model, batch_size=1, states=None):
        self.model = model
        self.batch_size = int(batch_size)
        self._plan = []                # (kind, layer) in order
        for layer in model.layers:
            if isinstance(layer, LSTM):
                if layer.go_backwards:
                    raise ValueError(
                        f"Layer '{layer.name}' reads its sequence backwards (go_backwards=True): "
                        f"its output at step t depends on steps after t, so it cannot be streamed."
                    )
                self._plan.append(("lstm", layer))
            elif isinstance(layer, Dense):
                self._plan.append(("dense", layer))
            elif isinstance(layer, Embedding):
                self._plan.append(("embedding", layer))
            elif isinstance(layer, Dropout):
                continue               # identity at inference
            else:
                raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) cannot be streamed.")
        if not any(kind == "lstm" for kind, _ in self._plan):
            raise ValueError("This model has no LSTM layer: there is no state to stream.")
        if not model.built:
            raise ValueError("Build the model (fit, predict or give it an input shape) before streaming it.")
        self.reset()
        if states is not None:
            self.state = states

    @property
    def lstm_layers(self):
        return [layer for kind, layer in self._plan if kind == "lstm"]

    def reset(self):
        """Every LSTM back to the zero state."""
        B = self.batch_size
        self._h = [np.zeros((B, layer.units), layer.dtype) for layer in self.lstm_layers]
        self._c = [np.zeros((B, layer.units), layer.dtype) for layer in self.lstm_layers]

    @property
    def state(self):
        """One LSTMState(h (B, H), c (B, H)) per LSTM layer, as copies."""
        return [LSTMState(h.copy(), c.copy()) for h, c in zip(self._h, self._c)]

    @state.setter
    def state(self, states):
        states = list(states)
        if len(states) != len(self._h):
            raise ValueError(
                f"The model has {len(self._h)} LSTM layer(s); expected one (h, c) each. "
                f"Received {len(states)}."
            )
        for k, (layer, s) in enumerate(zip(self.lstm_layers, states)):
            h, c = (np.asarray(a, dtype=layer.dtype) for a in s)
            want = (self.batch_size, layer.units)
            if h.shape != want or c.shape != want:
                raise ValueError(
                    f"State {k} (layer '{layer.name}') must be h and c of shape {want}. "
                    f"Received {h.shape} and {c.shape}."
                )
            self._h[k], self._c[k] = h.copy(), c.copy()

    def _input(self, x_t):
        x = np.asarray(x_t)
        first = self._plan[0][0]
        if first == "embedding":
            x = x.reshape(self.batch_size)
        else:
            D = self.lstm_layers[0].input_features if first == "lstm" else self._plan[0][1].kernel.shape[0]
            if x.ndim == 1 and self.batch_size == 1 and x.shape[0] == D:
                x = x[None]
            if x.shape != (self.batch_size, D):
                raise ValueError(
                    f"stream.step takes one timestep of shape (batch, features) = "
                    f"({self.batch_size}, {D}). Received shape {x.shape}."
                )
        return x

    def step(self, x_t):
        """x_t (B, features) -> the model's output for this step, (B, outputs)."""
        y = self._input(x_t)
        k = 0
        for kind, layer in self._plan:
            if kind == "lstm":
                b = layer.bias if layer.use_bias else np.zeros(4 * layer.units, layer.dtype)
                self._h[k], self._c[k] = engine.step(
                    np.asarray(y, layer.dtype), layer.kernel, layer.recurrent_kernel, b,
                    self._h[k], self._c[k], layer.activation.name, layer.recurrent_activation.name)
                y = self._h[k]
                k += 1
            elif kind == "dense":
                y = layer.forward(y)[0]
            else:
                y = layer.forward(y)[0]
        return y.copy() if y is self._h[k - 1] else y

    def feed(self, sequence):
        """sequence (B, T, features) -> outputs at every step (B, T, outputs); the state moves T steps.

        Runs each LSTM over the whole sequence with the fused engine, which is
        what stepping T times computes, faster.
        """
        y = np.asarray(sequence)
        if y.ndim < 2 or y.shape[0] != self.batch_size:
            raise ValueError(
                f"stream.feed takes a sequence of shape (batch, timesteps, features) with batch "
                f"{self.batch_size}. Received shape {y.shape}."
            )
        k = 0
        for kind, layer in self._plan:
            if kind == "lstm":
                x = layer._check_input(y)
                b = layer.bias if layer.use_bias else np.zeros(4 * layer.units, layer.dtype)
                y, self._h[k], self._c[k], _ = engine.forward(
                    x, layer.kernel, layer.recurrent_kernel, b, self._h[k], self._c[k],
                    activation=layer.activation.name,
                    recurrent_activation=layer.recurrent_activation.name)
                self._h[k], self._c[k] = self._h[k].copy(), self._c[k].copy()
                k += 1
            else:
                y = layer.forward(y)[0]
        return y
