"""Distances between paired rows, as ``torch.nn.functional``: ``cosine_similarity`` and
``pairwise_distance``.

    cosine_similarity(x₁, x₂) = Σ (x₁/max(‖x₁‖, ε)) (x₂/max(‖x₂‖, ε))      along *dim*
    pairwise_distance(x₁, x₂) = ‖x₁ − x₂ + ε‖ₚ                              along the last dim

Both broadcast their inputs and are composed of differentiable ops (``normalize`` and ``norm``).
Where ‖x‖ < ε PyTorch differentiates the unclamped norm; here the clamped one is differentiated
(the value is the same); for ‖x‖ ≥ ε, and at x = 0, the gradients are PyTorch's.

>>> F.cosine_similarity(cr.tensor([[1.0, 0.0]]), cr.tensor([[1.0, 1.0]]))
tensor([0.7071])
"""
import numbers

import numpy as np

from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.nn.functional.normalize import normalize
from chainrule.ops import reduction as _rd
from chainrule.ops import shape as _sh
from chainrule.tensor import Tensor


def _broadcast(x1, x2, op):
    for name, t in (("x1", x1), ("x2", x2)):
        if not isinstance(t, Tensor):
            raise ArgumentTypeError(f"{op}: expected {name} to be a cr.Tensor, got {type(t).__name__}")
        if t._data.dtype.kind != "f":
            raise DTypeError(f"{op}: expected a floating-point {name}, got dtype {t.dtype}")
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise ShapeError(f"{op}: the shapes of x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} do "
                         f"not broadcast") from None
    return [t if tuple(t.shape) == shape else _sh.broadcast_to(t, shape) for t in (x1, x2)]


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Σ x₁x₂ / (max(‖x₁‖, eps) · max(‖x₂‖, eps)) along *dim*, after broadcasting.

    >>> F.cosine_similarity(cr.tensor([3.0, 4.0]), cr.tensor([4.0, 3.0]), dim=0)
    tensor(0.9600)
    """
    x1, x2 = _broadcast(x1, x2, "cosine_similarity")
    if x1.ndim == 0:
        raise ShapeError("cosine_similarity: expected inputs with at least one dimension")
    if not -x1.ndim <= dim < x1.ndim:
        raise ShapeError(f"cosine_similarity: dim {dim} is out of range for inputs of "
                         f"{x1.ndim} dimensions")
    return (normalize(x1, 2.0, dim, eps) * normalize(x2, 2.0, dim, eps)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """‖x₁ − x₂ + eps‖ₚ along the last dimension (rows paired after broadcasting).

    >>> F.pairwise_distance(cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]), eps=0.0)
    tensor([5.])
    """
    x1, x2 = _broadcast(x1, x2, "pairwise_distance")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p > 0:
        raise ConfigError(f"pairwise_distance: p must be a positive number or inf, got p={p!r}")
    diff = x1 - x2 + float(eps)
    if diff.ndim == 0:
        return _rd.norm(diff, p)
    return _rd.norm(diff, p, -1, keepdim)
