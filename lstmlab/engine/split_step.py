"""One timestep with the threads sharing its product, for streaming a large LSTM.

At batch 1 a step is a matrix-vector product h U that reads all of U (H, 4H),
1 MB at H=256: more than one core's L2 cache, so one core spends the step
waiting for memory. Here thread p multiplies its slice of h by its own rows
of U, h[:, k0:k1] U[k0:k1], a contiguous block of the weights as they are
(nothing is copied or packed, so a stream sees weights changed between
steps), into a partial product of its own; the partials are then summed and
the cells run on one thread, which at batch 1 takes about a microsecond.
Measured on a 2-core Zen 3 VM, the product alone at batch 1: 10.5-15.7 µs
against 18.5-23.5 µs on one thread at H=256, 42-47 against 70-74 µs at H=512;
at H=128 the threads' start (about 2 µs a call) costs more than it saves
(`kernels.STEP_SPLIT_MIN_UNITS`).

The partials are added in a fixed order, so a step's numbers depend on the
number of parts P (`kernels.step_parts`: one per thread of Numba's pool when
the scratch was made), not on which threads run them. They may differ from
the unsplit step's in the last bits: the sum over U's rows is grouped otherwise.
"""
import numba
from numba import njit, prange

from .blas import dot
from .pointwise import FASTMATH, NO_REFS

OPTIONS = dict(cache=True, fastmath=FASTMATH, error_model="numpy")

# `kernels.step_into`, itself serial, calls the parallel `partial_products`. Loaded
# from Numba's on-disk cache into a process whose threading layer has not started,
# such a function crashes (a segmentation fault, even on its serial branch).
# Asking for the thread count starts the layer: do it once, before any kernel loads.
numba.get_num_threads()


@njit(parallel=True, **OPTIONS)
def partial_products(h, U, parts_out):
    """parts_out[p] (B, 4H) = h[:, k0:k1] (B, n) U[k0:k1] (n, 4H) for each of P row ranges of U."""
    P = parts_out.shape[0]
    H = U.shape[0]
    for p in prange(P):
        k0, k1 = p * H // P, (p + 1) * H // P
        dot(h[:, k0:k1], U[k0:k1], parts_out[p])


@njit(**NO_REFS)
def sum_parts(parts_out):
    """parts_out[0] (B, 4H) += parts_out[1] + ... , in that order."""
    total = parts_out[0]
    for p in range(1, parts_out.shape[0]):
        part = parts_out[p]
        for r in range(total.shape[0]):
            tr, pr = total[r], part[r]
            for k in range(tr.shape[0]):
                tr[k] += pr[k]
