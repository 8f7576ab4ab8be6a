"""lstmlab's engine (forward + backward) at one shape under other thread settings.

Numba fixes its thread pool when it loads, so each setting runs in a fresh
process. (The kernels' products run on lstmlab's register tiles, engine/tiles.py,
or its own one-thread OpenBLAS, engine/blas.py, whatever OPENBLAS_NUM_THREADS
says.) The profiles of W4/W6
use it to show what the second thread buys and what a cold Numba cache costs:

    python -m benchmarks.threads_probe 64 100 60 256      # B T D H, this process's settings
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = (("Numba 2 (as in the run)", 2, False),
            ("Numba 1", 1, False),
            ("Numba 2, empty Numba cache (kernels compiled in the process)", 2, True))


def probe(B, T, D, H, numba_threads, fresh=False, repeats=5, timeout=600):
    """{'forward': s, 'backward': s, 'forward_spread': ..., ...} from a fresh process;
    with `fresh`, Numba's on-disk cache is an empty directory, so the kernels compile there."""
    import tempfile
    env = dict(os.environ, NUMBA_NUM_THREADS=str(numba_threads))
    cmd = [sys.executable, "-m", "benchmarks.threads_probe", str(B), str(T), str(D), str(H),
           "--repeats", str(repeats)]
    with tempfile.TemporaryDirectory(prefix="lstmlab-probe-cache-") as cache:
        if fresh:
            env["NUMBA_CACHE_DIR"] = cache
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(proc.stderr.strip()[-300:])
    return json.loads(lines[-1])


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser()
    for name in ("B", "T", "D", "H"):
        p.add_argument(name, type=int)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)
    import numpy as np
    from lstmlab import engine
    from benchmarks.timing import measure
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.B, a.T, a.D)).astype(np.float32)
    W = (rng.standard_normal((a.D, 4 * a.H)) / np.sqrt(a.D)).astype(np.float32)
    U = (rng.standard_normal((a.H, 4 * a.H)) / np.sqrt(a.H)).astype(np.float32)
    b = np.zeros(4 * a.H, np.float32)
    h0 = np.zeros((a.B, a.H), np.float32)
    cache = engine.forward(x, W, U, b, h0, h0)[3]
    dout = np.zeros((a.B, a.T, a.H), np.float32)
    dout[:, -1] = 1.0
    product, where = _step_product(a.B, a.H, U, rng)
    mm = measure(product, repeats=a.repeats)
    f = measure(lambda: engine.forward(x, W, U, b, h0, h0), repeats=a.repeats, number=1)
    g = measure(lambda: engine.backward(dout, h0, h0, cache), repeats=a.repeats, number=1)
    try:
        import numba
        layer = numba.threading_layer()
    except Exception:   # noqa: BLE001 - no parallel region launched threads
        layer = "not launched"
    print(json.dumps({"forward": f.median, "backward": g.median,
                      "forward_spread": f.spread, "backward_spread": g.spread,
                      "step_product": mm.median, "step_product_what": where,
                      "os_threads": _os_threads(), "numba_layer": layer}))


def _step_product(B, H, U, rng):
    """One thread's product in one step, as the kernels' plan cuts it: its rows by all of U
    (batch split), every row by its part's columns (unit split), or everything on one
    thread; -> (the call, what it multiplies and on what)."""
    import numpy as np
    from lstmlab.engine import kernels, tiles
    from lstmlab.engine.blas import dot
    how, parts = kernels._plan(B, H)
    rows = -(-B // parts) if how == "batch" else B
    cols = 4 * H // parts if how == "units" else 4 * H
    h = rng.standard_normal((rows, H)).astype(np.float32)
    Uc = np.ascontiguousarray(U[:, :cols])
    z = np.empty((rows, cols), np.float32)
    packed = tiles.packed_or_none(Uc) if rows > 1 or how != "units" else np.empty(0, np.float32)
    what = f"({rows}, {H})·({H}, {cols})"
    if packed.size:
        return (lambda: tiles.dot(h, packed, z)), f"{what} on the tiles"
    return (lambda: dot(h, Uc, z)), f"{what} on the kernels' BLAS"


def _os_threads():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


if __name__ == "__main__":
    main()
