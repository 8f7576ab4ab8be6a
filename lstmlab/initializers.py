"""Weight initializers: Keras 3's, in NumPy.

Each initializer is a small object called as ``init(shape, dtype="float32")``
that returns a fresh ``np.ndarray`` of exactly that shape and dtype. Names,
constructor arguments, ``get_config()`` keys, the fan computation and the
formulas (limits, standard deviations, the truncated-normal correction, the
Orthogonal QR recipe) follow ``keras.initializers`` so a Keras model's
config means the same thing here.

Seeding, and how it relates to Keras 3:

* ``seed=<int>``: every call draws from ``np.random.default_rng(seed)``
  afresh, so the output depends only on (seed, shape, dtype). Two instances
  with the same seed agree, and **one instance called twice returns the same
  array twice** -- Keras 3 does exactly this (its docstrings: "an initializer
  seeded with an integer ... will produce the same random values across
  multiple calls"). Give each weight its own seed if you seed at all.
  Float32 output is the float64 draw rounded, so the two dtypes agree.
* ``seed=None``: every call draws fresh randomness from lstmlab's shared
  generator, which ``lstmlab.config.set_random_seed`` makes repeatable. Keras 3 instead picks one random seed when the
  instance is built, so an unseeded Keras instance repeats itself too; we do
  not, because an unseeded initializer promises no reproducibility and
  repeating would only make a shared instance hand identical weights to
  different tensors.
* The random streams are NumPy's, not Keras's (which uses its backend's RNG),
  so the same seed gives the same *distribution* as Keras, not the same numbers.
"""

import difflib
import math
import numbers
import re

import numpy as np

from . import config

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "Identity",
    "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling",
    "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform",
    "LecunNormal", "LecunUniform", "Orthogonal",
    "compute_fans", "get", "serialize", "deserialize",
]

# Standard deviation of a standard normal truncated to [-2, 2]. Keras divides
# by it so that a truncated draw has the variance VarianceScaling promises.
TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def _as_shape(shape):
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def _dtype(dtype):
    # None means float32, Keras's default floatx.
    return np.dtype("float32" if dtype is None else dtype)


def _float_dtype(dtype):
    dtype = _dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(
            f"Random initializers need a floating dtype. Received: dtype={dtype}"
        )
    return dtype


def compute_fans(shape, input_axes=None, output_axes=None):
    """Return ``(fan_in, fan_out)`` for a weight shape, as Keras computes them.

    Rank 0 -> (1, 1); rank 1 -> (n, n); rank 2 -> (rows, cols); higher ranks
    are read as convolution kernels ``(*receptive_field, in, out)`` and both
    fans are multiplied by the receptive-field size. ``input_axes`` and
    ``output_axes``, when both given, override this with explicit axes.
    """
    shape = _as_shape(shape)
    if input_axes is not None and output_axes is not None:
        return (int(math.prod(shape[a] for a in input_axes)),
                int(math.prod(shape[a] for a in output_axes)))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: ``__call__(shape, dtype)``, ``get_config``, ``from_config``."""

    def __call__(self, shape, dtype="float32"):
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(shape, dtype)."
        )

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype="float32"):
        return np.zeros(_as_shape(shape), dtype=_dtype(dtype))


class Ones(Initializer):
    """All ones (Keras's default for the LSTM forget-gate bias trick)."""

    def __call__(self, shape, dtype="float32"):
        return np.ones(_as_shape(shape), dtype=_dtype(dtype))


class Constant(Initializer):
    """Every entry equal to the scalar ``value``."""

    def __init__(self, value=0.0):
        if np.ndim(value) != 0:
            raise ValueError(f"Constant takes a scalar value. Received: {value!r}")
        # A plain Python scalar keeps get_config() JSON-serializable.
        self.value = value.item() if isinstance(value, np.generic) else value

    def __call__(self, shape, dtype="float32"):
        return np.full(_as_shape(shape), self.value, dtype=_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """``gain`` times the (possibly rectangular) identity matrix; 2-D only.

    ``get_config()`` includes ``gain``; Keras 3's returns ``{}`` and so loses a
    non-default gain on a round trip. Keras still reads our config.
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype="float32"):
        shape = _as_shape(shape)
        if len(shape) != 2:
            raise ValueError(
                f"Identity needs a 2-D shape. Received: shape={shape}"
            )
        return (self.gain * np.eye(*shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Holds the seed and hands out a generator per call (see module doc)."""

    def __init__(self, seed=None):
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
        ):
            raise ValueError(f"`seed` must be an int or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def _rng(self):
        if self.seed is None:
            return config.rng()
        # default_rng wants a non-negative seed; Keras accepts any int.
        return np.random.default_rng(self.seed % 2**64)

    def get_config(self):
        return {"seed": self.seed}


def _truncated_standard_normal(rng, shape):
    """N(0, 1) truncated to [-2, 2]: redraw out-of-range entries
    (as Keras's NumPy backend does) until none are left."""
    z = np.asarray(rng.standard_normal(shape), dtype=np.float64)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return z


class RandomNormal(RandomInitializer):
    """Normal(mean, stddev)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed)

    def __call__(self, shape, dtype="float32"):
        dtype = _float_dtype(dtype)
        x = self._rng().normal(self.mean, self.stddev, _as_shape(shape))
        return np.asarray(x).astype(dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal(mean, stddev) with draws beyond 2 stddev redrawn.

    As in Keras, ``stddev`` is that of the untruncated normal: the samples'
    actual standard deviation is about 0.88 * stddev.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed)

    def __call__(self, shape, dtype="float32"):
        dtype = _float_dtype(dtype)
        z = _truncated_standard_normal(self._rng(), _as_shape(shape))
        return (self.mean + self.stddev * z).astype(dtype)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform on [minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed)

    def __call__(self, shape, dtype="float32"):
        dtype = _float_dtype(dtype)
        x = self._rng().uniform(self.minval, self.maxval, _as_shape(shape))
        return np.asarray(x).astype(dtype)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(RandomInitializer):
    """Scale the spread to the weight's fans, as Keras does.

    With ``n`` = fan_in, fan_out or their mean (``mode``), the target variance
    is ``scale / max(1, n)``:

    * ``"truncated_normal"`` (``"normal"`` is an alias): stddev
      ``sqrt(scale / n) / 0.8796...``, truncated at 2 stddev, so that the
      truncated samples have the target variance;
    * ``"untruncated_normal"``: stddev ``sqrt(scale / n)``;
    * ``"uniform"``: uniform on ``[-limit, limit]``, ``limit = sqrt(3 scale / n)``.
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal",
                 seed=None, input_axes=None, output_axes=None):
        if scale <= 0.0:
            raise ValueError(f"`scale` must be positive. Received: scale={scale}")
        if mode not in self._MODES:
            raise ValueError(
                f"`mode` must be one of {self._MODES}. Received: mode={mode!r}"
            )
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"`distribution` must be one of {self._DISTRIBUTIONS}. "
                f"Received: distribution={distribution!r}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed)

    def __call__(self, shape, dtype="float32"):
        dtype = _float_dtype(dtype)
        shape = _as_shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out,
             "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV
            x = stddev * _truncated_standard_normal(rng, shape)
        elif self.distribution == "untruncated_normal":
            x = rng.normal(0.0, math.sqrt(variance), shape)
        else:
            limit = math.sqrt(3.0 * variance)
            x = rng.uniform(-limit, limit, shape)
        return np.asarray(x).astype(dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _PresetVarianceScaling(VarianceScaling):
    """A VarianceScaling with fixed (scale, mode, distribution), like Keras's
    Glorot/He/Lecun classes; their config carries only the seed and axes."""

    _preset = None

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self._preset
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_PresetVarianceScaling):
    """Uniform on +-sqrt(6 / (fan_in + fan_out)). Keras's default kernel init."""
    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_PresetVarianceScaling):
    """Truncated normal, stddev sqrt(2 / (fan_in + fan_out)) after truncation."""
    _preset = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_PresetVarianceScaling):
    """Truncated normal, stddev sqrt(2 / fan_in) after truncation."""
    _preset = (2.0, "fan_in", "truncated_normal")


class HeUniform(_PresetVarianceScaling):
    """Uniform on +-sqrt(6 / fan_in)."""
    _preset = (2.0, "fan_in", "uniform")


class LecunNormal(_PresetVarianceScaling):
    """Truncated normal, stddev sqrt(1 / fan_in) after truncation."""
    _preset = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_PresetVarianceScaling):
    """Uniform on +-sqrt(3 / fan_in)."""
    _preset = (1.0, "fan_in", "uniform")


class Orthogonal(RandomInitializer):
    """A random orthogonal matrix times ``gain``: Keras's recurrent-kernel default.

    Keras's recipe: flatten the shape to ``(prod(shape[:-1]), shape[-1])``,
    take the QR of a standard-normal matrix with the larger dimension first,
    multiply Q's columns by sign(diag(R)) so the result is uniformly (Haar)
    distributed, and transpose if there are fewer rows than columns. So
    ``W @ W.T = gain**2 I`` for a wide W and ``W.T @ W = gain**2 I`` for a tall
    one. The QR runs in float64 and is rounded at the end, which keeps float32
    output orthogonal to float32 precision.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype="float32"):
        dtype = _float_dtype(dtype)
        shape = _as_shape(shape)
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal needs a shape of rank >= 2. Received: shape={shape}"
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(dtype)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# --- lookup by name -------------------------------------------------------

_CLASSES = (
    Constant, Zeros, Ones, Identity, RandomNormal, RandomUniform,
    TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal,
    HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal,
)


def _snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# Keras accepts each class under its snake_case and CamelCase names, plus these.
_ALIASES = {"normal": RandomNormal, "uniform": RandomUniform, "one": Ones,
            "zero": Zeros, "IdentityInitializer": Identity,
            "OrthogonalInitializer": Orthogonal}
_SNAKE_NAMES = {_snake_case(c.__name__): c for c in _CLASSES}
_BY_NAME = {**_SNAKE_NAMES, **{c.__name__: c for c in _CLASSES}, **_ALIASES}


def _lookup(name):
    cls = _BY_NAME.get(name)
    if cls is None:
        snake = sorted(n for n in _BY_NAME if n.islower())
        camel = sorted(n for n in _BY_NAME if not n.islower())
        close = (difflib.get_close_matches(name, list(_BY_NAME), n=1)
                 if isinstance(name, str) else [])
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown initializer: {name!r}.{hint} Expected one of: "
            + ", ".join(map(repr, snake))
            + " (or a class name: " + ", ".join(map(repr, camel)) + "). "
            f"Received: {name!r}."
        )
    return cls


def serialize(initializer):
    """Keras-style dict ``{'class_name': ..., 'config': {...}}``."""
    initializer = get(initializer)
    if not isinstance(initializer, Initializer):
        raise ValueError(
            "Only lstmlab Initializer objects can be serialized; a plain "
            f"callable has no config. Received: {initializer!r}"
        )
    return {"class_name": type(initializer).__name__,
            "config": initializer.get_config()}


def deserialize(config):
    """Inverse of ``serialize``. Also reads dicts written by Keras 3: the
    ``module`` and ``registered_name`` keys are ignored, ``config`` may be
    missing."""
    if isinstance(config, str):
        return _lookup(config)()
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(
            "Expected a dict like {'class_name': 'GlorotUniform', 'config': {...}}. "
            f"Received: {config!r}"
        )
    cls = _lookup(config["class_name"])
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """Resolve what a layer argument like ``kernel_initializer=`` may hold.

    None -> None; an Initializer instance -> itself; an Initializer class ->
    a default instance; a name (``'glorot_uniform'`` or ``'GlorotUniform'``)
    or a Keras-style dict -> a new instance; any other callable
    ``(shape, dtype) -> array`` -> itself.
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        "Could not interpret initializer identifier: expected None, a name, a "
        "dict, an Initializer or a callable (shape, dtype) -> array. "
        f"Received: {identifier!r} of type {type(identifier).__name__}."
    )
