"""``local_response_norm``: divide by the activity of neighbouring channels, as PyTorch's (AlexNet's).

    y_c = x_c / (k + α · (1/n) Σ_{c' ∈ window(c)} x_{c'}²)^β

with a window of n = *size* channels around c (⌊n/2⌋ before, ⌊(n−1)/2⌋ after, zeros beyond the
edges, always divided by n, as PyTorch's padded average pool).  Composed of differentiable ops (a
sum of shifted slices of the zero-padded squares), so every order of derivative exists.

>>> F.local_response_norm(cr.ones(1, 3, 2), size=2).shape
(1, 3, 2)
"""
import numbers

from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError
from chainrule.ops import shape as _sh
from chainrule.tensor import Tensor


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + α · mean of x² over *size* neighbouring channels)^β, along dim 1 of (N, C, *).

    >>> F.local_response_norm(cr.tensor([[[2.0], [1.0]]]), size=1, alpha=1.0, beta=1.0, k=0.0)
    tensor([[[0.5000],
             [1.0000]]])
    """
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"local_response_norm: expected a cr.Tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise ShapeError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions)")
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size <= 0:
        raise ConfigError(f"local_response_norm: size must be a positive int, got size={size!r}")
    if input.numel() == 0:
        return input * 1.0
    shape, c = tuple(input.shape), input.shape[1]
    xp = namespace_of(input._data)
    sq = input * input
    before, after = size // 2, (size - 1) // 2     # zero channels padded on each side
    parts = [Tensor(xp.zeros((shape[0], m) + shape[2:], dtype=input._data.dtype)) if m else None
             for m in (before, after)]
    parts = [p for p in (parts[0], sq, parts[1]) if p is not None]
    padded = _sh.cat(parts, 1) if len(parts) > 1 else sq
    total = padded[:, 0:c]
    for j in range(1, size):
        total = total + padded[:, j:j + c]
    div = ((total / size) * float(alpha) + float(k)) ** float(beta)
    return input / div
