"""Tracing an optimiser's ``step`` into the flat plan, its per-step scalars computed each replay.

An elementwise optimiser (:class:`~chainrule.optim._elementwise.ElementwiseOptimizer`: SGD, Adam,
AdamW) updates each group packed flat with a handful of NumPy calls on its flat buffers, and a
group it steps parameter by parameter (``_step_each``: parameters too large to pack, or
``foreach=False``) with those calls per parameter, in cache-sized pieces for large ones.  Those
calls are traced like an op's; what a trace would freeze are the Python scalars the update
computes from the optimiser's state on each step: Adam's bias corrections from the step count,
the learning rate a scheduler (or a hand) sets.  So, per group (per parameter when stepped one
by one), the plan calls a small **scalar function** of the live group dict and step counter
(:data:`SCALARS`: made for the group's settings, the bias corrections by ``_coefficients``'
formulas) and each traced constant that is one of its results becomes a read of that result:

    v35 += 1                                          # fg.steps += 1
    v36, v37, ..., v43 = adam_array_scalars_0(dict_0, v35, float32_0)   # the live group
    v47 = subtract_0(v34, v44, v47)                   # the optimiser's own calls...
    v47 = multiply_0(v47, v37, v47)                   # ...with this step's scalars

Adam's scalars are bound by identity (the trace hands ``_update`` the very objects the scalar
function made); a Python float the update computes inline (AdamW's ``1 − γλ``, SGD's ``−γ``)
is bound by value, bit for bit; where they are only ufunc operands the replay gets them as 0-d
arrays (:func:`array_scalars`).  The group's other settings (betas, eps, momentum...) are
constants of the trace, checked before each replay (:meth:`OptimTrace.holds`), as is the
layout (the same packed group, parameters still viewing it; or the same state arrays).  The
gather of the gradients (``concatenate``) and their ``.grad`` tensors usually go
(:meth:`.flat_plan._Run.direct_grads`).
"""
import math
import operator

import numpy as np

from chainrule.compile.flat_codegen import (
    _UFUNC_OF,
    _slot_refs,
    grad_array,
    outside_array,
)
from chainrule.compile.trace import Ref
from chainrule.optim import _kernels
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


def make_adam_scalars(group, typ):
    """:func:`adam_scalars` for *group*'s settings other than the learning rate (constants of
    a trace, checked before each replay: :meth:`OptimTrace.holds`): what depends only on them
    is computed once, the bias corrections and γ at each call, by ``_coefficients``' formulas
    (the same floats, bit for bit)."""
    beta1, beta2 = group["betas"]
    if type(beta1) is not float or type(beta2) is not float:
        beta1, beta2 = float(_to_scalar(beta1)), float(_to_scalar(beta2))
    eps, decay = float(group["eps"]), float(group["weight_decay"])
    w = typ(1 - beta1)
    from_grad = not abs(w) < 0.5
    coeff = typ(w - typ(1)) if from_grad else w
    b2, one_minus_b2 = typ(beta2), typ(1 - beta2)

    def adam_scalars(group, steps, typ):
        lr = group["lr"]
        if type(lr) is not float:
            lr = float(_to_scalar(lr))
        step = float(steps[0])
        bc2_sqrt = (1 - beta2 ** step) ** 0.5
        return (w, coeff, from_grad, b2, one_minus_b2, typ(eps * bc2_sqrt),
                typ(-(lr / (1 - beta1 ** step)) * bc2_sqrt), 1 - lr * decay)

    fixed = [_frozen(v, typ) for v in (w, coeff, b2, one_minus_b2)]
    eps_arr, step_arr, decay_arr = (np.empty((), typ) for _ in range(3))
    out = (fixed[0], fixed[1], from_grad, fixed[2], fixed[3], eps_arr, step_arr, decay_arr)

    def adam_array_scalars(group, steps, typ):   # the same numbers, written into 0-d arrays
        k = adam_scalars(group, steps, typ)
        eps_arr[()], step_arr[()], decay_arr[()] = k[5], k[6], k[7]
        return out

    adam_scalars.arrays = adam_array_scalars
    return adam_scalars


def make_sgd_scalars(group, typ):
    """SGD's scalar function: −γ, the learning rate read from the live group (nothing to compute
    ahead)."""
    def sgd_scalars(group, steps, typ):
        return (-float(_to_scalar(group["lr"])),)

    neg_lr = np.empty((), typ)
    out = (neg_lr,)

    def sgd_array_scalars(group, steps, typ):
        neg_lr[()] = -float(_to_scalar(group["lr"]))
        return out

    sgd_scalars.arrays = sgd_array_scalars
    return sgd_scalars


def _frozen(v, typ):
    a = np.array(v, typ)
    a.flags.writeable = False
    return a


def array_scalars(calls, values, result):
    """Have each scalar function of *calls* return its numbers as 0-d arrays of the update's
    dtype (``fn.arrays``: the same values, rounded as NumPy rounds a number beside an array of
    that dtype; a ufunc takes a 0-d array faster than a NumPy or Python scalar), where each
    of its results is only ever an operand of a ufunc call beside an array of that dtype."""
    ok = {}
    for e in calls:
        if e[0] != "call":
            continue
        fn = _UFUNC_OF.get(e[1], e[1])
        args = e[2]
        dtypes = {values[a[1]].dtype for a in args if a[0] == "s" and
                  type(values.get(a[1])) is np.ndarray}
        good = type(fn) is np.ufunc and fn.nout == 1 and len(args) == fn.nin and len(dtypes) == 1
        for a in args:
            if a[0] == "s":
                ok.setdefault(a[1], []).append(dtypes if good else None)
            elif a[0] in ("seq", "dict"):
                for k in _slot_refs(a):
                    ok.setdefault(k, []).append(None)
        for k in _slot_refs(e[3]):
            ok.setdefault(k, []).append(None)
    for k in _slot_refs(result):
        ok.setdefault(k, []).append(None)
    for n, e in enumerate(calls):
        if e[0] != "call" or getattr(e[1], "arrays", None) is None or type(e[4]) is not tuple:
            continue
        typ = e[2][2][1]
        if all(type(values.get(k)) is bool or all(
                u is not None and u == {np.dtype(typ)} for u in ok.get(k, ()))
               for k in e[4]):
            calls[n] = ("call", e[1].arrays, *e[2:])


SCALARS = {Adam: make_adam_scalars, SGD: make_sgd_scalars}
"""Optimiser class -> ``factory(group, dtype type)``: its scalar function for that group's
settings, ``(group, steps, dtype type) -> tuple``."""


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
            or not opt._flat_ok or _kernels.EXACT_FMA:
        return False            # EXACT_FMA: the update derives float64 scalars from the live ones
    if type(opt)._update is not _update_of(opt):
        return False
    if type(opt)._step_flat is not ElementwiseOptimizer._step_flat:
        return False
    for group in opt.param_groups:
        fg = opt._flat.get(id(group))
        if fg is None:
            if not _each_ok(opt, group):
                return False
            continue
        if fg.group is not group or len(group["params"]) != len(fg.params):
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


def _flat_ok(opt, group):
    return opt._flat_ok and group.get("foreach") is not False


def _each_ok(opt, group):
    """Whether a group the optimiser steps parameter by parameter (``_step_each``: too large
    to pack, or ``foreach=False``) can be traced: it no longer tries to pack it after this step
    (three misses), and every parameter has its state already (made on the first step)."""
    if _flat_ok(opt, group) and opt._flat_misses.get(id(group), 0) < 2:
        return False
    cls = type(opt)
    if cls._step_each is not ElementwiseOptimizer._step_each or \
            cls._pack is not ElementwiseOptimizer._pack or cls._update_in_chunks not in (
                ElementwiseOptimizer._update_in_chunks, Adam._update_in_chunks):
        return False
    if isinstance(group["lr"], Tensor) or any(
            k not in _LIVE and isinstance(v, Tensor) for k, v in group.items()):
        return False
    for p in group["params"]:
        state = opt.state.get(p)
        if not state or p._grad is None or type(p._data) is not np.ndarray or \
                (opt._has_step and "step" not in state):
            return False
        for v in state.values():
            if not isinstance(v, Tensor) or type(v._data) is not np.ndarray:
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

    __slots__ = ("each", "groups", "loose", "opt")

    def __init__(self, opt, read=()):
        self.opt = opt
        self.groups = []
        self.each = []          # (param, its state dict, [(state tensor, its array)])
        for g in opt.param_groups:
            keys, _ = statics(g)
            get = operator.itemgetter(*keys) if keys else None
            fg = opt._flat.get(id(g))
            self.groups.append((g, fg, get, get(g) if keys else None, len(g),
                                len(g["params"]), None if fg is not None else list(g["params"])))
            if fg is None:
                for p in g["params"]:
                    st = opt.state[p]
                    self.each.append((p, st, [(t, t._data) for t in st.values()], len(st)))
        ids = {id(t) for t in read}
        self.loose = [(p, p._data) for g in opt.param_groups for p in g["params"]
                      if id(p) not in ids or opt._flat.get(id(g)) is None]

    def holds(self):
        opt = self.opt
        if len(opt.param_groups) != len(self.groups):
            return False
        flat, is_ = opt._flat, operator.is_
        for (group, fg, get, values, size, n, each), live in zip(self.groups,
                                                                 opt.param_groups):
            if live is not group or flat.get(id(group)) is not fg or len(group) != size:
                return False
            if get is not None and get(group) != values:
                return False
            params = group["params"]
            if len(params) != n or not all(map(is_, params, fg.params if each is None
                                                else each)):
                return False
            if each is not None and _flat_ok(opt, group) and \
                    opt._flat_misses.get(id(group), 0) < 3:
                return False        # it would try to pack the group again
        if self.each:
            state = opt.state
            for p, st, arrays, k in self.each:
                if state.get(p) is not st or len(st) != k:
                    return False
                for t, d in arrays:
                    if t._data is not d:
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

    if wrapped:
        tr.calls.append(("call", _mark_called, (("k", opt),), {}, None))
        opt._opt_called = True
    factory = _scalar_fn(opt)
    for group in opt.param_groups:
        fg = opt._flat.get(id(group))
        if fg is None and _flat_ok(opt, group) and opt._flat_misses.get(id(group), 0) < 3:
            fg = opt._pack(group)       # what step() does: try to pack it (once more)
            if fg is None:
                opt._flat_misses[id(group)] = opt._flat_misses.get(id(group), 0) + 1
        if fg is None:
            _trace_each(run, opt, group, factory, outside)
            continue
        params = group["params"]
        grads = [tr.call(grad_array, (Ref(("k", p), p),), {}) for p in params]
        reads = tr.calls[len(tr.calls) - len(params):]
        for g in grads:
            run.escape(g)
        G = outside(fg.grad)
        tr.call(np.concatenate, (grads,), {"axis": None, "out": G, "casting": "same_kind"})
        run.gathers.append((tr.calls[-1], [g._s for g in grads], list(params), fg, reads))
        step = None
        if fg.steps is not None:
            S = outside(fg.steps)
            S += 1
        typ = fg.param.dtype.type
        scalar_fn = factory(group, typ)
        S_enc = ("s", S._s) if fg.steps is not None else ("k", None)
        live, slots = _scalars(tr, scalar_fn, group, fg.steps, S_enc, typ)
        if fg.steps is not None:
            step = float(fg.steps[0])
        bufs = {k: outside(v) for k, v in fg.bufs.items()}
        n = len(bufs)
        start = len(tr.calls)
        type(opt)._update(opt, group, outside(fg.param), G, bufs, step, True,
                          _TracedWork(fg.work, outside), **_given(factory, live))
        if len(bufs) != n:
            tr.poison(f"{type(opt).__name__}.step makes a new state buffer")
        _bind_scalars(tr, start, live, slots)
        for p in params:
            p._vc[0] += 1
            tr.calls.append(("bump", p, 1))
    return OptimTrace(opt, run.exts)


def _scalars(tr, scalar_fn, group, steps, steps_enc, typ):
    """Call *scalar_fn* now and as an entry of the trace: ``(its values, their slots)``."""
    live = scalar_fn(group, steps, typ)
    slots = tuple(range(tr.n, tr.n + len(live)))
    tr.n += len(live)
    for k, v in zip(slots, live):
        tr.values[k] = v
        tr.keep.append(v)
    tr.calls.append(("call", scalar_fn, (("k", group), steps_enc, ("k", typ)), {}, slots))
    return live, slots


def _trace_each(run, opt, group, factory, outside):
    """Trace ``_step_each(group)``: each parameter's update on its own arrays (in cache-sized
    pieces where the optimiser takes them so; an elementwise update gives the same bits in any
    pieces), its step count and scalars, as :func:`trace_step` does for a packed group."""
    tr, states, fns, works = run.tr, opt.state, {}, {}
    for p in group["params"]:
        state = states[p]
        G = tr.call(grad_array, (Ref(("k", p), p),), {})
        run.escape(G)
        read = len(tr.calls) - 1
        P, g = p._data, p._grad._data
        typ = P.dtype.type
        scalar_fn = fns.get(typ)
        if scalar_fn is None:
            scalar_fn = fns[typ] = factory(group, typ)
        step, steps, enc = None, None, ("k", None)
        if opt._has_step:
            s = state["step"]._data
            S = outside(s)
            S += 1
            steps = s.reshape(1)        # the scalar function reads steps[0]
            enc = ("k", steps)
            step = float(s)
        live, slots = _scalars(tr, scalar_fn, group, steps, enc, typ)
        arrays = {k: v._data for k, v in state.items() if k != "step"}
        n = len(arrays)
        start = len(tr.calls)
        given = _given(factory, live)
        c = opt._chunk
        if n and P.size > c and _contiguous(P, g, *arrays.values()):
            flat = {k: v.reshape(-1) for k, v in arrays.items()}
            Pf, Gf, size = P.reshape(-1), G.reshape(-1), P.size
            for a in range(0, size, c):
                b = min(a + c, size)
                work = works.get(b - a)
                if work is None:
                    work = works[b - a] = Work((b - a,))
                bufs = {k: outside(v[a:b]) for k, v in flat.items()}
                type(opt)._update(opt, group, outside(Pf[a:b]), Gf[a:b], bufs, step, False,
                                  _TracedWork(work, outside), **given)
                if len(bufs) != n:
                    break
        else:
            bufs = {k: outside(v) for k, v in arrays.items()}
            type(opt)._update(opt, group, outside(P), G, bufs, step, False,
                              _TracedWork(Work(P.shape), outside), **given)
        if len(bufs) != n:
            tr.poison(f"{type(opt).__name__}.step makes a new state buffer")
        _bind_scalars(tr, start, live, slots)
        run.each_grads.append((p, G._s, tr.calls[read], {id(e) for e in tr.calls[read:]}))
        p._vc[0] += 1
        tr.calls.append(("bump", p, 1))


def _given(factory, live):
    """What the traced ``_update`` is handed besides its usual arguments: for Adam, the scalar
    function's own objects as its coefficients (so the trace reads them from their slots)."""
    return {"coefficients": tuple(live[:-1])} if factory is make_adam_scalars else {}


def _contiguous(*arrays):
    return all(a.flags.c_contiguous for a in arrays)


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
