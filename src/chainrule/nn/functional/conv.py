"""Convolutions (``conv1d``, ``conv2d``, ``conv_transpose1d``, ``conv_transpose2d``) and
``unfold``/``fold``, as PyTorch's (layout NCHW, cross-correlation, weight (out, in/groups, *k)).

A convolution is one GEMM over the column array of the input (``_windows.im2col``: one strided
copy per kernel tap, no loop over pixels).  With X the columns (C·K rows, N·P columns) and W the
weight as an (O, C·K) matrix, per group,

    y = W X (+ b),    W̄ = Ȳ Xᵀ,    X̄ = Wᵀ Ȳ  folded back onto the input (``col2im``),

so the three ops below are each other's VJPs and differentiable to any order::

    conv       y = conv(x, w)        x̄ = conv_t(ȳ, w)       w̄ = conv_w(x, ȳ)
    conv_t     z = conv_t(g, w)      ḡ = conv(z̄, w)         w̄ = conv_w(z̄, g)
    conv_w     v = conv_w(x, g)      x̄ = conv_t(g, v̄)       ḡ = conv(x, v̄)

``conv_t`` (with a bias) is the transposed convolution.  The GEMMs live in ``_conv_gemm``:
between layers arrays are laid out (C, *spatial, N), the batch innermost (``_windows``), and
returned as (N, C, ...) views, so the next layer reads them without a transpose; from 32 channels
per group the GEMMs themselves run channels last (``_conv_columns``).
"""
import math

from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.function import Op
from chainrule.nn.functional import _conv_gemm as _g
from chainrule.nn.functional import _windows as _w
from chainrule.ops._util import tangent_sum
from chainrule.tensor import Tensor


# ---- the ops -----------------------------------------------------------------------------------
class Conv(Op):
    """y = conv(x, w) + b (cross-correlation, per group).  x̄ = conv_t(ȳ, w), w̄ = conv_w(x, ȳ),
    b̄ = Σ ȳ over the batch and spatial axes.  Bilinear: ẏ = conv(ẋ, w) + conv(x, ẇ) + ḃ."""

    @staticmethod
    def forward(ctx, x, w, b, win, groups):
        ctx.save_for_backward(x, w)
        ctx.meta = (win, groups)
        cols = _g.columns(ctx.xp, x._data, w._data.shape, win, groups)
        # the padded channels-last input copy, kept for a first-order weight gradient
        ctx.columns_src = cols.src if cols is not None and ctx.needs_input_grad[1] else None
        return _g.conv_arrays(ctx.xp, x._data, w._data, win, groups,
                              None if b is None else b._data, cols)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        win, groups = ctx.meta
        nx, nw, nb = ctx.needs_input_grad[:3]
        src = getattr(ctx, "columns_src", None)
        ctx.columns_src = None
        gb = ctx.xp.sum(gy, axis=(0,) + tuple(range(2, gy.ndim))) if nb else None
        first_order = not isinstance(gy, Tensor)       # arrays: no graph is recorded
        if first_order and nx and nw:                  # one (C, *spatial, N) copy serves both
            gy = _g.to_layout(ctx.xp, gy)
        gx = ctx.call(ConvTranspose, gy, w, None, win, groups) if nx else None
        if nw and first_order and src is not None:
            gw = _g.conv_w_arrays(ctx.xp, x, gy, win, groups, w.shape, src)
        else:
            gw = ctx.call(ConvWeight, x, gy, win, groups, w.shape) if nw else None
        return gx, gw, gb, None, None

    @staticmethod
    def jvp(ctx, tx, tw, tb, *_):
        """ẏ = conv(ẋ, w) + conv(x, ẇ) + ḃ."""
        x, w, _, win, groups = ctx.primals
        return tangent_sum(None if tx is None else ctx.call(Conv, tx, w, None, win, groups),
                           None if tw is None else ctx.call(Conv, x, tw, None, win, groups),
                           _bias_tangent(ctx.xp, tb, len(win.kernel)))


def _bias_tangent(xp, tb, d):
    """ḃ (C,) as (C, 1, …) to broadcast over an (N, C, *spatial) output; None stays None."""
    return None if tb is None else xp.reshape(tb, (tb.shape[0],) + (1,) * d)


class ConvTranspose(Op):
    """z = conv_t(g, w) + b: the adjoint of conv in its input (the transposed convolution).
    ḡ = conv(z̄, w), w̄ = conv_w(z̄, g), b̄ = Σ z̄ over the batch and spatial axes.
    Bilinear: ż = conv_t(ġ, w) + conv_t(g, ẇ) + ḃ."""

    @staticmethod
    def forward(ctx, g, w, b, win, groups):
        ctx.save_for_backward(g, w)
        ctx.meta = (win, groups)
        return _g.conv_t_arrays(ctx.xp, g._data, w._data, win, groups, None if b is None else b._data)

    @staticmethod
    def backward(ctx, gz):
        g, w = ctx.saved_tensors
        win, groups = ctx.meta
        ng, nw, nb = ctx.needs_input_grad[:3]
        gg = ctx.call(Conv, gz, w, None, win, groups) if ng else None
        gw = ctx.call(ConvWeight, gz, g, win, groups, w.shape) if nw else None
        gb = ctx.xp.sum(gz, axis=(0,) + tuple(range(2, gz.ndim))) if nb else None
        return gg, gw, gb, None, None

    @staticmethod
    def jvp(ctx, tg, tw, tb, *_):
        """ż = conv_t(ġ, w) + conv_t(g, ẇ) + ḃ."""
        g, w, _, win, groups = ctx.primals
        return tangent_sum(
            None if tg is None else ctx.call(ConvTranspose, tg, w, None, win, groups),
            None if tw is None else ctx.call(ConvTranspose, g, tw, None, win, groups),
            _bias_tangent(ctx.xp, tb, len(win.kernel)))


class ConvWeight(Op):
    """v = conv_w(x, g): the gradient of conv in its weight.  x̄ = conv_t(g, v̄),
    ḡ = conv(x, v̄).  Bilinear: v̇ = conv_w(ẋ, g) + conv_w(x, ġ)."""

    @staticmethod
    def forward(ctx, x, g, win, groups, w_shape):
        ctx.save_for_backward(x, g)
        ctx.meta = (win, groups)
        return _g.conv_w_arrays(ctx.xp, x._data, g._data, win, groups, w_shape)

    @staticmethod
    def backward(ctx, gv):
        x, g = ctx.saved_tensors
        win, groups = ctx.meta
        nx, ng = ctx.needs_input_grad[:2]
        gx = ctx.call(ConvTranspose, g, gv, None, win, groups) if nx else None
        gg = ctx.call(Conv, x, gv, None, win, groups) if ng else None
        return gx, gg, None, None, None

    @staticmethod
    def jvp(ctx, tx, tg, *_):
        """v̇ = conv_w(ẋ, g) + conv_w(x, ġ)."""
        x, g, win, groups, w_shape = ctx.primals
        return tangent_sum(
            None if tx is None else ctx.call(ConvWeight, tx, g, win, groups, w_shape),
            None if tg is None else ctx.call(ConvWeight, x, tg, win, groups, w_shape))


class Unfold(Op):
    """cols = unfold(x): (N, C, *in) → (N, C·K, L), the windows as columns.  x̄ = fold(ȳ);
    linear: ẏ = unfold(ẋ)."""

    @staticmethod
    def forward(ctx, x, win):
        a = x._data
        ctx.meta = (win, a.shape[1])
        cols = _w.im2col(ctx.xp, a, win)                         # (C, *k, *out, N)
        return _w.from_cf(ctx.xp, cols.reshape((-1, _prod(win.out_size), a.shape[0])))

    @staticmethod
    def backward(ctx, gy):
        win, c = ctx.meta
        return ctx.call(Fold, gy, win, c), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = unfold(ẋ)."""
        return ctx.call(Unfold, tx, ctx.primals[1])


class Fold(Op):
    """x = fold(cols): (N, C·K, L) → (N, C, *out), overlapping entries summed.
    c̄ols = unfold(x̄); linear: ẋ = fold(ċols)."""

    @staticmethod
    def forward(ctx, cols, win, c):
        xp, a = ctx.xp, cols._data
        ctx.meta = (win,)
        n = a.shape[0]
        ct = _w.to_cf(xp, a).reshape((c,) + win.kernel + win.out_size + (n,))
        return _w.col2im(xp, ct, win, n, c)

    @staticmethod
    def backward(ctx, gx):
        win, = ctx.meta
        return ctx.call(Unfold, gx, win), None, None

    @staticmethod
    def jvp(ctx, tc, *_):
        """ẋ = fold(ċols)."""
        return ctx.call(Fold, tc, *ctx.primals[1:])


def _prod(t):
    return math.prod(t)


# ---- checking the arguments --------------------------------------------------------------------
def _tensor(v, name, where):
    if not isinstance(v, Tensor):
        raise ArgumentTypeError(f"{where}: expected {name} to be a cr.Tensor, got "
                                f"{type(v).__name__}")
    return v


def _batched(input, d, where):
    """Check *input*'s rank: (N, C, *spatial) or unbatched (C, *spatial); True when unbatched."""
    nd = input._data.ndim
    if nd not in (d + 1, d + 2):
        raise ShapeError(f"{where}: expected {d + 1}D (unbatched) or {d + 2}D (batched) input, "
                         f"got {nd}D input of shape {input.shape}")
    return nd == d + 1


def _groups(groups, where):
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise ConfigError(f"{where}: groups must be a positive int, got groups={groups!r}")
    return groups


def _check_weight(input, weight, bias, d, groups, where, transposed=False):
    """Shapes and dtypes of a convolution's operands (input already batched)."""
    x, w = input._data, weight._data
    if w.ndim != d + 2:
        raise ShapeError(f"{where}: expected a {d + 2}D weight (out, in/groups, "
                         f"{', '.join('k' * d)}), got weight of shape {weight.shape}")
    c = x.shape[1]
    if transposed:
        if w.shape[0] != c:
            raise ShapeError(f"{where}: input of shape {input.shape} has {c} channels but the "
                             f"weight of shape {weight.shape} expects {w.shape[0]} "
                             f"(weight (in, out/groups, *k))")
        if c % groups:
            raise ConfigError(f"{where}: groups={groups} does not divide the input's {c} channels "
                              f"(input of shape {input.shape}, weight of shape {weight.shape})")
        out_c = w.shape[1] * groups
    else:
        if w.shape[0] % groups:
            raise ConfigError(f"{where}: groups={groups} does not divide the weight's "
                              f"{w.shape[0]} output channels (weight of shape {weight.shape}, "
                              f"input of shape {input.shape})")
        if c != w.shape[1] * groups:
            raise ShapeError(f"{where}: given groups={groups} and weight of shape {weight.shape}, "
                             f"expected input of shape {input.shape} to have "
                             f"{w.shape[1] * groups} channels, but got {c} channels")
        out_c = w.shape[0]
    if x.dtype != w.dtype:
        raise DTypeError(f"{where}: input dtype {x.dtype} does not match weight dtype {w.dtype}; "
                         f"convert one of them (x.to(cr.{w.dtype}) or model.to(cr.{x.dtype}))")
    if x.dtype.kind != "f":
        raise DTypeError(f"{where}: expected floating-point input and weight, got {x.dtype}")
    if bias is not None:
        _tensor(bias, "bias", where)
        if bias._data.shape != (out_c,) or bias._data.dtype != w.dtype:
            raise ShapeError(f"{where}: bias of shape {bias.shape} and dtype {bias.dtype} does not "
                             f"fit {out_c} output channels of dtype {w.dtype} (weight of shape "
                             f"{weight.shape}); expected shape ({out_c},)")


def conv_padding(padding, kernel, dilation, stride, d, where):
    """(pad before, pad after) per dim for an int, a tuple, "valid" or "same" — or, from the
    Keras layers, a tuple of (before, after) pairs, one per dim."""
    if isinstance(padding, (tuple, list)) and len(padding) == d and all(
            isinstance(p, (tuple, list)) for p in padding):
        lo = _w.as_tuple(tuple(p[0] for p in padding), d, "padding", where, minimum=0)
        hi = _w.as_tuple(tuple(p[-1] for p in padding), d, "padding", where, minimum=0)
        if any(len(p) != 2 for p in padding):
            raise ConfigError(f"{where}: padding pairs must be (before, after), got {padding!r}")
        return lo, hi
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * d, (0,) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ConfigError(f"{where}: padding='same' is not supported for strided "
                                  f"convolutions (stride={stride})")
            total = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            lo = tuple(t // 2 for t in total)
            return lo, tuple(t - a for t, a in zip(total, lo))
        raise ConfigError(f"{where}: padding must be an int, a tuple of ints, 'valid' or 'same', "
                          f"got padding={padding!r}")
    p = _w.as_tuple(padding, d, "padding", where, minimum=0)
    return p, p


def convolution(input, weight, bias, stride, padding, dilation, groups, d, where):
    """The checked forward of conv1d/conv2d (and the Conv layers, which name themselves)."""
    _tensor(input, "input", where)
    _tensor(weight, "weight", where)
    groups = _groups(groups, where)
    stride = _w.as_tuple(stride, d, "stride", where)
    dilation = _w.as_tuple(dilation, d, "dilation", where)
    unbatched = _batched(input, d, where)
    x = input.unsqueeze(0) if unbatched else input
    _check_weight(x, weight, bias, d, groups, where)
    kernel = tuple(weight._data.shape[2:])
    lo, hi = conv_padding(padding, kernel, dilation, stride, d, where)
    win = _w.make(kernel, stride, dilation, lo, hi, tuple(x._data.shape[2:]), where,
                  input_shape=input.shape)
    y = Conv.apply(x, weight, bias, win, groups)
    return y.squeeze(0) if unbatched else y


def transposed_convolution(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, d, where, output_size=None):
    """The checked forward of conv_transpose1d/2d (and ConvTranspose layers)."""
    _tensor(input, "input", where)
    _tensor(weight, "weight", where)
    groups = _groups(groups, where)
    stride = _w.as_tuple(stride, d, "stride", where)
    dilation = _w.as_tuple(dilation, d, "dilation", where)
    if isinstance(padding, str):
        raise ConfigError(f"{where}: padding must be an int or a tuple of ints for a transposed "
                          f"convolution, got padding={padding!r}")
    pad = _w.as_tuple(padding, d, "padding", where, minimum=0)
    out_pad = _w.as_tuple(output_padding, d, "output_padding", where, minimum=0)
    unbatched = _batched(input, d, where)
    x = input.unsqueeze(0) if unbatched else input
    _check_weight(x, weight, bias, d, groups, where, transposed=True)
    kernel = tuple(weight._data.shape[2:])
    in_t = tuple(x._data.shape[2:])
    base = tuple((n - 1) * s - 2 * p + dl * (k - 1) + 1
                 for n, s, p, dl, k in zip(in_t, stride, pad, dilation, kernel))
    if output_size is not None:
        size = tuple(output_size)[-d:]
        out_pad = tuple(o - b for o, b in zip(size, base))
        top = tuple(b + max(s, dl) - 1 for b, s, dl in zip(base, stride, dilation))
        if len(size) != d or any(not 0 <= op < max(s, dl) for op, s, dl in
                                 zip(out_pad, stride, dilation)):
            raise ShapeError(f"{where}: requested output_size {tuple(output_size)} is not "
                             f"reachable from input of shape {input.shape}: the valid sizes are "
                             f"{base} up to {top}")
    for op, s, dl in zip(out_pad, stride, dilation):
        if op >= max(s, dl):
            raise ConfigError(f"{where}: output_padding must be smaller than either stride or "
                              f"dilation, got output_padding={output_padding}, stride={stride}, "
                              f"dilation={dilation}")
    out = tuple(b + op for b, op in zip(base, out_pad))
    y = _transposed(x, weight, bias, stride, dilation, groups, pad, out, input, where)
    return y.squeeze(0) if unbatched else y


def _transposed(x, weight, bias, stride, dilation, groups, pad_lo, out, input, where):
    """ConvTranspose of batched *x* to spatial size *out*, output cell j being cell j + pad_lo of
    the uncropped transposed convolution (the Keras layers give TensorFlow's crop this way)."""
    kernel = tuple(weight._data.shape[2:])
    in_t = tuple(x._data.shape[2:])
    if any(o <= 0 for o in out):
        raise ShapeError(f"{where}: input of shape {input.shape} with kernel {kernel}, "
                         f"stride {stride}, padding {pad_lo} gives a non-positive output size "
                         f"{out}")
    pad_hi = tuple(max((n - 1) * s + dl * (k - 1) + 1 - o - lo, 0) for n, s, dl, k, o, lo in
                   zip(in_t, stride, dilation, kernel, out, pad_lo))
    win = _w.Windows(kernel, stride, dilation, tuple(pad_lo), pad_hi, tuple(out), in_t)
    return ConvTranspose.apply(x, weight, bias, win, groups)


def transposed_convolution_to(input, weight, bias, stride, dilation, groups, pad_lo, out, d,
                              where):
    """A checked transposed convolution to spatial size *out* that crops *pad_lo* cells at the
    start of each dim (and whatever is left at the end): the Keras layers' form."""
    _tensor(input, "input", where)
    _tensor(weight, "weight", where)
    groups = _groups(groups, where)
    stride = _w.as_tuple(stride, d, "stride", where)
    dilation = _w.as_tuple(dilation, d, "dilation", where)
    if _batched(input, d, where):
        raise ShapeError(f"{where}: expected batched input, got shape {input.shape}")
    _check_weight(input, weight, bias, d, groups, where, transposed=True)
    return _transposed(input, weight, bias, stride, dilation, groups, pad_lo, out, input, where)


# ---- the public functions ----------------------------------------------------------------------
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation: y[n, o, l] = b[o] + Σ_{c,i} w[o, c, i] · x_pad[n, c, l·s + i·d].

    input (N, C, L) or (C, L); weight (out, C/groups, k); padding an int, "valid" or "same".

    >>> F.conv1d(cr.ones(1, 2, 5), cr.ones(3, 2, 3)).shape
    (1, 3, 3)
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation: y[n, o, h, w] = b[o] + Σ_{c,i,j} W[o, c, i, j] ·
    x_pad[n, c, h·s₀ + i·d₀, w·s₁ + j·d₁] (c over o's group).

    input (N, C, H, W) or (C, H, W); weight (out, C/groups, kh, kw); padding an int, a pair,
    "valid" or "same"; groups=C with weight (C·m, 1, kh, kw) is a depthwise convolution.

    >>> F.conv2d(cr.ones(1, 3, 8, 8), cr.ones(4, 3, 3, 3), padding=1).shape
    (1, 4, 8, 8)
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution (the adjoint of conv1d in its input): weight (C, out/groups, k),
    L_out = (L - 1)·s - 2p + d(k - 1) + output_padding + 1.

    >>> F.conv_transpose1d(cr.ones(1, 2, 4), cr.ones(2, 3, 3), stride=2).shape
    (1, 3, 9)
    """
    return transposed_convolution(input, weight, bias, stride, padding, output_padding, groups,
                                  dilation, 1, "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution ("deconvolution"), the adjoint of conv2d in its input:
    weight (C, out/groups, kh, kw), H_out = (H - 1)·s - 2p + d(k - 1) + output_padding + 1.

    >>> F.conv_transpose2d(cr.ones(1, 4, 5, 5), cr.ones(4, 2, 3, 3), stride=2).shape
    (1, 2, 11, 11)
    """
    return transposed_convolution(input, weight, bias, stride, padding, output_padding, groups,
                                  dilation, 2, "conv_transpose2d")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """The sliding windows of (N, C, H, W) input as columns: (N, C·kh·kw, L), L the number of
    windows; column l holds window l's values, channel-major (as ``torch.nn.functional.unfold``).

    >>> F.unfold(cr.ones(1, 2, 4, 4), 2).shape
    (1, 8, 9)
    """
    where = "unfold"
    _tensor(input, "input", where)
    unbatched = _batched(input, 2, where)
    x = input.unsqueeze(0) if unbatched else input
    kernel = _w.as_tuple(kernel_size, 2, "kernel_size", where)
    dilation = _w.as_tuple(dilation, 2, "dilation", where)
    stride = _w.as_tuple(stride, 2, "stride", where)
    pad = _w.as_tuple(padding, 2, "padding", where, minimum=0)
    win = _w.make(kernel, stride, dilation, pad, pad, tuple(x._data.shape[2:]), where,
                  input_shape=input.shape)
    y = Unfold.apply(x, win)
    return y.squeeze(0) if unbatched else y


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C·kh·kw, L) back into an (N, C, H, W) image (the adjoint of unfold):
    overlapping window entries add up.

    >>> F.fold(F.unfold(cr.ones(1, 1, 3, 3), 2), (3, 3), 2)[0, 0]
    tensor([[1., 2., 1.],
            [2., 4., 2.],
            [1., 2., 1.]])
    """
    where = "fold"
    _tensor(input, "input", where)
    nd = input._data.ndim
    if nd not in (2, 3):
        raise ShapeError(f"{where}: expected 2D (unbatched) or 3D (batched) input (N, C·kh·kw, L),"
                         f" got {nd}D input of shape {input.shape}")
    x = input.unsqueeze(0) if nd == 2 else input
    size = _w.as_tuple(output_size, 2, "output_size", where)
    kernel = _w.as_tuple(kernel_size, 2, "kernel_size", where)
    dilation = _w.as_tuple(dilation, 2, "dilation", where)
    stride = _w.as_tuple(stride, 2, "stride", where)
    pad = _w.as_tuple(padding, 2, "padding", where, minimum=0)
    k = kernel[0] * kernel[1]
    ck, n_blocks = x._data.shape[1], x._data.shape[2]
    if ck % k:
        raise ShapeError(f"{where}: expected size of input's dimension 1 ({ck}, input of shape "
                         f"{input.shape}) to be divisible by the product of kernel_size {kernel} "
                         f"({k})")
    win = _w.make(kernel, stride, dilation, pad, pad, size, where, input_shape=size)
    if n_blocks != _prod(win.out_size):
        raise ShapeError(f"{where}: given output_size={size}, kernel_size={kernel}, "
                         f"dilation={dilation}, padding={pad}, stride={stride}, expected input's "
                         f"dimension 2 to be {_prod(win.out_size)} ({win.out_size} blocks), but "
                         f"got input of shape {input.shape}")
    y = Fold.apply(x, win, ck // k)
    return y.squeeze(0) if nd == 2 else y
