"""``NAdam``: Adam with Nesterov momentum, step for step as ``torch.optim.NAdam``."""
from chainrule.backend import namespace_of
from chainrule.optim._adam_family import adam_moments_, check_adam_group
from chainrule.optim._kernels import addcdiv_
from chainrule.optim._scalar_state import ScalarStateOptimizer, scalar_state
from chainrule.optim.optimizer import _to_scalar, check_nonnegative


class NAdam(ScalarStateOptimizer):
    r"""NAdam (Dozat, 2016), with PyTorch's momentum-decay schedule, options and arithmetic.

    Algorithm (γ lr, β₁ β₂ betas, λ weight_decay, ψ momentum_decay, ε eps), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if λ ≠ 0:
            if decoupled_weight_decay:  θ ← θ · (1 − γλ)
            else:                       g ← g + λθ
        μₜ ← β₁ (1 − ½ · 0.96^(tψ));   μₜ₊₁ ← β₁ (1 − ½ · 0.96^((t+1)ψ))
        Πₜ ← Πₜ₋₁ · μₜ                              (mu_product, Π₀ = 1)
        m ← m + (1 − β₁)(g − m);   v ← β₂ v + (1 − β₂) g²
        d ← √(v / (1 − β₂ᵗ)) + ε
        θ ← θ − γ (1 − μₜ)/(1 − Πₜ) · g/d − γ μₜ₊₁/(1 − Πₜ μₜ₊₁) · m/d

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate γ (default 2e-3).
        betas: (β₁, β₂) (default (0.9, 0.999)).
        eps: ε (default 1e-8).
        weight_decay: λ (default 0).
        momentum_decay: ψ (default 4e-3).
        decoupled_weight_decay: apply weight decay to θ directly, as AdamW (NAdamW).
        foreach: accepted; the per-parameter loop always runs (see ``_scalar_state``).
        maximize: ascend the objective instead of descending (default False).

    State per parameter (as PyTorch): ``step``, ``mu_product`` (0-d), ``exp_avg``, ``exp_avg_sq``.

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.NAdam([w], lr=0.1)
        >>> w.grad = cr.tensor([1.0])
        >>> opt.step()
        >>> round(float(w.detach()), 4)
        0.8944
    """

    _per_element_state = ("exp_avg", "exp_avg_sq")
    _scalar_keys = ("mu_product",)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        defaults = self.check_hyperparameters({
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize, "foreach": foreach, "capturable": capturable,
            "differentiable": differentiable,
        })
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        group = check_adam_group(group, "NAdam")
        check_nonnegative(group["momentum_decay"], "momentum_decay value")
        return group

    def _new_state(self, group, param):
        xp = namespace_of(param)
        return {"mu_product": scalar_state(param, 1.0), "exp_avg": xp.zeros_like(param),
                "exp_avg_sq": xp.zeros_like(param)}

    def _advance(self, group, scalars, step):
        beta1 = float(_to_scalar(group["betas"][0]))
        psi = float(group["momentum_decay"])
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        product = scalars["mu_product"]
        namespace_of(product).multiply(product, mu, out=product)
        return step, mu, mu_next, float(product)

    def _apply(self, group, param, grad, bufs, coeffs, own_grad, work):
        xp = work.xp
        step, mu, mu_next, mu_product = coeffs
        lr, _, beta2, grad = adam_moments_(group, param, grad, bufs, own_grad, work)
        exp_avg, exp_avg_sq = bufs["exp_avg"], bufs["exp_avg_sq"]
        denom = xp.divide(exp_avg_sq, 1 - beta2 ** step, out=work("denom", param.dtype))
        xp.sqrt(denom, out=denom)
        xp.add(denom, float(group["eps"]), out=denom)
        mu_product_next = mu_product * mu_next
        addcdiv_(param, grad, denom, -lr * (1.0 - mu) / (1.0 - mu_product), work)
        addcdiv_(param, exp_avg, denom, (-lr * mu_next) / (1.0 - mu_product_next), work)
