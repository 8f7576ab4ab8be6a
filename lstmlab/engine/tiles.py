"""Small float32 matrix products with the right operand packed once: the per-step
products of the LSTM's time loops (both ways of splitting them, kernels.py and
units.py, and generate_text's windows in flight, window_loop.py).

Every step of a training step multiplies a few rows of state by the same matrix:
h_{t-1} (n, H) @ U (H, 4H) forward, dz_t (n, 4H) @ Uᵀ (4H, H) backward. BLAS
packs both operands again on every call, and at these sizes that is a large
part of the call. Here the constant operand is packed once per call of the
kernels (`packed_or_none`: panels of PANEL columns, each K rows of PANEL
contiguous floats) and every step runs register tiles over it (`dot`):

    out[r:r+R, j:j+8C] = a[r:r+R, :] @ panel   (R <= 6 rows, C <= 2 vectors of 8)

A tile keeps its R x C accumulators in vector registers through the whole K
loop: each k loads C vectors of the panel and broadcasts R values of `a`, one
fused multiply-add each. 6 x 2 needs 12 accumulators, 2 panel vectors and a
broadcast: 15 of AVX2's 16 registers. The rows are cut in blocks of as even a
height as 6 allows (32 rows: 6+6+5+5+5+5, not 6+6+6+6+6+2): a 2-row tile keeps
only 4 independent multiply-adds in flight, likely too few to hide their
latency. Measured on the VM below, in turns in one process: (32, 64) @ (64, 256)
3-5% faster, (32, 256) @ (256, 64) 0-2%; a W4 step at 64 units 0.96-0.98x the
time (the two versions side by side in one process, 40 steps each, twice:
faster in 25 and 26). Each output sums its own row's products in the same
order whatever the blocks, so the cut changes no result. The blocks' heights
are counted up, not divided out for each tile: a tile's loop fills the
reorder window, so the next tile's address waited on two integer divisions
(measured: (32, 64) @ (64, 256) 10.86 against 11.47 µs, (32, 256) @ (256, 64)
10.79 against 11.07).

The tiles are written in LLVM IR with llvmlite's builder, as Numba intrinsics
(Numba has no vector types): their loops are emitted into `dot`, which Numba
compiles for this CPU and caches on disk like every other kernel, so they cost
nothing at import (compiled on their own by llvmlite's MCJIT, the same tiles
took 50 ms of every import and ran no faster: a W4 step at 64 units took 12.2
against 11.9 ms as intrinsics, 5 process pairs). Without AVX, LLVM splits each
8-float vector over the registers it has, and without FMA it multiplies and adds
in two roundings: slower, not wrong.

Measured on a 2-core Zen 3 VM, one thread, against lstmlab's OpenBLAS through
blas.dot, in turns in one process: (32, 64) @ (64, 256) 12.4-15.4 against
14.0-19.0 µs, (32, 256) @ (256, 64) 11.4-14.8 against 13.6-17.3 µs, (8, 256) @
(256, 1024) 53-72 against 100-124 µs. In alternating fresh processes, a W4 training step
(B=64, T=100, one-hot V=60) took 9.9 against 11.6 ms at 64 units (8 pairs,
faster in 7) and 93.5 against 98.3 ms at 256 (6 pairs, faster in 4).
"""
import llvmlite.ir as ir
import numpy as np
from numba import njit, types
from numba.extending import intrinsic

VECTOR = 8                  # float32 lanes of an AVX register
PANEL = 2 * VECTOR          # columns of a full panel; the last may be one VECTOR wide
ROWS = 6                    # rows of a full tile

_F32, _I64, _I32 = ir.FloatType(), ir.IntType(64), ir.IntType(32)
_VEC = ir.VectorType(_F32, VECTOR)


def _emit_tile(builder, rows, vectors, K, a, lda, panel, out, ldo):
    """Emit, where `builder` stands, out (rows, 8 vectors) = a (rows, K) @ panel (K, 8 vectors),
    K >= 1: a, panel and out are float pointers, lda and ldo row strides in floats (i64)."""
    b = builder
    entry = b.block
    loop, done = b.append_basic_block("tile.loop"), b.append_basic_block("tile.done")
    b.branch(loop)

    b.position_at_end(loop)
    k = b.phi(_I64)
    acc = [[b.phi(_VEC) for _ in range(vectors)] for _ in range(rows)]
    prow = b.gep(panel, [b.mul(k, ir.Constant(_I64, VECTOR * vectors))])
    pv = [b.load(b.bitcast(b.gep(prow, [ir.Constant(_I64, VECTOR * j)]), _VEC.as_pointer()), align=4)
          for j in range(vectors)]
    lanes = ir.Constant(ir.VectorType(_I32, VECTOR), [0] * VECTOR)
    undef = ir.Constant(_VEC, ir.Undefined)
    new = []
    for r in range(rows):
        ar = b.load(b.gep(a, [b.add(b.mul(ir.Constant(_I64, r), lda), k)]), align=4)
        av = b.shuffle_vector(b.insert_element(undef, ar, ir.Constant(_I32, 0)), undef, lanes)
        # "contract" lets LLVM fuse the multiply and the add into one FMA.
        new.append([b.fadd(b.fmul(av, pv[j], flags=("contract",)), acc[r][j], flags=("contract",))
                    for j in range(vectors)])
    k_next = b.add(k, ir.Constant(_I64, 1))
    k.add_incoming(ir.Constant(_I64, 0), entry)
    k.add_incoming(k_next, loop)
    zero = ir.Constant(_VEC, [0.0] * VECTOR)
    for r in range(rows):
        for j in range(vectors):
            acc[r][j].add_incoming(zero, entry)
            acc[r][j].add_incoming(new[r][j], loop)
    b.cbranch(b.icmp_signed("<", k_next, K), loop, done)

    b.position_at_end(done)
    for r in range(rows):
        orow = b.gep(out, [b.mul(ir.Constant(_I64, r), ldo)])
        for j in range(vectors):
            b.store(new[r][j], b.bitcast(b.gep(orow, [ir.Constant(_I64, VECTOR * j)]), _VEC.as_pointer()),
                    align=4)


@intrinsic
def _tile(typingctx, rows, wide, K, a, lda, panel, out, ldo):
    """_tile(rows, wide, K, a, lda, panel, out, ldo): one tile of `rows` (1..ROWS) rows, two
    vectors wide when `wide`, else one; the pointers arrive as integers (an array's
    .ctypes.data). Every shape's loop is emitted once, behind one switch on (rows, wide)."""
    args = (rows, wide, K, a, lda, panel, out, ldo)
    if not all(isinstance(t, (types.Integer, types.Boolean)) for t in args):
        return None
    sig = types.void(*args)

    def codegen(context, builder, signature, values):
        r, w, n, pa, la, pp, po, lo = (context.cast(builder, v, t, types.int64)
                                       for v, t in zip(values, signature.args))
        ptr = _F32.as_pointer()
        operands = (n, builder.inttoptr(pa, ptr), la, builder.inttoptr(pp, ptr), builder.inttoptr(po, ptr), lo)
        after = builder.append_basic_block("tiles.after")
        shape = builder.switch(builder.add(builder.mul(r, ir.Constant(_I64, 2)), w), after)
        for n_rows in range(1, ROWS + 1):
            for vectors in (1, 2):
                block = builder.append_basic_block(f"tile.{n_rows}x{vectors}")
                shape.add_case(ir.Constant(_I64, 2 * n_rows + vectors - 1), block)
                builder.position_at_end(block)
                _emit_tile(builder, n_rows, vectors, *operands)
                builder.branch(after)
        builder.position_at_end(after)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, error_model="numpy")
def packed_or_none(b):
    """b (K, N)'s panels (`pack_into`) in a flat (K*N,) array that starts on a cache line,
    when the tiles can multiply by b (float32, N a multiple of 8); else an empty array,
    and the caller uses BLAS."""
    K, N = b.shape
    if b.itemsize != 4 or N % VECTOR != 0 or K == 0:
        return np.empty(0, b.dtype)
    block = np.empty(K * N + 16, b.dtype)
    start = (-block.ctypes.data % 64) // 4
    packed = block[start:start + K * N]
    pack_into(b, packed)
    return packed


@njit(cache=True, error_model="numpy")
def pack_into(b, packed):
    """packed (K*N,) = b (K, N) in panels: panel p holds columns 16p:16p+w (w = 16, or 8
    for an odd last one) as K rows of w, one panel after another."""
    K, N = b.shape
    for j0 in range(0, N, PANEL):
        w = min(PANEL, N - j0)
        base = j0 * K
        for k in range(K):
            for j in range(w):
                packed[base + k * w + j] = b[k, j0 + j]


@njit(cache=True, error_model="numpy")
def dot(a, packed, out):
    """out (M, N) = a (M, K) @ b (K, N), float32, with `packed` = packed_or_none(b).

    a's and out's rows must each be contiguous (any row stride: a block of rows of a
    larger array will do). Panel by panel, so each panel (K x 16 floats: 4 KiB at
    K = 64) stays in the L1 cache while every row block runs over it.
    """
    M, K = a.shape
    N = out.shape[1]
    if out.shape[0] != M or packed.shape[0] != K * N or N % VECTOR != 0:
        raise ValueError("tiles.dot: a (M, K), packed (K*N,) and out (M, N) do not match")
    if a.itemsize != 4 or packed.itemsize != 4 or out.itemsize != 4:
        raise ValueError("tiles.dot: the tiles multiply float32 arrays only")
    if M == 0:
        return
    if (K > 1 and a.strides[1] != 4) or (N > 1 and out.strides[1] != 4):
        raise ValueError("tiles.dot: the rows of a and out must be contiguous")
    if K == 0:
        for r in range(M):
            for j in range(N):
                out[r, j] = 0.0
        return
    lda, ldo = a.strides[0] // 4, out.strides[0] // 4
    pa, pp, po = a.ctypes.data, packed.ctypes.data, out.ctypes.data
    blocks = (M + ROWS - 1) // ROWS                 # row blocks, as even as possible: 32 = 6+6+5+5+5+5
    base, taller = M // blocks, M % blocks          # the first `taller` blocks have a row more
    for j0 in range(0, N, PANEL):
        wide = N - j0 >= PANEL
        panel = pp + 4 * j0 * K
        r0 = 0
        for i in range(blocks):
            rows = base + (i < taller)
            _tile(rows, wide, K, pa + 4 * r0 * lda, lda, panel, po + 4 * (r0 * ldo + j0), ldo)
            r0 += rows
