"""A classifier's training step with no Python between its forward and backward passes.

`Sequential([LSTM(H), Dense(V, activation="softmax")])` (with or without a
Dropout before the Dense) trained on a categorical cross-entropy is the
character model of the text-generation tutorials. The general step runs
forward through the layers, then the loss, its gradient and backward, from
Python. The Python between the two passes costs more than its arithmetic: the
LSTM's loops have just filled the caches, and NumPy's small calls on a
(B, V) head run 2-3x slower than they do warm (measured on a 2-core Zen 3 VM:
1.2-1.4 ms of a 9-10 ms step at B=64, T=100, H=64).

Here each thread takes its batch rows through the whole step: the LSTM's
forward loop (`kernels._forward_rows`), the head (`_head_rows`: Dense,
softmax, Keras's loss value and the fused softmax + cross-entropy gradient,
the Dense's gradients) and the LSTM's reverse loop (`kernels._backward_rows`).
Rows never interact until the weight gradients, which each thread sums for
its own rows and the caller adds up. The arithmetic is the general step's, in
the same order but for the head's weight gradients and the loss, summed by
rows in shares and then across shares; a test holds the two to rounding.

Measured on that VM, a W4 step (B=64, T=100, one-hot V=60, LSTM(64)) ran
1.17x faster than the general step (median of 16 pairs of fresh processes in
turns, faster in 15).

Anything else (masks, dropout inside the LSTM, a stateful or reversed LSTM,
the unit split's small batches, other heads or losses) takes the general step.
"""
import numpy as np
from numba import njit

from .. import losses
from ..engine.blas import dot
from ..engine.common import as_mask
from ..engine.kernels import _backward_rows_c, _forward_rows_c, _none, _plan, _row_ranges, codes, scan_places
from ..engine.projection import sum_rows
from ..engine.threads import run as threads_run
from ..layers import LSTM, Dense, Dropout
from ..layers.base import as_float_array, check_finite
from ..state import _DENSE_CODES, _dense_into

SOFTMAX = _DENSE_CODES["softmax"]

_LOSSES = (losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy)


def layers_for(model):
    """(lstm, dropout or None, dense) when `model`'s training step can run here, else None."""
    layers = model.layers
    if len(layers) not in (2, 3) or type(model.loss) not in _LOSSES or model.loss.from_logits:
        return None
    lstm, dense = layers[0], layers[-1]
    dropout = layers[1] if len(layers) == 3 else None
    if type(lstm) is not LSTM or type(dense) is not Dense:
        return None
    if dropout is not None and type(dropout) is not Dropout:
        return None
    if not (lstm.built and dense.built and lstm.trainable and dense.trainable):
        return None
    if (lstm.return_sequences or lstm.return_state or lstm.stateful or lstm.go_backwards
            or lstm.dropout or lstm.recurrent_dropout or dense.activation.name != "softmax"
            or np.dtype(lstm.dtype) != np.dtype(dense.dtype)):
        return None
    return lstm, dropout, dense


def train_step(model, x, y):
    """(loss, y_pred (B, V), grads in trainable_weights order), or None when the general
    step must run instead: x is not (B, T, D) with the LSTM's D, or the threads would
    split the units. Raises as the general step would on targets of the wrong shape or
    on an x that is not finite."""
    found = layers_for(model)
    if found is None:
        return None
    lstm, dropout, dense = found
    dt = np.dtype(lstm.dtype)
    x = as_float_array(x, dt, lstm.name)
    if x.ndim != 3 or x.shape[2] != lstm.input_features or 0 in x.shape:
        return None
    B, T, D = x.shape
    H, V = lstm.units, dense.units
    how, threads = _plan(B, H)
    if how == "units":
        return None
    p = np.empty((B, V), dt)                                  # the probabilities: y_pred
    t = _targets(model.loss, y, p)                            # (B, V), one-hot or soft
    keep = (np.zeros((0, 0), dt) if dropout is None or dropout.rate == 0.0 else
            np.ascontiguousarray(np.broadcast_to(dropout.draw_mask((B, H), dt), (B, H))))
    chunks = threads if how == "batch" else 1
    act, ract = codes(lstm.activation.name, lstm.recurrent_activation.name, dt)
    hs = np.empty((T + 1, B, H), dt); hs[0] = 0.0
    cs = np.empty((T + 1, B, H), dt); cs[0] = 0.0
    W, U = lstm.kernel, lstm.recurrent_kernel
    forward = (x, np.empty((T, B, D), dt), W, lstm.bias_or_zeros(), U, hs, cs,
               np.empty((T, B, 4 * H), dt), np.empty((T, B, H), dt), *scan_places(T, B, dt))
    dW = np.empty((chunks, D, 4 * H), dt)                     # each share's sums, added below
    dU = np.empty((chunks, H, 4 * H), dt)
    db = np.empty((chunks, 4 * H), dt)
    dWd = np.empty((chunks, H, V), dt)
    dbd = np.empty((chunks, V), dt)
    sums = np.zeros(chunks, np.float64)                       # each share's loss over its rows
    finite = np.zeros(chunks, np.bool_)
    head = (keep, dense.kernel, np.ascontiguousarray(dense.kernel.T), dense.bias_or_zeros(), t,
            dt.type(losses.EPSILON), dt.type(1.0 - losses.EPSILON), p, np.empty((B, H), dt))
    UT = U.T                                                  # (4H, H), a view: the threads pack it
    dc = np.zeros((B, H), dt)                                 # d c_T; each share updates its rows
    threads_run(_share, [(forward, head, dc, UT, act, ract,
                          dW[k], dU[k], db[k], dWd[k], dbd[k], sums, finite, k, b0, b1)
                         for k, (b0, b1) in enumerate(_row_ranges(B, chunks))])
    finite_x, total = _add_shares(dW, dU, db, dWd, dbd, sums, finite)
    if not finite_x:
        check_finite(x, lstm.name)                            # raises, saying where
    loss = float(dt.type(total / B))
    grads = [dW[0], dU[0]] + ([db[0]] if lstm.use_bias else [])
    grads += [dWd[0]] + ([dbd[0]] if dense.use_bias else [])
    return loss, p, grads


def _targets(loss, y, p):
    """The loss's target distribution (B, V) in p's type: y checked against p's shape
    as the loss checks it, class ids made one-hot, label smoothing applied."""
    y_true, y_pred = loss._prepare(y, p)
    return np.ascontiguousarray(loss._targets(y_true, y_pred), p.dtype)


# "No mask", as `kernels.forward` and `kernels.backward` pass it to the loops; `_none` gives
# their other stand-ins (no output copy, no recurrent dropout, no dout, no dx). The same
# arrays of the same types: the loops run as compiled for the general step.
_NO_MASK = as_mask(None, 0, 0)


def _share(forward, head, dc, UT, act, ract, dW, dU, db, dWd, dbd, sums, finite, k, b0, b1):
    """Rows b0:b1 through forward, the head and backward; this share's sums into
    dW, dU, db, dWd, dbd and sums[k]. The head and backward are skipped if these rows
    of x are not finite (finite[k] stays False)."""
    x, xt, W, b, U, hs, cs, gates, ac, ids, vals, onehot = forward
    dt = x.dtype
    T = xt.shape[0]
    _forward_rows_c(x, xt, W, b, U, hs, cs, gates, ac, _none(dt, 3), _NO_MASK, False, act, ract,
                    _none(dt, 2), ids, vals, onehot, b0, b1)
    if not _finite_rows(x, vals, onehot, b0, b1):
        return
    finite[k] = True
    dh = head[-1]
    sums[k] = _head_rows(hs[T], *head, dWd, dbd, b0, b1)
    # No d h_0 (False): the state starts at zeros that nothing trains, so its product is skipped.
    _backward_rows_c(_none(dt, 3), dh, dc, xt, W, hs, cs, gates, ac, UT, _NO_MASK, False, act, ract,
                     _none(dt, 2), ids, vals, onehot, dW, dU, db, _none(dt, 3), False, b0, b1)


@njit(cache=True, error_model="numpy")
def _add_shares(dW, dU, db, dWd, dbd, sums, finite):
    """Each weight gradient's shares (along the first axis) added into its first, in place,
    in the order NumPy's sum over that axis adds them; -> (True, the shares' loss sums
    added up: sums (chunks,) in order, as NumPy sums so few), or (False, 0.0) with nothing
    added when a share found x not finite."""
    for k in range(finite.shape[0]):
        if not finite[k]:
            return False, 0.0
    for g in (dW, dU, dWd):
        for k in range(1, g.shape[0]):
            g[0] += g[k]
    for g in (db, dbd):
        for k in range(1, g.shape[0]):
            g[0] += g[k]
    total = 0.0
    for k in range(sums.shape[0]):
        total += sums[k]
    return True, total


@njit(cache=True, nogil=True, error_model="numpy")
def _finite_rows(x, vals, onehot, b0, b1):
    """True when rows b0:b1 of x (B, T, D) hold no NaN or inf. When the forward loop found
    them one-hot (onehot[b0], `kernels._chunk_inputs`), each holds zeros and one value, kept
    in vals (T*B,), and only those are read. v 0 is 0 for a finite v and NaN otherwise;
    counting instead of returning early lets the loop vectorise."""
    T = x.shape[1]
    flat = vals[T * b0:T * b1] if onehot[b0] == b1 - b0 else x[b0:b1].reshape(-1)
    bad = 0
    for k in range(flat.shape[0]):
        v = flat[k] * 0.0
        bad += v != v
    return bad == 0


@njit(cache=True, nogil=True, error_model="numpy")
def _head_rows(hT, keep, Wd, WdT, bd, t, lo, hi, p, dh, dWd, dbd, b0, b1):
    """Rows b0:b1 of the head: Dense(softmax) on h_T (B, H), after the dropout mask `keep`
    (B, H; no rows: none), under Keras's categorical cross-entropy with targets t (B, V).

    Writes the probabilities p and d loss / d h_T into dh (both (B, ...), these rows),
    these rows' sums of the Dense's gradients into dWd (H, V) and dbd (V,); returns these
    rows' sum of the per-row losses (the loss is its mean over all B rows). The value is
    taken from the probabilities, renormalised and clipped to [lo, hi] as Keras does; the
    gradient is the fused (softmax - t) / B, which skips the clip, as `losses` does.
    """
    B, H = hT.shape
    V = Wd.shape[1]
    n = b1 - b0
    rows = hT.dtype.type(B)
    xin = np.empty((n, H), hT.dtype)                # the Dense's input: h_T after dropout
    for r in range(n):
        for j in range(H):
            xin[r, j] = hT[b0 + r, j] * keep[b0 + r, j] if keep.shape[0] > 0 else hT[b0 + r, j]
    _dense_into(xin, Wd, bd, SOFTMAX, p[b0:b1])    # the probabilities, as `predict`'s head
    dz = np.empty((n, V), hT.dtype)                 # the logits' gradient
    total = 0.0
    for r in range(n):
        z, pr, tr = dz[r], p[b0 + r], t[b0 + r]
        sp, st = pr.sum(), tr.sum()
        for k in range(V):                          # -sum t log q, q = p / sum(p) clipped
            if tr[k] != 0.0:                        # 0 log q is 0: q >= lo > 0
                total -= tr[k] * np.log(min(max(pr[k] / sp, lo), hi))
            z[k] = (pr[k] * st - tr[k]) / rows
    dot(xin.T, dz, dWd)
    dbd[...] = 0.0
    sum_rows(dz, dbd)
    dhr = dh[b0:b1]
    dot(dz, WdT, dhr)
    if keep.shape[0] > 0:
        for r in range(n):
            for j in range(H):
                dhr[r, j] *= keep[b0 + r, j]
    return total
