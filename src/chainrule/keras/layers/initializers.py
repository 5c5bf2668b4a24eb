"""Weight initializers named as in Keras: ``"glorot_uniform"``, ``"he_normal"``, ``"zeros"`` ...

An initializer is called with a shape and a dtype and returns a NumPy array. The distributions are
Keras 3's, with its fan convention for a kernel of shape ``(..., fan_in, fan_out)`` (Dense kernels
are ``(in, units)``):

    glorot_uniform  U(-l, l), l = sqrt(6 / (fan_in + fan_out))
    glorot_normal   truncated normal (within 2 σ), σ = sqrt(2 / (fan_in + fan_out)) / 0.8796
    he_uniform      U(-l, l), l = sqrt(6 / fan_in)
    he_normal       truncated normal, σ = sqrt(2 / fan_in) / 0.8796
    lecun_uniform   U(-l, l), l = sqrt(3 / fan_in)
    lecun_normal    truncated normal, σ = sqrt(1 / fan_in) / 0.8796
    random_normal   N(0, 0.05²);   random_uniform  U(-0.05, 0.05);   truncated_normal σ = 0.05
    zeros, ones, constant(value)

(0.8796 is the standard deviation of a unit normal truncated to [-2, 2], so the truncated draw has
the nominal variance.) Without a *seed*, draws come from the default stream that
``cr.manual_seed`` resets; with one, from a private stream that gives the same array every call.

Example::

    >>> init = cr.keras.initializers.get("glorot_uniform")
    >>> init((29, 16)).shape
    (29, 16)
"""
import math

import numpy as np

from chainrule import dtypes
from chainrule.errors import ConfigError
from chainrule.keras.registry import INITIALIZERS, uninterpretable
from chainrule.random import rng as _default_rng

_TRUNCATION_STD = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2]


def compute_fans(shape):
    """(fan_in, fan_out) of a weight of *shape*, Keras's convention: ``(..., fan_in, fan_out)``."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``init(shape, dtype=None)`` returns a NumPy array of that shape.

    Subclasses define ``sample(shape, rng)`` and ``get_config``. Example::

        >>> float(Zeros()((2, 3)).sum())
        0.0
    """

    seed = None

    def __call__(self, shape, dtype=None):
        dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        shape = tuple(int(s) for s in shape)
        if self.seed is None:
            gen = _default_rng()
        else:
            gen = np.random.Generator(np.random.PCG64(self.seed))
        return np.asarray(self.sample(shape, gen), dtype=np.float64).astype(dtype)

    def sample(self, shape, gen):
        raise NotImplementedError(f"{type(self).__name__} must define sample(shape, gen)")

    def get_config(self):
        """The keyword arguments that rebuild this initializer."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_seed(seed, where):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ConfigError(f"{where}: expected an int or None for seed. Received: seed={seed!r}")
    return None if seed is None else int(seed)


def _check_number(value, name, where, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not math.isfinite(value) or (positive and value <= 0):
        kind = "a positive number" if positive else "a finite number"
        raise ConfigError(f"{where}: expected {kind} for {name}. Received: {name}={value!r}")
    return float(value)


class Zeros(Initializer):
    """All zeros. Example: ``Zeros()((2,))`` → ``array([0., 0.])``."""

    def sample(self, shape, gen):
        return np.zeros(shape)


class Ones(Initializer):
    """All ones. Example: ``Ones()((2,))`` → ``array([1., 1.])``."""

    def sample(self, shape, gen):
        return np.ones(shape)


class Constant(Initializer):
    """Every entry equal to *value*. Example: ``Constant(0.5)((2,))`` → ``array([0.5, 0.5])``."""

    def __init__(self, value=0.0):
        self.value = _check_number(value, "value", "Constant")

    def sample(self, shape, gen):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Normal draws N(mean, stddev²); Keras defaults mean=0, stddev=0.05.

    Example: ``RandomNormal(stddev=1.0, seed=0)((3, 3))``.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number(mean, "mean", "RandomNormal")
        self.stddev = _check_number(stddev, "stddev", "RandomNormal", positive=True)
        self.seed = _check_seed(seed, "RandomNormal")

    def sample(self, shape, gen):
        return gen.normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Uniform draws U(minval, maxval); Keras defaults -0.05 and 0.05.

    Example: ``RandomUniform(-1.0, 1.0, seed=0)((3,))``.
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _check_number(minval, "minval", "RandomUniform")
        self.maxval = _check_number(maxval, "maxval", "RandomUniform")
        if self.maxval < self.minval:
            raise ConfigError(f"RandomUniform: expected minval <= maxval. Received: "
                              f"minval={minval!r}, maxval={maxval!r}")
        self.seed = _check_seed(seed, "RandomUniform")

    def sample(self, shape, gen):
        return gen.uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(gen, shape, stddev, mean=0.0):
    """N(mean, stddev²) restricted to mean ± 2·stddev: out-of-range draws are drawn again."""
    out = gen.standard_normal(size=shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = gen.standard_normal(size=int(bad.sum()))
        bad = np.abs(out) > 2.0
    return mean + stddev * out


class TruncatedNormal(Initializer):
    """Normal draws within two standard deviations of the mean; Keras defaults 0 and 0.05.

    Example: ``TruncatedNormal(stddev=1.0, seed=0)((3,))``.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number(mean, "mean", "TruncatedNormal")
        self.stddev = _check_number(stddev, "stddev", "TruncatedNormal", positive=True)
        self.seed = _check_seed(seed, "TruncatedNormal")

    def sample(self, shape, gen):
        return _truncated_normal(gen, shape, self.stddev, self.mean)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Draws with variance ``scale / n``, n the fan chosen by *mode*; Keras's general family.

    ``mode`` is "fan_in", "fan_out" or "fan_avg"; ``distribution`` "truncated_normal",
    "untruncated_normal" or "uniform" (U(-l, l), l = sqrt(3 · scale / n)).
    Example: ``VarianceScaling(2.0, "fan_in", "uniform")`` is he_uniform.
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        name = type(self).__name__
        self.scale = _check_number(scale, "scale", name, positive=True)
        if mode not in self._MODES:
            raise ConfigError(f"{name}: expected one of {self._MODES} for mode. Received: "
                              f"mode={mode!r}")
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ConfigError(f"{name}: expected one of {self._DISTRIBUTIONS} for distribution. "
                              f"Received: distribution={distribution!r}")
        self.mode, self.distribution = mode, distribution
        self.seed = _check_seed(seed, name)

    def sample(self, shape, gen):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return gen.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return gen.normal(0.0, math.sqrt(variance), size=shape)
        return _truncated_normal(gen, shape, math.sqrt(variance) / _TRUNCATION_STD)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


def _preset(class_name, scale, mode, distribution, doc):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(class_name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                                 "__doc__": doc, "__module__": __name__})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Glorot (Xavier) uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).\n\n"
                        "Example: ``GlorotUniform(seed=0)((29, 16))``.")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Glorot (Xavier) normal: truncated normal, σ = sqrt(2 / (fan_in + fan_out)) "
                       "/ 0.8796.\n\nExample: ``GlorotNormal(seed=0)((29, 16))``.")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform",
                    "He (Kaiming) uniform: U(-l, l), l = sqrt(6 / fan_in).\n\n"
                    "Example: ``HeUniform(seed=0)((29, 16))``.")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "He (Kaiming) normal: truncated normal, σ = sqrt(2 / fan_in) / 0.8796.\n\n"
                   "Example: ``HeNormal(seed=0)((29, 16))``.")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "LeCun uniform: U(-l, l), l = sqrt(3 / fan_in).\n\n"
                       "Example: ``LecunUniform(seed=0)((29, 16))``.")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "LeCun normal: truncated normal, σ = sqrt(1 / fan_in) / 0.8796.\n\n"
                      "Example: ``LecunNormal(seed=0)((29, 16))``.")

for _cls in (Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal,
             VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform,
             LecunNormal):
    INITIALIZERS.add(_cls)
for _alias, _cls in {"zeros": Zeros, "ones": Ones, "constant": Constant,
                     "random_normal": RandomNormal, "random_uniform": RandomUniform,
                     "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
                     "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
                     "he_uniform": HeUniform, "he_normal": HeNormal,
                     "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
                     "xavier_uniform": GlorotUniform, "xavier_normal": GlorotNormal}.items():
    INITIALIZERS.add(_cls, _alias)


def serialize(initializer):
    """``{"class_name": ..., "config": {...}}`` for a built-in initializer (used by get_config)."""
    if not isinstance(initializer, Initializer):
        raise ConfigError(f"cannot serialize initializer {initializer!r}: only chainrule's "
                          f"built-in initializers can be saved in a config")
    return INITIALIZERS.serialize(initializer)


def get(identifier):
    """An initializer from a name (``"he_normal"``), a config dict, an instance or a callable.

    Unknown names raise ``ConfigError`` suggesting the closest known one. Example::

        >>> get("glorot_uniform")
        GlorotUniform(seed=None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    if isinstance(identifier, str):
        return INITIALIZERS.lookup(identifier)()
    if isinstance(identifier, dict):
        return INITIALIZERS.deserialize(identifier)
    raise uninterpretable("initializer", identifier, "a name such as 'glorot_uniform', a config "
                          "dict, an Initializer or a callable")
