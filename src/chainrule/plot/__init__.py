"""Pictures of training and descent (matplotlib is optional: ``pip install chainrule[plot]``).

``history`` (training curves), ``step_sizes`` (gradient descent on a quartic with four step sizes),
``optimizer_paths`` (GD, momentum, RMSprop and Adam on a surface with a saddle and two basins),
``loss_landscape`` (a trained network's loss along two filter-normalised directions) and
``optimizer_curves`` (optimisers compared on the heart-disease model).
"""
from chainrule.plot.descent import optimizer_paths, step_sizes
from chainrule.plot.figure import require_matplotlib, save_figure
from chainrule.plot.history import history
from chainrule.plot.landscape import loss_landscape
from chainrule.plot.optimizers import optimizer_curves

__all__ = ["history", "loss_landscape", "optimizer_curves", "optimizer_paths", "require_matplotlib",
           "step_sizes"]
