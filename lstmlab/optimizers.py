"""Keras 3 compatible optimizers for NumPy parameters.

Same defaults and update rules as ``keras.optimizers`` (files under
``keras/src/optimizers/``), applied in place to NumPy arrays.  One call to
``apply(grads, params)`` does what ``BaseOptimizer.apply`` does
(``base_optimizer.py``):

1. drop ``None`` gradients (their parameters are left alone),
2. divide by ``loss_scale_factor`` if set,
3. clip - at most one of ``clipnorm`` (each gradient to that L2 norm),
   ``global_clipnorm`` (all gradients jointly) and ``clipvalue``
   (elementwise) may be set; Keras raises otherwise,
4. decoupled weight decay ``p -= p * weight_decay * lr`` (AdamW, or any
   optimizer given ``weight_decay``) before the update,
5. the optimizer's update step, then ``iterations += 1``.

Where Keras differs from PyTorch (Adam's epsilon outside sqrt(v) with the bias
correction folded into the step size; RMSprop's epsilon inside the sqrt;
Adagrad's accumulator starting at 0.1) each class docstring says so.

Scalars are cast to the parameter dtype, so float32 parameters are updated in
float32 arithmetic like Keras's.  The learning rate is a plain float (Keras
keeps it in a float32 variable, so float64 parameters can differ by ~5e-8
relative) or a callable ``schedule(step) -> float`` evaluated with the number
of completed steps, as Keras evaluates ``LearningRateSchedule``s.
"""

import inspect

import numpy as np
from numba import njit

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad",
           "get", "serialize", "deserialize"]

# Keras constructor options kept only so Keras configs load; the values here
# are Keras's defaults and anything else is rejected.
_KERAS_ONLY_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99,
                        "ema_overwrite_frequency": None,
                        "gradient_accumulation_steps": None}


class Optimizer:
    """Base class: clipping, weight decay, slots, iterations, config, state.

    Subclasses set ``_default_name``, implement ``_slot_specs()`` (slot name
    -> initial value) and ``_update(grad, param, slots, lr)`` for one
    parameter.
    """

    _default_name = "optimizer"

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, loss_scale_factor=None,
                 name=None, **kwargs):
        for key, default in _KERAS_ONLY_DEFAULTS.items():
            value = kwargs.pop(key, default)
            if value != default:
                raise ValueError(f"{type(self).__name__}: {key}={value!r} is "
                                 "not supported by lstmlab (only Keras's "
                                 f"default {default!r}).")
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword argument(s) "
                f"{', '.join(map(repr, sorted(kwargs)))}. Valid arguments: "
                f"{', '.join(self._valid_arguments())}.")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                f"be set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}"
                f", global_clipnorm={global_clipnorm}")
        self.name = name or self._default_name
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.loss_scale_factor = loss_scale_factor
        self.iterations = 0
        self._shapes = None   # [(shape, dtype)] per position once built
        self._slots = {}      # slot name -> list of arrays, one per position

    @classmethod
    def _valid_arguments(cls):
        names = [p for p in inspect.signature(cls.__init__).parameters
                 if p not in ("self", "kwargs")]
        extra = [p for p in inspect.signature(Optimizer.__init__).parameters
                 if p not in ("self", "kwargs") and p not in names]
        return names + extra + list(_KERAS_ONLY_DEFAULTS)

    # -- learning rate ---------------------------------------------------------
    @property
    def learning_rate(self):
        """Current learning rate as a float (schedules are evaluated at
        ``iterations``).  Assign a float or a callable to change it."""
        lr = self._learning_rate
        return float(lr(self.iterations)) if callable(lr) else lr

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._learning_rate = value
        elif isinstance(value, (int, float, np.number)) and \
                not isinstance(value, bool):
            self._learning_rate = float(value)
        else:
            raise ValueError("learning_rate must be a float or a callable "
                             f"step -> float. Received: {value!r}")

    # -- slots -----------------------------------------------------------------
    def _slot_specs(self):
        """{slot name: initial fill value}; slots are created per parameter."""
        return {}

    def _build(self, shapes):
        self._shapes = list(shapes)
        self._slots = {
            name: [np.full(shape, fill, dtype=dtype) for shape, dtype in shapes]
            for name, fill in self._slot_specs().items()
        }

    def _check_params(self, params):
        shapes = [(p.shape, p.dtype) for p in params]
        if self._shapes is None:
            self._build(shapes)
            return
        if [s for s, _ in shapes] != [s for s, _ in self._shapes]:
            raise ValueError(
                f"{type(self).__name__} was built for {len(self._shapes)} "
                f"parameters with shapes {[s for s, _ in self._shapes]}; this "
                f"call has {len(shapes)} with shapes {[s for s, _ in shapes]}. "
                "Pass the same parameters in the same order every step, or use "
                "a new optimizer for a different model.")

    # -- the step --------------------------------------------------------------
    def apply(self, grads, params):
        """Update ``params`` in place from ``grads`` (lists, same order)."""
        grads, params = list(grads), list(params)
        if self._trusted(grads, params):        # the same arrays as last step: skip the checks
            self._step(grads, params, list(range(len(params))), grads)
            return
        if len(grads) != len(params):
            raise ValueError(f"Got {len(grads)} gradients for {len(params)} "
                             "parameters; they must pair up one-to-one.")
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray) or not p.flags.writeable:
                raise TypeError(f"params[{i}] must be a writeable NumPy array "
                                f"(updated in place). Received: {type(p)}")
        self._check_params(params)
        live = [i for i, g in enumerate(grads) if g is not None]
        if not live:
            raise ValueError("No gradients provided for any variable.")
        gs = []
        for i in live:
            g = np.asarray(grads[i], dtype=params[i].dtype)
            if g.shape != params[i].shape:
                raise ValueError(f"grads[{i}].shape={g.shape} does not match "
                                 f"params[{i}].shape={params[i].shape}.")
            if self.loss_scale_factor is not None:
                g = g / g.dtype.type(self.loss_scale_factor)
            gs.append(g)
        self._step(grads, params, live, gs)
        self._last = params          # the arrays themselves, so an id can never be reused

    def _trusted(self, grads, params):
        """True when params are exactly last step's arrays and every grad matches its param."""
        last = getattr(self, "_last", None)
        if last is None or len(params) != len(last) or len(grads) != len(params):
            return False
        for p, g, q in zip(params, grads, last):
            if p is not q or type(g) is not np.ndarray or g.shape != p.shape or g.dtype != p.dtype:
                return False
        return self.loss_scale_factor is None

    def _step(self, grads, params, live, gs):
        gs = self._clip(gs)
        lr = self.learning_rate
        if self.weight_decay is not None:      # base_optimizer._apply_weight_decay
            for i in live:
                p = params[i]
                p -= p * p.dtype.type(self.weight_decay) * p.dtype.type(lr)
        for i, g in zip(live, gs):
            slots = {name: arrays[i] for name, arrays in self._slots.items()}
            self._update(g, params[i], slots, lr)
        self.iterations += 1

    def _clip(self, grads):
        """base_optimizer._clip_gradients / _clip_by_norm / clip_by_global_norm."""
        if self.clipnorm and self.clipnorm > 0:
            out = []
            for g in grads:
                c = g.dtype.type(self.clipnorm)
                norm = np.sqrt(np.sum(np.square(g)))
                out.append(g * c / np.maximum(norm, c))
            return out
        if self.global_clipnorm and self.global_clipnorm > 0:
            c = self.global_clipnorm
            norm = np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64)))
                               for g in grads))
            with np.errstate(divide="ignore", invalid="ignore"):
                # Keras: clip * min(1/norm, 1/clip), NaN if norm is inf/NaN.
                scale = c * min(1.0 / norm if norm else np.inf, 1.0 / c) \
                    + (norm - norm)
            return [g * g.dtype.type(scale) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _update(self, grad, param, slots, lr):
        raise NotImplementedError

    # -- config ----------------------------------------------------------------
    def get_config(self):
        """Keras's keys (``BaseOptimizer.get_config`` + the subclass's)."""
        return {"name": self.name, "learning_rate": self._learning_rate,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, **_KERAS_ONLY_DEFAULTS,
                "loss_scale_factor": self.loss_scale_factor}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- state -----------------------------------------------------------------
    def variables(self):
        """Live state: {'iterations', 'learning_rate', '<slot>_<i>': array}.

        Slot arrays are the optimizer's own buffers (not copies)."""
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        if not callable(self._learning_rate):
            state["learning_rate"] = np.array(self._learning_rate)
        for name, arrays in self._slots.items():
            for i, a in enumerate(arrays):
                state[f"{name}_{i}"] = a
        return state

    def get_state(self):
        """A copy of ``variables()`` - save it with np.savez."""
        return {k: np.array(v, copy=True) for k, v in self.variables().items()}

    def set_state(self, state):
        """Load ``get_state()`` output; builds the slots if not built yet."""
        state = dict(state)
        names = list(self._slot_specs())
        slot_keys = sorted(k for k in state
                           if k not in ("iterations", "learning_rate"))
        count = len(slot_keys) // len(names) if names else \
            (len(self._shapes) if self._shapes is not None else 0)
        want = sorted(f"{n}_{i}" for n in names for i in range(count))
        if slot_keys != want:
            raise ValueError(
                f"{type(self).__name__}.set_state: state keys {slot_keys} do "
                f"not match this optimizer's slots {names} (expected {want}). "
                "Was it saved from an optimizer with the same class/options?")
        if names:
            shapes = [(np.shape(state[f"{names[0]}_{i}"]),
                       np.asarray(state[f"{names[0]}_{i}"]).dtype)
                      for i in range(count)]
            if self._shapes is None:
                self._build(shapes)
            else:
                self._check_params([np.empty(s, d) for s, d in shapes])
            for key in want:
                name, i = key.rsplit("_", 1)
                self._slots[name][int(i)][...] = state[key]
        self.iterations = int(state.get("iterations", 0))
        if "learning_rate" in state and not callable(self._learning_rate):
            self._learning_rate = float(state["learning_rate"])

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self._learning_rate!r})"


class SGD(Optimizer):
    """keras/src/optimizers/sgd.py.

    Without momentum: p -= lr * g.  With momentum:
    m = momentum * m - lr * g; p += m, or for nesterov
    p += momentum * m - lr * g.  For a constant lr this is exactly
    torch.optim.SGD (whose buffer is -m / lr).
    """

    _default_name = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be a float between [0, 1]. "
                             f"Received: momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _slot_specs(self):
        return {"momentum": 0.0} if self.momentum != 0 else {}

    def _update(self, g, p, slots, lr):
        t = p.dtype.type
        if self.momentum == 0:
            p -= g * t(lr)
            return
        m, mu = slots["momentum"], t(self.momentum)
        m[...] = m * mu - g * t(lr)
        if self.nesterov:
            p += m * mu - g * t(lr)
        else:
            p += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """keras/src/optimizers/rmsprop.py.

    v = rho v + (1-rho) g^2; (centered: a = rho a + (1-rho) g, and v - a^2);
    step = lr g / sqrt(v + eps)  <- epsilon inside the sqrt (torch: outside);
    momentum > 0: m = momentum m + step; p -= m, else p -= step.
    """

    _default_name = "rm_sprop"   # what Keras's auto-naming produces

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0,
                 epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = bool(centered)

    def _slot_specs(self):
        specs = {"velocity": 0.0}
        if self.momentum > 0:
            specs["momentum"] = 0.0
        if self.centered:
            specs["average_gradient"] = 0.0
        return specs

    def _update(self, g, p, slots, lr):
        t = p.dtype.type
        # 1 - rho in double precision, then cast (float32(1 - 0.9) is not
        # 1 - float32(0.9)), as Keras does.
        rho, one_minus_rho = t(self.rho), t(1 - self.rho)
        v = slots["velocity"]
        v[...] = rho * v + one_minus_rho * np.square(g)
        if self.centered:
            a = slots["average_gradient"]
            a[...] = rho * a + one_minus_rho * g
            denominator = v - np.square(a) + t(self.epsilon)
        else:
            denominator = v + t(self.epsilon)
        increment = t(lr) * g / np.sqrt(denominator)
        if self.momentum > 0:
            m = slots["momentum"]
            m[...] = t(self.momentum) * m + increment
            p -= m
        else:
            p -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho,
                "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adam(Optimizer):
    """keras/src/optimizers/adam.py.

    m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); (amsgrad: vhat = max(vhat, v))
    alpha = lr sqrt(1 - b2^t) / (1 - b1^t); p -= alpha m / (sqrt(v) + eps).
    torch.optim.Adam instead divides by sqrt(v)/sqrt(1 - b2^t) + eps, i.e. its
    epsilon is effectively eps * sqrt(1 - b2^t) larger relative to Keras's;
    with eps = 0 the two are the same algorithm.
    """

    _default_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = bool(amsgrad)

    def _slot_specs(self):
        specs = {"momentum": 0.0, "velocity": 0.0}
        if self.amsgrad:
            specs["velocity_hat"] = 0.0
        return specs

    def _alpha(self, t, lr):
        """The bias-corrected step size, in the parameters' float type, once per step."""
        key = (self.iterations, t, lr)
        if getattr(self, "_alpha_key", None) != key:
            step = t(self.iterations + 1)
            b1, b2 = t(self.beta_1), t(self.beta_2)
            self._alpha_value = t(lr) * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
            self._constants = (t(1 - self.beta_1), t(1 - self.beta_2), t(self.epsilon))
            self._alpha_key = key
        return self._alpha_value

    def _update(self, g, p, slots, lr):
        t = p.dtype.type
        alpha = self._alpha(t, lr)
        m, v = slots["momentum"], slots["velocity"]
        # (1 - beta) in double precision, then cast, as Keras does: computing
        # it in float32 makes 1 - float32(0.999) off by 1.3e-5 relative.
        if (not self.amsgrad and g.dtype == p.dtype and g.flags.c_contiguous and p.flags.c_contiguous
                and m.flags.c_contiguous and v.flags.c_contiguous):
            _adam_step(p, g, m, v, alpha, *self._constants)
            return
        m += (g - m) * t(1 - self.beta_1)
        v += (np.square(g) - v) * t(1 - self.beta_2)
        if self.amsgrad:
            np.maximum(slots["velocity_hat"], v, out=slots["velocity_hat"])
            v = slots["velocity_hat"]
        p -= (m * alpha) / (np.sqrt(v) + t(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


@njit(cache=True, error_model="numpy")
def _adam_step(p, g, m, v, alpha, one_minus_b1, one_minus_b2, eps):
    """Keras's Adam update in one pass over C-ordered arrays of one shape, seen flat
    here (no reshape from Python, where each call costs more than its arithmetic
    on small weights): the same float32 arithmetic as the NumPy expressions above,
    without their temporaries."""
    n = p.size
    p, g, m, v = p.reshape(n), g.reshape(n), m.reshape(n), v.reshape(n)
    for k in range(n):
        m[k] += (g[k] - m[k]) * one_minus_b1
        v[k] += (g[k] * g[k] - v[k]) * one_minus_b2
        p[k] -= (m[k] * alpha) / (np.sqrt(v[k]) + eps)


class AdamW(Adam):
    """keras/src/optimizers/adamw.py: Adam plus decoupled weight decay
    p -= p * weight_decay * lr, applied before the Adam step (base class)."""

    _default_name = "adam_w"   # what Keras's auto-naming produces

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. "
                             "Received: weight_decay=None")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay, **kwargs)


class Adagrad(Optimizer):
    """keras/src/optimizers/adagrad.py.

    acc (starts at initial_accumulator_value=0.1, torch: 0) += g^2;
    p -= lr g / sqrt(acc + eps)  (epsilon inside the sqrt; torch: outside).
    """

    _default_name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1,
                 epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_specs(self):
        return {"accumulator": self.initial_accumulator_value}

    def _update(self, g, p, slots, lr):
        t = p.dtype.type
        acc = slots["accumulator"]
        acc += np.square(g)
        p -= t(lr) * g / np.sqrt(acc + t(self.epsilon))

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


# -- lookup (keras/src/optimizers/__init__.py: names are case-insensitive) ------
_CLASSES = {cls.__name__.lower(): cls
            for cls in (SGD, RMSprop, Adam, AdamW, Adagrad)}


def _lookup(name):
    cls = _CLASSES.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer: {name!r}. Expected one of: "
                         f"{', '.join(map(repr, sorted(_CLASSES)))}. "
                         f"Received: {name!r}.")
    return cls


def get(identifier):
    """Optimizer from a name, a {'class_name', 'config'} dict, or an instance
    (returned unchanged)."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r}")


def deserialize(config):
    if "class_name" not in config:
        raise ValueError("An optimizer config dict needs a 'class_name' key. "
                         f"Received keys: {sorted(config)}")
    cls = _lookup(config["class_name"])
    return cls.from_config(dict(config.get("config") or {}))


def serialize(optimizer):
    """Keras-style {'module', 'class_name', 'config', 'registered_name'}."""
    return {"module": "keras.optimizers",
            "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}
