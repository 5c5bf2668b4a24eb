"""``normalize``: divide each slice along *dim* by its p-norm, as ``torch.nn.functional.normalize``.

    y = x / max(‖x‖ₚ, ε)       (‖x‖ₚ = (Σ |xᵢ|ᵖ)^(1/p) along dim)

Written as x · (max(Σ |xᵢ|ᵖ, εᵖ))^(−1/p), the same value, so a zero slice has a finite gradient
(1/ε, as PyTorch) instead of 0/0. Composed of differentiable tensor ops, so it has every order of
derivative. Keras's ``UnitNormalization`` (x · rsqrt(max(Σx², 1e-12))) is ``normalize(x, dim=axis,
eps=1e-6)`` and its cosine similarity ``normalize(x, dim=axis, eps=sqrt(1e-7))``.

>>> F.normalize(cr.tensor([[3.0, 4.0]]), dim=1)
tensor([[0.6000, 0.8000]])
"""
import math

from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError
from chainrule.ops import elementwise as _el
from chainrule.tensor import Tensor


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(‖x‖ₚ, eps) along *dim* (PyTorch's defaults: p = 2, dim = 1, eps = 1e-12).

    >>> F.normalize(cr.tensor([[1.0, 1.0], [0.0, 0.0]]), dim=-1)
    tensor([[0.7071, 0.7071],
            [0.0000, 0.0000]])
    """
    if out is not None:
        raise ConfigError("normalize: out= is not supported; use the returned tensor")
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"normalize: expected a cr.Tensor, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise DTypeError(f"normalize: expected a floating-point tensor, got dtype {input.dtype}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0:
        raise ConfigError(f"normalize: p must be a positive number or inf, got p={p!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ConfigError(f"normalize: eps must be a non-negative number, got eps={eps!r}")
    if input.ndim == 0:
        raise ConfigError("normalize: expected a tensor with at least one dimension, got a scalar")
    if math.isinf(p):
        return input / input.abs().amax(dim, keepdim=True).clamp(min=float(eps))
    if p == 2:
        power = (input * input).sum(dim, keepdim=True)
    else:
        power = (input.abs() ** float(p)).sum(dim, keepdim=True)
    floor = float(eps) ** float(p)
    floor = Tensor(namespace_of(power._data).asarray(floor, dtype=power._data.dtype))  # on its device
    return input * _el.maximum(power, floor) ** (-1.0 / float(p))
