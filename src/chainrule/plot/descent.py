"""Seeing descent: gradient descent's iterates on a quartic, and optimisers' paths on a surface.

Both pictures run the real optimisers (``cr.optim.SGD``, ``RMSprop``, ``Adam``) on a tensor of one
or two numbers, with gradients from backprop, and draw every iterate.

* :func:`step_sizes` — f(x) = x⁴ − 3x² + x, a tilted double well (minima at x ≈ −1.30 and
  x ≈ 1.13, a maximum at x ≈ 0.17), from x₀ = 2 with four step sizes: too small (crawls), about
  right, too large (zigzags in a 2-cycle, never settling) and far too large (diverges).
* :func:`optimizer_paths` — f(x, y) = (x² − 1)² + 0.3x + 2y², two basins (minima near
  (−1.04, 0), the deeper, and (0.96, 0)) with a saddle between them at (0.075, 0): from (2, 1.2)
  momentum carries SGD over the saddle into the deeper basin; from just beside the saddle plain
  gradient descent lingers on it while RMSprop and Adam, which rescale small gradients, leave at
  once.
"""

import numpy as np

from chainrule import dtypes
from chainrule.errors import ConfigError
from chainrule.factories import tensor
from chainrule.optim import SGD, Adam, RMSprop
from chainrule.plot.figure import require_matplotlib, save_figure


def quartic(x):
    """f(x) = x⁴ − 3x² + x, on a tensor or an array: two valleys of different depth.

    f′(x) = 4x³ − 6x + 1;  f″ = 12x² − 6, about 9.3 at the right minimum and 14.3 at the left.
    """
    return x ** 4 - 3 * x ** 2 + x


def two_basins(x, y):
    """f(x, y) = (x² − 1)² + 0.3x + 2y²: two minima with a saddle between them.

    ∇f = (4x(x² − 1) + 0.3, 4y): critical points where 4x³ − 4x + 0.3 = 0 and y = 0.
    """
    return (x ** 2 - 1) ** 2 + 0.3 * x + 2 * y ** 2


def _critical_points():
    xs = np.sort(np.roots([4.0, 0.0, -4.0, 0.3]).real)
    return {"global minimum": (xs[0], 0.0), "saddle": (xs[1], 0.0), "local minimum": (xs[2], 0.0)}


def descend(f, start, optimizer_cls, steps, limit=1e6, **kwargs):
    """The iterates of *optimizer_cls* minimising f from *start*: an array (steps + 1, dim).

    *f* maps a float64 tensor of shape (dim,) to a scalar tensor.  Stops early once an iterate
    is not finite or exceeds *limit* in size (divergence).

    >>> descend(lambda p: (p ** 2).sum(), [1.0], SGD, 3, lr=0.25)[:, 0]     # x ← x − 0.25 · 2x
    array([1.   , 0.5  , 0.25 , 0.125])
    """
    p = tensor(np.asarray(start, np.float64).reshape(-1), dtype=dtypes.float64,
               requires_grad=True)
    opt = optimizer_cls([p], **kwargs)
    path = [p._data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        f(p).backward()
        opt.step()
        path.append(p._data.copy())
        if not np.all(np.isfinite(p._data)) or np.abs(p._data).max() > limit:
            break
    return np.array(path)


def _values(f, xs):
    """f at each point of the 1-D array *xs*, evaluated on one float64 tensor."""
    return np.asarray(f(tensor(np.asarray(xs, np.float64), dtype=dtypes.float64))._data,
                      np.float64).reshape(-1)


STEP_SIZES = ((0.005, "too small: crawls"), (0.05, "about right"),
              (0.15, "too large: zigzags, never settles"), (0.2, "far too large: diverges"))


def step_sizes(path, f=quartic, x0=2.0, lrs=STEP_SIZES, steps=30, xlim=(-2.2, 2.4)):
    """Draw gradient descent on a one-variable function for several step sizes, one panel each.

    Each panel shows f and the iterates xₖ₊₁ = xₖ − η f′(xₖ) (``cr.optim.SGD`` on a one-element
    tensor).  *lrs* is a sequence of η or of (η, caption) pairs.  Returns *path* (a PNG).

    >>> cr.plot.step_sizes("step-sizes.png")
    'step-sizes.png'
    """
    plt = require_matplotlib()
    lrs = [(lr, "") if np.isscalar(lr) else tuple(lr) for lr in lrs]
    if not lrs:
        raise ConfigError("step_sizes: expected at least one step size in lrs")
    grid = np.linspace(*xlim, 400)
    curve = _values(f, grid)
    fig, axes = plt.subplots(1, len(lrs), figsize=(3.6 * len(lrs), 3.4), squeeze=False)
    for ax, (lr, caption) in zip(axes[0], lrs):
        xs = descend(lambda p: f(p).sum(), [x0], SGD, steps, lr=lr)[:, 0]
        ax.plot(grid, curve, color="0.4", lw=1.2)
        shown = xs[(xs >= xlim[0]) & (xs <= xlim[1])]
        fx = _values(f, shown)
        ax.plot(shown, fx, "-", color="tab:red", lw=0.8, alpha=0.6)
        ax.scatter(shown, fx, c=np.arange(len(shown)), cmap="viridis", s=18, zorder=3)
        ax.plot([shown[0]], [fx[0]], "o", mfc="none", mec="k", ms=9)
        end = xs[-1]
        note = (f"left the plot: |x| = {abs(end):.3g} after {len(xs) - 1} steps"
                if not (xlim[0] <= end <= xlim[1]) or not np.isfinite(end)
                else f"after {len(xs) - 1} steps x = {end:.3f}")
        ax.set_title(f"η = {lr:g}" + (f" — {caption}" if caption else ""), fontsize=9)
        ax.text(0.03, 0.96, note, transform=ax.transAxes, va="top", fontsize=8)
        ax.set_xlim(*xlim)
        ax.set_ylim(curve.min() - 0.5, max(curve.max(), fx.max() if fx.size else 0) + 0.5)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("f(x)")
    fig.suptitle(f"gradient descent from x₀ = {x0:g}: the step size decides", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


OPTIMIZERS = (("GD (SGD, lr 0.05)", SGD, {"lr": 0.05}),
              ("SGD + momentum 0.9 (lr 0.02)", SGD, {"lr": 0.02, "momentum": 0.9}),
              ("RMSprop (lr 0.05)", RMSprop, {"lr": 0.05}),
              ("Adam (lr 0.1)", Adam, {"lr": 0.1}))


def optimizer_paths(path, f=two_basins, starts=None, optimizers=OPTIMIZERS, steps=100,
                    xlim=(-2.0, 2.3), ylim=(-1.6, 1.9)):
    """Draw the contour plot of f(x, y) with the paths of several optimisers, one panel a start.

    *f(x, y)* works on tensors and arrays; *optimizers* is a sequence of (label, class, kwargs)
    run from the same start for *steps* steps.  For the default :func:`two_basins` the minima and
    the saddle are marked, and *starts* default to (2, 1.2) and a point beside the saddle.
    Returns *path* (a PNG).

    >>> cr.plot.optimizer_paths("optimizer-paths.png")
    'optimizer-paths.png'
    """
    plt = require_matplotlib()
    marks = _critical_points() if f is two_basins else {}
    if starts is None:
        if f is two_basins:
            starts = [(2.0, 1.2), (marks["saddle"][0] + 1e-4, 1.5)]
        else:
            starts = [(0.5 * (xlim[0] + xlim[1]), ylim[1] * 0.8)]
    gx, gy = np.meshgrid(np.linspace(*xlim, 240), np.linspace(*ylim, 200))
    z = np.asarray(f(gx, gy), np.float64)
    levels = np.unique(np.quantile(z, np.linspace(0.0, 0.97, 28)))
    fig, axes = plt.subplots(1, len(starts), figsize=(5.6 * len(starts), 4.6), squeeze=False)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for ax, start in zip(axes[0], starts):
        ax.contour(gx, gy, z, levels=levels if levels.size > 1 else 10, cmap="Greys",
                   linewidths=0.7)
        for k, (label, cls, kwargs) in enumerate(optimizers):
            pts = descend(lambda p: f(p[0], p[1]), start, cls, steps, **kwargs)
            c = colors[k % len(colors)]
            ax.plot(pts[:, 0], pts[:, 1], "-", color=c, lw=1.4, label=label)
            ax.plot(pts[-1, 0], pts[-1, 1], "o", color=c, ms=5)
        for name, (mx, my) in marks.items():
            ax.plot(mx, my, "x" if name == "saddle" else "*", color="k",
                    ms=9 if name == "saddle" else 12)
            ax.annotate(name, (mx, my), textcoords="offset points", xytext=(4, -12), fontsize=8)
        ax.plot(*start, "s", color="k", ms=5)
        ax.set_title(f"from ({start[0]:.3g}, {start[1]:.3g}), {steps} steps", fontsize=10)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.suptitle("f(x, y) = (x² − 1)² + 0.3x + 2y²" if f is two_basins else "optimiser paths",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
