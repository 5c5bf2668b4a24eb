"""Keras-style optimizers: Keras's names, arguments and defaults, stepping with ``chainrule.optim``.

A Keras optimizer is made before the model's weights are known (``Adam(learning_rate=1e-3)`` or
just ``"adam"``); ``compile`` calls :meth:`Optimizer.build` with the model's parameters, which
makes the ``cr.optim`` optimizer that does the arithmetic (kept as ``.optimizer``).  The
learning rate lives in one place, the ``cr.optim`` parameter groups: ``opt.learning_rate``
reads ``param_groups[0]["lr"]`` and setting it writes every group's ``lr``, so a PyTorch
scheduler and a Keras callback see the same value.

Defaults are Keras's (``epsilon=1e-7``, ``"sgd"`` at 0.01, ``"rmsprop"`` with ρ = 0.9,
``"adagrad"`` starting its sums at 0.1, ``"adamw"`` with weight decay 0.004).  The updates are
PyTorch's, which differ from Keras's in where ε enters:

* Adam/AdamW: PyTorch divides by √v̂ + ε; Keras by √v̂ + ε·√(1 − β₂ᵗ) (ε "hat").
* RMSprop and Adagrad: PyTorch divides by √v + ε; Keras by √(v + ε).
* Adamax: PyTorch adds ε inside the max, u = max(β₂u, |g| + ε); Keras adds it to u afterwards.

With ε = 1e-7 these differ only while the squared-gradient averages are tiny.  ``weight_decay``
is Keras's decoupled decay, θ ← θ − lr·λ·θ before each update (AdamW's own, for ``AdamW``).

Example::

    >>> model = cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(1)])
    >>> opt = Adam(learning_rate=0.01)
    >>> opt.build(model.parameters())      # compile does this
    <Adam learning_rate=0.01>
    >>> opt.learning_rate = 0.001          # sets param_groups[i]["lr"]
    >>> opt.param_groups[0]["lr"]
    0.001
"""
from chainrule.errors import ConfigError
from chainrule.keras.losses import lookup
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_
from chainrule import optim


class Optimizer:
    """Base class of Keras-style optimizers: hyperparameters now, a ``cr.optim`` optimizer at build.

    Args:
        learning_rate: the step size (a positive float).
        weight_decay: decoupled weight decay λ (None or 0 for none).
        clipnorm: clip each parameter's gradient to this L2 norm.
        clipvalue: clip each gradient element to [−clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this L2 norm.
        name: a name for display.

    Subclasses implement ``_make(params)`` returning the ``cr.optim`` optimizer.

    Example::

        >>> opt = SGD(learning_rate=0.1, momentum=0.9, clipnorm=1.0)
    """

    _inner_decays = False   # True where the cr.optim optimizer applies weight_decay itself

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None):
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ConfigError("Only one of clipnorm, clipvalue and global_clipnorm can be set, got "
                              f"clipnorm={clipnorm}, clipvalue={clipvalue}, "
                              f"global_clipnorm={global_clipnorm}")
        self._learning_rate = _check_lr(learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.optimizer = None
        self.iterations = 0

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
        self.iterations = 0
        return self

    def _make(self, params):
        raise NotImplementedError(f"{type(self).__name__} must implement _make(params)")

    def _require_built(self, what):
        if self.optimizer is None:
            raise RuntimeError(f"{type(self).__name__}.{what}: the optimizer is not built yet; "
                               f"compile the model (or call build(params)) first")

    # ---- the learning rate, in one place --------------------------------------------------
    @property
    def learning_rate(self):
        """The learning rate: ``param_groups[0]["lr"]`` once built; setting it sets all groups'."""
        if self.optimizer is None:
            return self._learning_rate
        return float(self.optimizer.param_groups[0]["lr"])

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = _check_lr(value)
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = self._learning_rate

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
        """Clip the gradients (if asked), decay the weights (if asked), then take the update."""
        self._require_built("step")
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
                        p.data *= p.data.dtype.type(shrink)
                        p._vc[0] += 1
        result = self.optimizer.step(closure)
        self.iterations += 1
        return result

    def state_dict(self):
        """The ``cr.optim`` optimizer's state dict (PyTorch's layout)."""
        self._require_built("state_dict")
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        """Load a state dict made by :meth:`state_dict`."""
        self._require_built("load_state_dict")
        self.optimizer.load_state_dict(state_dict)

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self.learning_rate:g}>"


def _check_lr(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"learning_rate must be a non-negative float, got {value!r}")
    return float(value)


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum (Keras default lr 0.01).

    Example: ``SGD(learning_rate=0.1, momentum=0.9, nesterov=True)``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = momentum, nesterov

    def _make(self, params):
        return optim.SGD(params, lr=self._learning_rate, momentum=self.momentum,
                         nesterov=self.nesterov)


class Adam(Optimizer):
    """Adam with Keras's defaults (lr 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7); PyTorch's ε placement.

    Example: ``Adam(learning_rate=3e-4, amsgrad=True)``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _make(self, params):
        return optim.Adam(params, lr=self._learning_rate, betas=(self.beta_1, self.beta_2),
                          eps=self.epsilon, amsgrad=self.amsgrad)


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras default weight_decay 0.004), as ``cr.optim.AdamW``.

    Example: ``AdamW(learning_rate=1e-3, weight_decay=0.01)``.
    """

    _inner_decays = True

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, **kwargs)

    def _make(self, params):
        return optim.AdamW(params, lr=self._learning_rate, betas=(self.beta_1, self.beta_2),
                           eps=self.epsilon, weight_decay=self.weight_decay or 0.0,
                           amsgrad=self.amsgrad)


class RMSprop(Optimizer):
    """RMSprop with Keras's defaults (lr 0.001, ρ 0.9, ε 1e-7); ε added after the square root.

    Example: ``RMSprop(learning_rate=1e-3, momentum=0.9)``.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _make(self, params):
        return optim.RMSprop(params, lr=self._learning_rate, alpha=self.rho, eps=self.epsilon,
                             momentum=self.momentum, centered=self.centered)


class Adagrad(Optimizer):
    """Adagrad with Keras's defaults (lr 0.001, sums starting at 0.1, ε 1e-7).

    Example: ``Adagrad(learning_rate=0.01)``.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _make(self, params):
        return optim.Adagrad(params, lr=self._learning_rate, eps=self.epsilon,
                             initial_accumulator_value=self.initial_accumulator_value)


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm) with Keras's defaults (lr 0.001, ε 1e-7).

    Example: ``Adamax(learning_rate=2e-3)``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _make(self, params):
        return optim.Adamax(params, lr=self._learning_rate, betas=(self.beta_1, self.beta_2),
                            eps=self.epsilon)


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

    def build(self, params):
        """Instantiate the class with *params*; an optimizer given already built is kept as is."""
        return self if self.optimizer is not None else super().build(params)

    def _make(self, params):
        return self._cls(params)


NAMES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
         "adamax": Adamax}
CLASSES = {cls.__name__: cls for cls in NAMES.values()}


def get(identifier):
    """Resolve an optimizer: a name, a Keras-style optimizer (class or instance), or a ``cr.optim``
    optimizer (class or instance). The result is built by ``compile``.

    Example: ``get("adam").learning_rate == 0.001``; ``get("adm")`` raises
    "... Did you mean 'adam'? ...".
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return lookup("optimizer", identifier.lower() if identifier.lower() in NAMES
                      else identifier, {**NAMES, **CLASSES})()
    if isinstance(identifier, optim.Optimizer):
        return OptimWrapper(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, type) and issubclass(identifier, optim.Optimizer):
        return OptimWrapper(identifier)
    raise ConfigError(f"Could not interpret optimizer identifier: {identifier!r} (expected a name "
                      f"such as 'adam', a keras optimizer, or a cr.optim optimizer or class)")
