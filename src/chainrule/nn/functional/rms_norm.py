"""``rms_norm``: divide by the root mean square over the trailing dims, as ``torch.nn.functional.rms_norm``.

    y = x / √(mean(x²) + ε) · γ          (mean over *normalized_shape*; ε defaults to the dtype's eps)

Composed of differentiable ops, so every order of derivative exists.

>>> F.rms_norm(cr.tensor([[3.0, 4.0]]), (2,), eps=0.0)
tensor([[0.8485, 1.1314]])
"""
import numpy as np

from chainrule.errors import ArgumentTypeError, DTypeError, ShapeError
from chainrule.tensor import Tensor


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x · (mean(x²) + eps)^(−½) over the trailing *normalized_shape* dims, times γ if given.

    >>> y = F.rms_norm(cr.randn(4, 6), (6,))
    >>> bool(((y * y).mean(-1) - 1).abs().max() < 1e-4)
    True
    """
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"rms_norm: expected a cr.Tensor, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise DTypeError(f"rms_norm: expected a floating-point tensor, got dtype {input.dtype}")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ShapeError(f"rms_norm: expected input with shape (*, {', '.join(map(str, shape))}) "
                         f"for normalized_shape={shape}, got {tuple(input.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise ShapeError(f"rms_norm: weight should have shape {shape}, got {tuple(weight.shape)}")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    y = input * ((input * input).mean(dims, keepdim=True) + float(eps)) ** -0.5
    return y if weight is None else y * weight
