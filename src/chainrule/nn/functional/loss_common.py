"""What the losses share: the reduction names and their check, argument checks, and reducing.

The fused losses (one ``Op`` each: regression, binary, cross-entropy, NLL) reduce their elementwise
loss on arrays with ``_reduce`` and scale the incoming gradient with ``_scale``; the composed ones
(KL divergence, the Poisson and Gaussian NLL, the ranking and margin losses) check their arguments
with :func:`float_input` / :func:`as_target` and reduce with :func:`reduce_loss`.  ``reduction``
is ``'mean'`` (the default), ``'sum'`` or ``'none'`` everywhere; where PyTorch only warns (a target
whose shape differs from the input's and silently broadcasts) chainrule raises, naming the shapes.

>>> reduce_loss(cr.tensor([1.0, 3.0]), "mean")
tensor(2.)
"""
import difflib
import functools
import numbers
import warnings

import numpy as np

from chainrule.backend import device_of, namespace_of, numpy_namespace
from chainrule.errors import (ArgumentTypeError, AutogradError, ConfigError, DeviceError,
                              DTypeError, ShapeError)
from chainrule.grad_mode import state as _grad_state
from chainrule.tensor import Tensor, to_array


REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction, where, size_average=None, reduce=None):
    """The reduction name, checked (with a did-you-mean); PyTorch's legacy flags are honoured."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated, please use reduction='mean' "
                      "instead.", stacklevel=3)
        return "mean"
    if reduction not in REDUCTIONS:
        close = difflib.get_close_matches(str(reduction), REDUCTIONS, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where}: reduction must be one of 'mean', 'sum' or 'none', got "
                         f"{reduction!r}{hint}")
    return reduction


def _check_input(name, input, classes=False):
    """A floating-point tensor; with *classes*, one with a class dimension (not 0-d)."""
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{name}: input must be a Tensor (the model's output), got "
                                f"{type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise DTypeError(f"{name}: input must be a floating-point tensor, got dtype "
                        f"{input._data.dtype}; convert it with input.float()")
    if classes and input._data.ndim == 0:
        raise ShapeError(f"{name}: input must have a class dimension: shape (C,), (N, C) or "
                         f"(N, C, d1, ...), got a 0-d tensor")


def _as_target(target, dtype=None):
    return target if isinstance(target, Tensor) else Tensor(to_array(target, dtype))


def _cast_like(t, input):
    """*t* in the input's float dtype (a target that requires grad is cast differentiably)."""
    if t._data.dtype == input._data.dtype:
        return t
    if t._requires_grad:
        return t.to(input._data.dtype)
    return Tensor(t._data.astype(input._data.dtype))


def _shape_error(name, input, target):
    a, b = tuple(input.shape), tuple(target.shape)
    msg = f"{name}: input has shape {a} but target has shape {b}; they must be equal."
    try:
        both = np.broadcast_shapes(a, b)
        msg += (f" Broadcasting them (as PyTorch does, with only a warning) would give a loss of "
                f"shape {both}, pairing every prediction with the wrong targets.")
    except ValueError:
        pass
    if len(a) >= 1 and a[-1] == 1 and a[:-1] == b:
        fix = "target.view(-1, 1)" if len(a) == 2 else f"target.unsqueeze({len(a) - 1})"
        msg += f" Use {fix} or input.squeeze({len(a) - 1})."
    elif len(b) >= 1 and b[-1] == 1 and b[:-1] == a:
        fix = "input.view(-1, 1)" if len(b) == 2 else f"input.unsqueeze({len(b) - 1})"
        msg += f" Use target.squeeze({len(b) - 1}) or {fix}."
    else:
        msg += " Reshape one of them so that the shapes match."
    return ShapeError(msg)


def _regression_pair(name, input, target):
    _check_input(name, input)
    target = _as_target(target, input._data.dtype)
    if target.shape != input.shape:
        raise _shape_error(name, input, target)
    return _cast_like(target, input)


def _constant(name, what, w, input, shape=None, exact=False):
    """An optional weight as an array of the input's dtype, checked to broadcast to *shape*
    (or, with *exact*, to have that shape)."""
    if w is None:
        return None
    if isinstance(w, Tensor):
        if w._requires_grad and _grad_state.enabled:
            raise AutogradError(f"{name}: {what} requires grad, but the loss is not differentiable "
                                f"with respect to it (as in PyTorch); pass {what}.detach()")
        if device_of(w._data) != device_of(input._data):
            raise DeviceError(f"{name}: {what} is on device {device_of(w._data)} but the input is "
                              f"on {device_of(input._data)}; move it with "
                              f"{what}.to({str(device_of(input._data))!r})")
        w = w._data
    w = namespace_of(input._data).asarray(w).astype(input._data.dtype, copy=False)
    if shape is not None:
        try:
            ok = (w.shape if exact else np.broadcast_shapes(w.shape, shape)) == tuple(shape)
        except ValueError:
            ok = False
        if not ok:
            raise ShapeError(f"{name}: {what} of shape {w.shape} does not "
                             f"{'match' if exact else 'broadcast to'} the input's shape "
                             f"{tuple(shape)}")
    return w


def _reduce(xp, v, reduction, denom=None):
    """Reduce the elementwise loss array *v*: 'none' keeps it, 'sum' adds, 'mean' divides."""
    if reduction == "none":
        return v
    total = v.sum()
    if reduction == "sum":
        return total
    if denom is None and v.size:   # a count: the quotient can neither overflow nor divide by 0
        return xp.asarray(total / v.size, dtype=v.dtype)
    with xp.errstate(divide="ignore", invalid="ignore"):
        return xp.asarray(total / (v.size if denom is None else denom), dtype=v.dtype)


def _scale(xp, gy, reduction, denom):
    """The gradient each element's loss receives: ȳ itself, or ȳ / denom for 'mean' (0 where
    denom is 0: every place ignored or weighted 0, as PyTorch).  *denom* is a count (an int), a
    sum of weights on the host (a NumPy scalar) or on a device (a 0-d array, never read back)."""
    if reduction != "mean":
        return gy
    if type(denom) is int or isinstance(denom, np.generic):
        return gy / denom if denom else gy * 0
    with xp.errstate(divide="ignore", invalid="ignore"):
        return xp.where(denom == 0, gy * 0, gy / denom)


def jvp_by_vjp(ctx, tangents, class_axis=None):
    """A loss op's JVP from its own VJP at ȳ = 1.  The loss is a sum over places of a function
    of each place's values, so ẏ = Σᵢ ⟨x̄ᵢ, ẋᵢ⟩: over everything for 'sum' and 'mean' (a
    scalar), per place for 'none' (summed over *class_axis* where a place holds a row of
    classes).  Written in the backward's names, so it works on arrays and on tensors."""
    needs = ctx.needs_input_grad
    ctx.needs_input_grad = tuple(t is not None for t in tangents)
    try:
        grads = type(ctx).backward(ctx, ctx.xp.ones_like(ctx.outputs[0]))
    finally:
        ctx.needs_input_grad = needs
    out = None
    for g, t in zip(grads, tangents):
        if g is not None and t is not None:
            out = g * t if out is None else out + g * t
    if out is None:
        return None
    if ctx.outputs[0].ndim == 0:
        return ctx.xp.sum(out)
    return out if class_axis is None else ctx.xp.sum(out, axis=class_axis)


def _array(v):
    """The array behind a tensor (values handed to an op are tensors or arrays)."""
    return v._data if isinstance(v, Tensor) else v


try:        # NumPy >= 2.0 keeps its error state in a context variable (``np.errstate`` sets it)
    from numpy._core._ufunc_config import _extobj_contextvar
except ImportError:                       # another NumPy: ``np.errstate`` every time
    _extobj_contextvar = None

_quiet_state = [(None, None)]
"""[(the error state last seen on entry, the same with overflow/invalid ignored)], replaced whole
(one pair, read and written atomically)"""


def _quiet(method):
    """Run a forward or backward without NumPy's overflow/invalid warnings: like PyTorch, a loss
    (or gradient) that overflows is simply inf (or nan), and the caller sees it in the value.

    On NumPy this is ``np.errstate(over="ignore", invalid="ignore")`` without its cost (~1 µs a
    call, twice per training step): the quiet state made from the caller's is kept and reused
    while the caller's state stays the same object, and set through the context variable that
    ``np.errstate`` itself sets."""
    @functools.wraps(method)
    def run(ctx, *args):
        xp = ctx.xp
        if xp is not numpy_namespace or _extobj_contextvar is None:
            with xp.errstate(over="ignore", invalid="ignore"):
                return method(ctx, *args)
        outer = _extobj_contextvar.get()
        seen, quiet = _quiet_state[0]
        if seen is not outer:
            with np.errstate(over="ignore", invalid="ignore"):   # merged with the caller's
                quiet = _extobj_contextvar.get()
            _quiet_state[0] = (outer, quiet)
        token = _extobj_contextvar.set(quiet)
        try:
            return method(ctx, *args)
        finally:
            _extobj_contextvar.reset(token)
    return run


def float_input(name, input, what="input"):
    """*input*, checked to be a floating-point tensor."""
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{name}: {what} must be a Tensor, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise DTypeError(f"{name}: {what} must be a floating-point tensor, got dtype "
                         f"{input._data.dtype}; convert it with {what}.float()")
    return input


def as_target(target, input):
    """*target* as a tensor of *input*'s float dtype (a target that requires grad is cast
    differentiably; a list or array is converted)."""
    t = target if isinstance(target, Tensor) else Tensor(to_array(target, input._data.dtype))
    if t._data.dtype == input._data.dtype:
        return t
    if t.requires_grad:
        return t.to(input._data.dtype)
    return Tensor(t._data.astype(input._data.dtype))


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
