"""``interpolate``: resize the spatial dims of (N, C, L) or (N, C, H, W) input, as PyTorch's.

"nearest" and "nearest-exact" pick one input cell per output cell (an integer upscale is a
broadcast, otherwise an index); "linear"/"bilinear" is, along each spatial dim, a product with an
(out, in) interpolation matrix holding each output cell's two weights, y = M_h x M_wᵀ.  Both are
built from differentiable ops (indexing, expand, matmul), so their gradients come with them.  The
source positions are PyTorch's: with align_corners, src = dst · (in - 1)/(out - 1); otherwise
src = (dst + ½) · scale - ½ clamped at 0, scale = 1/scale_factor when one is given, else in/out.
"""
import math
import numbers

import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.ops.arithmetic import matmul
from chainrule.tensor import Tensor

_MODES = {"nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2}


def _sizes(in_size, size, scale_factor, recompute, where):
    """(output sizes, the scales the source positions use: 1/scale_factor or None)."""
    d = len(in_size)
    if (size is None) == (scale_factor is None):
        raise ConfigError(f"{where}: either size or scale_factor should be defined (exactly one), "
                          f"got size={size!r}, scale_factor={scale_factor!r}")
    if size is not None:
        sizes = (size,) * d if isinstance(size, numbers.Integral) else tuple(size)
        if len(sizes) != d or any(isinstance(s, bool) or not isinstance(s, numbers.Integral)
                                  or s <= 0 for s in sizes):
            raise ConfigError(f"{where}: size must be a positive int or a tuple of {d} positive "
                              f"ints for input with spatial size {in_size}, got {size!r}")
        return tuple(int(s) for s in sizes), (None,) * d
    scales = (scale_factor,) * d if isinstance(scale_factor, numbers.Real) else \
        tuple(scale_factor)
    if len(scales) != d or any(isinstance(s, bool) or not isinstance(s, numbers.Real) or s <= 0
                               for s in scales):
        raise ConfigError(f"{where}: scale_factor must be a positive number or a tuple of {d} "
                          f"for input with spatial size {in_size}, got {scale_factor!r}")
    sizes = tuple(int(math.floor(n * float(s))) for n, s in zip(in_size, scales))
    if any(s <= 0 for s in sizes):
        raise ShapeError(f"{where}: scale_factor={scale_factor!r} gives an empty output for input "
                         f"with spatial size {in_size}")
    return sizes, ((None,) * d if recompute else tuple(1.0 / float(s) for s in scales))


def _nearest_host(n, o, scale, exact):
    """PyTorch's nearest source index of each output cell (in single precision, as its kernel)."""
    if o == n:
        return np.arange(n)
    s = np.float32(n / o if scale is None else scale)
    if exact:                             # (i + 0.5) · scale in double, floored in single
        src = np.floor(((np.arange(o) + 0.5) * np.float64(s)).astype(np.float32))
    else:
        src = np.floor(np.arange(o, dtype=np.float32) * s)
    return np.minimum(src.astype(np.int64), n - 1)


def _linear_matrix(xp, n, o, scale, align_corners, dtype):
    """M (o, n): output cell i = (1 - λ) x[i₀] + λ x[i₁] along one dim (PyTorch's weights)."""
    i = xp.arange(o, dtype=dtype)
    if align_corners:
        src = i * (dtype.type((n - 1) / (o - 1)) if o > 1 else dtype.type(0))
    else:
        s = dtype.type(n / o if scale is None else scale)
        src = xp.maximum(s * (i + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    i0 = src.astype(xp.int64)
    i1 = xp.minimum(i0 + 1, n - 1)
    lam = src - i0.astype(dtype)
    j = xp.arange(n, dtype=xp.int64).reshape((1, -1))
    m = (j == i0.reshape((-1, 1))).astype(dtype) * (1 - lam).reshape((-1, 1))
    return m + (j == i1.reshape((-1, 1))).astype(dtype) * lam.reshape((-1, 1))


def _along(y, axis, fn):
    """Apply *fn* to the last dim after moving *axis* there, then move it back."""
    return fn(y.transpose(axis, -1)).transpose(axis, -1)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L) or (N, C, H, W) input to *size* or by *scale_factor* with "nearest",
    "nearest-exact", "linear" (3-D input) or "bilinear" (4-D input) interpolation.

    >>> F.interpolate(cr.tensor([[[1., 2.]]]), scale_factor=2)
    tensor([[[1., 1., 2., 2.]]])
    """
    where = "interpolate"
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{where}: expected a cr.Tensor, got {type(input).__name__}")
    if mode not in _MODES:
        raise ConfigError(f"{where}: mode must be one of {', '.join(map(repr, _MODES))}, got "
                          f"{mode!r}")
    if antialias:
        raise ConfigError(f"{where}: antialias=True is not supported")
    nd = input._data.ndim
    if nd not in (3, 4):
        raise ShapeError(f"{where}: expected 3D (N, C, L) or 4D (N, C, H, W) input, got "
                         f"{nd}D input of shape {input.shape}")
    d = nd - 2
    need = _MODES[mode]
    if need is not None and need != d:
        raise ShapeError(f"{where}: got {nd}D input of shape {input.shape}, but {mode} mode needs "
                         f"{need + 2}D input")
    if need is None and align_corners is not None:
        raise ConfigError(f"{where}: align_corners option can only be set with the "
                          f"interpolating modes: linear | bilinear")
    if input._data.dtype.kind != "f":
        raise DTypeError(f"{where}: expected a floating-point input, got dtype {input.dtype}")
    in_size = tuple(input.shape[2:])
    out, scales = _sizes(in_size, size, scale_factor, recompute_scale_factor, where)
    xp, dtype = namespace_of(input._data), input._data.dtype
    y = input
    for dim in range(d):
        n, o, axis = in_size[dim], out[dim], 2 + dim
        if need is not None:
            m = Tensor(_linear_matrix(xp, n, o, scales[dim], bool(align_corners), dtype))
            y = _along(y, axis, lambda t, m=m: matmul(t, m.T))
            continue
        src = _nearest_host(n, o, scales[dim], mode == "nearest-exact")
        if o % n == 0 and np.array_equal(src, np.repeat(np.arange(n), o // n)):
            if o == n:
                continue
            shape = y.shape
            wide = y.unsqueeze(axis + 1).expand(*shape[:axis + 1], o // n, *shape[axis + 1:])
            y = wide.reshape(shape[:axis] + (o,) + shape[axis + 1:])
        else:
            y = y[(slice(None),) * axis + (xp.asarray(src),)]
    return y * 1 if y is input else y
