"""``torch.utils.data``'s import path for :mod:`chainrule.data` (the same objects)."""
from chainrule import data as _data
from chainrule.data import *

__all__ = list(_data.__all__)


def __getattr__(name):
    return getattr(_data, name)
