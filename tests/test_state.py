"""State as a value: streams, initial and final states, stateful halves, batch-size moves, forecasting."""
import numpy as np
import pytest

from lstmlab import forecast, layers
from lstmlab.models import Sequential

rng = np.random.default_rng(0)


def stacked(batch=None, stateful=False, T=None, D=2):
    return Sequential([
        layers.Input((T, D), batch_size=batch),
        layers.LSTM(6, return_sequences=True, stateful=stateful),
        layers.Dropout(0.3),
        layers.LSTM(5, stateful=stateful),
        layers.Dense(D),
    ])


def test_stream_step_equals_predict_on_every_prefix():
    model = stacked()
    x = rng.normal(size=(3, 8, 2)).astype("float32")
    stream = model.stream(batch_size=3)
    for t in range(8):
        np.testing.assert_allclose(stream.step(x[:, t]), model.predict(x[:, :t + 1], verbose=0), atol=1e-6)
    np.testing.assert_allclose(stream.step(x[:, 0]), model.predict(np.concatenate([x, x[:, :1]], 1), verbose=0),
                               atol=1e-6)


def test_stream_of_a_large_lstm_equals_predict():
    """From 256 units the stream's step splits h U over the threads: still predict's numbers."""
    model = Sequential([layers.Input((None, 3)), layers.LSTM(256), layers.Dense(4)])
    x = rng.normal(size=(1, 6, 3)).astype("float32")
    stream = model.stream(batch_size=1)
    for t in range(6):
        np.testing.assert_allclose(stream.step(x[:, t]), model.predict(x[:, :t + 1], verbose=0), atol=2e-6)


def test_stream_feed_reset_and_state():
    model = stacked()
    x = rng.normal(size=(1, 6, 2)).astype("float32")
    stream = model.stream()
    out = stream.feed(x)
    assert out.shape == (1, 6, 2)
    np.testing.assert_allclose(out[:, -1], model.predict(x, verbose=0), atol=1e-6)
    h, c = stream.state[1]
    assert h.shape == c.shape == (1, 5)
    _, states = model.predict(x, verbose=0, return_state=True)
    np.testing.assert_allclose(stream.state[1].c, states[1].c, atol=1e-6)
    stream.reset()
    assert all(np.all(s.h == 0) and np.all(s.c == 0) for s in stream.state)
    stream.state = states                       # set by hand
    np.testing.assert_allclose(stream.step(x[:, 0]), model.predict(np.concatenate([x, x[:, :1]], 1), verbose=0),
                               atol=1e-6)


def test_predict_with_initial_state_continues_a_sequence():
    model = stacked()
    x = rng.normal(size=(4, 9, 2)).astype("float32")
    whole = model.predict(x, verbose=0)
    _, states = model.predict(x[:, :5], verbose=0, return_state=True)
    np.testing.assert_allclose(model.predict(x[:, 5:], initial_state=states, verbose=0), whole, atol=1e-6)
    with pytest.raises(ValueError, match=r"one \(h, c\) per LSTM layer \(2 here\)"):
        model.predict(x, initial_state=states[:1], verbose=0)


def test_stateful_prediction_in_two_halves_equals_one():
    model = stacked(batch=2, stateful=True)
    x = rng.normal(size=(2, 10, 2)).astype("float32")
    first = model.predict(x[:, :4], verbose=0)
    assert first.shape == (2, 2)
    halves = model.predict(x[:, 4:], verbose=0)
    model.reset_states()
    np.testing.assert_allclose(halves, model.predict(x, verbose=0), atol=1e-6)


def test_get_and_set_states():
    model = stacked(batch=2, stateful=True, T=3)
    model.predict(rng.normal(size=(2, 3, 2)), verbose=0)
    states = model.get_states()
    assert len(states) == 2 and states[0].h.shape == (2, 6)
    model.reset_states()
    model.set_states(states)
    np.testing.assert_array_equal(model.get_states()[1].c, states[1].c)
    with pytest.raises(ValueError, match="not stateful"):
        stacked().set_states([(np.zeros((1, 6)), np.zeros((1, 6))), None])


def test_move_a_stateful_model_to_batch_one():
    model = stacked(batch=4, stateful=True, T=5)
    model.compile(optimizer="adam", loss="mse")
    model.fit(rng.normal(size=(8, 5, 2)), rng.normal(size=(8, 2)), batch_size=4, shuffle=False, verbose=0)
    one = model.with_batch_size(1)
    seq = rng.normal(size=(1, 5, 2)).astype("float32")
    reference = model.with_batch_size(4)
    np.testing.assert_allclose(one.predict(seq, verbose=0), reference.predict(np.repeat(seq, 4, 0), verbose=0)[:1],
                               atol=1e-6)
    with pytest.raises(ValueError, match="batch size 1"):
        one.predict(np.zeros((2, 5, 2)), batch_size=2, verbose=0)


@pytest.mark.parametrize("units, head", [(8, "softmax"), (256, "linear")])
def test_lstm_and_its_dense_head_step_in_one_call_with_the_same_numbers(units, head):
    """The stream steps an LSTM and the Dense after it in one compiled call: bit for bit
    what the two steps give one after the other, at 256 units with the product split too."""
    from lstmlab.state import _DenseStep, _LSTMDenseStep, _LSTMStep
    model = Sequential([layers.Input((None, 3)), layers.LSTM(units), layers.Dense(4, activation=head)])
    stream = model.stream(batch_size=1)
    assert [type(s) for s in stream._steps] == [_LSTMDenseStep]
    lstm, dense = _LSTMStep(model.layers[0], 1), _DenseStep(model.layers[1], 1)
    for x_t in rng.normal(size=(5, 1, 3)).astype("float32"):
        np.testing.assert_array_equal(stream.step(x_t), dense(lstm(x_t)))
        np.testing.assert_array_equal(stream.state[0].c, lstm.c)


def test_stream_step_takes_lists_1d_rows_strided_views_and_other_float_types():
    """Every form of one timestep gives the numbers of the (1, features) float32 row."""
    model = Sequential([layers.Input((None, 3)), layers.LSTM(4), layers.Dense(2)])
    xs = rng.normal(size=(5, 1, 3))
    forms = [lambda x: x.astype("float32"), lambda x: x, lambda x: x.tolist(), lambda x: x[0],
             lambda x: np.repeat(x[0], 2)[::2], lambda x: np.asfortranarray(x.astype("float32"))]
    streams = [model.stream(batch_size=1) for _ in forms]
    for x in xs:
        outs = [s.step(form(x)) for s, form in zip(streams, forms)]
        for out in outs[1:]:
            np.testing.assert_array_equal(out, outs[0])
    with pytest.raises(ValueError, match=r"shape \(batch, features\) = \(1, 3\). Received shape \(1, 4\)"):
        streams[0].step(np.zeros((1, 4), "float32"))


def test_a_stream_steps_with_the_weights_as_they_are_now():
    """Weights set (or trained) after the stream was made are the ones its next step uses."""
    model = Sequential([layers.Input((None, 3)), layers.LSTM(256), layers.Dense(2, activation="softmax")])
    x = rng.normal(size=(1, 2, 3)).astype("float32")
    stream = model.stream(batch_size=1)
    stream.step(x[:, 0])
    model.set_weights([w * 0.5 for w in model.get_weights()])
    state = stream.state
    np.testing.assert_allclose(stream.step(x[:, 1]),
                               model.predict(x[:, 1:], initial_state=state, verbose=0), atol=2e-6)


def test_a_head_the_compiled_step_does_not_know_runs_through_its_layer():
    from lstmlab.state import _DenseStep, _LSTMStep
    model = Sequential([layers.Input((None, 2)), layers.LSTM(5), layers.Dense(3, activation="hard_sigmoid")])
    x = rng.normal(size=(2, 4, 2)).astype("float32")
    stream = model.stream(batch_size=2)
    assert [type(s) for s in stream._steps] == [_LSTMStep, _DenseStep]
    for t in range(4):
        np.testing.assert_allclose(stream.step(x[:, t]), model.predict(x[:, :t + 1], verbose=0), atol=1e-6)


def test_streaming_refuses_go_backwards():
    model = Sequential([layers.Input((4, 1)), layers.LSTM(3, go_backwards=True), layers.Dense(1)])
    with pytest.raises(ValueError, match="go_backwards"):
        model.stream()


# -- forecasting ---------------------------------------------------------------

def univariate(timesteps=3, features=1):
    return Sequential([layers.Input((timesteps, features)), layers.LSTM(5), layers.Dense(1)])


def hand_loop(model, history, steps, shape):
    """The seed's loop, written out: predict, append, drop the first, repeat."""
    window, out = list(history[-3:]), []
    for _ in range(steps):
        y = model.predict(np.array(window, "float32").reshape(shape), verbose=0)[0, 0]
        out.append(y)
        window = window[1:] + [y]
    return np.array(out, "float32")


def test_window_forecast_equals_the_hand_written_loop():
    model = univariate()
    history = rng.normal(size=20).astype("float32")
    np.testing.assert_array_equal(forecast(model, history, 6, mode="window"), hand_loop(model, history, 6, (1, 3, 1)))


def test_window_as_features():
    model = univariate(timesteps=1, features=3)
    history = rng.normal(size=10).astype("float32")
    np.testing.assert_array_equal(forecast(model, history, 4), hand_loop(model, history, 4, (1, 1, 3)))


def test_state_forecast_equals_predict_on_history_plus_feedback():
    model = Sequential([layers.Input((None, 2)), layers.LSTM(5), layers.Dense(2)])
    history = rng.normal(size=(12, 2)).astype("float32")
    preds = forecast(model, history, 5, mode="state")
    assert preds.shape == (5, 2)
    for k in range(5):
        seq = np.concatenate([history, preds[:k]])[None]
        np.testing.assert_allclose(preds[k], model.predict(seq, verbose=0)[0], atol=1e-6)


def test_forecast_errors():
    with pytest.raises(ValueError, match="must have as many values as one timestep"):
        forecast(Sequential([layers.Input((3, 1)), layers.LSTM(4), layers.Dense(2)]), np.zeros(10), 3)
    with pytest.raises(ValueError, match="at least look_back=3"):
        forecast(univariate(), np.zeros(2), 3)
    with pytest.raises(ValueError, match="'window' or 'state'"):
        forecast(univariate(), np.zeros(5), 3, mode="stateful")
