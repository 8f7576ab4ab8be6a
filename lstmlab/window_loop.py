"""generate_text(mode="window") with every window in flight at once, in one compiled call.

The classic loop reads the last `window` characters from a zero state for
each new one: `window` LSTM steps per character at batch 1, each reading all
of U. But the windows overlap, and seen by timestep they all read the same
character: window m (the one that predicts character m) reads seq[m : m +
window], so at tick t every window in flight reads seq[t]. Here each of the
min(window, length) windows in flight has a row of one batch; each tick is
one LSTM step of the whole batch, which reads U once for all of them, then
the window that ends at that tick gives its character through the Dense head
and the sampler, just in time for tick t + 1 to read it. A new window starts
from a zero state in the row its predecessor left.

The windows are computed as the classic loop computes them (zero state, the
same steps, the same head and the same draws, `closed_loop._sample`), so the
text is the same; the batched product sums in another order than the
single-row one, so the numbers may differ in the last bits and, at a near
tie, a character with them.
"""
import numba
import numpy as np
from numba import njit, prange

from .closed_loop import _sample, check_status, plan
from .engine import tiles
from .engine.blas import dot
from .engine.kernels import PARALLEL_MIN_CELLS, _cells_step, codes
from .state import _DENSE_CODES, _dense_into


@njit(parallel=True, cache=True, error_model="numpy")
def _generate(table, seq, window, W, U, b, act, ract, Wd, bd, head, out, temperature, logits,
              uniforms, chunks):
    """seq (window + n,): the first window's ids, then the n ids sampled here, seq[window + m]
    from the window seq[m : window + m]. table (V, D) is each id's input row; out (1, V) the
    head's scratch. Returns 0, or closed_loop._sample's code for what stopped it."""
    n = seq.shape[0] - window
    R = min(window, n)                              # windows in flight: one batch row each
    H = U.shape[0]
    dt = U.dtype
    hs, cs = np.zeros((2, R, H), dt), np.zeros((2, R, H), dt)   # (h, c) now and next, by tick parity
    x = np.empty((R, table.shape[1]), dt)
    z, hU = np.empty((R, 4 * H), dt), np.empty((R, 4 * H), dt)
    scratch = np.empty(out.shape[1], np.float64)
    # U packed once for every tick's tiles (engine/tiles.py). Measured on 2 cores, 300
    # characters from an LSTM(256), alternating processes: faster in 7 of 9 pairs, 194
    # against 201 ms on average.
    Up = tiles.packed_or_none(U)
    for t in range(n + window - 1):
        now, nxt = t % 2, 1 - t % 2
        if t < n:                                   # window t starts here, from a zero state
            for j in range(H):
                hs[now, t % R, j] = 0.0
                cs[now, t % R, j] = 0.0
        row = table[seq[t]]
        for r in range(R):                          # every window in flight reads seq[t]
            for d in range(row.shape[0]):
                x[r, d] = row[d]
        for k in prange(chunks):                    # the threads split the rows
            r0, r1 = k * R // chunks, (k + 1) * R // chunks
            if Up.shape[0] > 0 and r1 - r0 > 1:      # one row: BLAS's matrix-vector product
                tiles.dot(hs[now, r0:r1], Up, hU[r0:r1])
            else:
                dot(hs[now, r0:r1], U, hU[r0:r1])
            _cells_step(x[r0:r1], W, b, cs[now, r0:r1], act, ract, z[r0:r1], hU[r0:r1],
                        hs[nxt, r0:r1], cs[nxt, r0:r1])
        m = t - window + 1                          # the window that ends at this tick
        if m >= 0:
            _dense_into(hs[nxt, m % R:m % R + 1], Wd, bd, head, out)
            i = _sample(out[0], temperature, logits, uniforms[m] if uniforms.shape[0] else 0.0, scratch)
            if i < 0:
                return i
            seq[window + m] = i
    return 0


def window_plan(model, V, kind):
    """closed_loop.plan's (table, lstm, dense), when the windows can run here; else None."""
    compiled = plan(model, V, kind)
    if compiled is None:
        return None
    if any(getattr(layer, "mask_zero", False) for layer in model.layers):
        return None                                 # masked steps: only the model's own loop skips them
    return compiled


def sample_ids(compiled, ids, length, temperature, rng, logits):
    """`length` ids after the window `ids` (list of ints), each from the window before it."""
    table, lstm, dense = compiled
    window = len(ids)
    seq = np.empty(window + length, np.int64)
    seq[:window] = ids
    dt = np.dtype(lstm.dtype)
    b, bd = lstm.bias_or_zeros(), dense.bias_or_zeros()
    act, ract = codes(lstm.activation.name, lstm.recurrent_activation.name, dt)
    rows = min(window, length)
    threads = numba.get_num_threads()
    chunks = min(threads, rows) if rows * lstm.units >= PARALLEL_MIN_CELLS else 1
    out = np.zeros((1, dense.units), dt)
    uniforms = rng.random(length) if temperature > 0 else np.empty(0)
    status = _generate(table, seq, window, lstm.kernel, lstm.recurrent_kernel, b, act, ract,
                       dense.kernel, bd, _DENSE_CODES[dense.activation.name], out, float(temperature),
                       bool(logits), uniforms, chunks)
    check_status(status, out[0])
    return [int(i) for i in seq[window:]]
