"""``Lion``: the sign of an interpolated momentum as the step (Chen et al., 2023), as Keras 3's.

Algorithm (γ learning_rate, β₁ beta_1, β₂ beta_2)::

    θ ← θ − γ · sign(β₁ m + (1 − β₁) g)
    m ← β₂ m + (1 − β₂) g

Every element moves by exactly γ (or 0), so a good γ is 3-10 times smaller than AdamW's and its
weight decay 3-10 times larger. State per parameter: ``exp_avg`` (m).

Example::

    >>> opt = Lion(learning_rate=1e-4, weight_decay=0.01)
"""

from chainrule.backend import namespace_of

from chainrule.errors import ConfigError
from chainrule.keras.optimizers.base import Optimizer
from chainrule.optim._elementwise import ElementwiseOptimizer


def _check(lr, beta_1, beta_2):
    if not 0.0 <= float(lr):
        raise ConfigError(f"Invalid learning rate: {lr}")
    if not 0.0 < beta_1 <= 1.0:
        raise ConfigError(f"Argument `beta_1` must be in the [0, 1] range. Otherwise, the "
                          f"optimizer degenerates to SignSGD. Received: beta_1={beta_1}.")
    if not 0.0 <= beta_2 <= 1.0:
        raise ConfigError(f"Lion: argument `beta_2` must be in the [0, 1] range. Received: "
                          f"beta_2={beta_2}.")


class LionUpdate(ElementwiseOptimizer):
    """The ``cr.optim`` optimizer behind :class:`Lion`: Keras's update, step for step."""

    _per_element_state = ("exp_avg",)
    _has_step = False

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), foreach=None):
        defaults = self.check_hyperparameters({"lr": lr, "betas": tuple(betas),
                                               "foreach": foreach})
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        beta_1, beta_2 = group["betas"]
        _check(group["lr"], beta_1, beta_2)
        return {**group, "betas": (float(beta_1), float(beta_2))}

    def _new_state(self, group, param):
        xp = namespace_of(param)
        return {"exp_avg": xp.zeros_like(param)}

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        typ = param.dtype.type
        lr = typ(group["lr"])
        beta1, beta2 = (typ(b) for b in group["betas"])
        m = bufs["exp_avg"]
        tmp, mix = work("tmp", param.dtype), work("mix", param.dtype)
        xp.multiply(m, beta1, mix)
        xp.multiply(grad, typ(1) - beta1, tmp)
        xp.add(mix, tmp, mix)
        xp.sign(mix, mix)
        xp.multiply(mix, lr, mix)
        xp.subtract(param, mix, param)
        xp.multiply(m, beta2, m)
        xp.multiply(grad, typ(1) - beta2, tmp)
        xp.add(m, tmp, m)


class Lion(Optimizer):
    """Lion with Keras's defaults (lr 0.001, β₁ 0.9, β₂ 0.99).

    Example: ``Lion(learning_rate=1e-4)``; in ``compile``, ``"lion"``.
    """

    _config_keys = ("beta_1", "beta_2")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        _check(0.0, beta_1, beta_2)
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def _make(self, params):
        return LionUpdate(params, lr=self._initial_lr(), betas=(self.beta_1, self.beta_2))
