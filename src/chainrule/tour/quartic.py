"""Step 6 — gradient descent on the quartic f(x) = x⁴ − 3x² + x.

The lectures' one-variable landscape: a deep minimum at x ≈ −1.30, a shallower one at x ≈ 1.13
and a maximum between them at x ≈ 0.17.  Gradient descent

    xₖ₊₁ = xₖ − η f′(xₖ),   f′(x) = 4x³ − 6x + 1   (here from backprop, ``cr.optim.SGD``)

goes downhill from wherever it starts, so the start decides the minimum: from 2 and from 0.3 it
settles in the shallow valley, from −0.1 (just left of the maximum) in the deep one.  Near a
minimum the error shrinks by a constant factor |1 − η f″(x*)| per step — a straight line on a
log scale.
"""
import numpy as np

from chainrule import dtypes
from chainrule.autograd.transforms import grad
from chainrule.factories import tensor
from chainrule.optim import SGD
from chainrule.plot.descent import descend, quartic
from chainrule.plot.figure import require_matplotlib
from chainrule.tour._common import main, save

FILENAME = "06-quartic.png"
TITLE = "Gradient descent on f(x) = x⁴ − 3x² + x (η = 0.05): where it starts decides where it ends"
STARTS = (2.0, 0.3, -0.1)
LR = 0.05
STEPS = 40


def critical_points():
    """The roots of f′(x) = 4x³ − 6x + 1, sorted: (deep minimum, maximum, shallow minimum)."""
    return np.sort(np.roots([4.0, 0.0, -6.0, 1.0]).real)


def slopes(xs):
    """f′ at every point of *xs*, by one backward pass (``cr.grad`` of Σ f(xᵢ))."""
    return grad(lambda x: quartic(x).sum())(tensor(xs, dtype=dtypes.float64)).numpy()


def make(out_dir):
    """Iterates on the curve, f(xₖ) − f(x*) and |f′(xₖ)| against k; returns the PNG path."""
    plt = require_matplotlib()
    lo, peak, hi = critical_points()
    grid = np.linspace(-2.0, 2.2, 400)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.0))
    axes[0].plot(grid, quartic(grid), color="0.4", lw=1.3)
    colors = ("tab:red", "tab:green", "tab:blue")
    for x0, c in zip(STARTS, colors):
        xs = descend(lambda p: quartic(p).sum(), [x0], SGD, STEPS, lr=LR)[:, 0]
        end = lo if abs(xs[-1] - lo) < abs(xs[-1] - hi) else hi
        label = f"x₀ = {x0:g} → {xs[-1]:.3f}"
        axes[0].plot(xs, quartic(xs), "o-", color=c, ms=3.5, lw=0.8, label=label)
        k = np.arange(len(xs))
        gap = quartic(xs) - quartic(end)
        axes[1].semilogy(k, np.maximum(gap, 1e-16), "-", color=c, label=label)
        axes[2].semilogy(k, np.maximum(np.abs(slopes(xs)), 1e-16), "-", color=c, label=label)
    for x, name in ((lo, "deep minimum"), (peak, "maximum"), (hi, "shallow minimum")):
        axes[0].annotate(f"{name}\nx = {x:.2f}", (x, quartic(x)), textcoords="offset points",
                         xytext=(0, -24 if "min" in name else 8), ha="center", fontsize=7.5)
    axes[0].set_ylim(-5.4, 6.8)
    axes[1].set_ylim(1e-15, None)
    axes[2].set_ylim(1e-15, None)
    axes[0].set_xlabel("x")
    axes[0].set_ylabel("f(x)")
    axes[0].set_title("the iterates xₖ₊₁ = xₖ − η f′(xₖ) on the curve", fontsize=9)
    axes[1].set_title("f(xₖ) − f(minimum reached): linear convergence", fontsize=9)
    axes[2].set_title("|f′(xₖ)|, the slope backprop returns", fontsize=9)
    for ax in axes[1:]:
        ax.set_xlabel("step k")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(TITLE, fontsize=11)
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
