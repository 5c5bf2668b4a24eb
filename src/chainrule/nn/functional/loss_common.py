"""What the composed losses share: their argument checks and the final reduction.

The losses written from differentiable tensor ops (KL divergence, the Poisson and Gaussian NLL,
the ranking and margin losses) check their arguments with these helpers and reduce the
elementwise loss with :func:`reduce_loss`; the reduction names and their check are the fused
losses' (``check_reduction``).

>>> reduce_loss(cr.tensor([1.0, 3.0]), "mean")
tensor(2.)
"""
import numbers

from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError
from chainrule.nn.functional.loss import REDUCTIONS, check_reduction
from chainrule.tensor import Tensor, to_array

__all__ = ["REDUCTIONS", "check_reduction", "float_input", "as_target", "reduce_loss",
           "check_number"]


def float_input(name, input, what="input"):
    """*input*, checked to be a floating-point tensor."""
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{name}: {what} must be a Tensor, got {type(input).__name__}")
    if input.data.dtype.kind != "f":
        raise DTypeError(f"{name}: {what} must be a floating-point tensor, got dtype "
                         f"{input.data.dtype}; convert it with {what}.float()")
    return input


def as_target(target, input):
    """*target* as a tensor of *input*'s float dtype (a target that requires grad is cast
    differentiably; a list or array is converted)."""
    t = target if isinstance(target, Tensor) else Tensor(to_array(target, input.data.dtype))
    if t.data.dtype == input.data.dtype:
        return t
    if t.requires_grad:
        return t.to(input.data.dtype)
    return Tensor(t.data.astype(input.data.dtype))


def check_number(value, name, where):
    """*value* as a float, or a ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{where}: {name} must be a number, got {name}={value!r}")
    return float(value)


def reduce_loss(loss, reduction):
    """The elementwise *loss* as it is ('none'), summed ('sum') or averaged ('mean')."""
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()
