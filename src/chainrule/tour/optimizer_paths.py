"""Step 8 — optimiser paths on a 2-D surface with two basins and a saddle.

f(x, y) = (x² − 1)² + 0.3x + 2y².  From (2, 1.2) plain gradient descent stops in the nearer,
shallower basin while SGD with momentum 0.9 carries over the saddle into the deeper one; from just
beside the saddle, gradient descent lingers on it (the gradient there is almost zero) while
RMSprop and Adam, which divide by a running size of the gradient, leave at once.  Every path is
the real optimiser (``cr.optim.SGD``, ``RMSprop``, ``Adam``) stepping on backprop's gradient.
The figure is :func:`chainrule.plot.optimizer_paths` (also ``chainrule plot optimizer-paths``).
"""
from chainrule.plot.descent import optimizer_paths
from chainrule.tour._common import figure_path, main

FILENAME = "08-optimizer-paths.png"
TITLE = "Optimiser paths: gradient descent, momentum, RMSprop and Adam on a surface with a saddle"


def make(out_dir):
    """Draw the optimisers' paths; returns the PNG path."""
    return optimizer_paths(figure_path(out_dir, FILENAME))


if __name__ == "__main__":
    raise SystemExit(main(make))
