"""``SGD``: stochastic gradient descent with momentum, step for step as ``torch.optim.SGD``."""

from chainrule.errors import ConfigError, UsageError
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import fma, prepare_grad
from chainrule.optim.optimizer import _check_supported, _to_scalar, check_nonnegative


class SGD(ElementwiseOptimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum, as PyTorch's.

    Algorithm (γ lr, μ momentum, τ dampening, λ weight_decay), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if λ ≠ 0:   g ← g + λθ
        if μ ≠ 0:
            if t = 1:  b ← g                     (the buffer starts as the first gradient)
            else:      b ← μ b + (1 − τ) g
            if nesterov:  g ← g + μ b
            else:         g ← b
        θ ← θ − γ g

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate γ (default 1e-3, as PyTorch 2.13).
        momentum: μ (default 0).
        dampening: τ, damping of the gradient's share of the momentum (default 0).
        weight_decay: λ, the L2 penalty (default 0).
        nesterov: use Nesterov momentum (needs μ > 0 and τ = 0).
        maximize: ascend the objective instead of descending (default False).
        foreach: None or True lets a group be updated as one flat buffer; False keeps params apart.

    State per parameter (only when μ ≠ 0): ``momentum_buffer``.

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = cr.tensor([2.0])
        >>> opt.step()                     # w = 1 - 0.1 * 2 = 0.8
    """

    _has_step = False
    _per_element_state = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        defaults = self.check_hyperparameters({
            "lr": lr, "momentum": momentum, "dampening": dampening,
            "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
            "foreach": foreach, "differentiable": differentiable, "fused": fused,
        })
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        check_nonnegative(group["lr"], "learning rate")
        momentum = check_nonnegative(group["momentum"], "momentum value")
        check_nonnegative(group["weight_decay"], "weight_decay value")
        if group["nesterov"] and (momentum <= 0 or group["dampening"] != 0):
            raise ConfigError("Nesterov momentum requires a momentum and zero dampening")
        _check_supported("SGD", differentiable=group.get("differentiable"))
        if group.get("fused") and group.get("foreach"):
            raise UsageError("`fused` and `foreach` cannot be `True` together.")
        return dict(group)

    def _new_state(self, group, param):
        return {}

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        lr = float(_to_scalar(group["lr"]))
        momentum = float(group["momentum"])
        given = grad
        grad = prepare_grad(grad, param, group["maximize"], float(group["weight_decay"]), own_grad, work)
        if momentum != 0:
            buf = bufs.get("momentum_buffer")
            if buf is None:
                buf = bufs["momentum_buffer"] = grad.copy()
            else:
                xp.multiply(buf, momentum, out=buf)
                dampening = float(group["dampening"])
                if dampening == 0:
                    xp.add(buf, grad, out=buf)
                else:
                    fma(buf, grad, 1 - dampening, buf, work)
            if group["nesterov"]:
                out = grad if (own_grad or grad is not given) else work("g", grad.dtype)
                grad = fma(out, buf, momentum, grad, work)
            else:
                grad = buf
        fma(param, grad, -lr, param, work)
