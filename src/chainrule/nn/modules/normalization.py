"""``BatchNorm1d`` and ``LayerNorm``: normalisation layers with a learned scale and shift."""
from chainrule import dtypes
from chainrule.backend import device as _device, xp
from chainrule.errors import ConfigError, ShapeError
from chainrule.nn import init
from chainrule.nn.functional.normalization import batch_norm, layer_norm
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


def _dtype(dtype):
    return dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)


class BatchNorm1d(Module):
    """y = γ (x - μ) / √(σ² + eps) + β per channel of (N, C) or (N, C, L) input.

    Training uses the batch's mean and biased variance and updates the buffers
    ``running_mean``/``running_var`` (``r ← (1 - momentum) r + momentum · stat``, variance unbiased;
    ``momentum=None`` gives a cumulative average) and ``num_batches_tracked``; ``eval()`` uses the
    running statistics.  ``bias=False`` (keyword-only, as in PyTorch 2.13) drops β.

    >>> bn = cr.nn.BatchNorm1d(3)
    >>> bn(cr.randn(8, 3)).shape
    (8, 3)
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features <= 0:
            raise ConfigError(f"num_features must be a positive int, got {num_features!r}")
        _device(device)
        dtype = _dtype(dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(Tensor(xp.ones(num_features, dtype=dtype)))
            if bias:
                self.bias = Parameter(Tensor(xp.zeros(num_features, dtype=dtype)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(xp.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), dtype=dtypes.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches tracked."""
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
        shape = input.shape
        if len(shape) not in (2, 3):
            raise ShapeError(f"BatchNorm1d({self.num_features}): expected 2D or 3D input "
                             f"(got {len(shape)}D input of shape {shape})")
        if shape[1] != self.num_features:
            raise ShapeError(f"BatchNorm1d({self.num_features}): expected input with "
                             f"{self.num_features} channels in dimension 1, got shape {shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked
            nbt.add_(1)                 # an op, so cr.compile records it
            if self.momentum is None:
                factor = 1.0 / float(nbt._data)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class LayerNorm(Module):
    """y = γ (x - μ) / √(σ² + eps) + β with μ, σ² over the trailing *normalized_shape* dims.

    >>> ln = cr.nn.LayerNorm(6)
    >>> ln(cr.randn(4, 6)).shape
    (4, 6)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        bad = [s for s in self.normalized_shape
               if isinstance(s, bool) or not isinstance(s, int) or s <= 0]
        if not self.normalized_shape or bad:
            raise ConfigError(f"normalized_shape must be a positive int or a non-empty tuple of "
                              f"positive ints, got {normalized_shape!r}")
        _device(device)
        dtype = _dtype(dtype)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(Tensor(xp.ones(self.normalized_shape, dtype=dtype)))
            if bias:
                self.bias = Parameter(Tensor(xp.zeros(self.normalized_shape, dtype=dtype)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        """γ = 1 and β = 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        k = len(self.normalized_shape)
        if tuple(input.shape[-k:]) != self.normalized_shape or input.ndim < k:
            raise ShapeError(f"LayerNorm({self.normalized_shape}): expected input with trailing "
                             f"shape {self.normalized_shape}, got shape {input.shape}")
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
