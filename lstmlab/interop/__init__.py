"""Interoperability: Keras files in and out, PyTorch both ways, ONNX out.

    lstmlab.models.load_model("m.keras" | "m.h5")   Keras 3 archives, legacy Keras HDF5 models
    model.save("m.keras")                           a Keras 3 archive (other suffixes: lstmlab's format)
    model.load_weights("m.weights.h5")              Keras weights into a built model
    to_torch(model) / from_torch(lstm, linear)      a torch.nn.Module computing the same function, and back
    model.export_onnx("m.onnx", streaming=False)    an ONNX graph with the standard LSTM operator

The third-party packages are extras, imported only when a function needs them:
h5py (`lstmlab[keras]`), torch (`lstmlab[torch]`), onnx and onnxruntime (`lstmlab[onnx]`).
"""
from ._extras import MissingExtraError

__all__ = ["load_keras", "load_weights", "save_keras", "save_weights", "to_torch", "from_torch",
           "export_onnx", "MissingExtraError"]


def load_keras(path, compile=True):
    """A Keras file (`.keras` archive or legacy `.h5` model) -> an lstmlab Sequential."""
    from ..models.saving import load_model
    return load_model(path, compile=compile)


def load_weights(model, path):
    """Keras weights (`.weights.h5`, legacy `.h5`, or a `.keras` archive's) into a built `model`."""
    from .keras_files import load_weights as _load
    return _load(model, path)


def save_keras(model, path):
    """Write `model` as a Keras 3 `.keras` archive."""
    from .keras_write import save_keras as _save
    _save(model, path)


def save_weights(model, path):
    """Write `model`'s weights as a Keras 3 `.weights.h5` file."""
    from .keras_write import save_weights as _save
    _save(model, path)


def to_torch(model):
    """A `torch.nn.Module` computing the same function as the lstmlab `model` (in eval mode)."""
    from .torch_bridge import to_torch as _to
    return _to(model)


def from_torch(lstm, linear=None, **kwargs):
    """An lstmlab Sequential from an `nn.LSTM` (or its state dict) and an optional `nn.Linear` head."""
    from .torch_bridge import from_torch as _from
    return _from(lstm, linear, **kwargs)


def export_onnx(model, path, streaming=False, opset=17):
    """Write `model` as an ONNX graph built on the LSTM operator; returns the path."""
    from .onnx_export import export_onnx as _export
    return _export(model, path, streaming=streaming, opset=opset)
