"""Step 4 — binary cross-entropy as a function of the predicted probability, for y = 0 and y = 1.

    BCE(p, y) = −(y log p + (1 − y) log(1 − p))

For y = 1 it is −log p: zero at p = 1, without bound as p → 0; for y = 0 it is −log(1 − p).
A confident wrong answer costs without limit, and so does its gradient:
∂BCE/∂p = (p − y) / (p(1 − p)).  Through the sigmoid p = σ(z) the two factors cancel to
∂BCE/∂z = p − y, which is why the loss is computed from logits
(``F.binary_cross_entropy_with_logits``, ``BCEWithLogitsLoss``).  Every curve here is computed
by ``cr.nn.functional``; the derivatives by ``backward()``.
"""
from chainrule import dtypes
from chainrule.factories import full, linspace
from chainrule.nn import functional as F
from chainrule.plot.figure import require_matplotlib
from chainrule.tour._common import main, save

FILENAME = "04-bce.png"
TITLE = "Binary cross-entropy: the cost of predicting p when the truth is y"


def bce_curve(y, lo=1e-3, hi=1 - 1e-3, n=400):
    """p, BCE(p, y) and ∂BCE/∂p on a grid of probabilities (float64, by backprop)."""
    p = linspace(lo, hi, n, dtype=dtypes.float64).requires_grad_()
    loss = F.binary_cross_entropy(p, full((n,), float(y), dtype=dtypes.float64), reduction="none")
    loss.sum().backward()
    return p.detach().numpy(), loss.detach().numpy(), p.grad.numpy()


def logit_gradient(y, lo=-6.0, hi=6.0, n=400):
    """z and ∂BCE/∂z for p = σ(z), by backprop through ``binary_cross_entropy_with_logits``."""
    z = linspace(lo, hi, n, dtype=dtypes.float64).requires_grad_()
    F.binary_cross_entropy_with_logits(z, full((n,), float(y), dtype=dtypes.float64),
                                       reduction="sum").backward()
    return z.detach().numpy(), z.grad.numpy()


def make(out_dir):
    """Three panels: the loss, its derivative in p, its derivative in the logit; returns the path."""
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9))
    colors = {0: "tab:blue", 1: "tab:red"}
    for y in (0, 1):
        p, loss, dp = bce_curve(y)
        axes[0].plot(p, loss, color=colors[y], lw=2,
                     label=f"y = {y}:  −log({'p' if y else '1 − p'})")
        axes[1].plot(p, dp, color=colors[y], lw=2, label=f"y = {y}")
        z, dz = logit_gradient(y)
        axes[2].plot(z, dz, color=colors[y], lw=2, label=f"y = {y}:  σ(z) − {y}")
    axes[0].set_ylim(0, 5)
    axes[0].set_title("BCE(p, y) = −(y log p + (1 − y) log(1 − p))", fontsize=9)
    axes[0].set_xlabel("predicted probability p")
    axes[1].set_ylim(-30, 30)
    axes[1].set_title("∂BCE/∂p = (p − y) / (p(1 − p)): unbounded", fontsize=9)
    axes[1].set_xlabel("predicted probability p")
    axes[2].set_title("through the sigmoid, ∂BCE/∂z = σ(z) − y: bounded", fontsize=9)
    axes[2].set_xlabel("logit z (p = σ(z))")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(TITLE + " (computed by cr.nn.functional and backward)", fontsize=11)
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
