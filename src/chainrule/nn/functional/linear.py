"""``linear``: the affine map y = x Wᵀ + b as one fused op (the training hot path)."""
from chainrule.errors import ArgumentTypeError, DTypeError, ShapeError
from chainrule.function import Op
from chainrule.ops._util import tangent_sum
from chainrule.tensor import Tensor


class Linear(Op):
    """y = x Wᵀ + b for x of shape (*, in), W (out, in), b (out,).

    VJPs (with x and ȳ flattened to matrices over the leading dims):
    x̄ = ȳ W,  W̄ = ȳᵀ x,  b̄ = Σ_rows ȳ.

    Written once with ``ctx.xp``: a first-order backward runs it on the arrays (nothing to
    record), ``create_graph=True`` on the tensors, so the gradients are differentiable again.
    """

    @staticmethod
    def forward(ctx, x, w, b):
        xd = x._data
        if xd.ndim > 2:  # one BLAS call on the flattened rows, not one per leading index
            y = xd.reshape(-1, xd.shape[-1]) @ w._data.T
            y = y.reshape(xd.shape[:-1] + (w._data.shape[0],))
        else:
            y = xd @ w._data.T
        if b is not None:
            y += b._data
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        g2 = gy if gy.ndim == 2 else gy.reshape((-1, gy.shape[-1]))
        gx = gw = gb = None
        if nx:
            gx = g2 @ w if gy.ndim == 2 else (g2 @ w).reshape(x.shape)
        if nw:
            gw = g2.T @ (x if x.ndim == 2 else x.reshape((-1, x.shape[-1])))
        if nb:
            gb = ctx.xp.add.reduce(g2, 0)      # Σ over rows (np.sum without its wrapper)
        return gx, gw, gb

    @staticmethod
    def jvp(ctx, tx, tw, tb):
        """ẏ = ẋ Wᵀ + x Ẇᵀ + ḃ."""
        x, w, _ = ctx.primals
        return tangent_sum(None if tx is None else tx @ w.T, None if tw is None else x @ tw.T,
                           tb)


def linear(input, weight, bias=None):
    """y = x Wᵀ + b (``torch.nn.functional.linear``): input (*, in), weight (out, in), bias (out,).

    >>> F.linear(cr.ones(2, 3), cr.ones(4, 3), cr.zeros(4)).shape
    (2, 4)
    """
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        bad, what = ("input", input) if not isinstance(input, Tensor) else ("weight", weight)
        raise ArgumentTypeError(f"linear: expected {bad} to be a cr.Tensor, got "
                                f"{type(what).__name__}")
    xd, wd = input._data, weight._data
    if xd.ndim == 0 or wd.ndim != 2 or xd.shape[-1] != wd.shape[1]:
        raise ShapeError(f"linear: input of shape {input.shape} does not fit weight of shape "
                         f"{weight.shape} (expected input (*, {wd.shape[-1]}) and weight "
                         f"(out, in))")
    if xd.dtype != wd.dtype:
        raise DTypeError(f"linear: input dtype {xd.dtype} does not match weight dtype {wd.dtype}; "
                        f"convert one of them (x.to(cr.{wd.dtype}) or model.to(cr.{xd.dtype}))")
    if bias is not None and (bias._data.shape != (wd.shape[0],) or bias._data.dtype != wd.dtype):
        raise ShapeError(f"linear: bias of shape {bias.shape} and dtype {bias.dtype} does not fit "
                         f"weight of shape {weight.shape} and dtype {wd.dtype} (expected shape "
                         f"({wd.shape[0]},) and the weight's dtype)")
    return Linear.apply(input, weight, bias)
