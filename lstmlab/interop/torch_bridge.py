"""PyTorch both ways: `to_torch(model)` -> a torch.nn.Module computing the same function;
`from_torch(lstm, linear)` -> an lstmlab Sequential from an nn.LSTM (+ nn.Linear head).

The layouts, Keras's (lstmlab's) beside PyTorch's:

    Keras   kernel (D, 4H)   recurrent_kernel (H, 4H)   bias (4H,)          gates i, f, c, o
    torch   weight_ih (4H, D)  weight_hh (4H, H)        bias_ih + bias_hh   gates i, f, g, o

The gate order is the same, so the mapping is a transpose and, from PyTorch, the sum
of the two biases (to PyTorch: bias_ih = bias, bias_hh = 0). A stacked nn.LSTM
(num_layers = L) is L LSTM layers, all but the last returning sequences; its
inter-layer dropout becomes Dropout layers between them (the same function at
inference, the same kind of noise in training).

torch is imported only when these functions run (the 'torch' extra); the module
classes are defined on first use.
"""
import warnings

import numpy as np

from ..layers import LSTM, Dense, Dropout, Embedding
from ._extras import require

_CLASSES = None


def _classes():
    """The nn.Module classes, defined once torch is imported."""
    global _CLASSES
    if _CLASSES is not None:
        return _CLASSES
    torch = require("torch")
    nn = torch.nn
    F = nn.functional

    class KerasLSTM(nn.Module):
        """An nn.LSTM with Keras's semantics: batch first, go_backwards, return_sequences."""

        def __init__(self, input_size, units, use_bias=True, return_sequences=False,
                     go_backwards=False):
            super().__init__()
            self.lstm = nn.LSTM(input_size, units, batch_first=True, bias=use_bias)
            self.return_sequences = return_sequences
            self.go_backwards = go_backwards

        def forward(self, x, state=None):
            """x (B, T, D), state (h, c) each (B, H) or None -> (y, (h, c)) with h, c (B, H)."""
            if self.go_backwards:
                # Keras reverses the input and does not flip the outputs back.
                x = torch.flip(x, dims=[1])
            if state is not None:
                state = (state[0].unsqueeze(0), state[1].unsqueeze(0))
            out, (h, c) = self.lstm(x, state)
            y = out if self.return_sequences else out[:, -1]
            return y, (h[0], c[0])

        def extra_repr(self):
            return f"return_sequences={self.return_sequences}, go_backwards={self.go_backwards}"

    class KerasDense(nn.Module):
        """nn.Linear followed by Keras's activation."""

        def __init__(self, in_features, units, use_bias=True, activation="linear"):
            super().__init__()
            self.linear = nn.Linear(in_features, units, bias=use_bias)
            self.activation = activation

        def forward(self, x):
            z = self.linear(x)
            a = self.activation
            if a == "linear":
                return z
            if a == "relu":
                return F.relu(z)
            if a == "sigmoid":
                return torch.sigmoid(z)
            if a == "tanh":
                return torch.tanh(z)
            if a == "softmax":
                return torch.softmax(z, dim=-1)
            if a == "hard_sigmoid":          # Keras 3's: relu6(x + 3) / 6
                return F.hardsigmoid(z)
            raise ValueError(f"Unknown activation {a!r}.")

        def extra_repr(self):
            return f"activation={self.activation!r}"

    class LSTMLabModule(nn.Module):
        """The lstmlab Sequential model as a torch module: `module(x)` -> the model's output.

        `module(x, states=[(h, c) or None per LSTM], return_states=True)` also starts from
        and returns each LSTM's state, as lstmlab's `predict(..., initial_state=...,
        return_state=True)` does.
        """

        def __init__(self, blocks):
            super().__init__()
            self.blocks = nn.ModuleList(blocks)

        def forward(self, x, states=None, return_states=False):
            x = torch.as_tensor(x)
            p = next(self.parameters(), None)
            dtype = torch.float32 if p is None else p.dtype
            if torch.is_floating_point(x) and x.dtype != dtype:
                x = x.to(dtype)             # float64 data into a float32 model, as lstmlab casts
            final, k = [], 0
            for block in self.blocks:
                if isinstance(block, KerasLSTM):
                    s = None if states is None else states[k]
                    x, hc = block(x, s)
                    final.append(hc)
                    k += 1
                elif isinstance(block, nn.Embedding):
                    x = block(x.long())
                else:
                    x = block(x)
            return (x, final) if return_states else x

    _CLASSES = {"KerasLSTM": KerasLSTM, "KerasDense": KerasDense, "LSTMLabModule": LSTMLabModule}
    return _CLASSES


def _lstm_activations_ok(layer):
    if layer.activation.name != "tanh" or layer.recurrent_activation.name != "sigmoid":
        raise ValueError(
            f"Layer '{layer.name}' uses activation={layer.activation.name!r}, "
            f"recurrent_activation={layer.recurrent_activation.name!r}: torch.nn.LSTM computes "
            f"only tanh and sigmoid. to_torch supports LSTMs with the default activations.")


def to_torch(model):
    """A `torch.nn.Module` (in eval mode) computing `model`'s function: input (B, T, D)
    (or (B, T) integer ids with an Embedding first), output as `model.predict` gives it."""
    torch = require("torch")
    classes = _classes()
    if not model.built:
        raise ValueError("The model has no weights yet: build it (or fit/predict once) before to_torch.")
    dtype = torch.float64 if any(np.dtype(l.dtype) == np.float64 for l in model.layers) else torch.float32
    blocks, masked = [], False

    def t(a):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)

    for layer in model.layers:
        if isinstance(layer, LSTM):
            _lstm_activations_ok(layer)
            if masked:
                raise ValueError(
                    f"Layer '{layer.name}' receives a mask (Embedding(mask_zero=True)): torch.nn.LSTM "
                    f"has no per-step masks, so to_torch does not support masking.")
            if layer.dropout or layer.recurrent_dropout:
                warnings.warn(
                    f"Layer '{layer.name}': dropout/recurrent_dropout are not carried to PyTorch "
                    f"(nn.LSTM has no per-sequence dropout masks); the module computes the same "
                    f"function at inference, but trains without that dropout.", stacklevel=2)
            D, H = layer.kernel.shape[0], layer.units
            block = classes["KerasLSTM"](D, H, layer.use_bias, layer.return_sequences,
                                         layer.go_backwards).to(dtype)
            with torch.no_grad():
                block.lstm.weight_ih_l0.copy_(t(layer.kernel.T))               # (4H, D)
                block.lstm.weight_hh_l0.copy_(t(layer.recurrent_kernel.T))     # (4H, H)
                if layer.use_bias:
                    block.lstm.bias_ih_l0.copy_(t(layer.bias))                 # (4H,)
                    block.lstm.bias_hh_l0.zero_()
            blocks.append(block)
        elif isinstance(layer, Dense):
            D, U = layer.kernel.shape
            block = classes["KerasDense"](D, U, layer.use_bias, layer.activation.name).to(dtype)
            if layer.activation.name not in ("linear", "relu", "sigmoid", "tanh", "softmax", "hard_sigmoid"):
                raise ValueError(f"Layer '{layer.name}': activation {layer.activation.name!r} has no "
                                 f"PyTorch equivalent in to_torch.")
            with torch.no_grad():
                block.linear.weight.copy_(t(layer.kernel.T))                   # (U, D)
                if layer.use_bias:
                    block.linear.bias.copy_(t(layer.bias))
            blocks.append(block)
        elif isinstance(layer, Dropout):
            blocks.append(torch.nn.Dropout(layer.rate))
        elif isinstance(layer, Embedding):
            block = torch.nn.Embedding(layer.input_dim, layer.output_dim).to(dtype)
            with torch.no_grad():
                block.weight.copy_(t(layer.embeddings))
            blocks.append(block)
            masked = layer.mask_zero
        else:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) has no PyTorch mapping.")
    module = classes["LSTMLabModule"](blocks).to(dtype)
    return module.eval()


# -- from PyTorch ---------------------------------------------------------------
def _numpy(v):
    if isinstance(v, np.ndarray):
        return v
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    return np.asarray(v)


def _strip_prefix(state, marker):
    """{'lstm.weight_ih_l0': ...} -> {'weight_ih_l0': ...}: the common prefix before `marker`."""
    keys = [k for k in state if k.endswith(marker)]
    if len(keys) != 1:
        raise ValueError(
            f"Expected one key ending in {marker!r} in the state dict; found {len(keys)}: {keys}. "
            f"Pass the nn.LSTM's own state dict (lstm.state_dict()).")
    prefix = keys[0][: -len(marker)]
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def from_torch(lstm, linear=None, *, return_sequences=False, activation=None, dtype=None,
               input_shape=None):
    """An lstmlab Sequential from a PyTorch LSTM and an optional Linear head.

    lstm: an `nn.LSTM` (any `num_layers`, `batch_first` either way, `bias` or not; not
        bidirectional, no `proj_size`), or its state dict (`weight_ih_l0`, `weight_hh_l0`,
        `bias_ih_l0`, `bias_hh_l0`, ... for each layer, optionally with a common prefix).
    linear: an `nn.Linear` or its state dict (`weight` (U, H), `bias` (U,)), applied to the
        last step's output (or every step's with `return_sequences=True`), followed by
        `activation` (Keras's names: None/'linear', 'softmax', 'sigmoid', ...).

    The model takes (batch, timesteps, features), as Keras does; an nn.LSTM with
    batch_first=False takes (timesteps, batch, features): transpose the data, not the weights.
    `input_shape` = (timesteps, features) fixes the model's input shape (timesteps may be None).
    """
    from ..models.sequential import Sequential

    dropout = 0.0
    if isinstance(lstm, dict) or hasattr(lstm, "keys"):
        state = _strip_prefix(dict(lstm), "weight_ih_l0")
    else:
        torch = require("torch")
        if not isinstance(lstm, torch.nn.LSTM):
            raise TypeError(f"from_torch expects an nn.LSTM or its state dict. Received: "
                            f"{type(lstm).__name__}.")
        if lstm.bidirectional:
            raise ValueError("from_torch: bidirectional nn.LSTM is not supported (lstmlab has no "
                             "Bidirectional layer yet).")
        if getattr(lstm, "proj_size", 0):
            raise ValueError(f"from_torch: nn.LSTM with proj_size={lstm.proj_size} is not supported "
                             f"(Keras's LSTM has no projection).")
        dropout = float(lstm.dropout)
        state = dict(lstm.state_dict())
    state = {k: _numpy(v) for k, v in state.items()}
    if any(k.endswith("_reverse") for k in state):
        raise ValueError("from_torch: the state dict is of a bidirectional LSTM (keys *_reverse): "
                         "not supported.")
    if any(k.startswith("weight_hr_l") for k in state):
        raise ValueError("from_torch: the state dict has weight_hr_l* (proj_size > 0): not supported.")
    num_layers = 0
    while f"weight_ih_l{num_layers}" in state:
        num_layers += 1
    unknown = set(state) - {f"{w}_l{k}" for k in range(num_layers)
                            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    if unknown:
        raise ValueError(f"from_torch: unexpected keys in the LSTM state dict: {sorted(unknown)}.")

    weights, layers = [], []
    if dtype is None:
        dtype = "float64" if state["weight_ih_l0"].dtype == np.float64 else "float32"
    D = state["weight_ih_l0"].shape[1]
    for k in range(num_layers):
        W, U = state[f"weight_ih_l{k}"], state[f"weight_hh_l{k}"]      # (4H, D), (4H, H)
        H = U.shape[1]
        if W.shape[0] != 4 * H or U.shape != (4 * H, H):
            raise ValueError(f"from_torch: layer {k}: weight_ih {W.shape} / weight_hh {U.shape} are "
                             f"not (4H, D) / (4H, H).")
        has_bias = f"bias_ih_l{k}" in state
        if has_bias != (f"bias_hh_l{k}" in state):
            raise ValueError(f"from_torch: layer {k} has only one of bias_ih_l{k} and bias_hh_l{k}.")
        last = k == num_layers - 1
        kw = {"input_shape": tuple(input_shape) if input_shape is not None else (None, D)} if k == 0 else {}
        layers.append(LSTM(H, use_bias=has_bias, return_sequences=return_sequences or not last,
                           dtype=dtype, **kw))
        w = [W.T, U.T]
        if has_bias:
            w.append(state[f"bias_ih_l{k}"] + state[f"bias_hh_l{k}"])            # (4H,)
        weights.append(w)
        if dropout and not last:
            layers.append(Dropout(dropout, dtype=dtype))
            weights.append([])
    if linear is not None:
        if isinstance(linear, dict) or hasattr(linear, "keys"):
            lin = {k: _numpy(v) for k, v in _strip_prefix(dict(linear), "weight").items()}
        else:
            lin = {k: _numpy(v) for k, v in linear.state_dict().items()}
        Wl = lin["weight"]                                                # (U, H)
        if Wl.shape[1] != H:
            raise ValueError(f"from_torch: the Linear head takes {Wl.shape[1]} features; the LSTM "
                             f"gives {H}.")
        layers.append(Dense(Wl.shape[0], activation=activation, use_bias="bias" in lin, dtype=dtype))
        weights.append([Wl.T] + ([lin["bias"]] if "bias" in lin else []))
    model = Sequential(layers)
    for layer, w in zip(layers, weights):
        if w:
            layer.set_weights([np.asarray(a, dtype=dtype) for a in w])
    return model
