"""The Keras-style ``Optimizer``: hyperparameters now, a ``cr.optim`` optimizer at build.

A Keras optimizer is made before the model's weights are known (``Adam(learning_rate=1e-3)`` or
just ``"adam"``); ``compile`` calls :meth:`Optimizer.build` with the model's parameters, which
makes the ``cr.optim`` optimizer that does the arithmetic (kept as ``.optimizer``).

Its state lives in one place, that optimizer's state dict: the learning rate in each parameter
group's ``lr`` (so a PyTorch scheduler and a Keras callback see the same value), the step count
(``iterations``) in each group's ``iterations``, the moments in ``state``. ``state_dict()`` /
``load_state_dict()`` therefore save and restore everything, in PyTorch's layout, and
``get_config()`` / ``from_config()`` the hyperparameters (a schedule by name and config).

``learning_rate`` may be a number or a schedule from
:mod:`chainrule.keras.optimizers.schedules` (or a function of no arguments): a schedule is
evaluated at ``iterations`` before every update. ``weight_decay`` is Keras's decoupled decay,
θ ← θ − lr·λ·θ before each update; ``clipnorm`` / ``clipvalue`` / ``global_clipnorm`` clip the
gradients first.

Example::

    >>> model = cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(1)])
    >>> opt = cr.keras.optimizers.Adam(learning_rate=0.01)
    >>> opt.build(model.parameters())      # compile does this
    <Adam learning_rate=0.01>
    >>> opt.learning_rate = 0.001          # sets param_groups[i]["lr"]
    >>> opt.param_groups[0]["lr"]
    0.001
"""
import math

from chainrule import optim
from chainrule.errors import ArgumentTypeError, ConfigError, UsageError
from chainrule.keras.optimizers import schedules
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_


def check_learning_rate(value):
    """A non-negative float, a schedule or a function of no arguments; else a ConfigError."""
    if isinstance(value, schedules.LearningRateSchedule) or (
            callable(value) and not isinstance(value, type)):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or not math.isfinite(value):
        raise ConfigError(f"learning_rate must be a non-negative float, a "
                          f"LearningRateSchedule or a function, got {value!r}")
    return float(value)


def _optional_positive(value, name, where):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{where}: expected a positive float or None for {name}. Received: "
                          f"{name}={value!r}")
    return float(value)


class Optimizer:
    """Base class of Keras-style optimizers: hyperparameters now, a ``cr.optim`` optimizer at build.

    Args:
        learning_rate: the step size: a non-negative float, a ``LearningRateSchedule`` or a
            function of no arguments.
        weight_decay: decoupled weight decay λ (None or 0 for none).
        clipnorm: clip each parameter's gradient to this L2 norm.
        clipvalue: clip each gradient element to [−clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this L2 norm.
        name: a name for display.

    Subclasses implement ``_make(params)`` returning the ``cr.optim`` optimizer, and list their
    own arguments in ``_config_keys``.

    Example::

        >>> opt = cr.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, clipnorm=1.0)
    """

    _inner_decays = False   # True where the cr.optim optimizer applies weight_decay itself
    _config_keys = ()       # the subclass's own constructor arguments, for get_config

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None):
        where = type(self).__name__
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ConfigError("Only one of clipnorm, clipvalue and global_clipnorm can be set, got "
                              f"clipnorm={clipnorm}, clipvalue={clipvalue}, "
                              f"global_clipnorm={global_clipnorm}")
        self._learning_rate = check_learning_rate(learning_rate)
        if weight_decay is not None and (isinstance(weight_decay, bool) or not isinstance(
                weight_decay, (int, float)) or not weight_decay >= 0):
            raise ConfigError(f"{where}: expected a non-negative float or None for weight_decay. "
                              f"Received: weight_decay={weight_decay!r}")
        self.weight_decay = weight_decay
        self.clipnorm = _optional_positive(clipnorm, "clipnorm", where)
        self.clipvalue = _optional_positive(clipvalue, "clipvalue", where)
        self.global_clipnorm = _optional_positive(global_clipnorm, "global_clipnorm", where)
        self.name = name or type(self).__name__.lower()
        self.optimizer = None
        self._iterations = 0

    # ---- building ------------------------------------------------------------------------------
    @property
    def built(self):
        """Whether :meth:`build` has made the ``cr.optim`` optimizer."""
        return self.optimizer is not None

    def build(self, params):
        """Make the ``cr.optim`` optimizer for the trainable tensors among *params*."""
        self._params = [p for p in params if p.requires_grad]
        if not self._params:
            raise ConfigError(f"{type(self).__name__}: the model has no trainable parameters "
                              f"to optimise")
        self.optimizer = self._make(self._params)
        self._set_iterations(0)
        self._apply_learning_rate()
        return self

    def _make(self, params):
        raise NotImplementedError(f"{type(self).__name__} must implement _make(params)")

    def _initial_lr(self):
        """The number to build the ``cr.optim`` optimizer with (a schedule's value at step 0)."""
        lr = self._learning_rate
        if isinstance(lr, float):
            return lr
        return float(lr(0) if isinstance(lr, schedules.LearningRateSchedule) else lr())

    def _require_built(self, what):
        if self.optimizer is None:
            raise UsageError(f"{type(self).__name__}.{what}: the optimizer is not built yet; "
                             f"compile the model (or call build(params)) first")

    # ---- the step count and the learning rate, kept in the parameter groups ---------------------
    @property
    def iterations(self):
        """The number of updates taken (Keras's ``optimizer.iterations``)."""
        if self.optimizer is None:
            return self._iterations
        return int(self.optimizer.param_groups[0].get("iterations", 0))

    def _set_iterations(self, n):
        self._iterations = int(n)
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["iterations"] = int(n)

    @property
    def learning_rate(self):
        """The learning rate of the next update: a schedule's value at ``iterations``, else
        ``param_groups[0]["lr"]`` once built. Setting a number sets every group's ``lr``."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            return float(lr(self.iterations))
        if not isinstance(lr, float):
            return float(lr())
        if self.optimizer is None:
            return lr
        return float(self.optimizer.param_groups[0]["lr"])

    @learning_rate.setter
    def learning_rate(self, value):
        value = check_learning_rate(value)
        if isinstance(self._learning_rate, schedules.LearningRateSchedule) \
                and not isinstance(value, schedules.LearningRateSchedule):
            raise ArgumentTypeError("This optimizer was created with a `LearningRateSchedule` "
                                    "object as its `learning_rate` constructor argument, hence its "
                                    "learning rate is not settable. If you need the learning rate "
                                    "to be settable, you should instantiate the optimizer with a "
                                    "float `learning_rate` argument.")
        self._learning_rate = value
        self._apply_learning_rate()

    def _apply_learning_rate(self):
        """Write the rate for the next update into every group's ``lr``."""
        if self.optimizer is not None:
            lr = self.learning_rate if not isinstance(self._learning_rate, float) \
                else self._learning_rate
            for group in self.optimizer.param_groups:
                group["lr"] = lr

    @property
    def param_groups(self):
        """The ``cr.optim`` optimizer's parameter groups (``[{"params": ..., "lr": ...}]``)."""
        self._require_built("param_groups")
        return self.optimizer.param_groups

    # ---- a step ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of the optimised parameters."""
        self._require_built("zero_grad")
        self.optimizer.zero_grad(set_to_none)

    def step(self, closure=None):
        """Evaluate the schedule, clip the gradients and decay the weights (if asked), update."""
        self._require_built("step")
        if not isinstance(self._learning_rate, float):
            self._apply_learning_rate()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if self.clipnorm is not None:
            for p in params:
                clip_grad_norm_(p, self.clipnorm)
        elif self.clipvalue is not None:
            clip_grad_value_(params, self.clipvalue)
        elif self.global_clipnorm is not None:
            clip_grad_norm_(params, self.global_clipnorm)
        if self.weight_decay and not self._inner_decays:
            for group in self.optimizer.param_groups:
                shrink = 1.0 - group["lr"] * self.weight_decay
                for p in group["params"]:
                    if p.grad is not None:
                        p._data *= p._data.dtype.type(shrink)
                        p._vc[0] += 1
        result = self.optimizer.step(closure)
        self._set_iterations(self.iterations + 1)
        return result

    # ---- saving -------------------------------------------------------------------------------
    def state_dict(self):
        """The ``cr.optim`` optimizer's state dict (PyTorch's layout, ``iterations`` per group)."""
        self._require_built("state_dict")
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        """Load a state dict made by :meth:`state_dict` (moments, ``lr`` and ``iterations``)."""
        self._require_built("load_state_dict")
        self.optimizer.load_state_dict(state_dict)
        groups = self.optimizer.param_groups
        self._set_iterations(groups[0].get("iterations", 0) if groups else 0)
        if isinstance(self._learning_rate, float) and groups:
            self._learning_rate = float(groups[0]["lr"])

    def get_config(self):
        """The constructor arguments as plain data; a schedule as ``{"class_name", "config"}``.

        A learning rate given as a plain function cannot be saved (``ConfigError``).
        """
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif not isinstance(lr, float):
            raise ConfigError(f"{type(self).__name__}: a learning_rate given as a function "
                              f"cannot be saved in a config; use a LearningRateSchedule")
        else:
            lr = self.learning_rate
        config = {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                  "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                  "global_clipnorm": self.global_clipnorm}
        config.update({k: getattr(self, k) for k in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new (unbuilt) optimizer from ``get_config()``'s dict."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"],
                                                            custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.learning_rate:g}>"


class OptimWrapper(Optimizer):
    """A ``cr.optim`` optimizer (an instance, or a class built with its defaults) as a Keras one.

    Example: ``model.compile(cr.optim.SGD(model.parameters(), lr=0.1), "mse")`` or
    ``model.compile(cr.optim.Adam, "mse")``.
    """

    _inner_decays = True

    def __init__(self, optimizer):
        built = isinstance(optimizer, optim.Optimizer)
        lr = optimizer.param_groups[0]["lr"] if built else 0.0
        super().__init__(float(lr), name=(type(optimizer) if built else optimizer).__name__)
        self._cls = type(optimizer) if built else optimizer
        self.optimizer = optimizer if built else None
        if built:
            self._set_iterations(optimizer.param_groups[0].get("iterations", 0))

    def build(self, params):
        """Instantiate the class with *params*; an optimizer given already built is kept as is."""
        if self.optimizer is None:
            self._params = [p for p in params if p.requires_grad]
            if not self._params:
                raise ConfigError(f"{self.name}: the model has no trainable parameters to "
                                  f"optimise")
            self.optimizer = self._cls(self._params)
            self._learning_rate = float(self.optimizer.param_groups[0]["lr"])
            self._set_iterations(0)
        return self

    def get_config(self):
        raise ConfigError(f"{self.name}: a cr.optim optimizer cannot be saved in a model config; "
                          f"compile with a Keras-style optimizer (e.g. 'adam') to save it")
