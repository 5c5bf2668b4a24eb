"""What the Adam variants (RAdam, NAdam, Adamax) share: the check of a parameter group's
settings, and the moment bookkeeping at the start of a step."""
from chainrule.optim._kernels import addcmul_, lerp_, prepare_grad
from chainrule.optim.adam import check_adam_hyperparameters
from chainrule.optim.optimizer import _check_supported, _to_scalar


def check_adam_group(group, name):
    """*group* with its betas as a tuple, after the checks the Adam family shares (PyTorch's
    messages; *name* is the optimiser's, for "capturable" and "differentiable").

    Example: ``check_adam_group({"lr": -1, ...}, "RAdam")`` raises "Invalid learning rate: -1".
    """
    betas = check_adam_hyperparameters(group["lr"], group["betas"], group["eps"],
                                       group["weight_decay"])
    _check_supported(name, capturable=group.get("capturable"),
                     differentiable=group.get("differentiable"))
    return {**group, "betas": betas}


def adam_moments_(group, param, grad, bufs, own_grad, work):
    """Update the moments in place and return (γ, β₁, β₂, g), all as Python floats but g::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if λ ≠ 0:  θ ← θ · (1 − γλ) if decoupled_weight_decay, else g ← g + λθ
        m ← m + (1 − β₁)(g − m)                   (bufs["exp_avg"])
        v ← β₂ v + (1 − β₂) g²                    (bufs["exp_avg_sq"], where the state keeps it)

    Example: ``lr, beta1, beta2, grad = adam_moments_(group, param, grad, bufs, own, work)``.
    """
    xp = work.xp
    lr = float(_to_scalar(group["lr"]))
    beta1, beta2 = (float(_to_scalar(b)) for b in group["betas"])
    weight_decay = float(group["weight_decay"])
    if weight_decay != 0 and group.get("decoupled_weight_decay", False):
        grad = prepare_grad(grad, param, group["maximize"], 0, own_grad, work)
        xp.multiply(param, 1 - lr * weight_decay, out=param)
    else:
        grad = prepare_grad(grad, param, group["maximize"], weight_decay, own_grad, work)
    lerp_(bufs["exp_avg"], grad, 1 - beta1, work)
    exp_avg_sq = bufs.get("exp_avg_sq")
    if exp_avg_sq is not None:
        xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
        addcmul_(exp_avg_sq, grad, grad, 1 - beta2, work)
    return lr, beta1, beta2, grad
