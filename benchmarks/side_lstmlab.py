"""The lstmlab side of every workload: each function builds what it needs and returns the timed callable."""
import numpy as np

from lstmlab import engine
from lstmlab.layers import LSTM, Dense, Dropout, Input
from lstmlab.models import Sequential

WINDOW = 100


def has_stream():
    """`Sequential.stream(batch_size=1).step(x_t)`: lstmlab's streaming API, once it exists."""
    return hasattr(Sequential, "stream")


# -- W1, W2: the seed program and its model -------------------------------------------
def seed_program(X, y, epochs=300):
    def run():
        model = Sequential()
        model.add(LSTM(10, input_shape=(1, 1)))
        model.add(Dense(1))
        model.compile(loss="mse", optimizer="adam")
        model.fit(X, y, epochs=epochs, shuffle=False, verbose=0)
        return model.predict(X, verbose=0)
    return run


def seed_model(X=None, y=None, epochs=0):
    model = Sequential()
    model.add(LSTM(10, input_shape=(1, 1)))
    model.add(Dense(1))
    model.compile(loss="mse", optimizer="adam")
    if epochs:
        model.fit(X, y, epochs=epochs, shuffle=False, verbose=0)
    return model


def seed_predict(X):
    model = seed_model()
    return lambda: model.predict(X, verbose=0)


def seed_call(X):
    model = seed_model()
    return lambda: model(X)


# -- W3: one timestep per call ------------------------------------------------------------
def engine_steps(W, U, b, x, h, c, steps):
    """`steps` calls of engine.step, carrying (h, c)."""
    def run():
        hh, cc = h, c
        for _ in range(steps):
            hh, cc = engine.step(x, W, U, b, hh, cc)
        return hh
    return run


def stream_steps(D, H, x, steps):
    """A model of LSTM(H) alone, one step per `stream.step(x_t)` call."""
    model = Sequential([LSTM(H, input_shape=(1, D))])
    stream = model.stream(batch_size=1)
    try:
        stream.step(x)                    # x_t (1, D)
        xt = x
    except Exception:                     # the API may want (1, 1, D)
        xt = x.reshape(1, 1, -1)
        stream.step(xt)

    def run():
        for _ in range(steps):
            out = stream.step(xt)
        return out
    return run


# -- W4, W6: one training step ---------------------------------------------------------------
def char_model(T, V, H):
    model = Sequential([Input((T, V)), LSTM(H), Dense(V, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def tutorial_model(T, V, H=256):
    model = Sequential([Input((T, 1)), LSTM(H), Dropout(0.2), Dense(V, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def train_step(model, x, y):
    return lambda: model.train_on_batch(x, y)


# -- W5: generation ------------------------------------------------------------------------
def _softmax_argmax(z):
    p = np.exp(z - z.max())
    p /= p.sum()
    return int(p.argmax())


def window_generate(model, seed, V, n, use_call=False):
    """n characters, each from the model on the last WINDOW one-hot characters."""
    eye = np.eye(V, dtype=np.float32)

    def run():
        text = list(seed)
        for _ in range(n):
            x = eye[text[-WINDOW:]][None]                     # (1, WINDOW, V)
            p = model(x)[0] if use_call else model.predict(x, verbose=0)[0]
            text.append(int(p.argmax()))
        return text
    return run


def stateful_generate(model, seed, V, n):
    """n characters, one engine.step per character carrying (h, c), the Dense head in NumPy.

    The state after the seed is computed once, outside the timed loop.
    """
    lstm, dense = model.layers[0], model.layers[-1]
    W, U, b = lstm.get_weights()
    Wd, bd = dense.get_weights()
    eye = np.eye(V, dtype=np.float32)
    H = U.shape[0]
    zeros = np.zeros((1, H), np.float32)
    _, h0, c0, _ = engine.forward(eye[seed][None], W, U, b, zeros, zeros)

    def run():
        h, c, ch = h0, c0, seed[-1]
        out = []
        for _ in range(n):
            h, c = engine.step(eye[ch:ch + 1], W, U, b, h, c)
            ch = _softmax_argmax(h[0] @ Wd + bd)
            out.append(ch)
        return out
    return run


def stream_generate(model, seed, V, n):
    """n characters through `model.stream(batch_size=1)`.

    The seed is fed once, outside the timed loop; each timed run then carries
    on from where the last one stopped (a stream has no rewind), which costs
    the same per character.
    """
    eye = np.eye(V, dtype=np.float32)
    stream = model.stream(batch_size=1)
    state = {"p": None}
    for ch in seed:
        state["p"] = stream.step(eye[ch:ch + 1])

    def run():
        p = state["p"]
        out = []
        for _ in range(n):
            ch = int(np.asarray(p).argmax())
            out.append(ch)
            p = stream.step(eye[ch:ch + 1])
        state["p"] = p
        return out
    return run


def compiled_generate(model, seed, V, n):
    """n characters through the compiled loop that generate_text(mode="state") runs
    (lstmlab.closed_loop): argmax, LSTM step and head, with no Python per character.

    The seed is fed once, outside the timed loop; each timed run carries on from
    where the last one stopped, as in stream_generate.
    """
    from lstmlab import closed_loop
    eye = np.eye(V, dtype=np.float32)
    stream = model.stream(batch_size=1)
    compiled = closed_loop.plan(model, V, "onehot")
    state = {"p": stream.feed(eye[seed][None])[0, -1]}

    def run():
        ids, state["p"] = closed_loop.sample_ids(stream, compiled, state["p"], n, 0, None, False)
        return ids
    return run


def windows_in_flight(model, seed, V, n):
    """n characters through generate_text(mode="window")'s loop (lstmlab.window_loop): the
    windows in flight stepped as one batch. Each call starts from the seed's last window,
    so each pays for filling the pipeline (WINDOW - 1 steps) as a short generation does."""
    from lstmlab import window_loop
    compiled = window_loop.window_plan(model, V, "onehot")
    ids = [int(i) for i in seed[-WINDOW:]]
    return lambda: window_loop.sample_ids(compiled, ids, n, 0, None, False)
