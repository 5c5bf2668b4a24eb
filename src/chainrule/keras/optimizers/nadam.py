"""``Nadam``: Adam with Nesterov momentum, with Keras 3's momentum schedule and arithmetic.

Algorithm (γ learning_rate, β₁ beta_1, β₂ beta_2, ε epsilon; t = 1, 2, ... the step)::

    μ_t  ← β₁ (1 − ½ · 0.96^t)              μ_{t+1} ← β₁ (1 − ½ · 0.96^(t+1))
    Π_t  ← μ_1 · μ_2 ⋯ μ_t                  Π_{t+1} ← Π_t · μ_{t+1}
    m    ← m + (g − m)(1 − β₁)              v ← v + (g² − v)(1 − β₂)
    m̂    ← μ_{t+1} m / (1 − Π_{t+1}) + (1 − μ_t) g / (1 − Π_t)
    v̂    ← v / (1 − β₂^t)
    θ    ← θ − γ m̂ / (√v̂ + ε)

(PyTorch's ``NAdam`` decays the momentum as 0.96^(0.004 t), a far slower schedule, and so takes
different steps.) State per parameter: ``exp_avg`` (m) and ``exp_avg_sq`` (v); Π_t is a function
of t alone and is recomputed, so a saved state restores it exactly.

Example::

    >>> opt = Nadam(learning_rate=0.002)
"""

from chainrule.backend import namespace_of

from chainrule.errors import ConfigError
from chainrule.keras.optimizers.base import Optimizer
from chainrule.optim._elementwise import ElementwiseOptimizer


def _check_betas_eps(lr, betas, eps, where):
    if not 0.0 <= float(lr):
        raise ConfigError(f"Invalid learning rate: {lr}")
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ConfigError(f"{where}: invalid beta parameter at index {i}: {b}")
    if not 0.0 <= eps:
        raise ConfigError(f"Invalid epsilon value: {eps}")


class NadamUpdate(ElementwiseOptimizer):
    """The ``cr.optim`` optimizer behind :class:`Nadam`: Keras's update, step for step."""

    _per_element_state = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7, foreach=None):
        defaults = self.check_hyperparameters({"lr": lr, "betas": tuple(betas), "eps": eps,
                                               "foreach": foreach})
        self._products = {}
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        _check_betas_eps(group["lr"], group["betas"], group["eps"], "Nadam")
        return {**group, "betas": tuple(float(b) for b in group["betas"])}

    def _new_state(self, group, param):
        xp = namespace_of(param)
        return {"exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}

    def _mu_product(self, beta1, t):
        """Π_{i ≤ t} β₁ (1 − ½ · 0.96^i), the running product Keras keeps (memoised)."""
        products = self._products.setdefault(beta1, [1.0])
        while len(products) <= t:
            i = len(products)
            products.append(products[-1] * beta1 * (1.0 - 0.5 * 0.96 ** i))
        return products[t]

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        lr, (beta1, beta2), eps = float(group["lr"]), group["betas"], float(group["eps"])
        t = int(step)
        typ = param.dtype.type
        mu_t = beta1 * (1.0 - 0.5 * 0.96 ** t)
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        prod_t = self._mu_product(beta1, t)
        prod_next = prod_t * mu_next
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        tmp = work("tmp", param.dtype)
        xp.subtract(grad, m, tmp)
        xp.multiply(tmp, typ(1.0 - beta1), tmp)
        xp.add(m, tmp, m)
        xp.multiply(grad, grad, tmp)
        xp.subtract(tmp, v, tmp)
        xp.multiply(tmp, typ(1.0 - beta2), tmp)
        xp.add(v, tmp, v)
        m_hat = work("m_hat", param.dtype)
        xp.multiply(m, typ(mu_next), m_hat)
        xp.divide(m_hat, typ(1.0 - prod_next), m_hat)
        xp.multiply(grad, typ(1.0 - mu_t), tmp)
        xp.divide(tmp, typ(1.0 - prod_t), tmp)
        xp.add(m_hat, tmp, m_hat)
        xp.divide(v, typ(1.0 - beta2 ** t), tmp)
        xp.sqrt(tmp, tmp)
        xp.add(tmp, typ(eps), tmp)
        xp.multiply(m_hat, typ(lr), m_hat)
        xp.divide(m_hat, tmp, m_hat)
        xp.subtract(param, m_hat, param)


class Nadam(Optimizer):
    """Nadam with Keras's defaults (lr 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7) and Keras's update.

    Example: ``Nadam(learning_rate=2e-3)``; in ``compile``, ``"nadam"``.
    """

    _config_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        _check_betas_eps(0.0, (beta_1, beta_2), epsilon, "Nadam")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _make(self, params):
        return NadamUpdate(params, lr=self._initial_lr(), betas=(self.beta_1, self.beta_2),
                           eps=self.epsilon)
