"""``RMSprop``: division by a running root-mean-square of the gradient, as ``torch.optim.RMSprop``."""

from chainrule.backend import namespace_of
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import addcdiv_, addcmul_, fma, lerp_, prepare_grad
from chainrule.optim.optimizer import _check_supported, _to_scalar, check_nonnegative


class RMSprop(ElementwiseOptimizer):
    r"""RMSprop (Hinton), optionally centered and with momentum, with PyTorch's arithmetic.

    Algorithm (γ lr, α alpha, λ weight_decay, μ momentum, ε eps), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if λ ≠ 0:   g ← g + λθ
        v ← α v + (1 − α) g²                         (v₀ = 0)
        if centered:
            ḡ ← ḡ + (1 − α)(g − ḡ)                   (ḡ₀ = 0)
            a ← √(v − ḡ²) + ε
        else:
            a ← √v + ε
        if μ > 0:   b ← μ b + g / a;   θ ← θ − γ b    (b₀ = 0)
        else:       θ ← θ − γ g / a

    The square root is taken before ε is added (TensorFlow does the reverse).

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate γ (default 1e-2).
        alpha: smoothing constant α (default 0.99).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: λ, the L2 penalty (default 0).
        momentum: μ (default 0).
        centered: normalise by an estimate of the gradient's variance (default False).
        maximize: ascend the objective instead of descending (default False).
        foreach: None or True lets a group be updated as one flat buffer; False keeps params apart.

    State per parameter: ``step``, ``square_avg``, and ``momentum_buffer`` (μ > 0) and
    ``grad_avg`` (centered).

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.RMSprop([w], lr=0.01)
        >>> w.grad = cr.tensor([1.0])
        >>> opt.step()                     # w = 1 - 0.01 / (sqrt(0.01) + 1e-8) = 0.9
    """

    _per_element_state = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        defaults = self.check_hyperparameters({
            "lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
            "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable,
        })
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        check_nonnegative(group["lr"], "learning rate")
        check_nonnegative(group["eps"], "epsilon value")
        check_nonnegative(group["momentum"], "momentum value")
        check_nonnegative(group["weight_decay"], "weight_decay value")
        check_nonnegative(group["alpha"], "alpha value")
        _check_supported("RMSprop", capturable=group.get("capturable"),
                         differentiable=group.get("differentiable"))
        return dict(group)

    def _new_state(self, group, param):
        xp = namespace_of(param)
        state = {"square_avg": xp.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(param)
        return state

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        lr = float(_to_scalar(group["lr"]))
        alpha = float(group["alpha"])
        grad = prepare_grad(grad, param, group["maximize"], float(group["weight_decay"]), own_grad, work)
        square_avg = bufs["square_avg"]
        xp.multiply(square_avg, alpha, out=square_avg)
        addcmul_(square_avg, grad, grad, 1 - alpha, work)
        avg = work("avg", param.dtype)
        if group["centered"]:
            grad_avg = bufs["grad_avg"]
            lerp_(grad_avg, grad, 1 - alpha, work)
            xp.copyto(avg, square_avg)
            addcmul_(avg, grad_avg, grad_avg, -1, work)
            xp.sqrt(avg, out=avg)
        else:
            xp.sqrt(square_avg, out=avg)
        xp.add(avg, float(group["eps"]), out=avg)
        if group["momentum"] > 0:
            buf = bufs["momentum_buffer"]
            xp.multiply(buf, float(group["momentum"]), out=buf)
            addcdiv_(buf, grad, avg, 1, work)
            fma(param, buf, -lr, param, work)
        else:
            addcdiv_(param, grad, avg, -lr, work)
