"""Padding layers: ``ZeroPad2d``, ``ConstantPad2d``, ``ReflectionPad2d``, ``ReplicationPad2d``.

*padding* is an int (all four sides) or (left, right, top, bottom), as PyTorch's.
"""
from chainrule.nn.functional import _windows as _w
from chainrule.nn.functional.padding import pad
from chainrule.nn.modules.module import Module


class _Pad2d(Module):
    _mode = "constant"

    def __init__(self, padding, value=0.0):
        super().__init__()
        where = type(self).__name__
        self.padding = _w.as_tuple(padding, 4, "padding", where,
                                   minimum=0 if self._mode != "constant" else -2 ** 62)
        self.value = value

    def forward(self, input):
        if self._mode == "constant":
            return pad(input, self.padding, "constant", self.value)
        return pad(input, self.padding, self._mode)

    def extra_repr(self):
        if self._mode == "constant":
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


class ConstantPad2d(_Pad2d):
    """Pad the last two dims with *value* (negative amounts crop).

    >>> cr.nn.ConstantPad2d((1, 1, 0, 2), 3.5)(cr.ones(1, 2, 2)).shape
    (1, 4, 4)
    """


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims with zeros.

    >>> cr.nn.ZeroPad2d(1)(cr.ones(1, 1, 2, 2)).shape
    (1, 1, 4, 4)
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad2d(_Pad2d):
    """Pad the last two dims with their mirror image (the edge not repeated).

    >>> cr.nn.ReflectionPad2d(1)(cr.ones(1, 1, 3, 3)).shape
    (1, 1, 5, 5)
    """

    _mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """Pad the last two dims by repeating their edge values.

    >>> cr.nn.ReplicationPad2d(1)(cr.ones(1, 1, 3, 3)).shape
    (1, 1, 5, 5)
    """

    _mode = "replicate"
