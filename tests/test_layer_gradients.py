"""Every layer's backward against float64 finite differences of its own forward."""
import numpy as np
import pytest

from lstmlab import layers

from gradcheck import assert_grads

B, T, D, H = 2, 5, 3, 4


def check_layer(layer, x, rng, forward_kw=None, tol=1e-6):
    """Compare layer.backward with finite differences for inputs and weights (and initial state)."""
    forward_kw = dict(forward_kw or {})
    y, cache = layer.forward(x, **forward_kw)
    outs = y if isinstance(y, list) else [y]
    seeds = [rng.normal(size=np.shape(o)) for o in outs]

    def loss():
        y, _ = layer.forward(x, **forward_kw)
        return sum(float((o * s).sum()) for o, s in zip(y if isinstance(y, list) else [y], seeds))

    g = layer.backward(seeds if isinstance(y, list) else seeds[0], cache)
    params = {"x": x, **{f"w{i}": w for i, w in enumerate(layer.weights)}}
    analytic = {"x": g.inputs, **{f"w{i}": d for i, d in enumerate(g.weights)}}
    if "initial_state" in forward_kw:
        for name, s, d in zip(("h0", "c0"), forward_kw["initial_state"], g.states):
            params[name], analytic[name] = s, d
    assert_grads(loss, params, analytic, tol=tol)


LSTM_FLAGS = [
    {},
    {"return_sequences": True},
    {"return_state": True, "return_sequences": True},
    {"go_backwards": True, "return_sequences": True},
    {"use_bias": False},
    {"zero_output_for_mask": True, "return_sequences": True},
    {"return_state": True},                     # the last output's gradient joins h_T's
    {"zero_output_for_mask": True},
]


@pytest.mark.parametrize("kw", LSTM_FLAGS, ids=lambda kw: ",".join(kw) or "defaults")
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_gradients(kw, masked):
    rng = np.random.default_rng(0)
    layer = layers.LSTM(H, dtype="float64", **kw)
    x = rng.normal(size=(B, T, D))
    fkw = {"initial_state": [rng.normal(size=(B, H)), rng.normal(size=(B, H))]}
    if masked:
        fkw["mask"] = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
    check_layer(layer, x, rng, fkw)


def test_lstm_gradients_saturated():
    rng = np.random.default_rng(1)
    layer = layers.LSTM(H, dtype="float64", return_sequences=True)
    x = rng.normal(size=(B, T, D))
    layer(x)
    layer.set_weights([w * 8 for w in layer.get_weights()] [:2] + [rng.normal(size=4 * H) * 4])
    check_layer(layer, x, rng)


@pytest.mark.parametrize("act", ["linear", "tanh", "sigmoid", "softmax", "relu"])
@pytest.mark.parametrize("shape", [(B, D), (B, T, D)])
def test_dense_gradients(act, shape):
    rng = np.random.default_rng(2)
    check_layer(layers.Dense(3, activation=act, dtype="float64"), rng.normal(size=shape), rng)


def test_embedding_gradient_sums_repeated_ids():
    layer = layers.Embedding(5, 3, dtype="float64")
    ids = np.array([[1, 1, 4], [0, 1, 2]])
    y, cache = layer.forward(ids)
    g = layer.backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(g.weights[0][:, 0], [1, 3, 1, 0, 1])


def test_dropout_gradient_is_its_mask():
    layer = layers.Dropout(0.5, seed=3)
    x = np.ones((4, 6), "float32")
    y, mask = layer.forward(x, training=True)
    np.testing.assert_array_equal(layer.backward(np.ones_like(y), mask).inputs, y)


def test_lstm_backward_can_skip_the_input_gradient():
    rng = np.random.default_rng(3)
    layer = layers.LSTM(H, dtype="float64")
    x = rng.normal(size=(B, T, D))
    y, cache = layer.forward(x)
    dy = rng.normal(size=y.shape)
    full, lean = layer.backward(dy, cache), layer.backward(dy, cache, inputs=False)
    assert lean.inputs is None
    for a, b in zip(full.weights + full.states, lean.weights + lean.states):
        np.testing.assert_array_equal(a, b)
