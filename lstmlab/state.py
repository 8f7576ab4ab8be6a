"""State as a value: streaming a model one timestep at a time.

A `Stream` holds one `LSTMState(h, c)` per LSTM layer and advances them by one
step per call, O(1) work per step whatever came before, with the engine's
single-step kernel. Its output at each step is what `predict` gives on the
whole prefix up to that step: the LSTM carries everything it knows about the
past in h and c, and nothing else.
"""
import numpy as np
from numba import njit

from . import engine
from .engine.blas import dot
from .engine.kernels import codes, step_into, step_scratch
from .layers import LSTM, Dense, Dropout, Embedding, LSTMState

__all__ = ["LSTMState", "Stream"]

# Dense activations the compiled head knows; others run through the layer.
_DENSE_CODES = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3, "softmax": 4}


@njit(cache=True, error_model="numpy")
def _dense_into(x, W, b, code, out):
    """out (B, U) = act(x (B, D) W (D, U) + b), for one timestep: no temporaries."""
    dot(x, W, out)
    for r in range(out.shape[0]):
        row = out[r]
        for k in range(row.shape[0]):
            row[k] += b[k]
        if code == 1:
            for k in range(row.shape[0]):
                row[k] = max(row[k], 0.0)
        elif code == 2:
            for k in range(row.shape[0]):
                row[k] = 1.0 / (1.0 + np.exp(-row[k]))
        elif code == 3:
            for k in range(row.shape[0]):
                row[k] = np.tanh(row[k])
        elif code == 4:                       # softmax, shifted by the max so exp cannot overflow
            top = row.max()
            total = 0.0
            for k in range(row.shape[0]):
                row[k] = np.exp(row[k] - top)
                total += row[k]
            for k in range(row.shape[0]):
                row[k] /= total


class _LSTMStep:
    """One LSTM layer's step with everything bound: weights, codes, scratch, (h, c).

    The step reads (h, c) from one pair of arrays and writes the other; the pairs
    then trade places. The compiled step's arguments are bound once for each
    order, so a step passes x and one ready tuple: every attribute read between
    two steps costs time that the step itself, a few microseconds, notices. The
    weights are the layer's own arrays, which training and set_weights change in
    place, so the stream always steps with the current weights.
    """

    def __init__(self, layer, B):
        H = layer.units
        self.layer = layer
        self.b = layer.bias_or_zeros()
        self.codes = codes(layer.activation.name, layer.recurrent_activation.name, layer.dtype)
        self.scratch = step_scratch(B, H, layer.dtype)   # z, then hU (P, B, 4H)
        self.z, self.hU = self.scratch[0], self.scratch[1:]
        self.states = np.zeros((2, 2, B, H), layer.dtype)   # two (h, c) pairs
        self._pairs = [(self.states[k, 0], self.states[k, 1]) for k in range(2)]
        self._now = 0                                   # self._pairs[self._now] holds (h, c)
        self._args = [self._bind(now) for now in range(2)]

    def _bind(self, now):
        """The compiled step's arguments after x when (h, c) is self._pairs[now]."""
        layer = self.layer
        (h, c), (h_out, c_out) = self._pairs[now], self._pairs[1 - now]
        return (layer.kernel, layer.recurrent_kernel, self.b, h, c, *self.codes, self.z, self.hU, h_out, c_out)

    @property
    def h(self):
        """The state's h (B, H): the array itself, to read or set in place."""
        return self._pairs[self._now][0]

    @property
    def c(self):
        return self._pairs[self._now][1]

    def __call__(self, x):
        step_into(x, *self._args[self._now])
        self._now = 1 - self._now
        return self._pairs[self._now][0]


class _DenseStep:
    def __init__(self, layer, B):
        self.layer = layer
        self.code = _DENSE_CODES.get(layer.activation.name)
        self.b = layer.bias_or_zeros()
        self.out = np.empty((B, layer.units), layer.dtype)

    def compiled_for(self, dtype):
        """True when `_dense_into` computes this layer on inputs of `dtype`."""
        return self.code is not None and np.dtype(dtype) == self.out.dtype

    def __call__(self, x):
        if not self.compiled_for(x.dtype):
            return self.layer.forward(x)[0]
        _dense_into(x, self.layer.kernel, self.b, self.code, self.out)
        return self.out


@njit(cache=True, error_model="numpy")
def _lstm_dense_into(x, W, U, b, states, now, act, ract, scratch, Wd, bd, code, out):
    """`step_into` then `_dense_into` on its new h (B, H) into out (B, units): the same
    compiled code as the two calls, one call from Python instead of two.

    states (2, 2, B, H): (h, c) is states[now] and the step writes states[1 - now];
    scratch (1 + P, B, 4H) is step_into's z and then its hU. Packed so, they are
    2 arguments instead of 6, each of which costs a call from Python time.
    """
    hc, hc_out = states[now], states[1 - now]
    step_into(x, W, U, b, hc[0], hc[1], act, ract, scratch[0], scratch[1:], hc_out[0], hc_out[1])
    _dense_into(hc_out[0], Wd, bd, code, out)


class _LSTMDenseStep(_LSTMStep):
    """An LSTM step and the Dense layer after it as one step: a character model's
    LSTM and head. Calling compiled code from Python costs about 0.1 µs an argument
    and 0.4 µs a call; one call instead of two saves 2-3 µs a step (8% of a
    step at H=256, measured on a 2-core Zen 3 VM)."""

    def __init__(self, layer, head, B):
        self.head = head                                # a _DenseStep that `compiled_for` layer.dtype
        super().__init__(layer, B)

    def _bind(self, now):
        layer, head = self.layer, self.head
        return (layer.kernel, layer.recurrent_kernel, self.b, self.states, now, *self.codes, self.scratch,
                head.layer.kernel, head.b, head.code, head.out)

    def __call__(self, x):
        _lstm_dense_into(x, *self._args[self._now])
        self._now = 1 - self._now
        return self.head.out


def _fuse(steps):
    """steps with each _LSTMStep that a compiled _DenseStep follows made one _LSTMDenseStep."""
    fused = []
    for s in steps:
        prev = fused[-1] if fused else None
        if type(prev) is _LSTMStep and isinstance(s, _DenseStep) and s.compiled_for(prev.layer.dtype):
            fused[-1] = _LSTMDenseStep(prev.layer, s, prev.h.shape[0])
        else:
            fused.append(s)
    return fused


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
        B = self.batch_size
        self._steps = [_LSTMStep(layer, B) if kind == "lstm" else
                       _DenseStep(layer, B) if kind == "dense" else
                       (lambda ids, layer=layer: layer.forward(ids)[0])
                       for kind, layer in self._plan]
        self._steps = _fuse(self._steps)
        self._lstm_steps = [s for s in self._steps if isinstance(s, _LSTMStep)]
        first = self._plan[0]
        self._first_is_ids = first[0] == "embedding"
        self._D = None if self._first_is_ids else (
            first[1].input_features if first[0] == "lstm" else first[1].kernel.shape[0])
        self._dtype = np.dtype(first[1].dtype)
        self._shape = (self.batch_size, self._D)       # one timestep's input
        if states is not None:
            self.state = states

    @property
    def lstm_layers(self):
        return [layer for kind, layer in self._plan if kind == "lstm"]

    def reset(self):
        """Every LSTM back to the zero state."""
        for st in self._lstm_steps:
            st.h[...] = 0.0
            st.c[...] = 0.0

    @property
    def state(self):
        """One LSTMState(h (B, H), c (B, H)) per LSTM layer, as copies."""
        return [LSTMState(st.h.copy(), st.c.copy()) for st in self._lstm_steps]

    @state.setter
    def state(self, states):
        states = list(states)
        if len(states) != len(self._lstm_steps):
            raise ValueError(
                f"The model has {len(self._lstm_steps)} LSTM layer(s); expected one (h, c) each. "
                f"Received {len(states)}."
            )
        for k, (st, s) in enumerate(zip(self._lstm_steps, states)):
            h, c = (np.asarray(a, dtype=st.layer.dtype) for a in s)
            want = st.h.shape
            if h.shape != want or c.shape != want:
                raise ValueError(
                    f"State {k} (layer '{st.layer.name}') must be h and c of shape {want}. "
                    f"Received {h.shape} and {c.shape}."
                )
            st.h[...], st.c[...] = h, c

    def _input(self, x_t):
        """x_t as the first step takes it: (B,) ids, or (B, features) C-contiguous, the model's dtype."""
        if self._first_is_ids:
            return np.asarray(x_t).reshape(self.batch_size)
        x = x_t if type(x_t) is np.ndarray and x_t.dtype == self._dtype else np.asarray(x_t, self._dtype)
        if x.shape != self._shape:
            if not (x.ndim == 1 and self.batch_size == 1 and x.shape[0] == self._D):
                raise ValueError(
                    f"stream.step takes one timestep of shape (batch, features) = "
                    f"({self.batch_size}, {self._D}). Received shape {x.shape}."
                )
            x = x.reshape(self._shape)
        return np.ascontiguousarray(x)

    def step(self, x_t):
        """x_t (B, features) -> the model's output for this step, (B, outputs).

        O(1) work whatever came before: each LSTM advances its (h, c) by one step.
        """
        y = x_t
        if not (type(y) is np.ndarray and y.dtype is self._dtype and y.shape == self._shape
                and y.flags.c_contiguous):              # the usual timestep passes these few reads
            y = self._input(y)
        for st in self._steps:
            y = st(y)
        return y.copy()

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
        lstm_steps = iter(self._lstm_steps)
        for kind, layer in self._plan:
            if kind == "lstm":
                st = next(lstm_steps)
                x = layer._check_input(y)
                y, h, c, _ = engine.forward(
                    x, layer.kernel, layer.recurrent_kernel, st.b, st.h, st.c,
                    activation=layer.activation.name,
                    recurrent_activation=layer.recurrent_activation.name)
                st.h[...], st.c[...] = h, c
            else:
                y = layer.forward(y)[0]
        return y
