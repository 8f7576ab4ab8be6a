"""The character model's training step (models/classifier_step.py) equals the general step."""
import numpy as np
import pytest

from lstmlab import config, layers, losses, optimizers
from lstmlab.models import Sequential, classifier_step
from lstmlab.engine.kernels import scan_places
from lstmlab.models.classifier_step import _finite_rows


def classifier(T, D, H, V, dropout=None, dtype="float32", loss="categorical_crossentropy", lstm_kw=None,
               dense_bias=True):
    middle = [] if dropout is None else [dropout]
    model = Sequential([layers.Input((T, D)), layers.LSTM(H, dtype=dtype, **(lstm_kw or {})), *middle,
                        layers.Dense(V, activation="softmax", use_bias=dense_bias, dtype=dtype)])
    model.compile(optimizer="adam", loss=loss)
    return model


def general_step(model, x, y):
    """What Trainer._train_step computes without the fused step: loss, y_pred, grads."""
    y_pred, caches = model.forward(x, training=True)
    loss = float(model.loss(y, y_pred))
    dz = model.loss.gradient_logits(y, caches[-1].z)
    return loss, y_pred, model.backward(dz, caches, from_logits=True)


def inputs(rng, B, T, D, V, one_hot, targets):
    x = (np.eye(D)[rng.integers(0, D, (B, T))] if one_hot else rng.normal(size=(B, T, D)))
    ids = rng.integers(0, V, B)
    y = {"one-hot": np.eye(V)[ids], "ids": ids, "ids (B, 1)": ids[:, None],
         "soft": rng.dirichlet(np.ones(V), B)}[targets]
    return x, y


CASES = [
    # B=64 at H=32: the threads split the batch; B=5 and B=1: one share on the caller's thread.
    dict(B=64, T=7, D=12, H=32, V=12),
    dict(B=5, T=4, D=6, H=8, V=6),
    dict(B=1, T=3, D=6, H=8, V=6),
    dict(B=64, T=5, D=40, H=32, V=9, one_hot=False),               # x W projected, not looked up
    dict(B=64, T=5, D=12, H=32, V=12, loss="sparse_categorical_crossentropy", targets="ids"),
    dict(B=6, T=5, D=12, H=8, V=12, loss="sparse_categorical_crossentropy", targets="ids (B, 1)"),
    dict(B=64, T=5, D=12, H=32, V=12, targets="soft",
         loss=losses.CategoricalCrossentropy(label_smoothing=0.1)),
    dict(B=64, T=6, D=12, H=32, V=12, dropout=0.3),
    dict(B=64, T=6, D=12, H=32, V=12, dropout=0.0),
    dict(B=64, T=6, D=12, H=32, V=12, dropout=0.5, noise_shape=(None, 1)),
    dict(B=64, T=4, D=12, H=32, V=12, lstm_kw=dict(use_bias=False), dense_bias=False),
    dict(B=64, T=4, D=12, H=32, V=12, lstm_kw=dict(activation="relu", recurrent_activation="hard_sigmoid")),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_fused_step_equals_the_general_step(case, dtype):
    case = dict(case)
    B, T, D, H, V = (case.pop(k) for k in "BTDHV")
    one_hot, targets = case.pop("one_hot", True), case.pop("targets", "one-hot")
    rate, noise_shape = case.pop("dropout", None), case.pop("noise_shape", None)
    dropout = None if rate is None else layers.Dropout(rate, noise_shape=noise_shape)
    model = classifier(T, D, H, V, dropout, dtype, **case)
    x, y = inputs(np.random.default_rng(1), B, T, D, V, one_hot, targets)
    config.set_random_seed(5)                       # the same dropout mask on both sides
    fused = classifier_step.train_step(model, x, y)
    config.set_random_seed(5)
    loss, y_pred, grads = general_step(model, x.astype(dtype), y)
    assert fused is not None
    tol = 1e-12 if dtype == "float64" else 2e-6
    assert fused[0] == pytest.approx(loss, rel=tol)
    assert fused[1].dtype == np.dtype(dtype)
    np.testing.assert_allclose(fused[1], y_pred, rtol=tol, atol=tol)
    assert len(fused[2]) == len(grads) == len(model.trainable_weights)
    for got, want, w in zip(fused[2], grads, model.trainable_weights):
        assert got.shape == w.shape and got.dtype == w.dtype
        scale = max(np.abs(want).max(), 1e-30)
        np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=10 * tol)


def twins(**kw):
    a = classifier(**kw)
    b = Sequential.from_config(a.get_config())
    b.set_weights(a.get_weights())
    b.compile(optimizer="adam", loss=a.loss)
    return a, b


def test_training_with_the_fused_step_equals_training_without(monkeypatch):
    """Whole updates, through train_on_batch and fit, float64: the same weights and losses."""
    rng = np.random.default_rng(2)
    fast, slow = twins(T=6, D=10, H=32, V=10, dropout=layers.Dropout(0.2), dtype="float64")
    x, y = inputs(rng, 80, 6, 10, 10, True, "one-hot")
    general = {"train_step": lambda *a: None}

    def run(model, patch):
        with monkeypatch.context() as m:
            if patch:
                m.setattr(classifier_step, "train_step", general["train_step"])
            config.set_random_seed(7)
            first = model.train_on_batch(x[:64], y[:64])
            history = model.fit(x, y, batch_size=40, epochs=3, verbose=0)
        return [first] + history.history["loss"]

    np.testing.assert_allclose(run(fast, False), run(slow, True), rtol=1e-12)
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    assert fast.optimizer.iterations == slow.optimizer.iterations == 1 + 3 * 2


def test_the_benchmarked_models_take_the_fused_step():
    """The character model (W4) and the tutorial's model with its Dropout (W6)."""
    rng = np.random.default_rng(0)
    for model, x, y in [
        (classifier(100, 60, 64, 60), *inputs(rng, 64, 100, 60, 60, True, "one-hot")),
        (classifier(100, 1, 256, 47, layers.Dropout(0.2)), rng.random((128, 100, 1)),
         np.eye(47)[rng.integers(0, 47, 128)]),
    ]:
        assert classifier_step.train_step(model, x, y) is not None


@pytest.mark.parametrize("change", [
    dict(lstm_kw=dict(return_sequences=True)),
    dict(lstm_kw=dict(dropout=0.1)),
    dict(lstm_kw=dict(recurrent_dropout=0.1)),
    dict(lstm_kw=dict(go_backwards=True)),
    dict(loss="mse"),
    dict(loss=losses.CategoricalCrossentropy(from_logits=True)),
])
def test_other_models_take_the_general_step(change):
    model = classifier(5, 6, 8, 6, **change)
    assert classifier_step.layers_for(model) is None
    x, y = inputs(np.random.default_rng(0), 4, 5, 6, 6, True, "one-hot")
    assert classifier_step.train_step(model, x, y) is None


def test_other_heads_and_small_batches_at_many_units_take_the_general_step():
    relu_head = Sequential([layers.Input((5, 6)), layers.LSTM(8), layers.Dense(6, activation="relu")])
    relu_head.compile(optimizer="adam", loss="categorical_crossentropy")
    assert classifier_step.layers_for(relu_head) is None
    frozen = classifier(5, 6, 8, 6)
    frozen.layers[0].trainable = False
    assert classifier_step.layers_for(frozen) is None
    wide = classifier(5, 6, 256, 6)                 # batch 4 at 256 units: the unit split
    x, y = inputs(np.random.default_rng(0), 4, 5, 6, 6, True, "one-hot")
    assert classifier_step.layers_for(wide) is not None
    assert classifier_step.train_step(wide, x, y) is None
    assert np.isfinite(wide.train_on_batch(x, y))


def test_wrong_input_shapes_take_the_general_step_and_its_errors():
    model = classifier(5, 6, 8, 6)
    x, y = inputs(np.random.default_rng(0), 4, 5, 6, 6, True, "one-hot")
    assert classifier_step.train_step(model, x[:, :, :5], y) is None
    with pytest.raises(ValueError, match="built for 6 features"):
        model.train_on_batch(x[:, :, :5], y)


def test_bad_values_raise_as_the_general_step_does():
    model = classifier(5, 6, 8, 6)
    x, y = inputs(np.random.default_rng(0), 64, 5, 6, 6, True, "one-hot")
    before = model.get_weights()
    x[40, 3, 2] = np.inf                            # in the second share's rows
    with pytest.raises(ValueError, match=r"received NaN or inf \(first at index \(40, 3, 2\)"):
        classifier_step.train_step(model, x, y)
    with pytest.raises(ValueError, match=r"received NaN or inf"):
        model.train_on_batch(x, y)
    x[40, 3, 2] = 0.0
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        classifier_step.train_step(model, x, np.arange(64) % 6)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_rows_finds_every_nan_and_inf(dtype):
    """Read from x, or from the values the forward loop kept when the rows were one-hot."""
    B, T, D = 4, 3, 5
    x = np.zeros((B, T, D), dtype)
    x[:, :, 1] = 1.0                                # one-hot rows
    ids, vals, onehot = scan_places(T, B, dtype)
    scanned = np.ones(T * B, dtype), np.array([4, 0, 0, 0])     # the loop found rows 0:4 one-hot
    assert _finite_rows(x, vals, onehot, 0, 4) and _finite_rows(x, *scanned, 0, 4)
    for value in (np.nan, np.inf, -np.inf):
        for where in [(0, 0, 0), (2, 1, 3), (3, 2, 4)]:
            y = x.copy()
            y[where] = value
            assert not _finite_rows(y, vals, onehot, 0, 4)
            assert _finite_rows(y, vals, onehot, 0, where[0])
            assert _finite_rows(y, vals, onehot, where[0] + 1, 4)
        kept = np.ones(T * B, dtype)
        kept[7] = value                             # one of the kept values: x itself is not read
        assert not _finite_rows(x, kept, scanned[1], 0, 4)
    big = np.full((2, 2, 2), np.finfo(dtype).max, dtype)
    assert _finite_rows(big, *scan_places(2, 2, dtype)[1:], 0, 2)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_one_hot_row_whose_one_value_is_not_finite_is_caught(value):
    model = classifier(5, 6, 8, 6)
    x, y = inputs(np.random.default_rng(0), 64, 5, 6, 6, True, "one-hot")
    x[50, 2] = 0.0
    x[50, 2, 4] = value                             # still one non-zero in its row
    with pytest.raises(ValueError, match=r"received NaN or inf \(first at index \(50, 2, 4\)"):
        classifier_step.train_step(model, x, y)
