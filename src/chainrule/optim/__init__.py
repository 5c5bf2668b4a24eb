"""Optimisers and learning-rate schedules, with PyTorch's names, options and arithmetic.

``cr.optim.SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adamax``, ``Adagrad`` and ``LBFGS`` each
step exactly as their ``torch.optim`` namesake; ``cr.optim.lr_scheduler`` holds the schedules.
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

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adamax", "Adagrad", "LBFGS",
           "lr_scheduler"]
