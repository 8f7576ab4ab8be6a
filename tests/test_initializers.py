"""lstmlab.initializers: shapes, seeding, statistics, and agreement with
keras.initializers (configs exactly; draws statistically, since the RNG
streams differ)."""

import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lstmlab import initializers as I  # noqa: E402

# Keras's torch backend converts tensors with np.array(tensor); torch's
# __array__ predates NumPy 2's copy keyword. Not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

RANDOM = ["random_normal", "random_uniform", "truncated_normal", "variance_scaling",
          "glorot_uniform", "glorot_normal", "he_normal", "he_uniform",
          "lecun_normal", "lecun_uniform", "orthogonal"]
CONSTANT = ["zeros", "ones", "constant", "identity"]
SNAKE = ["constant", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
         "identity", "lecun_normal", "lecun_uniform", "ones", "orthogonal",
         "random_normal", "random_uniform", "truncated_normal", "variance_scaling",
         "zeros"]


def keras_draw(init, shape):
    return keras.ops.convert_to_numpy(init(shape, dtype="float64"))


def _keras_init(name, **kwargs):
    return keras.initializers.get({"class_name": name, "config": kwargs})


# --- shapes and dtypes -----------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32, np.dtype("float64")])
@pytest.mark.parametrize("name, shape", [
    (name, shape) for name in RANDOM + CONSTANT for shape in [(3, 4), (8, 32), (2, 3, 5)]
    if not (name == "identity" and len(shape) != 2)  # Identity is 2-D only
])
def test_shape_and_dtype(name, shape, dtype):
    out = I.get(name)(shape, dtype=dtype)
    assert isinstance(out, np.ndarray)
    assert out.shape == shape and out.dtype == np.dtype(dtype)


@pytest.mark.parametrize("name", [n for n in RANDOM + CONSTANT if n not in ("orthogonal", "identity")])
def test_rank_one_and_default_dtype(name):
    out = I.get(name)((7,))
    assert out.shape == (7,) and out.dtype == np.float32


def test_rank_requirements():
    with pytest.raises(ValueError, match="rank >= 2"):
        I.Orthogonal()((5,))
    with pytest.raises(ValueError, match="2-D"):
        I.Identity()((2, 2, 2))
    with pytest.raises(ValueError, match="floating"):
        I.GlorotUniform()((2, 2), dtype="int32")


# --- seeding ---------------------------------------------------------------

@pytest.mark.parametrize("name", RANDOM)
def test_seeded_is_deterministic(name):
    cls = type(I.get(name))
    a, b = cls(seed=42), cls(seed=42)
    first = a((16, 64))
    np.testing.assert_array_equal(first, b((16, 64)))   # two instances agree
    np.testing.assert_array_equal(first, a((16, 64)))   # Keras 3: calls repeat
    assert not np.array_equal(first, cls(seed=43)((16, 64)))
    # float32 is the float64 draw rounded.
    np.testing.assert_array_equal(first, a((16, 64), "float64").astype(np.float32))


def test_keras_repeats_seeded_calls_too():
    """The behaviour documented in lstmlab.initializers is Keras 3's."""
    init = keras.initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(keras_draw(init, (4, 5)), keras_draw(init, (4, 5)))


@pytest.mark.parametrize("name", RANDOM)
def test_unseeded_draws_fresh_each_call(name):
    init = I.get(name)
    assert init.seed is None
    assert not np.array_equal(init((8, 8)), init((8, 8)))


def test_seed_validation():
    with pytest.raises(ValueError, match="seed"):
        I.RandomNormal(seed="7")
    assert I.RandomNormal(seed=np.int64(7)).get_config()["seed"] == 7
    I.RandomNormal(seed=-1)((2,))  # Keras accepts any int


# --- fans and statistics ---------------------------------------------------

@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)), ((5,), (5, 5)), ((3, 4), (3, 4)), ((3, 3, 2, 8), (18, 72)),
    ((5, 16, 64), (80, 320)),
])
def test_compute_fans(shape, fans):
    assert I.compute_fans(shape) == fans


def test_glorot_uniform_bounds():
    fan_in, fan_out = 64, 256
    limit = math.sqrt(6 / (fan_in + fan_out))
    w = I.GlorotUniform(seed=0)((fan_in, fan_out), "float64")
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    assert abs(w.std() / (limit / math.sqrt(3)) - 1) < 0.03


# name -> (target stddev of the samples, hard bound on |w| or None) for (200, 300)
FAN_IN, FAN_OUT = 200, 300
_C = I.TRUNCATED_NORMAL_STDDEV
EXPECTED = {
    "glorot_uniform": (math.sqrt(2 / (FAN_IN + FAN_OUT)), math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "glorot_normal": (math.sqrt(2 / (FAN_IN + FAN_OUT)), 2 * math.sqrt(2 / (FAN_IN + FAN_OUT)) / _C),
    "he_uniform": (math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    "he_normal": (math.sqrt(2 / FAN_IN), 2 * math.sqrt(2 / FAN_IN) / _C),
    "lecun_uniform": (math.sqrt(1 / FAN_IN), math.sqrt(3 / FAN_IN)),
    "lecun_normal": (math.sqrt(1 / FAN_IN), 2 * math.sqrt(1 / FAN_IN) / _C),
    "variance_scaling": (math.sqrt(1 / FAN_IN), 2 * math.sqrt(1 / FAN_IN) / _C),
    "random_normal": (0.05, None),
    "random_uniform": (0.1 / math.sqrt(12), 0.05),
    "truncated_normal": (0.05 * _C, 0.1),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_statistics(name):
    std, bound = EXPECTED[name]
    w = type(I.get(name))(seed=0)((FAN_IN, FAN_OUT), "float64")
    assert abs(w.mean()) < 0.05 * std
    assert abs(w.std() / std - 1) < 0.03
    if bound is not None:
        assert np.abs(w).max() <= bound * (1 + 1e-12)
        assert np.abs(w).max() > 0.97 * bound


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_statistics_match_keras(name):
    # Seeded on both sides so the test is deterministic.
    ours = type(I.get(name))(seed=0)((FAN_IN, FAN_OUT), "float64")
    theirs = keras_draw(_keras_init(name, seed=0), (FAN_IN, FAN_OUT))
    assert abs(ours.std() / theirs.std() - 1) < 0.03
    # A high quantile rather than the max: Keras's torch truncated normal
    # lets a ~4e-6 fraction of draws past the 2-stddev bound.
    q_ours, q_theirs = np.quantile(np.abs(ours), 0.99), np.quantile(np.abs(theirs), 0.99)
    assert abs(q_ours / q_theirs - 1) < 0.03


def test_truncated_normal_mean_and_bounds():
    w = I.TruncatedNormal(mean=1.0, stddev=2.0, seed=0)((300, 300), "float64")
    assert w.min() >= -3.0 and w.max() <= 5.0
    assert abs(w.mean() - 1.0) < 0.02
    assert abs(w.std() / (2.0 * _C) - 1) < 0.01


def test_variance_scaling_options():
    w = I.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal",
                          seed=1)((100, 400), "float64")
    assert abs(w.std() / math.sqrt(2.0 / 400) - 1) < 0.02
    assert I.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    for bad in [dict(scale=0.0), dict(mode="fan_sum"), dict(distribution="cauchy")]:
        with pytest.raises(ValueError):
            I.VarianceScaling(**bad)


# --- orthogonal ------------------------------------------------------------

@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("units", [1, 8, 32])
def test_orthogonal(units, dtype, tol):
    wide = I.Orthogonal(seed=0)((units, 4 * units), dtype)
    tall = I.Orthogonal(seed=0)((4 * units, units), dtype)
    np.testing.assert_allclose(wide @ wide.T, np.eye(units), atol=tol)
    np.testing.assert_allclose(tall.T @ tall, np.eye(units), atol=tol)
    square = I.Orthogonal(gain=2.0, seed=0)((units, units), dtype)
    np.testing.assert_allclose(square @ square.T, 4 * np.eye(units), atol=4 * tol)


def test_orthogonal_orientation_matches_keras():
    for shape in [(8, 32), (32, 8)]:
        for w in (I.Orthogonal()(shape, "float64"),
                  keras_draw(keras.initializers.Orthogonal(), shape)):
            small = w @ w.T if shape[0] < shape[1] else w.T @ w
            np.testing.assert_allclose(small, np.eye(8), atol=1e-6)


def test_orthogonal_flattens_leading_dims():
    w = I.Orthogonal(seed=0)((2, 3, 8), "float64").reshape(6, 8)
    np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-12)


# --- constants -------------------------------------------------------------

def test_constants_exact():
    np.testing.assert_array_equal(I.Zeros()((2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(I.Ones()((2, 3), "float64"), np.ones((2, 3)))
    np.testing.assert_array_equal(I.Constant(0.25)((4,)), np.full(4, 0.25, np.float32))
    np.testing.assert_array_equal(I.Identity(gain=3.0)((2, 4)), 3.0 * np.eye(2, 4))
    assert I.Constant(np.float64(1.5)).get_config() == {"value": 1.5}
    with pytest.raises(ValueError):
        I.Constant([1.0, 2.0])


# --- get / serialize -------------------------------------------------------

@pytest.mark.parametrize("name", SNAKE)
def test_config_matches_keras(name):
    kwargs = {"seed": 5} if name in RANDOM else {}
    if name == "constant":
        kwargs = {"value": 2.5}
    ours = type(I.get(name))(**kwargs).get_config()
    theirs = _keras_init(name, **kwargs).get_config()
    if name == "identity":
        # Keras 3 drops Identity's gain from its config; we keep it.
        assert theirs == {} and ours == {"gain": 1.0}
    else:
        assert ours == theirs


@pytest.mark.parametrize("name", SNAKE)
def test_get_snake_camel_dict_instance_class(name):
    cls = type(I.get(name))
    assert I.get(cls.__name__).__class__ is cls
    assert isinstance(I.get({"class_name": cls.__name__, "config": {}}), cls)
    assert isinstance(I.get({"module": "keras.initializers", "class_name": name,
                             "config": {}, "registered_name": None}), cls)
    instance = cls()
    assert I.get(instance) is instance
    assert isinstance(I.get(cls), cls)
    assert I.get(name) is not I.get(name)  # names build new instances


def test_get_aliases_none_and_callables():
    assert I.get(None) is None
    assert isinstance(I.get("normal"), I.RandomNormal)
    assert isinstance(I.get("uniform"), I.RandomUniform)
    assert isinstance(I.get("OrthogonalInitializer"), I.Orthogonal)

    def fn(shape, dtype=None):
        return np.full(shape, 7.0, dtype)

    assert I.get(fn) is fn


def test_unknown_name_error_lists_valid_names():
    with pytest.raises(ValueError) as info:
        I.get("glorot_unifrom")
    message = str(info.value)
    assert message.startswith("Unknown initializer: 'glorot_unifrom'.")
    assert message.endswith("Received: 'glorot_unifrom'.")
    assert "Did you mean 'glorot_uniform'?" in message
    for name in SNAKE + ["GlorotUniform", "Orthogonal"]:
        assert repr(name) in message
    with pytest.raises(ValueError, match="Received: 'Nope'"):
        I.get({"class_name": "Nope", "config": {}})


def test_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="Received: 3"):
        I.get(3)


@pytest.mark.parametrize("name", SNAKE)
def test_serialize_round_trip(name):
    init = I.get(name)
    if name in RANDOM:
        init = type(init).from_config({**init.get_config(), "seed": 11})
    d = I.serialize(init)
    assert d == {"class_name": type(init).__name__, "config": init.get_config()}
    back = I.deserialize(d)
    assert type(back) is type(init) and back.get_config() == init.get_config()
    np.testing.assert_array_equal(back((4, 6)), init((4, 6)))
    assert type(init.clone()) is type(init)


def test_interop_with_keras_serialization():
    keras_dict = keras.initializers.serialize(keras.initializers.GlorotUniform(seed=3))
    ours = I.deserialize(keras_dict)
    assert isinstance(ours, I.GlorotUniform) and ours.seed == 3
    theirs = keras.initializers.deserialize(I.serialize(I.Orthogonal(gain=0.5, seed=2)))
    assert isinstance(theirs, keras.initializers.Orthogonal)
    assert theirs.get_config() == {"seed": 2, "gain": 0.5}
    theirs = keras.initializers.deserialize(I.serialize(I.Identity(gain=2.0)))
    np.testing.assert_array_equal(keras_draw(theirs, (2, 2)), 2.0 * np.eye(2))
