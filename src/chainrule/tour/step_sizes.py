"""Step 7 — step sizes: gradient descent on the quartic with η too small, right, too large.

The same f(x) = x⁴ − 3x² + x from x₀ = 2 with four learning rates, each run by ``cr.optim.SGD``:
η = 0.005 crawls, η = 0.05 settles in 30 steps, η = 0.15 bounces in a 2-cycle across the valley
(|1 − η f″(x*)| > 1 there) and η = 0.2 diverges.  The figure is :func:`chainrule.plot.step_sizes`
(also ``chainrule plot step-sizes``).
"""
from chainrule.plot.descent import step_sizes
from chainrule.tour._common import figure_path, main

FILENAME = "07-step-sizes.png"
TITLE = "Step sizes: too small, about right, too large, far too large"


def make(out_dir):
    """Draw the four step sizes; returns the PNG path."""
    return step_sizes(figure_path(out_dir, FILENAME))


if __name__ == "__main__":
    raise SystemExit(main(make))
