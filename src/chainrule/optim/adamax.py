"""``Adamax``: Adam with an infinity-norm second moment, step for step as ``torch.optim.Adamax``."""

from chainrule.backend import namespace_of
from chainrule.optim._adam_family import adam_moments_, check_adam_group
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import addcdiv_


class Adamax(ElementwiseOptimizer):
    r"""Adamax (Kingma & Ba, 2015, section 7), with PyTorch's arithmetic.

    Algorithm (γ lr, β₁ β₂ betas, λ weight_decay, ε eps), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if λ ≠ 0:   g ← g + λθ
        m ← m + (1 − β₁)(g − m)                      (m₀ = 0)
        u ← max(β₂ u, |g| + ε)                       (u₀ = 0)
        θ ← θ − (γ / (1 − β₁ᵗ)) · m / u

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate γ (default 2e-3).
        betas: (β₁, β₂) (default (0.9, 0.999)).
        eps: ε (default 1e-8).
        weight_decay: λ, the L2 penalty (default 0).
        foreach: None or True lets a group be updated as one flat buffer; False keeps params apart.
        maximize: ascend the objective instead of descending (default False).

    State per parameter: ``step``, ``exp_avg``, ``exp_inf``.

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.Adamax([w], lr=0.002)
        >>> w.grad = cr.tensor([3.0])
        >>> opt.step()                     # first step moves w by about lr: 0.998
    """

    _per_element_state = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        defaults = self.check_hyperparameters({
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
            "capturable": capturable,
        })
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        return check_adam_group(group, "Adamax")

    def _new_state(self, group, param):
        xp = namespace_of(param)
        return {"exp_avg": xp.zeros_like(param), "exp_inf": xp.zeros_like(param)}

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        lr, beta1, beta2, grad = adam_moments_(group, param, grad, bufs, own_grad, work)
        exp_avg, exp_inf = bufs["exp_avg"], bufs["exp_inf"]
        xp.multiply(exp_inf, beta2, out=exp_inf)
        norm = xp.abs(grad, out=work("abs", param.dtype))
        xp.add(norm, float(group["eps"]), out=norm)
        xp.maximum(exp_inf, norm, out=exp_inf)
        clr = lr / (1 - beta1 ** step)
        addcdiv_(param, exp_avg, exp_inf, -clr, work)
