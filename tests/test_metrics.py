"""lstmlab.metrics against keras.metrics, batch by batch.

Batches of different sizes check that results are sample-weighted running
means (Keras's Mean), not averages of batch results.  Metric names and the
'accuracy' resolution are checked against what Keras 3's compile/fit does.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.trainers.compile_utils import get_metric  # noqa: E402

from lstmlab import metrics  # noqa: E402

# keras-on-torch internals emit numpy-2 __array__ DeprecationWarnings.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BATCH_SIZES = [7, 3, 12, 1]


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def make_batch(kind, n, rng, dtype=np.float32):
    """(y_true, y_pred) with batch size n for a data layout ``kind``."""
    if kind == "regression":
        return rng.normal(size=(n, 3)).astype(dtype), \
            rng.normal(size=(n, 3)).astype(dtype)
    if kind == "regression_seq":
        return rng.normal(size=(n, 4, 2)).astype(dtype), \
            rng.normal(size=(n, 4, 2)).astype(dtype)
    if kind == "regression_flat_true":          # y_true (N,), y_pred (N, 1)
        return rng.normal(size=n).astype(dtype), \
            rng.normal(size=(n, 1)).astype(dtype)
    if kind == "binary":                         # y_true (N, 1)
        return (rng.random((n, 1)) < 0.5).astype(dtype), \
            rng.random((n, 1)).astype(dtype)
    if kind == "binary_flat_true":               # y_true (N,)
        return (rng.random(n) < 0.5).astype(dtype), \
            rng.random((n, 1)).astype(dtype)
    if kind == "onehot":
        return np.eye(4, dtype=dtype)[rng.integers(0, 4, n)], \
            _softmax(rng.normal(size=(n, 4))).astype(dtype)
    if kind == "onehot_seq":
        return np.eye(4, dtype=dtype)[rng.integers(0, 4, (n, 5))], \
            _softmax(rng.normal(size=(n, 5, 4))).astype(dtype)
    if kind == "sparse":
        return rng.integers(0, 4, n), \
            _softmax(rng.normal(size=(n, 4))).astype(dtype)
    if kind == "sparse_col":                     # y_true (N, 1)
        return rng.integers(0, 4, (n, 1)), \
            _softmax(rng.normal(size=(n, 4))).astype(dtype)
    if kind == "sparse_seq":
        return rng.integers(0, 4, (n, 5)), \
            _softmax(rng.normal(size=(n, 5, 4))).astype(dtype)
    raise AssertionError(kind)


CASES = [
    (metrics.MeanSquaredError, keras.metrics.MeanSquaredError, "regression"),
    (metrics.MeanSquaredError, keras.metrics.MeanSquaredError,
     "regression_seq"),
    (metrics.MeanSquaredError, keras.metrics.MeanSquaredError,
     "regression_flat_true"),
    (metrics.MeanAbsoluteError, keras.metrics.MeanAbsoluteError, "regression"),
    (metrics.MeanAbsoluteError, keras.metrics.MeanAbsoluteError,
     "regression_seq"),
    (metrics.RootMeanSquaredError, keras.metrics.RootMeanSquaredError,
     "regression"),
    (metrics.RootMeanSquaredError, keras.metrics.RootMeanSquaredError,
     "regression_seq"),
    (metrics.RootMeanSquaredError, keras.metrics.RootMeanSquaredError,
     "regression_flat_true"),
    (metrics.BinaryAccuracy, keras.metrics.BinaryAccuracy, "binary"),
    (metrics.BinaryAccuracy, keras.metrics.BinaryAccuracy, "binary_flat_true"),
    (metrics.CategoricalAccuracy, keras.metrics.CategoricalAccuracy, "onehot"),
    (metrics.CategoricalAccuracy, keras.metrics.CategoricalAccuracy,
     "onehot_seq"),
    (metrics.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy,
     "sparse"),
    (metrics.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy,
     "sparse_col"),
    (metrics.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy,
     "sparse_seq"),
]
IDS = [f"{c[0].__name__}-{c[2]}" for c in CASES]


def keras_result(m):
    return float(keras.ops.convert_to_numpy(m.result()))


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("ours_cls,keras_cls,kind", CASES, ids=IDS)
def test_matches_keras_over_batches(ours_cls, keras_cls, kind, weighted):
    rng = np.random.default_rng(1)
    ours, ref = ours_cls(), keras_cls()
    assert ours.name == ref.name
    for n in BATCH_SIZES:
        y_true, y_pred = make_batch(kind, n, rng)
        sw = rng.random(n).astype(np.float32) if weighted else None
        ours.update_state(y_true, y_pred, sample_weight=sw)
        ref.update_state(y_true, y_pred, sample_weight=sw)
        assert ours.result() == pytest.approx(keras_result(ref), rel=1e-6,
                                              abs=1e-6)
    ours.reset_state()
    assert ours.result() == 0.0


def test_float64_inputs():
    rng = np.random.default_rng(2)
    ours, ref = metrics.MeanSquaredError(), keras.metrics.MeanSquaredError()
    for n in BATCH_SIZES:
        y_true, y_pred = make_batch("regression_seq", n, rng, np.float64)
        ours.update_state(y_true, y_pred)
        ref.update_state(y_true, y_pred)
    assert ours.result() == pytest.approx(keras_result(ref), rel=1e-6)


def test_rmse_is_root_of_running_mean_not_mean_of_roots():
    m = metrics.get("rmse")
    m.update_state(np.zeros((1, 1)), np.full((1, 1), 3.0))     # mse 9, n=1
    m.update_state(np.zeros((3, 1)), np.zeros((3, 1)))         # mse 0, n=3
    assert m.result() == pytest.approx(np.sqrt(9 / 4))          # not 3 / 2


def test_batches_weighted_by_size():
    m = metrics.MeanAbsoluteError()
    m.update_state(np.zeros((1, 2)), np.ones((1, 2)))           # 1.0, n=1
    m.update_state(np.zeros((3, 2)), np.zeros((3, 2)))          # 0.0, n=3
    assert m.result() == pytest.approx(0.25)


def test_callable_form_returns_running_result():
    m = metrics.BinaryAccuracy()
    assert m(np.array([[1.0], [0.0]]), np.array([[0.9], [0.8]])) == 0.5
    assert m(np.array([[1.0]]), np.array([[0.7]])) == pytest.approx(2 / 3)


# -- 'accuracy' resolution and history names --------------------------------------
@pytest.mark.parametrize("y_true_shape,y_pred_shape", [
    ((8, 1), (8, 1)), ((8,), (8, 1)),           # binary
    ((8,), (8, 5)), ((8, 1), (8, 5)),           # sparse
    ((8, 6), (8, 6, 5)),                        # sparse, sequence output
    ((8, 5), (8, 5)), ((8, 6, 5), (8, 6, 5)),   # categorical
])
@pytest.mark.parametrize("name", ["accuracy", "acc", "Accuracy"])
def test_accuracy_resolves_like_keras_compile(name, y_true_shape, y_pred_shape):
    y_true, y_pred = np.zeros(y_true_shape), np.zeros(y_pred_shape)
    expected = get_metric(name, y_true, y_pred)
    resolved = metrics.resolve(name, output_shape=y_pred_shape,
                               y_true_shape=y_true_shape)
    assert type(resolved).__name__ == type(expected).__name__
    assert resolved.name == expected.name == name
    auto = metrics.get(name)
    auto.update_state(y_true, y_pred)
    assert type(auto.resolved).__name__ == type(expected).__name__


@pytest.mark.parametrize("loss,output_shape,expected", [
    ("sparse_categorical_crossentropy", (None, 5), "SparseCategoricalAccuracy"),
    ("SparseCategoricalCrossentropy", (None, 7, 5),
     "SparseCategoricalAccuracy"),
    ("categorical_crossentropy", (None, 5), "CategoricalAccuracy"),
    ("binary_crossentropy", (None, 1), "BinaryAccuracy"),
    ("sparse_categorical_crossentropy", (None, 1), "BinaryAccuracy"),
    ("mse", (None, 1), "BinaryAccuracy"),
    # Keras 3 quirk kept: multi-label sigmoid + BCE gets categorical accuracy.
    ("binary_crossentropy", (None, 3), "CategoricalAccuracy"),
])
def test_resolve_from_loss_and_output_shape(loss, output_shape, expected):
    assert type(metrics.resolve("accuracy", loss, output_shape)).__name__ \
        == expected


def test_auto_accuracy_matches_keras_over_batches():
    rng = np.random.default_rng(3)
    ours = metrics.get("acc")
    ref = None
    for n in BATCH_SIZES:
        y_true, y_pred = make_batch("sparse_seq", n, rng)
        if ref is None:
            ref = get_metric("acc", y_true, y_pred)
        ours.update_state(y_true, y_pred)
        ref.update_state(y_true, y_pred)
        assert ours.result() == pytest.approx(keras_result(ref), abs=1e-6)
    ours.reset_state()
    assert ours.result() == 0.0 and ours.resolved is not None


def test_history_keys_match_keras_fit():
    """The names Keras 3 puts into history.history are the strings given."""
    names = ["mae", "mean_absolute_error", "mse", "MSE", "acc", "accuracy",
             "binary_accuracy", "root_mean_squared_error"]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=names)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    history = model.fit(x, x[:, :1] > 0, epochs=1, verbose=0)
    ours = [metrics.get(n).name for n in names]
    assert sorted(["loss"] + ours) == sorted(history.history)


@pytest.mark.parametrize("name,cls", [
    ("mse", metrics.MeanSquaredError), ("mean_squared_error",
                                        metrics.MeanSquaredError),
    ("mae", metrics.MeanAbsoluteError), ("MAE", metrics.MeanAbsoluteError),
    ("rmse", metrics.RootMeanSquaredError),
    ("root_mean_squared_error", metrics.RootMeanSquaredError),
    ("binary_accuracy", metrics.BinaryAccuracy),
    ("categorical_accuracy", metrics.CategoricalAccuracy),
    ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy),
    ("SparseCategoricalAccuracy", metrics.SparseCategoricalAccuracy),
    ("accuracy", metrics.AutoAccuracy), ("acc", metrics.AutoAccuracy),
])
def test_get_by_name(name, cls):
    m = metrics.get(name)
    assert type(m) is cls and m.name == name


def test_get_other_identifiers():
    m = metrics.BinaryAccuracy(threshold=0.3)
    assert metrics.get(m) is m
    config = {"class_name": "BinaryAccuracy", "config": m.get_config()}
    assert metrics.get(config).threshold == 0.3
    kconfig = keras.metrics.serialize(keras.metrics.MeanAbsoluteError())
    assert type(metrics.get(kconfig)) is metrics.MeanAbsoluteError
    custom = metrics.get(lambda t, p: np.abs(t - p).max(axis=-1))
    custom.update_state(np.zeros((2, 2)), np.array([[1.0, 3.0], [2.0, 0.0]]))
    assert custom.result() == pytest.approx(2.5)


def test_unknown_metric_lists_valid_names():
    with pytest.raises(ValueError) as info:
        metrics.get("maee")
    msg = str(info.value)
    assert msg.startswith("Unknown metric: 'maee'. Expected one of: ")
    assert msg.endswith("Received: 'maee'.")
    for name in ("'mae'", "'accuracy'", "'rmse'", "'sparse_categorical_accuracy'"):
        assert name in msg


def test_shape_errors_are_explicit():
    with pytest.raises(ValueError, match="sparse_categorical_accuracy"):
        metrics.CategoricalAccuracy().update_state(np.array([0, 1]),
                                                   np.eye(2))
    with pytest.raises(ValueError, match="categorical_accuracy"):
        metrics.SparseCategoricalAccuracy().update_state(np.eye(3),
                                                         np.eye(3)[:, :2])
    with pytest.raises(ValueError, match="does not go with"):
        metrics.MeanSquaredError().update_state(np.zeros((4, 2)),
                                                np.zeros((4, 3)))
