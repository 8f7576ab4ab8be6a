"""lstmlab.losses against Keras 3 (values) and torch autograd (gradients).

Oracles:
* float32 values: ``keras.losses.<Class>()(y_true, y_pred)`` itself.
* float64: Keras-on-torch is not float64-exact - ``ops.mean`` computes in
  float32 (``result_type(x.dtype, "float32")``) and the final ``sum / count``
  comes back as float32 - so the tight oracle is ``torch_reference``: Keras's
  backend formulas (``keras/src/backend/torch/nn.py``, ``losses/losses.py``)
  written directly in float64 torch.  Keras's float64 result is still checked
  to ~1e-7.
* gradients: torch autograd of ``torch_reference`` (tight), autograd through
  Keras's own code (loose, same float32 caveat) and central finite
  differences in float64.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lstmlab import losses  # noqa: E402

RNG = np.random.default_rng(0)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def make_case(kind, shape, dtype, rng):
    """(y_true, y_pred) for a loss family; y_pred has ``shape``."""
    n_cls = shape[-1]
    z = rng.normal(size=shape) * 2
    if kind == "regression":
        return rng.normal(size=shape).astype(dtype), z.astype(dtype)
    if kind == "binary":
        return (rng.random(shape) < 0.5).astype(dtype), _sigmoid(z).astype(dtype)
    if kind == "binary_logits":
        return (rng.random(shape) < 0.5).astype(dtype), z.astype(dtype)
    labels = rng.integers(0, n_cls, size=shape[:-1])
    if kind == "sparse":
        return labels, _softmax(z).astype(dtype)
    if kind == "sparse_logits":
        return labels, z.astype(dtype)
    onehot = np.eye(n_cls)[labels].astype(dtype)
    if kind == "categorical":
        # Unnormalised positive scores: Keras renormalises them first.
        return onehot, (rng.random(shape) + 0.05).astype(dtype)
    if kind == "categorical_logits":
        return onehot, z.astype(dtype)
    raise AssertionError(kind)


# (our class, keras class, kwargs, data kind)
CASES = [
    (losses.MeanSquaredError, keras.losses.MeanSquaredError, {}, "regression"),
    (losses.MeanAbsoluteError, keras.losses.MeanAbsoluteError, {}, "regression"),
    (losses.Huber, keras.losses.Huber, {}, "regression"),
    (losses.Huber, keras.losses.Huber, {"delta": 0.3}, "regression"),
    (losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy, {}, "binary"),
    (losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy,
     {"label_smoothing": 0.1}, "binary"),
    (losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy,
     {"from_logits": True}, "binary_logits"),
    (losses.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy, {},
     "categorical"),
    (losses.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy,
     {"label_smoothing": 0.2}, "categorical"),
    (losses.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy,
     {"from_logits": True}, "categorical_logits"),
    (losses.SparseCategoricalCrossentropy,
     keras.losses.SparseCategoricalCrossentropy, {}, "sparse"),
    (losses.SparseCategoricalCrossentropy,
     keras.losses.SparseCategoricalCrossentropy, {"from_logits": True},
     "sparse_logits"),
]
IDS = [f"{c[0].__name__}-{c[3]}-{c[2]}" for c in CASES]
SHAPES = [(8, 5), (4, 6, 3)]   # dense output, sequence output


def keras_value(kcls, kwargs, y_true, y_pred):
    """The scalar keras.losses.<Class>()(y_true, y_pred) returns (a torch
    tensor if y_pred is one, so autograd can run through it)."""
    loss = kcls(dtype=str(y_pred.dtype).replace("torch.", ""), **kwargs)
    out = loss(y_true, y_pred)
    return out if torch.is_tensor(y_pred) else float(out)


def torch_reference(kcls, kwargs, y_true, y_pred):
    """Keras's formula for kcls in plain float64 torch (differentiable)."""
    from keras.src.losses.loss import squeeze_or_expand_to_same_rank
    F = torch.nn.functional
    p = y_pred if torch.is_tensor(y_pred) else torch.tensor(y_pred)
    t = torch.as_tensor(np.asarray(y_true), dtype=torch.float64)
    eps = 1e-7
    name = kcls.__name__
    if name == "SparseCategoricalCrossentropy":
        t = t.long()
        if t.ndim == p.ndim:
            t = t.squeeze(-1)
        logits = p.movedim(-1, 1)
        if kwargs.get("from_logits"):
            return F.cross_entropy(logits, t, reduction="none").mean()
        q = torch.clip(logits / logits.sum(1, keepdim=True), eps, 1 - eps)
        return F.nll_loss(torch.log(q), t, reduction="none").mean()
    if name == "CategoricalCrossentropy":
        ls = kwargs.get("label_smoothing", 0.0)
        t = t * (1 - ls) + ls / p.shape[-1]
        if kwargs.get("from_logits"):
            logq = F.log_softmax(p, dim=-1)
        else:
            logq = torch.log(torch.clip(p / p.sum(-1, keepdim=True),
                                        eps, 1 - eps))
        return (-(t * logq).sum(-1)).mean()
    t, p = squeeze_or_expand_to_same_rank(t, p)
    if name == "BinaryCrossentropy":
        ls = kwargs.get("label_smoothing", 0.0)
        t = t * (1 - ls) + 0.5 * ls
        if kwargs.get("from_logits"):
            per = F.binary_cross_entropy_with_logits(p, t, reduction="none")
        else:
            per = F.binary_cross_entropy(torch.clip(p, eps, 1 - eps), t,
                                         reduction="none")
    elif name == "MeanSquaredError":
        per = torch.square(t - p)
    elif name == "MeanAbsoluteError":
        per = torch.abs(t - p)
    elif name == "Huber":
        d = kwargs.get("delta", 1.0)
        err = torch.abs(p - t)
        per = torch.where(err <= d, 0.5 * err ** 2, d * err - 0.5 * d ** 2)
    else:
        raise AssertionError(name)
    return per.mean(-1).mean()   # sum_over_batch_size of per-sample means


def autograd(fn, kcls, kwargs, y_true, y_pred):
    p = torch.tensor(y_pred, dtype=torch.float64, requires_grad=True)
    fn(kcls, kwargs, y_true, p).backward()
    return p.grad.numpy()


def numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cls,kcls,kwargs,kind", CASES, ids=IDS)
def test_float32_value_matches_keras(cls, kcls, kwargs, kind, shape):
    y_true, y_pred = make_case(kind, shape, np.float32, RNG)
    ours = cls(**kwargs)(y_true, y_pred)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, keras_value(kcls, kwargs, y_true, y_pred),
                               rtol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cls,kcls,kwargs,kind", CASES, ids=IDS)
def test_float64_value_matches_keras_formula(cls, kcls, kwargs, kind, shape):
    y_true, y_pred = make_case(kind, shape, np.float64, RNG)
    ours = cls(**kwargs)(y_true, y_pred)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(
        ours, torch_reference(kcls, kwargs, y_true, y_pred).item(), rtol=1e-13)
    np.testing.assert_allclose(ours, keras_value(kcls, kwargs, y_true, y_pred),
                               rtol=1e-7)   # Keras's internal float32 steps


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cls,kcls,kwargs,kind", CASES, ids=IDS)
def test_gradient_matches_torch_autograd_and_finite_differences(
        cls, kcls, kwargs, kind, shape):
    y_true, y_pred = make_case(kind, shape, np.float64, RNG)
    loss = cls(**kwargs)
    grad = loss.gradient(y_true, y_pred)
    assert grad.shape == y_pred.shape and grad.dtype == np.float64
    np.testing.assert_allclose(
        grad, autograd(torch_reference, kcls, kwargs, y_true, y_pred),
        rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(
        grad, autograd(keras_value, kcls, kwargs, y_true, y_pred),
        rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(
        grad, numeric_grad(lambda p: loss(y_true, p), y_pred),
        rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("cls,kcls,kwargs,kind", CASES, ids=IDS)
def test_float32_gradient_keeps_dtype(cls, kcls, kwargs, kind):
    y_true, y_pred = make_case(kind, (6, 4), np.float32, RNG)
    grad = cls(**kwargs).gradient(y_true, y_pred)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(
        grad, autograd(torch_reference, kcls, kwargs, y_true,
                       y_pred.astype(np.float64)),
        rtol=1e-4, atol=1e-6)


def test_probability_clipping_matches_keras():
    """Exact 0/1 probabilities hit Keras's [1e-7, 1-1e-7] clip; the value
    matches and the gradient is zero there, as autograd through clip gives."""
    y_true = np.array([[0, 1, 1, 0], [1, 0, 1, 0]], np.float64)
    y_pred = np.array([[0.0, 1.0, 0.3, 1.0], [0.0, 0.2, 0.9, 0.5]])
    bce = losses.BinaryCrossentropy()
    kargs = (keras.losses.BinaryCrossentropy, {}, y_true, y_pred)
    np.testing.assert_allclose(bce(y_true, y_pred),
                               torch_reference(*kargs).item(), rtol=1e-12)
    np.testing.assert_allclose(bce(y_true, y_pred), keras_value(*kargs),
                               rtol=1e-7)
    grad = bce.gradient(y_true, y_pred)
    np.testing.assert_allclose(grad, autograd(torch_reference, *kargs),
                               atol=1e-14)
    assert grad[0, 0] == grad[0, 1] == grad[0, 3] == 0

    probs = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    onehot = np.array([[0, 1, 0], [0, 0, 1]], np.float64)
    cce = losses.CategoricalCrossentropy()
    kargs = (keras.losses.CategoricalCrossentropy, {}, onehot, probs)
    np.testing.assert_allclose(cce(onehot, probs),
                               torch_reference(*kargs).item(), rtol=1e-12)
    np.testing.assert_allclose(cce(onehot, probs), keras_value(*kargs),
                               rtol=1e-7)
    np.testing.assert_allclose(cce.gradient(onehot, probs),
                               autograd(torch_reference, *kargs), atol=1e-12)


@pytest.mark.parametrize("y_true_shape,y_pred_shape", [
    ((6,), (6, 1)),        # Keras expands y_true
    ((6, 1), (6,)),        # Keras expands y_pred
    ((3, 4), (3, 4, 1)),   # sequence targets without the unit axis
    ((3, 4, 1), (3, 4)),
])
@pytest.mark.parametrize("cls,kcls", [
    (losses.MeanSquaredError, keras.losses.MeanSquaredError),
    (losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy),
])
def test_trailing_unit_axis_like_keras(cls, kcls, y_true_shape, y_pred_shape):
    y_true = (RNG.random(y_true_shape) < 0.5).astype(np.float64)
    y_pred = RNG.uniform(0.05, 0.95, y_pred_shape)
    loss = cls()
    np.testing.assert_allclose(loss(y_true, y_pred),
                               keras_value(kcls, {}, y_true, y_pred), rtol=1e-7)
    np.testing.assert_allclose(
        loss(y_true, y_pred), torch_reference(kcls, {}, y_true, y_pred).item(),
        rtol=1e-13)
    grad = loss.gradient(y_true, y_pred)
    assert grad.shape == y_pred.shape
    np.testing.assert_allclose(
        grad, autograd(torch_reference, kcls, {}, y_true, y_pred), rtol=1e-10)


def test_sparse_accepts_trailing_one_and_float_ids():
    y_true, y_pred = make_case("sparse", (5, 4), np.float64, RNG)
    loss = losses.SparseCategoricalCrossentropy()
    expected = torch_reference(keras.losses.SparseCategoricalCrossentropy, {},
                               y_true, y_pred).item()
    assert loss(y_true[:, None], y_pred) == pytest.approx(expected, rel=1e-12)
    assert loss(y_true.astype(np.float32), y_pred) == pytest.approx(
        expected, rel=1e-12)


# -- fused gradients through the final activation ------------------------------
@pytest.mark.parametrize("cls,kwargs,act", [
    (losses.CategoricalCrossentropy, {}, _softmax),
    (losses.CategoricalCrossentropy, {"label_smoothing": 0.1}, _softmax),
    (losses.SparseCategoricalCrossentropy, {}, _softmax),
    (losses.BinaryCrossentropy, {}, _sigmoid),
])
@pytest.mark.parametrize("shape", SHAPES)
def test_gradient_logits_is_the_chain_rule(cls, kwargs, act, shape):
    loss = cls(**kwargs)
    assert loss.fusable_activation == ("sigmoid" if act is _sigmoid
                                       else "softmax")
    z = RNG.normal(size=shape)
    if cls is losses.SparseCategoricalCrossentropy:
        y_true = RNG.integers(0, shape[-1], size=shape[:-1])
    elif act is _softmax:
        y_true = np.eye(shape[-1])[RNG.integers(0, shape[-1], shape[:-1])]
    else:
        y_true = (RNG.random(shape) < 0.5).astype(np.float64)
    fused = loss.gradient_logits(y_true, z)
    np.testing.assert_allclose(
        fused, numeric_grad(lambda zz: loss(y_true, act(zz)), z),
        rtol=1e-5, atol=1e-9)
    # Explicit chain rule: dL/dp pushed through the activation's Jacobian.
    p = act(z)
    dp = loss.gradient(y_true, p)
    if act is _sigmoid:
        chain = dp * p * (1 - p)
    else:
        chain = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))
    np.testing.assert_allclose(fused, chain, rtol=1e-9, atol=1e-14)
    # from_logits=True computes the very same function of z.
    logits_loss = cls(from_logits=True, **kwargs)
    np.testing.assert_allclose(logits_loss.gradient(y_true, z), fused,
                               rtol=1e-12, atol=1e-15)


def test_gradient_logits_stays_finite_when_saturated():
    z = np.array([[60.0, -60.0, 0.0]], np.float32)
    g = losses.CategoricalCrossentropy().gradient_logits(
        np.array([[0, 1, 0]], np.float32), z)
    np.testing.assert_allclose(g, [[1, -1, 0]], atol=1e-6)
    assert g.dtype == np.float32
    g = losses.BinaryCrossentropy().gradient_logits(
        np.array([[0.0, 1.0]]), np.array([[80.0, -80.0]]))
    np.testing.assert_allclose(g, [[0.5, -0.5]])


def test_non_fusable_losses_say_so():
    assert losses.MeanSquaredError().fusable_activation is None
    assert losses.Huber().fusable_activation is None
    assert not hasattr(losses.MeanSquaredError(), "gradient_logits")


# -- shape validation -------------------------------------------------------------
def _error(loss, y_true, y_pred):
    with pytest.raises(ValueError) as info:
        loss.validate(y_true, y_pred)
    message = str(info.value)
    # every call path validates, not just validate()
    with pytest.raises(ValueError):
        loss(y_true, y_pred)
    with pytest.raises(ValueError):
        loss.gradient(y_true, y_pred)
    return message


def test_sparse_rejects_one_hot_targets():
    msg = _error(losses.SparseCategoricalCrossentropy(), np.eye(4)[[0, 1, 2]],
                 np.full((3, 4), 0.25))
    assert "Expected integer class ids of shape (3,) or (3, 1)" in msg
    assert "Received y_true.shape=(3, 4)" in msg
    assert "categorical_crossentropy" in msg and "argmax" in msg


def test_sparse_rejects_bad_ids():
    loss, y_pred = losses.SparseCategoricalCrossentropy(), np.full((3, 4), .25)
    msg = _error(loss, np.array([0, 4, 1]), y_pred)
    assert "[0, 4)" in msg and "at least 5 units" in msg
    msg = _error(loss, np.array([0.0, 1.5, 1.0]), y_pred)
    assert "integer class ids" in msg and "1.5" in msg


def test_categorical_rejects_integer_labels():
    msg = _error(losses.CategoricalCrossentropy(), np.array([0, 2, 1]),
                 np.full((3, 4), 0.25))
    assert "one-hot y_true of shape (3, 4)" in msg
    assert "Received y_true.shape=(3,)" in msg
    assert "sparse_categorical_crossentropy" in msg and "one-hot encode" in msg


def test_elementwise_losses_reject_mismatched_shapes():
    msg = _error(losses.MeanSquaredError(), np.zeros(5), np.zeros((5, 3)))
    assert "Expected (5, 3)" in msg and "Received y_true.shape=(5,)" in msg
    assert "Fix:" in msg
    msg = _error(losses.MeanSquaredError(), np.zeros((5, 2)), np.zeros((5, 1)))
    assert "or (5,)" in msg   # the trailing-1 alternative is spelled out
    msg = _error(losses.BinaryCrossentropy(), np.array([0, 2, 1]),
                 np.full((3, 3), 0.3))
    assert "sparse_categorical_crossentropy" in msg


def test_validate_accepts_what_keras_accepts():
    losses.MeanSquaredError().validate(np.zeros(4), np.zeros((4, 1)))
    losses.SparseCategoricalCrossentropy().validate(np.zeros((4, 1), int),
                                                    np.full((4, 3), 1 / 3))
    losses.CategoricalCrossentropy().validate(np.eye(3), np.eye(3))


# -- lookup and serialization ------------------------------------------------------
@pytest.mark.parametrize("name,cls", [
    ("mse", losses.MeanSquaredError), ("MSE", losses.MeanSquaredError),
    ("mean_squared_error", losses.MeanSquaredError),
    ("mae", losses.MeanAbsoluteError), ("MAE", losses.MeanAbsoluteError),
    ("mean_absolute_error", losses.MeanAbsoluteError),
    ("huber", losses.Huber), ("huber_loss", losses.Huber),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("MeanSquaredError", losses.MeanSquaredError),
    ("SparseCategoricalCrossentropy", losses.SparseCategoricalCrossentropy),
])
def test_get_by_name(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls
    assert losses.serialize(loss) == name


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError) as info:
        losses.get("msee")
    msg = str(info.value)
    assert msg.startswith("Unknown loss: 'msee'. Expected one of: ")
    assert msg.endswith("Received: 'msee'.")
    for name in ("'mse'", "'huber_loss'", "'sparse_categorical_crossentropy'",
                 "'BinaryCrossentropy'"):
        assert name in msg


@pytest.mark.parametrize("kloss", [
    keras.losses.MeanSquaredError(), keras.losses.Huber(),
    keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    keras.losses.CategoricalCrossentropy(from_logits=True),
    keras.losses.SparseCategoricalCrossentropy(from_logits=True),
])
def test_reads_keras_serialized_config(kloss):
    config = keras.losses.serialize(kloss)
    loss = losses.get(config)
    assert type(loss).__name__ == config["class_name"]
    for key, value in config["config"].items():
        assert loss.get_config()[key] == value
    round_trip = losses.get(losses.serialize(loss))
    assert round_trip.get_config() == loss.get_config()


def test_instances_pass_through_and_huber_delta_round_trips():
    loss = losses.Huber(delta=2.5)
    assert losses.get(loss) is loss
    assert losses.get(losses.serialize(loss)).delta == 2.5
    assert losses.get(None) is None
    with pytest.raises(ValueError, match="Could not interpret"):
        losses.get(42)
