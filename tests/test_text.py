"""lstmlab.text: vocabulary, training sets, sampling, stateful char-rnn."""
import json

import numpy as np
import pytest

from lstmlab import Dense, Embedding, Input, LSTM, Sequential, config, datasets
from lstmlab.text import (
    Vocabulary, char_windows, generate_text, stateful_text_batches, train_char_rnn,
)

TEXT = ("the quick brown fox jumps over the lazy dog. a stitch in time saves nine. "
        "all that glitters is not gold. the early bird catches the worm. ") * 2


# -- vocabulary -----------------------------------------------------------------------
def test_vocabulary_round_trip_and_config(tmp_path):
    v = Vocabulary.from_text("hello, world")
    assert v.chars == sorted(set("hello, world")) and v.size == len(v) == 9
    ids = v.encode("world hello")
    assert ids.dtype == np.int64 and v.decode(ids) == "world hello"
    cfg = json.loads(json.dumps(v.to_config()))
    assert Vocabulary.from_config(cfg) == v
    v.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json") == v
    lower = Vocabulary.from_text("Hello", lower=True)
    assert lower.chars == ["e", "h", "l", "o"] and lower.decode(lower.encode("HeLLo")) == "hello"


def test_vocabulary_errors_and_one_hot():
    v = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\).*'x', 'z'"):
        v.encode("abxzx")
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        v.decode([0, 3])
    oh = v.one_hot(np.array([[0, 2], [1, 1]]))
    assert oh.dtype == np.float32 and oh.shape == (2, 2, 3)
    np.testing.assert_array_equal(oh.argmax(-1), [[0, 2], [1, 1]])
    np.testing.assert_array_equal(oh.sum(-1), 1)
    np.testing.assert_array_equal(v.one_hot("cab").argmax(-1), [2, 0, 1])


# -- windows ---------------------------------------------------------------------------
def test_char_windows_three_input_kinds():
    text = "abcdefghij"
    v = Vocabulary.from_text(text)                       # ids 0..9
    X, y = char_windows(text, v, window=4, input="ids")
    assert X.shape == (6, 4) and y.shape == (6, 10) and X.dtype == np.int64
    np.testing.assert_array_equal(X[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(y.argmax(-1), [4, 5, 6, 7, 8, 9])
    X, y = char_windows(text, v, window=4, input="scaled")
    assert X.shape == (6, 4, 1) and X.dtype == np.float32
    np.testing.assert_allclose(X[1, :, 0], np.array([1, 2, 3, 4]) / 10)
    X, y = char_windows(text, v, window=4, input="onehot", step=3, target="ids")
    assert X.shape == (2, 4, 10) and y.shape == (2,)
    np.testing.assert_array_equal(X[1].argmax(-1), [3, 4, 5, 6])
    np.testing.assert_array_equal(y, [4, 7])
    with pytest.raises(ValueError, match="10 characters; window=10 needs at least 11"):
        char_windows(text, v, window=10)


# -- generating ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def window_model():
    """LSTM(8) on one-hot windows of 10, trained one epoch on a 300-char text."""
    config.set_random_seed(1)
    text = TEXT[:300]
    v = Vocabulary.from_text(text)
    X, y = char_windows(text, v, window=10)
    model = Sequential([LSTM(8, input_shape=(10, v.size)), Dense(v.size, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    return model, v, text


def hand_window_loop(model, v, seed, length, window):
    """The tutorial's greedy loop, written out: predict, argmax, append, slide."""
    pattern = list(v.encode(seed))[-window:]
    out = []
    for _ in range(length):
        x = v.one_hot(np.array(pattern))[None]          # (1, window, V)
        p = model.predict(x, verbose=0)[0]
        i = int(np.argmax(p))
        out.append(i)
        pattern = pattern[1:] + [i]
    return v.decode(out)


def test_generate_window_mode_greedy_equals_hand_loop(window_model):
    model, v, text = window_model
    seed = text[:15]                                    # longer than the window: last 10 used
    got = generate_text(model, v, seed, 40, temperature=0, mode="window")
    assert len(got) == 40 and set(got) <= set(v.chars)
    assert got == hand_window_loop(model, v, seed, 40, window=10)
    assert got == generate_text(model, v, seed, 40, temperature=0, mode="window", rng=123)
    # an explicit window overrides the model's timesteps
    assert generate_text(model, v, seed, 5, temperature=0, window=15) == hand_window_loop(model, v, seed, 5, 15)


def test_generate_state_mode_greedy_equals_stream_loop(window_model):
    model, v, text = window_model
    seed = text[:7]
    got = generate_text(model, v, seed, 30, temperature=0, mode="state")
    stream = model.stream(1)
    for i in v.encode(seed):
        p = stream.step(v.one_hot(np.array([i])))
    ids = []
    for _ in range(30):
        i = int(np.argmax(p[0]))
        ids.append(i)
        p = stream.step(v.one_hot(np.array([i])))
    assert got == v.decode(ids)


def test_generate_sampling_is_seeded(window_model):
    model, v, text = window_model
    for mode in ("window", "state"):
        a = generate_text(model, v, text[:10], 25, temperature=1.0, mode=mode, rng=7)
        b = generate_text(model, v, text[:10], 25, temperature=1.0, mode=mode,
                          rng=np.random.default_rng(7))
        assert a == b and len(a) == 25 and set(a) <= set(v.chars)
        c = generate_text(model, v, text[:10], 25, temperature=0.5, mode=mode, rng=8)
        assert len(c) == 25


def test_generate_errors(window_model):
    model, v, text = window_model
    with pytest.raises(ValueError, match="not in the vocabulary: 'Q', 'Z'"):
        generate_text(model, v, "QZ" + text[:10], 5)
    with pytest.raises(ValueError, match="seed has 4 characters; the model reads windows of 10"):
        generate_text(model, v, text[:4], 5, mode="window")
    padded = generate_text(model, v, text[:4], 5, mode="window", pad=" ", temperature=0)
    assert padded == generate_text(model, v, " " * 6 + text[:4], 5, mode="window", temperature=0)
    other = Vocabulary.from_text(text + "XYZ")
    with pytest.raises(ValueError, match=f"outputs {v.size} scores.*{other.size} characters"):
        generate_text(model, other, text[:10], 5)
    with pytest.raises(ValueError, match="temperature"):
        generate_text(model, v, text[:10], 5, temperature=-1)


def test_generate_scaled_and_embedding_models():
    config.set_random_seed(2)
    v = Vocabulary.from_text(TEXT)
    scaled = Sequential([LSTM(6, input_shape=(12, 1)), Dense(v.size, activation="softmax")])
    scaled.build((None, 12, 1))
    out = generate_text(scaled, v, TEXT[:12], 10, temperature=0)
    x = (v.encode(TEXT[:12]).astype(np.float32) / v.size)[None, :, None]
    assert out[0] == v.chars[int(np.argmax(scaled.predict(x, verbose=0)[0]))]
    emb = Sequential([Embedding(v.size, 5), LSTM(6), Dense(v.size, activation="softmax")])
    emb.build((None, 12))
    for mode in ("window", "state"):
        got = generate_text(emb, v, TEXT[:12], 10, temperature=0, mode=mode)
        assert len(got) == 10 and set(got) <= set(v.chars)
    first = emb.predict(v.encode(TEXT[:12])[None], verbose=0)[0]
    assert generate_text(emb, v, TEXT[:12], 1, temperature=0)[0] == v.chars[int(np.argmax(first))]


def _stream_loop(monkeypatch, *args, **kwargs):
    """generate_text through Stream.step, one Python call per character."""
    from lstmlab import closed_loop
    with monkeypatch.context() as m:
        m.setattr(closed_loop, "plan", lambda *a: None)
        return generate_text(*args, **kwargs)


@pytest.mark.parametrize("head", ["softmax", "linear"])
@pytest.mark.parametrize("inputs", ["onehot", "scaled", "ids"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_state_loop_gives_the_stream_loops_text(monkeypatch, head, inputs, dtype):
    """mode="state" runs sample -> step -> head compiled for [Embedding] LSTM [Dropout] Dense:
    the same characters as the stream's loop, greedy and sampled from the same seed."""
    from lstmlab import Dropout, closed_loop
    config.set_random_seed(4)
    v = Vocabulary.from_text(TEXT)
    V = v.size
    first = {"onehot": [Input((None, V))], "scaled": [Input((None, 1))],
             "ids": [Input((None,)), Embedding(V, 7)]}[inputs]
    model = Sequential(first + [LSTM(40, dtype=dtype), Dropout(0.3), Dense(V, activation=head, dtype=dtype)])
    if inputs == "ids":
        model.layers[0].embeddings = model.layers[0].embeddings.astype(dtype)
    model.build((None, 12) if inputs == "ids" else (None, 12, V if inputs == "onehot" else 1))
    for layer in model.layers:                      # larger weights: less uniform, more telling samples
        layer.set_weights([w * 3 for w in layer.get_weights()])
    assert closed_loop.plan(model, V, inputs) is not None
    for temperature, rng in ((0, None), (1.0, 5), (0.6, 9)):
        got = generate_text(model, v, TEXT[:12], 60, temperature=temperature, mode="state", rng=rng)
        assert got == _stream_loop(monkeypatch, model, v, TEXT[:12], 60, temperature=temperature,
                                   mode="state", rng=rng)
    assert len(set(got)) > 5


def test_compiled_state_loop_of_a_large_lstm_gives_the_stream_loops_text(monkeypatch):
    """From 256 units both loops split each step's product over the threads, the same way."""
    config.set_random_seed(5)
    v = Vocabulary.from_text(TEXT)
    model = Sequential([Input((None, v.size)), LSTM(256), Dense(v.size, activation="softmax")])
    model.build((None, 12, v.size))
    for layer in model.layers:
        layer.set_weights([w * 3 for w in layer.get_weights()])
    for temperature, rng in ((0, None), (1.0, 5)):
        got = generate_text(model, v, TEXT[:12], 40, temperature=temperature, mode="state", rng=rng)
        assert got == _stream_loop(monkeypatch, model, v, TEXT[:12], 40, temperature=temperature,
                                   mode="state", rng=rng)


def test_compiled_state_loop_leaves_other_models_to_the_stream(window_model):
    """Two LSTMs, or a head the compiled step does not know: the stream's loop, same answers."""
    from lstmlab import closed_loop
    model, v, text = window_model
    V = v.size
    two = Sequential([Input((None, V)), LSTM(6, return_sequences=True), LSTM(5), Dense(V, activation="softmax")])
    two.build((None, 10, V))
    assert closed_loop.plan(two, V, "onehot") is None
    assert len(generate_text(two, v, text[:10], 8, temperature=0, mode="state")) == 8
    assert closed_loop.plan(model, V, "onehot") is not None
    assert closed_loop.plan(model, V, "ids") is None                # no Embedding to look ids up in

    class MyLSTM(LSTM):
        """A subclass may compute its own way: only the stream's loop calls its code."""

    mine = Sequential([Input((None, V)), MyLSTM(6), Dense(V, activation="softmax")])
    mine.build((None, 10, V))
    assert closed_loop.plan(mine, V, "onehot") is None


def test_compiled_state_loop_reports_outputs_it_cannot_sample(monkeypatch):
    config.set_random_seed(6)
    v = Vocabulary.from_text(TEXT)
    model = Sequential([Input((None, v.size)), LSTM(8), Dense(v.size, activation="tanh")])
    model.build((None, 5, v.size))
    with pytest.raises(ValueError, match="expects probabilities"):
        generate_text(model, v, TEXT[:5], 5, temperature=1.0, mode="state", rng=0)
    with pytest.raises(ValueError, match="expects probabilities"):
        _stream_loop(monkeypatch, model, v, TEXT[:5], 5, temperature=1.0, mode="state", rng=0)
    linear = Sequential([Input((None, v.size)), LSTM(8), Dense(v.size)])
    linear.build((None, 5, v.size))
    W, b = linear.layers[-1].get_weights()
    linear.layers[-1].set_weights([W, np.full_like(b, np.nan)])
    with pytest.raises(ValueError, match="not finite"):
        generate_text(linear, v, TEXT[:5], 5, temperature=1.0, mode="state", rng=0)


def _classic_window_loop(monkeypatch, *args, **kwargs):
    """generate_text(mode="window") through model.predict on each window, one call per character."""
    from lstmlab import window_loop
    with monkeypatch.context() as m:
        m.setattr(window_loop, "window_plan", lambda *a: None)
        return generate_text(*args, **kwargs)


@pytest.mark.parametrize("units,inputs,dtype", [(256, "onehot", "float32"), (40, "scaled", "float64"),
                                                (40, "ids", "float32"), (8, "onehot", "float64")])
@pytest.mark.parametrize("length", [1, 6, 45])
def test_window_loop_in_flight_gives_the_classic_loops_text(monkeypatch, units, inputs, dtype, length):
    """mode="window" steps every window in flight as one batch (window_loop.py): the classic
    loop's characters, greedy and sampled, whether fewer characters than the window (6) are
    asked for or more (45)."""
    from lstmlab import Dropout, window_loop
    config.set_random_seed(7)
    v = Vocabulary.from_text(TEXT)
    V, window = v.size, 12
    first = {"onehot": [Input((window, V))], "scaled": [Input((window, 1))],
             "ids": [Input((window,)), Embedding(V, 7)]}[inputs]
    model = Sequential(first + [LSTM(units, dtype=dtype), Dropout(0.2), Dense(V, activation="softmax", dtype=dtype)])
    if inputs == "ids":
        model.layers[0].embeddings = model.layers[0].embeddings.astype(dtype)
    model.build((None, window) if inputs == "ids" else (None, window, V if inputs == "onehot" else 1))
    for layer in model.layers:
        layer.set_weights([w * 3 for w in layer.get_weights()])
    assert window_loop.window_plan(model, V, inputs) is not None
    for temperature, rng in ((0, None), (1.0, 5), (0.7, 11)):
        got = generate_text(model, v, TEXT[:20], length, temperature=temperature, mode="window", rng=rng)
        assert got == _classic_window_loop(monkeypatch, model, v, TEXT[:20], length,
                                           temperature=temperature, mode="window", rng=rng)
        assert len(got) == length


def test_window_loop_leaves_masked_embeddings_to_the_model():
    from lstmlab import window_loop
    v = Vocabulary.from_text(TEXT)
    model = Sequential([Input((5,)), Embedding(v.size, 4, mask_zero=True), LSTM(6), Dense(v.size, activation="softmax")])
    model.build((None, 5))
    assert window_loop.window_plan(model, v.size, "ids") is None
    assert len(generate_text(model, v, TEXT[:5], 3, mode="window", rng=0)) == 3


def test_window_loop_reports_outputs_it_cannot_sample(monkeypatch):
    config.set_random_seed(6)
    v = Vocabulary.from_text(TEXT)
    model = Sequential([Input((5, v.size)), LSTM(8), Dense(v.size, activation="tanh")])
    model.build((None, 5, v.size))
    for run in (generate_text, lambda *a, **k: _classic_window_loop(monkeypatch, *a, **k)):
        with pytest.raises(ValueError, match="expects probabilities"):
            run(model, v, TEXT[:5], 5, temperature=1.0, mode="window", rng=0)


# -- stateful char-rnn ------------------------------------------------------------------
def test_stateful_text_batches_continuity():
    ids = np.arange(103)                      # each id is its own position in the text
    B, L = 4, 5
    X, y = stateful_text_batches(ids, B, L)
    # (103 - 1) // 4 = 25 per stream -> 5 batches of 5 steps
    assert X.shape == y.shape == (5 * B, L)
    np.testing.assert_array_equal(y, X + 1)                 # next char at every step
    for i in range(4):
        for b in range(B):
            row, nxt = X[i * B + b], X[(i + 1) * B + b]
            assert nxt[0] == row[-1] + 1                    # row b of batch i+1 continues row b of batch i
    np.testing.assert_array_equal(X[:B, 0], [0, 25, 50, 75])   # contiguous streams
    Xo, yo = stateful_text_batches(ids, B, L, vocab=103, input="onehot", target="onehot")
    assert Xo.shape == (20, L, 103) and yo.shape == (20, L, 103)
    np.testing.assert_array_equal(Xo.argmax(-1), X)
    with pytest.raises(ValueError, match="at least 21"):
        stateful_text_batches(np.arange(20), 4, 5)


def test_stateful_training_sparse_targets_on_3d_output():
    """Dense on (B, T, H) + sparse_categorical_crossentropy on (N, T) int targets."""
    config.set_random_seed(3)
    v = Vocabulary.from_text(TEXT)
    X, y = stateful_text_batches(v.encode(TEXT), 4, 10, vocab=v, input="onehot")
    model = Sequential([Input((10, v.size), batch_size=4),
                        LSTM(8, return_sequences=True, stateful=True),
                        Dense(v.size, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    h = model.fit(X, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    assert model.predict(X[:4], verbose=0).shape == (4, 10, v.size)


def test_train_char_rnn_on_wonderland_generates():
    config.set_random_seed(4)
    text = datasets.wonderland()[:2000]
    model, v = train_char_rnn(text, units=32, seq_len=25, batch_size=8, epochs=1)
    assert model.batch_input_shape[0] == 1 and v.size == len(set(text))
    assert len(model.history.history["loss"]) == 1
    for mode in ("state", "window"):
        out = generate_text(model, v, "Alice was beginning to get", 40, mode=mode, rng=0)
        assert len(out) == 40 and set(out) <= set(v.chars)
    assert model.get_states() == [None]      # window mode on a stateful model leaves it alone
