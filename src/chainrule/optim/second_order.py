"""Second-order optimisation: Hessian-vector products by double backprop, and what they build.

The building block is  H·v = ∇(∇f · v):  one backward with ``create_graph=True`` gives ∇f as a
differentiable tensor, a second backward of the scalar ∇f · v gives H·v, at the cost of a few
gradients and without ever forming H.  On it stand :class:`NewtonCG` (truncated Newton: solve
H d = −g approximately by conjugate gradients) and :func:`minimize`, which hands f, ∇f and H·v to
``scipy.optimize.minimize``.  :class:`NonlinearCG` needs gradients only.
"""
import numpy as np

from chainrule.autograd.grad import grad as autograd_grad
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, UsageError
from chainrule.grad_mode import enable_grad
from chainrule.optim.lbfgs import _strong_wolfe
from chainrule.optim.optimizer import Optimizer, _to_scalar
from chainrule.tensor import Tensor


# ---- the parameters as one flat float64 vector ------------------------------------------------
def _param_list(params, who):
    params = [params] if isinstance(params, Tensor) else list(params)
    if not params:
        raise ConfigError(f"{who}: got an empty parameter list")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise ArgumentTypeError(f"{who}: params[{i}] must be a floating-point tensor, got "
                                    f"{type(p).__name__}")
        if p._data.dtype.kind != "f":
            raise DTypeError(f"{who}: params[{i}] must be a floating-point tensor, got dtype "
                             f"{p.dtype}")
    return params


def flatten_params(params):
    """The parameters' values as one contiguous float64 vector θ."""
    return np.concatenate([p._data.reshape(-1).astype(np.float64) for p in params])


def assign_flat(params, vec):
    """Write the flat vector *vec* back into the parameters (cast to each one's dtype), in place."""
    start = 0
    for p in params:
        n = p._data.size
        np.copyto(p._data, vec[start:start + n].reshape(p._data.shape), casting="unsafe")
        p._vc[0] += 1
        start += n


def _flat(grads, params):
    return np.concatenate([np.zeros(p._data.size) if g is None else
                           g._data.reshape(-1).astype(np.float64) for g, p in zip(grads, params)])


def _split(vec, params):
    out, start = [], 0
    for p in params:
        n = p._data.size
        out.append(Tensor(vec[start:start + n].reshape(p._data.shape).astype(p._data.dtype)))
        start += n
    return out


def _loss(fun, who):
    with enable_grad():
        loss = fun()
    if not isinstance(loss, Tensor) or loss._data.size != 1:
        raise ArgumentTypeError(f"{who}: the objective must return a scalar tensor, got "
                        + (f"shape {loss.shape}" if isinstance(loss, Tensor)
                           else type(loss).__name__))
    return loss


def value_and_grad_flat(fun, params, who="value_and_grad_flat"):
    """f and ∇f (flat float64) at the parameters' current values, by one backward."""
    loss = _loss(fun, who)
    if not loss.requires_grad:
        return float(loss.item()), np.zeros(sum(p._data.size for p in params))
    grads = autograd_grad(loss, params, allow_unused=True)
    return float(loss.item()), _flat(grads, params)


class _Curvature:
    """f, ∇f and v ↦ H·v at one point: the graph of ∇f is kept for repeated products."""

    def __init__(self, fun, params, who):
        self.params = params
        loss = _loss(fun, who)
        self.loss = float(loss.item())
        if loss.requires_grad:
            g = autograd_grad(loss, params, create_graph=True, allow_unused=True)
        else:
            g = [None] * len(params)
        self.grads = g
        self.flat_grad = _flat(g, params)

    def hvp(self, v):
        """H·v = ∇(∇f · v), one more backward through the recorded gradient."""
        pieces = [(g * t).sum() for g, t in zip(self.grads, _split(v, self.params))
                  if g is not None and g.requires_grad]
        if not pieces:
            return np.zeros_like(v)
        gv = pieces[0]
        for piece in pieces[1:]:
            gv = gv + piece
        return _flat(autograd_grad(gv, self.params, retain_graph=True, allow_unused=True),
                     self.params)


def hessian_vector_product(fun, params, v):
    """H·v of the scalar ``fun()`` with respect to *params*, by double backprop (flat float64).

    Math: H·v = ∇ₜₕₑₜₐ (∇f(θ) · v).

    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> hessian_vector_product(lambda: (x ** 3).sum(), [x], np.array([1.0, 0.0]))  # H = diag(6x)
    array([6., 0.])
    """
    params = _param_list(params, "hessian_vector_product")
    v = np.asarray(v, np.float64).reshape(-1)
    return _Curvature(fun, params, "hessian_vector_product").hvp(v)


def conjugate_gradient(hvp, b, max_iter, tol, damping=0.0):
    """Solve (H + λI) d = b by CG, stopping at ‖r‖ ≤ tol or on negative curvature.

    Returns (d, iterations, negative_curvature_found).  On negative curvature at the first
    iteration d = b (the steepest-descent direction when b = −g), else the iterate so far.
    """
    d = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = r @ r
    for k in range(max_iter):
        if np.sqrt(rr) <= tol:
            return d, k, False
        hp = hvp(p) + damping * p
        curv = p @ hp
        if curv <= 0:
            return (b.copy() if k == 0 else d), k, True
        alpha = rr / curv
        d += alpha * p
        r -= alpha * hp
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return d, max_iter, False


def _armijo(evaluate, f0, gtd, t, c1=1e-4, shrink=0.5, max_ls=30):
    """Backtrack t until f(θ + t d) ≤ f(θ) + c₁ t ∇fᵀd; returns (t, f, evaluations)."""
    for i in range(1, max_ls + 1):
        f = evaluate(t)
        if np.isfinite(f) and f <= f0 + c1 * t * gtd:
            return t, f, i
        t *= shrink
    return 0.0, f0, max_ls


class _FlatOptimizer(Optimizer):
    """One group of parameters seen as a flat float64 vector; state kept under the first one."""

    def __init__(self, params, defaults, name):
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ConfigError(f"{name} doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._name = name

    def _state_replaced(self):
        self._params = self.param_groups[0]["params"]

    def _state(self):
        return self.state[self._params[0]]

    def _closure_without_backward(self, closure):
        """The closure, checked not to have called backward itself (its graph is needed)."""
        for p in self._params:
            p.grad = None
        loss = _loss(closure, f"{self._name}.step")
        if any(p.grad is not None for p in self._params):
            raise UsageError(f"{self._name}.step: the closure called backward(), which frees "
                             f"the graph this optimiser differentiates twice; return the loss "
                             f"without calling backward()")
        return loss

    def _write_grad(self, flat_grad):
        for p, g in zip(self._params, _split(flat_grad, self._params)):
            p.grad = g


class NewtonCG(_FlatOptimizer):
    r"""Truncated Newton (Newton-CG): each step solves H d = −g inexactly by conjugate gradients.

    Algorithm (one ``step(closure)``; g = ∇f(θ), H·v by double backprop)::

        f, g ← closure(), ∇f            (∇f kept differentiable)
        stop if ‖g‖∞ ≤ tolerance_grad
        η ← min(cg_tol, √‖g‖)·‖g‖       (forcing term: inexact early, exact near the solution)
        d ← CG on (H + λI) d = −g, at most cg_iters products, to ‖r‖ ≤ η;
            on negative curvature stop (d = −g if it comes first)
        t ← lr;  if line_search == "armijo": halve t until f(θ + t d) ≤ f + 1e-4·t·gᵀd
        θ ← θ + t d

    Args:
        params: the tensors to optimise (one group).
        lr: the initial step length t (default 1, the Newton step).
        cg_iters: Hessian-vector products per step, at most (default 50).
        cg_tol: the forcing term's cap: CG stops once ‖r‖ ≤ min(cg_tol, √‖g‖)·‖g‖ (default 0.01;
            Nocedal & Wright's 0.5 solves less exactly and takes three times the steps on
            Rosenbrock's function).
        damping: λ, added to the Hessian's diagonal (Levenberg–Marquardt style; default 0).
        line_search: ``"armijo"`` (default) or None.
        tolerance_grad: no step once the largest gradient element is this small (default 1e-10).

    The closure must re-evaluate the model and *return* the loss without calling ``backward()``:
    the optimiser differentiates it twice.  After a step each ``p.grad`` holds ∇f at the start.

    Example::

        >>> x = cr.tensor([-1.2, 1.0], dtype=cr.float64, requires_grad=True)
        >>> opt = NewtonCG([x])
        >>> for _ in range(30):
        ...     loss = opt.step(lambda: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)
        >>> x                                       # the minimum of Rosenbrock's function
        tensor([1., 1.], dtype=cr.float64, requires_grad=True)
    """

    def __init__(self, params, lr=1.0, cg_iters=50, cg_tol=1e-2, damping=0.0,
                 line_search="armijo", tolerance_grad=1e-10):
        if not _to_scalar(lr) > 0:
            raise ConfigError(f"Invalid learning rate: {lr}")
        if not isinstance(cg_iters, (int, np.integer)) or cg_iters < 1:
            raise ConfigError(f"Invalid cg_iters value: {cg_iters} (expected a positive integer)")
        if not 0 < cg_tol <= 1:
            raise ConfigError(f"Invalid cg_tol value: {cg_tol} (expected 0 < cg_tol <= 1)")
        if damping < 0:
            raise ConfigError(f"Invalid damping value: {damping}")
        if line_search not in ("armijo", None):
            raise ConfigError(f"Invalid line_search: {line_search!r} (expected 'armijo' or None)")
        defaults = {"lr": lr, "cg_iters": cg_iters, "cg_tol": cg_tol, "damping": damping,
                    "line_search": line_search, "tolerance_grad": tolerance_grad}
        super().__init__(params, defaults, "NewtonCG")

    def step(self, closure):
        """One truncated-Newton step; returns the loss at the start of it."""
        if closure is None:
            raise UsageError("NewtonCG.step requires a closure that re-evaluates the model and "
                             "returns the loss")
        group = self.param_groups[0]
        curv = _Curvature(lambda: self._closure_without_backward(closure), self._params,
                          "NewtonCG.step")
        g = curv.flat_grad
        self._write_grad(g)
        state = self._state()
        state["n_iter"] = state.get("n_iter", 0) + 1
        state["func_evals"] = state.get("func_evals", 0) + 1
        if np.abs(g).max(initial=0.0) <= group["tolerance_grad"]:
            return Tensor(np.asarray(curv.loss))
        gnorm = np.linalg.norm(g)
        d, iters, _ = conjugate_gradient(curv.hvp, -g, group["cg_iters"],
                                         min(group["cg_tol"], np.sqrt(gnorm)) * gnorm,
                                         group["damping"])
        state["cg_iters"] = state.get("cg_iters", 0) + iters
        gtd = g @ d
        if gtd >= 0:                       # not a descent direction (rounding): fall back
            d, gtd = -g, -(g @ g)
        x0 = flatten_params(self._params)
        t = float(_to_scalar(group["lr"]))
        if group["line_search"] == "armijo":
            def evaluate(t):
                assign_flat(self._params, x0 + t * d)
                return float(_loss(closure, "NewtonCG.step").item())
            t, _, evals = _armijo(evaluate, curv.loss, gtd, t)
            state["func_evals"] += evals
        assign_flat(self._params, x0 + t * d)
        return Tensor(np.asarray(curv.loss))


class NonlinearCG(_FlatOptimizer):
    r"""Nonlinear conjugate gradients (Fletcher–Reeves, Polak–Ribière+ or Hestenes–Stiefel).

    Algorithm (one ``step(closure)``; g = ∇f(θ), gₚ, dₚ the previous gradient and direction)::

        f, g ← closure()
        if first step:  d ← −g
        else:
            β ← gᵀg / gₚᵀgₚ                      (FR)
                max(0, gᵀ(g − gₚ) / gₚᵀgₚ)       (PR, i.e. PR+)
                max(0, gᵀ(g − gₚ) / dₚᵀ(g − gₚ)) (HS)
            d ← −g + β dₚ;  restart with d ← −g every `restart` steps or if gᵀd ≥ 0
        t₀ ← lr·min(1, 1/‖g‖₁) first, then min(lr, 2.02 (f − fₚ) / gᵀd)   (N&W, eq. 3.60)
        t ← strong-Wolfe search from t₀ (c₂ = 0.1), or Armijo backtracking
        θ ← θ + t d

    Args:
        params: the tensors to optimise (one group).
        lr: scale of the first trial step (default 1).
        beta: ``"PR"`` (default), ``"FR"`` or ``"HS"``.
        line_search: ``"strong_wolfe"`` (default) or ``"armijo"``.
        restart: restart every this many steps (default None: only when d is not a descent one).
        tolerance_grad: no step once the largest gradient element is this small (default 1e-10).

    The closure returns the loss; it may call ``backward()`` itself (as an LBFGS closure does),
    or leave the differentiation to the optimiser.

    Example::

        >>> x = cr.tensor([-1.2, 1.0], dtype=cr.float64, requires_grad=True)
        >>> opt = NonlinearCG([x], beta="PR")
        >>> for _ in range(200):
        ...     loss = opt.step(lambda: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)
        >>> x                                       # the minimum of Rosenbrock's function
        tensor([1.0000, 1.0000], dtype=cr.float64, requires_grad=True)
    """

    def __init__(self, params, lr=1.0, beta="PR", line_search="strong_wolfe", restart=None,
                 tolerance_grad=1e-10):
        if not _to_scalar(lr) > 0:
            raise ConfigError(f"Invalid learning rate: {lr}")
        if beta not in ("PR", "FR", "HS"):
            raise ConfigError(f"Invalid beta: {beta!r} (expected 'PR', 'FR' or 'HS')")
        if line_search not in ("strong_wolfe", "armijo"):
            raise ConfigError(f"Invalid line_search: {line_search!r} "
                              "(expected 'strong_wolfe' or 'armijo')")
        if restart is not None and restart < 1:
            raise ConfigError(f"Invalid restart value: {restart}")
        defaults = {"lr": lr, "beta": beta, "line_search": line_search, "restart": restart,
                    "tolerance_grad": tolerance_grad}
        super().__init__(params, defaults, "NonlinearCG")

    def _evaluate(self, closure):
        """f and flat ∇f, whether or not the closure called backward itself."""
        for p in self._params:
            p.grad = None
        loss = _loss(closure, "NonlinearCG.step")
        if any(p.grad is not None for p in self._params):
            return float(loss.item()), _flat([p.grad for p in self._params], self._params)
        if not loss.requires_grad:
            return float(loss.item()), np.zeros(sum(p._data.size for p in self._params))
        return float(loss.item()), _flat(autograd_grad(loss, self._params, allow_unused=True),
                                         self._params)

    def step(self, closure):
        """One conjugate-gradient iteration with a line search; returns the loss at its start."""
        if closure is None:
            raise UsageError("NonlinearCG.step requires a closure that re-evaluates the model "
                             "and returns the loss")
        group = self.param_groups[0]
        state = self._state()
        f, g = self._evaluate(closure)
        evals = 1
        if np.abs(g).max(initial=0.0) <= group["tolerance_grad"]:
            self._write_grad(g)
            return Tensor(np.asarray(f))
        n_iter = state.get("n_iter", 0)
        g_prev = _array(state.get("prev_grad"))
        d_prev = _array(state.get("direction"))
        restart = group["restart"]
        if g_prev is None or (restart and n_iter % restart == 0):
            d = -g
        else:
            y = g - g_prev
            beta = {"FR": lambda: (g @ g) / (g_prev @ g_prev),
                    "PR": lambda: max(0.0, (g @ y) / (g_prev @ g_prev)),
                    "HS": lambda: max(0.0, (g @ y) / (d_prev @ y) if d_prev @ y != 0 else 0.0)
                    }[group["beta"]]()
            d = -g + beta * d_prev
        gtd = g @ d
        if gtd >= 0:
            d, gtd = -g, -(g @ g)
        lr = float(_to_scalar(group["lr"]))
        if g_prev is None:
            t = lr * min(1.0, 1.0 / np.abs(g).sum())
        else:                       # the step that repeats the last decrease along d
            t = 1.01 * 2 * (f - float(state["prev_loss"])) / gtd
            t = min(lr, t) if np.isfinite(t) and t > 0 else lr
        x0 = flatten_params(self._params)
        if group["line_search"] == "strong_wolfe":
            def obj(x, t, d):
                assign_flat(self._params, x + t * d)
                return self._evaluate(closure)
            _, _, t, ls_evals = _strong_wolfe(obj, x0, t, d, f, g, gtd, c2=0.1)
        else:
            def evaluate(t):
                assign_flat(self._params, x0 + t * d)
                return self._evaluate(closure)[0]
            t, _, ls_evals = _armijo(evaluate, f, gtd, t)
        assign_flat(self._params, x0 + t * d)
        self._write_grad(g)
        state.update(n_iter=n_iter + 1, prev_grad=g, direction=d, t=t, prev_loss=f,
                     func_evals=state.get("func_evals", 0) + evals + ls_evals)
        return Tensor(np.asarray(f))


def _array(value):
    if value is None:
        return None
    return np.asarray(value._data if isinstance(value, Tensor) else value, np.float64)


# ---- scipy.optimize.minimize -----------------------------------------------------------------
GRADIENT_METHODS = ("L-BFGS-B", "BFGS", "CG", "Newton-CG", "trust-ncg", "trust-krylov",
                    "trust-constr", "TNC", "SLSQP")
HESSP_METHODS = ("Newton-CG", "trust-ncg", "trust-krylov", "trust-constr")
VALUE_METHODS = ("Nelder-Mead", "Powell", "COBYLA")


def _require_scipy():
    try:
        from scipy import optimize
    except ImportError:
        raise ImportError("cr.optim.minimize needs SciPy, which is not installed: "
                          "pip install 'chainrule[scipy]' (or pip install scipy)") from None
    return optimize


def minimize(fun, params, method="L-BFGS-B", options=None, tol=None, bounds=None, hessp=True,
             callback=None):
    r"""Minimise ``fun()`` over *params* with ``scipy.optimize.minimize``; returns its result.

    *fun* takes no arguments and returns a scalar tensor computed from the tensors in *params*
    (like an LBFGS closure, but without ``backward``).  SciPy sees θ, the parameters joined into one
    float64 vector; it gets f(θ) and ∇f(θ) from one forward and one backward, and for
    ``"Newton-CG"``, ``"trust-ncg"``, ``"trust-krylov"`` and ``"trust-constr"`` also
    H(θ)·v = ∇(∇f·v) by double backprop (``hessp=False`` leaves SciPy to difference gradients).
    The solution ``result.x`` is written back into the parameters.

    Methods: the gradient-based ``"L-BFGS-B", "BFGS", "CG", "Newton-CG", "trust-ncg",
    "trust-krylov", "trust-constr", "TNC", "SLSQP"`` and the derivative-free ``"Nelder-Mead",
    "Powell", "COBYLA"``.  *bounds* is anything SciPy takes, or one (low, high) pair for every
    element.  *callback* is SciPy's, called with the flat θ.

    Example (full-batch training of a network, in a few lines)::

        >>> model = cr.nn.Sequential(cr.nn.Linear(3, 8), cr.nn.Tanh(), cr.nn.Linear(8, 1))
        >>> X, y, loss_fn = cr.randn(64, 3), cr.randn(64, 1), cr.nn.MSELoss()
        >>> before = loss_fn(model(X), y).item()
        >>> result = cr.optim.minimize(lambda: loss_fn(model(X), y), model.parameters(),
        ...                            method="L-BFGS-B", options={"maxiter": 200})
        >>> result.fun < before, result.nit <= 200      # the model now holds the solution
        (True, True)
    """
    if method not in GRADIENT_METHODS + VALUE_METHODS:
        raise ConfigError(f"minimize: unknown method {method!r}; expected one of "
                          f"{', '.join(GRADIENT_METHODS + VALUE_METHODS)}")
    if not callable(fun):
        raise ArgumentTypeError(f"minimize: fun must be a callable of no arguments returning a scalar "
                                f"tensor, got {type(fun).__name__}")
    optimize = _require_scipy()
    params = _param_list(params, "minimize")
    x0 = flatten_params(params)
    who = "minimize: fun()"

    def value(x):
        assign_flat(params, x)
        return float(_loss(fun, who).item())

    def value_and_grad(x):
        assign_flat(params, x)
        return value_and_grad_flat(fun, params, who)

    def hvp(x, v):
        assign_flat(params, x)
        return _Curvature(fun, params, who).hvp(np.asarray(v, np.float64))

    kwargs = {"method": method, "tol": tol, "options": options, "callback": callback}
    if bounds is not None:
        if (isinstance(bounds, tuple) and len(bounds) == 2
                and all(b is None or np.isscalar(b) for b in bounds)):
            lo = -np.inf if bounds[0] is None else bounds[0]
            hi = np.inf if bounds[1] is None else bounds[1]
            bounds = optimize.Bounds(np.full(x0.size, lo, np.float64),
                                     np.full(x0.size, hi, np.float64))
        kwargs["bounds"] = bounds
    if method in VALUE_METHODS:
        result = optimize.minimize(value, x0, **kwargs)
    else:
        if hessp and method in HESSP_METHODS:
            kwargs["hessp"] = hvp
        result = optimize.minimize(value_and_grad, x0, jac=True, **kwargs)
    assign_flat(params, np.asarray(result.x, np.float64))
    return result
