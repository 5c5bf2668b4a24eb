"""``Adam``: adaptive moment estimation, step for step as ``torch.optim.Adam``."""
import numbers


from chainrule.backend import namespace_of

from chainrule.errors import ConfigError, UsageError
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import addcdiv_, addcmul_, lerp_, prepare_grad
from chainrule.optim.optimizer import _check_supported, _to_scalar, check_nonnegative


def check_adam_hyperparameters(lr, betas, eps, weight_decay):
    """Validate the hyperparameters the Adam family shares (PyTorch's messages); return betas
    as a tuple of two numbers."""
    check_nonnegative(lr, "learning rate")
    check_nonnegative(eps, "epsilon value")
    betas = tuple(_to_scalar(b) for b in betas)
    if len(betas) != 2 or not all(isinstance(b, numbers.Real) for b in betas):
        raise ConfigError(f"betas must be a pair of floats, got {betas}")
    if not 0.0 <= betas[0] < 1.0:
        raise ConfigError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ConfigError(f"Invalid beta parameter at index 1: {betas[1]}")
    check_nonnegative(weight_decay, "weight_decay value")
    return betas


class Adam(ElementwiseOptimizer):
    r"""Adam (Kingma & Ba, 2015), with PyTorch's options and its exact arithmetic.

    Algorithm (γ lr, β₁ β₂ betas, λ weight_decay, ε eps), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if λ ≠ 0:
            if decoupled_weight_decay:  θ ← θ · (1 − γλ)        (this is AdamW)
            else:                       g ← g + λθ
        m ← m + (1 − β₁)(g − m)                     (lerp; m₀ = 0)
        v ← β₂ v + (1 − β₂) g²                      (v₀ = 0)
        if amsgrad:  v_max ← max(v_max, v);  v̂ ← v_max  else  v̂ ← v
        denom ← √v̂ / √(1 − β₂ᵗ) + ε
        θ ← θ − (γ / (1 − β₁ᵗ)) · m / denom

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate γ (default 1e-3).
        betas: (β₁, β₂), the decay rates of the two moment averages (default (0.9, 0.999)).
        eps: ε added to the denominator (default 1e-8).
        weight_decay: λ, the L2 penalty (default 0).
        amsgrad: use the AMSGrad variant, dividing by the running maximum of v (default False).
        maximize: ascend the objective instead of descending (default False).
        foreach: None or True lets a group's parameters be packed into one flat buffer and
            updated with a few NumPy calls (bit-identical results); False keeps them apart.
        decoupled_weight_decay: apply weight decay to θ directly, as AdamW (default False).

    State per parameter (as PyTorch): ``step`` (0-d tensor), ``exp_avg``, ``exp_avg_sq`` and,
    with amsgrad, ``max_exp_avg_sq``.

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0, -2.0]))
        >>> opt = cr.optim.Adam([w], lr=0.1)
        >>> w.grad = cr.tensor([0.5, 0.5])
        >>> opt.step()                     # each element moves by lr on the first step
        >>> w
        Parameter containing:
        tensor([ 0.9000, -2.1000], requires_grad=True)
    """

    _per_element_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        defaults = self.check_hyperparameters({
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
            "capturable": capturable, "differentiable": differentiable, "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        })
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        betas = check_adam_hyperparameters(group["lr"], group["betas"], group["eps"],
                                           group["weight_decay"])
        _check_supported(cls.__name__, capturable=group.get("capturable"),
                         differentiable=group.get("differentiable"))
        if group.get("fused") and group.get("foreach"):
            raise UsageError("`fused` and `foreach` cannot be `True` together.")
        return {**group, "betas": betas}

    def _new_state(self, group, param):
        xp = namespace_of(param)
        state = {"exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(param)
        return state

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        xp = work.xp
        lr = group["lr"]
        if type(lr) is not float:
            lr = float(_to_scalar(lr))
        beta1, beta2 = group["betas"]
        if type(beta1) is not float or type(beta2) is not float:
            beta1, beta2 = float(_to_scalar(beta1)), float(_to_scalar(beta2))
        weight_decay = float(group["weight_decay"])
        exp_avg, exp_avg_sq = bufs["exp_avg"], bufs["exp_avg_sq"]
        # coefficients in [0, 1], given in the arrays' dtype: the rounding NumPy applies to a
        # Python float anyway, done once here (a ufunc takes a same-dtype scalar faster)
        typ = param.dtype.type

        if weight_decay != 0 and group["decoupled_weight_decay"]:
            grad = prepare_grad(grad, param, group["maximize"], 0, own_grad, work)
            xp.multiply(param, 1 - lr * weight_decay, out=param)
        else:
            grad = prepare_grad(grad, param, group["maximize"], weight_decay, own_grad, work)

        lerp_(exp_avg, grad, 1 - beta1, work)
        xp.multiply(exp_avg_sq, typ(beta2), exp_avg_sq)
        addcmul_(exp_avg_sq, grad, grad, typ(1 - beta2), work)

        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5

        if group["amsgrad"]:
            max_sq = bufs["max_exp_avg_sq"]
            xp.maximum(max_sq, exp_avg_sq, out=max_sq)
            second = max_sq
        else:
            second = exp_avg_sq
        denom = xp.sqrt(second, work("denom", param.dtype))
        xp.divide(denom, typ(bias_correction2_sqrt), denom)
        xp.add(denom, float(group["eps"]), denom)
        addcdiv_(param, exp_avg, denom, -step_size, work)
