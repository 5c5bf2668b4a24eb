"""``RAdam``: Adam with a rectified adaptive learning rate, step for step as ``torch.optim.RAdam``."""
from chainrule.backend import namespace_of
from chainrule.optim._adam_family import adam_moments_, check_adam_group
from chainrule.optim._elementwise import ElementwiseOptimizer


class RAdam(ElementwiseOptimizer):
    r"""RAdam (Liu et al., 2020), with PyTorch's options and arithmetic.

    Algorithm (γ lr, β₁ β₂ betas, λ weight_decay, ε eps), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if λ ≠ 0:
            if decoupled_weight_decay:  θ ← θ · (1 − γλ)
            else:                       g ← g + λθ
        m ← m + (1 − β₁)(g − m);   v ← β₂ v + (1 − β₂) g²
        m̂ ← m / (1 − β₁ᵗ)
        ρ∞ ← 2/(1 − β₂) − 1;   ρₜ ← ρ∞ − 2t β₂ᵗ/(1 − β₂ᵗ)
        if ρₜ > 5:
            l ← √(1 − β₂ᵗ) / (√v + ε)
            r ← √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))
            θ ← θ − γ m̂ l r
        else:
            θ ← θ − γ m̂

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate γ (default 1e-3).
        betas: (β₁, β₂) (default (0.9, 0.999)).
        eps: ε (default 1e-8).
        weight_decay: λ (default 0).
        decoupled_weight_decay: apply weight decay to θ directly, as AdamW (default False).
        foreach: None or True lets a group be updated as one flat buffer; False keeps params apart.
        maximize: ascend the objective instead of descending (default False).

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``.

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.RAdam([w], lr=0.1)
        >>> w.grad = cr.tensor([2.0])
        >>> opt.step()                     # not yet rectified: w = 1 - 0.1 * 2 = 0.8
    """

    _per_element_state = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        defaults = self.check_hyperparameters({
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled_weight_decay, "foreach": foreach,
            "maximize": maximize, "capturable": capturable, "differentiable": differentiable,
        })
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        return check_adam_group(group, "RAdam")

    def _new_state(self, group, param):
        xp = namespace_of(param)
        return {"exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        lr, beta1, beta2, grad = adam_moments_(group, param, grad, bufs, own_grad, work)
        exp_avg, exp_avg_sq = bufs["exp_avg"], bufs["exp_avg_sq"]
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        update = xp.divide(exp_avg, bias_correction1, out=work("update", param.dtype))
        xp.multiply(update, lr, out=update)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            # PyTorch's order: ((m̂ · γ) · (√(1 − β₂ᵗ) · 1/(√v + ε))) · r
            adaptive = xp.sqrt(exp_avg_sq, out=work("adaptive", param.dtype))
            xp.add(adaptive, float(group["eps"]), out=adaptive)
            xp.reciprocal(adaptive, out=adaptive)
            xp.multiply(adaptive, bias_correction2 ** 0.5, out=adaptive)
            xp.multiply(update, adaptive, out=update)
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            xp.multiply(update, rect, out=update)
        xp.subtract(param, update, out=param)
