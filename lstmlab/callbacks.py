"""Callbacks: Keras's hooks into `fit`, with Keras 3's names and semantics.

`Sequential.fit` drives a `CallbackList` of the user's callbacks plus a
`History`:

    on_train_begin
      on_epoch_begin(epoch)
        on_train_batch_begin(batch) / on_train_batch_end(batch, logs)   # per batch
      on_epoch_end(epoch, logs)        # logs: loss, metrics, val_loss, val_<metric>
    on_train_end

and stops early when a callback sets `model.stop_training = True`.

Where this module differs from Keras 3 on purpose:

* an unknown `mode` is a ValueError (Keras warns and falls back to 'auto');
* in mode 'auto' a monitor that is not a loss is maximised when its name
  says accuracy, AUC, precision, recall, F-score, R^2 or IoU and minimised
  otherwise (Keras asks the compiled metric for its direction and raises
  when it cannot find one);
* monitored values are compared in float64 (Keras 3 compares them as
  float32 tensors), so two values that differ only below float32 precision
  count as different here;
* unknown keyword arguments are a TypeError that lists the valid ones, and
  bad values are a ValueError saying what was expected and what was received;
* `ModelCheckpoint` writes lstmlab's own format (`model.save`) or, with
  `save_weights_only=True`, `model.save_weights` when the model has it and
  otherwise an `.npz` of `get_weights()` at exactly `filepath`; it does not
  insist on Keras's `.keras` / `.weights.h5` extensions;
* `LearningRateScheduler` accepts an int from the schedule as well as a float;
* `ResetStatesCallback` is lstmlab's own: the stateful-LSTM recipe of
  `fit(epochs=1)` + `reset_states()` in a loop, as a callback.
"""
import inspect
import math
import numbers
import os
import warnings

import numpy as np

from .atomic import atomic_write

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "LambdaCallback",
    "ResetStatesCallback",
    "TerminateOnNaN",
]

# Every hook a callback has; LambdaCallback accepts any of them.
_HOOKS = (
    "on_train_begin", "on_train_end",
    "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end",
    "on_batch_begin", "on_batch_end",
    "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)

# Keras 2 argument names that Keras 3 dropped: say what replaced them.
_LEGACY_HINTS = {
    "period": "Keras 2's `period` is gone: use save_freq='epoch' (every epoch) "
              "or save_freq=<number of batches>",
    "epsilon": "Keras 2's `epsilon` was renamed `min_delta`",
    "load_weights_on_restart": "not supported",
    "options": "not supported",
}


# -- argument checking ---------------------------------------------------------
def _valid_arguments(cls):
    return [p for p in inspect.signature(cls.__init__).parameters
            if p not in ("self", "kwargs")]


def _reject_unknown(obj, kwargs):
    if not kwargs:
        return
    name = type(obj).__name__
    hints = [f"{k}: {_LEGACY_HINTS[k]}" for k in sorted(kwargs) if k in _LEGACY_HINTS]
    raise TypeError(
        f"{name}() got unexpected keyword argument(s) "
        f"{', '.join(map(repr, sorted(kwargs)))}. Valid arguments: "
        f"{', '.join(_valid_arguments(type(obj)))}."
        + (f" ({'; '.join(hints)}.)" if hints else "")
    )


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_real(owner, name, value, allow_none=False, min_value=None):
    if value is None and allow_none:
        return value
    if not _is_real(value) or not math.isfinite(float(value)) or (
            min_value is not None and value < min_value):
        expected = "a finite number" + ("" if min_value is None else f" >= {min_value}")
        if allow_none:
            expected += " or None"
        raise ValueError(f"{owner}: expected {name} to be {expected}. Received: {name}={value!r}.")
    return value


def _check_int(owner, name, value, min_value=0):
    if not _is_int(value) or value < min_value:
        raise ValueError(
            f"{owner}: expected {name} to be an integer >= {min_value}. "
            f"Received: {name}={value!r}."
        )
    return int(value)


def _check_verbose(owner, value):
    if not (_is_int(value) or isinstance(value, bool)) or value < 0:
        raise ValueError(f"{owner}: expected verbose to be 0, 1 or 2. Received: verbose={value!r}.")
    return int(value)


def _check_monitor(owner, value):
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"{owner}: expected monitor to be the name of a logged quantity, e.g. "
            f"'val_loss' or 'val_accuracy'. Received: monitor={value!r}."
        )
    return value


# Metric names that get better as they grow (mode='auto' maximises them).
_UP_WORDS = ("acc", "auc", "precision", "recall", "f1", "fbeta", "r2", "iou")


def _resolve_mode(owner, monitor, mode):
    """'min' or 'max' for `mode` in {'auto', 'min', 'max'}."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(
            f"{owner}: expected mode to be one of 'auto', 'min', 'max'. Received: mode={mode!r}."
        )
    if mode != "auto":
        return mode
    name = monitor.lower().removeprefix("val_")
    if name == "loss" or name.endswith("loss"):
        return "min"
    return "max" if any(word in name for word in _UP_WORDS) else "min"


def _implements(callback, hook):
    """Whether `callback` does anything on `hook` (the base class's hooks do nothing,
    except that on_train_batch_* pass on to on_batch_*)."""
    method = getattr(callback, hook)
    if getattr(method, "__func__", None) is not getattr(Callback, hook):
        return True
    if hook.startswith("on_train_batch_"):
        return _implements(callback, hook.replace("on_train_batch_", "on_batch_"))
    return False


def _pythonify(logs):
    """A new flat dict of the logs with Python floats where possible (sorted, as Keras does)."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(_pythonify(value))
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        result[key] = value
    return result


def _print(msg):
    print(msg, flush=True)


# -- base classes ---------------------------------------------------------------
class Callback:
    """Base class: override the hooks you need.

    Attributes:
        model: the model being trained (set by `set_model`).
        params: dict of training parameters, e.g. {'epochs', 'steps', 'verbose'}.
    """

    def __init__(self):
        self.model = None
        self.params = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    # Training.
    def on_train_begin(self, logs=None):
        """Called once at the start of `fit`."""

    def on_train_end(self, logs=None):
        """Called once at the end of `fit`."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of every epoch (`epoch` counts from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of every epoch with the epoch's logs."""

    def on_batch_begin(self, batch, logs=None):
        """Keras 2's name for `on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """Keras 2's name for `on_train_batch_end`."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before every training batch; calls `on_batch_begin` by default."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after every training batch; calls `on_batch_end` by default."""
        self.on_batch_end(batch, logs)

    # Evaluation and prediction.
    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


class CallbackList(Callback):
    """Callbacks called together: every hook goes to each callback in order.

    The logs are copied once per hook into a flat dict of Python floats, and
    that one dict goes to every callback, so what a callback adds to it (e.g.
    ReduceLROnPlateau's 'learning_rate') is seen by the ones after it (e.g.
    the History that `fit` puts last).
    """

    def __init__(self, callbacks=None, model=None, params=None):
        super().__init__()
        self.callbacks = []
        for callback in _flatten(callbacks):
            self.append(callback)
        self.set_model(model)
        self.set_params(params)

    def append(self, callback):
        _check_callback(callback)
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        if self.params:
            callback.set_params(self.params)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_params(self, params):
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)

    def _call(self, hook, *args, logs=None):
        takers = [c for c in self.callbacks if _implements(c, hook)]
        if not takers:                 # most hooks, most batches: nothing to copy or call
            return
        logs = _pythonify(logs)
        for callback in takers:
            getattr(callback, hook)(*args, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs=logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs=logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs=logs)


def _flatten(callbacks):
    if callbacks is None:
        return []
    if isinstance(callbacks, (list, tuple)):
        out = []
        for c in callbacks:
            out.extend(_flatten(c))
        return out
    return [callbacks]


def _check_callback(callback):
    if isinstance(callback, type):
        raise TypeError(
            f"Callbacks must be instances: pass {callback.__name__}(...), "
            f"not the class {callback.__name__}."
        )
    missing = [h for h in ("set_model", "set_params") + _HOOKS
               if not callable(getattr(callback, h, None))]
    if missing:
        raise TypeError(
            "Expected a callback (an instance of lstmlab.callbacks.Callback). "
            f"Received: {callback!r} of type {type(callback).__name__}, "
            f"which has no {', '.join(missing[:3])}{'...' if len(missing) > 3 else ''}."
        )


# -- History ----------------------------------------------------------------------
class History(Callback):
    """Records the epoch logs: `history.history['loss']`, `history.epoch`.

    `fit` makes a new one each call (and returns it). As in Keras 3, the
    `epoch` list restarts at `on_train_begin` while `history` keeps
    accumulating if the same History object is reused.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


# -- monitoring a logged quantity -------------------------------------------------
class _MonitorCallback(Callback):
    """Shared by EarlyStopping, ReduceLROnPlateau, ModelCheckpoint: is a value an improvement?"""

    def __init__(self, monitor, mode, min_delta=0, best=None):
        super().__init__()
        owner = type(self).__name__
        self.monitor = _check_monitor(owner, monitor)
        self.mode = mode
        self._direction = _resolve_mode(owner, monitor, mode)    # 'min' or 'max'
        self.min_delta = abs(_check_real(owner, "min_delta", min_delta))
        self.best = best
        # Keras's comparison: np.less or np.greater on (value - signed min_delta, reference).
        self.monitor_op = np.less if self._direction == "min" else np.greater

    def _signed_delta(self):
        return -self.min_delta if self._direction == "min" else self.min_delta

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        return bool(self.monitor_op(value - self._signed_delta(), reference))


# -- EarlyStopping ---------------------------------------------------------------
class EarlyStopping(_MonitorCallback):
    """Stop training when `monitor` has stopped improving.

    Keras 3's rules, exactly:

    * an epoch improves when `value - min_delta < best` (mode 'min') or
      `value - min_delta > best` (mode 'max'); `min_delta`'s sign is ignored;
    * `wait` counts epochs since the last improvement that also beat
      `baseline` (when one is given); training stops at the end of an epoch
      (never the first one, epoch 0) once `wait >= patience`;
    * epochs before `start_from_epoch` are ignored;
    * with `restore_best_weights=True` the weights of the best epoch are put
      back at the end of training, whether or not it stopped early (as Keras
      3 does). If no epoch improved, those are the weights of the first
      monitored epoch.

    After training, `stopped_epoch` is the 0-based epoch at which it stopped
    (0 if it did not stop) and `best_epoch` the 0-based best epoch.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0,
                 mode="auto", baseline=None, restore_best_weights=False,
                 start_from_epoch=0, **kwargs):
        _reject_unknown(self, kwargs)
        super().__init__(monitor, mode, min_delta=min_delta)
        owner = type(self).__name__
        self.patience = _check_int(owner, "patience", patience)
        self.verbose = _check_verbose(owner, verbose)
        self.baseline = _check_real(owner, "baseline", baseline, allow_none=True)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = _check_int(owner, "start_from_epoch", start_from_epoch)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # The same instance can serve several fits.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Nothing better seen yet: the weights now are the best.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Patience restarts only when the baseline is beaten too.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: "
                       f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs.keys())}",
                stacklevel=2,
            )
        return value


# -- ModelCheckpoint ---------------------------------------------------------------
class ModelCheckpoint(_MonitorCallback):
    """Save the model (or its weights) every epoch or every `save_freq` batches.

    `filepath` may hold `{epoch}` (1-based), `{batch}` (1-based, when saving
    by batch) and any logged key, e.g. 'model-{epoch:02d}-{val_loss:.3f}.lstmlab'.
    With `save_best_only=True` it saves only when `monitor` improves on the
    best so far (starting from `initial_value_threshold` when given; the best
    carries over from one fit to the next, as in Keras); when `monitor` is not
    in the logs it warns and saves anyway.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None, **kwargs):
        _reject_unknown(self, kwargs)
        owner = type(self).__name__
        super().__init__(monitor, mode,
                         best=_check_real(owner, "initial_value_threshold",
                                          initial_value_threshold, allow_none=True))
        if not isinstance(filepath, (str, os.PathLike)) or not os.fspath(filepath):
            raise ValueError(
                f"{owner}: expected filepath to be a file path (str or os.PathLike), "
                f"e.g. 'checkpoints/model-{{epoch:02d}}.lstmlab'. Received: filepath={filepath!r}."
            )
        self.filepath = os.fspath(filepath)
        if isinstance(self.filepath, bytes):
            self.filepath = os.fsdecode(self.filepath)
        self.verbose = _check_verbose(owner, verbose)
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if save_freq != "epoch" and not (_is_int(save_freq) and save_freq > 0):
            raise ValueError(
                f"{owner}: expected save_freq to be 'epoch' or a positive number of batches. "
                f"Received: save_freq={save_freq!r}."
            )
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1          # a new epoch: batches count from 0
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _get_file_path(self, epoch, batch, logs):
        logs = logs or {}
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            available = ["epoch"] + ([] if batch is None else ["batch"]) + list(logs)
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". '
                f"Reason: {e} is not logged. Available keys: {', '.join(available)}."
            ) from None

    def _should_save(self, epoch, logs, filepath):
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        if isinstance(current, np.ndarray) and current.ndim > 0:
            warnings.warn(
                "Can save best model only when `monitor` is a scalar value. "
                f"Received: {current}. Falling back to `save_best_only=False`.",
                stacklevel=3,
            )
            return True
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} "
                       f"to {current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {filepath}"
            )
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            if callable(getattr(self.model, "save_weights", None)):
                _call_save(self.model.save_weights, filepath)
            else:
                _save_weights_npz(self.model.get_weights(), filepath)
        else:
            _call_save(self.model.save, filepath)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


def _call_save(save, filepath):
    """`save(filepath)`, with overwrite=True when the save function takes it."""
    try:
        params = inspect.signature(save).parameters
    except (TypeError, ValueError):
        params = {}
    if "overwrite" in params:
        save(filepath, overwrite=True)
    else:
        save(filepath)


def _save_weights_npz(weights, filepath):
    """`np.savez` of the weights at exactly `filepath` (no '.npz' appended), atomically."""
    atomic_write(filepath, lambda f: np.savez(f, *weights))


# -- learning rate ------------------------------------------------------------------
def _optimizer_of(owner, model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(
            f"{owner} needs a compiled model whose optimizer has a learning_rate. "
            f"Received a model with optimizer={optimizer!r}; call model.compile(...) first."
        )
    return optimizer


def _schedule_arity(schedule):
    """2 when `schedule(epoch, lr)` binds, 1 when only `schedule(epoch)` does, None if unknown."""
    try:
        sig = inspect.signature(schedule)
    except (TypeError, ValueError):
        return None
    for n in (2, 1):
        try:
            sig.bind(*range(n))
            return n
        except TypeError:
            pass
    return None


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of every epoch.

    `schedule(epoch, lr) -> new lr` (or `schedule(epoch)`), with `epoch`
    counting from 0 and `lr` the current rate. The rate used is logged as
    'learning_rate' at the end of each epoch.
    """

    def __init__(self, schedule, verbose=0, **kwargs):
        _reject_unknown(self, kwargs)
        super().__init__()
        if not callable(schedule):
            raise ValueError(
                "LearningRateScheduler: expected schedule to be a function "
                f"schedule(epoch, lr) -> float. Received: schedule={schedule!r}."
            )
        self.schedule = schedule
        self.verbose = _check_verbose(type(self).__name__, verbose)
        self._arity = _schedule_arity(schedule)

    def _new_rate(self, epoch, lr):
        if self._arity == 2:
            return self.schedule(epoch, lr)
        if self._arity == 1:
            return self.schedule(epoch)
        try:                               # signature unknown: Keras's way
            return self.schedule(epoch, lr)
        except TypeError:
            return self.schedule(epoch)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer_of(type(self).__name__, self.model)
        lr = self._new_rate(epoch, float(optimizer.learning_rate))
        if isinstance(lr, np.ndarray) and lr.ndim == 0:
            lr = lr[()]
        if not _is_real(lr):
            raise ValueError(
                "The output of the `schedule` function should be a float. "
                f"Got: {lr!r} at epoch {epoch}."
            )
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(_optimizer_of(type(self).__name__, self.model).learning_rate)


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by `factor` when `monitor` has stopped improving.

    Keras 3's rules: an epoch improves when it beats the best by more than
    `min_delta`; after `patience` epochs without improvement (outside the
    cooldown) the rate becomes `max(lr * factor, min_lr)` if it is above
    `min_lr`, and `cooldown` epochs follow in which `wait` stays 0. The rate
    used during the epoch is logged as 'learning_rate'.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        _reject_unknown(self, kwargs)
        super().__init__(monitor, mode, min_delta=min_delta)
        owner = type(self).__name__
        if not _is_real(factor) or not 0.0 <= factor < 1.0:
            raise ValueError(
                f"{owner} does not support a factor >= 1.0 (or < 0): expected 0 <= factor < 1. "
                f"Received: factor={factor!r}."
            )
        self.factor = float(factor)
        self.patience = _check_int(owner, "patience", patience)
        self.verbose = _check_verbose(owner, verbose)
        self.cooldown = _check_int(owner, "cooldown", cooldown)
        self.min_lr = float(_check_real(owner, "min_lr", min_lr, min_value=0))
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _reduce_lr(self, optimizer, epoch):
        old_lr = float(optimizer.learning_rate)
        # Keras compares with min_lr in float32, so a rate that is min_lr
        # up to float rounding is not "reduced" again.
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = _optimizer_of(type(self).__name__, self.model)
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                f"not available. Available metrics are: {','.join(logs.keys())}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0


# -- small ones ----------------------------------------------------------------------
class LambdaCallback(Callback):
    """A callback from plain functions, e.g.
    `LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs['loss']))`.

    The functions take the hook's arguments: `(epoch, logs)` for epoch hooks,
    `(batch, logs)` for batch hooks, `(logs)` for train begin/end. Any other
    hook (e.g. `on_test_end`) can be given by keyword too.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        unknown = {k: v for k, v in kwargs.items() if k not in _HOOKS}
        if unknown:
            raise TypeError(
                f"LambdaCallback() got unexpected keyword argument(s) "
                f"{', '.join(map(repr, sorted(unknown)))}. Valid arguments: {', '.join(_HOOKS)}."
            )
        super().__init__()
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise ValueError(f"LambdaCallback: expected {name} to be a function or None. "
                                 f"Received: {name}={fn!r}.")
            setattr(self, name, fn)


class ResetStatesCallback(Callback):
    """Call `model.reset_states()` at the end of every epoch (on='epoch') or batch (on='batch').

    The stateful-LSTM recipe `for _ in range(n): model.fit(..., epochs=1,
    shuffle=False); model.reset_states()` becomes
    `model.fit(..., epochs=n, shuffle=False, callbacks=[ResetStatesCallback()])`.
    """

    def __init__(self, on="epoch", **kwargs):
        _reject_unknown(self, kwargs)
        super().__init__()
        if on not in ("epoch", "batch"):
            raise ValueError(f"ResetStatesCallback: expected on to be 'epoch' or 'batch'. "
                             f"Received: on={on!r}.")
        self.on = on

    def _reset(self):
        reset = getattr(self.model, "reset_states", None) or getattr(self.model, "reset_state", None)
        if not callable(reset):
            raise TypeError(
                "ResetStatesCallback needs a model with reset_states(). "
                f"Received: {type(self.model).__name__}."
            )
        reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.on == "epoch":
            self._reset()

    def on_train_batch_end(self, batch, logs=None):
        if self.on == "batch":
            self._reset()


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite (or raise, with raise_error=True)."""

    def __init__(self, raise_error=False, **kwargs):
        _reject_unknown(self, kwargs)
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if np.isnan(loss) or np.isinf(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            _print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
