"""Keras 3 compatible metrics in NumPy.

A metric turns each batch into per-sample values and keeps a running
``total`` and ``count`` exactly like ``keras.metrics.Mean``
(``keras/src/metrics/reduction_metrics.py``): values are averaged over every
axis but the first, ``total += sum(values)`` and ``count += batch size`` (or
``sum(sample_weight)``), so ``result()`` is the mean over all samples seen -
batches are weighted by their size, not averaged.  ``RootMeanSquaredError``
takes the square root of that running mean at the end
(``regression_metrics.py``), not a mean of per-batch roots.

The ``name`` of a metric made from a string is that string, because Keras 3's
``compile`` does the same (``trainers/compile_utils.py::get_metric``): it is
the key that appears in ``history.history`` ('mae', 'acc', 'accuracy', ...).
Accumulators are float64; Keras's are float32, so results agree to ~1e-7.
"""

import re

import numpy as np

__all__ = [
    "Metric", "MeanMetricWrapper", "MeanSquaredError", "MeanAbsoluteError",
    "RootMeanSquaredError", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "AutoAccuracy", "get", "resolve",
    "mean_squared_error", "mean_absolute_error", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy",
]


def _float(x):
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


def _squeeze_or_expand(x1, x2):
    """Keras's ``squeeze_or_expand_to_same_rank`` (losses/loss.py): if the
    ranks differ by one and the longer one ends in a size-1 axis, squeeze it,
    or expand a rank-1 partner instead."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1:
            x2 = x2[:, None]
        else:
            x1 = x1[..., 0]
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1:
            x1 = x1[:, None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _paired(y_true, y_pred):
    y_pred = _float(y_pred)
    y_true, y_pred = _squeeze_or_expand(np.asarray(y_true), y_pred)
    try:
        np.broadcast_shapes(y_true.shape, y_pred.shape)
    except ValueError:
        raise ValueError(
            f"Metric: y_true.shape={y_true.shape} does not go with "
            f"y_pred.shape={y_pred.shape}. Expected the same shape as y_pred."
        ) from None
    return y_true.astype(y_pred.dtype, copy=False), y_pred


# --- per-batch functions (keras/src/losses/losses.py, accuracy_metrics.py) --
def mean_squared_error(y_true, y_pred):
    """Per-sample mean(square(y_true - y_pred), axis=-1)."""
    y_true, y_pred = _paired(y_true, y_pred)
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean(abs(y_true - y_pred), axis=-1)."""
    y_true, y_pred = _paired(y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) == y_true, elementwise."""
    y_true, y_pred = _paired(y_true, y_pred)
    return (y_true == (y_pred > threshold)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) == argmax(y_pred) (one-hot targets)."""
    y_true, y_pred = np.asarray(y_true), _float(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"categorical_accuracy expects one-hot y_true with y_pred's shape "
            f"{y_pred.shape}. Received y_true.shape={y_true.shape}. Fix: use "
            "'sparse_categorical_accuracy' for integer labels.")
    return (np.argmax(y_true, -1) == np.argmax(y_pred, -1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where y_true == argmax(y_pred) (integer targets, shape
    y_pred.shape[:-1], optionally with a trailing 1)."""
    y_pred = _float(y_pred)
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"sparse_categorical_accuracy expects integer labels of shape "
            f"{y_pred.shape[:-1]}. Received y_true.shape={y_true.shape}. Fix: "
            "use 'categorical_accuracy' for one-hot labels.")
    pred = np.argmax(y_pred, axis=-1).astype(y_pred.dtype)
    return (y_true.astype(y_pred.dtype) == pred).astype(np.float32)


# --- stateful metrics --------------------------------------------------------
class Metric:
    """Running mean of per-sample values, as keras.metrics.Mean."""

    _default_name = "metric"

    def __init__(self, name=None, dtype=None):
        self.name = name or self._default_name
        self.dtype = dtype  # accepted for Keras configs; we accumulate float64
        self.reset_state()

    def _values(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._accumulate(self._values(y_true, y_pred), sample_weight)

    def _accumulate(self, values, sample_weight):
        """keras reduction_metrics.reduce_to_samplewise_values + Mean."""
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            values, sw = _squeeze_or_expand(values, sw)
            if values.ndim > sw.ndim:
                values = values.mean(axis=tuple(range(sw.ndim, values.ndim)))
            sw = np.broadcast_to(sw, values.shape)
            values = values * sw
            if sw.ndim > 1:
                sw = sw.mean(axis=tuple(range(1, sw.ndim)))
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)))
        self._total += float(np.sum(values))
        if sample_weight is not None:
            self._count += float(np.sum(sw))
        else:
            self._count += values.shape[0] if values.ndim >= 1 else 1

    def result(self):
        return self._total / self._count if self._count else 0.0

    def reset_state(self):
        self._total = 0.0
        self._count = 0.0

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Update with one batch and return the running result (as Keras)."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class MeanMetricWrapper(Metric):
    """Running mean of ``fn(y_true, y_pred, **kwargs)`` per sample."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn, self._fn_kwargs = fn, kwargs
        super().__init__(name=name or getattr(fn, "__name__", None),
                         dtype=dtype)

    def _values(self, y_true, y_pred):
        return self._fn(y_true, y_pred, **self._fn_kwargs)


class MeanSquaredError(MeanMetricWrapper):
    _default_name = "mean_squared_error"

    def __init__(self, name=None, dtype=None):
        super().__init__(mean_squared_error, name or self._default_name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    _default_name = "mean_absolute_error"

    def __init__(self, name=None, dtype=None):
        super().__init__(mean_absolute_error, name or self._default_name, dtype)


class RootMeanSquaredError(Metric):
    """sqrt(mean of squared errors over all samples seen so far)."""

    _default_name = "root_mean_squared_error"

    def _values(self, y_true, y_pred):
        y_true, y_pred = _paired(y_true, y_pred)
        return np.square(y_pred - y_true)

    def result(self):
        return float(np.sqrt(super().result()))


class BinaryAccuracy(MeanMetricWrapper):
    _default_name = "binary_accuracy"

    def __init__(self, name=None, dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name or self._default_name, dtype,
                         threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    _default_name = "categorical_accuracy"

    def __init__(self, name=None, dtype=None):
        super().__init__(categorical_accuracy, name or self._default_name,
                         dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    _default_name = "sparse_categorical_accuracy"

    def __init__(self, name=None, dtype=None):
        super().__init__(sparse_categorical_accuracy,
                         name or self._default_name, dtype)


# --- 'accuracy' resolution (keras/src/trainers/compile_utils.py) -------------
def _pick_accuracy(y_true_shape, y_pred_shape):
    """Keras 3's ``is_binary_or_sparse_categorical``: binary if y_pred has one
    unit; sparse if y_true has lower rank (or a trailing 1 against several
    units); categorical otherwise."""
    t_rank, p_rank = len(y_true_shape), len(y_pred_shape)
    t_last = y_true_shape[-1] if t_rank else None
    p_last = y_pred_shape[-1] if p_rank else None
    if p_last == 1:
        return BinaryAccuracy
    if t_rank < p_rank or (t_last == 1 and p_last is not None and p_last > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def _snake(name):
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def resolve(name, loss_name=None, output_shape=None, y_true_shape=None):
    """The concrete metric Keras 3's compile builds for ``name``.

    For 'accuracy'/'acc' (any case) Keras 3 looks at the shapes of the first
    batch's y_true and y_pred - not at the loss.  Pass ``y_true_shape`` to get
    exactly that; otherwise y_true's shape is inferred from the loss
    (sparse_categorical_crossentropy -> output shape without the class axis,
    anything else -> the output shape).  Consequence kept from Keras 3: a
    multi-unit sigmoid output with binary_crossentropy gets categorical
    accuracy.  Without ``output_shape`` an ``AutoAccuracy`` is returned that
    resolves itself on the first batch.  Other names go through ``get``.
    """
    if not _is_accuracy(name):
        return get(name)
    if output_shape is None:
        return AutoAccuracy(name=str(name))
    output_shape = tuple(output_shape)
    if y_true_shape is None:
        if loss_name is not None and not isinstance(loss_name, str):
            loss_name = type(loss_name).__name__
        loss = _snake(loss_name or "")
        sparse = loss == "sparse_categorical_crossentropy"
        y_true_shape = output_shape[:-1] if sparse else output_shape
    return _pick_accuracy(tuple(y_true_shape), output_shape)(name=str(name))


def _is_accuracy(name):
    return isinstance(name, str) and name.lower() in ("accuracy", "acc")


class AutoAccuracy(Metric):
    """'accuracy' that picks binary/sparse/categorical from the first batch's
    shapes, as Keras 3's compile does when it builds its metrics."""

    _default_name = "accuracy"

    def __init__(self, name=None, dtype=None):
        self.resolved = None
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.resolved is None:
            cls = _pick_accuracy(np.shape(y_true), np.shape(y_pred))
            self.resolved = cls(name=self.name)
        self.resolved.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return self.resolved.result() if self.resolved is not None else 0.0

    def reset_state(self):
        if getattr(self, "resolved", None) is not None:
            self.resolved.reset_state()


# --- lookup -------------------------------------------------------------------
_CLASSES = (MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError,
            BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy)
_NAMES = {cls.__name__: cls for cls in _CLASSES}
_NAMES.update({cls._default_name: cls for cls in _CLASSES})
_NAMES.update({
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    # 'rmse' is an lstmlab convenience; Keras 3 only knows the long names.
    "rmse": RootMeanSquaredError, "RMSE": RootMeanSquaredError,
    "accuracy": AutoAccuracy, "acc": AutoAccuracy,
})


def _unknown(identifier):
    names = ", ".join(repr(n) for n in sorted(_NAMES))
    return ValueError(f"Unknown metric: {identifier!r}. Expected one of: "
                      f"{names}. Received: {identifier!r}.")


def get(identifier):
    """Metric from a name (its ``name`` is that string, as in Keras's
    compile), a config dict {'class_name', 'config'}, a Metric (returned
    unchanged), a Metric subclass, or a function fn(y_true, y_pred) returning
    per-sample values (wrapped in a running mean)."""
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        cls = AutoAccuracy if _is_accuracy(identifier) else _NAMES.get(identifier)
        if cls is None:
            raise _unknown(identifier)
        return cls(name=identifier)
    if isinstance(identifier, dict):
        cls = _NAMES.get(identifier.get("class_name"))
        if cls is None:
            raise _unknown(identifier.get("class_name"))
        return cls.from_config(dict(identifier.get("config") or {}))
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
