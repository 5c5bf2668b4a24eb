"""Weight initialisation, as ``torch.nn.init``: each function fills a tensor in place and returns it.

Values are drawn from ``cr.manual_seed``'s default stream or from *generator*, written straight into
the tensor's memory (no graph is recorded, as under ``no_grad``) and the tensor's version is bumped.
The distributions and their bounds are PyTorch's; the random streams are NumPy's, so the same seed
gives different numbers than torch.
"""
import math
import warnings

import numpy as np

from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError
from chainrule.grad_mode import no_grad
from chainrule.ops.random_fill import write_host
from chainrule.random import rng
from chainrule.tensor import Tensor


def _shape(tensor, op):
    """The shape of *tensor*, which must be a chainrule tensor."""
    if not isinstance(tensor, Tensor):
        raise ArgumentTypeError(f"{op}: expected a cr.Tensor, got {type(tensor).__name__}")
    return tensor._data.shape


def _fill(tensor, values, op):
    """Write *values* into *tensor* in place and bump its version; return the tensor."""
    _shape(tensor, op)
    return write_host(tensor, values)


def _empty(tensor):
    if tensor._data.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for *nonlinearity*: linear/conv/sigmoid 1, tanh 5/3, relu √2,
    leaky_relu √(2/(1+slope²)), selu 3/4.

    >>> cr.nn.init.calculate_gain("relu")
    1.4142135623730951
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d")
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ConfigError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ConfigError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): in·k and out·k."""
    if tensor.ndim < 2:
        raise ShapeError(f"Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(tensor.shape)})")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ConfigError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from U(a, b): ``tensor.uniform_(a, b)`` outside the graph."""
    _shape(tensor, "uniform_")
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from N(mean, std²): ``tensor.normal_(mean, std)`` outside the graph."""
    _shape(tensor, "normal_")
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with draws from N(mean, std²) conditioned on a ≤ x ≤ b (redrawn until inside)."""
    if a >= b:
        raise ConfigError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    g = rng(generator)
    out = g.normal(mean, std, _shape(tensor, "trunc_normal_"))
    bad = (out < a) | (out > b)
    for _ in range(1000):
        n = int(bad.sum())
        if n == 0:
            break
        out[bad] = g.normal(mean, std, n)
        bad = (out < a) | (out > b)
    return _fill(tensor, np.clip(out, a, b), "trunc_normal_")


def constant_(tensor, val):
    """Fill with the constant *val*."""
    return _fill(tensor, val, "constant_")


def ones_(tensor):
    """Fill with 1."""
    return _fill(tensor, 1, "ones_")


def zeros_(tensor):
    """Fill with 0."""
    return _fill(tensor, 0, "zeros_")


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix."""
    if tensor.ndim != 2:
        raise ShapeError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape), "eye_")


def dirac_(tensor, groups=1):
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: each of the first
    min(out/groups, in) channels of every group passes its input channel through unchanged."""
    shape = _shape(tensor, "dirac_")
    if len(shape) not in (3, 4, 5):
        raise ShapeError(f"dirac_: only tensors with 3, 4, or 5 dimensions are supported, got "
                         f"shape {tuple(shape)}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 \
            or shape[0] % groups:
        raise ConfigError(f"dirac_: dim 0 ({shape[0]}) must be divisible by groups, got "
                          f"groups={groups!r}")
    per_group = shape[0] // groups
    n = min(per_group, shape[1])
    values = np.zeros(shape)
    out_ch = (np.arange(groups)[:, None] * per_group + np.arange(n)).ravel()
    in_ch = np.tile(np.arange(n), groups)
    values[(out_ch, in_ch) + tuple(s // 2 for s in shape[2:])] = 1
    return _fill(tensor, values, "dirac_")


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-b, b) with b = gain · √(3 / fan), gain = calculate_gain(nonlinearity, a).

    >>> w = cr.empty(16, 29)
    >>> _ = cr.nn.init.kaiming_uniform_(w, a=math.sqrt(5))   # Linear's init: |w| ≤ 1/√29
    """
    if _empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std²) with std = gain / √fan, gain = calculate_gain(nonlinearity, a)."""
    if _empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fill with a (semi-)orthogonal matrix (QR of a Gaussian one) times *gain*."""
    if tensor.ndim < 2:
        raise ShapeError(f"Only tensors with 2 or more dimensions are supported (got shape "
                         f"{tuple(tensor.shape)})")
    if tensor._data.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor._data.size // rows
    flat = rng(generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape), "orthogonal_")
