"""Step 1 — backprop on a chain of one-unit layers, every derivative checked by finite differences.

The network is the lectures' chain: one number in, six one-unit layers, one number out::

    h₀ = x,   zᵢ = wᵢ hᵢ₋₁ + bᵢ,   hᵢ = σ(zᵢ)   (i = 1 … 6),   L = (h₆ − y)²

Backprop walks it backwards with one multiplication per layer::

    ∂L/∂h₆ = 2 (h₆ − y)
    ∂L/∂wᵢ = ∂L/∂hᵢ · σ′(zᵢ) · hᵢ₋₁
    ∂L/∂hᵢ₋₁ = ∂L/∂hᵢ · σ′(zᵢ) · wᵢ

chainrule computes every ∂L/∂hᵢ (``retain_grad`` on the hidden values) and every ∂L/∂wᵢ (the
``.grad`` of each ``cr.nn.Linear(1, 1)``) in one ``backward()``; the figure puts each next to a
central finite difference (L(θ + ε) − L(θ − ε)) / 2ε computed by re-running the forward pass, and
``cr.autograd.gradcheck`` confirms the whole Jacobian.  σ′ ≤ 1/4, so the gradient shrinks
layer by layer on its way back: the vanishing gradient, measured.
"""
import numpy as np

from chainrule import dtypes
from chainrule.autograd import gradcheck
from chainrule.factories import tensor
from chainrule.nn import Linear
from chainrule.ops.elementwise import sigmoid
from chainrule.random import manual_seed
from chainrule.tour._common import main, save
from chainrule.plot.figure import require_matplotlib

FILENAME = "01-chain-backprop.png"
TITLE = "Backprop on a chain of one-unit layers, checked by finite differences"
DEPTH = 6
X, Y = 1.5, 0.0
EPS = 1e-6


def build_chain(depth=DEPTH, seed=0):
    """*depth* one-unit ``Linear(1, 1)`` layers in float64, seeded."""
    manual_seed(seed)
    return [Linear(1, 1, dtype=dtypes.float64) for _ in range(depth)]


def forward(layers, h, start=0):
    """Run the chain from layer *start* on the value *h*; returns the hidden values and L."""
    hs = []
    for layer in layers[start:]:
        h = sigmoid(layer(h))
        hs.append(h)
    return hs, ((h - Y) ** 2).sum()


def backprop(layers, x=X):
    """h₁…h_L, L, ∂L/∂hᵢ and ∂L/∂wᵢ from one ``backward()``, as float arrays."""
    for layer in layers:
        layer.zero_grad()
    hs, loss = forward(layers, tensor([[x]], dtype=dtypes.float64))
    for h in hs:
        h.retain_grad()
    loss.backward()
    return (np.array([h.item() for h in hs]), loss.item(),
            np.array([h.grad.item() for h in hs]),
            np.array([layer.weight.grad.item() for layer in layers]))


def finite_differences(layers, hs, x=X, eps=EPS):
    """The same derivatives from the forward pass alone: central differences in hᵢ and wᵢ."""
    def loss_from(i, value):   # L as a function of hᵢ (layers i+1 … L run on it)
        return forward(layers, tensor([[value]], dtype=dtypes.float64), start=i + 1)[1].item()

    def loss_at_weight(i, delta):
        w = layers[i].weight._data
        keep = w[0, 0]
        w[0, 0] = keep + delta
        value = forward(layers, tensor([[x]], dtype=dtypes.float64))[1].item()
        w[0, 0] = keep
        return value

    dh = np.array([(loss_from(i, h + eps) - loss_from(i, h - eps)) / (2 * eps)
                   for i, h in enumerate(hs)])
    dw = np.array([(loss_at_weight(i, eps) - loss_at_weight(i, -eps)) / (2 * eps)
                   for i in range(len(layers))])
    return dh, dw


def check_all(layers, x=X):
    """``cr.autograd.gradcheck`` of L with respect to every weight and bias at once."""
    params = [p for layer in layers for p in (layer.weight, layer.bias)]

    def loss_of(*ps):
        h = tensor([[x]], dtype=dtypes.float64)
        for k in range(0, len(ps), 2):
            h = sigmoid(h @ ps[k].T + ps[k + 1])
        return ((h - Y) ** 2).sum()

    return gradcheck(loss_of, [p.detach().requires_grad_() for p in params])


def make(out_dir):
    """Draw the chain's gradients, backprop beside finite differences; returns the PNG path."""
    plt = require_matplotlib()
    layers = build_chain()
    hs, loss, dh, dw = backprop(layers)
    fd_h, fd_w = finite_differences(layers, hs)
    ok = check_all(layers)
    idx = np.arange(1, len(layers) + 1)

    fig = plt.figure(figsize=(12, 6.4))
    grid = fig.add_gridspec(2, 2, height_ratios=[1.0, 1.25], width_ratios=[1.35, 1.0])
    ax_chain = fig.add_subplot(grid[0, :])
    ax_table = fig.add_subplot(grid[1, 0])
    ax_plot = fig.add_subplot(grid[1, 1])

    # the chain itself, every node annotated with its value and gradient
    ax_chain.set_axis_off()
    ax_chain.set_xlim(-0.6, len(layers) + 1.6)
    ax_chain.set_ylim(-1.3, 1.0)
    xs = np.arange(len(layers) + 2)
    labels = ["x"] + [f"h{i}" for i in idx] + ["L"]
    values = [X] + list(hs) + [loss]
    for k, (px, lab, val) in enumerate(zip(xs, labels, values)):
        color = "#cbd5e8" if k == 0 else ("#b3e2cd" if k == len(xs) - 1 else "#fdcdac")
        ax_chain.add_patch(plt.Circle((px, 0.35), 0.3, color=color, ec="k", lw=0.8))
        ax_chain.text(px, 0.35, lab, ha="center", va="center", fontsize=11)
        ax_chain.text(px, -0.08, f"{val:.4f}", ha="center", fontsize=8)
        if 1 <= k <= len(layers):
            ax_chain.text(px, -0.42, f"∂L/∂h = {dh[k - 1]:.3e}", ha="center", fontsize=7.5,
                          color="tab:red")
            ax_chain.text(px, -0.7, f"f.d.     {fd_h[k - 1]:.3e}", ha="center", fontsize=7.5,
                          color="0.35")
            w = layers[k - 1].weight.item()
            ax_chain.text(px - 0.5, 0.78, f"w{k} = {w:+.2f}", ha="center", fontsize=8)
        if k:
            ax_chain.annotate("", (px - 0.3, 0.35), (px - 0.7, 0.35),
                              arrowprops=dict(arrowstyle="->", lw=1.0))
    ax_chain.text(len(xs) - 1, -0.42, f"y = {Y:g}", ha="center", fontsize=8)
    ax_chain.text(-0.5, -1.15, "forward: hᵢ = σ(wᵢ hᵢ₋₁ + bᵢ), L = (h₆ − y)²;  backward: "
                  "∂L/∂hᵢ₋₁ = ∂L/∂hᵢ · σ′(zᵢ) · wᵢ,  ∂L/∂wᵢ = ∂L/∂hᵢ · σ′(zᵢ) · hᵢ₋₁",
                  fontsize=9)

    # the numbers: backprop next to finite differences
    rows = [[f"{i}", f"{dh[i - 1]:+.6e}", f"{fd_h[i - 1]:+.6e}", f"{dw[i - 1]:+.6e}",
             f"{fd_w[i - 1]:+.6e}"] for i in idx]
    ax_table.set_axis_off()
    table = ax_table.table(cellText=rows, loc="center", colLabels=[
        "layer i", "∂L/∂hᵢ backprop", "∂L/∂hᵢ finite diff.", "∂L/∂wᵢ backprop",
        "∂L/∂wᵢ finite diff."], cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1.0, 1.45)
    worst = max(np.max(np.abs(dh - fd_h) / np.abs(fd_h)), np.max(np.abs(dw - fd_w) / np.abs(fd_w)))
    ax_table.set_title(f"largest relative difference {worst:.1e};  "
                       f"cr.autograd.gradcheck over all weights and biases: {ok}", fontsize=9)

    # the vanishing gradient
    ax_plot.semilogy(idx, np.abs(dh), "o-", color="tab:red", label="|∂L/∂hᵢ| backprop")
    ax_plot.semilogy(idx, np.abs(fd_h), "x", color="k", ms=9, label="finite differences")
    ax_plot.semilogy(idx, np.abs(dw), "s-", color="tab:blue", label="|∂L/∂wᵢ| backprop")
    ax_plot.semilogy(idx, np.abs(fd_w), "x", color="k", ms=9)
    ax_plot.set_xlabel("layer i (the loss is after layer 6)")
    ax_plot.set_title("each sigmoid multiplies the gradient by σ′ ≤ 1/4", fontsize=9)
    ax_plot.grid(alpha=0.3, which="both")
    ax_plot.legend(fontsize=8)
    fig.suptitle(TITLE, fontsize=11)
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
