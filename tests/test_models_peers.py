"""Training equals the peers' for the same initial weights and data.

- one SGD step gives PyTorch's updated weights (1e-5);
- the losses of 10 full-batch Adam epochs equal Keras 3's within 1e-4 relative,
  for mean squared error and for categorical cross-entropy.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from lstmlab import layers, optimizers  # noqa: E402
from lstmlab.models import Sequential  # noqa: E402

B, T, D, H = 8, 5, 3, 6


def data(rng, classes=None):
    x = rng.normal(size=(B, T, D)).astype("float32")
    if classes:
        y = np.eye(classes, dtype="float32")[rng.integers(0, classes, B)]
    else:
        y = rng.normal(size=(B, 1)).astype("float32")
    return x, y


def test_one_sgd_step_equals_torch():
    rng = np.random.default_rng(0)
    x, y = data(rng)
    model = Sequential([layers.Input((T, D)), layers.LSTM(H), layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse")
    W, U, b, Wd, bd = model.get_weights()

    lstm, head = torch.nn.LSTM(D, H, batch_first=True), torch.nn.Linear(H, 1)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(W.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(U.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
        head.weight.copy_(torch.from_numpy(Wd.T.copy()))
        head.bias.copy_(torch.from_numpy(bd))
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.1)
    out, _ = lstm(torch.from_numpy(x))
    loss = torch.nn.functional.mse_loss(head(out[:, -1]), torch.from_numpy(y))
    opt.zero_grad()
    loss.backward()
    opt.step()

    ours = model.train_on_batch(x, y)
    assert ours == pytest.approx(loss.item(), rel=1e-6)
    W2, U2, b2, Wd2, bd2 = model.get_weights()
    for a, t in [(W2, lstm.weight_ih_l0.T), (U2, lstm.weight_hh_l0.T),
                 # PyTorch's two biases each take the full bias gradient; ours is b_ih's.
                 (b2, lstm.bias_ih_l0),
                 (Wd2, head.weight.T), (bd2, head.bias)]:
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=1e-5, atol=1e-5)


def keras_twin(model, loss, classes=None):
    """The same network in Keras 3, with the same initial weights."""
    head = keras.layers.Dense(classes or 1, activation="softmax" if classes else None)
    k = keras.Sequential([keras.Input((T, D)), keras.layers.LSTM(H), head])
    k.set_weights(model.get_weights())
    k.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=loss)
    return k


@pytest.mark.parametrize("loss,classes", [("mse", None), ("categorical_crossentropy", 4)])
def test_ten_adam_epochs_equal_keras(loss, classes):
    rng = np.random.default_rng(1)
    x, y = data(rng, classes)
    head = layers.Dense(classes or 1, activation="softmax" if classes else None)
    model = Sequential([layers.Input((T, D)), layers.LSTM(H), head])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss=loss)
    k = keras_twin(model, loss, classes)
    ours = model.fit(x, y, batch_size=B, epochs=10, shuffle=False, verbose=0).history["loss"]
    theirs = k.fit(x, y, batch_size=B, epochs=10, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert ours[-1] < ours[0]
    np.testing.assert_allclose(model.predict(x, verbose=0), k.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_minibatch_epochs_and_metrics_equal_keras():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, T, D)).astype("float32")
    y = rng.normal(size=(20, 1)).astype("float32")
    model = Sequential([layers.Input((T, D)), layers.LSTM(H), layers.Dense(1)])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    k = keras.Sequential([keras.Input((T, D)), keras.layers.LSTM(H), keras.layers.Dense(1)])
    k.set_weights(model.get_weights())
    k.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    ours = model.fit(x, y, batch_size=6, epochs=3, shuffle=False, verbose=0).history
    theirs = k.fit(x, y, batch_size=6, epochs=3, shuffle=False, verbose=0).history
    for key in ("loss", "mae"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4)
    ev = model.evaluate(x, y, batch_size=7, verbose=0)
    np.testing.assert_allclose(ev, k.evaluate(x, y, batch_size=7, verbose=0), rtol=1e-4)


def test_embedding_mask_zero_flows_into_the_lstm_as_in_keras():
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 9, size=(4, 6))
    ids[0, :2] = 0       # leading padding
    ids[1, -3:] = 0      # trailing padding
    model = Sequential([layers.Input((6,)), layers.Embedding(9, 3, mask_zero=True),
                        layers.LSTM(5, return_sequences=True), layers.LSTM(4), layers.Dense(2)])
    k = keras.Sequential([keras.Input((6,)), keras.layers.Embedding(9, 3, mask_zero=True),
                          keras.layers.LSTM(5, return_sequences=True), keras.layers.LSTM(4),
                          keras.layers.Dense(2)])
    k.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(ids, verbose=0), k.predict(ids, verbose=0), rtol=1e-5, atol=1e-5)
