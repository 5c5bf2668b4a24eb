"""``dropout``: zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
import numpy as np

from chainrule.backend import numpy_namespace
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError
from chainrule.function import Op
from chainrule.random import rng
from chainrule.tensor import Tensor


class Dropout(Op):
    """y = x · m with m = keep / (1 - p), keep ~ Bernoulli(1 - p) per element.  x̄ = ȳ · m."""

    @staticmethod
    def forward(ctx, x, p, generator):
        xp = ctx.xp
        a = x._data
        if p == 1:
            mask = xp.zeros(a.shape, dtype=a.dtype)
        else:
            mask = _keep(xp, a.shape, a.dtype, p, generator).astype(a.dtype) * \
                a.dtype.type(1 / (1 - p))
        ctx.save_for_backward(mask)             # a constant of the backward
        return a * mask

    @staticmethod
    def backward(ctx, gy):
        mask, = ctx.saved_tensors
        return gy * mask, None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """ẏ = ẋ · m."""
        return tx * ctx.saved_tensors[0]


def _keep(xp, shape, dtype, p, generator):
    """The Bernoulli(1 - p) keep mask, drawn where the tensor lives.

    On the CPU it comes from chainrule's generator (NumPy's PCG64).  On a device, the draw happens
    there, with no host→device copy: chainrule's generator gives a 64-bit seed (so
    ``cr.manual_seed``, ``Generator`` states and checkpoints govern device draws too) and the
    device's own random module (``cupy.random``), reseeded with it, draws the uniforms (so a
    GPU mask differs from the CPU one for the same seed, as in PyTorch).
    """
    if xp is numpy_namespace:
        draw_dtype = dtype if dtype in (np.float32, np.float64) else np.float64
        return rng(generator).random(shape, dtype=draw_dtype) >= p
    seed = int(rng(generator).integers(0, 2 ** 63))
    try:
        xp.random.seed(seed)                # cupy.random takes a 64-bit seed
    except ValueError:                      # NumPy's legacy seed (the stand-in) takes 32 bits
        xp.random.seed(seed % 2 ** 32)
    return xp.random.random(shape) >= p


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
        raise ArgumentTypeError(f"dropout: expected a cr.Tensor, got {type(input).__name__}")
    if not training or p == 0:
        return input
    if input._data.dtype.kind != "f":
        raise DTypeError(f"dropout: expected a floating-point tensor, got dtype {input.dtype}")
    return Dropout.apply(input, p, generator)
