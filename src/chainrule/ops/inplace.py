"""In-place ops (``x.add_(y)``, ``x += y``, ``x[i] = v``): they change ``x._data`` itself.

Outside the graph they write straight into the array.  When a gradient must flow, the op is
computed out of place from a copy of x (so saved tensors stay valid), written into x's memory, and
x is re-pointed at the new node (PyTorch's "rebase history").  Every in-place change bumps x's
version counter, which backward checks so that stale saved tensors are caught.
"""
import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import AutogradError, DTypeError, ShapeError
from chainrule.grad_mode import check_inplace_on_inference
from chainrule.grad_mode import state as _grad_state
from chainrule.ops.arithmetic import add, div, mul, sub
from chainrule.ops.cast import clone
from chainrule.ops.elementwise import clamp, where
from chainrule.ops.indexing import IndexAssign, normalize_index
from chainrule.ops.shape import permute, reshape
from chainrule.tensor import Tensor


def _inplace(x, fn, *args):
    """Apply out-of-place *fn* and write the result into *x*'s memory, rebasing its history.

    When *x* is a view (``x = base[i]``, ``base.T``, ``base.reshape(...)``), the write changes
    *base* too, so base is rebased as well, up the chain of views: to base with the new values
    placed at ``i`` (what ``base[i] = x`` records), or to x transposed or reshaped back.
    """
    if type(x._vc) is not list:      # an inference tensor
        check_inplace_on_inference()
    graph = _grad_state.enabled and (x._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    if graph:
        _check_rebase(x)
        res = fn(clone(x) if x._requires_grad else x.detach(), *args)
    else:
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            res = fn(x, *args)
        finally:
            _grad_state.enabled = prev
    if res._data.shape != x._data.shape:
        raise ShapeError(f"in-place op: the result's shape {res.shape} does not match the "
                         f"tensor's shape {x.shape} (in-place ops cannot broadcast the target)")
    if not np.can_cast(res._data.dtype, x._data.dtype, "same_kind"):    # dtypes only
        raise DTypeError(f"in-place op: the result type {res.dtype} can't be cast to the "
                         f"tensor's dtype {x.dtype}; convert first (x = x.to(cr.float32))")
    namespace_of(x._data).copyto(x._data, res._data, casting="unsafe")
    x._vc[0] += 1
    if graph:
        x.grad_fn, x._output_nr, x._requires_grad = res.grad_fn, res._output_nr, res._requires_grad
        view = x
        while view._view_of is not None:
            base, how, arg = view._view_of
            if how == "index":
                new = _put(clone(base) if base._requires_grad else base.detach(), arg, view)
            elif how == "reshape":
                new = reshape(view, arg)
            else:
                new = permute(view, arg)
            base.grad_fn, base._output_nr, base._requires_grad = \
                new.grad_fn, new._output_nr, new._requires_grad
            view = base
    return x


def _check_rebase(x):
    """Refuse in-place changes whose effect on the graph cannot be recorded."""
    t = x
    while True:
        if t._requires_grad and t.grad_fn is None:
            what = "a leaf tensor" if t is x else "a view of a leaf tensor"
            raise AutogradError(
                f"{what} that requires grad is being used in an in-place operation; do it "
                f"inside `with cr.no_grad():` (as optimisers do) or work on a clone")
        if t._view_of is None:
            return
        base, how, _ = t._view_of
        if how is None:
            raise AutogradError(
                "an in-place operation on an expanded view of a tensor in the graph is not "
                "supported (its elements share memory); compute it out of place (y = y * 2)")
        t = base


def add_(x, other, alpha=1):
    """x += alpha · other, in place."""
    return _inplace(x, add, other, alpha)


def sub_(x, other, alpha=1):
    """x -= alpha · other, in place."""
    return _inplace(x, sub, other, alpha)


def mul_(x, other):
    """x *= other, in place."""
    return _inplace(x, mul, other)


def div_(x, other):
    """x /= other, in place."""
    return _inplace(x, div, other)


def clamp_(x, min=None, max=None):  # noqa: A002
    """Clamp in place."""
    return _inplace(x, clamp, min, max)


def _copied(x, src):
    """*src* converted to x's dtype and broadcast to x's shape: the values copy_ writes."""
    return src.to(x.dtype).expand(x.shape)


def copy_(x, src):
    """Copy *src*'s values (broadcast to x's shape) into x in place; the gradient flows to src."""
    if not isinstance(src, Tensor):
        src = Tensor(namespace_of(x._data).asarray(src, dtype=x._data.dtype))
    return _inplace(x, _copied, src)


def _put(x, idx, value):
    xp = namespace_of(x._data)
    mask = xp.zeros(x._data.shape, dtype=bool)
    mask[idx] = True
    if isinstance(value, Tensor):
        full = Tensor(xp.zeros(x._data.shape, dtype=x._data.dtype))
        placed = _place(full, idx, value)
        return where(Tensor(mask), placed, x)
    data = x._data.copy()
    data[idx] = value
    return where(Tensor(mask), Tensor(data), x)


def _place(full, idx, value):
    v = value.to(full.dtype)
    target_shape = full._data[idx].shape
    v = v.expand(target_shape) if v.shape != target_shape else v
    return IndexAssign.apply(v, idx, full._data.shape)   # a repeated index: the last write wins


def setitem(x, idx, value):
    """``x[idx] = value``: write in place; the gradient flows to *value* where it is a tensor."""
    idx = normalize_index(idx)
    if type(x._vc) is not list:      # an inference tensor
        check_inplace_on_inference()
    if not (_grad_state.enabled and (x._requires_grad or
                                     (isinstance(value, Tensor) and value._requires_grad))):
        try:
            x._data[idx] = value._data if isinstance(value, Tensor) else value
        except (IndexError, ValueError) as e:
            raise type(e)(f"setitem: cannot assign to index of tensor with shape {x.shape}: {e}") \
                from None
        x._vc[0] += 1
        return
    _inplace(x, _put, idx, value)
