"""lstmlab.activations against keras.activations (forward) and against
float64 central finite differences (backward)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lstmlab import activations  # noqa: E402

# Keras's torch backend converts tensors with np.array(tensor); torch's
# __array__ predates NumPy 2's copy keyword. Not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

NAMES = ["linear", "relu", "sigmoid", "hard_sigmoid", "tanh", "softmax"]
TOL = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-12, atol=1e-15)}


def _inputs(dtype, seed=0):
    """Spread-out values plus extremes that would overflow a naive exp."""
    x = np.random.default_rng(seed).normal(0.0, 8.0, size=(4, 6, 9))
    x[0, 0, :8] = [-1e4, -1e3, -100.0, -30.0, 30.0, 100.0, 1e3, 1e4]
    return x.astype(dtype)


# Raise on overflow / invalid / division by zero; underflow to 0 is fine.
_strict = dict(over="raise", invalid="raise", divide="raise")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_keras(name, dtype):
    x = _inputs(dtype)
    with np.errstate(**_strict):
        y = activations.get(name)(x)
    expected = keras.ops.convert_to_numpy(getattr(keras.activations, name)(x))
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y, expected, **TOL[dtype])


@pytest.mark.parametrize("name", NAMES)
def test_module_function_equals_object(name):
    x = _inputs(np.float32, seed=1)
    np.testing.assert_array_equal(getattr(activations, name)(x), activations.get(name)(x))


def test_softmax_axis_and_normalisation():
    x = _inputs(np.float64)
    for axis in (0, 1, -1):
        y = activations.softmax(x, axis=axis)
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-12)
        expected = keras.ops.convert_to_numpy(keras.activations.softmax(x, axis=axis))
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-15)


def test_hard_sigmoid_is_keras3_definition():
    x = np.array([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.0])
    np.testing.assert_allclose(activations.hard_sigmoid(x),
                               [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0])


def test_lists_and_ints_become_float32_like_keras():
    y = activations.relu([-10, -5, 0, 5, 10])
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 0, 0, 5, 10])


def _safe_inputs(name, rng, shape=(3, 5)):
    """Inputs kept away from the kinks (relu at 0, hard_sigmoid at +-3)."""
    x = rng.uniform(-5.0, 5.0, size=shape)
    kinks = {"relu": [0.0], "hard_sigmoid": [-3.0, 3.0]}.get(name, [])
    for k in kinks:
        near = np.abs(x - k) < 0.1
        x[near] = k + np.where(x[near] >= k, 0.1, -0.1)
    return x


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_finite_differences(name):
    """backward(y, dy) is the gradient of L(x) = sum(dy * f(x))."""
    rng = np.random.default_rng(2)
    act = activations.get(name)
    x = _safe_inputs(name, rng)
    dy = rng.standard_normal(x.shape)
    analytic = act.backward(act(x), dy)

    h = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        numeric[i] = (np.sum(dy * act(xp)) - np.sum(dy * act(xm))) / (2 * h)

    err = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(numeric), 1e-12)
    assert err < 1e-6, err


@pytest.mark.parametrize("name", NAMES)
def test_backward_keeps_float32(name):
    act = activations.get(name)
    x = _inputs(np.float32)
    dx = act.backward(act(x), np.ones_like(x))
    assert dx.dtype == np.float32 and dx.shape == x.shape


def test_backward_values_at_the_flat_parts():
    y = activations.hard_sigmoid(np.array([-5.0, 0.0, 5.0]))
    np.testing.assert_array_equal(activations.get("hard_sigmoid").backward(y, np.ones(3)),
                                  [0.0, 1 / 6, 0.0])
    y = activations.relu(np.array([-2.0, 2.0]))
    np.testing.assert_array_equal(activations.get("relu").backward(y, np.ones(2)), [0.0, 1.0])


def test_get_resolves_names_objects_and_functions():
    assert activations.get(None).name == "linear"
    for name in NAMES:
        act = activations.get(name)
        assert act.name == name
        assert activations.get(act) is act
        # Our own functions and Keras's map to the trainable named objects.
        assert activations.get(getattr(activations, name)) is act
        assert activations.get(getattr(keras.activations, name)) is act


def test_custom_callable_runs_forward_but_cannot_train():
    def double(x):
        return 2 * x

    act = activations.get(double)
    assert act.name == "double"
    np.testing.assert_array_equal(act(np.ones(3)), [2.0, 2.0, 2.0])
    with pytest.raises(NotImplementedError) as info:
        act.backward(np.ones(3), np.ones(3))
    assert "custom callable" in str(info.value)
    assert "'tanh'" in str(info.value)
    with pytest.raises(ValueError):
        activations.serialize(act)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        activations.get("rleu")
    message = str(info.value)
    assert "Received: 'rleu'" in message
    for name in NAMES:
        assert repr(name) in message


def test_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="Received: 3"):
        activations.get(3)


@pytest.mark.parametrize("name", NAMES)
def test_serialize_round_trip(name):
    assert activations.serialize(name) == name
    assert activations.serialize(activations.get(name)) == name
    assert activations.deserialize(activations.serialize(name)) is activations.get(name)
