"""Character models: a vocabulary, training sets, sampling, and a stateful char-rnn.

Two ways to train a character model, and two ways to generate from one:

* Windows (the classic Keras text-generation tutorial): `char_windows` cuts
  the text into overlapping windows of, say, 100 characters, each labelled
  with the character that follows; the LSTM reads a window from a zero state
  and predicts the next character. `generate_text(mode="window")` generates
  the same way: it shows the model the last `window` characters, samples the
  next one, appends it, drops the first, and repeats -- O(window) per char.

* Streams (Karpathy's char-rnn): `stateful_text_batches` splits the text into
  `batch_size` contiguous streams read `seq_len` characters at a time; a
  stateful LSTM carries its state from one batch to the next and predicts the
  next character at every step. `generate_text(mode="state")` generates the
  same way: it feeds the seed once and then one step per character, carrying
  (h, c) -- O(1) per char. `train_char_rnn` does all of it.

A model trained on windows can also generate in state mode (and vice versa),
but it is then conditioned on a different past from the one it was trained on:
state mode lets it see everything since the seed's first character, where its
training only ever showed it `window` characters from a zero state.
"""
import json
import os

import numpy as np

from . import closed_loop, window_loop

__all__ = [
    "Vocabulary", "char_windows", "generate_text", "stateful_text_batches", "train_char_rnn",
]

_INPUT_KINDS = ("onehot", "scaled", "ids")


# -----------------------------------------------------------------------------
# Vocabulary
# -----------------------------------------------------------------------------
class Vocabulary:
    """A fixed set of characters, each with an integer id (its position).

    `Vocabulary.from_text(text)` takes the sorted unique characters of a text,
    as the tutorials do (`sorted(list(set(raw_text)))`). With lower=True the
    text is lower-cased first, and so is every text given to `encode`.
    """

    def __init__(self, chars, lower=False):
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"A vocabulary holds single characters. Received {c!r}.")
        if len(set(chars)) != len(chars):
            dups = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"A vocabulary's characters must be distinct. Repeated: {dups}.")
        if not chars:
            raise ValueError("A vocabulary needs at least one character.")
        self.chars = chars
        self.lower = bool(lower)
        self.index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_text(cls, text, lower=False):
        if not isinstance(text, str):
            raise TypeError(f"Vocabulary.from_text expects a str. Received {type(text).__name__}.")
        if lower:
            text = text.lower()
        return cls(sorted(set(text)), lower=lower)

    @property
    def size(self):
        """The number of characters, V: the one-hot width and the softmax size."""
        return len(self.chars)

    def __len__(self):
        return len(self.chars)

    def __contains__(self, char):
        return (char.lower() if self.lower else char) in self.index

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self.chars == other.chars and self.lower == other.lower

    def __repr__(self):
        preview = "".join(self.chars[:40])
        return f"Vocabulary(size={self.size}, lower={self.lower}, chars={preview!r}{'...' if self.size > 40 else ''})"

    def unknown(self, text):
        """The characters of text that are not in the vocabulary, sorted."""
        if self.lower:
            text = text.lower()
        return sorted(set(text) - set(self.index))

    def encode(self, text):
        """text -> int64 ids (len(text),). Unknown characters raise a ValueError listing them."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str. Received {type(text).__name__}.")
        if self.lower:
            text = text.lower()
        try:
            return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError:
            missing = self.unknown(text)
            raise ValueError(
                f"{len(missing)} character(s) are not in the vocabulary of {self.size}: "
                f"{', '.join(repr(c) for c in missing)}. Build the vocabulary from a text that "
                f"contains them, or remove them first."
            ) from None

    def decode(self, ids):
        """ids (any int array or list) -> the string, in order."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and ids.dtype.kind not in "iu":
            if ids.dtype.kind != "f" or not np.all(ids == np.round(ids)):
                raise ValueError(f"decode expects integer ids. Received dtype {ids.dtype}.")
        ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(
                f"ids must be in [0, {self.size - 1}] for this vocabulary of {self.size}. "
                f"Received ids in [{ids.min()}, {ids.max()}]."
            )
        return "".join(self.chars[i] for i in ids)

    def one_hot(self, ids, dtype=np.float32):
        """ids (...) -> one-hot (..., V) float32; a str is encoded first."""
        if isinstance(ids, str):
            ids = self.encode(ids)
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(
                f"ids must be in [0, {self.size - 1}] for this vocabulary of {self.size}. "
                f"Received ids in [{ids.min()}, {ids.max()}]."
            )
        return np.eye(self.size, dtype=dtype)[ids]

    # -- saving ----------------------------------------------------------------
    def to_config(self):
        """A JSON-able dict: {'chars': [...], 'lower': bool}."""
        return {"class_name": "Vocabulary", "chars": list(self.chars), "lower": self.lower}

    @classmethod
    def from_config(cls, config):
        if not isinstance(config, dict) or "chars" not in config:
            raise ValueError(f"A Vocabulary config is a dict with 'chars'. Received: {config!r:.200}.")
        return cls(config["chars"], lower=config.get("lower", False))

    def save(self, path):
        """Write the config as JSON (e.g. beside the model: 'model.vocab.json')."""
        with open(os.fspath(path), "w", encoding="utf-8") as f:
            json.dump(self.to_config(), f, ensure_ascii=True)

    @classmethod
    def load(cls, path):
        with open(os.fspath(path), encoding="utf-8") as f:
            return cls.from_config(json.load(f))


def _vocab_size(vocab):
    if isinstance(vocab, Vocabulary):
        return vocab.size
    if isinstance(vocab, (int, np.integer)) and vocab > 0:
        return int(vocab)
    raise TypeError(f"vocab must be a Vocabulary or a vocabulary size (int > 0). Received: {vocab!r}.")


def _ids_of(text_or_ids, vocab, what):
    if isinstance(text_or_ids, str):
        if not isinstance(vocab, Vocabulary):
            raise TypeError(f"{what} was given a text: pass vocab=Vocabulary to encode it.")
        return vocab.encode(text_or_ids)
    ids = np.asarray(text_or_ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(f"{what} expects a str or a 1-D array of int ids. Received shape {ids.shape}, dtype {ids.dtype}.")
    return ids.astype(np.int64)


def _encode_inputs(ids, V, kind):
    """int ids (...) -> the model's input for them: (...) ids, (..., V) one-hot or (..., 1) scaled."""
    if kind == "ids":
        return np.asarray(ids, np.int64)
    if kind == "onehot":
        return np.eye(V, dtype=np.float32)[ids]
    if kind == "scaled":
        return (np.asarray(ids, np.float32) / np.float32(V))[..., None]
    raise ValueError(f"input must be one of {', '.join(repr(k) for k in _INPUT_KINDS)}. Received: input={kind!r}.")


# -----------------------------------------------------------------------------
# Training sets
# -----------------------------------------------------------------------------
def char_windows(text, vocab, window=100, step=1, input="onehot", target="onehot"):
    """The classic training set: every `window` characters and the one that follows.

    Sample i is ids[i*step : i*step + window] and its target ids[i*step + window],
    for every start that has a next character: N = (len - window - 1) // step + 1
    (the tutorial's `range(0, n_chars - seq_length, 1)` for step=1).

    input: "onehot" -> X (N, window, V) float32;
           "scaled" -> X (N, window, 1) float32, id / V (the Keras tutorial's input);
           "ids"    -> X (N, window) int64, for a model that starts with an Embedding.
    target: "onehot" -> y (N, V) float32 (for categorical_crossentropy);
            "ids"    -> y (N,) int64 (for sparse_categorical_crossentropy).

    One-hot inputs take N * window * V * 4 bytes: the whole of Alice in Wonderland
    at window 100 is 2.8 GB; use "ids" with an Embedding, a larger step or a slice.
    """
    V = _vocab_size(vocab)
    ids = _ids_of(text, vocab, "char_windows")
    for name, v in (("window", window), ("step", step)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={v!r}.")
    if target not in ("onehot", "ids"):
        raise ValueError(f"target must be 'onehot' or 'ids'. Received: target={target!r}.")
    if input not in _INPUT_KINDS:
        raise ValueError(f"input must be one of {', '.join(repr(k) for k in _INPUT_KINDS)}. Received: input={input!r}.")
    if len(ids) < window + 1:
        raise ValueError(
            f"The text has {len(ids)} characters; window={window} needs at least {window + 1} "
            f"(a window and the character after it)."
        )
    starts = np.arange(0, len(ids) - window, step)
    X_ids = ids[starts[:, None] + np.arange(window)]
    y_ids = ids[starts + window]
    X = _encode_inputs(X_ids, V, input)
    y = np.eye(V, dtype=np.float32)[y_ids] if target == "onehot" else y_ids
    return X, y


def stateful_text_batches(ids, batch_size, seq_len, vocab=None, input="ids", target="ids"):
    """A text as batches for stateful truncated-BPTT training, char-rnn style.

    The text (less its last character, which is only a target) is cut into
    `batch_size` contiguous streams of equal length; each stream is read
    `seq_len` characters at a time. Sample i * batch_size + b is the i-th chunk
    of stream b, so with `fit(batch_size=batch_size, shuffle=False)` row b of
    batch i + 1 continues row b of batch i, and a stateful LSTM's carried
    state for row b is the state at the end of the text just before it.
    Characters past the last whole batch are dropped.

    Returns X, y with N = n_batches * batch_size samples:
      input "ids" -> X (N, seq_len) int64; "onehot" -> (N, seq_len, V); "scaled" -> (N, seq_len, 1).
      target "ids" -> y (N, seq_len) int64, the next character at every step
                      (sparse_categorical_crossentropy); "onehot" -> (N, seq_len, V).
    vocab (a Vocabulary, or V as an int) is needed for one-hot or scaled
    arrays, or to encode a str.
    """
    ids = _ids_of(ids, vocab, "stateful_text_batches")
    for name, v in (("batch_size", batch_size), ("seq_len", seq_len)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={v!r}.")
    if input not in _INPUT_KINDS:
        raise ValueError(f"input must be one of {', '.join(repr(k) for k in _INPUT_KINDS)}. Received: input={input!r}.")
    if target not in ("ids", "onehot"):
        raise ValueError(f"target must be 'ids' or 'onehot'. Received: target={target!r}.")
    if (input != "ids" or target != "ids") and vocab is None:
        raise ValueError(f"input={input!r}, target={target!r} need the vocabulary size: pass vocab=.")
    need = batch_size * seq_len + 1
    if len(ids) < need:
        raise ValueError(
            f"The text has {len(ids)} characters; batch_size={batch_size} streams of at least one "
            f"seq_len={seq_len} chunk need at least {need} (batch_size * seq_len + 1)."
        )
    stream_len = (len(ids) - 1) // batch_size
    n_batches = stream_len // seq_len
    used = n_batches * seq_len
    offsets = np.arange(batch_size)[:, None] * stream_len + np.arange(used)   # (B, used)
    inp = ids[offsets].reshape(batch_size, n_batches, seq_len)
    out = ids[offsets + 1].reshape(batch_size, n_batches, seq_len)
    # (B, n_batches, seq_len) -> (n_batches, B, seq_len): batch i is rows i*B .. i*B + B - 1.
    inp = inp.transpose(1, 0, 2).reshape(-1, seq_len)
    out = out.transpose(1, 0, 2).reshape(-1, seq_len)
    V = _vocab_size(vocab) if vocab is not None else None
    X = _encode_inputs(inp, V, input)
    y = out if target == "ids" else np.eye(V, dtype=np.float32)[out]
    return X, y


# -----------------------------------------------------------------------------
# What a model takes and gives
# -----------------------------------------------------------------------------
def _first_layer(model):
    layers = list(getattr(model, "layers", []))
    if not layers:
        raise ValueError("The model has no layers.")
    return layers[0]


def _input_shape(model):
    shape = getattr(model, "_build_input_shape", None) or getattr(model, "batch_input_shape", None)
    if shape is None:
        try:
            shape = model.input_shape
        except Exception:
            shape = None
    return None if shape is None else tuple(shape)


def _input_kind(model, V):
    first = _first_layer(model)
    if type(first).__name__ == "Embedding":
        return "ids"
    D = getattr(first, "input_features", None)
    if D is None:
        shape = _input_shape(model)
        D = None if shape is None else shape[-1]
    if D is None:
        raise ValueError("The model's input size is unknown: build it (fit or predict) first, or pass input=.")
    if D == V:
        return "onehot"
    if D == 1:
        return "scaled"
    raise ValueError(
        f"The model takes {D} features per step, which fits neither one-hot characters "
        f"(the vocabulary has {V}) nor scaled ids (1). Pass input= if this is intended, "
        f"or use the vocabulary the model was trained with."
    )


def _output_size(model):
    shape = getattr(model, "output_shape", None)
    if shape is None:
        last = list(getattr(model, "layers", []))[-1:]
        return getattr(last[0], "units", None) if last else None
    shape = shape[0] if isinstance(shape, list) else shape
    return shape[-1]


def _output_kind(model):
    """'logits' when the model ends in a linear Dense, else 'probs'."""
    last = list(getattr(model, "layers", []))[-1]
    act = getattr(getattr(last, "activation", None), "name", None) or getattr(
        getattr(last, "activation", None), "__name__", None)
    return "logits" if act == "linear" else "probs"


def _is_stateful(model):
    return any(getattr(layer, "stateful", False) for layer in getattr(model, "layers", []))


def _sample(out, temperature, rng, kind):
    """One id from the model's output row (V,): argmax at temperature 0, else softmax(log p / T)."""
    out = np.asarray(out, np.float64).reshape(-1)
    if temperature == 0:
        return int(np.argmax(out))
    if kind == "logits":
        logits = out
    else:
        if np.any(out < 0) or not np.all(np.isfinite(out)):
            raise ValueError(
                "generate_text expects probabilities (a softmax output) or logits from a linear "
                f"last layer. The model returned values such as {out.min():.4g}."
            )
        logits = np.log(np.maximum(out, 1e-300))
    z = logits / temperature
    z = z - z.max()
    p = np.exp(z)
    p /= p.sum()
    return int(rng.choice(len(p), p=p))


# -----------------------------------------------------------------------------
# Generating
# -----------------------------------------------------------------------------
def generate_text(model, vocab, seed, length, temperature=1.0, mode="window", rng=None,
                  input=None, pad=None, window=None):
    """Sample `length` characters after `seed`; returns them (without the seed).

    model: a trained Sequential whose output is one row of V scores per sample
      (softmax probabilities, or logits from a linear last layer); a model that
      returns sequences is read at its last step.
    input: how the model takes characters: "ids" (it starts with an Embedding),
      "onehot" (V features per step) or "scaled" (1 feature: id / V). Inferred
      from the model when None, in that order.
    mode="window": the classic loop. The model reads the last `window`
      characters from a zero state and predicts the next; the character is
      appended and the window slides by one -- O(window) per character. window
      (if not given) is the model's number of timesteps, as declared or as it
      was built (trained) with, else len(seed).
      A longer seed is cut to its last `window` characters. A shorter seed is an
      error unless `pad` (a character of the vocabulary, e.g. " ") is given: it
      is then left-padded to the window with it. A stateful model's carried
      state is neither used nor changed. For [Embedding] LSTM [Dropout] Dense
      models every window in flight runs as one row of a batch, one LSTM step
      per character for all of them (`window_loop`, 3-4x faster at LSTM(256)),
      with the same characters as the loop of `predict` calls.
    mode="state": `model.stream(1)`: the seed is fed once from a zero state,
      then one step per generated character, carrying (h, c) -- O(1) per
      character. For [Embedding] LSTM [Dropout] Dense models the loop of
      sampling, stepping and the head runs as one compiled call
      (`closed_loop`), with the same characters as the stream's loop. This
      is the right model of the past for a stateful char-rnn (see
      train_char_rnn); a model trained on fixed windows sees here an
      ever-longer past it was not trained on.
    temperature: sample from softmax(log(p) / temperature); 1 samples p itself,
      lower is more conservative; 0 takes the argmax (greedy, deterministic).
    rng: np.random.Generator, an int seed, or None (a fresh generator).
    """
    if not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a Vocabulary. Received: {vocab!r}.")
    if not isinstance(seed, str):
        raise TypeError(f"seed must be a str. Received {type(seed).__name__}.")
    if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 0:
        raise ValueError(f"length must be a non-negative integer. Received: length={length!r}.")
    if not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy). Received: temperature={temperature!r}.")
    if mode not in ("window", "state"):
        raise ValueError(f"mode must be 'window' or 'state'. Received: mode={mode!r}.")
    missing = vocab.unknown(seed)
    if missing:
        raise ValueError(
            f"The seed has {len(missing)} character(s) that are not in the vocabulary: "
            f"{', '.join(repr(c) for c in missing)}."
        )
    if not seed:
        raise ValueError("seed must have at least one character: the model needs something to read.")
    V = vocab.size
    out_size = _output_size(model)
    if out_size is None:
        raise ValueError("The model's output size is unknown: build it (fit or predict) first.")
    if out_size != V:
        raise ValueError(
            f"The model outputs {out_size} scores per step, but the vocabulary has {V} characters. "
            f"Use the vocabulary the model was trained with (Vocabulary.from_config / load)."
        )
    kind = input if input is not None else _input_kind(model, V)
    if kind not in _INPUT_KINDS:
        raise ValueError(f"input must be one of {', '.join(repr(k) for k in _INPUT_KINDS)}. Received: input={kind!r}.")
    if rng is None or isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    out_kind = _output_kind(model)
    ids = list(vocab.encode(seed))
    generated = []

    if mode == "window":
        if window is None:
            shape = _input_shape(model)
            window = shape[1] if shape is not None and len(shape) >= 2 and shape[1] is not None else len(seed)
        elif not isinstance(window, (int, np.integer)) or isinstance(window, bool) or window < 1:
            raise ValueError(f"window must be a positive integer. Received: window={window!r}.")
        if len(ids) < window:
            if pad is None:
                raise ValueError(
                    f"The seed has {len(ids)} characters; the model reads windows of {window}. "
                    f"Give a seed of at least {window} characters, pass pad=' ' to left-pad it, "
                    f"or use mode='state'."
                )
            if len(pad) != 1 or pad not in vocab:
                raise ValueError(f"pad must be one character of the vocabulary. Received: pad={pad!r}.")
            ids = [int(vocab.encode(pad)[0])] * (window - len(ids)) + ids
        ids = ids[-window:]
        compiled = window_loop.window_plan(model, V, kind) if length else None
        if compiled is not None:              # the usual char model: every window in flight at once
            return vocab.decode(window_loop.sample_ids(compiled, ids, length, temperature, rng,
                                                       out_kind == "logits"))
        stream = model.stream(1) if _is_stateful(model) else None
        for _ in range(length):
            x = _encode_inputs(np.asarray(ids, np.int64)[None], V, kind)
            if stream is not None:     # a zero state, without touching the model's carried one
                stream.reset()
                out = stream.feed(x)
            else:
                out = np.asarray(model.predict(x, verbose=0))
            out = out[0, -1] if out.ndim == 3 else out[0]
            nxt = _sample(out, temperature, rng, out_kind)
            generated.append(nxt)
            ids = ids[1:] + [nxt]
        return vocab.decode(generated)

    stream = model.stream(1)
    out = stream.feed(_encode_inputs(np.asarray(ids, np.int64)[None], V, kind))[0, -1]
    compiled = closed_loop.plan(model, V, kind) if length else None
    if compiled is not None:                  # the usual char model: the whole loop compiled
        generated, _ = closed_loop.sample_ids(stream, compiled, out, length, temperature, rng,
                                              out_kind == "logits")
        return vocab.decode(generated)
    for k in range(length):
        nxt = _sample(out, temperature, rng, out_kind)
        generated.append(nxt)
        if k + 1 < length:
            out = stream.step(_encode_inputs(np.asarray([nxt], np.int64), V, kind))[0]
    return vocab.decode(generated)


# -----------------------------------------------------------------------------
# A stateful char-rnn in one call
# -----------------------------------------------------------------------------
def train_char_rnn(text, units=128, seq_len=50, batch_size=32, epochs=1, vocab=None, lower=False,
                   optimizer="adam", verbose=0, callbacks=None):
    """Train a stateful char-rnn on a text; returns (model, vocab), the model at batch size 1.

    The model: Input((seq_len, V), batch_size=batch_size) -> LSTM(units,
    return_sequences=True, stateful=True) -> Dense(V, softmax), trained with
    sparse_categorical_crossentropy on the next character at every step, on
    `stateful_text_batches` (one-hot inputs, id targets), with shuffle=False
    and the state reset at the end of each epoch (ResetStatesCallback).

    The returned model is `model.with_batch_size(1)`: same weights, zero
    state, ready for `generate_text(model, vocab, seed, n, mode="state")`.
    The training History is on `model.history`.
    """
    from .callbacks import ResetStatesCallback
    from .layers import LSTM, Dense, Input
    from .models import Sequential

    if not isinstance(text, str):
        raise TypeError(f"train_char_rnn expects the text as a str. Received {type(text).__name__}.")
    vocab = vocab if vocab is not None else Vocabulary.from_text(text, lower=lower)
    V = vocab.size
    X, y = stateful_text_batches(vocab.encode(text), batch_size, seq_len, vocab=vocab,
                                 input="onehot", target="ids")
    model = Sequential([
        Input((seq_len, V), batch_size=batch_size),
        LSTM(units, return_sequences=True, stateful=True),
        Dense(V, activation="softmax"),
    ])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    history = model.fit(X, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=verbose,
                        callbacks=[ResetStatesCallback(on="epoch"), *(callbacks or [])])
    generator = model.with_batch_size(1)
    generator.history = history
    return generator, vocab
