"""The whole of `fit`, or of `predict`, in one compiled call, for the tutorials' model: LSTM -> Dense.

`Sequential([LSTM(H), Dense(O)])` trained on mean squared error with Adam is
the seed program and most forecasting tutorials. For it, every epoch and every
batch runs inside one Numba function: the same engine loops (`_forward_rows`,
`_backward_rows`), the same Dense and MSE gradients and Keras's Adam update,
in the same order and float type as the general loop in `training.py`, so the
losses and weights agree with it to rounding (a test checks). What it saves is
the Python around each step: for 5 samples of 1 step, ~100 µs of Python per
epoch against ~3 µs of arithmetic.

Used only when nothing would notice: no callbacks but History, no validation,
no metrics, verbose=0, no dropout or masks, a stateless LSTM reading forwards
with tanh and sigmoid, a linear Dense head, and Adam without clipping, weight
decay or amsgrad at a constant learning rate. Otherwise `fit` runs the
general loop.

`predict` on such a model (any LSTM activations, a linear or relu head, a
Dropout between them or not) runs every batch and the head in one call too,
when its batches are small enough for the engine's single-threaded loop: the
same kernels as `Sequential.forward`, so the same numbers to the last bit,
without the Python around them (the seed model's predict: ~37 -> ~15 µs).
"""
import numpy as np
from numba import njit

from ..engine.blas import product
from ..engine.kernels import _backward_rows_c, _forward_rows_c, _plan, codes, scan_places
from ..engine.projection import sum_rows
from ..layers import LSTM, Dense, Dropout
from ..state import _DENSE_CODES, _dense_into
from ..losses import MeanSquaredError
from ..optimizers import Adam, _adam_step


def eligible(model, callbacks, validation_data, verbose, shuffle, initial_epoch):
    layers = model.layers
    if len(layers) != 2 or callbacks or validation_data is not None or verbose or model._metric_ids:
        return False
    lstm, dense = layers
    opt = model.optimizer
    return (type(lstm) is LSTM and type(dense) is Dense and type(model.loss) is MeanSquaredError
            and type(opt) is Adam and not opt.amsgrad and opt.weight_decay is None
            and not (opt.clipnorm or opt.clipvalue or opt.global_clipnorm)
            and opt.loss_scale_factor is None and not callable(opt._learning_rate)
            and not lstm.stateful and not lstm.go_backwards and not lstm.return_sequences
            and lstm.dropout == 0 and lstm.recurrent_dropout == 0
            and lstm.activation.name == "tanh" and lstm.recurrent_activation.name == "sigmoid"
            and dense.activation.name == "linear" and lstm.trainable and dense.trainable
            and lstm.dtype == dense.dtype and shuffle in (True, False) and initial_epoch == 0)


def fit(model, x, y, batch_size, epochs, shuffle, rng):
    """Train in one call; returns the per-epoch losses (or raises on a non-finite loss)."""
    lstm, dense = model.layers
    dt = np.dtype(lstm.dtype)
    x = np.ascontiguousarray(x, dt)
    y = np.ascontiguousarray(model.loss._prepare(y, np.zeros((len(x), dense.units), dt))[0], dt)
    n = len(x)
    # The same permutations, drawn in the same order, as the general loop draws them.
    order = np.stack([rng.permutation(n) for _ in range(epochs)]) if shuffle and epochs > 0 else \
        np.zeros((0, 0), np.int64)
    opt = model.optimizer
    params = model.trainable_weights
    opt._check_params(params)                      # builds the slots on the first fit
    m = [opt._slots["momentum"][i] for i in range(len(params))]
    v = [opt._slots["velocity"][i] for i in range(len(params))]
    t = dt.type
    b, bd = lstm.bias_or_zeros(), dense.bias_or_zeros()
    use_bias = (lstm.use_bias, dense.use_bias)
    # Params in trainable_weights order; zero stand-ins where a layer has no bias.
    slots = []
    k = 0
    for present in (True, True, use_bias[0], True, use_bias[1]):
        slots.append((m[k], v[k]) if present else (np.zeros(1, dt), np.zeros(1, dt)))
        k += present
    losses = np.zeros(epochs, np.float64)
    status = np.zeros(3, np.int64)                 # [ok, epoch, batch] of a non-finite loss
    act, ract = codes("tanh", "sigmoid", dt)
    _fit(x, y, lstm.kernel, lstm.recurrent_kernel, b, dense.kernel, bd,
         slots[0][0], slots[0][1], slots[1][0], slots[1][1], slots[2][0], slots[2][1],
         slots[3][0], slots[3][1], slots[4][0], slots[4][1], use_bias[0], use_bias[1],
         order, batch_size, epochs, opt.iterations, t(opt.learning_rate), t(opt.beta_1),
         t(opt.beta_2), t(1 - opt.beta_1), t(1 - opt.beta_2), t(opt.epsilon), t(1.0), act, ract,
         losses, status)
    opt.iterations += int(status[2])
    if status[0]:
        model._check_loss(float("nan"), int(status[0]) - 1, int(status[1]))
    return losses


@njit(inline="always", cache=True, error_model="numpy")
def _put_sample(xb, r, x, i):
    """Sample i of x (N, T, D) into row r of the batch xb (n, T, D), value by value (Numba's
    row assignment is 6x slower)."""
    for s in range(x.shape[1]):
        for d in range(x.shape[2]):
            xb[r, s, d] = x[i, s, d]


@njit(inline="always", cache=True, error_model="numpy")
def _unmasked_rows():
    """The engine loops' b0 = 0 and zero_output = False, typed as the run-time int64 and bool
    that `kernels` passes them: Numba compiles a function once more for each literal argument
    (0, False), and with it every function it calls."""
    return np.int64(0), np.bool_(False)


@njit(cache=True, error_model="numpy")
def _copy_flat(dst, src):
    """dst[...] = src for two C-ordered arrays of one shape, as a loop over their values."""
    d, s = dst.reshape(-1), src.reshape(-1)
    for k in range(d.shape[0]):
        d[k] = s[k]


@njit(cache=True, error_model="numpy")
def _copy_all(dst, src):
    """Each of the five weights of dst (W, U, b, Wd, bd) = its counterpart in src."""
    _copy_flat(dst[0], src[0])
    _copy_flat(dst[1], src[1])
    _copy_flat(dst[2], src[2])
    _copy_flat(dst[3], src[3])
    _copy_flat(dst[4], src[4])


@njit(cache=True, error_model="numpy")
def _adam(p, g, m, v, alpha, omb1, omb2, eps):
    """The optimizer's own Adam update, on flat views of any-shaped weights."""
    _adam_step(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), alpha, omb1, omb2, eps)


@njit(cache=True, error_model="numpy")
def _fit(x, y, W, U, b, Wd, bd, mW, vW, mU, vU, mb, vb, mWd, vWd, mbd, vbd, lstm_bias, dense_bias,
         order, batch_size, epochs, iterations, lr, b1, b2, omb1, omb2, eps, one, act, ract, losses,
         status):
    """x (N, T, D), y (N, O); every epoch and batch of Keras's fit, in place on the weights.

    `one` is 1 in the weights' float type, so that Adam's step size is computed
    in that type, as the general loop computes it.
    """
    N, T, D = x.shape
    H = U.shape[0]
    O = Wd.shape[1]
    UT = U.T                                        # a view: Adam's updates of U show through it
    no_mask = np.zeros((0, 0), np.uint8)
    no_rmask = np.zeros((0, 0), x.dtype)
    no_out = np.zeros((0, 0, 0), x.dtype)
    no_dx = np.zeros((0, 0, 0), x.dtype)
    first_row, zero_output = _unmasked_rows()
    dW, dU, db = np.empty_like(W), np.empty_like(U), np.empty_like(b)
    steps = 0
    # The last weights that gave a finite loss, restored if a loss is not (as training.py does).
    good = (W.copy(), U.copy(), b.copy(), Wd.copy(), bd.copy())
    for epoch in range(epochs):
        total = 0.0
        batch = 0
        for lo in range(0, N, batch_size):
            nb = min(batch_size, N - lo)
            xb = np.empty((nb, T, D), x.dtype)
            xt = np.empty((T, nb, D), x.dtype)      # xb time-major, as the engine keeps it
            yb = np.empty((nb, O), x.dtype)
            for r in range(nb):
                i = order[epoch, lo + r] if order.shape[0] > 0 else lo + r
                _put_sample(xb, r, x, i)
                for o in range(O):
                    yb[r, o] = y[i, o]
            hs = np.zeros((T + 1, nb, H), x.dtype)
            cs = np.zeros((T + 1, nb, H), x.dtype)
            gates = np.empty((T, nb, 4 * H), x.dtype)
            ac = np.empty((T, nb, H), x.dtype)
            ids, vals, onehot = scan_places(T, nb, x.dtype)
            _forward_rows_c(xb, xt, W, b, U, hs, cs, gates, ac, no_out, no_mask, zero_output, act, ract,
                            no_rmask, ids, vals, onehot, first_row, nb)
            hT = np.ascontiguousarray(hs[T])
            dyp = product(hT, Wd)                   # the prediction, less its bias, for now
            # Keras's mean squared error and its gradient, in training.py's order of operations
            # and np.mean's (a sum in the float type). Written as loops: the array expressions
            # they replace cost seconds of compilation, mostly their shape errors' formatting.
            scale = x.dtype.type(2.0) / x.dtype.type(nb * O)
            squares = x.dtype.type(0.0)
            for r in range(nb):
                for o in range(O):
                    d = dyp[r, o] + bd[o] - yb[r, o]
                    squares += d * d
                    dyp[r, o] = d * scale           # now d loss / d prediction
            loss = x.dtype.type(squares / (nb * O))
            if not np.isfinite(loss):
                _copy_all((W, U, b, Wd, bd), good)
                status[0], status[1], status[2] = epoch + 1, batch, steps
                return
            _copy_all(good, (W, U, b, Wd, bd))
            dWd = product(hT.T, dyp)
            dbd = np.zeros(O, x.dtype)
            sum_rows(dyp, dbd)
            dh = product(dyp, Wd.T)
            dc = np.zeros((nb, H), x.dtype)
            dout = np.zeros((0, nb, H), x.dtype)    # no steps: only h_T's gradient, in dh
            # No d h_0 (False): the state starts at zeros that nothing trains.
            _backward_rows_c(dout, dh, dc, xt, W, hs, cs, gates, ac, UT, no_mask, zero_output, act, ract,
                             no_rmask, ids, vals, onehot, dW, dU, db, no_dx, False, first_row, nb)
            step = x.dtype.type(iterations + steps + 1)
            alpha = lr * np.sqrt(one - b2 ** step) / (one - b1 ** step)
            _adam(W, dW, mW, vW, alpha, omb1, omb2, eps)
            _adam(U, dU, mU, vU, alpha, omb1, omb2, eps)
            if lstm_bias:
                _adam(b, db, mb, vb, alpha, omb1, omb2, eps)
            _adam(Wd, dWd, mWd, vWd, alpha, omb1, omb2, eps)
            if dense_bias:
                _adam(bd, dbd, mbd, vbd, alpha, omb1, omb2, eps)
            steps += 1
            total += loss * nb
            batch += 1
        losses[epoch] = total / N
    status[2] = steps


# Heads whose compiled form (state._dense_into) is Dense.forward's arithmetic
# exactly; others (softmax, sigmoid, tanh) may differ in the last bit.
_EXACT_HEADS = ("linear", "relu")


def predict_layers(model, x, batch_size):
    """(lstm, dense) when `predict(x)` can run in one compiled call, else None."""
    layers = [layer for layer in model.layers if type(layer) is not Dropout]
    if len(layers) != 2 or not model.built:
        return None
    lstm, dense = layers
    if type(lstm) is not LSTM or type(dense) is not Dense or not (lstm.built and dense.built):
        return None
    if (lstm.stateful or lstm.go_backwards or lstm.return_state or lstm.dtype != dense.dtype
            or dense.activation.name not in _EXACT_HEADS):
        return None
    if (not isinstance(x, np.ndarray) or x.ndim != 3 or x.dtype.kind not in "biuf" or 0 in x.shape
            or x.shape[2] != lstm.kernel.shape[0]):
        return None
    if _plan(min(batch_size, len(x)), lstm.units) != ("rows", 1):
        return None                                # threads pay here: the general loop uses them
    return lstm, dense


def predict(lstm, dense, x, batch_size):
    """The model's output for x (N, T, D): (N, O), or (N, T, O) when the LSTM returns
    sequences; None if x holds NaN or inf (the general loop then says where)."""
    dt = np.dtype(lstm.dtype)
    x = np.ascontiguousarray(x, dt)
    N, T = x.shape[:2]
    O = dense.units
    out = np.empty((N, T, O) if lstm.return_sequences else (N, O), dt)
    act, ract = codes(lstm.activation.name, lstm.recurrent_activation.name, dt)
    b, bd = lstm.bias_or_zeros(), dense.bias_or_zeros()
    ok = _predict(x, lstm.kernel, lstm.recurrent_kernel, b, act, ract, dense.kernel, bd,
                  _DENSE_CODES[dense.activation.name], batch_size, out)
    return out if ok else None


@njit(cache=True, error_model="numpy")
def _predict(x, W, U, b, act, ract, Wd, bd, head, batch_size, out):
    """x (N, T, D) -> out (N, O) from the last step, or (N, T, O) from every step; batch by
    batch from zero states, as Sequential.forward. False, with nothing written, if x is not finite."""
    N, T, D = x.shape
    H, O = U.shape[0], Wd.shape[1]
    flat = x.reshape(-1)
    for i in range(flat.shape[0]):
        if not np.isfinite(flat[i]):
            return False
    no_mask = np.zeros((0, 0), np.uint8)
    no_rmask = np.zeros((0, 0), x.dtype)
    no_out = np.zeros((0, 0, 0), x.dtype)
    first_row, zero_output = _unmasked_rows()
    for lo in range(0, N, batch_size):
        nb = min(batch_size, N - lo)
        xb = x[lo:lo + nb]                          # the batch, copied time-major into xt by the loop
        xt = np.empty((T, nb, D), x.dtype)
        hs = np.zeros((T + 1, nb, H), x.dtype)
        cs = np.zeros((T + 1, nb, H), x.dtype)
        gates = np.empty((T, nb, 4 * H), x.dtype)
        ac = np.empty((T, nb, H), x.dtype)
        ids, vals, onehot = scan_places(T, nb, x.dtype)
        _forward_rows_c(xb, xt, W, b, U, hs, cs, gates, ac, no_out, no_mask, zero_output, act, ract, no_rmask,
                        ids, vals, onehot, first_row, nb)
        if out.ndim == 2:
            _dense_into(hs[T], Wd, bd, head, out[lo:lo + nb])
        else:
            # Every step's h in one product, rows in Dense's order (sample, step), which is
            # out's: the BLAS may sum a product of another shape in another order, in other bits.
            hseq = np.empty((nb * T, H), x.dtype)
            for r in range(nb):
                for s in range(T):
                    hseq[r * T + s] = hs[s + 1, r]
            _dense_into(hseq, Wd, bd, head, out[lo:lo + nb].reshape(nb * T, O))
    return True
