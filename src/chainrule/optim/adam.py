"""``Adam``: adaptive moment estimation, step for step as ``torch.optim.Adam``."""
import numbers

from chainrule.backend import namespace_of
from chainrule.errors import ConfigError, UsageError
from chainrule.optim import _kernels
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import addcmul_, lerp_, make_adam_kernel, prepare_grad
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
            (computed as θ − (γ√(1 − β₂ᵗ)/(1 − β₁ᵗ)) · m / (√v̂ + ε√(1 − β₂ᵗ)): one pass fewer)

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

    def _update(self, group, param, grad, bufs, step, own_grad, work, coefficients=None):
        """One parameter's update; *coefficients* are ``_coefficients(group, step, dtype)``
        when the caller has them already (a compiled step's scalar function)."""
        xp = work.xp
        k = _coefficients(group, step, param.dtype.type) if coefficients is None else coefficients
        grad = _decayed_grad(group, param, grad, own_grad, work)
        if xp.fuses and not _kernels._fused(param):
            # one kernel on a GPU for what follows (the same arithmetic; see make_adam_kernel)
            _, coeff, from_grad, beta2, one_minus_beta2, eps, neg_step = k
            args = (param, grad, bufs["exp_avg"], bufs["exp_avg_sq"])
            if group["amsgrad"]:
                args += (bufs["max_exp_avg_sq"],)
            xp.fused(make_adam_kernel, from_grad, group["amsgrad"])(
                *args, coeff, beta2, one_minus_beta2, eps, neg_step)
            return
        _adam_step(xp, param, grad, bufs["exp_avg"], bufs["exp_avg_sq"],
                   bufs.get("max_exp_avg_sq"), k, work)

    def _update_in_chunks(self, group, param, grad, bufs, step):
        """``_update`` over consecutive cache-sized pieces, the step's scalars computed once."""
        k = _coefficients(group, step, param.dtype.type)
        size, c = param.size, self._chunk
        p, g = param.reshape(-1), grad.reshape(-1)
        m, v = bufs["exp_avg"].reshape(-1), bufs["exp_avg_sq"].reshape(-1)
        vmax = bufs.get("max_exp_avg_sq")
        if vmax is not None:
            vmax = vmax.reshape(-1)
        full = self._chunk_work(namespace_of(param))
        xp = full.xp
        plain = not (group["maximize"] or group["weight_decay"])
        for start in range(0, size, c):
            stop = min(start + c, size)
            work = full if stop - start == c else full.head(stop - start)
            pc, gc = p[start:stop], g[start:stop]
            if not plain:
                gc = _decayed_grad(group, pc, gc, False, work)
            _adam_step(xp, pc, gc, m[start:stop], v[start:stop],
                       None if vmax is None else vmax[start:stop], k, work)


def _coefficients(group, step, typ):
    """The step's scalars, in the arrays' dtype *typ* (the rounding NumPy applies to a Python
    float anyway, done once): ``(w, c, from_g, β₂, 1 − β₂, ε', s)`` with w = 1 − β₁ and c, from_g
    PyTorch's lerp coefficient and form, and the bias corrections bc_i = 1 − β_iᵗ folded into
    ε' = ε·√bc₂ and s = −γ·√bc₂/bc₁::

        θ − (γ/bc₁)·m / (√v/√bc₂ + ε) = θ + s·m / (√v + ε')

    equal in exact arithmetic and one pass fewer than dividing √v by √bc₂ (float32 results agree
    with PyTorch's to rounding, as before: its kernels fuse multiply-adds, its sqrt is MKL's).
    """
    lr = group["lr"]
    if type(lr) is not float:
        lr = float(_to_scalar(lr))
    beta1, beta2 = group["betas"]
    if type(beta1) is not float or type(beta2) is not float:
        beta1, beta2 = float(_to_scalar(beta1)), float(_to_scalar(beta2))
    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
    step_size = lr / (1 - beta1 ** step)
    w = typ(1 - beta1)
    from_grad = not abs(w) < 0.5               # PyTorch's lerp: b − (1 − w)(b − a) for w >= 0.5
    coeff = typ(w - typ(1)) if from_grad else w
    return (w, coeff, from_grad, typ(beta2), typ(1 - beta2),
            typ(float(group["eps"]) * bias_correction2_sqrt),
            typ(-step_size * bias_correction2_sqrt))


def _decayed_grad(group, param, grad, own_grad, work):
    """The gradient the moments take: negated for maximize, with L2 weight decay added, or with
    decoupled weight decay applied to θ (AdamW)."""
    weight_decay = group["weight_decay"]
    if not (weight_decay or group["maximize"]):
        return grad
    weight_decay = float(weight_decay)
    if weight_decay != 0 and group["decoupled_weight_decay"]:
        grad = prepare_grad(grad, param, group["maximize"], 0, own_grad, work)
        lr = float(_to_scalar(group["lr"]))
        work.xp.multiply(param, 1 - lr * weight_decay, out=param)
        return grad
    return prepare_grad(grad, param, group["maximize"], weight_decay, own_grad, work)


def _adam_step(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, k, work):
    """Adam's moments and step on arrays, in place, 12 passes (PyTorch's lerp and addcmul)::

        m ← m + w(g − m)          (lerp_: 3 passes; b − (1 − w)(b − a) for w >= 0.5)
        v ← v·β₂ + ((1 − β₂)·g)·g (4 passes)
        [v_max ← max(v_max, v)]   (amsgrad)
        θ ← θ + (m·s) / (√v̂ + ε')  (5 passes; s, ε' from ``_coefficients``)
    """
    w, coeff, from_grad, beta2, one_minus_beta2, eps, neg_step = k
    t = work("tmp", param.dtype)
    if _kernels._fused(param):            # EXACT_FMA: the helpers round x·s + y once
        lerp_(exp_avg, grad, w, work)
        xp.multiply(exp_avg_sq, beta2, exp_avg_sq)
        addcmul_(exp_avg_sq, grad, grad, one_minus_beta2, work)
    else:                                 # the same calls inline (out given positionally)
        xp.subtract(grad, exp_avg, t)         # lerp_
        xp.multiply(t, coeff, t)
        xp.add(grad if from_grad else exp_avg, t, exp_avg)
        xp.multiply(exp_avg_sq, beta2, exp_avg_sq)
        xp.multiply(grad, one_minus_beta2, t)  # addcmul_
        xp.multiply(t, grad, t)
        xp.add(exp_avg_sq, t, exp_avg_sq)
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        exp_avg_sq = max_exp_avg_sq
    denom = xp.sqrt(exp_avg_sq, work("denom", param.dtype))
    xp.add(denom, eps, denom)
    xp.multiply(exp_avg, neg_step, t)         # addcdiv_
    xp.divide(t, denom, t)
    xp.add(param, t, param)
