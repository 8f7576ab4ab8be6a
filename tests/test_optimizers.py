"""lstmlab.optimizers against keras.optimizers (strict) and torch.optim.

Each Keras comparison runs 5 steps on float32 variables with a fixed sequence
of random gradients and applies them with
``keras_opt.apply_gradients(zip(grads, vars))`` on ``keras.Variable``s.

Where Keras and PyTorch agree/differ (see the torch tests at the end):
* SGD with momentum/nesterov: same algorithm (torch's buffer is -m / lr).
* Adam: Keras puts epsilon outside sqrt(v) *before* the bias correction of v
  (``p -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps)``); torch uses
  ``sqrt(v / (1-b2^t)) + eps``.  They are the same for eps = 0 and differ
  visibly once sqrt(v) is comparable to eps (tiny gradients).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lstmlab import optimizers  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SHAPES = [(3, 4), (4,), (2, 3, 2)]
STEPS = 5


def random_run(seed, scale=3.0, dtype=np.float32):
    """Initial params and STEPS lists of gradients (some large, so clipping
    is active)."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    grads = [[(rng.normal(size=s) * scale).astype(dtype) for s in SHAPES]
             for _ in range(STEPS)]
    return params, grads


def run_ours(opt, params, grads, lr_change=None):
    params = [p.copy() for p in params]
    for step, gs in enumerate(grads):
        if lr_change and step == lr_change[0]:
            opt.learning_rate = lr_change[1]
        opt.apply(gs, params)
    return params


def run_keras(opt, params, grads, lr_change=None):
    variables = [keras.Variable(p.copy()) for p in params]
    for step, gs in enumerate(grads):
        if lr_change and step == lr_change[0]:
            opt.learning_rate = lr_change[1]
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in gs],
                                variables))
    return [keras.ops.convert_to_numpy(v) for v in variables]


CASES = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"clipnorm": 0.5}),
    ("SGD", {"clipvalue": 0.1, "momentum": 0.5}),
    ("SGD", {"global_clipnorm": 0.5, "momentum": 0.5, "nesterov": True}),
    ("SGD", {"momentum": 0.9, "weight_decay": 0.05}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "clipnorm": 1.0}),
    ("RMSprop", {"rho": 0.5, "epsilon": 1e-3, "global_clipnorm": 2.0}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("Adam", {"clipvalue": 0.05}),
    ("Adam", {"global_clipnorm": 1.0, "beta_1": 0.8, "beta_2": 0.99}),
    ("Adam", {"clipnorm": 0.3, "epsilon": 1e-3}),
    ("AdamW", {}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"clipnorm": 0.3}),
    ("Adagrad", {}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5,
                 "global_clipnorm": 0.7}),
    ("Adagrad", {"learning_rate": 0.05, "clipvalue": 0.5}),
]
IDS = [f"{name}-{kw}" for name, kw in CASES]


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_matches_keras(name, kwargs):
    params, grads = random_run(seed=len(IDS[CASES.index((name, kwargs))]))
    ours = getattr(optimizers, name)(**kwargs)
    expected = run_keras(getattr(keras.optimizers, name)(**kwargs), params,
                         grads)
    got = run_ours(ours, params, grads)
    assert ours.iterations == STEPS
    for g, e, p in zip(got, expected, params):
        assert g.dtype == np.float32
        assert not np.allclose(g, p)            # something actually happened
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW",
                                  "Adagrad"])
def test_learning_rate_can_be_changed_between_steps(name):
    """What ReduceLROnPlateau does: set opt.learning_rate mid-training."""
    params, grads = random_run(seed=7)
    expected = run_keras(getattr(keras.optimizers, name)(learning_rate=0.1),
                         params, grads, lr_change=(2, 0.01))
    ours = getattr(optimizers, name)(learning_rate=0.1)
    got = run_ours(ours, params, grads, lr_change=(2, 0.01))
    assert ours.learning_rate == 0.01
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


def test_callable_schedule_matches_keras_schedule():
    """A callable is evaluated at the number of completed steps, like a Keras
    LearningRateSchedule (here ExponentialDecay) - also in weight decay."""
    params, grads = random_run(seed=8)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.05, decay_steps=1, decay_rate=0.5)
    expected = run_keras(keras.optimizers.AdamW(learning_rate=schedule,
                                                weight_decay=0.5),
                         params, grads)
    ours = optimizers.AdamW(learning_rate=lambda step: 0.05 * 0.5 ** step,
                            weight_decay=0.5)
    got = run_ours(ours, params, grads)
    assert ours.learning_rate == pytest.approx(0.05 * 0.5 ** STEPS)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6)


def test_float64_params_stay_float64():
    params, grads = random_run(seed=9, dtype=np.float64)
    got = run_ours(optimizers.Adam(), params, grads)
    assert all(p.dtype == np.float64 for p in got)


def test_none_gradients_leave_their_params_alone():
    params, grads = random_run(seed=10)
    work = [p.copy() for p in params]
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9, weight_decay=0.1)
    opt.apply([grads[0][0], None, grads[0][2]], work)
    np.testing.assert_array_equal(work[1], params[1])
    assert not np.allclose(work[0], params[0])
    with pytest.raises(ValueError, match="No gradients"):
        opt.apply([None, None, None], work)


# -- state ----------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"momentum": 0.9}), ("SGD", {}), ("RMSprop", {"centered": True,
                                                        "momentum": 0.5}),
    ("Adam", {"amsgrad": True}), ("AdamW", {}), ("Adagrad", {}),
])
def test_state_round_trip_resumes_identically(name, kwargs):
    params, grads = random_run(seed=11)
    cls = getattr(optimizers, name)
    straight = run_ours(cls(**kwargs), params, grads)

    first = cls(**kwargs)
    half = run_ours(first, params, grads[:3])
    first.learning_rate = first.learning_rate  # floats survive the trip
    state = first.get_state()
    assert state["iterations"] == 3
    second = cls(**kwargs)
    second.set_state(state)                      # builds slots lazily
    assert second.iterations == 3
    resumed = run_ours(second, half, grads[3:])
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)


def test_state_keys_and_live_variables():
    opt = optimizers.Adam(amsgrad=True)
    params, grads = random_run(seed=12)
    run_ours(opt, params, grads[:1])
    keys = set(opt.get_state())
    assert keys == {"iterations", "learning_rate"} | {
        f"{slot}_{i}" for slot in ("momentum", "velocity", "velocity_hat")
        for i in range(len(SHAPES))}
    live = opt.variables()["momentum_0"]
    saved = opt.get_state()["momentum_0"]
    live += 1
    assert not np.allclose(opt.get_state()["momentum_0"], saved)


def test_adagrad_accumulator_starts_at_initial_value():
    opt = optimizers.Adagrad()
    params = [np.zeros(3, np.float32)]
    opt.apply([np.zeros(3, np.float32)], params)
    np.testing.assert_allclose(opt.get_state()["accumulator_0"], 0.1)


def test_set_state_rejects_foreign_state():
    state = optimizers.Adam().get_state()
    params, grads = random_run(seed=13)
    adam = optimizers.Adam()
    run_ours(adam, params, grads[:1])
    with pytest.raises(ValueError, match="do not match this optimizer's slots"):
        optimizers.SGD(momentum=0.9).set_state(adam.get_state())
    sgd = optimizers.SGD()
    sgd.set_state(state)   # neither has slots: only iterations/lr


# -- errors -----------------------------------------------------------------------
def test_changed_parameter_list_is_an_error():
    params, grads = random_run(seed=14)
    opt = optimizers.Adam()
    opt.apply(grads[0], [p.copy() for p in params])
    with pytest.raises(ValueError, match="built for 3 parameters"):
        opt.apply(grads[1][:2], [p.copy() for p in params[:2]])
    with pytest.raises(ValueError, match="pair up"):
        opt.apply(grads[1][:2], [p.copy() for p in params])
    with pytest.raises(ValueError, match="does not match"):
        opt.apply([g.T for g in grads[1]], [p.copy() for p in params])
    with pytest.raises(TypeError, match="writeable NumPy array"):
        opt.apply(grads[1], [p.tolist() for p in params])


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="Only one of `clipnorm`"):
        optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="Only one of `clipnorm`"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


def test_unknown_keyword_names_it_and_the_valid_ones():
    with pytest.raises(TypeError) as info:
        optimizers.Adam(betta_1=0.9)
    msg = str(info.value)
    assert "'betta_1'" in msg
    for arg in ("learning_rate", "beta_1", "epsilon", "amsgrad", "clipnorm",
                "global_clipnorm", "weight_decay"):
        assert arg in msg


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        optimizers.get("adamm")
    assert str(info.value) == (
        "Unknown optimizer: 'adamm'. Expected one of: 'adagrad', 'adam', "
        "'adamw', 'rmsprop', 'sgd'. Received: 'adamm'.")


def test_invalid_arguments():
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="use_ema"):
        optimizers.Adam(use_ema=True)


# -- lookup / config ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["sgd", "SGD", "rmsprop", "RMSprop", "adam",
                                  "Adam", "adamw", "AdamW", "adagrad"])
def test_get_is_case_insensitive(name):
    assert type(optimizers.get(name)).__name__.lower() == name.lower()


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_config_matches_keras(name, kwargs):
    ours = getattr(optimizers, name)(**kwargs).get_config()
    theirs = getattr(keras.optimizers, name)(**kwargs).get_config()
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        if key == "name":
            continue               # Keras uniquifies: "adam_3"
        if key == "learning_rate":
            assert ours[key] == pytest.approx(value, rel=1e-7)  # float32 var
        else:
            assert ours[key] == value, key


def test_get_reads_keras_serialized_optimizer():
    config = keras.optimizers.serialize(
        keras.optimizers.RMSprop(learning_rate=0.02, centered=True, rho=0.8))
    opt = optimizers.get(config)
    assert isinstance(opt, optimizers.RMSprop)
    assert opt.centered and opt.rho == 0.8
    assert opt.learning_rate == pytest.approx(0.02)
    again = optimizers.get(optimizers.serialize(opt))
    assert again.get_config() == opt.get_config()
    assert optimizers.get(opt) is opt


def test_default_names_match_keras_auto_names():
    for name in ("SGD", "RMSprop", "Adam", "AdamW", "Adagrad"):
        keras_name = getattr(keras.optimizers, name)().name
        assert keras_name.startswith(getattr(optimizers, name)().name)


# -- torch.optim: where Keras and PyTorch agree and differ -----------------------------
def run_torch(opt_factory, params, grads):
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    opt = opt_factory(tensors)
    for gs in grads:
        for t, g in zip(tensors, gs):
            t.grad = torch.tensor(g)
        opt.step()
    return [t.detach().numpy() for t in tensors]


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_is_torch_sgd(nesterov):
    """Same algorithm; float64 makes the equality visible to ~1e-15."""
    params, grads = random_run(seed=20, dtype=np.float64)
    got = run_ours(optimizers.SGD(learning_rate=0.1, momentum=0.9,
                                  nesterov=nesterov), params, grads)
    expected = run_torch(lambda ps: torch.optim.SGD(
        ps, lr=0.1, momentum=0.9, nesterov=nesterov), params, grads)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)


def test_adam_vs_torch_adam_epsilon_placement():
    params, grads = random_run(seed=21, dtype=np.float64)

    def torch_adam(eps):
        return run_torch(lambda ps: torch.optim.Adam(ps, lr=0.01, eps=eps),
                         params, grads)

    # eps = 0: the update formulas are algebraically identical.
    got = run_ours(optimizers.Adam(learning_rate=0.01, epsilon=0.0), params,
                   grads)
    for g, e in zip(got, torch_adam(0.0)):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)

    # Defaults (eps=1e-7 vs torch 1e-8, different placement): close but not
    # equal for O(1) gradients (5 steps of size ~0.01 agree to ~1e-7).
    got = run_ours(optimizers.Adam(learning_rate=0.01), params, grads)
    expected = torch_adam(1e-8)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-6)
    assert max(np.abs(g - e).max() for g, e in zip(got, expected)) > 1e-12

    # Tiny gradients (sqrt(v) ~ eps): the placement matters a lot.
    tiny = [[g * 1e-7 for g in gs] for gs in grads]
    step_keras = run_ours(optimizers.Adam(learning_rate=0.01), params, tiny)
    step_torch = run_torch(lambda ps: torch.optim.Adam(ps, lr=0.01, eps=1e-7),
                           params, tiny)
    moved_keras = np.abs(step_keras[0] - params[0]).mean()
    moved_torch = np.abs(step_torch[0] - params[0]).mean()
    assert abs(moved_keras - moved_torch) > 0.05 * moved_torch
