"""The loss landscape of a network along two random, filter-normalised directions (Li et al., 2018).

Around the trained weights θ* the loss is evaluated on the plane θ* + α·δ + β·η.  δ and η are
Gaussian directions rescaled filter by filter (one filter = one output unit's row of a weight
matrix, or one output channel) to the norm of the same filter in θ*, so that the picture does
not depend on how each layer happens to be scaled:  dᵢ ← dᵢ / ‖dᵢ‖ · ‖θ*ᵢ‖.  Biases and other
one-dimensional parameters get no component (Li et al.'s "ignore biasbn"), unless asked.
"""

import numpy as np

from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError
from chainrule.grad_mode import no_grad
from chainrule.plot.figure import require_matplotlib, save_figure
from chainrule.random import Generator, default_generator
from chainrule.tensor import Tensor


def filter_normalized_direction(params, generator=None, ignore_bias=True):
    """A random direction with each filter scaled to the norm of the same filter of *params*.

    Math: for every parameter of dim ≥ 2 and each filter i (index along dim 0),
    dᵢ = zᵢ / ‖zᵢ‖ · ‖θᵢ‖ with z ~ N(0, I); a one-dimensional parameter gets 0 when
    *ignore_bias*, else dᵢ = z / ‖z‖ · ‖θ‖.  Returns a list of float64 arrays.

    >>> model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
    >>> d = filter_normalized_direction(model.parameters(), cr.Generator().manual_seed(0))
    >>> w = model[0].weight.detach().numpy()
    >>> bool(np.allclose(np.linalg.norm(d[0], axis=1), np.linalg.norm(w, axis=1)))
    True
    >>> bool(d[1].any())                         # a bias gets no component
    False
    """
    rng = (generator or default_generator).rng
    out = []
    for p in params:
        theta = np.asarray(p._data, np.float64)
        z = rng.standard_normal(theta.shape)
        if theta.ndim <= 1:
            if ignore_bias:
                out.append(np.zeros_like(theta))
                continue
            rows, z_rows = theta.reshape(1, -1), z.reshape(1, -1)
        else:
            rows, z_rows = theta.reshape(theta.shape[0], -1), z.reshape(theta.shape[0], -1)
        scale = np.linalg.norm(rows, axis=1, keepdims=True) / \
            (np.linalg.norm(z_rows, axis=1, keepdims=True) + 1e-10)
        out.append((z_rows * scale).reshape(theta.shape))
    return out


def landscape_grid(model, loss_fn, steps=21, span=1.0, directions=None, generator=None,
                   ignore_bias=True):
    """Evaluate the loss on the plane θ* + α·δ + β·η, α, β ∈ [−span, span]: (alphas, betas, L).

    *loss_fn* takes no arguments and returns the loss of *model* (a scalar tensor or float), e.g.
    ``lambda: criterion(model(X), y)``; it runs under ``no_grad`` with the model in eval mode.
    *directions* is a pair of lists of arrays (default: two :func:`filter_normalized_direction`
    s).  ``L[j, i]`` is the loss at (alphas[i], betas[j]).  The weights are restored afterwards.

    >>> model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
    >>> X, y, criterion = cr.randn(32, 4), cr.randn(32, 1), cr.nn.MSELoss()
    >>> a, b, L = landscape_grid(model, lambda: criterion(model(X), y), steps=11)
    >>> L.shape, bool(np.isclose(L[5, 5], criterion(model(X), y).item()))    # θ* at the centre
    ((11, 11), True)
    """
    params = list(model.parameters())
    if not params:
        raise ConfigError("landscape_grid: the model has no parameters")
    if not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ConfigError(f"landscape_grid: steps must be an integer >= 2, got {steps!r}")
    if not span > 0:
        raise ConfigError(f"landscape_grid: span must be positive, got {span}")
    if generator is not None and not isinstance(generator, Generator):
        raise ArgumentTypeError(f"landscape_grid: generator must be a cr.Generator, got "
                                f"{type(generator).__name__}")
    if directions is None:
        directions = (filter_normalized_direction(params, generator, ignore_bias),
                      filter_normalized_direction(params, generator, ignore_bias))
    d1, d2 = ([np.asarray(a, np.float64) for a in d] for d in directions)
    for d in (d1, d2):
        if len(d) != len(params) or any(a.shape != p._data.shape for a, p in zip(d, params)):
            raise ShapeError("landscape_grid: each direction must hold one array per parameter, "
                             "of the parameter's shape")
    alphas = np.linspace(-span, span, steps)
    betas = np.linspace(-span, span, steps)
    losses = np.empty((steps, steps))
    saved = [p._data.copy() for p in params]
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            for j, b in enumerate(betas):
                for i, a in enumerate(alphas):
                    for p, s, u, v in zip(params, saved, d1, d2):
                        np.copyto(p._data, s + a * u + b * v, casting="unsafe")
                        p._vc[0] += 1
                    value = loss_fn()
                    losses[j, i] = float(value.item() if isinstance(value, Tensor) else value)
    finally:
        for p, s in zip(params, saved):
            np.copyto(p._data, s)
            p._vc[0] += 1
        if was_training and hasattr(model, "train"):
            model.train()
    return alphas, betas, losses


def loss_landscape(model, loss_fn, path, steps=21, span=1.0, directions=None, generator=None,
                   ignore_bias=True, log_scale=False, title=None):
    """Draw a network's loss landscape around its weights as a contour and a 3-D surface.

    Evaluates :func:`landscape_grid` (same arguments) and writes one PNG with two panels: the
    contour plot of L(α, β), the trained weights at the centre, and the surface.  Returns *path*.

    >>> model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
    >>> X, y, criterion = cr.randn(32, 4), cr.randn(32, 1), cr.nn.MSELoss()
    >>> cr.plot.loss_landscape(model, lambda: criterion(model(X), y), "landscape.png", steps=9)
    'landscape.png'
    """
    plt = require_matplotlib()
    alphas, betas, losses = landscape_grid(model, loss_fn, steps, span, directions, generator,
                                           ignore_bias)
    shown = np.log10(np.maximum(losses, 1e-12)) if log_scale else losses
    label = "log₁₀ loss" if log_scale else "loss"
    A, B = np.meshgrid(alphas, betas)
    fig = plt.figure(figsize=(11, 4.6))
    ax = fig.add_subplot(1, 2, 1)
    cs = ax.contourf(A, B, shown, levels=30, cmap="viridis")
    ax.contour(A, B, shown, levels=15, colors="w", linewidths=0.4, alpha=0.6)
    fig.colorbar(cs, ax=ax, label=label)
    ax.plot(0, 0, "r*", ms=12, label="trained weights θ*")
    ax.set_xlabel("α (direction δ)")
    ax.set_ylabel("β (direction η)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("contour", fontsize=10)
    ax3 = fig.add_subplot(1, 2, 2, projection="3d")
    ax3.plot_surface(A, B, shown, cmap="viridis", linewidth=0, antialiased=True, alpha=0.95)
    ax3.set_xlabel("α")
    ax3.set_ylabel("β")
    ax3.set_zlabel(label)
    ax3.set_title("surface", fontsize=10)
    fig.suptitle(title or "loss along two random filter-normalised directions "
                          "(Li et al., 2018)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
