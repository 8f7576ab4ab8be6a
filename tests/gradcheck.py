"""One gradient-check helper for every test: float64 central differences."""
import numpy as np


def numerical_grad(f, x, eps=1e-6):
    """d f() / d x by central differences; f reads x, which is perturbed in place."""
    g = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        up = f()
        x[idx] = old - eps
        down = f()
        x[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


def rel_error(a, b):
    """max |a - b| / max(|a|, |b|, tiny): scale-free, so one tolerance fits every array."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-12))


def assert_grads(f, params, analytic, tol=1e-6, eps=1e-6):
    """Check each analytic gradient against finite differences of the scalar f()."""
    for name, g in analytic.items():
        num = numerical_grad(f, params[name], eps)
        err = rel_error(num, g)
        assert err < tol, f"gradient of {name}: relative error {err:.2e} >= {tol:.0e}"
