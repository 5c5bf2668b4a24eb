"""``bilinear``: y_o = x₁ᵀ A_o x₂ + b_o, as ``torch.nn.functional.bilinear``.

With A of shape (out, in1, in2): one matmul of x₁ with A laid out as (in1, out·in2), then a
product with x₂ summed over in2, so the gradients (to x₁, x₂, A and b) are those of the
differentiable ops it is made of.

>>> F.bilinear(cr.ones(2, 3), cr.ones(2, 4), cr.ones(5, 3, 4)).shape
(2, 5)
"""
from chainrule.errors import ArgumentTypeError, ShapeError
from chainrule.tensor import Tensor


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = Σᵢⱼ x₁[..., i] A[o, i, j] x₂[..., j] + b[o].

    >>> F.bilinear(cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0]]), cr.ones(1, 2, 1))
    tensor([[9.]])
    """
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise ArgumentTypeError(f"bilinear: expected {name} to be a cr.Tensor, got {type(t).__name__}")
    if input1.ndim != input2.ndim:
        raise ShapeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                         f"{input2.ndim}")
    if input1.ndim == 0 or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise ShapeError(f"bilinear(): input batch dimensions do not match: got "
                         f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    if weight.ndim != 3:
        raise ShapeError(f"bilinear(): weight must be 3-D (out, in1, in2), got shape "
                         f"{tuple(weight.shape)}")
    out, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise ShapeError(f"bilinear(): input1 size does not match weight size: got "
                         f"{input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise ShapeError(f"bilinear(): input2 size does not match weight size: got "
                         f"{input2.shape[-1]} but expected {in2}")
    if bias is not None and tuple(bias.shape) != (out,):
        raise ShapeError(f"bilinear(): bias size does not match weight size: got "
                         f"{tuple(bias.shape)} but expected ({out},)")
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, 1, in2)
    mixed = (x1 @ weight.permute(1, 0, 2).reshape(in1, out * in2)).reshape(-1, out, in2)
    y = (mixed * x2).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out,))
