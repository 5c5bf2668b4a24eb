"""``embedding``: look up rows of a weight matrix by integer index."""
from chainrule.backend import namespace_of, numpy_namespace
from chainrule.errors import ArgumentTypeError, DTypeError, IndexOutOfRangeError
from chainrule.function import Op
from chainrule.ops.indexing import IndexAdd
from chainrule.tensor import Tensor


class Embedding(Op):
    """y = W[idx] (one row per index).  W̄ = zeros with ȳ's rows added at idx (repeats accumulate);
    the padding row gets no gradient.  *bad* (a device's indices out of range, or None) marks
    rows that are NaN and send no gradient.  Linear in W: ẏ = Ẇ[idx] (0 on the *bad* rows)."""

    @staticmethod
    def forward(ctx, weight, idx, padding_idx, bad):
        ctx.meta = (idx, padding_idx, bad, weight._data.shape)
        y = weight._data[idx]
        if bad is not None:
            y = ctx.xp.where(bad[..., None], ctx.xp.nan, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        idx, padding_idx, bad, shape = ctx.meta
        keep = None if padding_idx is None else idx != padding_idx
        if bad is not None:
            keep = ~bad if keep is None else keep & ~bad
        if keep is not None:
            gy = gy * keep[..., None].astype(gy.dtype)      # a constant
        return ctx.call(IndexAdd, gy, idx, shape), None, None, None

    @staticmethod
    def jvp(ctx, tw, *_):
        """ẏ = Ẇ[idx] (0 on the *bad* rows)."""
        idx, bad = ctx.primals[1], ctx.primals[3]
        t = tw[idx]
        return t if bad is None else ctx.xp.where(bad[..., None], 0.0, t)


def _renorm_(weight, idx, max_norm, norm_type):
    """Rescale in place the rows of *weight* used by *idx* whose norm exceeds *max_norm*."""
    xp = namespace_of(weight._data)
    rows = xp.unique(idx)
    w = weight._data[rows]
    norms = xp.linalg.norm(w, ord=norm_type, axis=1) if norm_type != 2 else xp.sqrt((w * w).sum(1))
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    weight._data[rows] = w * scale[:, None]
    weight._vc[0] += 1


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of *weight* (num_embeddings, dim) picked by the integer tensor *input*: shape (*, dim).

    The row at *padding_idx* receives no gradient.  With *max_norm*, rows looked up whose
    *norm_type*-norm exceeds it are first rescaled in place to norm *max_norm*.  An index out of
    range raises on the CPU; on a GPU it is not read back and gives a row of NaN.

    >>> F.embedding(cr.tensor([[0, 2]]), cr.eye(3)).shape
    (1, 2, 3)
    """
    if not isinstance(input, Tensor):
        raise ArgumentTypeError("embedding: expected an integer tensor of indices, got "
                                f"{type(input).__name__}")
    if input._data.dtype.kind not in "iu":
        raise DTypeError("embedding: expected an integer tensor of indices, got dtype "
                         f"{input.dtype}")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse gradients are not "
                                  "supported; leave them False")
    n = weight._data.shape[0]
    idx, bad = input._data, None
    xp = namespace_of(idx)
    if xp is not numpy_namespace:
        # checking the range would copy to the host in every step: as PyTorch's CUDA kernel does
        # not raise either, an index out of range gives a row of NaN (and no gradient)
        bad = (idx < 0) | (idx >= n)
        idx = xp.where(bad, 0, idx)
    elif idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexOutOfRangeError(f"embedding: index {bad} is out of range for {n} embeddings "
                                   f"(expected 0 <= index < {n})")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    return Embedding.apply(weight, idx, padding_idx, bad)
