"""Population methods: a small evolution strategy, and Nevergrad's optimisers on chainrule tensors.

Neither needs a gradient, only the value of a loss: the parameters are seen as one vector θ, a
population of candidates around θ is evaluated, and the better ones pull θ towards them.
:func:`nevergrad_minimize` hands a loss of tensors to any Nevergrad optimiser by name ("NGOpt",
"CMA", "PSO", "DE", ...) with Nevergrad's own budget and stopping rules; it is a thin adapter,
and Nevergrad (``pip install nevergrad``) is optional.  :class:`EvolutionStrategy` covers the case
where it is not installed, and :func:`minimize_blackbox` picks whichever is available.
"""
import numpy as np

from chainrule.errors import ArgumentTypeError, ConfigError, UsageError
from chainrule.grad_mode import no_grad
from chainrule.optim.optimizer import Optimizer, _to_scalar
from chainrule.optim.second_order import _param_list, assign_flat, flatten_params
from chainrule.optim.zeroth_order import loss_value
from chainrule.random import Generator, default_generator
from chainrule.tensor import Tensor


def _evaluate(fun, who):
    """``fun()`` under no_grad as a float; NaN counts as +inf (the worst possible loss)."""
    with no_grad():
        value = loss_value(fun(), who)
    return np.inf if np.isnan(value) else value


def centered_ranks(losses):
    """Fitness shaping: the losses' ranks mapped to [−0.5, 0.5] (the best is −0.5).

    >>> centered_ranks(np.array([3.0, 1.0, 2.0]))
    array([ 0.5, -0.5,  0. ])
    """
    ranks = np.empty(len(losses))
    ranks[np.argsort(losses, kind="stable")] = np.arange(len(losses))
    return ranks / max(len(losses) - 1, 1) - 0.5


class EvolutionStrategy(Optimizer):
    r"""A natural-evolution strategy with antithetic sampling (Salimans et al., 2017, "OpenAI-ES").

    Algorithm (one ``step(closure)``; θ the flat parameters, n = population_size // 2 pairs)::

        f₀ ← closure()                                      (the loss at θ, returned)
        εᵢ ~ N(0, I),  f⁺ᵢ ← f(θ + σεᵢ),  f⁻ᵢ ← f(θ − σεᵢ)     i = 1..n
        u ← centered ranks of (f⁺, f⁻) in [−½, ½]           (or the raw losses if not rank_shaping)
        ĝ ← 1/(nσ) Σᵢ ½(u⁺ᵢ − u⁻ᵢ) εᵢ                        (the gradient of E f(θ + σε))
        b ← μ b + ĝ;   θ ← θ − η b

    Without ``antithetic``, the population is εᵢ, i = 1..population_size, and
    ĝ = 1/(Nσ) Σᵢ uᵢ εᵢ.  The closure returns the loss (tensor or float); it is called under
    ``no_grad`` and need not call ``backward``.

    Args:
        params: the tensors to optimise (one group).
        lr: η (default 0.02).   sigma: σ, the perturbation scale (default 0.1).
        population_size: evaluations per step besides f₀ (default 20; even when antithetic).
        momentum: μ (default 0.5).   antithetic: use ±ε pairs (default True).
        rank_shaping: use centered ranks (invariant to the loss's scale; default True).
        generator: a ``cr.Generator`` for the perturbations (default: the global one).

    Example::

        >>> w = cr.tensor([3.0, -2.0])
        >>> es = EvolutionStrategy([w], generator=cr.Generator().manual_seed(0))
        >>> for _ in range(100):
        ...     loss = es.step(lambda: (w ** 2).sum())      # w → 0, without a gradient
        >>> bool((w.abs() < 0.05).all())
        True
    """

    def __init__(self, params, lr=0.02, sigma=0.1, population_size=20, momentum=0.5,
                 antithetic=True, rank_shaping=True, generator=None):
        if not _to_scalar(lr) > 0:
            raise ConfigError(f"Invalid learning rate: {lr}")
        if not sigma > 0:
            raise ConfigError(f"Invalid sigma value: {sigma} (expected a positive number)")
        if not isinstance(population_size, (int, np.integer)) or population_size < 2 \
                or (antithetic and population_size % 2):
            raise ConfigError(f"Invalid population_size: {population_size} (expected an integer "
                              f">= 2, even when antithetic=True)")
        if not 0 <= momentum < 1:
            raise ConfigError(f"Invalid momentum value: {momentum} (expected 0 <= momentum < 1)")
        if generator is not None and not isinstance(generator, Generator):
            raise ArgumentTypeError(f"EvolutionStrategy: generator must be a cr.Generator, got "
                                    f"{type(generator).__name__}")
        defaults = {"lr": lr, "sigma": sigma, "population_size": population_size,
                    "momentum": momentum, "antithetic": antithetic, "rank_shaping": rank_shaping}
        super().__init__(_param_list(params, "EvolutionStrategy"), defaults)
        if len(self.param_groups) != 1:
            raise ConfigError("EvolutionStrategy doesn't support per-parameter options "
                              "(parameter groups)")
        self.generator = generator

    @property
    def evaluations_per_step(self):
        """Closure calls made by one ``step``: the population and the centre."""
        return self.param_groups[0]["population_size"] + 1

    def step(self, closure):
        """One generation: evaluate the population, move θ along the shaped estimate."""
        if closure is None:
            raise UsageError("EvolutionStrategy.step requires a closure that returns the loss")
        group = self.param_groups[0]
        params = group["params"]
        rng = (self.generator or default_generator).rng
        sigma, size = group["sigma"], group["population_size"]
        theta = flatten_params(params)
        who = "EvolutionStrategy: closure()"
        f0 = _evaluate(closure, who)
        try:
            if group["antithetic"]:
                eps = rng.standard_normal((size // 2, theta.size))
                signed = np.concatenate([eps, -eps])
            else:
                eps = signed = rng.standard_normal((size, theta.size))
            losses = np.empty(size)
            for i, e in enumerate(signed):
                assign_flat(params, theta + sigma * e)
                losses[i] = _evaluate(closure, who)
        finally:
            assign_flat(params, theta)
        if group["rank_shaping"]:
            u = centered_ranks(losses)
        else:
            finite = np.where(np.isfinite(losses), losses, np.nanmax(losses[np.isfinite(losses)],
                                                                     initial=f0))
            u = finite - finite.mean()
        if group["antithetic"]:
            n = size // 2
            g = ((u[:n] - u[n:]) / 2) @ eps / (n * sigma)
        else:
            g = u @ eps / (size * sigma)
        state = self.state[params[0]]
        buf = state.get("momentum_buffer")
        buf = g if buf is None else group["momentum"] * _array(buf) + g
        state["momentum_buffer"] = buf
        state["n_iter"] = state.get("n_iter", 0) + 1
        state["func_evals"] = state.get("func_evals", 0) + size + 1
        assign_flat(params, theta - float(_to_scalar(group["lr"])) * buf)
        return Tensor(np.asarray(f0))


def _array(value):
    return np.asarray(value._data if isinstance(value, Tensor) else value, np.float64)


class BlackBoxResult:
    """What a black-box minimisation returns: ``x`` (the flat solution, written back into the
    parameters), ``loss`` (f there), ``evaluations`` (calls of f counted against the budget),
    ``losses`` (every evaluated loss, in order), ``optimizer`` (its name) and ``recommendation``
    (Nevergrad's candidate, or None)."""

    def __init__(self, x, loss, evaluations, losses, optimizer, recommendation=None):
        self.x, self.loss, self.evaluations = x, loss, evaluations
        self.losses, self.optimizer, self.recommendation = losses, optimizer, recommendation

    def __repr__(self):
        return (f"BlackBoxResult(optimizer={self.optimizer!r}, loss={self.loss:.6g}, "
                f"evaluations={self.evaluations}, size={self.x.size})")


def _require_nevergrad():
    try:
        import nevergrad
    except ImportError:
        raise ImportError("nevergrad_minimize needs Nevergrad, which is not installed: "
                          "pip install nevergrad (or use minimize_blackbox, which falls back to "
                          "the built-in EvolutionStrategy)") from None
    return nevergrad


def _seed_of(seed):
    if seed is None or isinstance(seed, (int, np.integer)):
        return seed
    if isinstance(seed, Generator):
        return int(seed.rng.integers(2 ** 32))
    raise ArgumentTypeError(f"seed must be an int or a cr.Generator, got {type(seed).__name__}")


def nevergrad_minimize(fun, params, optimizer="NGOpt", budget=100, num_workers=1, flat=False,
                       sigma=None, bounds=None, seed=None, early_stopping=None, max_time=None,
                       verbosity=0):
    r"""Minimise the black box ``fun()`` over *params* with a Nevergrad optimiser, by name.

    *fun* takes no arguments and returns a scalar (tensor or float) computed from the tensors in
    *params*; it is evaluated under ``no_grad``.  The candidates are an ``ng.p.Tuple`` of one
    ``ng.p.Array`` per parameter (``flat=True``: one array of all of them), started at the
    parameters' values (clipped into *bounds* = (lower, upper) if given), with mutation scale
    *sigma*.
    Nevergrad's ``optimizer.minimize`` runs the search: *budget* evaluations, *num_workers*
    candidates asked at once, *max_time* seconds, and ``early_stopping=k`` stops after k asks
    without improvement (``ng.callbacks.EarlyStopping.no_improvement_stopper``).  Nevergrad's
    recommendation is written back into the parameters.

    Returns a :class:`BlackBoxResult`.

    Example::

        >>> w = cr.tensor([3.0, -2.0])
        >>> black_box_loss = lambda: float(np.round((w ** 2).sum().item(), 6))  # no gradient
        >>> r = nevergrad_minimize(black_box_loss, [w], optimizer="CMA", budget=400, seed=0)
        >>> r.loss < 1e-3, r.evaluations
        (True, 400)
    """
    ng = _require_nevergrad()
    params = _param_list(params, "nevergrad_minimize")
    if not callable(fun):
        raise ArgumentTypeError(f"nevergrad_minimize: fun must be a callable of no arguments, got "
                                f"{type(fun).__name__}")
    if not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ConfigError(f"nevergrad_minimize: budget must be a positive integer, got {budget!r}")
    if isinstance(optimizer, str):
        if optimizer not in ng.optimizers.registry:
            close = [k for k in ng.optimizers.registry
                     if k.lower().startswith(optimizer[:2].lower())]
            raise ConfigError(f"nevergrad_minimize: Nevergrad has no optimizer {optimizer!r}; try "
                              f"'NGOpt', 'CMA', 'PSO', 'DE', 'OnePlusOne'"
                              + (f" (similar: {', '.join(sorted(close)[:8])})" if close else ""))
        name, factory = optimizer, ng.optimizers.registry[optimizer]
    else:
        name, factory = getattr(optimizer, "name", type(optimizer).__name__), optimizer

    def array(init):
        if bounds is not None:          # Nevergrad needs the start inside the bounds
            lo, hi = bounds
            init = np.clip(init, -np.inf if lo is None else lo, np.inf if hi is None else hi)
        a = ng.p.Array(init=init)
        if sigma is not None:
            a.set_mutation(sigma=sigma)
        if bounds is not None:
            a.set_bounds(*bounds)
        return a

    if flat:
        parametrization = array(flatten_params(params))
    else:
        parametrization = ng.p.Tuple(*[array(p._data.astype(np.float64)) for p in params])
    s = _seed_of(seed)
    if s is not None:
        parametrization.random_state = np.random.RandomState(s)

    def write(value):
        if flat:
            assign_flat(params, np.asarray(value, np.float64))
        else:
            for p, v in zip(params, value):
                np.copyto(p._data, np.asarray(v).reshape(p._data.shape), casting="unsafe")
                p._vc[0] += 1

    losses = []

    def objective(value):
        write(value)
        loss = _evaluate(fun, "nevergrad_minimize: fun()")
        losses.append(loss)
        return loss

    opt = factory(parametrization=parametrization, budget=budget, num_workers=num_workers)
    if early_stopping is not None:
        opt.register_callback("ask",
                              ng.callbacks.EarlyStopping.no_improvement_stopper(early_stopping))
    try:
        recommendation = opt.minimize(objective, verbosity=verbosity, max_time=max_time)
    except TypeError as e:
        if "0-dimensional" not in str(e):
            raise
        raise UsageError(f"nevergrad_minimize: Nevergrad's {name} failed inside its own code "
                         f"({e}); with NumPy >= 2.4 its MetaModel optimisers, which NGOpt picks "
                         f"for small problems, break (facebookresearch/nevergrad#1612): choose "
                         f"another optimizer, e.g. 'CMA', 'OnePlusOne', 'DE' or 'PSO'") from e
    write(recommendation.value)
    loss = _evaluate(fun, "nevergrad_minimize: fun()")
    return BlackBoxResult(flatten_params(params), loss, opt.num_tell, losses, name,
                          recommendation)


def evolution_minimize(fun, params, budget=1000, lr=0.02, sigma=0.1, population_size=20,
                       momentum=0.5, generator=None):
    """Minimise ``fun()`` over *params* with :class:`EvolutionStrategy` within *budget* calls.

    Runs ``budget // (population_size + 1)`` generations, keeps the best centre seen, writes it
    back into the parameters and returns a :class:`BlackBoxResult`.

    >>> w = cr.tensor([3.0, -2.0])
    >>> result = evolution_minimize(lambda: (w ** 2).sum(), [w], budget=2000, lr=0.1,
    ...                             generator=cr.Generator().manual_seed(0))
    >>> result.loss < 1e-3              # from 13 at the start
    True
    """
    params = _param_list(params, "evolution_minimize")
    es = EvolutionStrategy(params, lr=lr, sigma=sigma, population_size=population_size,
                           momentum=momentum, generator=generator)
    losses = []

    def closure():
        loss = _evaluate(fun, "evolution_minimize: fun()")
        losses.append(loss)
        return loss

    steps = budget // es.evaluations_per_step
    if steps < 1:
        raise ConfigError(f"evolution_minimize: budget={budget} is less than one generation "
                          f"({es.evaluations_per_step} evaluations)")
    best_x, best = flatten_params(params), np.inf
    for _ in range(steps):
        x = flatten_params(params)
        f0 = float(es.step(closure).item())
        if f0 < best:
            best_x, best = x, f0
    last = _evaluate(fun, "evolution_minimize: fun()")
    losses.append(last)
    if last < best:
        best_x, best = flatten_params(params), last
    assign_flat(params, best_x)
    return BlackBoxResult(best_x, best, len(losses), losses, "EvolutionStrategy")


def minimize_blackbox(fun, params, budget=1000, optimizer="NGOpt", method="auto", seed=None,
                      **kwargs):
    """Minimise the black box ``fun()`` over *params*: Nevergrad if installed, else the built-in ES.

    ``method="auto"`` picks :func:`nevergrad_minimize` (with *optimizer*) if Nevergrad imports,
    otherwise :func:`evolution_minimize`; ``"nevergrad"`` or ``"es"`` force one.  *seed* (an int
    or a ``cr.Generator``) seeds either; other keyword arguments go to the chosen function.

    >>> model = cr.nn.Linear(3, 1)
    >>> x, y = cr.randn(32, 3), cr.randn(32, 1)
    >>> loss_of = lambda m: ((m(x) - y) ** 2).mean()
    >>> before = loss_of(model).item()
    >>> result = minimize_blackbox(lambda: loss_of(model), model.parameters(), budget=500,
    ...                            method="es", seed=0)
    >>> result.loss < before
    True
    """
    if method not in ("auto", "nevergrad", "es"):
        raise ConfigError(f"minimize_blackbox: method must be 'auto', 'nevergrad' or 'es', "
                          f"got {method!r}")
    if method == "auto":
        try:
            _require_nevergrad()
            method = "nevergrad"
        except ImportError:
            method = "es"
    if method == "nevergrad":
        return nevergrad_minimize(fun, params, optimizer=optimizer, budget=budget, seed=seed,
                                  **kwargs)
    if isinstance(seed, (int, np.integer)):
        seed = Generator().manual_seed(int(seed))
    return evolution_minimize(fun, params, budget=budget, generator=seed, **kwargs)
