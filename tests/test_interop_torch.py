"""lstmlab <-> PyTorch: the same function both ways, 1e-5 on random weights."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lstmlab import Dense, Dropout, Embedding, Input, LSTM, Sequential  # noqa: E402
from lstmlab.interop import from_torch, to_torch  # noqa: E402

B, T, D = 4, 6, 3


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.normal(size=w.shape) * 0.5).astype(w.dtype) for w in model.get_weights()])
    return model


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def arch(name, dtype=None):
    kw = {} if dtype is None else {"dtype": dtype}
    if name == "stacked":
        return Sequential([Input((T, D)), LSTM(5, return_sequences=True, go_backwards=True, **kw),
                           Dropout(0.3), LSTM(4, return_sequences=True, **kw),
                           LSTM(3, go_backwards=True, **kw), Dense(4, activation="relu", **kw),
                           Dense(2, activation="softmax", **kw)])
    if name == "sequences":
        return Sequential([Input((None, D), **kw), LSTM(4, return_sequences=True, go_backwards=True, **kw),
                           LSTM(3, return_sequences=True, use_bias=False, **kw),
                           Dense(2, activation="sigmoid", **kw)])
    if name == "heads":
        return Sequential([Input((T, D)), LSTM(4, **kw), Dense(3, activation="tanh", **kw),
                           Dense(2, activation="hard_sigmoid", **kw)])
    if name == "embedding":
        return Sequential([Input((T,)), Embedding(12, 4), LSTM(5), Dense(1)])
    raise KeyError(name)


def data(name, seed=1):
    rng = np.random.default_rng(seed)
    if name == "embedding":
        return rng.integers(0, 12, (B, T))
    return rng.normal(size=(B, T, D)).astype("float32")


@pytest.mark.parametrize("name", ["stacked", "sequences", "heads", "embedding"])
def test_to_torch_computes_the_same_function(name):
    model = randomize(arch(name))
    x = data(name)
    module = to_torch(model)
    assert isinstance(module, torch.nn.Module) and not module.training
    with torch.no_grad():
        y = module(torch.as_tensor(x)).numpy()
    close(y, model.predict(x, verbose=0))


def test_to_torch_float64_and_states():
    model = randomize(arch("sequences", dtype="float64"))
    x = data("sequences").astype("float64")
    rng = np.random.default_rng(2)
    states = [(rng.normal(size=(B, 4)), rng.normal(size=(B, 4))), (rng.normal(size=(B, 3)), rng.normal(size=(B, 3)))]
    ours, ours_states = model.predict(x, verbose=0, initial_state=states, return_state=True)
    module = to_torch(model)
    with torch.no_grad():
        y, final = module(torch.as_tensor(x), states=[tuple(map(torch.as_tensor, s)) for s in states],
                          return_states=True)
    assert y.dtype == torch.float64
    np.testing.assert_allclose(y.numpy(), ours, rtol=1e-10, atol=1e-10)
    for (h, c), s in zip(final, ours_states):
        np.testing.assert_allclose(h.numpy(), s.h, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(c.numpy(), s.c, rtol=1e-10, atol=1e-10)


def test_to_torch_module_trains():
    model = randomize(arch("heads"))
    module = to_torch(model).train()
    out = module(torch.as_tensor(data("heads")))
    out.sum().backward()
    assert all(p.grad is not None for p in module.parameters())


def test_to_torch_refuses_what_nn_lstm_cannot_compute():
    model = Sequential([Input((T, D)), LSTM(3, activation="relu")])
    with pytest.raises(ValueError, match="activation='relu'.*only tanh and sigmoid"):
        to_torch(model)
    masked = Sequential([Input((T,)), Embedding(5, 2, mask_zero=True), LSTM(3)])
    with pytest.raises(ValueError, match="mask"):
        to_torch(masked)
    with pytest.warns(UserWarning, match="recurrent_dropout"):
        to_torch(Sequential([Input((T, D)), LSTM(3, recurrent_dropout=0.2)]))


def _torch_lstm(num_layers=3, batch_first=True, bias=True, dropout=0.0, H=5, seed=0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(D, H, num_layers=num_layers, batch_first=batch_first, bias=bias, dropout=dropout)
    with torch.no_grad():
        for p in lstm.parameters():
            p.normal_(0, 0.5)            # random biases too: both of them
    return lstm.eval()


@pytest.mark.parametrize("num_layers,bias,dropout", [(1, True, 0.0), (3, True, 0.2), (2, False, 0.0)])
def test_from_torch_lstm_and_linear(num_layers, bias, dropout):
    lstm, head = _torch_lstm(num_layers, bias=bias, dropout=dropout), torch.nn.Linear(5, 2)
    x = data("stacked")
    with torch.no_grad():
        out, _ = lstm(torch.as_tensor(x))
        last = head(out[:, -1]).numpy()
        every = torch.softmax(head(out), -1).numpy()
    model = from_torch(lstm, head)
    assert sum(isinstance(layer, LSTM) for layer in model.layers) == num_layers
    assert sum(isinstance(layer, Dropout) for layer in model.layers) == (num_layers - 1 if dropout else 0)
    close(model.predict(x, verbose=0), last)
    seq = from_torch(lstm, head, return_sequences=True, activation="softmax")
    close(seq.predict(x, verbose=0), every)


def test_from_torch_time_major_lstm():
    lstm = _torch_lstm(2, batch_first=False)
    x = data("stacked")
    with torch.no_grad():
        out, _ = lstm(torch.as_tensor(x).transpose(0, 1))          # (T, B, D) in, (T, B, H) out
    model = from_torch(lstm, return_sequences=True)
    close(model.predict(x, verbose=0), out.transpose(0, 1).numpy())


def test_from_torch_state_dicts_of_a_users_module():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = _torch_lstm(2)
            self.fc = torch.nn.Linear(5, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])

    net = Net().eval()
    sd = net.state_dict()
    lstm_sd = {k: v for k, v in sd.items() if k.startswith("rnn.")}
    fc_sd = {k: v.numpy() for k, v in sd.items() if k.startswith("fc.")}     # numpy arrays do too
    model = from_torch(lstm_sd, fc_sd)
    x = data("stacked")
    with torch.no_grad():
        close(model.predict(x, verbose=0), net(torch.as_tensor(x)).numpy())


def test_round_trip_lstmlab_torch_lstmlab():
    model = randomize(Sequential([Input((T, D)), LSTM(4, return_sequences=True), LSTM(3), Dense(2)]))
    module = to_torch(model)
    lstm = torch.nn.LSTM(D, 4, num_layers=1, batch_first=True)
    lstm.load_state_dict(module.blocks[0].lstm.state_dict())
    back = from_torch(lstm, return_sequences=True)
    x = data("stacked")
    close(back.predict(x, verbose=0), model.layers[0](x))


def test_from_torch_refuses_what_lstmlab_lacks():
    with pytest.raises(ValueError, match="bidirectional"):
        from_torch(torch.nn.LSTM(D, 4, bidirectional=True))
    with pytest.raises(ValueError, match="proj_size=2"):
        from_torch(torch.nn.LSTM(D, 4, proj_size=2))
    with pytest.raises(ValueError, match="Linear head takes 3 features; the LSTM gives 4"):
        from_torch(torch.nn.LSTM(D, 4), torch.nn.Linear(3, 1))
    with pytest.raises(ValueError, match="weight_ih_l0"):
        from_torch({"weight": torch.zeros(3, 3)})
