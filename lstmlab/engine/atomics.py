"""Atomic counters for compiled code, for threads that meet once per timestep.

Numba has no atomics on the CPU, so these two emit LLVM's own instructions:
`fetch_add` is an atomic read-modify-write (sequentially consistent, so every
store before it is visible to a thread that sees its result), and `load` is
an acquiring load (no later read moves before it). They work on one element
of an int64 array. `pause` gives the core away while a thread waits.
"""
import sys

from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


def _element_pointer(context, builder, arrty, arr, idx):
    ary = context.make_array(arrty)(context, builder, arr)
    return cgutils.get_item_pointer(context, builder, arrty, ary, [idx])


@intrinsic
def fetch_add(typingctx, counters, idx, value):
    """counters[idx] += value atomically; returns the value before the addition."""
    if not (isinstance(counters, types.Array) and counters.dtype == types.int64 and counters.ndim == 1):
        return None
    sig = types.int64(counters, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.atomic_rmw("add", ptr, args[2], "seq_cst")

    return sig, codegen


@intrinsic
def load(typingctx, counters, idx):
    """counters[idx], read atomically with acquire ordering."""
    if not (isinstance(counters, types.Array) and counters.dtype == types.int64 and counters.ndim == 1):
        return None
    sig = types.int64(counters, types.intp)

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return sig, codegen


# POSIX's sched_yield, linked by name (nothing is baked into cached code); on
# Windows a waiting thread keeps spinning.
_sched_yield = types.ExternalFunction("sched_yield", types.int32())
YIELDS = sys.platform != "win32"


@njit(cache=True)
def pause():
    """Let another thread have this core: a waiting thread that spun for long
    may be waiting for one the OS put on the same core (more threads than cores)."""
    if YIELDS:
        _sched_yield()
