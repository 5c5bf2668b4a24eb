"""``cr.autograd.Function``: PyTorch's base class for ops with a custom backward.

It lives in ``chainrule/function.py``, below the ops that are built on it; this module gives it
its PyTorch address.
"""
from chainrule.function import Function, Op

__all__ = ["Function", "Op"]
