"""``Adadelta``: unit-corrected adaptive steps, step for step as ``torch.optim.Adadelta``."""
from chainrule.backend import namespace_of
from chainrule.errors import ConfigError
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import addcmul_, fma, prepare_grad
from chainrule.optim.optimizer import _check_supported, _to_scalar, check_nonnegative


class Adadelta(ElementwiseOptimizer):
    r"""Adadelta (Zeiler, 2012), with PyTorch's options and arithmetic.

    Algorithm (γ lr, ρ rho, λ weight_decay, ε eps), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if λ ≠ 0:   g ← g + λθ
        v ← ρ v + (1 − ρ) g²                          (v₀ = 0)
        Δ ← √(u + ε) / √(v + ε) · g                   (u₀ = 0)
        u ← ρ u + (1 − ρ) Δ²
        θ ← θ − γ Δ

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate γ, a scale on Δ (default 1.0).
        rho: ρ, the decay of both running averages (default 0.9).
        eps: ε (default 1e-6).
        weight_decay: λ (default 0).
        foreach: None or True lets a group be updated as one flat buffer; False keeps params apart.
        maximize: ascend the objective instead of descending (default False).

    State per parameter: ``step``, ``square_avg`` (v), ``acc_delta`` (u).

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.Adadelta([w])
        >>> w.grad = cr.tensor([1.0])
        >>> opt.step()                     # Δ = √1e-6 / √(0.1 + 1e-6) ≈ 0.00316
        >>> round(float(w.detach()), 5)
        0.99684
    """

    _per_element_state = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        defaults = self.check_hyperparameters({
            "lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
            "maximize": maximize, "capturable": capturable, "foreach": foreach,
            "differentiable": differentiable,
        })
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        check_nonnegative(group["lr"], "learning rate")
        rho = _to_scalar(group["rho"])
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not 0.0 <= rho <= 1.0:
            raise ConfigError(f"Invalid rho value: {rho}")
        check_nonnegative(group["eps"], "epsilon value")
        check_nonnegative(group["weight_decay"], "weight_decay value")
        _check_supported("Adadelta", capturable=group.get("capturable"),
                         differentiable=group.get("differentiable"))
        return dict(group)

    def _new_state(self, group, param):
        xp = namespace_of(param)
        return {"square_avg": xp.zeros_like(param), "acc_delta": xp.zeros_like(param)}

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        lr, rho, eps = float(_to_scalar(group["lr"])), float(group["rho"]), float(group["eps"])
        grad = prepare_grad(grad, param, group["maximize"], float(group["weight_decay"]),
                            own_grad, work)
        square_avg, acc_delta = bufs["square_avg"], bufs["acc_delta"]
        xp.multiply(square_avg, rho, out=square_avg)
        addcmul_(square_avg, grad, grad, 1 - rho, work)
        std = xp.add(square_avg, eps, out=work("std", param.dtype))
        xp.sqrt(std, out=std)
        delta = xp.add(acc_delta, eps, out=work("delta", param.dtype))
        xp.sqrt(delta, out=delta)
        xp.divide(delta, std, out=delta)
        xp.multiply(delta, grad, out=delta)
        xp.multiply(acc_delta, rho, out=acc_delta)
        addcmul_(acc_delta, delta, delta, 1 - rho, work)
        fma(param, delta, -lr, param, work)
