"""Step 9 — local minima and a saddle point, told apart by second derivatives.

Where the gradient vanishes, the second derivative decides what the point is:

* one variable, f(x) = x⁴ − 3x² + x: f″ > 0 a minimum, f″ < 0 a maximum.  f′ and f″ here are
  ``cr.grad(f)`` and ``cr.grad(cr.grad(f))`` — backprop through backprop (``create_graph``);
* two variables, f(x, y) = (x² − 1)² + 0.3x + 2y²: the eigenvalues of the Hessian
  (``cr.autograd.functional.hessian``) — both positive, a minimum; of both signs, a saddle,
  which is a minimum along one direction and a maximum along another.  Only one of the two
  minima is the global one: gradient descent is content with either.
"""
import numpy as np

from chainrule import dtypes
from chainrule.autograd.functional import hessian
from chainrule.autograd.transforms import grad
from chainrule.factories import tensor
from chainrule.plot.descent import quartic, two_basins
from chainrule.plot.figure import require_matplotlib
from chainrule.tour._common import main, save

FILENAME = "09-minima-saddle.png"
TITLE = "Local minima and a saddle point: the second derivative tells them apart"


def _f2(p):
    return two_basins(p[0], p[1])


def classify(eigenvalues):
    """'minimum', 'maximum' or 'saddle' from the Hessian's eigenvalues."""
    if np.all(eigenvalues > 0):
        return "minimum"
    if np.all(eigenvalues < 0):
        return "maximum"
    return "saddle"


def quartic_points():
    """[(x, f′(x), f″(x), kind)] at the roots of f′ = 4x³ − 6x + 1, derivatives by autograd."""
    d1 = grad(lambda x: quartic(x).sum())
    d2 = grad(lambda x: d1(x).sum())
    out = []
    for x in np.sort(np.roots([4.0, 0.0, -6.0, 1.0]).real):
        t = tensor([x], dtype=dtypes.float64)
        curvature = d2(t).item()
        out.append((x, d1(t).item(), curvature, classify(np.array([curvature]))))
    return out


def surface_points():
    """[(x, y, |∇f|, Hessian eigenvalues, kind)] at the critical points of the two-basin surface."""
    out = []
    for x in np.sort(np.roots([4.0, 0.0, -4.0, 0.3]).real):
        p = tensor([x, 0.0], dtype=dtypes.float64)
        g = grad(_f2)(p).numpy()
        eig = np.linalg.eigvalsh(hessian(_f2, p).numpy())
        out.append((x, 0.0, float(np.linalg.norm(g)), eig, classify(eig)))
    return out


def make(out_dir):
    """Three panels: the quartic with f′ and f″, the surface's contours, the surface in 3-D."""
    plt = require_matplotlib()
    fig = plt.figure(figsize=(15, 4.6))
    ax1 = fig.add_subplot(1, 3, 1)
    ax2 = fig.add_subplot(1, 3, 2)
    ax3 = fig.add_subplot(1, 3, 3, projection="3d")

    xs = np.linspace(-2.0, 2.0, 400)
    d1 = grad(lambda x: quartic(x).sum())
    d2 = grad(lambda x: d1(x).sum())
    t = tensor(xs, dtype=dtypes.float64)
    ax1.plot(xs, quartic(xs), color="k", lw=2, label="f(x) = x⁴ − 3x² + x")
    ax1.plot(xs, d1(t).numpy(), color="tab:blue", lw=1.2, ls="--", label="f′ = cr.grad(f)")
    ax1.plot(xs, d2(t).numpy() / 4, color="tab:red", lw=1.2, ls=":",
             label="f″ / 4 = cr.grad(cr.grad(f)) / 4")
    for x, slope, curv, kind in quartic_points():
        ax1.plot(x, quartic(x), "o", color="tab:green" if kind == "minimum" else "tab:orange")
        ax1.annotate(f"{kind}\nf′ = {slope:.0e}, f″ = {curv:+.1f}", (x, quartic(x)),
                     textcoords="offset points", xytext=(0, 10 if kind == "maximum" else -30),
                     ha="center", fontsize=7.5)
    ax1.axhline(0, color="0.6", lw=0.7)
    ax1.set_ylim(-6, 8)
    ax1.set_xlabel("x")
    ax1.set_title("one variable: the sign of f″\n(f′ and f″ by backprop, nested)", fontsize=9)
    ax1.legend(fontsize=7.5, loc="upper center")
    ax1.grid(alpha=0.3)

    gx, gy = np.meshgrid(np.linspace(-1.8, 1.8, 200), np.linspace(-1.2, 1.2, 160))
    z = two_basins(gx, gy)
    ax2.contour(gx, gy, z, levels=np.quantile(z, np.linspace(0, 0.9, 24)), cmap="viridis",
                linewidths=0.8)
    points = surface_points()
    deepest = min(points, key=lambda q: two_basins(q[0], q[1]))
    for x, y, gnorm, eig, kind in points:
        name = "global minimum" if (x, y) == deepest[:2] else (
            "local minimum" if kind == "minimum" else kind)
        ax2.plot(x, y, "x" if kind == "saddle" else "*", color="k", ms=10)
        ax2.annotate(f"{name}\nλ = {eig[0]:+.2f}, {eig[1]:+.2f}", (x, y),
                     textcoords="offset points", xytext=(0, 14 if kind == "saddle" else -36),
                     ha="center", fontsize=7.5,
                     bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.85))
        ax3.scatter([x], [y], [two_basins(x, y)], color="red" if kind == "saddle" else "k", s=30)
    ax2.set_xlabel("x")
    ax2.set_ylabel("y")
    ax2.set_title("two variables: eigenvalues λ of the Hessian\n(cr.autograd.functional.hessian)",
                  fontsize=9)

    sx, sy = np.meshgrid(np.linspace(-1.6, 1.6, 60), np.linspace(-1.0, 1.0, 40))
    ax3.plot_surface(sx, sy, two_basins(sx, sy), cmap="viridis", alpha=0.75, linewidth=0)
    ax3.set_xlabel("x")
    ax3.set_ylabel("y")
    ax3.set_title("f(x, y) = (x² − 1)² + 0.3x + 2y²\nthe saddle (red) between two minima",
                  fontsize=9)
    ax3.view_init(elev=28, azim=-60)
    fig.suptitle(TITLE, fontsize=11)
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
