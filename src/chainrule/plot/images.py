"""A grid of small images with a caption under each (misclassified digits, filters, feature
maps), drawn to a PNG."""
import math

import numpy as np

from chainrule.plot.figure import require_matplotlib, save_figure


def image_grid(images, path, captions=None, cols=8, title=None, cmap="gray_r", scale=1.3,
               symmetric=False):
    """Draw *images* (a sequence of 2-D arrays) in a grid of *cols* columns to a PNG at *path*.

    *captions* (one string per image) are written under them; *symmetric* centres the colour
    scale of each image on 0 (for filters and gradients).  Returns *path*.

    >>> image_grid([np.eye(8)] * 3, "grid.png", captions=["a", "b", "c"])   # doctest: +SKIP
    'grid.png'
    """
    plt = require_matplotlib()
    images = [np.asarray(getattr(im, "data", im), dtype=np.float64) for im in images]
    n = len(images)
    if n == 0:
        fig, ax = plt.subplots(figsize=(4, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, "(none)", ha="center", va="center")
    else:
        cols = max(1, min(cols, n))
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(scale * cols, scale * rows + 0.3),
                                 squeeze=False)
        for k, ax in enumerate(axes.flat):
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= n:
                ax.axis("off")
                continue
            im = images[k]
            if symmetric:
                lim = float(np.abs(im).max()) or 1.0
                ax.imshow(im, cmap="RdBu_r", vmin=-lim, vmax=lim)
            else:
                ax.imshow(im, cmap=cmap)
            if captions is not None:
                ax.set_xlabel(captions[k], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
