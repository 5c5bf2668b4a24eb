"""``dropout``: zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
import numpy as np

from chainrule.autograd.function import Function
from chainrule.errors import ConfigError, DTypeError
from chainrule.random import rng
from chainrule.tensor import Tensor


class Dropout(Function):
    """y = x · m with m = keep / (1 - p), keep ~ Bernoulli(1 - p) per element.  x̄ = ȳ · m."""

    @staticmethod
    def forward(ctx, x, p, generator):
        a = x.data
        if p == 1:
            mask = np.zeros(a.shape, dtype=a.dtype)
        else:
            draw_dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
            keep = rng(generator).random(a.shape, dtype=draw_dtype) >= p
            mask = keep.astype(a.dtype) * a.dtype.type(1 / (1 - p))
        ctx.mask = mask
        return a * mask

    @staticmethod
    def backward(ctx, gy):
        return gy * Tensor(ctx.mask), None, None


def _check_p(p):
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
        raise ConfigError(f"dropout probability has to be between 0 and 1, but got {p!r}")
    return float(p)


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Inverted dropout: in training, zero each element with probability *p* and scale the kept
    ones by 1/(1-p), so the expected value is unchanged; the identity when not training.

    >>> y = F.dropout(cr.ones(1000), p=0.2)     # about 200 zeros, the rest 1.25
    """
    p = _check_p(p)
    if not isinstance(input, Tensor):
        raise DTypeError(f"dropout: expected a cr.Tensor, got {type(input).__name__}")
    if not training or p == 0:
        return input
    if input.data.dtype.kind != "f":
        raise DTypeError(f"dropout: expected a floating-point tensor, got dtype {input.dtype}")
    return Dropout.apply(input, p, generator)
