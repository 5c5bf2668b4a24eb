"""``cr.utils``: PyTorch's ``torch.utils`` path for code written against it.

``from chainrule.utils.data import DataLoader`` (PyTorch's ``torch.utils.data``) is
:mod:`chainrule.data` under the name PyTorch code imports it by.
"""
from chainrule.utils import data

__all__ = ["data"]
