"""``Adadelta``: per-element steps scaled by the ratio of two running RMS values (Keras 3's).

Algorithm (γ learning_rate, ρ rho, ε epsilon)::

    a  ← ρ a + (1 − ρ) g²                       (running mean of squared gradients)
    Δ  ← −√(d + ε) · g / √(a + ε)               (d: running mean of squared updates)
    d  ← ρ d + (1 − ρ) Δ²
    θ  ← θ + γ Δ

the same update as ``torch.optim.Adadelta`` (Keras's defaults differ: γ = 0.001, ρ = 0.95,
ε = 1e-7; Zeiler's paper uses γ = 1). State per parameter: ``square_avg`` (a) and
``acc_delta`` (d).

Example::

    >>> opt = Adadelta(learning_rate=1.0)
"""

from chainrule.backend import namespace_of

from chainrule.errors import ConfigError
from chainrule.keras.optimizers.base import Optimizer
from chainrule.optim._elementwise import ElementwiseOptimizer


def _check(lr, rho, eps):
    if not 0.0 <= float(lr):
        raise ConfigError(f"Invalid learning rate: {lr}")
    if not 0.0 <= rho <= 1.0:
        raise ConfigError(f"Adadelta: invalid rho value: {rho} (expected a float in [0, 1])")
    if not 0.0 <= eps:
        raise ConfigError(f"Invalid epsilon value: {eps}")


class AdadeltaUpdate(ElementwiseOptimizer):
    """The ``cr.optim`` optimizer behind :class:`Adadelta`: Keras's update, step for step."""

    _per_element_state = ("square_avg", "acc_delta")
    _has_step = False

    def __init__(self, params, lr=1e-3, rho=0.95, eps=1e-7, foreach=None):
        defaults = self.check_hyperparameters({"lr": lr, "rho": rho, "eps": eps,
                                               "foreach": foreach})
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        _check(group["lr"], group["rho"], group["eps"])
        return dict(group)

    def _new_state(self, group, param):
        xp = namespace_of(param)
        return {"square_avg": xp.zeros_like(param), "acc_delta": xp.zeros_like(param)}

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        typ = param.dtype.type
        lr, rho, eps = typ(group["lr"]), typ(group["rho"]), typ(group["eps"])
        a, d = bufs["square_avg"], bufs["acc_delta"]
        tmp, delta = work("tmp", param.dtype), work("delta", param.dtype)
        xp.multiply(a, rho, a)
        xp.multiply(grad, grad, tmp)
        xp.multiply(tmp, typ(1) - rho, tmp)
        xp.add(a, tmp, a)
        xp.add(d, eps, delta)
        xp.sqrt(delta, delta)
        xp.multiply(delta, grad, delta)
        xp.add(a, eps, tmp)
        xp.sqrt(tmp, tmp)
        xp.divide(delta, tmp, delta)                 # −Δ
        xp.multiply(d, rho, d)
        xp.multiply(delta, delta, tmp)
        xp.multiply(tmp, typ(1) - rho, tmp)
        xp.add(d, tmp, d)
        xp.multiply(delta, lr, delta)
        xp.subtract(param, delta, param)


class Adadelta(Optimizer):
    """Adadelta with Keras's defaults (lr 0.001, ρ 0.95, ε 1e-7).

    Example: ``Adadelta(learning_rate=1.0)``; in ``compile``, ``"adadelta"``.
    """

    _config_keys = ("rho", "epsilon")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        _check(0.0, rho, epsilon)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _make(self, params):
        return AdadeltaUpdate(params, lr=self._initial_lr(), rho=self.rho, eps=self.epsilon)
