"""Start-up costs, each in a fresh process so nothing is already loaded:
importing each library, and lstmlab's Numba compilation from an empty cache."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_IMPORT = """
import time, json
t = time.perf_counter()
import {module}
print(json.dumps(time.perf_counter() - t))
"""

# The seed model's first predict and first fit epoch, then the same again warm:
# the difference is compiling every kernel those calls use.
_COLD = """
import time, json
import numpy as np
from lstmlab.models import Sequential
from lstmlab.layers import LSTM, Dense
X = np.arange(5, dtype='float32').reshape(5, 1, 1) / 10
y = X[:, 0, 0] + 0.1
def once():
    m = Sequential(); m.add(LSTM(10, input_shape=(1, 1))); m.add(Dense(1))
    m.compile(loss='mse', optimizer='adam')
    m.fit(X, y, epochs=1, shuffle=False, verbose=0)
    m.predict(X, verbose=0)
t = time.perf_counter(); once(); first = time.perf_counter() - t
t = time.perf_counter(); once(); warm = time.perf_counter() - t
print(json.dumps(first - warm))
"""


def _run(code, env=None, timeout=600):
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(proc.stderr.strip()[-300:])
    return float(json.loads(lines[-1]))


def import_seconds(module):
    return _run(_IMPORT.format(module=module))


def cold_compile_seconds():
    """lstmlab's first fit + predict beyond a warm one, with Numba's on-disk cache empty."""
    with tempfile.TemporaryDirectory(prefix="lstmlab-numba-cache-") as cache:
        return _run(_COLD, env=dict(os.environ, NUMBA_CACHE_DIR=cache))


def cached_compile_seconds():
    """The same with the cache as it is (normally warm after the first run): loading, not compiling."""
    return _run(_COLD)


def measure_all(peers, log=print):
    """{label: seconds or an error string}."""
    out = {}
    jobs = [("import lstmlab", lambda: import_seconds("lstmlab")),
            ("lstmlab first fit+predict, empty Numba cache (compiling)", cold_compile_seconds),
            ("lstmlab first fit+predict, Numba cache warm (loading)", cached_compile_seconds)]
    if "torch" in peers:
        jobs.append(("import torch", lambda: import_seconds("torch")))
    if "keras" in peers:
        jobs.append(("import keras (torch backend, imports torch)", lambda: import_seconds("keras")))
    for label, fn in jobs:
        try:
            out[label] = fn()
        except Exception as e:   # noqa: BLE001
            out[label] = f"failed: {e}"
        log(f"  start-up: {label}: {out[label] if isinstance(out[label], str) else f'{out[label]:.2f} s'}")
    return out
