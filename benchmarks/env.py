"""The machine and the process: thread counts, CPU model, library versions.

`pin_threads()` must run before NumPy, Numba or PyTorch is imported: OpenBLAS
and Numba read their thread counts from the environment when they load.
"""
import importlib.metadata
import importlib.util
import os
import platform
import sys

THREADS = 2
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "MKL_NUM_THREADS")


def pin_threads(n=THREADS):
    """Every engine on `n` threads; Keras on the torch backend (no TensorFlow needed)."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    os.environ.setdefault("KERAS_BACKEND", "torch")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def configure_loaded(n=THREADS):
    """Set the thread counts of the libraries already imported (torch, numba)."""
    if "torch" in sys.modules:
        import torch
        torch.set_num_threads(n)
    if "numba" in sys.modules:
        import numba
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    """The SIMD extensions that matter for float32 matmul, as the kernel reports them."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [x for x in ("avx2", "fma", "avx512f", "avx512_bf16") if x in flags]
    except OSError:
        pass
    return []


def cores():
    """(logical CPUs on the machine, CPUs this process may run on)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return os.cpu_count(), usable


def has_tensorflow():
    """tensorflow-cpu is an optional peer: used when it is already installed, never installed."""
    return importlib.util.find_spec("tensorflow") is not None


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions():
    """Versions without importing anything new (the distributions' metadata)."""
    out = {"python": platform.python_version()}
    for dist in ("numpy", "numba", "llvmlite", "scipy-openblas32", "torch", "keras", "lstmlab", "rich",
                 "tensorflow", "tensorflow-cpu"):
        v = _version(dist)
        if v is not None:
            out[dist] = v
    return out


def thread_report():
    """The thread counts each library actually runs with in this process."""
    out = {var: os.environ.get(var, "unset") for var in THREAD_VARS}
    if "torch" in sys.modules:
        import torch
        out["torch.get_num_threads()"] = torch.get_num_threads()
    if "numba" in sys.modules:
        import numba
        out["numba.get_num_threads()"] = numba.get_num_threads()
        try:
            out["numba threading layer"] = numba.threading_layer()
        except ValueError:          # no parallel kernel has run yet
            out["numba threading layer"] = "not initialised"
    return out


def machine():
    logical, usable = cores()
    return {
        "cpu": cpu_model(),
        "simd": ", ".join(cpu_flags()) or "unknown",
        "logical_cpus": logical,
        "usable_cpus": usable,
        "os": f"{platform.system()} {platform.release()}",
    }


def load_average():
    """The 1-, 5- and 15-minute load averages: anything else running skews every figure."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def source_revision():
    """The lstmlab source measured: 'commit abc1234' plus uncommitted files under lstmlab/, read-only git."""
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lstmlab"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    if not head:
        return None
    return f"commit {head}" + (f" + uncommitted changes in {len(dirty)} path(s) under lstmlab/"
                               if dirty else " (lstmlab/ clean)")
