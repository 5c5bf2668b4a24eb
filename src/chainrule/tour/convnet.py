"""Step 15 — seeing a convnet: its learned filters, the feature maps of one digit, a saliency map.

The network of ``chainrule train digits`` (conv 3×3 → ReLU → max-pool, twice, then a linear
layer) is trained for a few epochs on the 8×8 handwritten digits.  The figure shows

- the 16 filters of the first convolution (3×3 weights; red positive, blue negative),
- what they make of one test digit: the 16 feature maps relu(w ⋆ x + b), each 8×8,
- the saliency map: the gradient of the predicted class's score (its logit) with respect to the
  64 input pixels, computed by backprop all the way down to the input — which pixels, nudged,
  would change the network's mind the most.
"""
import numpy as np

from chainrule.datasets.digits import load_digits
from chainrule.grad_mode import no_grad
from chainrule.nn.functional import relu
from chainrule.plot.figure import require_matplotlib
from chainrule.tensor import Tensor
from chainrule.tour._common import main, save
from chainrule.training.digits import images_tensor, train_digits

FILENAME = "15-convnet.png"
TITLE = "Seeing a convnet: learned filters, feature maps of one digit, a saliency map"
EPOCHS = 15


def train(seed=0, epochs=EPOCHS):
    """The digits network trained as ``chainrule train digits`` does (fewer epochs); returns
    (model, test images as pixel rows, their labels)."""
    result = train_digits(epochs=epochs, seed=seed)
    return result["model"], result["X_test"], result["y_test"]


def filters(model):
    """The first convolution's kernels, (16, 3, 3)."""
    return model.features[0].weight.detach().numpy()[:, 0].copy()


@no_grad()
def feature_maps(model, pixels):
    """relu(conv1(x)) for one image (64 pixel values): (16, 8, 8)."""
    model.eval()
    return relu(model.features[0](images_tensor(pixels[None]))).numpy()[0].copy()


def saliency(model, pixels):
    """(∂ logit_c / ∂ pixels as an 8×8 array, c, probabilities): c the predicted class, the
    gradient by backprop down to the input (in the pixels' own units, 0..16)."""
    model.eval()
    x = Tensor(np.asarray(pixels, dtype=np.float32).reshape(1, 1, 8, 8), requires_grad=True)
    logits = model(x / 16.0)
    c = int(logits.detach().numpy().argmax())
    logits[0, c].backward()
    z = logits.detach().numpy()[0]
    p = np.exp(z - z.max())
    return x.grad.numpy()[0, 0].copy(), c, p / p.sum()


def make(out_dir, model=None, index=None):
    """Train (unless *model* is given), pick a digit (test image *index*, default the first),
    draw; returns the PNG path."""
    plt = require_matplotlib()
    if model is None:
        model, X, y = train()
    else:                                     # a given model: any digit of the data set
        d = load_digits()
        X, y = d.data, d.target
    i = 0 if index is None else index
    pixels, label = X[i], int(y[i])
    w, maps = filters(model), feature_maps(model, pixels)
    grad, c, prob = saliency(model, pixels)
    fig = plt.figure(figsize=(13, 6.6))
    grid = fig.add_gridspec(3, 16, height_ratios=[1, 1, 2.4], hspace=0.45)
    lim = float(np.abs(w).max()) or 1.0
    for k in range(16):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(w[k], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks([])
        ax.set_yticks([])
        if k == 0:
            ax.set_title("first-layer filters (3×3)", loc="left", fontsize=9)
        ax = fig.add_subplot(grid[1, k])
        ax.imshow(maps[k], cmap="magma")
        ax.set_xticks([])
        ax.set_yticks([])
        if k == 0:
            ax.set_title("their feature maps of the digit below (8×8, after ReLU)", loc="left",
                         fontsize=9)
    panels = [(pixels.reshape(8, 8), "gray_r", None, f"test digit (true {label})"),
              (np.abs(grad), "hot", None, f"saliency |∂ score_{c} / ∂ pixel|"),
              (grad, "RdBu_r", float(np.abs(grad).max()) or 1.0,
               "signed gradient (red: more ink raises the score)")]
    for j, (img, cmap, sym, title) in enumerate(panels):
        ax = fig.add_subplot(grid[2, 4 * j:4 * j + 4])
        kw = {"vmin": -sym, "vmax": sym} if sym else {}
        ax.imshow(img, cmap=cmap, **kw)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(grid[2, 13:16])
    ax.barh(range(10), prob, color=["C3" if k == c else "C0" for k in range(10)])
    ax.set_yticks(range(10))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title(f"predicted {c} ({prob[c]:.0%})", fontsize=9)
    fig.suptitle("A convnet on the 8×8 digits: what the first layer learned and looks at")
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
