"""``Bilinear``: y = x₁ᵀ A x₂ + b, as ``torch.nn.Bilinear``.

A (out, in1, in2) and b (out,) are initialised as PyTorch's: U(−1/√in1, 1/√in1).

>>> nn.Bilinear(3, 4, 5)(cr.randn(2, 3), cr.randn(2, 4)).shape
(2, 5)
"""
import math

from chainrule import dtypes
from chainrule.backend import device as _device, xp
from chainrule.errors import ConfigError, DTypeError
from chainrule.nn import init
from chainrule.nn.functional.bilinear import bilinear
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


class Bilinear(Module):
    """y_o = x₁ᵀ A_o x₂ + b_o for each output feature o.

    >>> m = nn.Bilinear(2, 2, 1)
    >>> tuple(m.weight.shape), tuple(m.bias.shape)
    ((1, 2, 2), (1,))
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        for name, v in (("in1_features", in1_features), ("in2_features", in2_features),
                        ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"Bilinear: {name} must be a positive int, got {name}={v!r}")
        _device(device)
        dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        if dtype.kind != "f":
            raise DTypeError(f"Bilinear: dtype must be a floating-point dtype, got {dtype}")
        self.in1_features, self.in2_features, self.out_features = \
            in1_features, in2_features, out_features
        self.weight = Parameter(Tensor(xp.empty((out_features, in1_features, in2_features),
                                                dtype=dtype)))
        self.register_parameter("bias", Parameter(Tensor(xp.empty((out_features,), dtype=dtype)))
                                if bias else None)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """Draw A and b from U(−1/√in1, 1/√in1), as PyTorch."""
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound, generator=generator)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, input1, input2):
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
