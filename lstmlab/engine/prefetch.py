"""Asking for memory before the loops read it: software prefetch, as a Numba intrinsic.

The reverse time loop reads each step's saved gates, act(c) and c (`kernels._cells_backward`)
from arrays the forward loop wrote long before: for a W4 share (32 rows, T=100, H=64) 4.8 MB,
which have left the core's 512 KiB L2 for the L3 by then. The hardware prefetchers follow
each step's rows, but every step starts a new stretch (time runs backwards), and measured on
a 2-core Zen 3 VM the cells of a step waited about 1.8 µs for them (the same pass over one
step's rows, kept in cache, took that much less). Asking for a row two steps ahead, while
the cells work on this one, lets the L3 answer during the step's product.

The hint is LLVM's `llvm.prefetch` (x86: PREFETCHT1, into the L2 and below): it never faults,
changes no value, and compiles to nothing where the machine has no such instruction.
"""
import llvmlite.ir as ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

LINE = 64               # bytes of a cache line
LOCALITY = 2            # llvm.prefetch's locality: 2 keeps the line in the L2 (PREFETCHT1)


@intrinsic
def _prefetch(typingctx, address):
    """Ask for the cache line at `address` (an integer, as an array's .ctypes.data), to read."""
    if not isinstance(address, types.Integer):
        return None
    sig = types.void(address)

    def codegen(context, builder, signature, values):
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0")
        at = builder.inttoptr(context.cast(builder, values[0], signature.args[0], types.int64), i8p)
        # (address, 0: to read, locality, 1: data, not instructions)
        builder.call(hint, [at, ir.Constant(i32, 0), ir.Constant(i32, LOCALITY), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always", cache=True)
def row(v):
    """Ask for every cache line of v, a contiguous 1-D view."""
    start = v.ctypes.data
    for offset in range(0, v.shape[0] * v.itemsize, LINE):
        _prefetch(start + offset)
