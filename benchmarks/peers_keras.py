"""The Keras 3 side: the same programs with `keras` imports, on the torch backend.

This process runs Keras on PyTorch (KERAS_BACKEND=torch), as the tests do.
TensorFlow is an optional extra peer: when `tensorflow` is already installed
(it is never installed by the harness), `in_subprocess("tensorflow", ...)`
runs the same function in a fresh process with KERAS_BACKEND=tensorflow and
reads its timing back as JSON.

    python -m benchmarks.peers_keras --backend tensorflow --workload W6 --repeats 5
"""
import argparse
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _keras():
    import keras
    return keras


def _quiet():
    # Keras 3 warns about Keras 2's `input_shape=` on a layer; the seed program passes it.
    warnings.filterwarnings("ignore", message=".*input_shape.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")


# -- W1, W2 -------------------------------------------------------------------------------
def seed_program(X, y, epochs=300):
    keras = _keras()
    _quiet()

    def run():
        model = keras.Sequential()
        model.add(keras.layers.LSTM(10, input_shape=(1, 1)))
        model.add(keras.layers.Dense(1))
        model.compile(loss="mse", optimizer="adam")
        model.fit(X, y, epochs=epochs, shuffle=False, verbose=0)
        return model.predict(X, verbose=0)
    return run


def seed_model():
    keras = _keras()
    _quiet()
    model = keras.Sequential([keras.Input((1, 1)), keras.layers.LSTM(10), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    return model


def seed_predict(X):
    model = seed_model()
    return lambda: model.predict(X, verbose=0)


def seed_call(X):
    """`model(x)`: the eager call, NumPy in, a backend tensor out."""
    model = seed_model()
    return lambda: model(X, training=False)


# -- W6 (and W4 if asked) -------------------------------------------------------------------
def train_step(x, y_onehot, H=256, dropout=None):
    keras = _keras()
    _quiet()
    L = keras.layers
    layers = [keras.Input(x.shape[1:]), L.LSTM(H)]
    if dropout:
        layers.append(L.Dropout(dropout))
    layers.append(L.Dense(y_onehot.shape[1], activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return lambda: model.train_on_batch(x, y_onehot)


# -- another backend in a fresh process ---------------------------------------------------------
def _workload_fn(workload):
    from benchmarks import data
    if workload == "W1":
        return seed_program(*data.seed_data())
    if workload == "W2":
        return seed_predict(data.seed_data()[0])
    if workload == "W6":
        x, _, y = data.scaled_batch(128, 100, 47)
        return train_step(x, y, 256, dropout=0.2)
    raise ValueError(f"no Keras subprocess workload {workload!r}: expected W1, W2 or W6")


def in_subprocess(backend, workload, repeats, timeout=900):
    """Time one workload under Keras with `backend` in a new process -> Timing, or raise."""
    from benchmarks.timing import Timing
    env = dict(os.environ, KERAS_BACKEND=backend)
    cmd = [sys.executable, "-m", "benchmarks.peers_keras", "--backend", backend,
           "--workload", workload, "--repeats", str(repeats)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"keras[{backend}] subprocess failed ({proc.returncode}): "
                           f"{proc.stderr.strip()[-400:]}")
    return Timing(**json.loads(lines[-1]))


def main(argv=None):
    from benchmarks import env
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="torch")
    p.add_argument("--workload", required=True)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    env.pin_threads()
    os.environ["KERAS_BACKEND"] = args.backend
    if args.backend == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(env.THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(env.THREADS)
    fn = _workload_fn(args.workload)
    env.configure_loaded()
    from benchmarks.timing import measure
    t = measure(fn, repeats=args.repeats)
    print(json.dumps({"first": t.first, "median": t.median, "low": t.low, "high": t.high,
                      "repeats": t.repeats, "number": t.number, "samples": t.samples}))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
