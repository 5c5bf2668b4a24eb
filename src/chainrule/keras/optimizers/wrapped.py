"""Keras optimizers whose update is ``cr.optim``'s: SGD, Adam, AdamW, RMSprop, Adagrad, Adamax.

Keras's names, arguments and defaults (``epsilon=1e-7``, ``"sgd"`` at 0.01, ``"rmsprop"`` with
ρ = 0.9, ``"adagrad"`` starting its sums at 0.1, ``"adamw"`` with weight decay 0.004); the updates
are PyTorch's, which differ from Keras's only in where ε enters:

* Adam/AdamW: PyTorch divides by √v̂ + ε; Keras by √v̂ + ε·√(1 − β₂ᵗ) (ε "hat").
* RMSprop and Adagrad: PyTorch divides by √v + ε; Keras by √(v + ε).
* Adamax: PyTorch adds ε inside the max, u = max(β₂u, |g| + ε); Keras adds it to u afterwards.

With ε = 1e-7 these differ only while the squared-gradient averages are tiny.

Example: ``Adam(learning_rate=3e-4)`` or, in ``compile``, ``"adam"``.
"""
from chainrule import optim
from chainrule.errors import ConfigError
from chainrule.keras.optimizers.base import Optimizer


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum (Keras default lr 0.01).

    Example: ``SGD(learning_rate=0.1, momentum=0.9, nesterov=True)``.
    """

    _config_keys = ("momentum", "nesterov")

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"SGD: momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = momentum, nesterov

    def _make(self, params):
        return optim.SGD(params, lr=self._initial_lr(), momentum=self.momentum,
                         nesterov=self.nesterov)


class Adam(Optimizer):
    """Adam with Keras's defaults (lr 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7); PyTorch's ε placement.

    Example: ``Adam(learning_rate=3e-4, amsgrad=True)``.
    """

    _config_keys = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _make(self, params):
        return optim.Adam(params, lr=self._initial_lr(), betas=(self.beta_1, self.beta_2),
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
        return optim.AdamW(params, lr=self._initial_lr(), betas=(self.beta_1, self.beta_2),
                           eps=self.epsilon, weight_decay=self.weight_decay or 0.0,
                           amsgrad=self.amsgrad)


class RMSprop(Optimizer):
    """RMSprop with Keras's defaults (lr 0.001, ρ 0.9, ε 1e-7); ε added after the square root.

    Example: ``RMSprop(learning_rate=1e-3, momentum=0.9)``.
    """

    _config_keys = ("rho", "momentum", "epsilon", "centered")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _make(self, params):
        return optim.RMSprop(params, lr=self._initial_lr(), alpha=self.rho, eps=self.epsilon,
                             momentum=self.momentum, centered=self.centered)


class Adagrad(Optimizer):
    """Adagrad with Keras's defaults (lr 0.001, sums starting at 0.1, ε 1e-7).

    Example: ``Adagrad(learning_rate=0.01)``.
    """

    _config_keys = ("initial_accumulator_value", "epsilon")

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _make(self, params):
        return optim.Adagrad(params, lr=self._initial_lr(), eps=self.epsilon,
                             initial_accumulator_value=self.initial_accumulator_value)


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm) with Keras's defaults (lr 0.001, ε 1e-7).

    Example: ``Adamax(learning_rate=2e-3)``.
    """

    _config_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _make(self, params):
        return optim.Adamax(params, lr=self._initial_lr(), betas=(self.beta_1, self.beta_2),
                            eps=self.epsilon)
