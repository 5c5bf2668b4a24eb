"""More activation layers, as ``torch.nn``: PReLU (learned slopes), ReLU6, SELU, CELU, Mish, GLU,
Hardtanh, Hardswish, Hardsigmoid, Softsign, Softmin, LogSigmoid, Threshold and the shrinks.

Each is a thin module over its function in ``nn/functional/activation_more.py`` (``prelu.py`` for
PReLU); ``inplace=True`` is accepted and shown, and the result is always a new tensor.

>>> nn.Hardtanh(-2.0, 2.0)(cr.tensor([-3.0, 1.0, 3.0]))
tensor([-2.,  1.,  2.])
"""
from chainrule import dtypes
from chainrule.backend import device as _device, xp
from chainrule.errors import ConfigError
from chainrule.nn.functional import activation_more as F
from chainrule.nn.functional.prelu import prelu
from chainrule.nn.modules.activation import _inplace_str
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


class PReLU(Module):
    """y = max(0, x) + a · min(0, x), with a learned: one slope, or one per channel (dim 1).

    >>> m = nn.PReLU()
    >>> m(cr.tensor([-1.0, 2.0]))
    tensor([-0.2500,  2.0000], grad_fn=<WhereBackward>)
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) \
                or num_parameters <= 0:
            raise ConfigError(f"PReLU: num_parameters must be a positive int, got "
                              f"num_parameters={num_parameters!r}")
        _device(device)
        self.num_parameters, self.init = num_parameters, init
        dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        self.weight = Parameter(Tensor(xp.full((num_parameters,), init, dtype=dtype)))

    def reset_parameters(self):
        """Every slope back to *init*."""
        self.weight._data[...] = self.init

    def forward(self, input):
        return prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class _Elementwise(Module):
    """An activation with an ``inplace`` flag and no other settings."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return _inplace_str(self.inplace, first=True)


class ReLU6(_Elementwise):
    """y = min(max(x, 0), 6)."""

    def forward(self, input):
        return F.relu6(input)


class SELU(_Elementwise):
    """y = scale · elu(x, α), α ≈ 1.6733, scale ≈ 1.0507 (self-normalising)."""

    def forward(self, input):
        return F.selu(input)


class Mish(_Elementwise):
    """y = x · tanh(softplus(x))."""

    def forward(self, input):
        return F.mish(input)


class Hardswish(_Elementwise):
    """y = x · min(max(x + 3, 0), 6) / 6 (``inplace`` accepted; not shown, as PyTorch)."""

    def extra_repr(self):
        return ""

    def forward(self, input):
        return F.hardswish(input)


class Hardsigmoid(_Elementwise):
    """y = min(max(x + 3, 0), 6) / 6 (``inplace`` accepted; not shown, as PyTorch)."""

    def extra_repr(self):
        return ""

    def forward(self, input):
        return F.hardsigmoid(input)


class CELU(Module):
    """y = max(0, x) + min(0, α(e^{x/α} − 1))."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.celu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + _inplace_str(self.inplace)


class Hardtanh(Module):
    """y = min(max(x, min_val), max_val)."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ConfigError(f"Hardtanh: min_val cannot be greater than max_val, got "
                              f"min_val={min_val}, max_val={max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace_str(self.inplace)


class Threshold(Module):
    """y = x where x > threshold, else value."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + _inplace_str(self.inplace)


class _Shrink(Module):
    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def extra_repr(self):
        return str(self.lambd)


class Softshrink(_Shrink):
    """y = x − λ for x > λ, x + λ for x < −λ, else 0."""

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class Hardshrink(_Shrink):
    """y = x where |x| > λ, else 0."""

    def forward(self, input):
        return F.hardshrink(input, self.lambd)


class Softsign(Module):
    """y = x / (1 + |x|)."""

    def forward(self, input):
        return F.softsign(input)


class Tanhshrink(Module):
    """y = x − tanh x."""

    def forward(self, input):
        return F.tanhshrink(input)


class LogSigmoid(Module):
    """y = log σ(x), computed stably."""

    def forward(self, input):
        return F.logsigmoid(input)


class Softmin(Module):
    """yᵢ = e^{−xᵢ} / Σⱼ e^{−xⱼ} along *dim*."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmin(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class GLU(Module):
    """y = a ⊗ σ(b), a and b the halves of the input along *dim*."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
