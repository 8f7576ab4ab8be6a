"""lstmlab.callbacks: each callback driven by hand on a fake model, and against Keras 3.

The Keras comparisons feed the same sequences of logged values into
`keras.callbacks.X` (on a tiny compiled Keras model) and `lstmlab.callbacks.X`
(on a fake model) and require the same decisions: the epoch training stops
at, which epoch's weights are restored, the learning rate after every epoch,
which epochs are checkpointed. Values are multiples of 1/8 so that Keras's
float32 comparisons and lstmlab's float64 ones agree exactly.
"""
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmlab import callbacks as cb

keras = pytest.importorskip("keras")


# -- a fake model --------------------------------------------------------------
class FakeOptimizer:
    def __init__(self, learning_rate=0.5):
        self.learning_rate = learning_rate


class FakeModel:
    """What callbacks use of a model: stop_training, optimizer, weights, save, reset_states."""

    def __init__(self, learning_rate=0.5):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.weights = [np.zeros((1, 1)), np.zeros(1)]
        self.saved = []
        self.resets = 0
        self.history = None

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, copy=True) for w in weights]

    def mark(self, value):
        """Weights that say which epoch they come from."""
        self.weights = [np.full((1, 1), float(value)), np.zeros(1)]

    def marker(self):
        return float(self.weights[0][0, 0])

    def save(self, path):
        self.saved.append(path)
        with open(path, "w") as f:
            f.write("model")

    def reset_states(self):
        self.resets += 1


class FakeModelWithSaveWeights(FakeModel):
    def __init__(self):
        super().__init__()
        self.saved_weights = []

    def save_weights(self, path, overwrite=True):
        self.saved_weights.append((path, overwrite))
        with open(path, "w") as f:
            f.write("weights")


# -- a tiny Keras model to drive Keras's callbacks --------------------------------
@pytest.fixture(scope="module")
def kmodel():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="mse")
    return model


def kmark(kmodel, value):
    kmodel.set_weights([np.full((1, 1), float(value), "float32"), np.zeros(1, "float32")])


def kmarker(kmodel):
    return float(kmodel.get_weights()[0][0, 0])


def drive_early_stopping(callback, model, mark, values, epochs_before=0):
    """on_train_begin, one on_epoch_end per value (weights marked with the epoch), on_train_end.

    Returns the epochs that ran. A value of None leaves the monitor out of the logs.
    """
    model.stop_training = False
    callback.set_model(model)
    callback.on_train_begin()
    ran = []
    for epoch, value in enumerate(values, start=epochs_before):
        mark(epoch + 1)
        logs = {"loss": 1.0} if value is None else {"loss": 1.0, "val_loss": value, "val_acc": value}
        callback.on_epoch_end(epoch, logs)
        ran.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end()
    return ran


grid = st.integers(0, 16).map(lambda i: i / 8)


# -- Callback and CallbackList --------------------------------------------------------
class Recorder(cb.Callback):
    def __init__(self, name, calls):
        super().__init__()
        self.name, self.calls = name, calls

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append((self.name, "epoch_end", epoch, dict(logs)))
        logs[f"seen_by_{self.name}"] = 1.0

    def on_batch_begin(self, batch, logs=None):
        self.calls.append((self.name, "batch_begin", batch))

    def on_batch_end(self, batch, logs=None):
        self.calls.append((self.name, "batch_end", batch))


def test_base_callback_hooks_are_noops_and_train_batch_calls_keras2_aliases():
    calls = []
    c = Recorder("a", calls)
    assert c.model is None and c.params is None
    c.on_train_batch_begin(3)
    c.on_train_batch_end(3, {"loss": 1.0})
    assert calls == [("a", "batch_begin", 3), ("a", "batch_end", 3)]
    base = cb.Callback()
    for hook in cb._HOOKS:
        args = (0,) if "epoch" in hook or "batch" in hook else ()
        assert getattr(base, hook)(*args) is None
        assert getattr(base, hook)(*args, logs={}) is None


def test_callback_list_sets_model_and_params_and_dispatches_in_order():
    calls = []
    a, b = Recorder("a", calls), Recorder("b", calls)
    model = FakeModel()
    params = {"epochs": 2, "steps": 3, "verbose": 0}
    cbs = cb.CallbackList([a, [b]], model=model, params=params)
    assert len(cbs) == 2 and list(cbs) == [a, b]
    assert a.model is model and b.model is model
    assert a.params == params and b.params == params
    cbs.on_train_batch_begin(0)
    cbs.on_train_batch_end(0, {"loss": np.float32(2.0)})
    cbs.on_epoch_end(1, {"loss": np.float32(2.0), "val_loss": np.array(1.5)})
    assert calls[:4] == [("a", "batch_begin", 0), ("b", "batch_begin", 0),
                         ("a", "batch_end", 0), ("b", "batch_end", 0)]
    # Same logs dict for all: what `a` adds is seen by `b`; values are Python floats.
    assert calls[4] == ("a", "epoch_end", 1, {"loss": 2.0, "val_loss": 1.5})
    assert calls[5] == ("b", "epoch_end", 1, {"loss": 2.0, "val_loss": 1.5, "seen_by_a": 1.0})
    assert all(type(v) is float for v in calls[5][3].values())
    for hook in cb._HOOKS:            # every hook exists on the list
        args = (0,) if "epoch" in hook or "batch" in hook else ()
        getattr(cbs, hook)(*args)


def test_callback_list_does_not_change_the_callers_logs():
    logs = {"loss": 1.0, "val_loss": 0.5}
    model = FakeModel()
    cbs = cb.CallbackList([cb.ReduceLROnPlateau()], model=model)
    cbs.on_train_begin()
    cbs.on_epoch_end(0, logs)
    assert logs == {"loss": 1.0, "val_loss": 0.5}


def test_callback_list_rejects_classes_and_non_callbacks():
    with pytest.raises(TypeError, match=r"pass EarlyStopping\(\.\.\.\)"):
        cb.CallbackList([cb.EarlyStopping])
    with pytest.raises(TypeError, match="Expected a callback"):
        cb.CallbackList([lambda epoch: None])
    cbs = cb.CallbackList(None)
    assert len(cbs) == 0
    cbs.on_train_begin()


def test_callback_list_append_sets_model():
    model = FakeModel()
    cbs = cb.CallbackList([], model=model, params={"epochs": 1})
    h = cb.History()
    cbs.append(h)
    assert h.model is model and h.params == {"epochs": 1}


# -- History -------------------------------------------------------------------
def test_history_records_like_keras(kmodel):
    ours, theirs = cb.History(), keras.callbacks.History()
    model = FakeModel()
    for h, m in ((ours, model), (theirs, kmodel)):
        h.set_model(m)
        for fit in range(2):          # the same object reused: Keras keeps history, resets epoch
            h.on_train_begin()
            for epoch in range(3):
                h.on_epoch_end(epoch, {"loss": float(epoch + fit), "val_loss": epoch / 2})
    assert ours.history == theirs.history
    assert ours.epoch == theirs.epoch == [0, 1, 2]
    assert model.history is ours


def test_history_through_callback_list_sees_learning_rate():
    model = FakeModel(learning_rate=0.5)
    h = cb.History()
    cbs = cb.CallbackList([cb.ReduceLROnPlateau(patience=0, factor=0.5), h], model=model)
    cbs.on_train_begin()
    for epoch, v in enumerate([1.0, 1.0, 1.0]):
        cbs.on_epoch_end(epoch, {"loss": v, "val_loss": v})
    assert h.history["learning_rate"] == [0.5, 0.5, 0.25]
    assert h.history["val_loss"] == [1.0, 1.0, 1.0]


# -- EarlyStopping ------------------------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.one_of(grid, grid, grid, st.none()), min_size=1, max_size=10),
    patience=st.integers(0, 3),
    min_delta=st.sampled_from([0, 0.125, -0.25, 0.5]),
    baseline=st.one_of(st.none(), grid),
    start_from_epoch=st.integers(0, 3),
    restore=st.booleans(),
    mode_monitor=st.sampled_from([("auto", "val_loss"), ("min", "val_loss"),
                                  ("max", "val_loss"), ("max", "val_acc")]),
    epochs_before=st.sampled_from([0, 0, 2]),
)
def test_early_stopping_matches_keras(kmodel, values, patience, min_delta, baseline,
                                      start_from_epoch, restore, mode_monitor, epochs_before):
    mode, monitor = mode_monitor
    kwargs = dict(monitor=monitor, patience=patience, min_delta=min_delta, baseline=baseline,
                  start_from_epoch=start_from_epoch, restore_best_weights=restore, mode=mode)
    ours, theirs = cb.EarlyStopping(**kwargs), keras.callbacks.EarlyStopping(**kwargs)
    model = FakeModel()
    model.mark(-1)
    kmark(kmodel, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ran_ours = drive_early_stopping(ours, model, model.mark, values, epochs_before)
        ran_theirs = drive_early_stopping(theirs, kmodel, lambda v: kmark(kmodel, v), values,
                                          epochs_before)
    assert ran_ours == ran_theirs
    assert model.stop_training == kmodel.stop_training
    assert ours.stopped_epoch == theirs.stopped_epoch
    assert ours.wait == theirs.wait
    assert ours.best == (None if theirs.best is None else pytest.approx(float(theirs.best)))
    assert model.marker() == kmarker(kmodel)     # the same epoch's weights restored (or none)
    if restore:
        assert ours.best_epoch == theirs.best_epoch


def test_early_stopping_stops_after_patience_and_restores_best():
    model = FakeModel()
    es = cb.EarlyStopping(patience=2, restore_best_weights=True)
    ran = drive_early_stopping(es, model, model.mark, [3.0, 1.0, 2.0, 1.5, 0.5, 0.1])
    assert ran == [0, 1, 2, 3]
    assert es.stopped_epoch == 3 and model.stop_training
    assert es.best_epoch == 1 and es.best == 1.0
    assert model.marker() == 2          # weights marked at the end of epoch 1


def test_early_stopping_restores_best_even_without_stopping():
    # Keras 3 restores at the end of training whether or not it stopped.
    model = FakeModel()
    es = cb.EarlyStopping(patience=5, restore_best_weights=True)
    ran = drive_early_stopping(es, model, model.mark, [3.0, 1.0, 2.0])
    assert ran == [0, 1, 2] and not model.stop_training and es.stopped_epoch == 0
    assert model.marker() == 2


def test_early_stopping_does_not_touch_weights_without_restore():
    model = FakeModel()
    es = cb.EarlyStopping(patience=0)
    drive_early_stopping(es, model, model.mark, [1.0, 2.0])
    assert es.stopped_epoch == 1 and model.marker() == 2


def test_early_stopping_mode_auto_maximises_accuracy_and_minimises_loss():
    assert cb.EarlyStopping(monitor="val_accuracy").monitor_op is np.greater
    assert cb.EarlyStopping(monitor="acc").monitor_op is np.greater
    assert cb.EarlyStopping(monitor="val_auc").monitor_op is np.greater
    assert cb.EarlyStopping(monitor="val_loss").monitor_op is np.less
    assert cb.EarlyStopping(monitor="val_mae").monitor_op is np.less
    assert cb.EarlyStopping(monitor="val_accuracy", mode="min").monitor_op is np.less
    model = FakeModel()
    es = cb.EarlyStopping(monitor="val_accuracy", patience=0)
    es.set_model(model)
    es.on_train_begin()
    es.on_epoch_end(0, {"val_accuracy": 0.5})
    es.on_epoch_end(1, {"val_accuracy": 0.7})
    assert not model.stop_training
    es.on_epoch_end(2, {"val_accuracy": 0.6})
    assert model.stop_training and es.stopped_epoch == 2


def test_early_stopping_min_delta_sign_is_ignored():
    for delta in (0.1, -0.1):
        model = FakeModel()
        es = cb.EarlyStopping(patience=0, min_delta=delta)
        ran = drive_early_stopping(es, model, model.mark, [1.0, 0.95, 0.5])
        assert ran == [0, 1] and es.min_delta == 0.1   # 0.95 is not 0.1 better than 1.0


def test_early_stopping_warns_when_monitor_missing():
    model = FakeModel()
    es = cb.EarlyStopping(monitor="val_loss")
    es.set_model(model)
    es.on_train_begin()
    with pytest.warns(UserWarning, match=r"`val_loss` which is not available.*loss,accuracy"):
        es.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    assert not model.stop_training


def test_early_stopping_is_reset_by_on_train_begin():
    model = FakeModel()
    es = cb.EarlyStopping(patience=0, restore_best_weights=True)
    drive_early_stopping(es, model, model.mark, [1.0, 2.0])
    assert es.stopped_epoch == 1
    ran = drive_early_stopping(es, model, model.mark, [5.0, 4.0, 3.0])
    assert ran == [0, 1, 2] and es.stopped_epoch == 0 and es.best == 3.0


def test_early_stopping_verbose_messages(capsys):
    model = FakeModel()
    es = cb.EarlyStopping(patience=0, verbose=1, restore_best_weights=True)
    drive_early_stopping(es, model, model.mark, [1.0, 2.0])
    out = capsys.readouterr().out
    assert "Epoch 2: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 1." in out


# -- ReduceLROnPlateau -------------------------------------------------------------
def drive_reduce_lr(callback, model, values, get_lr):
    callback.set_model(model)
    callback.on_train_begin()
    lrs, logged = [], []
    for epoch, value in enumerate(values):
        logs = {"loss": 1.0} if value is None else {"loss": 1.0, "val_loss": value, "val_acc": value}
        callback.on_epoch_end(epoch, logs)
        logged.append(logs.get("learning_rate"))
        lrs.append(get_lr())
    return lrs, logged


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.one_of(grid, grid, grid, st.none()), min_size=1, max_size=14),
    patience=st.integers(0, 3),
    factor=st.sampled_from([0.5, 0.25, 0.0]),
    min_delta=st.sampled_from([0, 0.125, 1e-4]),
    cooldown=st.integers(0, 2),
    min_lr=st.sampled_from([0.0, 0.125, 1 / 1024]),
    mode_monitor=st.sampled_from([("auto", "val_loss"), ("min", "val_loss"), ("max", "val_acc")]),
)
def test_reduce_lr_on_plateau_matches_keras(kmodel, values, patience, factor, min_delta,
                                            cooldown, min_lr, mode_monitor):
    mode, monitor = mode_monitor
    kwargs = dict(monitor=monitor, patience=patience, factor=factor, min_delta=min_delta,
                  cooldown=cooldown, min_lr=min_lr, mode=mode)
    ours, theirs = cb.ReduceLROnPlateau(**kwargs), keras.callbacks.ReduceLROnPlateau(**kwargs)
    model = FakeModel(learning_rate=0.5)
    kmodel.optimizer.learning_rate = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours_lrs, ours_logged = drive_reduce_lr(ours, model, values,
                                                lambda: model.optimizer.learning_rate)
        their_lrs, their_logged = drive_reduce_lr(
            theirs, kmodel, values, lambda: float(np.asarray(kmodel.optimizer.learning_rate)))
    assert ours_lrs == their_lrs
    assert ours_logged == their_logged
    assert (ours.wait, ours.cooldown_counter) == (theirs.wait, theirs.cooldown_counter)


def test_reduce_lr_on_plateau_with_factor_0_1_matches_keras_to_float32(kmodel):
    values = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    kwargs = dict(patience=1, factor=0.1, cooldown=1, min_lr=1e-4)
    ours, theirs = cb.ReduceLROnPlateau(**kwargs), keras.callbacks.ReduceLROnPlateau(**kwargs)
    model = FakeModel(learning_rate=0.1)
    kmodel.optimizer.learning_rate = 0.1
    ours_lrs, _ = drive_reduce_lr(ours, model, values, lambda: model.optimizer.learning_rate)
    their_lrs, _ = drive_reduce_lr(theirs, kmodel, values,
                                   lambda: float(np.asarray(kmodel.optimizer.learning_rate)))
    np.testing.assert_allclose(ours_lrs, their_lrs, rtol=1e-6)
    assert ours_lrs[-1] == pytest.approx(1e-4)


def test_reduce_lr_on_plateau_sequence_by_hand():
    model = FakeModel(learning_rate=1.0)
    rl = cb.ReduceLROnPlateau(patience=2, factor=0.5, cooldown=2, min_lr=0.2)
    lrs, logged = drive_reduce_lr(rl, model, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                                  lambda: model.optimizer.learning_rate)
    # Epoch 0 sets the best; wait 1, 2 -> reduce at epoch 2. Keras counts the
    # cooldown down before looking at the epoch, so cooldown=2 idles one epoch
    # (3) and epoch 4 already waits: wait 1, 2 -> reduce at epoch 5; ...
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    assert logged == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    more, _ = drive_reduce_lr(rl, model, [1.0] * 6, lambda: model.optimizer.learning_rate)
    assert more[-1] == 0.2          # floored at min_lr


def test_reduce_lr_on_plateau_cooldown_1_is_no_pause_as_in_keras():
    model = FakeModel(learning_rate=1.0)
    rl = cb.ReduceLROnPlateau(patience=2, factor=0.5, cooldown=1)
    lrs, _ = drive_reduce_lr(rl, model, [1.0] * 6, lambda: model.optimizer.learning_rate)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_reduce_lr_on_plateau_warns_when_monitor_missing_but_logs_rate():
    model = FakeModel(learning_rate=0.5)
    rl = cb.ReduceLROnPlateau()
    rl.set_model(model)
    rl.on_train_begin()
    logs = {"loss": 1.0}
    with pytest.warns(UserWarning, match=r"`val_loss` which is not available.*loss,learning_rate"):
        rl.on_epoch_end(0, logs)
    assert logs["learning_rate"] == 0.5


def test_reduce_lr_on_plateau_does_not_reduce_a_rate_at_min_lr_up_to_rounding(capsys):
    model = FakeModel(learning_rate=0.1 * 0.1 * 0.1)     # 0.0010000000000000002
    rl = cb.ReduceLROnPlateau(patience=0, factor=0.5, min_lr=0.001, verbose=1)
    drive_reduce_lr(rl, model, [1.0, 1.0, 1.0], lambda: None)
    assert "reducing" not in capsys.readouterr().out
    assert model.optimizer.learning_rate == 0.1 * 0.1 * 0.1


def test_reduce_lr_on_plateau_verbose(capsys):
    model = FakeModel(learning_rate=0.5)
    rl = cb.ReduceLROnPlateau(patience=0, factor=0.5, verbose=1)
    drive_reduce_lr(rl, model, [1.0, 1.0], lambda: None)
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.25." in capsys.readouterr().out


# -- LearningRateScheduler -------------------------------------------------------------
@pytest.mark.parametrize("schedule", [
    lambda epoch, lr: lr * 0.5 if epoch >= 2 else lr,
    lambda epoch: 0.5 / (1 + epoch),
    lambda epoch, lr=None: 0.25 * (epoch + 1),
])
def test_learning_rate_scheduler_matches_keras(kmodel, schedule):
    model = FakeModel(learning_rate=0.5)
    kmodel.optimizer.learning_rate = 0.5
    ours, theirs = cb.LearningRateScheduler(schedule), keras.callbacks.LearningRateScheduler(schedule)
    ours.set_model(model)
    theirs.set_model(kmodel)
    for epoch in range(5):
        ours.on_epoch_begin(epoch)
        theirs.on_epoch_begin(epoch)
        a, b = {"loss": 1.0}, {"loss": 1.0}
        ours.on_epoch_end(epoch, a)
        theirs.on_epoch_end(epoch, b)
        assert a["learning_rate"] == pytest.approx(b["learning_rate"], rel=1e-6)
        assert model.optimizer.learning_rate == pytest.approx(
            float(np.asarray(kmodel.optimizer.learning_rate)), rel=1e-6)


def test_learning_rate_scheduler_does_not_hide_type_errors_in_two_argument_schedules():
    def schedule(epoch, lr):
        return lr + "oops"          # a bug: must surface, not fall back to schedule(epoch)

    sch = cb.LearningRateScheduler(schedule)
    sch.set_model(FakeModel())
    with pytest.raises(TypeError, match="oops|str"):
        sch.on_epoch_begin(0)


def test_learning_rate_scheduler_rejects_non_numbers_and_accepts_ints(capsys):
    sch = cb.LearningRateScheduler(lambda epoch: "fast")
    sch.set_model(FakeModel())
    with pytest.raises(ValueError, match="should be a float. Got: 'fast'"):
        sch.on_epoch_begin(0)
    model = FakeModel()
    sch = cb.LearningRateScheduler(lambda epoch: 1, verbose=1)
    sch.set_model(model)
    sch.on_epoch_begin(0)
    assert model.optimizer.learning_rate == 1.0 and type(model.optimizer.learning_rate) is float
    assert "Epoch 1: LearningRateScheduler setting learning rate to 1.0." in capsys.readouterr().out
    with pytest.raises(ValueError, match="expected schedule to be a function"):
        cb.LearningRateScheduler(0.1)


def test_learning_rate_scheduler_needs_an_optimizer():
    sch = cb.LearningRateScheduler(lambda epoch: 0.1)
    model = FakeModel()
    model.optimizer = None
    sch.set_model(model)
    with pytest.raises(ValueError, match="compile"):
        sch.on_epoch_begin(0)


# -- ModelCheckpoint ---------------------------------------------------------------
def drive_checkpoint(callback, model, values, monitor="val_loss"):
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"loss": 1.0, monitor: value})
    callback.on_train_end()


@pytest.mark.parametrize("mode,values,threshold", [
    ("auto", [0.5, 0.75, 0.25, 0.25, 0.125, 1.0], None),
    ("max", [0.5, 0.75, 0.25, 0.875, 0.125], None),
    ("auto", [0.5, 0.75, 0.25, 0.25, 0.125, 1.0], 0.3),
])
def test_model_checkpoint_save_best_only_matches_keras(kmodel, tmp_path, mode, values, threshold):
    ours_dir, keras_dir = tmp_path / "ours", tmp_path / "keras"
    ours = cb.ModelCheckpoint(str(ours_dir / "m-{epoch:02d}.lstmlab"), save_best_only=True,
                              mode=mode, initial_value_threshold=threshold)
    theirs = keras.callbacks.ModelCheckpoint(str(keras_dir / "m-{epoch:02d}.keras"),
                                             save_best_only=True, mode=mode,
                                             initial_value_threshold=threshold)
    drive_checkpoint(ours, FakeModel(), values)
    drive_checkpoint(theirs, kmodel, values)
    saved = lambda d: sorted(p.split(".")[0] for p in os.listdir(d)) if d.exists() else []  # noqa: E731
    assert saved(ours_dir) == saved(keras_dir)
    assert ours.best == theirs.best


def test_model_checkpoint_formats_epoch_and_logs_and_saves_every_epoch(tmp_path):
    model = FakeModel()
    path = tmp_path / "sub" / "model-{epoch:02d}-{val_loss:.3f}.lstmlab"
    mc = cb.ModelCheckpoint(path)        # os.PathLike is fine
    drive_checkpoint(mc, model, [0.5, 0.25])
    assert [os.path.basename(p) for p in model.saved] == [
        "model-01-0.500.lstmlab", "model-02-0.250.lstmlab"]
    assert sorted(os.listdir(tmp_path / "sub")) == ["model-01-0.500.lstmlab", "model-02-0.250.lstmlab"]


def test_model_checkpoint_missing_format_key_is_a_key_error(tmp_path):
    mc = cb.ModelCheckpoint(str(tmp_path / "m-{val_acc:.2f}.lstmlab"))
    mc.set_model(FakeModel())
    with pytest.raises(KeyError, match="val_acc.*Available keys: epoch, loss, val_loss"):
        mc.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})


def test_model_checkpoint_save_best_only_warns_and_saves_when_monitor_missing(tmp_path):
    model = FakeModel()
    mc = cb.ModelCheckpoint(str(tmp_path / "m.lstmlab"), save_best_only=True)
    mc.set_model(model)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        mc.on_epoch_end(0, {"loss": 1.0})
    assert len(model.saved) == 1


def test_model_checkpoint_weights_only_writes_npz_at_exactly_the_path(tmp_path):
    model = FakeModel()
    model.weights = [np.arange(6.0).reshape(2, 3), np.ones(3)]
    path = tmp_path / "w-{epoch}.weights"
    mc = cb.ModelCheckpoint(str(path), save_weights_only=True)
    drive_checkpoint(mc, model, [0.5])
    assert os.listdir(tmp_path) == ["w-1.weights"]
    with np.load(tmp_path / "w-1.weights") as f:
        np.testing.assert_array_equal(f["arr_0"], model.weights[0])
        np.testing.assert_array_equal(f["arr_1"], model.weights[1])
    assert model.saved == []


def test_model_checkpoint_weights_only_uses_save_weights_when_the_model_has_it(tmp_path):
    model = FakeModelWithSaveWeights()
    mc = cb.ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True)
    drive_checkpoint(mc, model, [0.5])
    assert model.saved_weights == [(str(tmp_path / "w.weights.h5"), True)]


def test_model_checkpoint_save_freq_in_batches(tmp_path):
    model = FakeModel()
    mc = cb.ModelCheckpoint(str(tmp_path / "m-{epoch}-{batch}.lstmlab"), save_freq=3)
    mc.set_model(model)
    for epoch in range(2):
        mc.on_epoch_begin(epoch)
        for batch in range(4):
            mc.on_train_batch_end(batch, {"loss": 1.0})
        mc.on_epoch_end(epoch, {"loss": 1.0})
    # 8 batches over two epochs of 4: after batches 3 (epoch 1) and 2 (epoch 2, 6th overall).
    assert [os.path.basename(p) for p in model.saved] == ["m-1-3.lstmlab", "m-2-2.lstmlab"]


def test_model_checkpoint_refuses_a_directory(tmp_path):
    mc = cb.ModelCheckpoint(str(tmp_path))
    mc.set_model(FakeModel())
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        mc.on_epoch_end(0, {"val_loss": 1.0})


def test_model_checkpoint_verbose(tmp_path, capsys):
    mc = cb.ModelCheckpoint(str(tmp_path / "m.lstmlab"), save_best_only=True, verbose=1)
    drive_checkpoint(mc, FakeModel(), [0.5, 0.75])
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to 0.50000, saving model to" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out


# -- LambdaCallback, ResetStatesCallback, TerminateOnNaN ----------------------------
def test_lambda_callback_calls_the_functions():
    calls = []
    lc = cb.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, logs["loss"])),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_end=lambda logs: calls.append("train_end"),
        on_test_end=lambda logs: calls.append("test_end"),
    )
    cbs = cb.CallbackList([lc], model=FakeModel())
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_train_batch_begin(0)
    cbs.on_train_batch_end(0, {"loss": 2.0})
    cbs.on_epoch_end(0, {"loss": 1.0})
    cbs.on_train_end()
    cbs.on_test_end()
    assert calls == ["train_begin", ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0, 2.0),
                     ("epoch_end", 0, 1.0), "train_end", "test_end"]


def test_lambda_callback_keras2_batch_alias():
    calls = []
    lc = cb.LambdaCallback(on_batch_end=lambda batch, logs: calls.append(batch))
    lc.on_train_batch_end(4, {})
    assert calls == [4]


def test_lambda_callback_rejects_unknown_hooks_and_non_functions():
    with pytest.raises(TypeError, match="'on_epoch_ends'.*Valid arguments: on_train_begin"):
        cb.LambdaCallback(on_epoch_ends=print)
    with pytest.raises(ValueError, match="expected on_epoch_end to be a function"):
        cb.LambdaCallback(on_epoch_end=3)


def test_reset_states_callback_every_epoch_or_batch():
    model = FakeModel()
    cbs = cb.CallbackList([cb.ResetStatesCallback()], model=model)
    for epoch in range(3):
        cbs.on_epoch_begin(epoch)
        for batch in range(4):
            cbs.on_train_batch_begin(batch)
            cbs.on_train_batch_end(batch, {"loss": 1.0})
        cbs.on_epoch_end(epoch, {"loss": 1.0})
    assert model.resets == 3
    model = FakeModel()
    per_batch = cb.ResetStatesCallback(on="batch")
    per_batch.set_model(model)
    for batch in range(4):
        per_batch.on_train_batch_end(batch, {})
    per_batch.on_epoch_end(0, {})
    assert model.resets == 4
    with pytest.raises(ValueError, match="expected on to be 'epoch' or 'batch'. Received: on='step'"):
        cb.ResetStatesCallback(on="step")
    bad = cb.ResetStatesCallback()
    bad.set_model(object())
    with pytest.raises(TypeError, match="reset_states"):
        bad.on_epoch_end(0)


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_terminate_on_nan_stops(loss, capsys):
    model = FakeModel()
    t = cb.TerminateOnNaN()
    t.set_model(model)
    t.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    t.on_train_batch_end(1, {"loss": loss})
    assert model.stop_training
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        raising = cb.TerminateOnNaN(raise_error=True)
        raising.set_model(FakeModel())
        raising.on_train_batch_end(2, {"loss": loss})


def test_terminate_on_nan_matches_keras(kmodel):
    for loss in (1.0, float("nan"), float("inf")):
        model = FakeModel()
        kmodel.stop_training = False
        ours, theirs = cb.TerminateOnNaN(), keras.callbacks.TerminateOnNaN()
        ours.set_model(model)
        theirs.set_model(kmodel)
        ours.on_train_batch_end(0, {"loss": loss})
        theirs.on_train_batch_end(0, {"loss": loss})
        assert model.stop_training == kmodel.stop_training
    kmodel.stop_training = False


# -- constructor checks ------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: cb.EarlyStopping(patince=3), r"EarlyStopping\(\) got unexpected keyword argument\(s\) "
                                          r"'patince'\. Valid arguments: monitor, min_delta, patience"),
    (lambda: cb.ReduceLROnPlateau(epsilon=1e-3), r"'epsilon'.*renamed `min_delta`"),
    (lambda: cb.ModelCheckpoint("m.lstmlab", period=2), r"'period'.*save_freq"),
    (lambda: cb.LearningRateScheduler(lambda e: 0.1, lr=0.1), r"'lr'\. Valid arguments: schedule, verbose"),
    (lambda: cb.TerminateOnNaN(foo=1), r"'foo'\. Valid arguments: raise_error"),
    (lambda: cb.ResetStatesCallback(every="epoch"), r"'every'\. Valid arguments: on"),
])
def test_unknown_keyword_arguments_are_type_errors(make, match):
    with pytest.raises(TypeError, match=match):
        make()


@pytest.mark.parametrize("make,match", [
    (lambda: cb.EarlyStopping(mode="minimum"),
     r"expected mode to be one of 'auto', 'min', 'max'\. Received: mode='minimum'"),
    (lambda: cb.ReduceLROnPlateau(mode="best"), r"Received: mode='best'"),
    (lambda: cb.ModelCheckpoint("m", mode="up"), r"Received: mode='up'"),
    (lambda: cb.ReduceLROnPlateau(factor=1.0), r"factor >= 1\.0.*Received: factor=1\.0"),
    (lambda: cb.ReduceLROnPlateau(factor=2), r"Received: factor=2"),
    (lambda: cb.ReduceLROnPlateau(factor=-0.5), r"Received: factor=-0\.5"),
    (lambda: cb.ReduceLROnPlateau(min_lr=-1.0), r"min_lr to be a finite number >= 0"),
    (lambda: cb.ReduceLROnPlateau(cooldown=-1), r"cooldown to be an integer >= 0"),
    (lambda: cb.EarlyStopping(patience=-1), r"patience to be an integer >= 0\. Received: patience=-1"),
    (lambda: cb.EarlyStopping(patience=1.5), r"Received: patience=1\.5"),
    (lambda: cb.EarlyStopping(min_delta="0.1"), r"min_delta to be a finite number"),
    (lambda: cb.EarlyStopping(baseline="low"), r"baseline to be a finite number.*or None"),
    (lambda: cb.EarlyStopping(start_from_epoch=-2), r"start_from_epoch"),
    (lambda: cb.EarlyStopping(monitor=""), r"expected monitor to be the name"),
    (lambda: cb.EarlyStopping(verbose=-1), r"expected verbose"),
    (lambda: cb.ModelCheckpoint("m", save_freq="batch"),
     r"expected save_freq to be 'epoch' or a positive number of batches\. Received: save_freq='batch'"),
    (lambda: cb.ModelCheckpoint("m", save_freq=0), r"Received: save_freq=0"),
    (lambda: cb.ModelCheckpoint(None), r"expected filepath"),
    (lambda: cb.ModelCheckpoint("m", initial_value_threshold="x"), r"initial_value_threshold"),
])
def test_bad_values_are_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_defaults_match_keras():
    import inspect
    for name in ("EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
                 "ReduceLROnPlateau", "LambdaCallback", "TerminateOnNaN"):
        ours = inspect.signature(getattr(cb, name).__init__).parameters
        theirs = inspect.signature(getattr(keras.callbacks, name).__init__).parameters
        for p, param in theirs.items():
            if p in ("self", "kwargs"):
                continue
            assert p in ours, (name, p)
            assert ours[p].default == param.default, (name, p)


# -- with a real lstmlab model ---------------------------------------------------------
def _sequential():
    try:
        from lstmlab.models import Sequential
    except ImportError:
        try:
            from lstmlab.models.sequential import Sequential
        except ImportError as e:
            pytest.skip(f"lstmlab.models.Sequential is not importable yet: {e}")
    from lstmlab import layers
    return Sequential, layers


def _regression(seed=0, n=48, t=5, d=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, d)).astype("float32")
    y = (0.3 * x.sum(axis=(1, 2))[:, None]).astype("float32")
    return x, y


def _model(Sequential, layers, lr=0.01):
    from lstmlab import optimizers
    model = Sequential([layers.Input((5, 2)), layers.LSTM(4), layers.Dense(1)])
    model.compile(optimizer=optimizers.Adam(learning_rate=lr), loss="mse")
    return model


def test_fit_early_stopping_restores_the_best_epochs_weights():
    Sequential, layers = _sequential()
    x, y = _regression()
    model = _model(Sequential, layers, lr=0.05)
    seen = {}
    record = cb.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.__setitem__(epoch, (logs["val_loss"], model.get_weights())))
    # Noisy validation on unrelated targets, so it gets worse at some point.
    rng = np.random.default_rng(1)
    xv, yv = rng.normal(size=(16, 5, 2)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
    es = cb.EarlyStopping(patience=1, restore_best_weights=True)
    history = model.fit(x, y, epochs=30, batch_size=16, validation_data=(xv, yv), verbose=0,
                        callbacks=[record, es])
    val = history.history["val_loss"]
    assert history.epoch == list(range(len(val)))
    best = int(np.argmin(val))
    assert es.best_epoch == best
    assert es.best == pytest.approx(val[best])
    if es.stopped_epoch:
        assert len(val) == es.stopped_epoch + 1 < 30
    for w, w_best in zip(model.get_weights(), seen[best][1]):
        np.testing.assert_array_equal(w, w_best)
    assert model.evaluate(xv, yv, verbose=0) == pytest.approx(val[best], rel=1e-5)


def test_fit_model_checkpoint_best_only_and_lr_schedule(tmp_path):
    Sequential, layers = _sequential()
    x, y = _regression()
    model = _model(Sequential, layers)
    mc = cb.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{val_loss:.4f}.lstmlab"),
                            save_best_only=True)
    sched = cb.LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5 ** epoch)
    history = model.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0,
                        callbacks=[sched, mc])
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.005, 0.0025, 0.00125])
    val = history.history["val_loss"]
    expected = [f"m-{e + 1:02d}-{v:.4f}.lstmlab" for e, v in enumerate(val)
                if v < min(val[:e], default=np.inf)]
    assert sorted(os.listdir(tmp_path)) == expected
    assert mc.best == min(val)


def test_fit_terminates_on_stop_training_from_a_batch_callback():
    Sequential, layers = _sequential()
    x, y = _regression()
    model = _model(Sequential, layers)
    batches = []

    def on_batch_end(batch, logs):
        batches.append(batch)
        if batch == 1:
            model.stop_training = True

    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0,
                        callbacks=[cb.LambdaCallback(on_train_batch_end=on_batch_end)])
    assert batches == [0, 1] and history.epoch == [0]
