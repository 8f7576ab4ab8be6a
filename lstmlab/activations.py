"""Activations for layers that run their own forward and backward passes.

Each named activation is an :class:`Activation` object: ``act(x)`` computes
``y`` in x's dtype and ``act.backward(y, dy)`` returns ``dx``. The backward
pass is written in terms of the *output* ``y`` rather than the input, because
that is what an LSTM keeps around anyway (gate activations, tanh(c)) and it
needs no second evaluation of the function.

The module-level functions (``relu(x)``, ``softmax(x, axis=-1)``, ...) mirror
``keras.activations`` and give the same numbers. ``hard_sigmoid`` is Keras 3's
``relu6(x + 3) / 6`` (slope 1/6), not Keras 2's slope-0.2 version.
"""

import numpy as np

__all__ = [
    "Activation", "linear", "relu", "sigmoid", "hard_sigmoid", "tanh",
    "softmax", "get", "serialize", "deserialize",
]


def _as_float(x):
    """Float arrays keep their dtype; anything else (lists, Python scalars,
    integer arrays) becomes float32, Keras's default float type."""
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "f":   # (np.issubdtype: 2 µs)
        return np.asarray(x)
    return np.asarray(x, dtype=np.float32)


# --- forward ---------------------------------------------------------------

def linear(x):
    """Identity; a float array comes back as the same object, not a copy."""
    return _as_float(x)


def relu(x):
    """max(x, 0)."""
    x = _as_float(x)
    return np.maximum(x, x.dtype.type(0))


def sigmoid(x):
    """1 / (1 + exp(-x)), evaluated through exp(-|x|) so it never overflows."""
    x = _as_float(x)
    e = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    return np.where(x >= 0, one / (one + e), e / (one + e))


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid, relu6(x + 3) / 6 = clip(x/6 + 1/2, 0, 1).

    Written as Keras (torch) writes it: x + 3 is exact near the lower kink,
    where x/6 + 1/2 would lose relative precision to cancellation.
    """
    x = _as_float(x)
    t = x.dtype.type
    return np.clip(x + t(3), t(0), t(6)) / t(6)


def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(_as_float(x))


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, after subtracting the max so the
    exponentials cannot overflow."""
    x = _as_float(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# --- backward, from the output y -------------------------------------------

def _linear_grad(y, dy):
    return dy


def _relu_grad(y, dy):
    return dy * (y > 0)


def _sigmoid_grad(y, dy):
    return dy * y * (1 - y)


def _hard_sigmoid_grad(y, dy):
    # The slope is 1/6 strictly inside the ramp, 0 on the flat parts.
    return np.where((y > 0) & (y < 1), dy / 6, 0)


def _tanh_grad(y, dy):
    return dy * (1 - y * y)


def _softmax_grad(y, dy):
    # Jacobian-vector product of softmax over the last axis.
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


class Activation:
    """A named activation: ``__call__(x) -> y`` and ``backward(y, dy) -> dx``.

    ``grad`` is None for wrapped user callables, which can run forward but
    cannot be differentiated here.
    """

    def __init__(self, name, fn, grad=None):
        self.name = name
        self._fn = fn
        self._grad = grad

    def __call__(self, x):
        return self._fn(x)

    def backward(self, y, dy):
        if self._grad is None:
            raise NotImplementedError(
                f"Activation {self.name!r} wraps a custom callable, which lstmlab "
                "cannot differentiate, so it can run forward but cannot be "
                "trained. Pass one of the named activations instead: "
                + ", ".join(map(repr, sorted(_NAMED))) + "."
            )
        return self._grad(y, dy)

    def __repr__(self):
        kind = "" if self._grad is not None else ", custom"
        return f"Activation({self.name!r}{kind})"


_NAMED = {
    a.name: a for a in (
        Activation("linear", linear, _linear_grad),
        Activation("relu", relu, _relu_grad),
        Activation("sigmoid", sigmoid, _sigmoid_grad),
        Activation("hard_sigmoid", hard_sigmoid, _hard_sigmoid_grad),
        Activation("tanh", tanh, _tanh_grad),
        Activation("softmax", softmax, _softmax_grad),
    )
}
_FUNCTIONS = {linear, relu, sigmoid, hard_sigmoid, tanh, softmax}


def _lookup(name):
    if name not in _NAMED:
        raise ValueError(
            f"Unknown activation: {name!r}. Expected one of: "
            + ", ".join(map(repr, sorted(_NAMED)))
            + f". Received: {name!r}."
        )
    return _NAMED[name]


def get(identifier):
    """Resolve a layer's ``activation=`` argument to an :class:`Activation`.

    None -> linear; a name -> the named activation; an Activation -> itself.
    A function of this module, or the ``keras.activations`` function of the
    same name, maps to the named (trainable) activation. Any other callable
    is wrapped forward-only: its ``backward`` raises NotImplementedError.
    """
    if identifier is None:
        return _NAMED["linear"]
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)
    if callable(identifier):
        name = getattr(identifier, "__name__", None)
        module = getattr(identifier, "__module__", None) or ""
        if name in _NAMED and (identifier in _FUNCTIONS or module.startswith("keras.")):
            return _NAMED[name]
        return Activation(name or type(identifier).__name__, identifier)
    raise TypeError(
        "Could not interpret activation identifier: expected None, a name, an "
        f"Activation or a callable. Received: {identifier!r} of type "
        f"{type(identifier).__name__}."
    )


def serialize(activation):
    """The activation's name, as Keras stores built-in activations."""
    act = get(activation)
    if act._grad is None:
        raise ValueError(
            f"Custom activation {act.name!r} cannot be serialized; only named "
            "activations can: " + ", ".join(map(repr, sorted(_NAMED))) + "."
        )
    return act.name


def deserialize(name):
    """Inverse of ``serialize``: a name -> its Activation."""
    return get(name)
