"""Optimisers and learning-rate schedules, with PyTorch's names, options and arithmetic.

``cr.optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adamax``, ``Adagrad`` and ``LBFGS`` each
step exactly as their ``torch.optim`` namesake; ``cr.optim.lr_scheduler`` holds the schedules.
Beyond the gradient: ``estimate_grad`` and ``blackbox`` (zeroth order, by perturbation),
``EvolutionStrategy`` / ``nevergrad_minimize`` / ``minimize_blackbox`` (population methods),
``NewtonCG`` / ``NonlinearCG`` and ``minimize`` (second order; ``minimize`` wraps SciPy).
"""
from chainrule.optim.optimizer import Optimizer, required
from chainrule.optim.sgd import SGD
from chainrule.optim.adam import Adam
from chainrule.optim.adamw import AdamW
from chainrule.optim.rmsprop import RMSprop
from chainrule.optim.adamax import Adamax
from chainrule.optim.adagrad import Adagrad
from chainrule.optim.lbfgs import LBFGS
from chainrule.optim import lr_scheduler
from chainrule.optim.zeroth_order import blackbox, estimate_grad
from chainrule.optim.evolution import EvolutionStrategy, minimize_blackbox, nevergrad_minimize
from chainrule.optim.second_order import NewtonCG, NonlinearCG, minimize

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adamax", "Adagrad", "LBFGS",
           "lr_scheduler", "blackbox", "estimate_grad", "EvolutionStrategy", "minimize_blackbox",
           "nevergrad_minimize", "NewtonCG", "NonlinearCG", "minimize"]

from chainrule.optim.nadam import NAdam  # noqa: E402
from chainrule.optim.radam import RAdam  # noqa: E402
from chainrule.optim.adadelta import Adadelta  # noqa: E402
from chainrule.optim.rprop import Rprop  # noqa: E402
from chainrule.optim.asgd import ASGD  # noqa: E402

__all__ += ["NAdam", "RAdam", "Adadelta", "Rprop", "ASGD"]
