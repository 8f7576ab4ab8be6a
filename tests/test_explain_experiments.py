"""The experiments' conclusions, on models whose weights make the answer known in advance."""
import io

import numpy as np
from rich.console import Console

from lstmlab.explain import ablations, one_step, run_experiments, stateless_vs_stateful, trace, what_units_mean
from lstmlab.layers import LSTM, Dense, Input
from lstmlab.models import Sequential


def known(T=6, D=2, H=3, forget=None, zero_U=False, seed=0, **lstm):
    """LSTM(H) + Dense(1) in float64 with random weights; `forget` 1 or 0 holds the forget gate there
    (its weights 0, its bias +-50: sigmoid(+-50) is 1 or 1e-22), `zero_U` zeroes the recurrent kernel."""
    m = Sequential([Input((T, D)), LSTM(H, dtype="float64", **lstm), Dense(1, dtype="float64")])
    rng = np.random.default_rng(seed)
    W, U, b = rng.normal(0, 0.8, (D, 4 * H)), rng.normal(0, 0.6, (H, 4 * H)), rng.normal(0, 0.3, 4 * H)
    if forget is not None:
        W[:, H:2 * H], U[:, H:2 * H], b[H:2 * H] = 0.0, 0.0, 50.0 if forget == 1 else -50.0
    if zero_U:
        U[:] = 0.0
    m.set_weights([W, U, b, rng.normal(0, 1, (H, 1)), np.array([0.1])])
    return m


def xs(B=5, T=6, D=2, seed=1):
    return np.random.default_rng(seed).normal(size=(B, T, D))


def test_forget_one_zero_U_makes_order_irrelevant():
    m, x = known(forget=1, zero_U=True), xs()
    assert np.all(trace(m, x)[0].f == 1.0)
    r = ablations(m, x)
    n = r.numbers
    assert n["order_matters"] is False and n["uses_c"] and not n["uses_h"]
    assert n["deltas"]["history shuffled"]["max"] < 1e-12
    assert "does not matter" in r.conclusion and "order-free summary" in r.conclusion
    assert "not through h_(t-1)" in r.conclusion


def test_zero_U_alone_still_depends_on_order():
    m, x = known(zero_U=True), xs()
    r = ablations(m, x)
    n = r.numbers
    assert n["order_matters"] is True and n["uses_c"] and not n["uses_h"]
    assert n["deltas"]["history shuffled"]["mean"] > 1e-3
    assert "the order of the history matters" in r.conclusion and "cell state remembers" in r.conclusion


def test_forget_zero_zero_U_depends_on_the_last_input_only():
    m, x = known(forget=0, zero_U=True), xs()
    r = ablations(m, x)
    assert r.numbers["last_input_only"] and r.numbers["order_matters"] is False
    assert r.conclusion.startswith("The prediction depends on the last input only")
    other = x.copy()
    other[:, :-1] = np.random.default_rng(9).normal(size=other[:, :-1].shape)   # a different history
    np.testing.assert_allclose(m.predict(other, verbose=0), m.predict(x, verbose=0), atol=1e-12)


def test_full_model_uses_both_paths_and_order():
    m, x = known(seed=3), xs()
    r = ablations(m, x)
    assert r.numbers["uses_h"] and r.numbers["uses_c"] and r.numbers["order_matters"]
    assert "through h_(t-1)" in r.conclusion and "the carried c" in r.conclusion


def test_one_timestep_uses_no_state():
    m = known(T=1, D=1, H=10, seed=2)
    x = np.array([0.0, 0.1, 0.2, 0.3, 0.4]).reshape(5, 1, 1)
    r = ablations(m, x)
    assert max(v["max"] for v in r.numbers["deltas"].values()) < 1e-12
    assert "single timestep" in r.conclusion and "neither the previous output nor the cell state" in r.conclusion


def test_one_step_equations():
    m, x = known(), xs()
    r = one_step(m, x, t=3, sample=2)
    L = trace(m, x)[0]
    assert r.numbers["error"] < 1e-12
    np.testing.assert_allclose(r.numbers["c"], L.c[2, 3], atol=1e-12)
    assert "equal the layer's own" in r.conclusion and "h_(t-1)·U moves" in r.conclusion
    assert any(line.strip().startswith("c_t = f·c_(t-1) + i·g") for line in r.lines)
    first = one_step(m, x, t=0)
    assert "h_(t-1) = c_(t-1) = 0" in first.conclusion


def test_stateless_and_stateful():
    m, x = known(), xs()
    r = stateless_vs_stateful(m, x)
    n = r.numbers
    assert n["d_predict"] == 0 and n["d_stream"] > 1e-3 and n["d_joined"] < 1e-12 and n["d_first"] < 1e-12
    assert "each restarts from h = c = 0" in r.conclusion
    r = stateless_vs_stateful(known(forget=0, zero_U=True), x)
    assert "does not depend on the state" in r.conclusion


def test_stateful_model_keeps_its_state():
    m = Sequential([Input(batch_shape=(5, 6, 2)), LSTM(3, stateful=True, dtype="float64"),
                    Dense(1, dtype="float64")])
    m.set_weights(known().get_weights())
    x = xs()
    m.predict(x, verbose=0)
    before = m.get_states()[0].c.copy()
    r = stateless_vs_stateful(m, x)
    assert "this model is stateful" in r.conclusion
    np.testing.assert_array_equal(m.get_states()[0].c, before)      # the user's model is left alone


def test_what_units_mean():
    m = known(T=1, D=1, H=10)
    r = what_units_mean(m)
    assert r.numbers["consistent"] and r.numbers["total"] == 491
    assert "units = 10" in r.conclusion and "4·10·(1 + 10 + 1) = 480" in r.conclusion
    stacked = Sequential([Input((4, 2)), LSTM(5, return_sequences=True), LSTM(3), Dense(1)])
    r = what_units_mean(stacked)
    assert "4·5·(2 + 5 + 1) = 160" in r.conclusion and "4·3·(5 + 3 + 1) = 108" in r.conclusion


def test_run_and_print():
    buf = io.StringIO()
    results = run_experiments(known(), xs(), console=Console(file=buf, width=120))
    assert len(results) == 4
    text = buf.getvalue()
    for r in results:
        assert r.conclusion[:40] in text.replace("\n", " ") or r.title in text
        assert r.conclusion in str(r)
