"""The fused softmax/sigmoid + cross-entropy gradient equals the unfused chain rule (float64)."""
import numpy as np
import pytest

from lstmlab import layers, losses
from lstmlab.models import Sequential


@pytest.mark.parametrize("act,loss,make_y", [
    ("softmax", "categorical_crossentropy", lambda rng: np.eye(4)[rng.integers(0, 4, 6)]),
    ("softmax", "sparse_categorical_crossentropy", lambda rng: rng.integers(0, 4, 6)),
    ("sigmoid", "binary_crossentropy", lambda rng: rng.integers(0, 2, (6, 4)).astype(float)),
])
def test_fused_gradient_equals_chain_rule(act, loss, make_y):
    rng = np.random.default_rng(0)
    model = Sequential([layers.Input((3, 2)), layers.LSTM(5, dtype="float64"),
                        layers.Dense(4, activation=act, dtype="float64")])
    model.compile(optimizer="sgd", loss=loss)
    assert model._fused_logits()
    x, y = rng.normal(size=(6, 3, 2)), make_y(rng)
    y_pred, caches = model.forward(x)
    fused = model.backward(model.loss.gradient_logits(y, caches[-1].z), caches, from_logits=True)
    plain = model.backward(model.loss.gradient(y, y_pred), caches)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


def test_from_logits_loss_is_not_fused():
    model = Sequential([layers.Input((3, 2)), layers.LSTM(5), layers.Dense(4)])
    model.compile(optimizer="sgd", loss=losses.CategoricalCrossentropy(from_logits=True))
    assert not model._fused_logits()
