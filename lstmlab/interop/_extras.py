"""Optional dependencies, imported only when a feature needs them.

Each interop feature sits behind an extra of the package; a missing one gives
an ImportError that names the extra to install, not a bare ModuleNotFoundError
from deep inside a call.
"""
import importlib

# module -> (extra, what needs it)
_EXTRAS = {
    "h5py": ("keras", "reading and writing Keras files (.keras, .h5, .weights.h5)"),
    "torch": ("torch", "converting to and from PyTorch"),
    "onnx": ("onnx", "exporting to ONNX"),
    "onnxruntime": ("onnx", "running exported ONNX graphs"),
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra."""


def require(module):
    """Import `module` or raise MissingExtraError naming the lstmlab extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        extra, what = _EXTRAS[module]
        raise MissingExtraError(
            f"{what.capitalize()} needs the Python package {module!r}, which is not installed "
            f"({e}). Install lstmlab's '{extra}' extra: pip install 'lstmlab[{extra}]'."
        ) from None
