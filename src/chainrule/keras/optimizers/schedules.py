"""Learning-rate schedules, as ``keras.optimizers.schedules``: the rate as a function of the step.

A schedule is called with the optimizer's step count (``optimizer.iterations``, 0 before the first
update) and returns the rate for that step. Pass one as any Keras-style optimizer's
``learning_rate``; the optimizer evaluates it before every update, and ``model.save`` stores it
by name and config. Keras 3's formulas, with *s* the step::

    ExponentialDecay        lr₀ · rate^(s / steps)            (⌊s / steps⌋ with staircase)
    InverseTimeDecay        lr₀ / (1 + rate · s / steps)      (⌊s / steps⌋ with staircase)
    PolynomialDecay         (lr₀ − lr_end) · (1 − min(s, steps) / steps)^power + lr_end
                            (with cycle: steps · ⌈s / steps⌉ instead of min(s, steps))
    PiecewiseConstantDecay  values[i] for boundaries[i−1] < s ≤ boundaries[i]
    CosineDecay             lr₀ · ((1 − α) · ½(1 + cos(π · min(s, steps) / steps)) + α),
                            after an optional linear warm-up to warmup_target
    CosineDecayRestarts     cosine decay over first_decay_steps, restarted with each period
                            t_mul times longer and m_mul times higher

Example::

    >>> schedule = ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5)
    >>> schedule(0), schedule(100), schedule(200)
    (0.1, 0.05, 0.025)
    >>> opt = cr.keras.optimizers.SGD(learning_rate=schedule)
"""
import math

from chainrule.errors import ConfigError
from chainrule.keras.registry import SCHEDULES, uninterpretable


def _positive(value, name, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{where}: argument `{name}` must be > 0. Received: {name}={value!r}")
    return value


def _number(value, name, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number for {name}. Received: "
                          f"{name}={value!r}")
    return value


def _step(step):
    return float(getattr(step, "item", lambda: step)())


class LearningRateSchedule:
    """Base class: ``schedule(step)`` gives the rate for *step*; ``get_config`` its arguments.

    Subclass and define ``__call__(step)`` (and ``get_config`` to save it)::

        >>> class Halving(LearningRateSchedule):
        ...     def __call__(self, step):
        ...         return 0.1 / 2 ** (step // 100)
    """

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  f"`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        """A new schedule from ``get_config()``'s dict."""
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


@SCHEDULES.register()
class ExponentialDecay(LearningRateSchedule):
    """lr₀ · decay_rate^(step / decay_steps); with *staircase* the exponent is an integer.

    Example: ``ExponentialDecay(0.1, 1000, 0.96, staircase=True)`` lowers the rate by 4 % every
    1000 steps.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        where = "ExponentialDecay"
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", where)
        self.decay_steps = _positive(decay_steps, "decay_steps", where)
        self.decay_rate = _number(decay_rate, "decay_rate", where)
        self.staircase, self.name = bool(staircase), name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


@SCHEDULES.register()
class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] for step ≤ boundaries[0], values[i] for boundaries[i−1] < step ≤ boundaries[i],
    values[−1] after the last boundary.

    Example: ``PiecewiseConstantDecay([100, 110], [1.0, 0.5, 0.1])`` is 1.0 up to step 100,
    0.5 up to step 110, then 0.1.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        where = "PiecewiseConstantDecay"
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise ConfigError(f"{where}: boundaries and values must be lists. Received: "
                              f"boundaries={boundaries!r}, values={values!r}")
        if len(boundaries) != len(values) - 1:
            raise ConfigError(f"The length of boundaries should be 1 less than the length of "
                              f"values. Received: boundaries={list(boundaries)} of length "
                              f"{len(boundaries)}, and values={list(values)} of length "
                              f"{len(values)}.")
        for b in boundaries:
            _number(b, "boundaries", where)
        for v in values:
            _number(v, "values", where)
        if any(b >= c for b, c in zip(boundaries[:-1], boundaries[1:])):
            raise ConfigError(f"{where}: boundaries must be strictly increasing. Received: "
                              f"boundaries={list(boundaries)}")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        s = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if s <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@SCHEDULES.register()
class PolynomialDecay(LearningRateSchedule):
    """From lr₀ to *end_learning_rate* over *decay_steps* along (1 − s/steps)^power; held at the end
    (or, with *cycle*, restarted over the next multiple of decay_steps).

    Example: ``PolynomialDecay(0.1, 10000, 0.01, power=0.5)``.
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        where = "PolynomialDecay"
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", where)
        self.decay_steps = _positive(decay_steps, "decay_steps", where)
        self.end_learning_rate = _number(end_learning_rate, "end_learning_rate", where)
        self.power = _number(power, "power", where)
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step):
        s = _step(step)
        steps = float(self.decay_steps)
        if self.cycle:
            steps *= 1.0 if s == 0 else math.ceil(s / self.decay_steps)
        else:
            s = min(s, steps)
        p = s / steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power \
            + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


@SCHEDULES.register()
class InverseTimeDecay(LearningRateSchedule):
    """lr₀ / (1 + decay_rate · step / decay_steps); with *staircase* the ratio is an integer.

    Example: ``InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)`` is 0.1 / (1 + s/2).
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        where = "InverseTimeDecay"
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", where)
        self.decay_steps = _positive(decay_steps, "decay_steps", where)
        self.decay_rate = _number(decay_rate, "decay_rate", where)
        self.staircase, self.name = bool(staircase), name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


@SCHEDULES.register()
class CosineDecay(LearningRateSchedule):
    """Cosine decay from the start rate to α times it over *decay_steps*, after an optional linear
    warm-up from lr₀ to *warmup_target* over *warmup_steps*.

    Without warm-up: lr₀ · ((1 − α) · ½(1 + cos(π · min(s, steps) / steps)) + α). With it, the
    decay starts from warmup_target once the warm-up is over. Example::

        >>> CosineDecay(0.0, 1000, warmup_target=0.1, warmup_steps=100)(50)
        0.05
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        where = "CosineDecay"
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", where)
        self.decay_steps = _positive(decay_steps, "decay_steps", where)
        self.alpha = _number(alpha, "alpha", where)
        self.name = name
        self.warmup_target = None if warmup_target is None else \
            _number(warmup_target, "warmup_target", where)
        self.warmup_steps = _number(warmup_steps, "warmup_steps", where)
        if self.warmup_steps < 0:
            raise ConfigError(f"{where}: warmup_steps must be >= 0. Received: "
                              f"warmup_steps={warmup_steps!r}")

    def _decay(self, step, start):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        s = _step(step)
        if self.warmup_target is None:
            return self._decay(min(s, self.decay_steps), self.initial_learning_rate)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            return (self.warmup_target - self.initial_learning_rate) * (s / self.warmup_steps) \
                + self.initial_learning_rate
        return self._decay(s - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


@SCHEDULES.register()
class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: cosine decay from lr₀ to α·lr₀ over *first_decay_steps*, then a warm restart; the
    i-th period is t_mul^i times longer and starts m_mul^i times higher.

    Example: ``CosineDecayRestarts(0.1, first_decay_steps=1000)`` restarts at steps 1000, 3000,
    7000 ...
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        where = "CosineDecayRestarts"
        self.initial_learning_rate = _number(initial_learning_rate, "initial_learning_rate", where)
        self.first_decay_steps = _positive(first_decay_steps, "first_decay_steps", where)
        self._t_mul = _positive(t_mul, "t_mul", where)
        self._m_mul = _number(m_mul, "m_mul", where)
        self.alpha = _number(alpha, "alpha", where)
        self.name = name

    def __call__(self, step):
        fraction = _step(step) / self.first_decay_steps
        t_mul = float(self._t_mul)
        if t_mul == 1.0:
            i_restart = math.floor(fraction)
            fraction -= i_restart
        else:
            i_restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul ** i_restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** i_restart
        m_fac = self._m_mul ** i_restart
        cosine = 0.5 * m_fac * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


def serialize(learning_rate_schedule):
    """``{"class_name": ..., "config": {...}}`` for a built-in schedule (saved with a model).

    Example: ``serialize(CosineDecay(0.1, 100))["class_name"]`` is ``"CosineDecay"``.
    """
    return SCHEDULES.serialize(learning_rate_schedule)


def deserialize(config, custom_objects=None):
    """The schedule :func:`serialize` wrote (only registered classes, or *custom_objects*).

    Example: ``deserialize({"class_name": "ExponentialDecay", "config": {...}})``.
    """
    return SCHEDULES.deserialize(config, custom_objects, "learning_rate")


def get(identifier):
    """A schedule from an instance (returned as is) or a config dict. Example: ``get(schedule)``."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise uninterpretable("learning rate schedule", identifier, "a LearningRateSchedule or its "
                          "config")


__all__ = ["CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
           "LearningRateSchedule", "PiecewiseConstantDecay", "PolynomialDecay", "deserialize",
           "get", "serialize"]
