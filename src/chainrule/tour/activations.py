"""Step 3 — ReLU, sigmoid and tanh, and their derivatives as backprop computes them.

For an elementwise function y = f(x) the Jacobian is diagonal, so one ``backward()`` of
``f(x).sum()`` leaves every f′(xᵢ) in ``x.grad``.  The derivatives drawn here are those ``.grad``
values, not formulas; the formulas are printed beside them::

    relu(x) = max(0, x)          relu′(x) = 1 if x > 0 else 0   (0 at x = 0, as PyTorch)
    σ(x) = 1 / (1 + e⁻ˣ)         σ′(x) = σ(x)(1 − σ(x)) ≤ 1/4
    tanh(x)                      tanh′(x) = 1 − tanh²(x) ≤ 1
"""
import numpy as np

from chainrule import dtypes
from chainrule.factories import linspace, tensor
from chainrule.ops.elementwise import relu, sigmoid, tanh
from chainrule.plot.figure import require_matplotlib
from chainrule.tour._common import main, save

FILENAME = "03-activations.png"
TITLE = "Activations and their derivatives (the derivative is x.grad after one backward)"
FUNCTIONS = (("ReLU", relu, "relu′(x) = 1 if x > 0 else 0", lambda y: (y > 0).astype(float)),
             ("sigmoid σ", sigmoid, "σ′(x) = σ(x)(1 − σ(x))", lambda y: y * (1 - y)),
             ("tanh", tanh, "tanh′(x) = 1 − tanh²(x)", lambda y: 1 - y ** 2))


def value_and_derivative(f, lo=-5.0, hi=5.0, n=401):
    """x, f(x) and f′(x) on a grid, f′ from backprop (float64)."""
    x = linspace(lo, hi, n, dtype=dtypes.float64).requires_grad_()
    y = f(x)
    y.sum().backward()
    return x.detach().numpy(), y.detach().numpy(), x.grad.numpy()


def make(out_dir):
    """Three panels, one activation each, with its derivative; returns the PNG path."""
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 3.9))
    for ax, (name, f, formula, exact) in zip(axes, FUNCTIONS):
        x, y, dy = value_and_derivative(f)
        worst = np.max(np.abs(dy - exact(y)))
        ax.plot(x, y, color="tab:blue", lw=2, label=name)
        ax.plot(x, dy, color="tab:red", lw=2, ls="--", label="derivative (backprop)")
        ax.axhline(0, color="0.6", lw=0.7)
        ax.axvline(0, color="0.6", lw=0.7)
        ax.set_title(f"{name}:  {formula}\nmax |backprop − formula| = {worst:.1e}", fontsize=9)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    zero = tensor([0.0], dtype=dtypes.float64, requires_grad=True)
    relu(zero).sum().backward()
    axes[0].annotate(f"relu′(0) = {zero.grad.item():g}", (0, 0), (1.0, 0.6), fontsize=8,
                     arrowprops=dict(arrowstyle="->", lw=0.7))
    axes[0].set_ylim(-0.5, 5.2)
    axes[1].set_ylim(-0.1, 1.1)
    axes[2].set_ylim(-1.15, 1.15)
    fig.suptitle(TITLE, fontsize=11)
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
