"""``Adagrad``: per-element learning rates from the summed squared gradients, as ``torch.optim.Adagrad``."""

from chainrule.backend import namespace_of
from chainrule.errors import UsageError
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import addcdiv_, addcmul_, prepare_grad
from chainrule.optim.optimizer import _check_supported, _to_scalar, check_nonnegative


class Adagrad(ElementwiseOptimizer):
    r"""Adagrad (Duchi et al., 2011), with PyTorch's options and arithmetic.

    Algorithm (γ lr, η lr_decay, λ weight_decay, τ initial_accumulator_value, ε eps),
    for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if λ ≠ 0:   g ← g + λθ
        γ̃ ← γ / (1 + (t − 1) η)
        s ← s + g²                                   (s₀ = τ)
        θ ← θ − γ̃ · g / (√s + ε)

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate γ (default 1e-2).
        lr_decay: η (default 0).
        weight_decay: λ, the L2 penalty (default 0).
        initial_accumulator_value: τ, the starting value of the sums (default 0).
        eps: ε (default 1e-10).
        foreach: None or True lets a group be updated as one flat buffer; False keeps params apart.
        maximize: ascend the objective instead of descending (default False).

    State per parameter, made at construction as in PyTorch: ``step`` and ``sum``.

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.Adagrad([w], lr=0.1)
        >>> w.grad = cr.tensor([2.0])
        >>> opt.step()                     # w = 1 - 0.1 * 2 / sqrt(4) = 0.9
    """

    _per_element_state = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = self.check_hyperparameters({
            "lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable, "fused": fused,
        })
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(group, p, self.state[p])

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        check_nonnegative(group["lr"], "learning rate")
        check_nonnegative(group["lr_decay"], "lr_decay value")
        check_nonnegative(group["weight_decay"], "weight_decay value")
        check_nonnegative(group["initial_accumulator_value"], "initial_accumulator_value value")
        check_nonnegative(group["eps"], "epsilon value")
        _check_supported("Adagrad", differentiable=group.get("differentiable"))
        if group.get("fused") and group.get("foreach"):
            raise UsageError("`fused` and `foreach` cannot be `True` together.")
        return dict(group)

    def _new_state(self, group, param):
        xp = namespace_of(param)
        return {"sum": xp.full_like(param, self.defaults["initial_accumulator_value"])}

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        lr = float(_to_scalar(group["lr"]))
        grad = prepare_grad(grad, param, group["maximize"], float(group["weight_decay"]), own_grad, work)
        clr = lr / (1 + (step - 1) * float(group["lr_decay"]))
        state_sum = bufs["sum"]
        addcmul_(state_sum, grad, grad, 1, work)
        std = xp.sqrt(state_sum, out=work("std", param.dtype))
        xp.add(std, float(group["eps"]), out=std)
        addcdiv_(param, grad, std, -clr, work)
