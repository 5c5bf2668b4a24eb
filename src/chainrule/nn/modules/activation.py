"""Activation layers: thin modules over ``chainrule.nn.functional``'s activation functions.

``inplace=True`` is accepted for PyTorch compatibility and shown in the repr; the result is always a
new tensor (the input is left unchanged), which gives the same values and gradients.
"""
from chainrule.errors import ConfigError
from chainrule.nn.functional import activation as F
from chainrule.nn.modules.module import Module


def _inplace_str(inplace, first=False):
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class ReLU(Module):
    """y = max(x, 0).

    >>> cr.nn.ReLU()(cr.tensor([-1., 2.]))
    tensor([0., 2.])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return _inplace_str(self.inplace, first=True)


class LeakyReLU(Module):
    """y = x for x > 0, negative_slope · x otherwise."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + _inplace_str(self.inplace)


class Sigmoid(Module):
    """y = 1 / (1 + e⁻ˣ)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """y = tanh x."""

    def forward(self, input):
        return F.tanh(input)


class GELU(Module):
    """y = x Φ(x), Φ the standard normal CDF (``approximate="tanh"``: the tanh approximation)."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ConfigError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """yᵢ = e^{xᵢ} / Σⱼ e^{xⱼ} along *dim*.

    >>> cr.nn.Softmax(dim=1)(cr.zeros(1, 4)).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """yᵢ = xᵢ - log Σⱼ e^{xⱼ} along *dim*."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class ELU(Module):
    """y = x for x > 0, α(eˣ - 1) otherwise."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + _inplace_str(self.inplace)


class SiLU(Module):
    """y = x · σ(x)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input)

    def extra_repr(self):
        return _inplace_str(self.inplace, first=True)


class Softplus(Module):
    """y = log(1 + e^{βx}) / β, and x where βx > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"
