"""Generating text in one compiled call: sample, step, repeat, with no Python in between.

`generate_text(mode="state")` feeds each sampled character back into the
model. Through `Stream.step` every character pays for a few Python calls and
array checks next to the LSTM's step. For the usual character model (the
characters one-hot, scaled or embedded, one LSTM, Dropout (the identity
here), a Dense head) the whole loop runs here instead, character after
character:

    id_k = sample(out_{k-1});  (h, c) = LSTM step(x(id_k), h, c);  out_k = head(h)

with the stream's own compiled pieces (`kernels.step_into`,
`state._dense_into`), so the numbers are the stream's. Sampling is that of
`text._sample`: the argmax at temperature 0, else softmax(log p / T) (or
logits / T) drawn by inverse CDF from the caller's Generator, one uniform draw
per character in the order `Generator.choice` would take them, so the same
seed gives the same text either way.
"""
import numpy as np
from numba import njit

from .engine.kernels import step_into
from .layers import LSTM, Dense, Dropout, Embedding
from .state import _DENSE_CODES, _dense_into

# _sample's answers that are not ids: the output was not probabilities, or not finite.
NOT_PROBABILITIES, NOT_FINITE = -1, -2


@njit(cache=True, error_model="numpy")
def _sample(out, temperature, logits, u, z):
    """An id from one output row out (V,): argmax at temperature 0 (the first NaN
    if any, as np.argmax), else inverse-CDF sampling at uniform u. z (V,) float64
    is scratch. Returns NOT_PROBABILITIES or NOT_FINITE instead when it cannot."""
    V = out.shape[0]
    if temperature == 0.0:
        best = 0
        for k in range(V):
            if np.isnan(out[k]):
                return k
            if out[k] > out[best]:
                best = k
        return best
    for k in range(V):
        v = np.float64(out[k])
        if logits:
            z[k] = v
        else:
            if v < 0.0 or not np.isfinite(v):
                return NOT_PROBABILITIES
            z[k] = np.log(max(v, 1e-300))
    top = -np.inf
    for k in range(V):
        z[k] /= temperature
        top = max(top, z[k])
    if not np.isfinite(top):
        return NOT_FINITE
    total = 0.0
    for k in range(V):
        z[k] = np.exp(z[k] - top)
        total += z[k]
    cdf = 0.0                                   # cumsum of p = z / total, then / its last value
    for k in range(V):
        z[k] = cdf = cdf + z[k] / total
    if not np.isfinite(cdf):
        return NOT_FINITE
    for k in range(V):                          # searchsorted(cdf, u, side="right")
        if z[k] / cdf > u:
            return k
    return V - 1


@njit(cache=True, error_model="numpy")
def _generate(table, W, U, b, act, ract, h, c, z, hU, Wd, bd, head, out, temperature, logits, uniforms, ids):
    """ids (n,) sampled one after another; between two, the LSTM steps on table[id] (D,).

    h, c (1, H): the state after the seed, advanced in place to the state
    after the last id but one was fed. out (1, V): the head's output after the
    seed, overwritten as it goes. z, hU: the stream's scratch for `step_into`.
    Returns 0, or _sample's code for what stopped it.
    """
    n = ids.shape[0]
    H = h.shape[1]
    x = np.empty((1, table.shape[1]), table.dtype)
    h_new, c_new = np.empty_like(h), np.empty_like(c)
    scratch = np.empty(out.shape[1], np.float64)
    for k in range(n):
        i = _sample(out[0], temperature, logits, uniforms[k] if uniforms.shape[0] else 0.0, scratch)
        if i < 0:
            return i
        ids[k] = i
        if k + 1 == n:
            break
        row = table[i]
        for d in range(row.shape[0]):
            x[0, d] = row[d]
        step_into(x, W, U, b, h, c, act, ract, z, hU, h_new, c_new)
        for j in range(H):
            h[0, j] = h_new[0, j]
            c[0, j] = c_new[0, j]
        _dense_into(h, Wd, bd, head, out)
    return 0


def _table(first, V, kind, dtype):
    """(V, D): the LSTM's input for each character id, as the stream's loop encodes it."""
    if first is not None:                       # an Embedding
        return np.ascontiguousarray(first.embeddings, dtype)
    from .text import _encode_inputs            # (text imports this module)
    return np.ascontiguousarray(_encode_inputs(np.arange(V), V, kind), dtype)


def plan(model, V, kind):
    """(table, lstm, dense) when the model is [Embedding] LSTM [Dropout...] Dense with a head
    the compiled step knows and one float type throughout; else None (the stream's loop runs)."""
    # Exact types: a subclass may compute its own way, which only the stream's loop follows.
    layers = [layer for layer in model.layers if type(layer) is not Dropout]
    first = layers[0] if layers and type(layers[0]) is Embedding else None
    rest = layers[1:] if first is not None else layers
    if first is None and kind == "ids":
        return None
    if len(rest) != 2 or type(rest[0]) is not LSTM or type(rest[1]) is not Dense:
        return None
    lstm, dense = rest
    if lstm.go_backwards or dense.activation.name not in _DENSE_CODES:
        return None
    dtype = np.dtype(lstm.dtype)
    if np.dtype(dense.dtype) != dtype or dense.kernel.shape != (lstm.units, V):
        return None
    table = _table(first, V, kind, dtype)
    if table.shape[1] != lstm.kernel.shape[0]:
        return None
    return table, lstm, dense


def sample_ids(stream, compiled, out, length, temperature, rng, logits):
    """`length` ids from the stream's current state and its last output out (V,),
    each fed back before the next is drawn; the stream's state moves along.
    compiled: `plan`'s answer for the stream's model. -> (ids, the last output (V,))."""
    table, lstm, dense = compiled
    st = stream._lstm_steps[0]                  # the stream's LSTM step, with its Dense head fused in
    head = st.head
    V = out.shape[-1]
    head_out = np.ascontiguousarray(np.asarray(out, dense.dtype).reshape(1, V))
    uniforms = rng.random(length) if temperature > 0 else np.empty(0)
    ids = np.empty(length, np.int64)
    act, ract = st.codes
    status = _generate(table, lstm.kernel, lstm.recurrent_kernel, st.b, act, ract, st.h, st.c, st.z, st.hU,
                       dense.kernel, head.b, head.code, head_out, float(temperature), bool(logits),
                       uniforms, ids)
    check_status(status, head_out)
    return [int(i) for i in ids], head_out[0]


def check_status(status, out):
    """Raise what `_sample`'s code says about the model's output `out`; nothing for 0."""
    if status == NOT_PROBABILITIES:
        raise ValueError(
            "generate_text expects probabilities (a softmax output) or logits from a linear "
            f"last layer. The model returned values such as {out.min():.4g}."
        )
    if status == NOT_FINITE:
        raise ValueError(
            f"The model's output is not finite (values such as {out.max():.4g}): it cannot be "
            f"sampled. Check the model's weights (a diverged training gives NaN)."
        )
