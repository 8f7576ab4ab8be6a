"""compile, fit, evaluate, predict: Keras's training loop over `forward` and `backward`.

A training step is: forward with training=True, the loss, its gradient
(fused with the output softmax or sigmoid when the loss is a cross-entropy
on probabilities, so it never divides by a tiny probability), backward
through the layers, one optimizer update.
"""
import math

import numpy as np

from .. import callbacks as callbacks_module
from .. import config, losses, metrics as metrics_module, optimizers
from . import classifier_step, fused
from .progress import ProgressBar


class Trainer:
    """The training half of a model; `Sequential` supplies forward, backward and weights."""

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_ids = []
        self._metrics = None

    # -- compile ------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                run_eagerly=None, jit_compile="auto", steps_per_execution=1, **kwargs):
        """Choose the optimizer, the loss and the metrics, by object or by Keras's names.

        `run_eagerly`, `jit_compile` and `steps_per_execution` are accepted for
        Keras compatibility; lstmlab always runs its compiled engine.
        """
        if kwargs:
            raise TypeError(
                f"compile() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}. "
                f"Expected: optimizer, loss, metrics."
            )
        if loss_weights is not None:
            raise ValueError("loss_weights applies to models with several outputs; a Sequential has one.")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        self._metric_ids = list(metrics or [])
        for m in self._metric_ids:          # fail now on unknown names, not mid-fit
            metrics_module.get(m)
        self._metrics = None
        self.compiled = True

    def _require_compiled(self, what):
        if not self.compiled or self.loss is None:
            raise RuntimeError(
                f"You must compile the model before {what}: "
                f"model.compile(optimizer='adam', loss='mse')."
            )

    def _make_metrics(self):
        if self._metrics is None:
            loss_name = type(self.loss).__name__ if self.loss is not None else None
            self._metrics = [metrics_module.resolve(m, loss_name) if isinstance(m, str)
                             else metrics_module.get(m) for m in self._metric_ids]
        return self._metrics

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self._make_metrics()]

    # -- data ---------------------------------------------------------------
    def _arrays(self, x, y=None):
        x = _as_array(x, "x")
        if y is None:
            return x, None
        y = _as_array(y, "y")
        if len(x) != len(y):
            raise ValueError(
                f"x and y must have the same number of samples. Received x with {len(x)} "
                f"samples (shape {x.shape}) and y with {len(y)} (shape {y.shape})."
            )
        return x, y

    def _fixed_batch_size(self):
        """The batch size a stateful model was built for, else None."""
        for layer in self.layers:
            if getattr(layer, "stateful", False):
                shape = self.batch_input_shape
                if shape is not None and shape[0] is not None:
                    return shape[0]
                states = getattr(layer, "_states", None)
                if states is not None:
                    return states[0].shape[0]
        return None

    def _batch_size(self, batch_size, n, what):
        fixed = self._fixed_batch_size()
        if batch_size is None:
            batch_size = fixed or 32
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer. Received: {batch_size!r}.")
        if fixed is not None:
            if batch_size != fixed:
                raise ValueError(
                    f"This model is stateful with batch size {fixed}; {what} needs "
                    f"batch_size={fixed}. Received batch_size={batch_size}."
                )
            if n % fixed:
                raise ValueError(
                    f"A stateful model with batch size {fixed} needs a sample count that is a "
                    f"multiple of {fixed}. Received {n} samples; use the first "
                    f"{n - n % fixed} (x[:{n - n % fixed}]) or pad to {n + fixed - n % fixed}."
                )
        return int(batch_size)

    # -- one batch ------------------------------------------------------------
    def _fused_logits(self):
        """True when the loss's gradient can skip the last layer's softmax/sigmoid."""
        last = self.layers[-1]
        act = getattr(getattr(last, "activation", None), "name", None)
        return (getattr(self.loss, "fusable_activation", None) is not None
                and not getattr(self.loss, "from_logits", False)
                and act == self.loss.fusable_activation
                and hasattr(last, "backward_pre_activation"))

    def _train_step(self, x, y, snapshot=None):
        """One update on one batch; returns the batch's loss (before the update).

        A non-finite loss skips the update. Otherwise the weights that gave the
        finite loss are first copied into `snapshot`: the last good weights.
        A character model (LSTM -> Dense(softmax), categorical cross-entropy)
        takes `classifier_step`, which computes the same loss and gradients
        with each thread running its rows' forward and backward in one go.
        """
        step = classifier_step.train_step(self, x, y)
        if step is not None:
            loss, y_pred, grads = step
        else:
            y_pred, caches = self.forward(x, training=True)
            loss = float(self.loss(y, y_pred))
        if not math.isfinite(loss):
            return loss, y_pred
        if snapshot is not None:
            for w, s in zip(self.trainable_weights, snapshot):
                np.copyto(s, w)
        if step is None:
            grads = self._gradients(y, y_pred, caches)
        self.optimizer.apply(grads, self.trainable_weights)
        return loss, y_pred

    def _gradients(self, y, y_pred, caches):
        """Backward from the loss: through the fused softmax/sigmoid gradient when it applies."""
        if self._fused_logits():
            return self.backward(self.loss.gradient_logits(y, caches[-1].z), caches, from_logits=True)
        return self.backward(self.loss.gradient(y, y_pred), caches)

    def train_on_batch(self, x, y, return_dict=False):
        """One gradient update on one batch; the batch's loss (and metrics)."""
        self._require_compiled("training it")
        x, y = self._arrays(x, y)
        self._ensure_built(x)
        self._check_targets(x, y)
        loss, y_pred = self._train_step(x, y)
        self._check_loss(loss, epoch=None, batch=0)
        return self._logs_for_batch(loss, y, y_pred, return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        self._require_compiled("evaluating it")
        x, y = self._arrays(x, y)
        y_pred = self.forward(x)[0]
        return self._logs_for_batch(float(self.loss(y, y_pred)), y, y_pred, return_dict)

    def predict_on_batch(self, x):
        return self.forward(_as_array(x, "x"))[0]

    def _logs_for_batch(self, loss, y, y_pred, return_dict):
        ms = self._make_metrics()
        for m in ms:
            m.reset_state()
            m.update_state(y, y_pred)
        logs = {"loss": loss, **{m.name: float(m.result()) for m in ms}}
        if return_dict:
            return logs
        return loss if not ms else list(logs.values())

    def _ensure_built(self, x):
        if not self.built:
            self.build((None, *x.shape[1:]))     # the data's size is not a batch size

    def _check_targets(self, x, y):
        """y's shape against the model's output shape (found without running the model)."""
        self.loss.validate(y[:1], np.zeros(self.compute_output_shape(x[:1].shape), np.float32))

    def _check_loss(self, loss, epoch, batch):
        if not math.isfinite(loss):
            where = f"epoch {epoch + 1}, batch {batch + 1}" if epoch is not None else f"batch {batch + 1}"
            raise FloatingPointError(
                f"The loss became {loss} at {where}. Training stopped; the model keeps the last "
                f"weights that gave a finite loss. Try a smaller learning rate "
                f"(e.g. optimizer=Adam(learning_rate=1e-4)), clipping (Adam(clipnorm=1.0)), or "
                f"scaling the inputs and targets to about [-1, 1]."
            )

    # -- fit ------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` passes over (x, y); returns a History (`.history['loss']`, ...)."""
        self._require_compiled("training it")
        if class_weight is not None or sample_weight is not None:
            raise ValueError("class_weight and sample_weight are not supported yet; weight the data instead.")
        x, y = self._arrays(x, y)
        if validation_data is None and validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must be in (0, 1). Received: {validation_split!r}.")
            # Keras takes the last samples, before any shuffling.
            split = int(len(x) * (1.0 - validation_split))
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
        if validation_data is not None:
            validation_data = self._arrays(*validation_data[:2])
        n = len(x)
        batch_size = self._batch_size(batch_size, n, "fit")
        self._ensure_built(x)
        self._check_targets(x, y)
        verbose = 1 if verbose == "auto" else int(verbose)

        if fused.eligible(self, callbacks, validation_data, verbose, shuffle, initial_epoch):
            losses = fused.fit(self, x, y, batch_size, epochs, shuffle, config.rng())
            history = callbacks_module.History()
            history.set_model(self)
            history.history, history.epoch = {"loss": losses.tolist()}, list(range(epochs))
            self.history = history
            return history
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(
            list(callbacks or []) + [history], model=self,
            params={"epochs": epochs, "steps": -(-n // batch_size), "verbose": verbose})
        ms = self._make_metrics()
        rng = config.rng()
        self.stop_training = False
        snapshot = [w.copy() for w in self.trainable_weights]
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            for m in ms:
                m.reset_state()
            bar = ProgressBar(-(-n // batch_size), epoch, epochs, verbose)
            order = rng.permutation(n) if shuffle and shuffle != "batch" else None
            total, seen = 0.0, 0
            for batch, lo in enumerate(range(0, n, batch_size)):
                idx = slice(lo, lo + batch_size) if order is None else order[lo:lo + batch_size]
                xb, yb = x[idx], y[idx]
                cbs.on_train_batch_begin(batch)
                loss, y_pred = self._train_step(xb, yb, snapshot)
                if not math.isfinite(loss):
                    for w, s in zip(self.trainable_weights, snapshot):
                        np.copyto(w, s)
                    self._check_loss(loss, epoch, batch)
                total += loss * len(xb)
                seen += len(xb)
                for m in ms:
                    m.update_state(yb, y_pred)
                logs = {"loss": total / seen, **{m.name: float(m.result()) for m in ms}}
                bar.update(batch + 1, logs)
                cbs.on_train_batch_end(batch, logs)
                if self.stop_training:
                    break
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val = self.evaluate(*validation_data, batch_size=validation_batch_size or batch_size,
                                    verbose=0, return_dict=True)
                logs.update({f"val_{k}": v for k, v in val.items()})
            bar.finish(logs)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end()
        self.history = history
        return history

    # -- evaluate and predict -------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False, **kwargs):
        """The loss (and metrics) over (x, y), averaged over samples as Keras does."""
        self._require_compiled("evaluating it")
        x, y = self._arrays(x, y)
        batch_size = self._batch_size(batch_size, len(x), "evaluate")
        ms = self._make_metrics()
        for m in ms:
            m.reset_state()
        total, seen = 0.0, 0
        bar = ProgressBar(-(-len(x) // batch_size), None, None, 1 if verbose == "auto" else int(verbose))
        for batch, lo in enumerate(range(0, len(x), batch_size)):
            xb, yb = x[lo:lo + batch_size], y[lo:lo + batch_size]
            y_pred = self.forward(xb)[0]
            total += float(self.loss(yb, y_pred)) * len(xb)
            seen += len(xb)
            for m in ms:
                m.update_state(yb, y_pred)
            logs = {"loss": total / seen, **{m.name: float(m.result()) for m in ms}}
            bar.update(batch + 1, logs)
        bar.finish(logs)
        if return_dict:
            return logs
        return logs["loss"] if not ms else list(logs.values())

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None,
                initial_state=None, return_state=False):
        """The model's output for every sample of x, computed batch by batch.

        Every batch starts from a zero state, unless the model is stateful
        (the state then carries from batch to batch and from call to call) or
        `initial_state` is given: one LSTMState(h (N, H), c (N, H)) per LSTM
        layer, None for zeros. With `return_state`, also returns the final
        LSTMState of every LSTM layer: `y, states = model.predict(x, return_state=True)`.
        """
        x = _as_array(x, "x")
        batch_size = self._batch_size(batch_size, len(x), "predict")
        lstms = self.lstm_layers
        if initial_state is not None:
            initial_state = self._check_initial_state(initial_state, lstms, len(x))
        bar = ProgressBar(-(-len(x) // batch_size), None, None, 1 if verbose == "auto" else int(verbose))
        compiled = None if initial_state is not None or return_state else fused.predict_layers(self, x, batch_size)
        y = None if compiled is None else fused.predict(*compiled, x, batch_size)
        if y is not None:                          # LSTM -> Dense, small batches: one compiled call
            bar.update(bar.steps, {})
            bar.finish({})
            return y
        outs, finals = [], []
        for batch, lo in enumerate(range(0, len(x), batch_size)):
            hi = lo + batch_size
            init = None if initial_state is None else [
                None if s is None else [s[0][lo:hi], s[1][lo:hi]] for s in initial_state]
            y, caches = self.forward(x[lo:hi], initial_states=init)
            outs.append(y)
            if return_state:
                finals.append([(c.engine.hs[-1], c.engine.cs[-1])
                               for layer, c in zip(self.layers, caches) if layer in lstms])
            bar.update(batch + 1, {})
        bar.finish({})
        # One batch: its output as it is when already contiguous (a Dense layer's), no copy.
        y = np.ascontiguousarray(outs[0]) if len(outs) == 1 else np.concatenate(outs, axis=0)
        if not return_state:
            return y
        from ..layers.lstm import LSTMState
        states = [LSTMState(np.concatenate([f[k][0] for f in finals]), np.concatenate([f[k][1] for f in finals]))
                  for k in range(len(lstms))]
        return y, states

    def _check_initial_state(self, initial_state, lstms, n):
        initial_state = list(initial_state)
        if len(lstms) == 1 and len(initial_state) == 2 and all(
                s is not None and np.ndim(s) == 2 for s in initial_state):
            initial_state = [initial_state]              # one LSTM: a bare [h, c] will do
        if len(initial_state) != len(lstms):
            raise ValueError(
                f"initial_state must hold one (h, c) per LSTM layer ({len(lstms)} here), each of "
                f"shape (samples, units). Received {len(initial_state)} entries."
            )
        checked = []
        for layer, s in zip(lstms, initial_state):
            if s is None:
                checked.append(None)
                continue
            h, c = (np.asarray(a, dtype=layer.dtype) for a in s)
            if h.shape != (n, layer.units) or c.shape != (n, layer.units):
                raise ValueError(
                    f"initial_state for layer '{layer.name}' must be h and c of shape "
                    f"(samples, units) = ({n}, {layer.units}). Received {h.shape} and {c.shape}."
                )
            checked.append((h, c))
        return checked


def _as_array(data, name):
    """NumPy, lists, pandas -> ndarray, or an error that says what was expected."""
    if data is None:
        raise ValueError(f"{name} is required. Received None.")
    try:
        arr = np.asarray(data)
    except Exception as e:
        raise ValueError(f"{name} could not be turned into an array: {e}.") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers. Received an array of dtype {arr.dtype}.")
    if arr.ndim == 0:
        raise ValueError(f"{name} must have a batch axis. Received a scalar.")
    return arr
