"""``ASGD``: averaged stochastic gradient descent, step for step as ``torch.optim.ASGD``."""
from chainrule.backend import namespace_of
from chainrule.optim._kernels import fma, prepare_grad
from chainrule.optim._scalar_state import ScalarStateOptimizer, scalar_state
from chainrule.optim.optimizer import _check_supported, _to_scalar, check_nonnegative


class ASGD(ScalarStateOptimizer):
    r"""Averaged SGD (Polyak & Juditsky, 1992), with PyTorch's step-size schedule and arithmetic.

    Algorithm (γ lr, λ lambd, α alpha, t₀ t0, w weight_decay), for t = 1, 2, ...::

        g ← ∇f(θ)            (−∇f(θ) if maximize)
        if w ≠ 0:   g ← g + wθ
        θ ← θ (1 − λη) − η g                        (η₀ = γ)
        if μ ≠ 1:   ā ← ā + μ (θ − ā)   else   ā ← θ   (μ₀ = 1; ā is ``ax``, the average)
        η ← γ / (1 + λγt)^α;   μ ← 1 / max(1, t − t₀)

    Args:
        params: tensors to optimise, or dicts defining parameter groups.
        lr: learning rate γ (default 1e-2).
        lambd: decay term λ (default 1e-4).
        alpha: power α of the step-size decay (default 0.75).
        t0: the step at which averaging starts (default 1e6).
        weight_decay: w, the L2 penalty (default 0).
        foreach: accepted; the per-parameter loop always runs (see ``_scalar_state``).
        maximize: ascend the objective instead of descending (default False).

    State per parameter (as PyTorch): ``step``, ``eta`` and ``mu`` (0-d), ``ax`` (the average).

    Example::

        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.ASGD([w], lr=0.1)
        >>> w.grad = cr.tensor([1.0])
        >>> opt.step()
        >>> round(float(w.detach()), 5)
        0.89999
    """

    _per_element_state = ("ax",)
    _scalar_keys = ("eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        defaults = self.check_hyperparameters({
            "lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
            "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
            "capturable": capturable,
        })
        super().__init__(params, defaults)

    @classmethod
    def check_hyperparameters(cls, group):
        """*group*'s settings checked as the constructor checks them; see
        :meth:`Optimizer.check_hyperparameters`."""
        check_nonnegative(group["lr"], "learning rate")
        check_nonnegative(group["weight_decay"], "weight_decay value")
        _check_supported("ASGD", capturable=group.get("capturable"),
                         differentiable=group.get("differentiable"))
        return dict(group)

    def _new_state(self, group, param):
        return {"eta": scalar_state(param, float(_to_scalar(group["lr"]))),
                "mu": scalar_state(param, 1.0), "ax": namespace_of(param).zeros_like(param)}

    def _advance(self, group, scalars, step):
        eta, mu = scalars["eta"], scalars["mu"]
        used = float(eta), float(mu)
        lr, lambd = float(_to_scalar(group["lr"])), float(group["lambd"])
        eta[...] = lr / ((1 + lambd * lr * step) ** float(group["alpha"]))
        mu[...] = 1 / max(1, step - float(group["t0"]))
        return used

    def _apply(self, group, param, grad, bufs, coeffs, own_grad, work):
        xp = work.xp
        eta, mu = coeffs
        grad = prepare_grad(grad, param, group["maximize"], float(group["weight_decay"]),
                            own_grad, work)
        xp.multiply(param, 1 - float(group["lambd"]) * eta, out=param)
        fma(param, grad, -eta, param, work)
        ax = bufs["ax"]
        if mu != 1:
            t = xp.subtract(param, ax, out=work("avg", param.dtype))
            xp.multiply(t, mu, out=t)
            xp.add(ax, t, out=ax)
        else:
            xp.copyto(ax, param)
