"""Batched tensors: what a function sees inside ``cr.func.vmap``.

vmap runs the function once on the whole batch.  Each argument becomes a *batched tensor*: a
Tensor whose ``._data`` is a :class:`LogicalArray` — an array of one sample's shape and dtype with
no values of its own (one zero, broadcast) — which points to the *physical* tensor holding every
sample, batch dimension first.  Code that reads shapes (``x.shape``, ``x.ndim``, ``dim=-1``)
sees one sample's; every op reaches ``Function.apply``, where the vmap level takes it
(``function.dispatch_levels``) and applies the op's *batching rule* (``rules.py``) to the physical
tensors: the same op with its dimensions shifted by one, so the whole batch is one NumPy call.

A value read outside an op (``x.item()``, ``x.argmax()`` on the array, ``bool(x)``) would be one
sample's for all, so a LogicalArray refuses it with a clear error instead of a wrong answer.
"""
import warnings

import numpy as np

from chainrule import function as _function
from chainrule.backend.namespace import (ArrayNamespace, namespace_of, numpy_namespace,
                                        register)
from chainrule.errors import ArgumentTypeError, ChainruleError, DefinitionError
from chainrule.grad_mode import state as _state
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor, wrap


class VmapError(ChainruleError, RuntimeError):
    """A computation that vmap cannot batch (a value read in Python, a data-dependent shape)."""


def _refuse(what):
    raise VmapError(
        f"vmap: {what} reads the values of a batched tensor outside an op, which vmap cannot "
        f"batch (each sample has its own values); compute it with chainrule ops, or outside vmap")


class LogicalArray:
    """The ``._data`` of a batched tensor: an array-like of one sample's shape and dtype that holds
    no values but points to ``_phys``, the physical tensor (batch dimension first), and
    ``_level``, the vmap level that owns it.

    NumPy functions applied to it outside an op (comparisons, ``isnan``, ``.any()``, operators,
    ``argmax``) run on the physical array, dimensions shifted, and give another LogicalArray:
    the same constants they give outside vmap, batched.  What would turn it into one Python value
    or a plain array (``item``, ``bool``, ``np.asarray``, printing) is refused.
    """

    __array_priority__ = 2000

    def __init__(self, shape, dtype, phys, level):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self._phys, self._level = phys, level

    # ---- what ops read: metadata ------------------------------------------------------------
    @property
    def ndim(self):
        return len(self.shape)

    @property
    def device(self):
        """The physical array's device (what ``device_of`` reads)."""
        return "cpu" if self._phys is None else getattr(self._phys._data, "device", "cpu")

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.itemsize

    @property
    def strides(self):
        return (0,) * len(self.shape)

    base = None

    def __len__(self):
        if not self.shape:
            raise ArgumentTypeError("len() of a 0-d batched array")
        return self.shape[0]

    def __repr__(self):
        return f"<batched array of sample shape {self.shape}, dtype {self.dtype}>"

    # ---- computing on the physical array ------------------------------------------------------
    def _arr(self):
        if self._phys is None:
            _refuse("a value derived outside an op (a slice or copy of the values)")
        if not self._level.open:
            raise VmapError("vmap: a batched tensor escaped its vmap (stored outside and used "
                            "after vmap returned); return it from the function instead")
        return self._phys._data

    def _make(self, arr):
        return _result(arr, self._level)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if kwargs.get("out") is not None:
            _refuse(f"numpy.{ufunc.__name__} with out=")
        if method == "__call__":
            return _batched_call(ufunc, inputs, kwargs)
        if method == "reduce" and len(inputs) == 1 and ufunc.__name__ in _REDUCTIONS:
            axis = kwargs.pop("axis", 0)
            keep = kwargs.pop("keepdims", False)
            a = self._arr()
            return self._make(getattr(a, _REDUCTIONS[ufunc.__name__])(
                axis=self._axes(axis), keepdims=keep, **kwargs))
        _refuse(f"numpy.{ufunc.__name__}.{method}")

    def __array_function__(self, func, types, args, kwargs):
        if func is np.may_share_memory or func is np.shares_memory:
            return True            # batched tensors are views of each other as far as ops know
        if func in _ELEMENTWISE_FUNCTIONS:     # where, clip: elementwise, as the ufuncs
            return _batched_call(func, args, kwargs)
        _refuse(f"numpy.{func.__name__}")

    def _axes(self, axis):
        n = self.ndim
        if axis is None:
            return tuple(range(1, n + 1))
        if isinstance(axis, (tuple, list)):
            return tuple(a % max(n, 1) + 1 for a in axis)
        return axis % max(n, 1) + 1

    def reshape(self, *shape, **kwargs):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        a = self._arr()
        return self._make(a.reshape((a.shape[0],) + tuple(shape)))

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        out = self._make(self._arr().astype(np.dtype(dtype)))
        out.drawn = self.drawn
        return out

    def __getitem__(self, idx):
        """One sample's indexed shape (for shape checks; the values are the ops' business)."""
        rep = np.broadcast_to(np.zeros((), self.dtype), self.shape)[idx]
        return LogicalArray(rep.shape, rep.dtype, None, self._level)

    def _arg(self, name, axis=None, keepdims=False):
        a = self._arr()
        if axis is None:
            a = a.reshape((a.shape[0], -1))
            r = getattr(a, name)(axis=1)
            return self._make(r.reshape((a.shape[0],) + (1,) * self.ndim) if keepdims else r)
        return self._make(getattr(a, name)(axis=self._axes(axis), keepdims=keepdims))

    def argmax(self, axis=None, out=None, keepdims=False):
        return self._arg("argmax", axis, keepdims)

    def argmin(self, axis=None, out=None, keepdims=False):
        return self._arg("argmin", axis, keepdims)

    def sum(self, axis=None, dtype=None, keepdims=False):
        return np.add.reduce(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return np.multiply.reduce(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return np.maximum.reduce(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return np.minimum.reduce(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return np.logical_or.reduce(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return np.logical_and.reduce(self, axis=axis, keepdims=keepdims)

    # ---- what would give one sample's value for all: refused ------------------------------------
    def __array__(self, *args, **kwargs):
        _refuse("numpy.asarray (or another conversion to a plain array)")

    drawn = False
    """True for the random draws of ``randomness='different'``: the factories move them to the
    host (``get``) before wrapping them, which keeps them batched."""

    def get(self, *args, **kwargs):
        if self.drawn:
            return self
        _refuse("printing or copying to the host")

    def item(self, *args):
        _refuse("item() (or bool(), float(), an `if` on a tensor)")

    def tolist(self):
        _refuse("tolist()")

    def __bool__(self):  # noqa: PLE0304 - it always raises
        _refuse("bool()")

    def __float__(self):
        _refuse("float()")

    def __int__(self):
        _refuse("int()")

    def __index__(self):  # noqa: PLE0305 - it always raises
        _refuse("int()")

    def __iter__(self):
        _refuse("iteration over the values")

    def __setitem__(self, idx, value):
        _refuse("assignment into the values")

    def copy(self, *args, **kwargs):
        _refuse("copy")

    def fill(self, value):
        _refuse("fill")

    def __reduce__(self):
        _refuse("pickling")

    __hash__ = object.__hash__


def _operator(ufunc, reflected=False):
    if reflected:
        return lambda self, other: ufunc(other, self)
    return lambda self, other: ufunc(self, other)


for _name, _uf in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                   ("mod", np.remainder), ("pow", np.power), ("and", np.bitwise_and),
                   ("or", np.bitwise_or), ("xor", np.bitwise_xor), ("matmul", np.matmul)):
    setattr(LogicalArray, f"__{_name}__", _operator(_uf))
    setattr(LogicalArray, f"__r{_name}__", _operator(_uf, True))
for _name, _uf in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                   ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)):
    setattr(LogicalArray, f"__{_name}__", _operator(_uf))
LogicalArray.__neg__ = lambda self: np.negative(self)
LogicalArray.__abs__ = lambda self: np.absolute(self)
LogicalArray.__invert__ = lambda self: np.invert(self)


_ELEMENTWISE_FUNCTIONS = (np.where, np.clip)
"""NumPy functions (not ufuncs) that broadcast their arguments and work elementwise."""

_REDUCTIONS = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min",
               "logical_or": "any", "logical_and": "all"}
"""ufunc.reduce -> the array method computing it (what CuPy arrays have too)."""


def _depth(level):
    n = 0
    while level is not None:
        n += 1
        level = getattr(level, "prev", None)
    return n


def _batched_call(ufunc, inputs, kwargs):
    """``ufunc(*inputs)`` elementwise with the batched inputs of the innermost level aligned as
    (B, 1, ..., 1, *sample): their values, one batched constant out."""
    levels = [x._level for x in inputs if type(x) is LogicalArray]
    level = max(levels, key=_depth)
    rank = max(np.ndim(x) if type(x) is not LogicalArray else x.ndim for x in inputs)
    args = []
    for x in inputs:
        if type(x) is LogicalArray and x._level is level:
            a = x._arr()
            if x.ndim < rank:
                a = a.reshape((a.shape[0],) + (1,) * (rank - x.ndim) + x.shape)
            x = a
        args.append(x)
    first = next(a for a, x in zip(args, inputs) if type(x) is LogicalArray and x._level is level)
    fn = getattr(namespace_of(first), ufunc.__name__, None) if type(first) is not LogicalArray \
        else None
    res = (fn or ufunc)(*args, **kwargs)       # the physical arrays' own module (CuPy on a GPU)
    if isinstance(res, tuple):
        return tuple(_result(r, level) for r in res)
    return _result(res, level)


def _result(arr, level):
    """A LogicalArray for physical array *arr* (batch first): a batched constant."""
    if isinstance(arr, (np.generic, bool, int, float)):
        arr = np.asarray(arr)
    return LogicalArray(arr.shape[1:], arr.dtype, Tensor(arr), level)


def _asarray(obj, dtype=None, **kwargs):
    """``asarray`` of the batched namespace: a LogicalArray stays one (converted to *dtype*)."""
    if type(obj) is LogicalArray:
        return obj if dtype is None or np.dtype(dtype) == obj.dtype else obj.astype(dtype)
    ns = namespace_of(obj)
    if ns is not numpy_namespace:       # a constant on a device stays there
        return ns.asarray(obj, dtype=dtype, **kwargs)
    return np.asarray(obj, dtype=dtype, **kwargs)


vmap_namespace = ArrayNamespace(np, "vmap", "cpu")
"""The namespace ``namespace_of`` gives for a LogicalArray: NumPy's, whose functions reach the
LogicalArray's ``__array_ufunc__``, with an ``asarray`` that keeps it batched."""
vmap_namespace.asarray = _asarray
register(LogicalArray, vmap_namespace)


def is_batched(t, level=None):
    """True for a batched tensor (of *level* when given)."""
    return isinstance(t, Tensor) and type(t._data) is LogicalArray and \
        (level is None or t._data._level is level)


class VmapLevel:
    """One ``vmap`` in progress: its batch size, and the dispatcher that batches each op."""

    def __init__(self, size, prev, randomness="error"):
        self.size, self.prev, self.open = size, prev, True
        self.randomness = randomness

    def __repr__(self):
        return f"<vmap level of batch size {self.size}>"

    # ---- batched tensors ----------------------------------------------------------------
    def wrap(self, phys):
        """The batched tensor of physical tensor *phys* (batch dimension first)."""
        t = wrap(LogicalArray(phys.shape[1:], phys.dtype, phys, self))
        t._requires_grad = phys.requires_grad
        return t

    def wrap_out(self, out):
        if type(out) is tuple:
            return tuple(self.wrap(o) for o in out)
        return self.wrap(out)

    def phys(self, t):
        """The physical tensor of batched tensor *t* of this level (detached if *t* is)."""
        p = t._data._phys
        if not t._requires_grad and p.requires_grad:     # t is a detach()ed batched tensor
            p = p.detach()
        return p

    def phys_or_expand(self, t):
        """*t*'s physical tensor: its own when batched here, else *t* repeated B times (a
        broadcast view)."""
        if is_batched(t, self):
            return self.phys(t)
        return below(self, lambda: t.unsqueeze(0).expand((self.size,) + tuple(t.shape)))

    # ---- the op dispatcher ----------------------------------------------------------------
    def __call__(self, cls, args, kwargs):
        mine = False
        for a in args:
            if isinstance(a, Tensor) and type(a._data) is LogicalArray:
                lv = a._data._level
                if a._data._phys is None or not lv.open:
                    raise VmapError(
                        f"vmap: {cls.__name__} got "
                        + ("a tensor made from a batched array's shape only (a slice of "
                           "x.data)" if a._data._phys is None else
                           "a batched tensor that escaped its vmap (stored outside and used "
                           "after vmap returned)"))
                if lv is self:
                    mine = True
            elif type(a) is LogicalArray and a._level is self:     # a batched constant
                mine = True
        _state.dispatch = self.prev
        try:
            if not mine:
                return cls.apply(*args, **kwargs)
            rule = RULES.get(cls)
            if rule is None and cls.on_arrays:     # a built-in op: once per batch element
                return _loop(self, cls, args, kwargs)
            if rule is None:
                raise DefinitionError(
                    f"vmap: {cls.__name__} has no batching rule, so vmap cannot batch it; compute "
                    f"it outside vmap, or register one with "
                    f"cr.func.register_batching_rule({cls.__name__}, rule)")
            return rule(self, cls, args, kwargs)
        finally:
            _state.dispatch = self


_warned = set()


def _loop(level, cls, args, kwargs):
    """The fallback for a built-in op without a batching rule, as PyTorch's vmap has one: the
    op runs once per batch element (index b of each batched argument) and the results are
    stacked along a new first dimension.  Right, differentiable, and slower; warns once per op."""
    if cls not in _warned:
        _warned.add(cls)
        warnings.warn(f"vmap: there is a performance drop because {cls.__name__} has no batching "
                      f"rule yet; it runs once per batch element (register one with "
                      f"cr.func.register_batching_rule)", stacklevel=4)

    def element(a, b):
        if is_batched(a, level):
            return level.phys(a)[b]
        if type(a) is LogicalArray and a._level is level:   # a batched constant
            return a._arr()[b]
        return a

    outs = [cls.apply(*[element(a, b) for a in args],
                      **{k: element(v, b) for k, v in kwargs.items()})
            for b in range(level.size)]
    if type(outs[0]) is tuple:
        return tuple(level.wrap(stack([o[k] for o in outs])) for k in range(len(outs[0])))
    return level.wrap(stack(outs))


def below(level, fn):
    """Run *fn* with the ops going to the level below *level* (on physical tensors)."""
    saved = _state.dispatch
    _state.dispatch = level.prev
    try:
        return fn()
    finally:
        _state.dispatch = saved


def enter(level):
    _state.dispatch = level
    _function.dispatch_levels += 1


def leave(level):
    level.open = False
    _state.dispatch = level.prev
    _function.dispatch_levels -= 1


def current_vmap():
    """The innermost vmap level of this thread, or None."""
    d = _state.dispatch
    return d if isinstance(d, VmapLevel) else None


RULES = {}
"""Op class -> batching rule ``rule(level, cls, args, kwargs)``, filled by ``rules.py``."""


def register_batching_rule(op, rule):
    """Teach vmap to batch *op* (an ``Op`` or ``Function`` subclass).

    ``rule(level, cls, args, kwargs)`` runs with the ops going to the level below (physical
    tensors): get each batched argument's physical tensor (batch dimension first) with
    ``level.phys(t)``, compute, and return ``level.wrap(physical_output)``.  ``rule`` may also be
    one of the shared rules of ``cr.func.rules`` (``elementwise``: the op broadcasts its tensor
    arguments and works elementwise)."""
    if not (isinstance(op, type) and issubclass(op, _function.Function)):
        raise ArgumentTypeError(f"register_batching_rule: expected an Op or Function subclass, "
                                f"got {op!r}")
    RULES[op] = rule
