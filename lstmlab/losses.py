"""Keras 3 compatible losses in NumPy, with analytic gradients.

Every loss reproduces the scalar that ``keras.losses.<Class>()(y_true, y_pred)``
returns with the default ``reduction="sum_over_batch_size"``: Keras computes
a per-sample value (mean - or, for the categorical cross-entropies, sum -
over the last axis) and then averages over all remaining elements
(``keras/src/losses/loss.py::reduce_values``).  ``gradient`` is the exact
derivative of that scalar with respect to ``y_pred``, so a training loop can
back-propagate from it without an autograd engine.

Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` as Keras does
(``keras/src/backend/*/nn.py``); the gradient is zero where the clip is active,
which is what autograd through ``clip`` gives.  The cross-entropies also offer
``gradient_logits``: the fused, numerically stable gradient with respect to the
pre-activation of a final softmax/sigmoid layer (``fusable_activation``).

Computation happens in the floating dtype of ``y_pred`` (float32 or float64;
anything else is treated as Keras's default float32).
"""

import numpy as np

__all__ = [
    "EPSILON", "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber",
    "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy", "get", "serialize", "deserialize",
]

#: keras.config.epsilon(); used for clipping probabilities.
EPSILON = 1e-7


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _as_float(x):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)  # Keras's default floatx
    return x


def _align_to_pred(y_true, y_pred):
    """Keras's ``squeeze_or_expand_to_same_rank`` (losses/loss.py), seen from
    y_pred: when the ranks differ by one and the extra trailing axis has size
    1, drop or add that axis on y_true.  E.g. y_true (N,) with y_pred (N, 1),
    or y_true (N, T, 1) with y_pred (N, T).  The reduced value is the same as
    Keras's because all rows have the same length.
    """
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true[..., 0]
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        return y_true[..., None]
    return y_true


def _clip_probs(p):
    """Clip like Keras (in p's dtype) and return (clipped, inside-mask)."""
    lo, hi = p.dtype.type(EPSILON), p.dtype.type(1.0 - EPSILON)
    return np.clip(p, lo, hi), (p >= lo) & (p <= hi)


def _sigmoid(z):
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype)


def _log_softmax(z):
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _shape_error(loss, expected, y_true, y_pred, fix):
    return ValueError(
        f"{type(loss).__name__}: y_true has the wrong shape for "
        f"y_pred.shape={tuple(y_pred.shape)}. Expected {expected}. "
        f"Received y_true.shape={tuple(y_true.shape)}. Fix: {fix}"
    )


# --------------------------------------------------------------------------
# base class
# --------------------------------------------------------------------------
class Loss:
    """Base class: ``__call__``, ``gradient``, ``validate``, config."""

    #: final activation whose Jacobian ``gradient_logits`` fuses (or None).
    fusable_activation = None
    _default_name = "loss"

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        # Only Keras's default reduction is implemented: "mean" is the same
        # thing in Keras 3; "sum"/None would change what gradient() means.
        if reduction not in ("sum_over_batch_size", "mean"):
            raise ValueError(
                f"{type(self).__name__}: only reduction='sum_over_batch_size'"
                f" (Keras's default) is supported. Received: "
                f"reduction={reduction!r}"
            )
        self.reduction = reduction
        self.name = name or self._default_name
        self.dtype = dtype  # accepted for Keras configs; inputs keep theirs
        self._identifier = None  # string this loss was created from, if any

    # Subclasses implement _prepare (validate + cast), _value and _grad.
    def __call__(self, y_true, y_pred):
        y_true, y_pred = self._prepare(y_true, y_pred)
        return y_pred.dtype.type(self._value(y_true, y_pred))

    def gradient(self, y_true, y_pred):
        """d(loss)/d(y_pred), same shape and dtype as y_pred."""
        y_true, y_pred = self._prepare(y_true, y_pred)
        return self._grad(y_true, y_pred).astype(y_pred.dtype, copy=False)

    def validate(self, y_true, y_pred):
        """Raise ValueError if y_true cannot be paired with y_pred."""
        self._prepare(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


class _ElementwiseLoss(Loss):
    """Losses whose per-sample value is mean(elementwise, axis=-1).

    Keras then averages those per-sample values, so the scalar is simply the
    mean over all elements and the gradient is elementwise / size.
    """

    _expected_text = "the same shape as y_pred"

    def _prepare(self, y_true, y_pred):
        y_pred = _as_float(y_pred)
        y_true = np.asarray(y_true)
        aligned = _align_to_pred(y_true, y_pred)
        if aligned.shape != y_pred.shape:
            raise _shape_error(self, self._shape_expectation(y_pred),
                               y_true, y_pred, self._fix_hint(y_true, y_pred))
        return aligned.astype(y_pred.dtype, copy=False), y_pred

    def _shape_expectation(self, y_pred):
        alt = ""
        if y_pred.ndim >= 1 and y_pred.shape[-1] == 1:
            alt = f" (or {tuple(y_pred.shape[:-1])}, Keras squeezes/expands " \
                  "a trailing axis of size 1)"
        return f"{tuple(y_pred.shape)}, {self._expected_text}{alt}"

    def _fix_hint(self, y_true, y_pred):
        return ("reshape y_true to y_pred's shape, or change the number of "
                "output units to match the targets.")

    def _value(self, y_true, y_pred):
        # A diverging model's loss overflows to inf, which training reports with a fix
        # (Model._check_loss); as in Keras, no NumPy warning comes first.
        with np.errstate(over="ignore"):
            return np.mean(self._elementwise(y_true, y_pred))

    def _grad(self, y_true, y_pred):
        return self._elementwise_grad(y_true, y_pred) / y_pred.dtype.type(
            max(y_pred.size, 1))


# --------------------------------------------------------------------------
# regression losses (keras/src/losses/losses.py: mean_squared_error,
# mean_absolute_error, huber)
# --------------------------------------------------------------------------
class MeanSquaredError(_ElementwiseLoss):
    """mean(square(y_true - y_pred)) - keras.losses.MeanSquaredError."""

    _default_name = "mean_squared_error"

    def _elementwise(self, y_true, y_pred):
        return np.square(y_pred - y_true)

    def _elementwise_grad(self, y_true, y_pred):
        return 2 * (y_pred - y_true)


class MeanAbsoluteError(_ElementwiseLoss):
    """mean(abs(y_true - y_pred)) - keras.losses.MeanAbsoluteError.

    The subgradient at y_pred == y_true is 0, as autograd gives for abs.
    """

    _default_name = "mean_absolute_error"

    def _elementwise(self, y_true, y_pred):
        return np.abs(y_pred - y_true)

    def _elementwise_grad(self, y_true, y_pred):
        return np.sign(y_pred - y_true)


class Huber(_ElementwiseLoss):
    """0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2 (keras huber).

    Unlike Keras 3 (whose Huber.get_config forgets it), ``delta`` is in the
    config so the loss round-trips.
    """

    _default_name = "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size",
                 name=None, dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.delta = float(delta)

    def _elementwise(self, y_true, y_pred):
        err = y_pred - y_true
        abs_err = np.abs(err)
        d = y_pred.dtype.type(self.delta)
        return np.where(abs_err <= d, 0.5 * np.square(err),
                        d * abs_err - 0.5 * d * d)

    def _elementwise_grad(self, y_true, y_pred):
        err = y_pred - y_true
        d = y_pred.dtype.type(self.delta)
        return np.where(np.abs(err) <= d, err, d * np.sign(err))

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


# --------------------------------------------------------------------------
# cross-entropies
# --------------------------------------------------------------------------
class BinaryCrossentropy(_ElementwiseLoss):
    """Per-element -(t log p + (1-t) log(1-p)), averaged like Keras.

    Probabilities are clipped to [eps, 1-eps] (keras backend
    ``binary_crossentropy``); logits use the stable
    ``max(z,0) - z t + log1p(exp(-|z|))`` of
    ``torch.nn.functional.binary_cross_entropy_with_logits``.
    """

    _default_name = "binary_crossentropy"
    fusable_activation = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        if axis != -1:
            raise ValueError(f"Only axis=-1 is supported. Received: axis={axis}")
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def _fix_hint(self, y_true, y_pred):
        if y_pred.ndim >= 1 and y_pred.shape[-1] > 1 and \
                y_true.shape == y_pred.shape[:-1]:
            return ("y_true looks like integer class ids for a "
                    f"{y_pred.shape[-1]}-way output: use "
                    "'sparse_categorical_crossentropy' with a softmax output, "
                    "or give the model a single sigmoid unit.")
        return ("give y_true one 0/1 target per output unit (same shape as "
                "y_pred).")

    def _smoothed(self, y_true):
        if self.label_smoothing:
            return y_true * (1.0 - self.label_smoothing) + \
                0.5 * self.label_smoothing
        return y_true

    def _elementwise(self, y_true, y_pred):
        t = self._smoothed(y_true)
        if self.from_logits:
            z = y_pred
            return np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        p, _ = _clip_probs(y_pred)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))

    def _elementwise_grad(self, y_true, y_pred):
        t = self._smoothed(y_true)
        if self.from_logits:
            return _sigmoid(y_pred) - t
        p, inside = _clip_probs(y_pred)
        return np.where(inside, -t / p + (1 - t) / (1 - p), 0)

    def gradient_logits(self, y_true, logits):
        """d(loss)/d(logits) when y_pred = sigmoid(logits): (sigmoid - t)/size.

        Ignores the probability clip (it only matters when |logit| > ~16),
        which keeps saturated units trainable.
        """
        y_true, z = self._prepare(y_true, logits)
        g = (_sigmoid(z) - self._smoothed(y_true)) / z.dtype.type(max(z.size, 1))
        return g.astype(z.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class _CategoricalBase(Loss):
    """Shared math: per-row -sum(t * log q) over the class axis, mean over
    rows.  From probabilities, Keras first renormalises q = p / sum(p) and
    clips q (backend ``categorical_crossentropy``); the gradient goes through
    both steps.
    """

    fusable_activation = "softmax"

    def _targets(self, y_true, y_pred):
        """Dense (possibly smoothed) target distribution, y_pred's shape."""
        raise NotImplementedError

    def _value(self, y_true, y_pred):
        t = self._targets(y_true, y_pred)
        if self.from_logits:
            logq = _log_softmax(y_pred)
        else:
            q, _ = _clip_probs(y_pred / np.sum(y_pred, axis=-1, keepdims=True))
            logq = np.log(q)
        return np.mean(-np.sum(t * logq, axis=-1))

    def _rows(self, y_pred):
        return y_pred.dtype.type(max(y_pred.size // max(y_pred.shape[-1], 1), 1))

    def _grad(self, y_true, y_pred):
        t = self._targets(y_true, y_pred)
        if self.from_logits:
            return self._softmax_grad(t, y_pred)
        s = np.sum(y_pred, axis=-1, keepdims=True)
        q = y_pred / s
        qc, inside = _clip_probs(q)
        g = np.where(inside, -t / qc, 0)                    # dL/dq
        # q_k = p_k / s  =>  dq_k/dp_j = (delta_kj - q_k) / s
        dp = (g - np.sum(g * q, axis=-1, keepdims=True)) / s
        return dp / self._rows(y_pred)

    def _softmax_grad(self, t, z):
        shifted = np.exp(z - np.max(z, axis=-1, keepdims=True))
        soft = shifted / np.sum(shifted, axis=-1, keepdims=True)
        # d/dz of -sum(t * log_softmax(z)) = softmax(z) * sum(t) - t
        return (soft * np.sum(t, axis=-1, keepdims=True) - t) / self._rows(z)

    def gradient_logits(self, y_true, logits):
        """d(loss)/d(logits) when y_pred = softmax(logits): (softmax - t)/rows.

        Ignores the probability clip, so saturated softmax outputs still get
        a gradient (the stable fused form every framework uses).
        """
        y_true, z = self._prepare(y_true, logits)
        g = self._softmax_grad(self._targets(y_true, z), z)
        return g.astype(z.dtype, copy=False)


class CategoricalCrossentropy(_CategoricalBase):
    """keras.losses.CategoricalCrossentropy: one-hot (or soft) y_true with
    y_pred's shape."""

    _default_name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        if axis != -1:
            raise ValueError(f"Only axis=-1 is supported. Received: axis={axis}")
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def _prepare(self, y_true, y_pred):
        y_pred = _as_float(y_pred)
        y_true = np.asarray(y_true)
        if y_pred.ndim < 1:
            raise ValueError(f"{type(self).__name__}: y_pred must have a class "
                             f"axis. Received y_pred.shape={y_pred.shape}")
        aligned = _align_to_pred(y_true, y_pred)
        if aligned.shape != y_pred.shape:
            n_cls = y_pred.shape[-1]
            if y_true.shape in (y_pred.shape[:-1], y_pred.shape[:-1] + (1,)):
                fix = ("y_true looks like integer class ids. Use "
                       "loss='sparse_categorical_crossentropy' for integer "
                       "labels, or one-hot encode them first "
                       f"(np.eye({n_cls})[y_true]).")
            else:
                fix = (f"give y_true one-hot rows of length {n_cls} "
                       "(the number of output units).")
            raise _shape_error(self, f"one-hot y_true of shape "
                               f"{tuple(y_pred.shape)} (same as y_pred)",
                               y_true, y_pred, fix)
        return aligned.astype(y_pred.dtype, copy=False), y_pred

    def _targets(self, y_true, y_pred):
        if self.label_smoothing:
            n = y_pred.shape[-1]
            return y_true * (1.0 - self.label_smoothing) + \
                self.label_smoothing / n
        return y_true

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(_CategoricalBase):
    """keras.losses.SparseCategoricalCrossentropy: integer class ids of shape
    y_pred.shape[:-1] (a trailing axis of size 1 is squeezed, as in Keras)."""

    _default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None,
                 reduction="sum_over_batch_size", axis=-1, name=None,
                 dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        if ignore_class is not None:
            raise ValueError("ignore_class is not supported. Received: "
                             f"ignore_class={ignore_class}")
        if axis != -1:
            raise ValueError(f"Only axis=-1 is supported. Received: axis={axis}")
        self.from_logits = bool(from_logits)
        self.ignore_class = None

    def _prepare(self, y_true, y_pred):
        y_pred = _as_float(y_pred)
        y_true = np.asarray(y_true)
        if y_pred.ndim < 1:
            raise ValueError(f"{type(self).__name__}: y_pred must have a class "
                             f"axis. Received y_pred.shape={y_pred.shape}")
        want, n_cls = y_pred.shape[:-1], y_pred.shape[-1]
        if y_true.shape == want + (1,):
            y_true = y_true[..., 0]
        if y_true.shape != want:
            if y_true.shape == y_pred.shape and n_cls > 1:
                fix = ("y_true looks one-hot. Use "
                       "loss='categorical_crossentropy' for one-hot targets, "
                       "or pass np.argmax(y_true, axis=-1).")
            else:
                fix = ("pass one integer class id per output row, shaped "
                       "like y_pred without its last axis.")
            raise _shape_error(self, f"integer class ids of shape {tuple(want)}"
                               f" or {tuple(want) + (1,)}", y_true, y_pred, fix)
        if y_true.size:
            if np.issubdtype(y_true.dtype, np.floating) and \
                    not np.all(y_true == np.floor(y_true)):
                raise ValueError(
                    f"{type(self).__name__}: y_true must hold integer class "
                    "ids. Received non-integer values, e.g. "
                    f"{y_true[y_true != np.floor(y_true)].flat[0]}. Fix: use "
                    "'categorical_crossentropy' for probability targets.")
            lo, hi = y_true.min(), y_true.max()
            if lo < 0 or hi >= n_cls:
                raise ValueError(
                    f"{type(self).__name__}: class ids must be in "
                    f"[0, {n_cls}) for y_pred with {n_cls} classes. Received "
                    f"ids in [{lo}, {hi}]. Fix: give the output layer at "
                    f"least {int(hi) + 1} units, or re-map the labels.")
        return y_true.astype(np.intp), y_pred

    def _targets(self, y_true, y_pred):
        onehot = np.zeros_like(y_pred)
        np.put_along_axis(onehot, y_true[..., None], 1, axis=-1)
        return onehot

    def _value(self, y_true, y_pred):
        # Gather instead of a dense one-hot product (same value).
        idx = y_true[..., None]
        if self.from_logits:
            logq = np.take_along_axis(_log_softmax(y_pred), idx, axis=-1)
        else:
            q = y_pred / np.sum(y_pred, axis=-1, keepdims=True)
            logq = np.log(_clip_probs(np.take_along_axis(q, idx, -1))[0])
        return np.mean(-logq)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "ignore_class": self.ignore_class}


# --------------------------------------------------------------------------
# lookup / serialization (keras/src/losses/__init__.py)
# --------------------------------------------------------------------------
_CLASSES = (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy,
            CategoricalCrossentropy, SparseCategoricalCrossentropy)

_NAMES = {cls.__name__: cls for cls in _CLASSES}
_NAMES.update({
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
})


def _unknown(identifier):
    names = ", ".join(repr(n) for n in sorted(_NAMES))
    return ValueError(f"Unknown loss: {identifier!r}. Expected one of: "
                      f"{names}. Received: {identifier!r}.")


def get(identifier):
    """Loss instance from a name, a Keras-style config dict, a Loss subclass
    or an instance (returned unchanged).  ``None`` gives ``None``."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _NAMES:
            raise _unknown(identifier)
        loss = _NAMES[identifier]()
        loss._identifier = identifier
        return loss
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. "
                     "Expected a loss name, a config dict or a Loss instance.")


def deserialize(config):
    """Inverse of ``serialize`` (also reads ``keras.losses.serialize``)."""
    if isinstance(config, str):
        return get(config)
    if "class_name" not in config:
        raise ValueError("A loss config dict needs a 'class_name' key. "
                         f"Received keys: {sorted(config)}")
    name = config["class_name"]
    if name not in _NAMES:
        raise _unknown(name)
    return _NAMES[name].from_config(dict(config.get("config") or {}))


def serialize(loss):
    """The string a loss was requested by, else a Keras-style config dict."""
    if isinstance(loss, str):
        get(loss)  # validates the name
        return loss
    if loss._identifier is not None:
        return loss._identifier
    return {"module": "keras.losses", "class_name": type(loss).__name__,
            "config": loss.get_config(), "registered_name": None}
