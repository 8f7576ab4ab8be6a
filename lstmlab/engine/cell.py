"""The pointwise half of one LSTM step for one batch row, forward and backward,
and what a step the mask skips does instead.

Shared by the kernels that split the batch (`kernels.py`) and the ones that
split the units (`units.py`). Every argument is a 1-D view of n units that
starts at 0 (gates[t, b, H + u0:H + u1], never gates[t, b] indexed with H + j):
LLVM then knows no index is negative and vectorises the loops.
"""
import numpy as np
from numba import njit

from .pointwise import (FASTMATH, FAST_SIGMOID, FAST_TANH, SIGMOID, TANH, act_slice, dact_scalar, fast_sigmoid,
                        fast_tanh)

# A float32 one, so that float32 arithmetic stays float32 (a float64 literal
# would promote it); with float64 values it promotes to float64 as it should.
ONE = np.float32(1.0)

OPTIONS = dict(inline="always", fastmath=FASTMATH, cache=True, error_model="numpy")


@njit(**OPTIONS)
def forward(gi, gf, gg, go, c_prev, c_new, a, h_new, act, ract):
    """gi, gf, gg, go hold pre-activations and are activated in place; then
    c_new = f c_prev + i g, a = act(c_new), h_new = o a."""
    if act == FAST_TANH and ract == FAST_SIGMOID:
        _forward_fast(gi, gf, gg, go, c_prev, c_new, a, h_new)
        return
    act_slice(gi, ract)
    act_slice(gf, ract)
    act_slice(gg, act)
    act_slice(go, ract)
    for j in range(a.shape[0]):
        c_new[j] = gf[j] * c_prev[j] + gi[j] * gg[j]
        a[j] = c_new[j]
    act_slice(a, act)
    for j in range(a.shape[0]):
        h_new[j] = go[j] * a[j]


@njit(**OPTIONS)
def _forward_fast(gi, gf, gg, go, c_prev, c_new, a, h_new):
    """`forward` for float32's tanh and sigmoid, the same arithmetic in two loops.

    The four gates in one loop: each value's activation is a chain of about 35 cycles
    (a polynomial, then a division), and four independent chains an iteration keep
    more of them in flight than one loop a gate does (measured: the forward pass's
    pointwise work at B=32, H=64 took 0.82-0.86 of the time, to the same bits).
    """
    for j in range(a.shape[0]):
        gi[j] = fast_sigmoid(gi[j])
        gf[j] = fast_sigmoid(gf[j])
        gg[j] = fast_tanh(gg[j])
        go[j] = fast_sigmoid(go[j])
    for j in range(a.shape[0]):
        c = gf[j] * c_prev[j] + gi[j] * gg[j]
        c_new[j] = c
        a[j] = fast_tanh(c)
        h_new[j] = go[j] * a[j]


@njit(**OPTIONS)
def backward(gi, gf, gg, go, a, c_prev, dh, dc, dout, drep, di, df, dg, do, act, ract):
    """From the saved gates and a = act(c_t): the pre-activation gradients di, df, dg, do.

    In: dh, dc (d h_t, d c_t from the step after), dout (the output's gradient),
    drep (what reaches out_t through later masked repeats; zeroed here).
    dout and drep empty: neither exists (only h_T's gradient, no mask), d h_t is dh.
    Out: di, df, dg, do, and dc becomes d c_{t-1}.
    """
    tanh_sigmoid = (act == TANH or act == FAST_TANH) and (ract == SIGMOID or ract == FAST_SIGMOID)
    if tanh_sigmoid and dout.shape[0] == 0:
        # Two streams fewer to read, one fewer to write (measured: 0.87 of the time at B=32, H=64).
        for j in range(a.shape[0]):
            _tanh_sigmoid_at(j, dh[j], gi, gf, gg, go, a, c_prev, dc, di, df, dg, do)
    elif tanh_sigmoid:
        for j in range(a.shape[0]):
            dht = dh[j] + dout[j] + drep[j]
            drep[j] = 0.0
            _tanh_sigmoid_at(j, dht, gi, gf, gg, go, a, c_prev, dc, di, df, dg, do)
    else:
        _backward_any(gi, gf, gg, go, a, c_prev, dh, dc, dout, drep, di, df, dg, do, act, ract)


@njit(**OPTIONS)
def _tanh_sigmoid_at(j, dht, gi, gf, gg, go, a, c_prev, dc, di, df, dg, do):
    """`backward` at unit j for tanh and sigmoid, their derivatives written out, from
    d h_t = dht; inlined into each of its loops."""
    i, f, g, o = gi[j], gf[j], gg[j], go[j]
    dct = dc[j] + dht * o * (ONE - a[j] * a[j])
    di[j] = dct * g * i * (ONE - i)
    df[j] = dct * c_prev[j] * f * (ONE - f)
    dg[j] = dct * i * (ONE - g * g)
    do[j] = dht * a[j] * o * (ONE - o)
    dc[j] = dct * f


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _backward_any(gi, gf, gg, go, a, c_prev, dh, dc, dout, drep, di, df, dg, do, act, ract):
    """`backward` for any activations, each derivative through dact_scalar. Called, not
    inlined like `backward`: a second vectorised copy of this loop in every kernel cost
    seconds of compilation, for activations that are rarely used."""
    given = dout.shape[0] > 0                       # else no dout and no drep: d h_t is dh
    for j in range(a.shape[0]):
        dht = dh[j]
        if given:
            dht = dht + dout[j] + drep[j]
            drep[j] = 0.0
        i, f, g, o = gi[j], gf[j], gg[j], go[j]
        dct = dc[j] + dht * o * dact_scalar(a[j], act)
        di[j] = dct * g * dact_scalar(i, ract)
        df[j] = dct * c_prev[j] * dact_scalar(f, ract)
        dg[j] = dct * i * dact_scalar(g, act)
        do[j] = dht * a[j] * dact_scalar(o, ract)
        dc[j] = dct * f


@njit(**OPTIONS)
def masked(taken, repeat, h_prev, c_prev, h_new, c_new, o, o_prev):
    """The output o of a step under a mask. Taken: o = h_new. Skipped: the state
    carries over (h_new, c_new = h_prev, c_prev) and o repeats the last output
    o_prev when `repeat`, else is zero (zero_output, or the first step)."""
    if taken:
        for j in range(o.shape[0]):
            o[j] = h_new[j]
    else:
        for j in range(o.shape[0]):
            c_new[j] = c_prev[j]
            h_new[j] = h_prev[j]
        if repeat:
            for j in range(o.shape[0]):
                o[j] = o_prev[j]
        else:
            for j in range(o.shape[0]):
                o[j] = 0.0


@njit(**OPTIONS)
def skipped(dout, drep, d, zero_output):
    """Backward through a step the mask skipped: no gate gradients (d = 0); out_t's
    gradient dout joins drep, what reaches the last taken step through the repeats,
    unless the skipped outputs were zeros."""
    for j in range(drep.shape[0]):
        drep[j] = 0.0 if zero_output else dout[j] + drep[j]
    for k in range(d.shape[0]):
        d[k] = 0.0
