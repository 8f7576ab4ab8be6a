"""The interop dependencies are extras: imported only when used, and named when missing."""
import subprocess
import sys
import zipfile

import pytest

from lstmlab import Dense, Input, LSTM, Sequential
from lstmlab.interop import MissingExtraError, from_torch, to_torch
from lstmlab.models import load_model


def test_importing_lstmlab_imports_no_extra():
    code = ("import sys, numpy as np, lstmlab, lstmlab.interop\n"
            "m = lstmlab.Sequential([lstmlab.LSTM(2, input_shape=(3, 1)), lstmlab.Dense(1)])\n"
            "m.predict(np.zeros((1, 3, 1)), verbose=0)\n"
            "print(sorted(n for n in ('torch', 'h5py', 'onnx', 'onnxruntime', 'keras') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module,extra,call", [
    ("h5py", "keras", lambda m, p: load_model(p)),
    ("h5py", "keras", lambda m, p: m.load_weights(p)),
    ("h5py", "keras", lambda m, p: m.save(p.with_suffix(".keras"))),
    ("torch", "torch", lambda m, p: to_torch(m)),
    ("torch", "torch", lambda m, p: from_torch(object())),
    ("onnx", "onnx", lambda m, p: m.export_onnx(p.with_suffix(".onnx"))),
])
def test_missing_extra_names_it(tmp_path, monkeypatch, module, extra, call):
    model = Sequential([Input((3, 1)), LSTM(2), Dense(1)])
    keras_file = tmp_path / "m.keras"
    with zipfile.ZipFile(keras_file, "w") as z:      # enough to be dispatched to the Keras reader
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"")
    monkeypatch.setitem(sys.modules, module, None)     # `import module` now fails
    with pytest.raises(MissingExtraError, match=rf"pip install 'lstmlab\[{extra}\]'"):
        call(model, keras_file)
    assert not (tmp_path / "m.onnx").exists()


def test_missing_extra_is_an_import_error():
    assert issubclass(MissingExtraError, ImportError)
