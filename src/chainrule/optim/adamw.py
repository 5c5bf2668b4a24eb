"""``AdamW``: Adam with decoupled weight decay, step for step as ``torch.optim.AdamW``."""
from chainrule.optim.adam import Adam


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam whose weight decay shrinks θ directly.

    Algorithm (γ lr, β₁ β₂ betas, λ weight_decay, ε eps), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        θ ← θ · (1 − γλ)
        m ← m + (1 − β₁)(g − m)
        v ← β₂ v + (1 − β₂) g²
        if amsgrad:  v_max ← max(v_max, v);  v̂ ← v_max  else  v̂ ← v
        θ ← θ − (γ / (1 − β₁ᵗ)) · m / (√v̂ / √(1 − β₂ᵗ) + ε)

    Arguments as :class:`Adam`, except ``weight_decay`` defaults to 1e-2 and is always decoupled.

    Example::

        >>> w = cr.nn.Parameter(cr.ones(3))
        >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.1)
        >>> w.grad = cr.zeros(3)
        >>> opt.step()                     # w shrinks to 0.99, the gradient adds nothing
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
