"""``Rprop``: steps from gradient signs alone, step for step as ``torch.optim.Rprop``."""
import numbers

from chainrule.backend import namespace_of
from chainrule.errors import ConfigError
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import addcmul_
from chainrule.optim.optimizer import _check_supported, _to_scalar, check_nonnegative


def _pair(value, name):
    value = tuple(_to_scalar(v) for v in value)
    if len(value) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                  for v in value):
        raise ConfigError(f"{name} must be a pair of numbers, got {value}")
    return value


class Rprop(ElementwiseOptimizer):
    r"""Resilient backpropagation (Riedmiller & Braun, 1993), with PyTorch's arithmetic.

    Algorithm (γ lr, η₋ η₊ etas, Γmin Γmax step_sizes), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        s ← g · g_prev                                (g_prev₀ = 0; Γ₀ = γ everywhere)
        Γ ← clamp(Γ · (η₊ if s > 0, η₋ if s < 0, 1 if s = 0), Γmin, Γmax)
        g ← 0 where s < 0                             (no step after a sign change)
        θ ← θ − sign(g) · Γ
        g_prev ← g

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: the initial step size γ (default 1e-2).
        etas: (η₋, η₊), with 0 < η₋ < 1 < η₊ (default (0.5, 1.2)).
        step_sizes: (Γmin, Γmax) (default (1e-6, 50)).
        foreach: None or True lets a group be updated as one flat buffer; False keeps params apart.
        maximize: ascend the objective instead of descending (default False).

    State per parameter: ``step``, ``prev`` (g_prev), ``step_size`` (Γ).

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0, 1.0]))
        >>> opt = cr.optim.Rprop([w], lr=0.1)
        >>> w.grad = cr.tensor([3.0, -0.01])
        >>> opt.step()                     # each element moves by lr against its gradient's sign
        >>> w.detach().tolist()
        [0.8999999761581421, 1.100000023841858]
    """

    _per_element_state = ("prev", "step_size")

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        defaults = self.check_hyperparameters({
            "lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable, "capturable": capturable,
        })
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        check_nonnegative(group["lr"], "learning rate")
        etas = _pair(group["etas"], "etas")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ConfigError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        step_sizes = _pair(group["step_sizes"], "step_sizes")
        _check_supported("Rprop", capturable=group.get("capturable"),
                         differentiable=group.get("differentiable"))
        return {**group, "etas": etas, "step_sizes": step_sizes}

    def _new_state(self, group, param):
        xp = namespace_of(param)
        return {"prev": xp.zeros_like(param),
                "step_size": xp.full_like(param, float(_to_scalar(group["lr"])))}

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        etaminus, etaplus = (float(e) for e in group["etas"])
        lo, hi = (float(s) for s in group["step_sizes"])
        prev, step_size = bufs["prev"], bufs["step_size"]
        if group["maximize"]:
            grad = xp.negative(grad, out=grad if own_grad else work("g", grad.dtype))
        product = xp.multiply(grad, prev, out=work("sign", param.dtype))
        flipped = product < 0
        factor = xp.where(product > 0, etaplus, xp.where(flipped, etaminus, 1.0))
        xp.multiply(step_size, factor.astype(param.dtype, copy=False), out=step_size)
        xp.minimum(xp.maximum(step_size, lo, out=step_size), hi, out=step_size)
        xp.copyto(prev, grad)
        prev[flipped] = 0
        direction = xp.sign(prev, out=work("dir", param.dtype))
        addcmul_(param, direction, step_size, -1, work)
