"""``prelu``: the parametric ReLU, x for x > 0 and a·x otherwise, as ``torch.nn.functional.prelu``.

*weight* holds one slope per channel (``input``'s dim 1) or a single slope for all. At x = 0 the
value is 0 and the gradient with respect to x is a (PyTorch's choice at the kink); the gradient
with respect to a is x where x ≤ 0. Composed of ``where`` and products, so every order of
derivative exists.

>>> F.prelu(cr.tensor([[-2.0, 3.0]]), cr.tensor([0.25]))
tensor([[-0.5000,  3.0000]])
"""
from chainrule.errors import ArgumentTypeError, DTypeError, ShapeError
from chainrule.ops import elementwise as _el
from chainrule.tensor import Tensor


def prelu(input, weight):
    """max(0, x) + a · min(0, x), with *weight* a of 1 element or one per channel (dim 1).

    >>> F.prelu(cr.tensor([-1.0, 2.0]), cr.tensor([0.1]))
    tensor([-0.1000,  2.0000])
    """
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise ArgumentTypeError(f"prelu: expected {name} to be a cr.Tensor, got "
                                    f"{type(t).__name__}")
        if t._data.dtype.kind != "f":
            raise DTypeError(f"prelu: expected a floating-point {name}, got dtype {t.dtype}")
    n = weight.numel()
    if weight.ndim > 1:
        raise ShapeError(f"prelu: weight must be 0-D or 1-D, got shape {tuple(weight.shape)}")
    if n == 1:
        slope = weight.reshape(())
    else:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if n != channels:
            raise ShapeError(f"prelu: mismatch of parameter numbers and input channel size: "
                             f"weight has {n} elements, input {tuple(input.shape)} has "
                             f"{channels} channels (dim 1)")
        slope = weight.reshape((1, n) + (1,) * (input.ndim - 2))
    return _el.where(input > 0, input, input * slope)
