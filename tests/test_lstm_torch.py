"""The LSTM layer against PyTorch's nn.LSTM: outputs and every gradient, weights mapped across.

PyTorch keeps W_ih (4H, D), W_hh (4H, H) and two biases, gates in the same
i, f, g, o order as Keras: W_ih = kernel.T, W_hh = recurrent_kernel.T,
b_ih + b_hh = bias.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lstmlab import layers  # noqa: E402

B, T, D, H = 4, 7, 3, 6


def torch_lstm(layer):
    W, U, b = layer.get_weights()
    net = torch.nn.LSTM(W.shape[0], layer.units, batch_first=True)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(W.T.copy()))
        net.weight_hh_l0.copy_(torch.from_numpy(U.T.copy()))
        net.bias_ih_l0.copy_(torch.from_numpy(b * 0.25))    # any split of the bias will do
        net.bias_hh_l0.copy_(torch.from_numpy(b * 0.75))
    return net


@pytest.mark.parametrize("scale", [0.5, 5.0], ids=["moderate", "saturated"])
def test_outputs_and_gradients_equal_torch(scale):
    rng = np.random.default_rng(0)
    layer = layers.LSTM(H, return_sequences=True, return_state=True)
    x = rng.normal(size=(B, T, D)).astype("float32")
    h0, c0 = (rng.normal(size=(B, H)).astype("float32") for _ in range(2))
    layer(x)
    layer.set_weights([w * scale for w in layer.get_weights()])
    net = torch_lstm(layer)

    (out, h, c), cache = layer.forward(x, initial_state=[h0, c0])
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    c0t = torch.tensor(c0[None], requires_grad=True)
    out_t, (h_t, c_t) = net(xt, (h0t, c0t))
    for a, b in [(out, out_t), (h, h_t[0]), (c, c_t[0])]:
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-5, atol=1e-5)

    dout, dh, dc = (rng.normal(size=s).astype("float32") for s in (out.shape, h.shape, c.shape))
    (out_t * torch.from_numpy(dout)).sum().add((h_t[0] * torch.from_numpy(dh)).sum()) \
        .add((c_t[0] * torch.from_numpy(dc)).sum()).backward()
    g = layer.backward([dout, dh, dc], cache)
    dW, dU, db = g.weights
    expected = {
        "dx": (g.inputs, xt.grad.numpy()),
        "dW": (dW, net.weight_ih_l0.grad.numpy().T),
        "dU": (dU, net.weight_hh_l0.grad.numpy().T),
        "db": (db, net.bias_ih_l0.grad.numpy()),
        "dh0": (g.states[0], h0t.grad.numpy()[0]),
        "dc0": (g.states[1], c0t.grad.numpy()[0]),
    }
    for name, (a, b) in expected.items():
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


def test_last_output_only_equals_torch():
    rng = np.random.default_rng(1)
    layer = layers.LSTM(H)
    x = rng.normal(size=(B, T, D)).astype("float32")
    y, cache = layer.forward(x)
    net = torch_lstm(layer)
    xt = torch.tensor(x, requires_grad=True)
    out_t, _ = net(xt)
    np.testing.assert_allclose(y, out_t[:, -1].detach().numpy(), rtol=1e-5, atol=1e-5)
    dy = rng.normal(size=y.shape).astype("float32")
    (out_t[:, -1] * torch.from_numpy(dy)).sum().backward()
    np.testing.assert_allclose(layer.backward(dy, cache).inputs, xt.grad.numpy(), rtol=1e-5, atol=1e-5)
