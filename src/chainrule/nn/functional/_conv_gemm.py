"""The three GEMMs of a convolution, on arrays: y = conv(x, w), z = conv_t(g, w) (its input
gradient, the transposed convolution) and v = conv_w(x, g) (its weight gradient), in one of two
layouts, chosen per convolution by its channels per group Cg (the weight's second dim):

- channels first, Cg < 32: columns (C·K, M) from ``_windows`` (runs of N contiguous numbers:
  what small channel counts, as in the digits network, copy fastest);
- channels last, Cg ≥ 32: columns (M, G, K·Cg) from ``_conv_columns`` (runs of Cg numbers, and
  GEMM orientations OpenBLAS runs 15–25 % faster: y = cols Wᵀ, cols̄ = ȳᵀ W, W̄ = ȳ cols).

Either way activations and gradients between layers are laid out (C, *spatial, N), the batch
innermost, and returned as (N, C, *spatial) views: the layout batch norm, pooling and the next
convolution read without a transpose (the channels-last path transposes each block of its GEMM
output while it is in cache, and its summed input gradient once).
"""
from chainrule.nn.functional import _conv_columns as _cc
from chainrule.nn.functional import _windows as _w

CHANNELS_LAST_FROM = 32
"""Channels per group from which a convolution runs channels last."""


def channels_last(w_shape):
    """True when the convolution with weight shape (O, Cg, *k) runs channels last."""
    return w_shape[1] >= CHANNELS_LAST_FROM


def columns(xp, a, w_shape, win, groups):
    """The channels-last column maker of input *a* (its padded copy is ``.src``), or None when
    this convolution runs channels first."""
    return _cc.Columns(xp, a, win, groups) if channels_last(w_shape) else None


def conv_arrays(xp, a, w, win, groups, b=None, cols=None):
    """y (N, O, *out) = conv(a, w) (+ b); *cols* from :func:`columns`, when already made."""
    if channels_last(w.shape):
        return _conv_cl(xp, a, w, win, groups, b,
                        cols if cols is not None else _cc.Columns(xp, a, win, groups))
    return _conv_cf(xp, a, w, win, groups, b)


def conv_t_arrays(xp, g, w, win, groups, b=None):
    """z (N, C, *in) = conv_t(g, w) (+ b)."""
    f = _conv_t_cl if channels_last(w.shape) else _conv_t_cf
    return f(xp, g, w, win, groups, b)


def conv_w_arrays(xp, a, g, win, groups, w_shape, src=None):
    """v (O, C/groups, *k) = conv_w(a, g); *src* the ``.src`` of :func:`columns`, when kept."""
    if channels_last(w_shape):
        return _conv_w_cl(xp, a, g, win, groups, w_shape, src)
    return _conv_w_cf(xp, a, g, win, groups, w_shape)


def to_layout(xp, g):
    """g (N, O, *out) laid out (O, *out, N), C-contiguous, as the convolution's backward reads it
    (one copy at most, made once for both the input and the weight gradient)."""
    return _w.from_cf(xp, _cf(xp, g))


# ---- channels first ----------------------------------------------------------------------------
def _cf(xp, g):
    """g (N, O, *out) laid out (O, *out, N): a view when it is already (as the ops make it),
    else one copy, so every block below is a view."""
    gt = _w.to_cf(xp, g)
    return gt if gt.flags.c_contiguous else xp.ascontiguousarray(gt)


def _rows(gt, groups, h0, h1):
    """Output rows h0..h1 of gt (O, *out, N) as the (groups, O/groups, rows·…·N) matrices."""
    return gt[:, h0:h1].reshape((groups, gt.shape[0] // groups, -1))


def _conv_cf(xp, a, w, win, groups, b=None):
    """y (N, O, *out) = W · im2col(a) (+ b), per group, block by block; laid out (O, *out, N)."""
    o, n = w.shape[0], a.shape[0]
    y = xp.empty((o,) + win.out_size + (n,), dtype=a.dtype)
    wm = w.reshape((groups, o // groups, -1))
    for h0, h1, cols in _w.Columns(xp, a, win).blocks():
        out = y[:, h0:h1].reshape((groups, o // groups, -1))
        if groups == 1:
            xp.matmul(wm[0], cols.reshape((wm.shape[2], -1)), out=out[0])
        else:
            xp.matmul(wm, cols.reshape((groups, wm.shape[2], -1)), out=out)
    if b is not None:
        y += b.reshape((o,) + (1,) * (y.ndim - 1))
    return _w.from_cf(xp, y)


def _conv_t_cf(xp, g, w, win, groups, b=None):
    """z (N, C, *in) = col2im(Wᵀ · g) (+ b), per group, block by block."""
    n, c = g.shape[0], w.shape[1] * groups
    wt = xp.swapaxes(w.reshape((groups, w.shape[0] // groups, -1)), 1, 2)   # (groups, C·K/g, O/g)
    acc = _w.Accumulator(xp, win, n, c, g.dtype)
    g = _cf(xp, g)
    for h0, h1 in _w.row_blocks(win, c, n, g.dtype.itemsize):
        gt = _rows(g, groups, h0, h1)
        cols = wt[0] @ gt[0] if groups == 1 else wt @ gt
        acc.add(cols.reshape((c,) + win.kernel + (h1 - h0,) + win.out_size[1:] + (n,)), h0, h1)
    z = acc.result()
    if b is not None:
        z += b.reshape((c,) + (1,) * len(win.kernel))
    return z


def _conv_w_cf(xp, a, g, win, groups, w_shape):
    """w̄ (O, C/groups, *k) = g · im2col(a)ᵀ, per group, summed over the blocks."""
    gw = None
    g = _cf(xp, g)
    for h0, h1, cols in _w.Columns(xp, a, win).blocks():
        gt = _rows(g, groups, h0, h1)
        cm = cols.reshape((groups, -1, gt.shape[2]))
        part = gt[0] @ cm[0].T if groups == 1 else gt @ xp.swapaxes(cm, 1, 2)
        if gw is None:
            gw = part
        else:
            gw += part
    return gw.reshape(w_shape)


# ---- channels last -----------------------------------------------------------------------------
def _conv_cl(xp, a, w, win, groups, b, columns):
    """y (N, O, *out) = cols · Wᵀ (+ b), per group, block by block; each (M_block, O) product
    is written out channels first, (O, *out, N), while it is in cache."""
    o, n, d = w.shape[0], a.shape[0], len(win.kernel)
    y = xp.empty((o,) + win.out_size + (n,), dtype=a.dtype)
    wm = _cc.weight_matrix(w, groups)                                   # (G, O/G, K·Cg)
    buf = None
    to_cf = (d + 1,) + tuple(range(d + 1))                              # (rows, …, N, O) → (O, …)
    for h0, h1, cols in columns.blocks():
        if buf is None:
            buf = xp.empty((cols.shape[0], groups, o // groups), dtype=a.dtype)
        out = buf[:cols.shape[0]]
        if groups == 1:
            xp.matmul(cols[:, 0], wm[0].T, out=out[:, 0])
        else:
            xp.matmul(cols.transpose(1, 0, 2), xp.swapaxes(wm, 1, 2), out=out.transpose(1, 0, 2))
        y[:, h0:h1] = out.reshape((h1 - h0,) + win.out_size[1:] + (n, o)).transpose(to_cf)
    if b is not None:
        y += b.reshape((o,) + (1,) * (y.ndim - 1))
    return _w.from_cf(xp, y)


def _conv_t_cl(xp, g, w, win, groups, b=None):
    """z (N, C, *in) = col2im(ȳ · W) (+ b), per group, block by block; ȳ read channels first,
    the columns summed channels last, the result laid out channels first."""
    n, c = g.shape[0], w.shape[1] * groups
    acc = _cc.Accumulator(xp, win, n, c, groups, g.dtype)
    gt = _cf(xp, g)                                                     # (O, *out, N)
    wm = _cc.weight_matrix(w, groups)                                   # (G, O/G, K·Cg)
    buf = None
    for h0, h1 in _cc.block_rows(win, c, n, g.dtype.itemsize):
        gm = _rows(gt, groups, h0, h1)                                  # (G, O/G, M_block)
        if buf is None:
            buf = xp.empty((gm.shape[2], groups, wm.shape[2]), dtype=g.dtype)
        cols = buf[:gm.shape[2]]
        if groups == 1:
            xp.matmul(gm[0].T, wm[0], out=cols[:, 0])
        else:
            xp.matmul(xp.swapaxes(gm, 1, 2), wm, out=cols.transpose(1, 0, 2))
        acc.add(cols, h0, h1)
    z = acc.result()
    if b is not None:
        z += b.reshape((c,) + (1,) * len(win.kernel))
    return z


def _conv_w_cl(xp, a, g, win, groups, w_shape, src=None):
    """w̄ (O, C/groups, *k) = ȳ · cols, per group, summed over the blocks (*src*: the padded
    channels-last input the forward pass made, when it kept it)."""
    gw = None
    gt = _cf(xp, g)                                                     # (O, *out, N)
    for h0, h1, cols in _cc.Columns(xp, a, win, groups, src).blocks():
        gm = _rows(gt, groups, h0, h1)                                  # (G, O/G, M_block)
        if groups == 1:
            part = xp.matmul(gm[0], cols[:, 0])[None]
        else:
            part = xp.matmul(gm, cols.transpose(1, 0, 2))
        if gw is None:
            gw = part
        else:
            gw += part
    return _cc.weight_from_matrix(xp, gw, w_shape)
