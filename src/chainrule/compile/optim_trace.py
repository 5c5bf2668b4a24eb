"""Tracing an optimiser's ``step`` into the flat plan, its per-step scalars computed each replay.

An elementwise optimiser (:class:`~chainrule.optim._elementwise.ElementwiseOptimizer`: SGD, Adam,
AdamW) whose groups are packed flat updates each group with a handful of NumPy calls on its flat
buffers.  Those calls are traced like an op's; what a trace would freeze are the Python scalars
the update computes from the optimiser's state on each step: Adam's bias corrections from the
step count, the learning rate a scheduler (or a hand) sets.  So, per group, the plan calls a
small **scalar function** of the live group dict and step counter (:data:`SCALARS`, the
optimiser's own ``_coefficients`` for Adam) and each traced constant that is one of its results
becomes a read of that result:

    v34 = concatenate_0([v32, v33, v27, v28], axis=None, out=v34, casting='same_kind')
    v35 += 1                                          # fg.steps += 1
    v36, v37, ..., v43 = adam_scalars_0(dict_0, v35, float32_0)   # the live group, each replay
    v47 = subtract_0(v34, v44, out=(v47, ))           # the optimiser's own calls...
    v47 = multiply_0(v47, v37, out=(v47, ))           # ...with this step's scalars

Adam's scalars are bound by identity (the trace hands ``_update`` the very objects the scalar
function made); a Python float the update computes inline (AdamW's ``1 − γλ``, SGD's ``−γ``)
is bound by value, bit for bit.  The group's other settings (betas, eps, momentum...) are
constants of the trace, checked before each replay (:meth:`OptimTrace.holds`), as is the flat
layout (the same packed group, parameters still viewing it).
"""
import math
import operator

import numpy as np

from chainrule.compile.flat_codegen import grad_array, outside_array
from chainrule.compile.trace import Ref
from chainrule.optim import adam as _adam
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import Work
from chainrule.optim.adam import Adam
from chainrule.optim.optimizer import Optimizer, _to_scalar
from chainrule.optim.sgd import SGD
from chainrule.tensor import Tensor

TRACE_OPTIMIZERS = True
"""Trace the optimiser steps a plan makes (False: each stays one opaque call, as the array plan
makes it; ``benchmarks/compiled.py --opaque`` compares the two)."""

_LIVE = ("lr", "params", "param_names", "initial_lr")
"""Group entries the scalar functions read fresh (``lr``) or that are not settings."""


def adam_scalars(group, steps, typ):
    """Adam's (and AdamW's) per-step scalars: ``_coefficients`` of the step count after this
    step and the live group, and the decoupled decay factor 1 − γλ."""
    k = _adam._coefficients(group, float(steps[0]), typ)
    lr = float(_to_scalar(group["lr"]))
    return (*k, 1 - lr * float(group["weight_decay"]))


def sgd_scalars(group, steps, typ):
    """SGD's per-step scalar: −γ, the learning rate read from the live group."""
    return (-float(_to_scalar(group["lr"])),)


SCALARS = {Adam: adam_scalars, SGD: sgd_scalars}
"""Optimiser class -> its scalar function ``(group, steps, dtype type) -> tuple``."""


def _scalar_fn(opt):
    for cls in type(opt).__mro__:
        fn = SCALARS.get(cls)
        if fn is not None:
            return fn
    return None


def optimizer_of(fn, args, kwargs, calls=()):
    """The optimiser whose ``step()`` the recorded call *fn* is, if it can be traced; else None.
    Each of its parameters must get its gradient from the plan's backward (*calls*, the trace
    so far), so that it has one at every replay."""
    opt = _optimizer_of(fn, args, kwargs)
    if opt is None:
        return None
    last = {}
    for entry in calls:
        if entry[0] == "leaf" and entry[1][0] == "k":
            last[id(entry[1][1])] = True
        elif entry[0] == "nograd":
            last[id(entry[1])] = False
    if all(last.get(id(p)) for g in opt.param_groups for p in g["params"]):
        return opt
    return None


def _optimizer_of(fn, args, kwargs):
    if not TRACE_OPTIMIZERS or kwargs or (args and len(args) > 1):
        return None
    if getattr(fn, "_wrapped_by_lr_sched", False):     # opt.step wrapped by a scheduler
        for cell in fn.__closure__ or ():
            v = cell.cell_contents
            if callable(v) and not isinstance(v, type) and getattr(v, "__self__", None) is not None:
                opt, func = v.__self__, getattr(v, "__func__", None)
                if func is ElementwiseOptimizer.step and not args:
                    return opt if _traceable(opt) else None
        return None
    if fn is ElementwiseOptimizer.step and len(args) == 1:
        opt = args[0]
        return opt if _traceable(opt) else None
    return None


def _traceable(opt):
    if type(opt).step is not ElementwiseOptimizer.step or _scalar_fn(opt) is None \
            or not opt._flat_ok:
        return False
    if type(opt)._update is not _update_of(opt) or (
            isinstance(opt, Adam) and not callable(getattr(_adam, "_coefficients", None))):
        return False
    if type(opt)._step_flat is not ElementwiseOptimizer._step_flat:
        return False
    for group in opt.param_groups:
        fg = opt._flat.get(id(group))
        if fg is None or fg.group is not group or len(group["params"]) != len(fg.params):
            return False
        if group.get("foreach") is False:
            return False
        for p, q, view in zip(group["params"], fg.params, fg.views):
            if p is not q or p._data is not view or p._grad is None:
                return False
        if isinstance(group["lr"], Tensor):
            return False
        for k, v in group.items():
            if k not in _LIVE and isinstance(v, Tensor):
                return False
    return True


def _update_of(opt):
    """The ``_update`` the class defines (SGD's, Adam's: a subclass may not override it)."""
    for cls in type(opt).__mro__:
        if cls in SCALARS:
            return cls.__dict__.get("_update")
    return None


def statics(group):
    """The group's settings other than the learning rate, constants of a trace:
    ``(keys, values)``."""
    keys = tuple(k for k in group if k not in _LIVE)
    return keys, list(map(group.__getitem__, keys))


class OptimTrace:
    """What a traced optimiser step needs to hold before a replay: for each group, the packed
    layout it was traced on and its settings other than the learning rate.  The parameters'
    arrays (views of the packed buffer) are checked by the flat plan with the others it reads;
    *loose* are those it does not read."""

    __slots__ = ("groups", "loose", "opt")

    def __init__(self, opt, read=()):
        self.opt = opt
        self.groups = []
        for g in opt.param_groups:
            keys, values = statics(g)
            self.groups.append((g, opt._flat[id(g)], keys, values, len(g), len(g["params"])))
        ids = {id(t) for t in read}
        self.loose = [(p, p._data) for g in opt.param_groups for p in g["params"]
                      if id(p) not in ids]

    def holds(self):
        opt = self.opt
        if len(opt.param_groups) != len(self.groups):
            return False
        flat, is_ = opt._flat, operator.is_
        for (group, fg, keys, values, size, n), live in zip(self.groups, opt.param_groups):
            if live is not group or flat.get(id(group)) is not fg or len(group) != size:
                return False
            params = group["params"]
            if len(params) != n or not all(map(is_, params, fg.params)):
                return False
            if list(map(group.__getitem__, keys)) != values:
                return False
        for p, d in self.loose:
            if p._data is not d:
                return False
        return True


class _TracedWork(Work):
    """The group's scratch arrays, handed to the traced update as proxies."""

    __slots__ = ("_proxy",)

    def __init__(self, work, proxy):
        super().__init__(work.shape, work.xp)
        self.bufs = work.bufs
        self._proxy = proxy

    def __call__(self, key, dtype):
        return self._proxy(Work.__call__(self, key, dtype))


def trace_step(run, opt, wrapped):
    """Trace ``opt.step()`` into *run*'s tracer (a :class:`.flat_plan._Run`); the real step runs
    as the traced calls run.  Returns the :class:`OptimTrace` to check before replays."""
    tr = run.tr
    proxies = {}

    def outside(a):
        p = proxies.get(id(a))
        if p is None:
            p = proxies[id(a)] = tr.call(outside_array, (Ref(("k", a), a),), {})
            run.escape(p)
        return p

    check = OptimTrace(opt, run.exts)
    if wrapped:
        tr.calls.append(("call", _mark_called, (("k", opt),), {}, None))
        opt._opt_called = True
    scalar_fn = _scalar_fn(opt)
    for group in opt.param_groups:
        fg = opt._flat[id(group)]
        params = group["params"]
        grads = [tr.call(grad_array, (Ref(("k", p), p),), {}) for p in params]
        for g in grads:
            run.escape(g)
        G = outside(fg.grad)
        tr.call(np.concatenate, (grads,), {"axis": None, "out": G, "casting": "same_kind"})
        step = None
        if fg.steps is not None:
            S = outside(fg.steps)
            S += 1
        typ = fg.param.dtype.type
        S_enc = ("s", S._s) if fg.steps is not None else ("k", None)
        live = scalar_fn(group, fg.steps, typ)
        slots = tuple(range(tr.n, tr.n + len(live)))
        tr.n += len(live)
        for k, v in zip(slots, live):
            tr.values[k] = v
            tr.keep.append(v)
        tr.calls.append(("call", scalar_fn, (("k", group), S_enc, ("k", typ)), {}, slots))
        if fg.steps is not None:
            step = float(fg.steps[0])
        bufs = {k: outside(v) for k, v in fg.bufs.items()}
        n = len(bufs)
        start = len(tr.calls)
        saved = _adam._coefficients
        if scalar_fn is adam_scalars:   # hand the update the scalar function's own objects
            _adam._coefficients = lambda *a, _k=tuple(live[:-1]): _k
        try:
            type(opt)._update(opt, group, outside(fg.param), G, bufs, step, True,
                              _TracedWork(fg.work, outside))
        finally:
            _adam._coefficients = saved
        if len(bufs) != n:
            tr.poison(f"{type(opt).__name__}.step makes a new state buffer")
        _bind_scalars(tr, start, live, slots)
        for p in params:
            p._vc[0] += 1
            tr.calls.append(("bump", p, 1))
    return check


def _mark_called(opt):
    """What a scheduler's wrapper of ``opt.step`` does besides stepping."""
    opt._opt_called = True


def _bind_scalars(tr, start, live, slots):
    """Constants of the calls from *start* on that are the live scalars: by identity (NumPy
    scalars the scalar function made), or Python floats equal bit for bit."""
    ids = {id(v): k for v, k in zip(live, slots) if type(v) is not bool}
    floats = [(v, k) for v, k in zip(live, slots) if type(v) is float]

    def bind(a):
        if a[0] == "k":
            v = a[1]
            k = ids.get(id(v))
            if k is not None:
                return ("s", k)
            if type(v) is float:
                for s, k in floats:
                    if (s == v and math.copysign(1.0, s) == math.copysign(1.0, v)) or (
                            math.isnan(s) and math.isnan(v)):
                        return ("s", k)
            return a
        if a[0] == "seq":
            return ("seq", a[1], tuple(bind(x) for x in a[2]))
        return a

    for n in range(start, len(tr.calls)):
        entry = tr.calls[n]
        if entry[0] == "call":
            _, fn, args, kwargs, out = entry
            tr.calls[n] = ("call", fn, tuple(bind(a) for a in args),
                           {k: bind(v) for k, v in kwargs.items()}, out)


def zero_grad_params(fn, args, kwargs):
    """The parameters whose ``.grad`` the recorded call *fn* (``opt.zero_grad()`` with
    ``set_to_none=True``, not overridden) sets to None; else None."""
    if not TRACE_OPTIMIZERS or fn is not Optimizer.zero_grad or not args or len(args) > 2:
        return None
    opt = args[0]
    set_to_none = args[1] if len(args) == 2 else kwargs.get("set_to_none", True)
    if set_to_none is not True or kwargs.keys() - {"set_to_none"} or \
            type(opt).zero_grad is not Optimizer.zero_grad:
        return None
    return [p for g in opt.param_groups for p in g["params"]]
