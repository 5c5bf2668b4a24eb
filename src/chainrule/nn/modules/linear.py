"""``Linear`` (y = x Wᵀ + b) and the shape-only layers ``Identity``, ``Flatten``, ``Unflatten``."""
import math

from chainrule import dtypes
from chainrule.backend import device as _device, xp
from chainrule.errors import (ArgumentTypeError, ConfigError, DTypeError, IndexOutOfRangeError,
                              ShapeError)
from chainrule.nn import init
from chainrule.nn.functional.linear import linear
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.shape import flatten
from chainrule.tensor import Tensor


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return value


def _float_dtype(dtype, where):
    dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    if dtype.kind != "f":
        raise DTypeError(f"{where}: dtype must be a floating-point dtype, got {dtype}")
    return dtype


class Identity(Module):
    """y = x; any constructor arguments are ignored, as in PyTorch."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x Wᵀ + b, with W of shape (out_features, in_features) and b of shape (out_features,).

    Initialised as PyTorch: W ~ kaiming_uniform_(a=√5), i.e. U(-1/√in, 1/√in), and
    b ~ U(-1/√in, 1/√in).

    >>> fc = cr.nn.Linear(3, 2)
    >>> fc(cr.randn(5, 3)).shape
    (5, 2)
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features")
        self.out_features = _positive_int(out_features, "out_features")
        _device(device)
        dtype = _float_dtype(dtype, "Linear")
        self.weight = Parameter(Tensor(xp.empty((out_features, in_features), dtype=dtype)))
        if bias:
            self.bias = Parameter(Tensor(xp.empty((out_features,), dtype=dtype)))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """Draw fresh weights (and bias) from PyTorch's default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, input):
        p = self._parameters
        if isinstance(input, Tensor) and input._data.shape[-1:] != (self.in_features,):
            raise ShapeError(f"Linear({self.in_features}, {self.out_features}): expected input "
                             f"with last dimension {self.in_features}, got shape {input.shape}")
        return linear(input, p["weight"], p["bias"])

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Merge dims *start_dim*..*end_dim* into one (by default all but the batch dim).

    >>> cr.nn.Flatten()(cr.zeros(2, 3, 4)).shape
    (2, 12)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim *dim* into the shape *unflattened_size* (the inverse of Flatten).

    >>> cr.nn.Unflatten(1, (3, 4))(cr.zeros(2, 12)).shape
    (2, 3, 4)
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(s, int) and not isinstance(s, bool) for s in unflattened_size):
            raise ArgumentTypeError("unflattened_size must be a tuple of ints, got "
                                    f"{unflattened_size!r}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input):
        shape = input.shape
        d = self.dim % len(shape) if -len(shape) <= self.dim < len(shape) else None
        if d is None:
            raise IndexOutOfRangeError(f"Unflatten: dim {self.dim} is out of range for input of "
                                       "shape "
                                       f"{shape}")
        return input.reshape(shape[:d] + tuple(self.unflattened_size) + shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
