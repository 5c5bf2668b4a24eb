"""Zeroth-order gradients: estimate ∇f by perturbing the inputs and evaluating f, no backward.

Three estimators of the gradient of a scalar f at θ ∈ ℝⁿ, each from function values only::

    central    ĝᵢ = (f(θ + εeᵢ) − f(θ − εeᵢ)) / 2ε                  2n evaluations, error O(ε²)
    spsa       ĝ  = (f(θ + εΔ) − f(θ − εΔ)) / 2ε · Δ,  Δᵢ = ±1      2 evaluations a sample
    gaussian   ĝ  = (f(θ + εu) − f(θ − εu)) / 2ε · u,  u ~ N(0, I)  2 evaluations a sample

The random ones are unbiased for the gradient of f (SPSA, up to O(ε²)) or of its Gaussian
smoothing f_ε(θ) = E f(θ + εu) (which is defined even where f is not differentiable), and are
averaged over ``num_samples`` directions.

:func:`estimate_grad` treats any function of tensors this way and writes the estimate into
``p.grad``, so any ``cr.optim`` optimiser can step with it.  :func:`blackbox` puts a NumPy black
box at the end of a differentiable network: its backward is the perturbation estimate of
d cost / d output, which ordinary backprop then carries through the network (the hybrid of
the lectures).
"""
import numpy as np

from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.function import Function
from chainrule.grad_mode import no_grad
from chainrule.random import default_generator
from chainrule.tensor import Tensor

METHODS = ("central", "spsa", "gaussian")


def _check(method, eps, num_samples):
    if method not in METHODS:
        raise ConfigError(f"zeroth-order estimate: method must be one of {METHODS}, "
                          f"got {method!r}")
    if eps is not None and not eps > 0:
        raise ConfigError(f"zeroth-order estimate: eps must be positive, got {eps}")
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ConfigError(f"zeroth-order estimate: num_samples must be a positive integer, "
                          f"got {num_samples!r}")


def default_eps(dtype, method):
    """ε balancing truncation and rounding: ∛(machine ε) for central differences (6e-6 in
    float64, 5e-3 in float32); 1e-3 / 1e-2 for the random directions, whose noise dominates."""
    fine = np.dtype(dtype).kind == "f" and np.finfo(dtype).eps < 1e-10
    if method == "central":
        return float(np.cbrt(np.finfo(dtype if fine else np.float32).eps))
    return 1e-3 if fine else 1e-2


def loss_value(value, who):
    """A loss returned by a black box as a Python float (one-element tensors and arrays too).

    >>> loss_value(cr.tensor([2.5]), "fun()")      # a longer array raises ValueError
    2.5
    """
    if isinstance(value, Tensor):
        value = value._data
    arr = np.asarray(value)
    if arr.size != 1:
        raise ShapeError(f"{who}: expected a scalar loss, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def perturbation_estimate(arrays, evaluate, method="central", eps=None, num_samples=1, rng=None,
                          touched=None):
    """Estimate ∇f of ``evaluate()`` with respect to *arrays*, perturbing them in place.

    *arrays* are NumPy arrays that ``evaluate`` reads; each is restored bit for bit afterwards.
    *evaluate()* returns f (a float, or a 1-D array of per-row values: see :func:`blackbox`);
    *touched()* is called after every change (to bump tensor versions).  Returns float64 arrays.

    >>> a = np.array([1.0, 2.0])
    >>> perturbation_estimate([a], lambda: float((a ** 2).sum()))[0]     # ∇ Σa² = 2a
    array([2., 4.])
    """
    _check(method, eps, num_samples)
    touched = touched or (lambda: None)
    out = [np.zeros(a.shape, np.float64) for a in arrays]
    saved = [a.copy() for a in arrays]
    try:
        if method == "central":
            for a, keep, g in zip(arrays, saved, out):
                h = default_eps(a.dtype, method) if eps is None else eps
                flat, gflat = a.reshape(-1), g.reshape(-1)
                for i in range(flat.size):
                    x = keep.flat[i]
                    flat[i] = x + h
                    hi = flat[i]
                    touched()
                    f_plus = np.asarray(evaluate(), np.float64)
                    flat[i] = x - h
                    lo = flat[i]
                    touched()
                    f_minus = np.asarray(evaluate(), np.float64)
                    flat[i] = x
                    touched()
                    # divide by the step actually taken, after rounding to the array's dtype
                    gflat[i] = np.sum(f_plus - f_minus) / (float(hi) - float(lo))
            return out
        rng = (rng or default_generator).rng if not isinstance(rng, np.random.Generator) else rng
        h = default_eps(arrays[0].dtype, method) if eps is None else eps
        for _ in range(num_samples):
            if method == "spsa":
                dirs = [rng.choice(np.array([-1.0, 1.0]), size=a.shape) for a in arrays]
            else:
                dirs = [rng.standard_normal(a.shape) for a in arrays]
            for a, keep, d in zip(arrays, saved, dirs):
                np.copyto(a, keep + h * d, casting="unsafe")
            touched()
            f_plus = np.asarray(evaluate(), np.float64)
            for a, keep, d in zip(arrays, saved, dirs):
                np.copyto(a, keep - h * d, casting="unsafe")
            touched()
            f_minus = np.asarray(evaluate(), np.float64)
            slope = (f_plus - f_minus) / (2 * h)
            for g, d in zip(out, dirs):
                # one slope per row when f returns per-row values (rows perturbed independently)
                g += (slope.reshape(slope.shape + (1,) * (d.ndim - slope.ndim)) * d
                      if slope.ndim else slope * d)
        for g in out:
            g /= num_samples
        return out
    finally:
        for a, keep in zip(arrays, saved):
            np.copyto(a, keep)
        touched()


def estimate_grad(fun, params, method="central", eps=None, num_samples=1, generator=None,
                  set_grad=True, accumulate=False):
    r"""Estimate the gradient of ``fun()`` with respect to *params* from function values alone.

    *fun* takes no arguments and returns a scalar (tensor or float) computed from *params*; it is
    called under ``no_grad`` with each parameter perturbed in place and restored afterwards.

    Math: central ĝᵢ = (f(θ+εeᵢ) − f(θ−εeᵢ))/2ε; SPSA and Gaussian
    ĝ = mean over ``num_samples`` directions d of (f(θ+εd) − f(θ−εd))/2ε · d, with d Rademacher
    (±1) or standard normal.  ε defaults to :func:`default_eps` of the parameters' dtype.

    Returns one tensor per parameter (its shape and dtype).  With ``set_grad=True`` (default) the
    estimate is also written to ``p.grad`` — added to it when ``accumulate=True`` — so an
    optimiser's ``step()`` uses it as it would a backprop gradient.

    Example::

        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = cr.optim.SGD([w], lr=0.1)
        >>> for _ in range(100):
        ...     g = estimate_grad(lambda: ((w - 3) ** 2).sum(), [w], method="spsa", num_samples=4)
        ...     opt.step()                     # w → [3, 3] without a single backward
        >>> w
        tensor([3.0000, 3.0000], requires_grad=True)
    """
    params = [params] if isinstance(params, Tensor) else list(params)
    if not params:
        raise ConfigError("estimate_grad: got an empty parameter list")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise ArgumentTypeError(f"estimate_grad: params[{i}] must be a floating-point tensor, "
                                    f"got {type(p).__name__}")
        if p._data.dtype.kind != "f":
            raise DTypeError(f"estimate_grad: params[{i}] must be a floating-point tensor, got "
                             f"Tensor of dtype {p.dtype}")

    def evaluate():
        with no_grad():
            return loss_value(fun(), "estimate_grad: fun()")

    def touched():
        for p in params:
            p._vc[0] += 1

    est = perturbation_estimate([p._data for p in params], evaluate, method, eps, num_samples,
                                generator, touched)
    grads = [Tensor(g.astype(p._data.dtype)) for g, p in zip(est, params)]
    if set_grad:
        for p, g in zip(params, grads):
            if accumulate and p.grad is not None:
                p.grad = Tensor(p.grad._data + g._data)
            else:
                p.grad = Tensor(g._data.copy())
    return grads


class ZerothOrderFunction(Function):
    r"""A black-box cost c(y) of a tensor y: c on the forward, its perturbation estimate backward.

    Forward: ``cost(y._data)``, a NumPy function returning either a scalar or one value per row of
    y (reduced by ``reduction``).  Backward: ȳ = ḡ · ĝ, where ĝ estimates ∂c/∂y by
    :func:`perturbation_estimate`.  With per-row costs, rows are independent, so all rows are
    perturbed at once: central differences cost 2·(columns) evaluations, not 2·(elements).
    """

    @staticmethod
    def forward(ctx, y, cost, method, eps, num_samples, generator, reduction):
        values = np.asarray(cost(y._data.copy()), np.float64)
        per_row = values.ndim == 1 and values.size > 1 and y._data.ndim >= 1 \
            and values.shape[0] == y._data.shape[0]
        if values.size != 1 and not per_row:
            rows = y._data.shape[0] if y._data.ndim else 1
            raise ShapeError(f"blackbox: the cost must return a scalar or one value per row of its "
                             f"input (shape ({rows},)), got shape {values.shape}")
        scale = 1.0 / values.size if (per_row and reduction == "mean") else 1.0
        ctx.cost, ctx.method, ctx.eps, ctx.num_samples = cost, method, eps, num_samples
        ctx.generator, ctx.per_row, ctx.scale = generator, per_row, scale
        ctx.save_for_backward(y)
        return np.asarray(values.sum() * scale, y._data.dtype)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        work = y._data.copy()
        if ctx.per_row and ctx.method == "central":
            est = _central_by_columns(work, ctx.cost, ctx.eps)
        else:
            def evaluate():
                value = ctx.cost(work)
                return value if ctx.per_row else loss_value(value, "blackbox: cost")
            est = perturbation_estimate([work], evaluate, ctx.method, ctx.eps, ctx.num_samples,
                                        ctx.generator)[0]
        g = Tensor((est * ctx.scale).astype(y._data.dtype))
        return gy * g, None, None, None, None, None, None


def _central_by_columns(work, cost, eps):
    """Central differences of per-row costs: perturb one column of every row at a time."""
    h = default_eps(work.dtype, "central") if eps is None else eps
    rows = work.reshape(work.shape[0], -1)
    out = np.zeros(rows.shape, np.float64)
    keep = rows.copy()
    for j in range(rows.shape[1]):
        rows[:, j] = keep[:, j] + h
        hi = rows[:, j].astype(np.float64)
        f_plus = np.asarray(cost(work), np.float64)
        rows[:, j] = keep[:, j] - h
        lo = rows[:, j].astype(np.float64)
        f_minus = np.asarray(cost(work), np.float64)
        rows[:, j] = keep[:, j]
        out[:, j] = (f_plus - f_minus) / (hi - lo)
    return out.reshape(work.shape)


def blackbox(cost, method="central", eps=None, num_samples=1, generator=None, reduction="mean"):
    r"""Wrap a NumPy cost so that backprop can pass through it by perturbation.

    ``blackbox(cost)(y)`` returns ``cost(y)`` as a scalar tensor; its backward estimates ∂cost/∂y
    by perturbing y (method ``"central"``, ``"spsa"`` or ``"gaussian"``, see
    :func:`estimate_grad`), and autograd carries that estimate on to everything y was computed
    from:  ∂cost/∂θ ≈ ĝᵀ · ∂y/∂θ.  *cost* maps an array to a float, or to one value per row,
    which ``reduction`` ("mean" or "sum") combines.

    Example::

        >>> model, x = cr.nn.Linear(2, 1), cr.randn(16, 2)
        >>> sim = lambda y: np.round(10 * (y[:, 0] - 1.5) ** 2) / 10    # quantised, no gradient
        >>> loss = blackbox(sim, method="gaussian", eps=0.3, num_samples=8)(model(x))
        >>> loss.backward()                     # the estimate flows back through the network
        >>> model.weight.grad.shape
        (1, 2)
    """
    if not callable(cost):
        raise ArgumentTypeError(f"blackbox: cost must be callable, got {type(cost).__name__}")
    _check(method, eps, num_samples)
    if reduction not in ("mean", "sum"):
        raise ConfigError(f"blackbox: reduction must be 'mean' or 'sum', got {reduction!r}")

    def apply(y):
        if not isinstance(y, Tensor):
            raise ArgumentTypeError(f"blackbox: expected a tensor input, got {type(y).__name__}")
        return ZerothOrderFunction.apply(y, cost, method, eps, num_samples, generator, reduction)

    apply.__doc__ = f"The black box {getattr(cost, '__name__', 'cost')} with a {method} " \
                    f"perturbation backward."
    return apply


def zeroth_order_closure(fun, params, optimizer=None, **estimate_kwargs):
    """A closure for ``optimizer.step(closure)`` that sets ``p.grad`` by :func:`estimate_grad`.

    It evaluates ``fun()`` once more (under ``no_grad``) to return the loss.

    >>> model, x, y = cr.nn.Linear(2, 1), cr.randn(16, 2), cr.randn(16, 1)
    >>> loss_of = lambda m: ((m(x) - y) ** 2).mean()
    >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
    >>> before = loss_of(model).item()
    >>> for _ in range(20):
    ...     loss = opt.step(zeroth_order_closure(lambda: loss_of(model), model.parameters(), opt))
    >>> loss_of(model).item() < before
    True
    """
    params = list(params)

    def closure():
        if optimizer is not None:
            optimizer.zero_grad()
        estimate_grad(fun, params, **estimate_kwargs)
        with no_grad():
            value = fun()
        return value if isinstance(value, Tensor) else Tensor(np.asarray(value, np.float64))

    return closure
