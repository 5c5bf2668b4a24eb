"""``dropout1d`` and ``dropout2d``: zero whole channels with probability p (spatial dropout).

One Bernoulli(1 - p) draw per (sample, channel), scaled by 1/(1 - p) and broadcast over the
channel's positions: y = x · m, so x̄ = ȳ · m (the product op's own VJP).
"""
import warnings

from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, DTypeError, ShapeError
from chainrule.nn.functional.dropout import _check_p, _keep
from chainrule.tensor import Tensor


def _channel_dropout(input, p, training, generator, d, where):
    p = _check_p(p)
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{where}: expected a cr.Tensor, got {type(input).__name__}")
    nd = input._data.ndim
    if nd not in (d + 1, d + 2):
        raise ShapeError(f"{where}: expected {d + 1}D (unbatched) or {d + 2}D (batched) input, got "
                         f"{nd}D input of shape {input.shape}")
    if d == 2 and nd == 3:      # as PyTorch 2.13: (N, C, L), channel-wise 1-D, with its warning
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. Use dropout1d for that", stacklevel=3)
        d, nd = 1, 3
    if not training or p == 0:
        return input
    a = input._data
    if a.dtype.kind != "f":
        raise DTypeError(f"{where}: expected a floating-point tensor, got dtype {input.dtype}")
    xp = namespace_of(a)
    shape = a.shape[:nd - d] + (1,) * d          # one draw per (sample, channel)
    if p == 1:
        mask = xp.zeros(shape, dtype=a.dtype)
    else:
        mask = _keep(xp, shape, a.dtype, p, generator).astype(a.dtype) * a.dtype.type(1 / (1 - p))
    return input * Tensor(mask)


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero each channel of (N, C, L) input with probability *p*; scale the rest by 1/(1-p).

    >>> F.dropout1d(cr.ones(2, 3, 4), 0.5, training=False).sum()
    tensor(24.)
    """
    return _channel_dropout(input, p, training, generator, 1, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero each channel (feature map) of (N, C, H, W) input with probability *p*; scale the rest
    by 1/(1-p).

    >>> y = F.dropout2d(cr.ones(8, 16, 4, 4), 0.25)   # whole 4×4 maps are 0 or 4/3
    """
    return _channel_dropout(input, p, training, generator, 2, "dropout2d")
