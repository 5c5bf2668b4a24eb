"""Pooling layers: ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d``, as PyTorch's.

Hyperparameters are checked when the layer is built; the math is ``nn.functional.pooling``'s,
and an input that does not fit is refused naming the layer (``MaxPool2d(kernel_size=3): ...``).
"""
from chainrule.errors import ConfigError
from chainrule.nn.functional import _windows as _w
from chainrule.nn.functional.pooling import _adaptive_avg_pool, _avg_pool, _max_pool
from chainrule.nn.modules.module import Module


def _where(layer, kernel_size):
    return f"{type(layer).__name__}(kernel_size={kernel_size!r})"


def _check(layer, kernel_size, stride, padding, dilation, d):
    where = _where(layer, kernel_size)
    _w.as_tuple(kernel_size, d, "kernel_size", where)
    if stride is not None:
        _w.as_tuple(stride, d, "stride", where)
    _w.as_tuple(padding, d, "padding", where, minimum=0)
    _w.as_tuple(dilation, d, "dilation", where)


class _MaxPoolNd(Module):
    _d = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        _check(self, kernel_size, stride, padding, dilation, self._d)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """y[n, c, l] = the maximum of window l (stride defaults to kernel_size).

    >>> cr.nn.MaxPool1d(2)(cr.randn(3, 4, 10)).shape
    (3, 4, 5)
    """

    _d = 1

    def forward(self, input):
        return _max_pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                         self.ceil_mode, self.return_indices, 1, _where(self, self.kernel_size))


class MaxPool2d(_MaxPoolNd):
    """y[n, c, h, w] = the maximum of window (h, w); the gradient goes to the first maximal cell.

    >>> cr.nn.MaxPool2d(2)(cr.randn(3, 4, 8, 8)).shape
    (3, 4, 4, 4)
    """

    _d = 2

    def forward(self, input):
        return _max_pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                         self.ceil_mode, self.return_indices, 2, _where(self, self.kernel_size))


class AvgPool1d(Module):
    """y[n, c, l] = the mean of window l (see ``F.avg_pool1d`` for the divisor).

    >>> cr.nn.AvgPool1d(2)(cr.randn(3, 4, 10)).shape
    (3, 4, 5)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        _check(self, kernel_size, stride, padding, 1, 1)
        where = "AvgPool1d"                      # as PyTorch, kept as 1-tuples
        self.kernel_size = _w.as_tuple(kernel_size, 1, "kernel_size", where)
        self.stride = self.kernel_size if stride is None else _w.as_tuple(stride, 1, "stride",
                                                                           where)
        self.padding = _w.as_tuple(padding, 1, "padding", where, minimum=0)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        return _avg_pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad, None, 1, _where(self, self.kernel_size))

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """y[n, c, h, w] = the mean of window (h, w) (see ``F.avg_pool2d`` for the divisor).

    >>> cr.nn.AvgPool2d(2)(cr.randn(3, 4, 8, 8)).shape
    (3, 4, 4, 4)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        _check(self, kernel_size, stride, padding, 1, 2)
        if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(
                divisor_override, (int, float)) or divisor_override == 0):
            raise ConfigError(f"AvgPool2d: divisor_override must be a non-zero number, got "
                              f"{divisor_override!r}")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return _avg_pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad, self.divisor_override, 2,
                         _where(self, self.kernel_size))

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average over *output_size* near-equal windows of the length.

    >>> cr.nn.AdaptiveAvgPool1d(3)(cr.randn(2, 4, 10)).shape
    (2, 4, 3)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return _adaptive_avg_pool(input, self.output_size, 1,
                                  f"AdaptiveAvgPool1d(output_size={self.output_size!r})")

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    """Average over an *output_size* grid of near-equal windows; (1, 1) is global average pooling.

    >>> cr.nn.AdaptiveAvgPool2d((1, 1))(cr.randn(2, 4, 7, 7)).shape
    (2, 4, 1, 1)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return _adaptive_avg_pool(input, self.output_size, 2,
                                  f"AdaptiveAvgPool2d(output_size={self.output_size!r})")

    def extra_repr(self):
        return f"output_size={self.output_size}"
