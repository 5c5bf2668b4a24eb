"""The recording mode: while a step runs eagerly, every top-level op, backward pass,
optimiser or scheduler call and in-place tensor method appends one entry ``(callable, argument
specs, keyword specs, output spec, grad mode)``.

A tensor argument is named by where it came from: ``("in", i)`` the step's i-th tensor argument,
``("slot", j)`` the j-th tensor a recorded call returned, ``("ext", t)`` a tensor from outside the
recorded calls (a parameter, a buffer, a constant), kept by identity; ``("data", spec)`` an
array that is the ``._data`` of such a tensor.  Anything else is a ``("const", value)``.  Reading a tensor's value in Python (``.item()``, ``bool(t)``...) marks the
recording as unusable, with the cause.
"""
import functools

import numpy as np

from chainrule import function as _function
from chainrule.backend import is_array, namespace_of, numpy_namespace
from chainrule.grad_mode import state as _grad_state
from chainrule.optim._lr_base import LRScheduler
from chainrule.optim.optimizer import Optimizer
from chainrule.tensor import Tensor

_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")
"""Tensor methods that hand a value to Python: a step that calls one cannot be replayed."""
_CALLS = tuple(sorted(
    {n for n in dir(Tensor) if n.endswith("_") and not n.startswith("__")
     and callable(getattr(Tensor, n, None))}
    | {n for n in ("detach", "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__",
                   "__ipow__", "__imatmul__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__",
                   "__ge__", "__invert__", "__and__", "__or__", "__xor__", "argmax", "argmin",
                   "register_hook", "retain_grad")
       if hasattr(Tensor, n)}))
"""Tensor methods recorded as one call each: in-place changes (``add_``, ``+=``, ``x[i] = v``),
``detach``, comparisons and ``argmax``, which make their result without an op, and
``register_hook``/``retain_grad``, which change how the graph's backward runs.  Assigning
``t.grad`` is recorded too."""


_FACTORIES = ("zeros", "ones", "full", "eye", "identity", "arange", "linspace", "tri")
"""NumPy-namespace functions that make an array from constants.  A tensor made around such an
array outside any op (``cr.zeros(4, 8)``, ``cr.ones``, ``cr.full``, ``cr.eye``, the initial
state ``nn.LSTM``/``nn.GRU`` make when given none) is recorded as one call that makes it again,
so a replay makes a fresh one on every step, as eagerly.  (``cr.arange`` and ``cr.linspace``
convert NumPy's result with ``astype``: still made outside the recorded calls.)"""


def make_tensor(fn, args, kwargs, requires_grad):
    """``Tensor(fn(*args, **kwargs), requires_grad=requires_grad)``: a tensor the step makes from
    constants, made afresh by each replay."""
    return Tensor(fn(*args, **kwargs), requires_grad=requires_grad)


def _constant(v):
    t = type(v)
    if t is tuple or t is list:
        return all(map(_constant, v))
    if t is dict:
        return all(map(_constant, v.values()))
    return not (isinstance(v, Tensor) or is_array(v))


class Recorder:
    """Collects one run's entries; ``reason`` is set when the run cannot be replayed."""

    def __init__(self, inputs, watched=(), instances=()):
        self.instances = list(instances)
        self.watched = list(watched)
        self.expected = [(t._data, t._vc[0]) for t in self.watched]
        self.entries = []
        self.ops = {}                   # entry index -> (op class, its node or None, needs, xp)
        self.slot_of = {}
        self.keep = list(inputs)        # every named tensor stays alive: ids stay unique
        self.n_inputs = len(self.keep)
        self.n_slots = 0
        self.busy = False
        self.reason = None
        self.data_of = {}               # id(t._data) -> spec of t: an op given an array
        self.made = {}                  # id(array) -> (factory, args, kwargs, array)
        for i, v in enumerate(inputs):
            self.slot_of[id(v)] = ("in", i)
            self.data_of[id(v._data)] = ("data", ("in", i))

    # ---- the hooks call this ------------------------------------------------------------
    def call(self, fn, args, kwargs):
        """Run ``fn(*args, **kwargs)`` eagerly and append its entry to the plan."""
        aspec = tuple([self.spec(a) for a in args])
        kspec = {k: self.spec(v) for k, v in kwargs.items()}
        self.check_watched()
        self.busy = True
        try:
            out = fn(*args, **kwargs)
        finally:
            self.busy = False
            self.expected = [(t._data, t._vc[0]) for t in self.watched]
        self.entries.append((fn, aspec, kspec, self.bind(out), _grad_state.enabled))
        return out

    def op(self, cls, args, kwargs):
        """Record ``cls.apply``: a built-in ``Op``, or a ``Function`` that says it is replayable
        (``recordable = True``: its forward is a function of its inputs, with no other effect)."""
        if not (cls.on_arrays or getattr(cls, "recordable", False)):
            self.unrecordable(f"custom Function {cls.__name__} has no plan (set "
                              f"{cls.__name__}.recordable = True if its forward only computes "
                              f"from its inputs)")
        needs = tuple([isinstance(a, Tensor) and a._requires_grad for a in args])
        first = next((a for a in args if isinstance(a, Tensor)), None)
        xp = numpy_namespace if first is None or type(first._data) is np.ndarray else \
            namespace_of(first._data)
        out = self.call(cls.apply, args, kwargs)
        node = None
        for o in (out if type(out) is tuple else (out,)):
            if isinstance(o, Tensor) and type(o.grad_fn) is cls:
                node = o.grad_fn
                break
        self.ops[len(self.entries) - 1] = (cls, node, needs, node.xp if node is not None else xp)
        return out

    def spec(self, v):
        """How a replay finds argument *v*."""
        if isinstance(v, Tensor):
            s = self.slot_of.get(id(v))
            return s if s is not None else ("ext", v)
        if type(v) is tuple or type(v) is list:
            return ("seq", type(v), tuple([self.spec(x) for x in v]))
        if is_array(v):
            s = self.data_of.get(id(v))
            if s is not None:
                return s
        return ("const", v)

    def bind(self, out):
        """Give each tensor of a call's result a slot; the output spec says where they go."""
        if isinstance(out, Tensor):
            j = self.n_slots
            self.n_slots += 1
            self.slot_of[id(out)] = ("slot", j)
            self.data_of[id(out._data)] = ("data", ("slot", j))
            self.keep.append(out)
            return j
        if type(out) is tuple:
            return tuple([self.bind(o) for o in out])
        return None

    def check_watched(self):
        """Flag a parameter or buffer changed since the last recorded call: by Python code the
        plan cannot see (``t.data += 1``, ``t.data = ...``)."""
        for t, (d, v) in zip(self.watched, self.expected):
            if t._data is not d or t._vc[0] != v:
                self.unrecordable(
                    f"a parameter or buffer of shape {tuple(t._data.shape)} is changed outside the "
                    f"recorded calls (by assigning or updating .data); use tensor methods such "
                    f"as t.add_(1) or t.copy_(v)")
                self.expected = [(t._data, t._vc[0]) for t in self.watched]
                return

    def unrecordable(self, cause):
        if self.reason is None:
            self.reason = cause

    # ---- switching the mode on and off ---------------------------------------------------
    def __enter__(self):
        self._saved = []
        for name in _READS:
            orig = getattr(Tensor, name)
            self._saved.append((Tensor, name, orig))
            setattr(Tensor, name, _reading(self, name, orig))
        for name in _CALLS:
            orig = getattr(Tensor, name)
            self._saved.append((Tensor, name, orig))
            setattr(Tensor, name, _recorded(self, orig))
        prop = Tensor.__dict__.get("grad")
        if isinstance(prop, property) and prop.fset is not None:   # `t.grad = None` in the step
            self._saved.append((Tensor, "grad", prop))
            Tensor.grad = property(prop.fget, _recorded(self, prop.fset), prop.fdel, prop.__doc__)
        for cls in _classes(Optimizer) + _classes(LRScheduler):
            for name in ("step", "zero_grad"):
                if name in cls.__dict__:
                    orig = cls.__dict__[name]
                    self._saved.append((cls, name, orig))
                    setattr(cls, name, _recorded(self, orig))
        for name in _FACTORIES:
            orig = numpy_namespace.__dict__.get(name)
            if orig is not None:
                self._saved.append((numpy_namespace, name, orig))
                setattr(numpy_namespace, name, _factory(self, orig))
        orig = Tensor.__dict__["__init__"]
        self._saved.append((Tensor, "__init__", orig))
        Tensor.__init__ = _made_tensor(self, orig)
        for obj in self.instances:      # e.g. opt.step wrapped on the instance by a scheduler
            for name in ("step", "zero_grad"):
                orig = obj.__dict__.get(name)
                if orig is not None:
                    self._saved.append((obj, name, orig))
                    setattr(obj, name, _recorded_bound(self, orig))
        _function.recorder = self
        return self

    def __exit__(self, *exc):
        _function.recorder = None
        self.check_watched()
        for cls, name, orig in reversed(self._saved):
            setattr(cls, name, orig)
        return False


def _reading(rec, name, orig):
    @functools.wraps(orig)
    def read(self, *args, **kwargs):
        if not rec.busy:
            rec.unrecordable(f"Tensor.{name}() reads a tensor's value in Python inside the step")
        return orig(self, *args, **kwargs)
    return read


def _recorded(rec, orig):
    @functools.wraps(orig)
    def method(self, *args, **kwargs):
        if rec.busy or _function.recorder is not rec:
            return orig(self, *args, **kwargs)
        return rec.call(orig, (self, *args), kwargs)
    return method


def _recorded_bound(rec, orig):
    @functools.wraps(orig)
    def method(*args, **kwargs):
        if rec.busy or _function.recorder is not rec:
            return orig(*args, **kwargs)
        return rec.call(orig, args, kwargs)
    return method


def _factory(rec, orig):
    """*orig* (a namespace factory) noting each array it makes from constants outside an op."""
    @functools.wraps(orig)
    def make(*args, **kwargs):
        out = orig(*args, **kwargs)
        if not rec.busy and _function.recorder is rec and _constant(args) and _constant(kwargs):
            rec.made[id(out)] = (orig, args, kwargs, out)
        return out
    return make


def _made_tensor(rec, orig):
    """``Tensor.__init__`` recording a tensor made around a factory's array as a call."""
    @functools.wraps(orig)
    def init(self, data, requires_grad=False, dtype=None):
        orig(self, data, requires_grad, dtype)
        m = rec.made.pop(id(data), None) if rec.made else None
        if m is not None and m[3] is data and self._data is data and dtype is None \
                and not rec.busy and _function.recorder is rec and type(self) is Tensor:
            rec.entries.append((make_tensor, (("const", m[0]), ("const", m[1]), ("const", m[2]),
                                              ("const", bool(requires_grad))), {},
                                rec.bind(self), _grad_state.enabled))
    return init


def _classes(base):
    out, todo = [], [base]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return out

