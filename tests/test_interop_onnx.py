"""lstmlab -> ONNX -> onnxruntime: the same numbers (1e-5 on random weights), streaming too."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from lstmlab import Dense, Dropout, Embedding, Input, LSTM, Sequential  # noqa: E402

B, T, D = 4, 6, 3


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.normal(size=w.shape) * 0.5).astype(w.dtype) for w in model.get_weights()])
    return model


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def session(model, path, **kw):
    model.export_onnx(path, **kw)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


ARCHS = {
    "stacked": lambda: Sequential([
        Input((T, D)), LSTM(5, return_sequences=True, go_backwards=True), Dropout(0.3),
        LSTM(4, return_sequences=True), LSTM(3, go_backwards=True),
        Dense(4, activation="relu"), Dense(2, activation="softmax")]),
    "sequences": lambda: Sequential([
        Input((None, D)), LSTM(4, return_sequences=True, go_backwards=True),
        LSTM(3, return_sequences=True, use_bias=False), Dense(2, activation="sigmoid")]),
    "heads": lambda: Sequential([
        LSTM(4, input_shape=(None, D)), Dense(3, activation="tanh"), Dense(2, activation="hard_sigmoid")]),
    "activations": lambda: Sequential([
        Input((None, D)),
        LSTM(4, return_sequences=True, activation="relu", recurrent_activation="hard_sigmoid"),
        LSTM(4, return_sequences=True, activation="hard_sigmoid", go_backwards=True),
        LSTM(3, activation="linear", recurrent_activation="tanh"), Dense(1)]),
    "embedding": lambda: Sequential([Input((T,)), Embedding(12, 4), LSTM(5), Dense(2)]),
}


def data(name, T=T, seed=1):
    rng = np.random.default_rng(seed)
    if name == "embedding":
        return rng.integers(0, 12, (B, T)).astype(np.int64)
    return rng.normal(size=(B, T, D)).astype("float32")


@pytest.mark.parametrize("name", list(ARCHS))
def test_onnx_equals_lstmlab(tmp_path, name):
    model = randomize(ARCHS[name]())
    sess = session(model, tmp_path / "m.onnx")
    x = data(name)
    (y,) = sess.run(None, {"input": x})
    close(y, model.predict(x, verbose=0))
    assert y.shape == model.predict(x, verbose=0).shape
    if name == "sequences":              # any number of timesteps when the model declares None
        x = data(name, T=11)
        close(sess.run(None, {"input": x})[0], model.predict(x, verbose=0))


def test_graph_uses_the_standard_lstm_operator(tmp_path):
    model = randomize(ARCHS["stacked"]())
    path = model.export_onnx(tmp_path / "m.onnx")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    lstms = [n for n in proto.graph.node if n.op_type == "LSTM"]
    assert len(lstms) == 3
    directions = [next(a.s for a in n.attribute if a.name == "direction") for n in lstms]
    assert directions == [b"reverse", b"forward", b"reverse"]
    assert proto.opset_import[0].version == 17
    assert [i.name for i in proto.graph.input] == ["input"]
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", T, D]
    # opset 14 is the floor, and is enough.
    model.export_onnx(tmp_path / "m14.onnx", opset=14)
    x = data("stacked")
    close(ort.InferenceSession(str(tmp_path / "m14.onnx")).run(None, {"input": x})[0],
          model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="opset 14 or later"):
        model.export_onnx(tmp_path / "m13.onnx", opset=13)


@pytest.mark.parametrize("name", ["sequences", "heads", "embedding"])
def test_streaming_graph_carries_the_state(tmp_path, name):
    """Chunk by chunk, feeding h and c back, equals lstmlab over each chunk from the same state;
    for forward-only models it equals one call over the whole sequence."""
    model = randomize(ARCHS[name]())
    sess = session(model, tmp_path / "s.onnx", streaming=True)
    lstms = model.lstm_layers
    names = [i.name for i in sess.get_inputs()]
    assert names == ["input"] + [f"{s}0_{k}" for k in range(len(lstms)) for s in "hc"]
    assert [o.name for o in sess.get_outputs()] == ["output"] + [
        f"{s}_{k}" for k in range(len(lstms)) for s in "hc"]
    x = data(name, T=9)
    states = [(np.zeros((B, l.units), np.float32), np.zeros((B, l.units), np.float32)) for l in lstms]
    outs = []
    for lo, hi in [(0, 1), (1, 5), (5, 6), (6, 9)]:
        chunk = x[:, lo:hi]
        feeds = {"input": chunk}
        for k, (h, c) in enumerate(states):
            feeds[f"h0_{k}"], feeds[f"c0_{k}"] = h, c
        y, *flat = sess.run(None, feeds)
        ours, ours_states = model.predict(chunk, verbose=0, initial_state=states, return_state=True)
        close(y, ours)
        states = [(flat[2 * k], flat[2 * k + 1]) for k in range(len(lstms))]
        for (h, c), s in zip(states, ours_states):
            close(h, s.h)
            close(c, s.c)
        outs.append(y)
    if not any(l.go_backwards for l in lstms):
        whole = model.predict(x, verbose=0)
        if whole.ndim == 3:
            close(np.concatenate(outs, axis=1), whole)
        else:
            close(outs[-1], whole)


def test_streaming_step_by_step_equals_lstmlab_stream(tmp_path):
    model = randomize(Sequential([Input((None, D)), LSTM(4, return_sequences=True), LSTM(3), Dense(1)]))
    sess = session(model, tmp_path / "s.onnx", streaming=True)
    x = data("heads", T=5)
    stream = model.stream(batch_size=B)
    feeds = {f"{s}0_{k}": np.zeros((B, n), np.float32) for k, n in enumerate((4, 3)) for s in "hc"}
    for t in range(5):
        y, h0, c0, h1, c1 = sess.run(None, {"input": x[:, t:t + 1], **feeds})
        feeds = {"h0_0": h0, "c0_0": c0, "h0_1": h1, "c0_1": c1}
        close(y, stream.step(x[:, t]))


def test_what_onnx_cannot_hold_is_refused(tmp_path):
    masked = randomize(Sequential([Input((T,)), Embedding(5, 2, mask_zero=True), LSTM(3)]))
    with pytest.raises(ValueError, match="mask"):
        masked.export_onnx(tmp_path / "m.onnx")
    dense_only = randomize(Sequential([Input((D,)), Dense(2, activation="softmax")]))
    with pytest.raises(ValueError, match="streaming=True needs an LSTM"):
        dense_only.export_onnx(tmp_path / "d.onnx", streaming=True)
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "d.onnx").exists()
    x = np.random.default_rng(0).normal(size=(B, D)).astype("float32")   # no LSTM: still exported
    close(session(dense_only, tmp_path / "d.onnx").run(None, {"input": x})[0], dense_only.predict(x, verbose=0))
