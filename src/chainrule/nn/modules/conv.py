"""``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``: convolution layers (PyTorch's).

Weights (out, in/groups, *k) — (in, out/groups, *k) for the transposed ones — and biases are
initialised as PyTorch's: W ~ kaiming_uniform_(a=√5), i.e. U(-1/√fan_in, 1/√fan_in), and
b ~ U(-1/√fan_in, 1/√fan_in), fan_in = weight.shape[1] · k₁ ⋯ k_d.
"""
import math

from chainrule import dtypes
from chainrule.backend import device as _device, xp
from chainrule.errors import ConfigError, DTypeError
from chainrule.nn import init
from chainrule.nn.functional import _windows as _w
from chainrule.nn.functional.conv import convolution, transposed_convolution
from chainrule.nn.functional.padding import pad
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(value, name, where):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: {name} must be a positive int, got {name}={value!r}")
    return value


class _ConvNd(Module):
    """What the convolution layers share: checked hyperparameters, weight, bias, init, repr."""

    _d = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 bias, padding_mode, device, dtype, output_padding=0):
        super().__init__()
        name, d = type(self).__name__, self._d
        where = f"{name}({in_channels}, {out_channels}, kernel_size={kernel_size!r})"
        _positive_int(in_channels, "in_channels", where)
        _positive_int(out_channels, "out_channels", where)
        _positive_int(groups, "groups", where)
        if in_channels % groups:
            raise ConfigError(f"{where}: in_channels must be divisible by groups, got "
                              f"in_channels={in_channels}, groups={groups}")
        if out_channels % groups:
            raise ConfigError(f"{where}: out_channels must be divisible by groups, got "
                              f"out_channels={out_channels}, groups={groups}")
        kernel = _w.as_tuple(kernel_size, d, "kernel_size", where)
        stride = _w.as_tuple(stride, d, "stride", where)
        dilation = _w.as_tuple(dilation, d, "dilation", where)
        if isinstance(padding, str):
            if self._transposed or padding not in ("same", "valid"):
                raise ConfigError(f"{where}: padding must be an int, a tuple of ints"
                                  f"{'' if self._transposed else ', valid or same'}, got "
                                  f"padding={padding!r}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ConfigError(f"{where}: padding='same' is not supported for strided "
                                  f"convolutions (stride={stride})")
        else:
            padding = _w.as_tuple(padding, d, "padding", where, minimum=0)
        if padding_mode not in _PADDING_MODES or self._transposed and padding_mode != "zeros":
            allowed = ("zeros",) if self._transposed else _PADDING_MODES
            raise ConfigError(f"{where}: padding_mode must be one of "
                              f"{', '.join(map(repr, allowed))}, got {padding_mode!r}")
        _device(device)
        dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        if dtype.kind != "f":
            raise DTypeError(f"{where}: dtype must be a floating-point dtype, got {dtype}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.padding_mode, self.transposed = padding_mode, self._transposed
        self.output_padding = _w.as_tuple(output_padding, d, "output_padding", where, minimum=0)
        shape = (in_channels, out_channels // groups) if self._transposed else \
            (out_channels, in_channels // groups)
        self.weight = Parameter(Tensor(xp.empty(shape + kernel, dtype=dtype)))
        if bias:
            self.bias = Parameter(Tensor(xp.empty((out_channels,), dtype=dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """Draw fresh weights (and bias) from PyTorch's default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound, generator=generator)

    def _where(self):
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size})")

    def extra_repr(self):
        d = self._d
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)

    def forward(self, input):
        p, padding = self._parameters, self.padding
        if self.padding_mode != "zeros":      # pad with the mode first, then convolve unpadded
            if padding == "same":
                total = [dl * (k - 1) for k, dl in zip(self.kernel_size, self.dilation)]
                pairs = [(t // 2, t - t // 2) for t in total]
            elif padding == "valid":
                pairs = [(0, 0)] * self._d
            else:
                pairs = [(q, q) for q in padding]
            amounts = tuple(a for lo_hi in reversed(pairs) for a in lo_hi)
            if any(amounts):
                input = pad(input, amounts, mode=self.padding_mode)
            padding = 0
        return convolution(input, p["weight"], p["bias"], self.stride, padding, self.dilation,
                           self.groups, self._d, self._where())


class Conv1d(_Conv):
    """y[n, o, l] = b[o] + Σ_{c,i} W[o, c, i] · x_pad[n, c, l·s + i·d] over (N, C, L) input.

    >>> cr.nn.Conv1d(2, 4, 3, padding=1)(cr.randn(5, 2, 10)).shape
    (5, 4, 10)
    """

    _d = 1


class Conv2d(_Conv):
    """2-D convolution (cross-correlation) over (N, C, H, W) input: stride, padding (int, pair,
    "valid", "same"), dilation, groups (groups=in_channels: depthwise), bias, padding_mode.

    >>> cr.nn.Conv2d(3, 16, 3, padding=1)(cr.randn(2, 3, 8, 8)).shape
    (2, 16, 8, 8)
    """

    _d = 2


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype, output_padding)
        for op, s, dl in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, dl):
                raise ConfigError(f"{self._where()}: output_padding must be smaller than either "
                                  f"stride or dilation, got output_padding={output_padding}, "
                                  f"stride={stride}, dilation={dilation}")

    def forward(self, input, output_size=None):
        p = self._parameters
        return transposed_convolution(input, p["weight"], p["bias"], self.stride, self.padding,
                                      self.output_padding, self.groups, self.dilation, self._d,
                                      self._where(), output_size)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution: L_out = (L - 1)·s - 2p + d(k - 1) + output_padding + 1.

    >>> cr.nn.ConvTranspose1d(4, 2, 3, stride=2)(cr.randn(1, 4, 5)).shape
    (1, 2, 11)
    """

    _d = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution (the adjoint of Conv2d in its input; learned upsampling):
    H_out = (H - 1)·s - 2p + d(k - 1) + output_padding + 1.  ``forward(x, output_size)`` picks
    output_padding to reach a given size.

    >>> cr.nn.ConvTranspose2d(8, 4, 2, stride=2)(cr.randn(1, 8, 7, 7)).shape
    (1, 4, 14, 14)
    """

    _d = 2
