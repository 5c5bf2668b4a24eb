"""Forward-mode automatic differentiation with dual tensors, as ``torch.autograd.forward_ad``.

Inside ``with dual_level():``, ``make_dual(x, t)`` gives a tensor carrying the tangent t (a
direction in input space).  Every op then also computes its output's tangent: the Jacobian-vector
product ``J t``, by the ``jvp`` each op writes beside its ``backward`` (the VJP)::

    class Exp(Op):
        @staticmethod
        def backward(ctx, gy):          # x̄ = ȳ · y
            ...
        @staticmethod
        def jvp(ctx, tx):               # ẏ = ẋ · y
            x, = ctx.primals            # the inputs, and ctx.outputs the outputs, as arrays
            return tx * ctx.outputs[0]

``unpack_dual(y)`` returns ``(primal, tangent)``.  One forward pass gives J t for one t (reverse
mode gives vᵀJ for one v), so forward mode is the cheap one for functions with few inputs and many
outputs.

Like ``backward``, a ``jvp`` is written once in NumPy's names with ``ctx.xp``: on the arrays
normally, on tensors through ``ops/namespace.py`` when the tangent itself must be differentiated
(reverse-mode through a tangent, or a second level of dual tensors outside this one).  Levels may
nest (PyTorch's forward AD allows one at a time; ``cr.func.jacfwd`` of ``jacfwd`` uses two).
An op without a ``jvp`` raises a clear error naming it when a tangent reaches it.
"""
import weakref
from collections import namedtuple

from chainrule import function as _function
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ShapeError, UsageError
from chainrule.function import _plain
from chainrule.grad_mode import state as _state
from chainrule.ops.namespace import tensor_namespace
from chainrule.ops.shape import Reshape, _view
from chainrule.tensor import Tensor, wrap

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level",
           "make_dual", "unpack_dual"]

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])
"""What ``unpack_dual`` returns: the primal tensor and its tangent (None when it has none)."""

class _Level:
    """One level of dual tensors: the tangents it knows, and the op dispatcher that extends them.

    A tangent is found by the tensor's identity, or, for a tensor that is an op's saved output
    brought back by ``saved_tensors`` (a new Tensor object on the same array), by its array.
    """

    def __init__(self, index, prev):
        self.index, self.prev = index, prev
        self.by_tensor = {}         # id(tensor) -> (weak ref, tangent)
        self.by_array = {}          # id(array of an op output) -> (weak ref, tangent)
        self.open = True

    # ---- tangents --------------------------------------------------------------------------
    def tangent(self, t):
        e = self.by_tensor.get(id(t))
        if e is not None and e[0]() is t:
            return e[1]
        if t.grad_fn is not None and self.by_array:
            e = self.by_array.get(id(t._data))
            if e is not None and e[0]() is t._data:
                return e[1]
        return None

    def set(self, t, tangent, output=False):
        key, table = id(t), self.by_tensor
        table[key] = (weakref.ref(t, _forget(table, key)), tangent)
        if output:
            key, table = id(t._data), self.by_array
            try:
                table[key] = (weakref.ref(t._data, _forget(table, key)), tangent)
            except TypeError:       # an array type without weak references
                pass

    # ---- the op dispatcher -----------------------------------------------------------------
    def __call__(self, cls, args, kwargs):
        for a in args:
            if isinstance(a, Tensor) and self.tangent(a) is not None:
                return self.run(cls, args, kwargs)[0]
        _state.dispatch = self.prev             # no tangent comes in: the op as below this level
        try:
            return cls.apply(*args, **kwargs)
        finally:
            _state.dispatch = self

    def run(self, cls, args, kwargs):
        """Run the op below this level, then its jvp: return (outputs, ctx)."""
        prev = self.prev
        _state.dispatch = prev
        try:
            if prev is None:
                out, ctx = _run_op(cls, args, kwargs)
            elif isinstance(prev, _Level):
                out, ctx = prev.run(cls, args, kwargs)
            else:
                raise UsageError(f"forward-mode AD inside {prev!r} is not supported (op "
                                 f"{cls.__name__}): use the dual tensors outside it")
            outs = out if type(out) is tuple else (out,)
            if ctx is not None and any(o._data.dtype.kind == "f" for o in outs):
                self._tangents(cls, ctx, args, kwargs, outs)
        finally:
            _state.dispatch = self
        return out, ctx

    def _tangents(self, cls, ctx, args, kwargs, outs):
        tangents = [self.tangent(a) if isinstance(a, Tensor) else None for a in args]
        # on tensors (recorded) when the tangent must be differentiated again, else on arrays
        on_tensors = not ctx.on_arrays or self.prev is not None or _state.enabled and any(
            isinstance(a, Tensor) and a._requires_grad for a in (*args, *tangents)
            if a is not None)
        array_xp = ctx.xp
        if on_tensors:
            ctx.primals, ctx.outputs = tuple(args), outs
            if ctx.on_arrays:
                ctx.xp = tensor_namespace
        else:
            ctx.primals = tuple(a._data if isinstance(a, Tensor) else a for a in args)
            ctx.outputs = tuple(o._data for o in outs)
            tangents = [None if t is None else t._data for t in tangents]
        enabled = _state.enabled
        if not on_tensors:
            _state.enabled = False      # a jvp on arrays records nothing (as a first-order VJP)
        try:
            res = cls.jvp(ctx, *tangents, **kwargs)
        finally:
            _state.enabled = enabled
            ctx.xp = array_xp
            del ctx.primals, ctx.outputs
        res = res if type(res) is tuple else (res,)
        for o, r in zip(outs, res):
            if r is None or o._data.dtype.kind != "f":
                continue
            r = r if isinstance(r, Tensor) else wrap(namespace_of(o._data).asarray(r))
            if r.shape != o.shape:
                r = r.expand(o.shape)
            if r.dtype != o.dtype:
                r = r.to(o.dtype)
            self.set(o, r, output=True)

    def __repr__(self):
        return f"<dual level {self.index}>"


def _forget(table, key):
    def forget(ref):
        e = table.get(key)
        if e is not None and e[0] is ref:
            del table[key]
    return forget


def _run_op(cls, args, kwargs):
    """Run op *cls* as ``apply`` does (recording it when an input requires grad) and return its
    outputs and its ctx (which the jvp reads)."""
    if _state.enabled and any(isinstance(a, Tensor) and a._requires_grad for a in args):
        out = cls.apply(*args, **kwargs)
        for o in (out if type(out) is tuple else (out,)):
            if o.grad_fn is not None:
                return out, o.grad_fn
        return out, None
    ctx = cls()
    ctx.needs_input_grad = tuple(False for _ in args)
    first = next((a for a in args if isinstance(a, Tensor)), None)
    ctx.xp = namespace_of(first._data) if first is not None else namespace_of(None)
    enabled, _state.enabled = _state.enabled, False
    try:
        return _plain(cls.forward(ctx, *args, **kwargs)), ctx
    finally:
        _state.enabled = enabled


# ---- the public functions -----------------------------------------------------------------
def enter_dual_level():
    """Open a new level of dual tensors and return its index (``dual_level`` does this)."""
    prev = _state.dispatch
    if prev is not None and not isinstance(prev, _Level):
        raise UsageError(f"forward-mode AD cannot start inside {prev!r}")
    level = _Level(0 if prev is None else prev.index + 1, prev)
    _state.dispatch = level
    _function.dispatch_levels += 1
    return level.index


def exit_dual_level(*, level=None):
    """Close the innermost level of dual tensors (its tangents are dropped)."""
    cur = _state.dispatch
    if not isinstance(cur, _Level):
        raise UsageError("exit_dual_level: no dual level is open here")
    if level is not None and level != cur.index:
        raise UsageError(f"exit_dual_level: level {level} is not the innermost open level "
                         f"({cur.index})")
    cur.open = False
    cur.by_tensor.clear()
    cur.by_array.clear()
    _state.dispatch = cur.prev
    _function.dispatch_levels -= 1


class dual_level:
    """Context manager: the dual tensors made inside (``make_dual``) carry their tangents until
    it exits.

    >>> x = cr.tensor([0.0, 1.0])
    >>> with dual_level():
    ...     y = cr.sin(make_dual(x, cr.ones_like(x)))
    ...     print(unpack_dual(y).tangent)          # cos(x)
    tensor([1.0000, 0.5403])
    """

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False


def _current(level, op):
    cur = _state.dispatch
    while cur is not None and not isinstance(cur, _Level):
        cur = getattr(cur, "prev", None)
    if cur is None:
        if op == "unpack_dual":
            return None
        raise UsageError(f"{op} must be called inside `with cr.autograd.forward_ad.dual_level():`")
    if level is None:
        return cur
    lv = cur
    while lv is not None:
        if isinstance(lv, _Level) and lv.index == level:
            return lv
        lv = lv.prev
    raise UsageError(f"{op}: level {level} is not open (the innermost open level is "
                     f"{cur.index})")


def _alias(tensor, level):
    """A new tensor object on *tensor*'s memory, still in the reverse-mode graph, with no
    tangent at *level* (the levels outside it still see its tangents)."""
    saved = _state.dispatch
    _state.dispatch = level.prev
    try:
        return _view(Reshape.apply(tensor, tensor.shape), tensor, "reshape", tensor.shape)
    finally:
        _state.dispatch = saved


def make_dual(tensor, tangent, *, level=None):
    """A view of *tensor* that carries *tangent* (same shape) at the current dual level.

    >>> with dual_level():
    ...     x = make_dual(cr.tensor([1., 2.]), cr.tensor([1., 0.]))
    """
    lv = _current(level, "make_dual")
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise ArgumentTypeError(f"make_dual: expected tensors, got {type(tensor).__name__} and "
                                f"{type(tangent).__name__}")
    if tensor.dtype.kind != "f":
        raise ArgumentTypeError(f"make_dual: expected a floating-point primal, got dtype "
                                f"{tensor.dtype}")
    if tangent.shape != tensor.shape:
        raise ShapeError(f"make_dual: the tangent has shape {tangent.shape} but the primal has "
                         f"shape {tensor.shape}; they must match")
    if tangent.dtype != tensor.dtype:
        raise ArgumentTypeError(f"make_dual: the tangent has dtype {tangent.dtype} but the primal "
                                f"has dtype {tensor.dtype}; they must match")
    out = _alias(tensor, lv)
    lv.set(out, tangent)
    return out


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)`` of a dual tensor: a view of its value without the tangent, and the
    tangent (None for a tensor without one)."""
    lv = _current(level, "unpack_dual")
    if lv is None or not isinstance(tensor, Tensor):
        return UnpackedDualTensor(tensor, None)
    t = lv.tangent(tensor)
    if t is None:
        return UnpackedDualTensor(tensor, None)
    return UnpackedDualTensor(_alias(tensor, lv), t)
