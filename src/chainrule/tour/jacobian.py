"""Step 5 — the Jacobian of a layer, as a heat map.

For a layer y = tanh(W x + b) with W of shape (5, 8) the Jacobians are::

    ∂y/∂x = diag(1 − y²) · W                       (5 × 8: W with each row rescaled)
    ∂yᵢ/∂W_jk = δᵢⱼ (1 − yᵢ²) x_k                   (5 × 40: block diagonal, row i sees only row i of W)

``cr.autograd.functional.jacobian`` builds each by one vector-Jacobian product per output element —
row i of J is eᵢᵀ J, one backward pass — which is also why reverse mode never needs J itself in
training: backprop only ever asks for vᵀ J.  The titles give the largest difference from the
formulas above.
"""
import numpy as np

from chainrule import dtypes
from chainrule.autograd.functional import jacobian
from chainrule.factories import randn
from chainrule.nn import Linear
from chainrule.nn import functional as F
from chainrule.ops.elementwise import tanh
from chainrule.plot.figure import require_matplotlib
from chainrule.random import manual_seed
from chainrule.tour._common import main, save

FILENAME = "05-jacobian.png"
TITLE = "The Jacobian of a layer y = tanh(Wx + b), W: 5 × 8 (cr.autograd.functional.jacobian)"


def layer_jacobians(seed=0, n_in=8, n_out=5):
    """W, x, y and the three Jacobians ∂(Wx + b)/∂x, ∂y/∂x and ∂y/∂W, as arrays."""
    manual_seed(seed)
    layer = Linear(n_in, n_out, dtype=dtypes.float64)
    x = randn(n_in, dtype=dtypes.float64)
    W, b = layer.weight.detach(), layer.bias.detach()
    j_lin = jacobian(lambda v: layer(v), x).numpy()
    j_x = jacobian(lambda v: tanh(layer(v)), x).numpy()
    j_w = jacobian(lambda w: tanh(F.linear(x, w, b)), W).numpy().reshape(n_out, -1)
    y = tanh(layer(x)).detach().numpy()
    return W.numpy(), x.numpy(), y, j_lin, j_x, j_w


def _heat(ax, fig, m, title, xlabel, ylabel="output yᵢ"):
    lim = np.abs(m).max()
    im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.85)


def make(out_dir):
    """Three heat maps: J of the linear part, J in x, J in W; returns the PNG path."""
    plt = require_matplotlib()
    W, x, y, j_lin, j_x, j_w = layer_jacobians()
    err_x = np.abs(j_x - (1 - y ** 2)[:, None] * W).max()
    err_w = np.abs(j_w - np.kron(np.diag(1 - y ** 2), x[None, :])).max()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), gridspec_kw={"width_ratios": [1, 1, 2.6]})
    _heat(axes[0], fig, j_lin, f"∂(Wx + b)/∂x = W\n(max diff from W {np.abs(j_lin - W).max():.1e})",
          "input x_k")
    _heat(axes[1], fig, j_x, f"∂y/∂x = diag(1 − y²) W\n(max diff from formula {err_x:.1e})",
          "input x_k")
    _heat(axes[2], fig, j_w, "∂y/∂W: block diagonal, ∂yᵢ/∂W_jk = δᵢⱼ (1 − yᵢ²) x_k\n"
          f"(max diff from formula {err_w:.1e})", "weight W_jk (row-major: j = 0 … 4, k = 0 … 7)")
    for j in range(1, W.shape[0]):
        axes[2].axvline(j * W.shape[1] - 0.5, color="0.5", lw=0.6)
    fig.suptitle(TITLE, fontsize=11)
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
