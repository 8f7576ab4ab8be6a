"""Activations for the compiled kernels, applied to whole contiguous slices.

Each activation is its own tight loop over a slice (the choice of activation
is made once per slice, not once per element) so that LLVM can vectorise it.

float64 uses libm's tanh and exp: the kernels then agree with the NumPy
reference to rounding. Those calls do not vectorise. Numba's SVML (Intel's
vector maths library, `intel-cmplr-lib-rt`) would vectorise them, but only
with an llvmlite built with Intel's patch to LLVM, and PyPI's llvmlite 0.50 is
not (`llvmlite.binding.has_svml` is False): with the library installed,
`numba -s` still reports "SVML Operational: False".

float32 uses `fast_tanh`, a rational approximation with no library call,
which vectorises: within 4.3e-7 of tanh everywhere (about 4 float32 ulps),
and sigmoid(x) = (1 + tanh(x/2)) / 2 within 2.2e-7. Its coefficients were
fitted for lstmlab by iteratively reweighted least squares of x·P(x²)/Q(x²)
against tanh on [0, 9]; past |x| = 9, tanh is 1 in float32.
"""
import numpy as np
from numba import njit

# Codes shared with common.ACTIVATIONS, plus the float32 fast forms.
LINEAR, TANH, SIGMOID, HARD_SIGMOID, RELU = 0, 1, 2, 3, 4
FAST_TANH, FAST_SIGMOID = 5, 6

# tanh(x) ~ x (P0 + P1 x² + ... + P4 x⁸) / (Q0 + Q1 x² + ... + Q4 x⁸) on |x| <= 9.
_P = [np.float32(v) for v in (0.9999999832, 0.1339243845, 3.509141147e-3, 2.083206255e-5, 1.36635739e-8)]
_Q = [np.float32(v) for v in (1.0, 0.467257571, 2.592854679e-2, 3.307797179e-4, 7.903002596e-7)]
P0, P1, P2, P3, P4 = _P
Q0, Q1, Q2, Q3, Q4 = _Q
CLIP = np.float32(9.0)
HALF = np.float32(0.5)

# The flags that let LLVM fuse multiply-adds and vectorise divisions, but not
# assume away NaN and inf (a diverging model must still show its NaN). Every
# kernel also compiles with error_model="numpy": a division by zero gives inf
# as in NumPy instead of raising, which is what lets LLVM vectorise divisions
# at all (the check for Python's ZeroDivisionError blocks it, 8x slower).
FASTMATH = {"contract", "afn", "arcp", "nsz"}

# Numba counts references to arrays, and every view made in a loop
# (gates[t, b], g[:H], ...) takes one and gives it back: an atomic increment
# and decrement of the parent array's count, shared by the threads. The
# pointwise passes make a dozen views per row, so they compile without the
# counts (_nrt=False, which allows no allocation and no BLAS), one call per
# step from the loops that do the products (measured: B=64, H=64 forward and
# backward 1.2x faster).
NO_REFS = dict(cache=True, fastmath=FASTMATH, error_model="numpy", _nrt=False)


@njit(inline="always", fastmath=FASTMATH, cache=True, error_model="numpy")
def fast_tanh(x):
    x = min(max(x, -CLIP), CLIP)
    x2 = x * x
    num = (((P4 * x2 + P3) * x2 + P2) * x2 + P1) * x2 + P0
    den = (((Q4 * x2 + Q3) * x2 + Q2) * x2 + Q1) * x2 + Q0
    return x * num / den


@njit(inline="always", fastmath=FASTMATH, cache=True, error_model="numpy")
def fast_sigmoid(x):
    return HALF + HALF * fast_tanh(HALF * x)


@njit(inline="always", cache=True, error_model="numpy")
def act_scalar(y, code):
    """One value; for the rare activations and the single-step kernel."""
    if code == TANH:
        return np.tanh(y)
    if code == SIGMOID:
        return 1.0 / (1.0 + np.exp(-y))
    if code == HARD_SIGMOID:
        return min(max(y / 6.0 + 0.5, 0.0), 1.0)
    if code == RELU:
        return max(y, 0.0)
    if code == FAST_TANH:
        return fast_tanh(y)
    if code == FAST_SIGMOID:
        return fast_sigmoid(y)
    return y


@njit(inline="always", cache=True, error_model="numpy")
def dact_scalar(y, code):
    """The activation's derivative, written from its output y."""
    if code == TANH or code == FAST_TANH:
        return 1.0 - y * y
    if code == SIGMOID or code == FAST_SIGMOID:
        return y * (1.0 - y)
    if code == HARD_SIGMOID:
        return 1.0 / 6.0 if 0.0 < y < 1.0 else 0.0
    if code == RELU:
        return 1.0 if y > 0.0 else 0.0
    return 1.0


@njit(fastmath=FASTMATH, cache=True, error_model="numpy")
def act_slice(v, code):
    """v = act(v) in place over a whole 1-D view, one loop per activation.

    Callers pass a view (g[2 * H:3 * H]) rather than bounds: a loop that starts
    at 0 indexes with values LLVM knows are non-negative, so it drops Numba's
    negative-index wraparound and vectorises (measured: 9x faster than the same
    loop over range(lo, hi)). Called, not inlined: one compiled copy per float
    type serves every kernel (inlined, its loops doubled the kernels' compile
    time); from the kernels' pointwise passes, compiled without reference
    counts (NO_REFS), the call itself costs little next to the loop.
    """
    n = v.shape[0]
    if code == FAST_SIGMOID:
        for k in range(n):
            v[k] = fast_sigmoid(v[k])
    elif code == FAST_TANH:
        for k in range(n):
            v[k] = fast_tanh(v[k])
    elif code == SIGMOID:
        for k in range(n):
            v[k] = 1.0 / (1.0 + np.exp(-v[k]))
    elif code == TANH:
        for k in range(n):
            v[k] = np.tanh(v[k])
    elif code != LINEAR:
        for k in range(n):
            v[k] = act_scalar(v[k], code)


def kernel_code(code, dtype):
    """The code the kernels use: the fast forms of tanh and sigmoid in float32."""
    if np.dtype(dtype) == np.float32:
        return {TANH: FAST_TANH, SIGMOID: FAST_SIGMOID}.get(code, code)
    return code
