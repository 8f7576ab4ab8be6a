"""The LSTM layer: Keras's arguments, defaults and numbers, on the fused engine.

The layer is the sequence plumbing around the engine: building the weights,
initial and carried state, masks, go_backwards, dropout, and what it returns.
The math itself is `lstmlab.engine`.
"""
from typing import NamedTuple

import numpy as np

from .. import activations, config, engine, initializers
from ..engine.common import activation_code
from ..engine.memory import aligned_empty
from .base import Grads, Layer, as_float_array, check_finite, new_weight


class LSTMState(NamedTuple):
    """The state an LSTM carries from step to step: h (B, H) and c (B, H)."""

    h: np.ndarray
    c: np.ndarray


class _Cache(NamedTuple):
    engine: engine.Cache
    x_shape: tuple          # (B, T, D) as the caller gave it
    input_mask: object      # (B, 1, D) input-dropout mask, or None


class LSTM(Layer):
    """Long Short-Term Memory layer (Hochreiter & Schmidhuber, 1997), as Keras computes it.

    Input (B, T, D). Output (B, T, H) with `return_sequences`, else (B, H),
    the output at the last step; with `return_state`, `[output, h, c]`.
    `units` (H) is the size of h, of c and of each of the four gates.
    """

    weight_names = ("kernel", "recurrent_kernel", "bias")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None,
                 zero_output_for_mask=False, implementation=2, use_cudnn="auto", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"LSTM units must be a positive integer (the size of h, c and each gate). "
                f"Received: units={units!r}."
            )
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"LSTM {arg} must be in [0, 1). Received: {arg}={rate!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        # The fused engine knows a fixed set; say so now rather than at the first call.
        activation_code(self.activation.name)
        activation_code(self.recurrent_activation.name)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        # Accepted for Keras compatibility; the engine computes the same numbers either way.
        self.unroll, self.implementation, self.use_cudnn = unroll, implementation, use_cudnn
        self.seed = seed
        self._rng = config.rng(seed) if seed is not None else None
        self.kernel = self.recurrent_kernel = self.bias = None
        self._states = None

    # -- weights ----------------------------------------------------------
    def build(self, input_shape):
        D, H = int(input_shape[-1]), self.units
        self.kernel = new_weight(self.kernel_initializer, (D, 4 * H), self.dtype, self.name)
        self.recurrent_kernel = new_weight(self.recurrent_initializer, (H, 4 * H), self.dtype, self.name)
        if self.use_bias:
            if self.unit_forget_bias:
                # Keras: the forget slice starts at exactly 1.0 so that, early in
                # training, the cell keeps what it holds (Jozefowicz et al., 2015).
                self.bias = aligned_empty((4 * H,), self.dtype)
                self.bias[...] = np.concatenate([
                    new_weight(self.bias_initializer, (H,), self.dtype, self.name),
                    np.ones((H,), self.dtype),
                    new_weight(self.bias_initializer, (2 * H,), self.dtype, self.name),
                ])
            else:
                self.bias = new_weight(self.bias_initializer, (4 * H,), self.dtype, self.name)
        self.built = True

    @property
    def input_features(self):
        return None if self.kernel is None else self.kernel.shape[0]

    # -- state ------------------------------------------------------------
    @property
    def states(self):
        """The carried [h, c] of a stateful layer (None before its first call)."""
        return None if self._states is None else [s.copy() for s in self._states]

    @states.setter
    def states(self, value):
        if value is None:
            self._states = None
            return
        h, c = (as_float_array(v, self.dtype, self.name) for v in value)
        batch = self._fixed_batch()
        self._check_state([h, c], batch if batch is not None else h.shape[0])
        self._states = [h.copy(), c.copy()]

    def reset_state(self):
        """Zero the carried state of a stateful layer."""
        if self._states is not None:
            for s in self._states:
                s[...] = 0.0

    reset_states = reset_state

    def _fixed_batch(self):
        if self._states is not None:
            return self._states[0].shape[0]
        if self.batch_input_shape is not None:
            return self.batch_input_shape[0]
        return None

    def _check_state(self, state, B):
        if not isinstance(state, (list, tuple)) or len(state) != 2:
            raise ValueError(
                f"Layer '{self.name}': initial_state must be [h, c], two arrays of shape "
                f"(batch, units) = ({B}, {self.units}). Received: {type(state).__name__}"
                f"{'' if not isinstance(state, (list, tuple)) else f' of length {len(state)}'}."
            )
        for name, s in zip("hc", state):
            if np.shape(s) != (B, self.units):
                raise ValueError(
                    f"Layer '{self.name}': initial state {name} must have shape "
                    f"(batch, units) = ({B}, {self.units}). Received shape {np.shape(s)}."
                )

    def _initial_state(self, B, initial_state):
        if initial_state is not None:
            self._check_state(list(initial_state), B)
            h0, c0 = (as_float_array(s, self.dtype, self.name) for s in initial_state)
            check_finite(h0, self.name), check_finite(c0, self.name)
            return h0, c0
        if self.stateful:
            fixed = self._fixed_batch()
            if fixed is not None and fixed != B:
                raise ValueError(
                    f"Layer '{self.name}' is stateful with batch size {fixed}: its state holds "
                    f"{fixed} sequences. Received a batch of {B}. Pass batches of {fixed}, or "
                    f"rebuild the layer for batch size {B} (the state cannot change size)."
                )
            if self._states is None:
                self._states = [np.zeros((B, self.units), self.dtype) for _ in range(2)]
            return self._states[0], self._states[1]
        zeros = np.zeros((B, self.units), self.dtype)
        return zeros, zeros

    # -- calling ----------------------------------------------------------
    def _check_input(self, inputs):
        x = as_float_array(inputs, self.dtype, self.name)
        if x.ndim != 3:
            hint = ""
            if x.ndim == 2:
                hint = (f" If each row is one sequence of {x.shape[1]} steps with one feature: "
                        f"x.reshape({x.shape[0]}, {x.shape[1]}, 1); if each row is one step "
                        f"with {x.shape[1]} features: x.reshape({x.shape[0]}, 1, {x.shape[1]}).")
            elif x.ndim == 1:
                hint = f" One series of {x.shape[0]} steps: x.reshape(1, {x.shape[0]}, 1)."
            raise ValueError(
                f"Layer '{self.name}' (LSTM) expects input of shape (batch, timesteps, features). "
                f"Received an array of shape {x.shape}.{hint}"
            )
        if self.built and x.shape[2] != self.input_features:
            raise ValueError(
                f"Layer '{self.name}' was built for {self.input_features} features per timestep: "
                f"input of shape (batch, timesteps, {self.input_features}). Received an array of "
                f"shape {x.shape} ({x.shape[2]} features)."
            )
        if x.shape[1] == 0:
            raise ValueError(f"Layer '{self.name}' received a sequence of 0 timesteps: {x.shape}.")
        check_finite(x, self.name)
        return x

    def _check_mask(self, mask, B, T):
        if mask is None:
            return None
        m = np.asarray(mask)
        if m.ndim == 3 and m.shape[2] == 1:
            m = m[:, :, 0]
        if m.shape != (B, T):
            raise ValueError(
                f"Layer '{self.name}': mask must have shape (batch, timesteps) = ({B}, {T}), "
                f"True where a step is taken. Received shape {m.shape}."
            )
        return m.astype(bool)

    def forward(self, x, initial_state=None, mask=None, training=False):
        """x (B, T, D) -> (output, cache); output as `__call__` returns it."""
        x = self._check_input(x)
        if not self.built:
            self.build(x.shape)
        B, T, D = x.shape
        h0, c0 = self._initial_state(B, initial_state)
        mask = self._check_mask(mask, B, T)
        if self.go_backwards:
            # Keras reverses the input (and its mask) and does not flip the outputs back.
            x = x[:, ::-1]
            mask = None if mask is None else mask[:, ::-1]
        rng = self._rng if self._rng is not None else config.rng()
        # One dropout mask per sequence, the same at every step (Gal & Ghahramani, 2016).
        input_mask = rmask = None
        if training and self.dropout > 0:
            keep = 1.0 - self.dropout
            input_mask = ((rng.random((B, 1, D)) < keep) / keep).astype(self.dtype)
            x = x * input_mask
        if training and self.recurrent_dropout > 0:
            keep = 1.0 - self.recurrent_dropout
            rmask = ((rng.random((B, self.units)) < keep) / keep).astype(self.dtype)
        out, h, c, cache = engine.forward(
            x, self.kernel, self.recurrent_kernel, self.bias_or_zeros(), h0, c0, mask=mask,
            zero_output=self.zero_output_for_mask, activation=self.activation.name,
            recurrent_activation=self.recurrent_activation.name, rmask=rmask)
        if self.stateful:
            self._states = [h.copy(), c.copy()]
        y = out if self.return_sequences else out[:, -1]
        y = np.ascontiguousarray(y)
        result = [y, h, c] if self.return_state else y
        return result, _Cache(cache, (B, T, D), input_mask)

    def backward(self, dy, cache, inputs=True):
        """dy (output's gradient; [dy, dh, dc] with return_state) -> Grads.

        `inputs=False` skips the input's gradient (Grads.inputs is None): a
        model's first layer has nothing below it to pass it to.

        A stateful layer's carried state is a constant here: gradients stop at
        the batch boundary (truncated backpropagation through time), as in Keras.
        """
        B, T, D = cache.x_shape
        H = self.units
        dt = np.dtype(self.dtype)
        dh = dc = None
        if self.return_state:
            dy, dh, dc = dy
        # The engine works time-major: a (T, B, H) array passed as its (B, T, H)
        # transpose reaches it without another copy.
        dh = np.zeros((B, H), dt) if dh is None else dh
        dc = np.zeros((B, H), dt) if dc is None else dc
        dout = None                                   # no gradient on the outputs but through h_T
        if dy is not None and self.return_sequences:
            dout = np.broadcast_to(dy, (B, T, H))     # checked here; the engine copies it
        elif dy is not None and cache.engine.mask.size == 0:
            dh = dh + np.broadcast_to(dy, (B, H))     # unmasked, the last output is h_T itself
        elif dy is not None:                          # masked, it may repeat an earlier output
            dout_tm = np.zeros((T, B, H), dt)
            dout_tm[T - 1] = dy
            dout = dout_tm.transpose(1, 0, 2)
        dx, dW, dU, db, dh0, dc0 = engine.backward(dout, dh, dc, cache.engine, inputs)
        dweights = [dW, dU, db] if self.use_bias else [dW, dU]
        if dx is None:
            return Grads(None, dweights, [dh0, dc0])
        if cache.input_mask is not None:
            dx = dx * cache.input_mask
        if self.go_backwards:
            dx = dx[:, ::-1]
        return Grads(np.ascontiguousarray(dx), dweights, [dh0, dc0])

    def bias_or_zeros(self):
        """The bias (4H,) the cell adds: the layer's own array, or zeros when use_bias is False."""
        return self.bias if self.use_bias else np.zeros(4 * self.units, self.dtype)

    def compute_output_shape(self, input_shape):
        B, T = input_shape[0], input_shape[1]
        out = (B, T, self.units) if self.return_sequences else (B, self.units)
        if self.return_state:
            return [out, (B, self.units), (B, self.units)]
        return out

    def compute_mask(self, inputs, mask):
        return mask if self.return_sequences else None

    # -- config -----------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "seed": self.seed,
        }
