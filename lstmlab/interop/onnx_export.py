"""ONNX out: `model.export_onnx(path, streaming=False, opset=17)`.

The graph is built node by node with onnx.helper on the standard operators, one
ONNX `LSTM` node per LSTM layer, so any ONNX runtime runs it:

    input  (B, T, D) float32   [(B, T) int64 ids with an Embedding first: Gather]
    LSTM   Transpose -> (T, B, D); LSTM(X, W, R, B, '', initial_h, initial_c); Y (T, 1, B, H)
           -> Squeeze -> Transpose -> (B, T, H), or Y_h (1, B, H) -> Squeeze -> (B, H)
    Dense  MatMul + Add + the activation (Softmax axis -1, Sigmoid, Tanh, Relu, HardSigmoid)
    Dropout  nothing: the identity at inference
    output the model's output, shaped as `model.predict` gives it

Weight layout: ONNX's W (1, 4H, D), R (1, 4H, H) hold the gates in the order i, o, f, c
(Keras's kernel (D, 4H) holds i, f, c, o), and B (1, 8H) = [Wb, Rb]: Keras's one
bias goes in Wb, Rb is zero. Non-default LSTM activations go in the `activations`
attribute (f, g, h) = (recurrent_activation, activation, activation).

go_backwards is direction="reverse". Keras's go_backwards output is in the order the
steps were processed (reversed); ONNX's reverse Y is in the input's time order, so the
returned sequence is reversed back along time (Slice, step -1); the last output is
Y_h in both.

streaming=True adds, per LSTM layer k, inputs `h0_k`, `c0_k` (B, H) and outputs `h_k`,
`c_k` (B, H): the state to feed back with the next chunk of timesteps, as
`model.predict(x, initial_state=..., return_state=True)` does in lstmlab.
"""
import os

import numpy as np

from ..layers import LSTM, Dense, Dropout, Embedding, InputLayer
from ._extras import require
from ..atomic import atomic_write

MIN_OPSET = 14
# lstmlab activation -> (ONNX LSTM activation name, alpha, beta); alpha/beta None = unused
_LSTM_ACT = {
    "sigmoid": ("Sigmoid", None, None),
    "tanh": ("Tanh", None, None),
    "relu": ("Relu", None, None),
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),    # Keras 3's: relu6(x + 3) / 6
    "linear": ("Affine", 1.0, 0.0),
}


def _reorder(w, H):
    """(..., 4H) in Keras's order i, f, c, o -> ONNX's order i, o, f, c."""
    i, f, c, o = (w[..., k * H:(k + 1) * H] for k in range(4))
    return np.concatenate([i, o, f, c], axis=-1)


class _Graph:
    """A small builder: unique names, nodes and initializers."""

    def __init__(self, onnx):
        self.onnx, self.h = onnx, onnx.helper
        self.nodes, self.inits, self._n, self._shared = [], [], 0, {}

    def name(self, base):
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, base, array):
        name = self.name(base)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def shared(self, key, array):
        """One initializer per distinct small constant (axes, slice bounds)."""
        if key not in self._shared:
            self._shared[key] = self.const(key, array)
        return self._shared[key]

    def node(self, op, inputs, n_out=1, base=None, outputs=None, **attrs):
        outputs = outputs or [self.name(base or op.lower()) for _ in range(n_out)]
        self.nodes.append(self.h.make_node(op, inputs, outputs, name=self.name(op), **attrs))
        return outputs if n_out > 1 else outputs[0]


def _lstm(g, layer, x, streaming, k, graph_inputs, graph_outputs, float_type):
    """x (B, T, D) -> the layer's output; adds the LSTM node and its layout changes."""
    H = layer.units
    acts = []
    for a in (layer.recurrent_activation.name, layer.activation.name, layer.activation.name):
        if a not in _LSTM_ACT:
            raise ValueError(f"Layer '{layer.name}': activation {a!r} has no ONNX LSTM equivalent "
                             f"(supported: {', '.join(sorted(_LSTM_ACT))}).")
        acts.append(_LSTM_ACT[a])
    f32 = np.float32
    W = g.const(f"{layer.name}_W", _reorder(layer.kernel, H).T[None].astype(f32))             # (1, 4H, D)
    R = g.const(f"{layer.name}_R", _reorder(layer.recurrent_kernel, H).T[None].astype(f32))   # (1, 4H, H)
    b = layer.bias_or_zeros()
    Bn = g.const(f"{layer.name}_B", np.concatenate([_reorder(b, H), np.zeros(4 * H)])[None]
                 .astype(np.float32))                                                          # (1, 8H)
    xt = g.node("Transpose", [x], perm=[1, 0, 2], base=f"{layer.name}_X")                      # (T, B, D)
    inputs = [xt, W, R, Bn]
    if streaming:
        h0, c0 = f"h0_{k}", f"c0_{k}"
        for n in (h0, c0):
            graph_inputs.append(g.h.make_tensor_value_info(n, float_type, ["batch", H]))
        axes0 = g.shared("axes0", np.array([0], np.int64))
        inputs += ["", g.node("Unsqueeze", [h0, axes0]), g.node("Unsqueeze", [c0, axes0])]      # (1, B, H)
    attrs = {"hidden_size": H, "direction": "reverse" if layer.go_backwards else "forward"}
    default = [_LSTM_ACT["sigmoid"], _LSTM_ACT["tanh"], _LSTM_ACT["tanh"]]
    if acts != default:
        attrs["activations"] = [a[0] for a in acts]
        alphas = [a[1] for a in acts if a[1] is not None]
        betas = [a[2] for a in acts if a[2] is not None]
        if alphas:
            attrs["activation_alpha"] = alphas
            attrs["activation_beta"] = betas
    Y, Y_h, Y_c = g.node("LSTM", inputs, n_out=3, base=f"{layer.name}_Y", **attrs)
    axes0 = g.shared("axes0", np.array([0], np.int64))
    if streaming:
        graph_outputs.append(g.node("Squeeze", [Y_h, axes0], outputs=[f"h_{k}"]))
        graph_outputs.append(g.node("Squeeze", [Y_c, axes0], outputs=[f"c_{k}"]))
    if not layer.return_sequences:
        return g.node("Squeeze", [Y_h, axes0], base=f"{layer.name}_out")                       # (B, H)
    y = g.node("Squeeze", [Y, g.shared("axes1", np.array([1], np.int64))])                     # (T, B, H)
    if layer.go_backwards:
        # ONNX's reverse Y is in input order; Keras's is in processed (reversed) order.
        y = g.node("Slice", [y, g.shared("minus1", np.array([-1], np.int64)),
                             g.shared("int64_min", np.array([np.iinfo(np.int64).min], np.int64)),
                             g.shared("axes0", np.array([0], np.int64)),
                             g.shared("minus1", np.array([-1], np.int64))])
    return g.node("Transpose", [y], perm=[1, 0, 2], base=f"{layer.name}_out")                 # (B, T, H)


def _dense(g, layer, x):
    z = g.node("MatMul", [x, g.const(f"{layer.name}_kernel", layer.kernel.astype(np.float32))])
    if layer.use_bias:
        z = g.node("Add", [z, g.const(f"{layer.name}_bias", layer.bias.astype(np.float32))])
    a = layer.activation.name
    if a == "linear":
        return z
    if a == "softmax":
        return g.node("Softmax", [z], axis=-1)
    if a == "hard_sigmoid":
        return g.node("HardSigmoid", [z], alpha=1.0 / 6.0, beta=0.5)
    ops = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}
    if a not in ops:
        raise ValueError(f"Layer '{layer.name}': activation {a!r} has no ONNX export.")
    return g.node(ops[a], [z])


def build_onnx(model, streaming=False, opset=17):
    """`model` as an onnx.ModelProto (checked with onnx.checker)."""
    onnx = require("onnx")
    if not isinstance(opset, int) or opset < MIN_OPSET:
        raise ValueError(f"export_onnx needs opset {MIN_OPSET} or later. Received: opset={opset!r}.")
    if not model.built:
        raise ValueError("The model has no weights yet: build it (or fit/predict once) before exporting.")
    layers = model.layers
    if not layers:
        raise ValueError("The model has no layers.")
    if streaming and not model.lstm_layers:
        raise ValueError("streaming=True needs an LSTM layer: there is no state to carry.")
    g = _Graph(onnx)
    shape = tuple(model.batch_input_shape or model._build_input_shape)
    F = onnx.TensorProto.FLOAT
    ids = isinstance(layers[0], Embedding)
    x_info = g.h.make_tensor_value_info("input", onnx.TensorProto.INT64 if ids else F,
                                        _dims(shape, ids or len(shape) == 3, streaming))
    inputs, state_outputs = [x_info], []
    x, masked, k = "input", False, 0
    for layer in layers:
        if isinstance(layer, LSTM):
            if masked:
                raise ValueError(
                    f"Layer '{layer.name}' receives a mask (Embedding(mask_zero=True)): the ONNX LSTM "
                    f"operator cannot skip arbitrary steps, so masked models are not exported.")
            x = _lstm(g, layer, x, streaming, k, inputs, state_outputs, F)
            k += 1
        elif isinstance(layer, Dense):
            x = _dense(g, layer, x)
        elif isinstance(layer, Dropout):
            continue
        elif isinstance(layer, Embedding):
            x = g.node("Gather", [g.const(f"{layer.name}_embeddings",
                                          layer.embeddings.astype(np.float32)), x], axis=0)
            masked = layer.mask_zero
        elif isinstance(layer, InputLayer):
            continue
        else:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) has no ONNX export.")
    g.node("Identity", [x], outputs=["output"])
    out_shape = model.compute_output_shape(shape)
    outputs = [g.h.make_tensor_value_info("output", F, _dims(out_shape, len(out_shape) == 3, streaming))]
    for name in state_outputs:
        H = int(model.lstm_layers[int(name.split("_")[1])].units)
        outputs.append(g.h.make_tensor_value_info(name, F, ["batch", H]))
    graph = g.h.make_graph(g.nodes, model.name, inputs, outputs, initializer=g.inits)
    proto = g.h.make_model(graph, opset_imports=[g.h.make_opsetid("", opset)],
                           producer_name="lstmlab", producer_version=_version())
    proto.ir_version = _ir_version(onnx, opset)
    onnx.checker.check_model(proto)
    return proto


def _dims(shape, time_axis, streaming):
    """(None, 6, 3) -> ['batch', 6, 3]: named dims where the size is free. The time axis
    (axis 1 when `time_axis`) is free in a streaming graph, which takes chunks of any length."""
    dims = ["batch"]
    for i, d in enumerate(shape[1:], start=1):
        free = d is None or (streaming and time_axis and i == 1)
        dims.append(("timesteps" if time_axis and i == 1 else f"dim{i}") if free else int(d))
    return dims


def _ir_version(onnx, opset):
    """The lowest IR version that carries `opset` (runtimes accept it more widely)."""
    try:
        return onnx.helper.find_min_ir_version_for([onnx.helper.make_opsetid("", opset)])
    except Exception:
        return onnx.IR_VERSION


def _version():
    import lstmlab
    return getattr(lstmlab, "__version__", "?")


def export_onnx(model, path, streaming=False, opset=17):
    """Write `model` as an ONNX file at `path` (atomically); returns the path."""
    path = os.fspath(path)
    proto = build_onnx(model, streaming=streaming, opset=opset)
    data = proto.SerializeToString()
    atomic_write(path, lambda f: f.write(data))
    return path
