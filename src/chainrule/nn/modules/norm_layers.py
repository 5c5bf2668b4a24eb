"""``GroupNorm``, ``InstanceNorm1d``, ``InstanceNorm2d``, ``RMSNorm`` and ``LocalResponseNorm``, as
``torch.nn``: thin modules over their functions, with PyTorch's parameters, buffers and defaults.

>>> nn.GroupNorm(2, 4)(cr.randn(3, 4, 5)).shape
(3, 4, 5)
"""
import numbers
import warnings

from chainrule import dtypes
from chainrule.backend import device as _device, xp
from chainrule.errors import ConfigError, ShapeError
from chainrule.nn import init
from chainrule.nn.functional.group_norm import group_norm
from chainrule.nn.functional.instance_norm import instance_norm
from chainrule.nn.functional.local_response_norm import local_response_norm
from chainrule.nn.functional.rms_norm import rms_norm
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


def _dtype(dtype):
    return dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)


def _positive_int(value, name, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ConfigError(f"{where}: {name} must be a positive int, got {name}={value!r}")
    return int(value)


def _affine(module, shape, dtype, affine, bias=True):
    """Register γ = 1 and β = 0 of *shape* (None for each absent one: β needs *affine* and
    *bias*; ``bias=None`` registers no β at all, as RMSNorm)."""
    module.register_parameter("weight", Parameter(Tensor(xp.ones(shape, dtype=dtype)))
                              if affine else None)
    if bias is not None:
        module.register_parameter("bias", Parameter(Tensor(xp.zeros(shape, dtype=dtype)))
                                  if affine and bias else None)


class GroupNorm(Module):
    """Standardise each sample over groups of channels: y = γ (x − μ_g) / √(σ²_g + eps) + β.

    >>> gn = nn.GroupNorm(3, 6)
    >>> gn(cr.randn(2, 6, 4)).shape
    (2, 6, 4)
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None,
                 *, bias=True):
        super().__init__()
        where = type(self).__name__
        num_groups = _positive_int(num_groups, "num_groups", where)
        num_channels = _positive_int(num_channels, "num_channels", where)
        if num_channels % num_groups:
            raise ConfigError(f"{where}: num_channels must be divisible by num_groups, got "
                              f"num_channels={num_channels}, num_groups={num_groups}")
        _device(device)
        self.num_groups, self.num_channels, self.eps, self.affine = \
            num_groups, num_channels, eps, affine
        _affine(self, (num_channels,), _dtype(dtype), affine, bias)

    def reset_parameters(self):
        """γ = 1 and β = 0."""
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(Module):
    """Per-instance normalisation; affine γ, β and running statistics optional (both off)."""

    _batched_ndim = 3

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__()
        num_features = _positive_int(num_features, "num_features", type(self).__name__)
        _device(device)
        dtype = _dtype(dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine(self, (num_features,), dtype, affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(xp.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), dtype=dtypes.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        """Running mean 0 and running variance 1."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        """Reset the running statistics, γ = 1 and β = 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        name, full = type(self).__name__, self._batched_ndim
        if input.ndim not in (full - 1, full):
            raise ShapeError(f"{name}: expected {full - 1}D or {full}D input (got {input.ndim}D "
                             f"input of shape {tuple(input.shape)})")
        feature_dim = input.ndim - (full - 1)
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ShapeError(f"{name}: expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{input.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You "
                          f"can silence this warning by not passing in num_features, which is "
                          f"not used because affine=False", stacklevel=2)
        unbatched = input.ndim == full - 1
        x = input.unsqueeze(0) if unbatched else input
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or not self.track_running_stats,
                          0.0 if self.momentum is None else self.momentum, self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L) input, per sample and channel over L.

    >>> nn.InstanceNorm1d(3)(cr.randn(2, 3, 7)).shape
    (2, 3, 7)
    """

    _batched_ndim = 3


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) input, per sample and channel over H, W.

    >>> nn.InstanceNorm2d(3, affine=True)(cr.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """

    _batched_ndim = 4


class RMSNorm(Module):
    """y = x / √(mean(x²) + eps) · γ over the trailing *normalized_shape* dims (eps=None: the
    dtype's machine epsilon).

    >>> nn.RMSNorm(6)(cr.randn(4, 6)).shape
    (4, 6)
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        for s in self.normalized_shape:
            _positive_int(s, "normalized_shape", type(self).__name__)
        if not self.normalized_shape:
            raise ConfigError("RMSNorm: normalized_shape must not be empty")
        _device(device)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine(self, self.normalized_shape, _dtype(dtype), elementwise_affine, bias=None)

    def reset_parameters(self):
        """γ = 1."""
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x):
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """y_c = x_c / (k + α · mean of x² over *size* neighbouring channels)^β.

    >>> nn.LocalResponseNorm(2)(cr.randn(1, 4, 3, 3)).shape
    (1, 4, 3, 3)
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = _positive_int(size, "size", "LocalResponseNorm")
        self.alpha, self.beta, self.k = alpha, beta, k

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
