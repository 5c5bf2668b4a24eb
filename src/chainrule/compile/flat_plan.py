"""The flat plan: a step replayed as the NumPy calls its ops made, on preallocated buffers.

Built by tracing (:mod:`.trace`) one run of an :class:`~.array_plan.ArrayPlan`: each op's
``forward`` and ``backward`` runs on proxies, so every array call inside it (operators, methods,
NumPy functions, random draws) is recorded; the engine's gradient sums and leaf deliveries, the
optimiser's update (:mod:`.optim_trace`: its calls traced, its per-step scalars computed at each
replay) and the calls the array plan makes on tensors (``detach``, in-place methods, optimisers
that cannot be traced) become entries of the same list.  :func:`.flat_codegen.generate` compiles the
list into one straight-line function.  A call whose result is a fresh array that never leaves
the step (not returned, not stored in a ``.grad``, not handed to the optimiser or another tensor
call, nor a view of such an array) writes into a buffer allocated once (``out=``): each buffer
belongs to one call, so no two live values share memory, and its value of the previous replay
is dead.  A gradient that only the traced optimiser reads (stored into an empty ``.grad``, set to
None again by ``zero_grad()`` after the step) is written where the optimiser reads it
(:meth:`_Run.direct_grads`).

The traced run is the step itself (real values, real side effects), so a trace that cannot be
replayed (:attr:`.trace.Tracer.reason`) costs nothing: the step's result is right and the array
plan stays in use.
"""
import functools
import operator

import numpy as np

from chainrule.backend import numpy_namespace
from chainrule.compile import optim_trace
from chainrule.compile.array_plan import op_by_op
from chainrule.compile.codegen import CALL, DATA, FORWARD
from chainrule.compile.flat_codegen import (
    _UFUNC_OF,
    _data,
    _merge_grad_toggles,
    _slot_refs,
    generate,
    splat,
    store_leaf,
)
from chainrule.compile.trace import INPLACE, Proxy, Ref, Tracer, _real
from chainrule.grad_mode import state as _grad_state
from chainrule.ops.shape import SumTo
from chainrule.random import Generator, default_generator
from chainrule.tensor import Tensor, to_array, wrap

_ndarray = np.ndarray
_requires_grad = operator.attrgetter("_requires_grad")
_grad_of = operator.attrgetter("_grad")
_not_none = functools.partial(operator.is_not, None)


class FlatPlan:
    """A plan replayed as one generated function of NumPy calls (``kind == "flat"``); ``array``
    is the array plan it falls back on (see :meth:`replay`)."""

    kind = "flat"
    __slots__ = ("_ext_ids", "_fn", "_last", "_layout", "_same", "_watch", "_watch_data",
                 "_watch_grad", "array", "buffers", "calls", "direct", "exts", "ops", "optims",
                 "source", "stale")

    def __init__(self, array, calls, result, inputs, exts, buffers, simple=False, folded=None,
                 fresh=(), optims=(), direct=()):
        self.array, self.ops, self.calls, self.buffers = array, array.ops, calls, buffers
        self.exts = exts
        self.optims = tuple(optims)
        self.direct = tuple(direct)
        """The parameters whose gradient the plan writes straight into their optimiser's flat
        gradient buffer (:meth:`_Run.direct_grads`): their ``.grad`` must be None at a replay."""
        self.stale = False
        """True once a traced optimiser's layout or settings changed (a repacked group, a new
        beta): the array plan replays, and the compiled function traces it again."""
        """The optimiser steps traced into the plan (:class:`.optim_trace.OptimTrace`), whose
        packed layout and settings must hold for a replay."""
        self._layout = [t._data.strides for t in (*inputs, *exts)]
        self._last = [t._data for t in exts]
        self._ext_ids = set(map(id, self._last))
        self._watch = [t for t, _ in self.ops.externals]
        self._watch_data = list(map(_data, self._watch))
        self._watch_grad = list(map(_requires_grad, self._watch))
        self._same = False
        self._fn, self.source = generate(calls, result, len(inputs), buffers, simple,
                                         folded or {}, fresh)

    def guards_hold(self):
        """True while every outside tensor has the shape, dtype and requires_grad it had: at
        once when each still has the very array it had at the last replay (the common case:
        one identity check per tensor), else by the op plan's check."""
        watch = self._watch
        if all(map(operator.is_, map(_data, watch), self._watch_data)) and \
                list(map(_requires_grad, watch)) == self._watch_grad:
            self._same = True
            return True
        self._same = False
        return self.ops.guards_hold()

    def layout_holds(self, inputs):
        """True while the step's inputs and the parameters it reads are distinct arrays with the
        memory layout (strides) they had when traced: the traced calls (views, copies, layout
        tests such as ``a.flags.c_contiguous``) are then the ones eager code makes.  The
        parameters are checked only when :meth:`guards_hold` saw a new array (a plan with a
        traced optimiser step wants the very arrays it was traced on: views of the packed
        buffer)."""
        if not self._same:
            datas = [t._data for t in self.exts]
            if not all(map(operator.is_, datas, self._last)):
                if self.optims:
                    self.stale = True       # the optimiser repacked: trace again
                    return False
                ids = set()             # new parameter arrays (checked once, then by identity)
                for d, strides in zip(datas, self._layout[len(inputs):]):
                    if type(d) is not _ndarray or d.strides != strides:
                        return False
                    ids.add(id(d))
                if len(ids) != len(datas):
                    return False
                self._last, self._ext_ids = datas, ids
            self._watch_data = list(map(_data, self._watch))
            self._watch_grad = list(map(_requires_grad, self._watch))
        ids = []
        for t, strides in zip(inputs, self._layout):
            d = t._data
            if type(d) is not _ndarray or d.strides != strides:
                return False
            ids.append(id(d))
        return len(set(ids)) == len(ids) and self._ext_ids.isdisjoint(ids)

    @property
    def why_not_array(self):
        return None

    def describe(self):
        """The step's ops and backward as the array plan lists them (``source`` is the
        generated function: the NumPy calls, one a line)."""
        return self.array.describe()

    def inputs_hold(self, inputs):
        """The quick check of a replay with the same outside arrays as the last one
        (:meth:`guards_hold` True and nothing new seen): the step's inputs have their traced
        strides and are distinct arrays, apart from the outside ones.  False: let
        :meth:`replay` decide."""
        if not self._same:
            return False
        ids = []
        for t, strides in zip(inputs, self._layout):
            d = t._data
            if d.strides != strides:
                return False
            ids.append(id(d))
        return len(set(ids)) == len(ids) and self._ext_ids.isdisjoint(ids)

    def replay(self, inputs, checked=False):
        """One step: the generated function, or the array plan (or op by op) where what it
        assumes does not hold; *checked*: :meth:`inputs_hold` said True."""
        if op_by_op(self.array.leaves, inputs):
            return self.ops.replay(inputs)
        if not checked and not self.layout_holds(inputs):
            return self.array.replay(inputs)
        for o in self.optims:
            if not o.holds():
                self.stale = True
                return self.array.replay(inputs)
        direct = self.direct
        if direct and any(map(_not_none, map(_grad_of, direct))):
            return self.array.replay(inputs)    # a .grad to add to, as eagerly
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            return self._fn(inputs)
        finally:
            _grad_state.enabled = prev


# ---- tracing one run of an array plan --------------------------------------------------------
def trace(array, inputs):
    """Run *array* (an ArrayPlan) once on *inputs*, traced: ``(result, FlatPlan or None, why)``
    (``why`` None and no plan: replayed op by op this time, not traced)."""
    if op_by_op(array.leaves, inputs):
        return array.ops.replay(inputs), None, None
    if any(type(t._data) is not _ndarray for t in inputs) or any(
            ins[0] == FORWARD and ins[3] is not numpy_namespace for ins in array.program):
        return array.replay(inputs), None, "the step's arrays are not NumPy arrays"
    run = _Run(inputs)
    prev = _grad_state.enabled
    _grad_state.enabled = False
    try:
        for ins in array.program:
            if ins[0] == FORWARD:
                run.forward(*ins[1:])
            elif ins[0] == CALL:
                run.call(*ins[1:])
            else:
                run.backward(ins[1])
        result, out = run.result(array.result)
    finally:
        run.tr.unpatch()
        _grad_state.enabled = prev
    tr = run.tr
    if tr.reason is not None:
        return out, None, tr.reason
    direct = run.direct_grads(result)
    tr.calls = _merge_grad_toggles(tr.calls)
    buffers, simple, folded = run.buffers(), run.simple_leaves(), run.constants()
    calls = splat(tr.calls, tr.values)
    optim_trace.array_scalars(calls, tr.values, result)
    fresh = {k for k, a in tr.fresh.items() if a.flags.writeable}
    return out, FlatPlan(array, calls, result, inputs, run.exts, buffers, simple, folded,
                         fresh, run.optims, direct), None


class _Run:
    def __init__(self, inputs):
        self.tr = Tracer()
        self.inputs = inputs
        self.arr = {}           # array-plan slot -> proxy
        self.ten = {}           # array-plan slot -> (flat slot, tensor)
        self.in_data = {}
        self.ctxs = {}
        self.escaped = set()
        self.gens = [default_generator]
        self.owner = {}         # id(array) -> the outside tensor it belongs to
        self.exts = []          # the outside tensors whose arrays the trace reads
        self.optims = []        # optim_trace.OptimTrace of each traced optimiser step
        self.gathers = []       # (concatenate entry, grad slots, params, flat group) of each
        self.opaque = set()     # id of each opaque call entry (a call on tensors)
        self.each_grads = []    # (param, grad slot, its read, the entries of its update)

    # slots and values
    def _new_slot(self):
        k = self.tr.n
        self.tr.n += 1
        return k

    def in_proxy(self, i):
        p = self.in_data.get(i)
        if p is None:
            p = self.in_data[i] = self._outside(("in", i), self.inputs[i])
        return p

    def _outside(self, spec, t):
        """The array of a tensor from outside the step (an input, a parameter, a buffer): two
        such tensors sharing one array poison the trace (a replay may get them apart)."""
        real = t._data
        owner = self.owner.get(id(real))
        if owner is None and id(real) in self.tr.by_id:
            self.tr.poison("an array of the step is also the array of an input or parameter")
        elif owner is not None and (owner[0] is not t or owner[1] != spec):
            self.tr.poison("two inputs or parameters of the step share one array")
        self.owner[id(real)] = (t, spec)
        if spec[0] == "k" and not any(t is u for u in self.exts):
            self.exts.append(t)
        return self.tr.call(_data, (Ref(spec, t),), {})

    def escape(self, p):
        if type(p) is Proxy:
            self.escaped.add(p._s)

    # forward
    def _op_arg(self, s, exts):
        kind = s[0]
        if kind == "slot":
            return wrap(self.arr[s[1]])
        if kind == "in":
            w = wrap(self.in_proxy(s[1]))
            w._requires_grad = self.inputs[s[1]]._requires_grad
            return w
        if kind == "ext":
            t = s[1]
            p = self._outside(("k", t), t)
            w = wrap(p)
            w._requires_grad = t._requires_grad
            exts.append((t, w, p))
            return w
        if kind == "const":
            if isinstance(s[1], Generator) and s[1] not in self.gens:
                self.gens.append(s[1])
            return s[1]
        if kind == "data":
            inner = s[1]
            return self.in_proxy(inner[1]) if inner[0] == "in" else self.arr[inner[1]]
        if kind == "seq":
            return s[1]([self._op_arg(x, exts) for x in s[2]])
        raise AssertionError(kind)

    def forward(self, cls, needs, xp, aspec, kspec, ospec, node):
        tr, exts = self.tr, []
        args = [self._op_arg(s, exts) for s in aspec]
        kwargs = {k: self._op_arg(s, exts) for k, s in kspec.items()}
        ctx = cls.__new__(cls)
        ctx.needs_input_grad, ctx.xp = needs, xp
        start_call, start_slot = len(tr.calls), tr.n
        states = _rng_states(self.gens)
        tr.patch(self.gens)
        try:
            out = cls.forward(ctx, *args, **kwargs)
        except Exception as e:      # the op cannot run on proxies: run it as is
            tr.unpatch()
            if _rng_states(self.gens) != states or _mutates(
                    tr.calls[start_call:], start_slot):
                raise               # it has changed state already: cannot run it again
            tr.poison(f"{cls.__name__}.forward cannot be traced ({type(e).__name__}: {e})")
            del tr.calls[start_call:]
            exts = []
            ctx = cls.__new__(cls)
            ctx.needs_input_grad, ctx.xp = needs, xp
            out = cls.forward(ctx, *[self._real_arg(s) for s in aspec],
                              **{k: self._real_arg(s) for k, s in kspec.items()})
        finally:
            tr.unpatch()
        for t, w, p in exts:            # what the op did to a parameter or buffer tensor
            if w._data is not p:
                tr.poison(f"{cls.__name__}.forward gives a tensor new memory")
                setattr(t, DATA, _real(w._data))
            if w._vc[0]:
                tr.calls.append(("bump", t, w._vc[0]))
                t._vc[0] += w._vc[0]
        if node >= 0:
            self.ctxs[node] = ctx
        if type(ospec) is int:
            self.arr[ospec] = self._as_array(out, cls)
        elif ospec is not None:
            for j, o in _outputs(ospec, out):
                self.arr[j] = self._as_array(o, cls)

    def _real_arg(self, s):
        """An op's argument as the array plan hands it over (no proxies)."""
        kind = s[0]
        if kind == "slot":
            return wrap(self.arr[s[1]]._a)
        if kind == "in":
            return self.inputs[s[1]]
        if kind == "ext":
            return s[1]
        if kind == "data":
            inner = s[1]
            return (self.in_proxy(inner[1]) if inner[0] == "in" else self.arr[inner[1]])._a
        if kind == "seq":
            return s[1]([self._real_arg(x) for x in s[2]])
        return s[1]

    def _as_array(self, o, cls):
        if isinstance(o, Tensor):
            o = o._data
        if type(o) is Proxy:
            if isinstance(o._a, np.generic):
                return self.tr.call(to_array, (o,), {})
            return o
        self.tr.poison(f"{cls.__name__}.forward returns a {type(o).__name__} the trace did "
                       f"not make")
        p = self.tr.new(to_array(o))
        self.escaped.add(p._s)
        return p

    # calls on tensors (optimiser, detach, in-place methods): one opaque entry each
    def _tensor(self, j):
        got = self.ten.get(j)
        if got is None:
            p = self.arr[j]
            t = wrap(p._a)
            k = self._new_slot()
            self.tr.calls.append(("call", wrap, (("s", p._s),), {}, k))
            got = self.ten[j] = (k, t)
            self.escape(p)
        return got

    def _call_arg(self, s):
        kind = s[0]
        if kind == "slot":
            k, t = self._tensor(s[1])
            return Ref(("s", k), t)
        if kind == "in":
            return Ref(("in", s[1]), self.inputs[s[1]])
        if kind == "ext":
            return Ref(("k", s[1]), s[1])
        if kind == "data":
            inner = s[1]
            p = self.in_proxy(inner[1]) if inner[0] == "in" else self.arr[inner[1]]
            self.escape(p)
            return p
        if kind == "seq":
            return s[1]([self._call_arg(x) for x in s[2]])
        return s[1]

    def call(self, fn, aspec, kspec, ospec, grad):
        tr = self.tr
        args = [self._call_arg(s) for s in aspec]
        kwargs = {k: self._call_arg(s) for k, s in kspec.items()}
        if ospec is None and all(s[0] == "const" for s in (*aspec, *kspec.values())):
            opt = optim_trace.optimizer_of(fn, args, kwargs, tr.calls)
            if opt is not None:         # its NumPy calls join the plan (optim_trace)
                self.optims.append(optim_trace.trace_step(self, opt, bool(aspec) is False))
                return
            params = optim_trace.zero_grad_params(fn, args, kwargs)
            if params is not None:
                for p in params:
                    p._grad = None
                    tr.calls.append(("nograd", p))
                return
        eargs = tuple([_enc(tr, a) for a in args])
        ekw = {k: _enc(tr, v) for k, v in kwargs.items()}
        if grad:
            tr.calls.append(("grad", True))
            _grad_state.enabled = True
        try:
            out = fn(*[_real(a) for a in args], **{k: _real(v) for k, v in kwargs.items()})
        finally:
            if grad:
                _grad_state.enabled = False
        slots, bound = None, []
        if type(ospec) is int:
            slots = self._bind(ospec, out, bound)
        elif ospec is not None:
            slots = _bind_tuple(self, ospec, out, bound)
        tr.calls.append(("call", fn, eargs, ekw, slots))
        self.opaque.add(id(tr.calls[-1]))
        if grad:
            tr.calls.append(("grad", False))
        for j, k, t in bound:
            self.arr[j] = self._load(k, t)
        for i, p in list(self.in_data.items()):     # or an input's tensor
            if self.inputs[i]._data is not p._a:
                del self.in_data[i]
        for s in aspec:                 # a method may have given a slot's tensor new memory
            if s[0] == "slot":
                k, t = self.ten[s[1]]
                if t._data is not self.arr[s[1]]._a:
                    self.arr[s[1]] = self._load(k, t)

    def _bind(self, j, t, bound):
        if not isinstance(t, Tensor):
            self.tr.poison(f"a tensor call returns a {type(t).__name__}")
            return None
        k = self._new_slot()
        self.ten[j] = (k, t)
        bound.append((j, k, t))
        return k

    def _load(self, k, t):
        p = self.tr.call(_data, (Ref(("s", k), t),), {})
        self.escape(p)
        return p

    # backward: the array plan's schedule
    def backward(self, prog):
        tr = self.tr
        (root, root_nr, shape, dtype, _), steps = prog
        pending = {(root, root_nr): tr.call(np.ones, (shape,), {"dtype": dtype})}
        tr.calls.append(("handed", pending[(root, root_nr)]._s))
        handed, borrowed = {id(pending[(root, root_nr)]._a)}, set()
        tr.patch(self.gens)
        try:
            for n, backward, n_out, meta, edges in steps:
                grads = [pending.pop((n, k), None) for k in range(n_out)]
                if all(g is None for g in grads):
                    self.ctxs.pop(n, None)
                    continue
                ctx = self.ctxs.pop(n)
                if n_out > 1 and ctx._materialize_grads:
                    for k, g in enumerate(grads):
                        if g is None:
                            grads[k] = ctx.xp.zeros(*meta[k])
                start_call = len(tr.calls)
                try:
                    r = backward(ctx, *grads)
                except Exception as e:  # noqa: BLE001 - run it on the arrays themselves
                    tr.unpatch()
                    tr.poison(f"{type(ctx).__name__}.backward cannot be traced "
                              f"({type(e).__name__}: {e})")
                    del tr.calls[start_call:]
                    _unproxy(ctx)
                    r = backward(ctx, *[_real(g) for g in grads])
                    tr.patch(self.gens)
                if type(r) is not tuple:
                    r = (r,)
                for i, leaf, target, nr, s, d in edges:
                    x = r[i]
                    if x is None:
                        continue
                    x = self._fix(x, s, d, type(ctx).__name__)
                    if leaf:
                        who = self.inputs[target[1]] if target[0] == "in" else target[1]
                        spec = ("in", target[1]) if target[0] == "in" else ("k", who)
                        tr.calls.append(("leaf", spec, x._s))
                        self.escape(x)
                        store_leaf(who, x._a, handed, borrowed)
                    else:
                        g = pending.get((target, nr))
                        pending[(target, nr)] = x if g is None else g + x
        finally:
            tr.unpatch()

    def _fix(self, x, shape, dtype, name):
        tr = self.tr
        if type(x) is not Proxy:
            tr.poison(f"{name}.backward returns a {type(x).__name__} the trace did not make")
            x = tr.new(np.asarray(x._data if isinstance(x, Tensor) else x))
            self.escaped.add(x._s)
            return x
        if isinstance(x._a, np.generic):
            x = tr.call(np.asarray, (x,), {})
        if x.shape != shape:
            ctx = SumTo.__new__(SumTo)
            ctx.needs_input_grad, ctx.xp = (False, False), numpy_namespace
            x = SumTo.forward(ctx, wrap(x), shape)
        if x.dtype != dtype:
            tr.poison(f"a gradient of {name} changes dtype")
            x = tr.new(wrap(x._a).to(dtype)._data)
            self.escaped.add(x._s)
        return x

    def result(self, spec):
        def expr(s):
            kind = s[0]
            if kind == "slot":
                k, t = self._tensor(s[1])
                return ("s", k), t
            if kind == "in":
                return ("in", s[1]), self.inputs[s[1]]
            if kind == "ext":
                return ("k", s[1]), s[1]
            if kind == "seq":
                pairs = [expr(x) for x in s[2]]
                return ("seq", s[1], tuple(p[0] for p in pairs)), s[1](p[1] for p in pairs)
            if kind == "const":
                return ("k", s[1]), s[1]
            if kind == "data":
                inner = s[1]
                p = self.in_proxy(inner[1]) if inner[0] == "in" else self.arr[inner[1]]
                self.escape(p)
                return ("s", p._s), p._a
            raise AssertionError(kind)
        return expr(spec)

    def direct_grads(self, result):
        """Gradients written where the optimiser reads them, where nothing else does.

        A parameter's one gradient of the step, stored into its empty ``.grad``, read by the
        traced optimiser step and set to None again by ``zero_grad()`` after it, with no call
        on tensors in between, made by a ``matmul``, ufunc or ufunc reduction whose fresh
        result has the parameter's shape and is read by nothing else: that call gets ``out=``
        the parameter's view of the optimiser's flat gradient buffer (a packed group: the
        layout of a hand-written NumPy step, and its gather goes) or a buffer of the plan (a
        group stepped parameter by parameter: no fresh array each step).  The same bits:
        those calls compute the same with or without ``out=``.  The leaf store and the
        ``.grad = None`` go; in a packed group the gather goes too, the gradients that do not
        qualify (a batch norm's, a view of its sum) copied into their place one by one.
        Returns the parameters so treated (their ``.grad`` must be None at a replay)."""
        calls = self.tr.calls
        index = {id(e): n for n, e in enumerate(calls)}
        info = _Uses(calls, result, self.tr, self.opaque)
        drop, outs, done, instead = set(), [], [], {}
        for concat, gslots, params, fg, reads in self.gathers:
            at = index.get(id(concat))
            if at is None or sum(v.size for v in fg.views) != fg.grad.size:
                continue
            got, copies, off = [], [], 0
            for p, g, view, read in zip(params, gslots, fg.views, reads):
                buf = fg.grad[off:off + view.size].reshape(view.shape)
                off += view.size
                one = info.target(p, g, at, {id(concat)}, buf)
                if one is not None and buf.dtype == info.fresh(one[1][0]).dtype and \
                        index.get(id(read)) is not None:
                    one[0].add(index[id(read)])
                    got.append((p, one))
                elif type(self.tr.values.get(g)) is np.ndarray and \
                        self.tr.values[g].dtype == buf.dtype:
                    copies.append(("call", np.copyto, (("k", buf), ("s", g)), {}, None))
                else:
                    got = None
                    break
            if not got:
                continue
            drop.add(at)            # the gather goes; what does not go direct is copied
            instead[at] = copies
            for p, (d, out) in got:
                drop.update(d)
                outs.append(out)
                done.append(p)
        for p, g, read, allowed in self.each_grads:
            at = index.get(id(read))
            if at is None:
                continue
            one = info.target(p, g, at, allowed, None)
            if one is not None:
                drop.update(one[0])
                outs.append(one[1])
                done.append(p)
        for n, buf in outs:
            _, fn, args, kwargs, k = calls[n]
            if buf is None:
                buf = np.empty_like(info.fresh(n))
            calls[n] = ("call", _UFUNC_OF.get(fn, fn), args, {**kwargs, "out": ("k", buf)}, k)
        if drop:
            new = []
            for n, e in enumerate(calls):
                if n in drop:
                    new.extend(instead.get(n, ()))
                else:
                    new.append(e)
            self.tr.calls = new
        return done

    def simple_leaves(self):
        """True when every leaf gets one gradient per backward, no two of them (nor the root's
        ones) share memory: the engine's bookkeeping of handed-over arrays is then moot."""
        tr, groups, whos = self.tr, [], []
        for entry in tr.calls:
            if entry[0] == "handed":
                groups.append(self._group(entry[1]))
            elif entry[0] == "leaf":
                who = entry[1]
                if any(who[0] == w[0] and who[1] is w[1] for w in whos):
                    return False
                whos.append(who)
                groups.append(self._group(entry[2]))
        seen = set()
        for g in groups:
            if g & seen:
                return False
            seen |= g
        return True

    def _group(self, k):
        out, todo = set(), [k]
        while todo:
            j = todo.pop()
            if j not in out:
                out.add(j)
                todo.extend(self.tr.links.get(j, ()))
        return out

    def constants(self):
        """Slots whose value is the same on every replay: made by a creation function or a
        ufunc from constants only, and only ever read by ufuncs (never written, viewed or
        handed out).  Their calls are made once, at trace time (slot -> value)."""
        tr, made, uses = self.tr, {}, {}
        for n, entry in enumerate(tr.calls):
            if entry[0] == "call":
                _, fn, args, kwargs, out = entry
                pure = _UFUNC_OF.get(fn, fn)
                reads_ok = isinstance(pure, np.ufunc) and "out" not in kwargs \
                    and "where" not in kwargs
                for k in _slot_refs((args, kwargs)):
                    uses.setdefault(k, []).append(reads_ok)
                if type(out) is int and out not in made:
                    made[out] = (fn, args, kwargs)
            elif entry[0] == "leaf":
                uses.setdefault(entry[2], []).append(False)
        linked = {j for ks in tr.links.values() for j in ks}
        folded = {}
        for k, (fn, args, kwargs) in made.items():
            if k in self.escaped or k in linked or k in tr.links or not all(uses.get(k, ())):
                continue
            if not all(j in folded for j in _slot_refs((args, kwargs))):
                continue
            pure = _UFUNC_OF.get(fn, fn)
            if fn in _CREATORS or (isinstance(pure, np.ufunc) and "out" not in kwargs):
                folded[k] = tr.values[k]
        return folded

    def buffers(self):
        """Preallocated outputs: entry index -> buffer, for the fresh ufunc results that stay in
        the step (the entry that makes the slot's value)."""
        tr = self.tr
        dead = set()
        todo = list(self.escaped)
        while todo:
            k = todo.pop()
            if k in dead:
                continue
            dead.add(k)
            todo.extend(tr.links.get(k, ()))
        out, made = {}, set()
        for n, entry in enumerate(tr.calls):
            if entry[0] != "call":
                continue
            _, fn, args, kwargs, k = entry
            fn = _UFUNC_OF.get(fn, fn)
            first = k not in made
            made.add(k)
            if not first or type(k) is not int or k in dead or k not in tr.fresh or "out" in kwargs \
                    or "where" in kwargs \
                    or not isinstance(fn, np.ufunc) or fn.nout != 1 or fn is np.power:
                continue
            real = tr.fresh[k]
            if real.ndim == 0 or any(a[0] == "s" and a[1] == k for a in args):
                continue
            out[n] = np.empty_like(real)
        return out


_CREATORS = frozenset((np.ones, np.zeros, np.full))
"""Functions that make the same array from the same constants (folded at trace time)."""


class _Uses:
    """Who reads which slot in a traced call list: what :meth:`_Run.direct_grads` checks."""

    def __init__(self, calls, result, tr, opaque):
        self.calls, self.tr, self.opaque = calls, tr, opaque
        self.refs = {}          # slot -> indices of the calls reading it
        self.made = {}          # slot -> index of the call that first makes it
        self.leaves, self.nograd = {}, {}
        for n, e in enumerate(calls):
            kind = e[0]
            if kind == "call":
                for k in _slot_refs((e[2], e[3])):
                    self.refs.setdefault(k, []).append(n)
                outs = (e[4],) if type(e[4]) is int else e[4] if type(e[4]) is tuple else ()
                for k in outs:
                    if type(k) is int:
                        self.made.setdefault(k, n)
            elif kind == "leaf" and e[1][0] == "k":
                self.leaves.setdefault(id(e[1][1]), []).append(n)
            elif kind == "nograd":
                self.nograd.setdefault(id(e[1]), []).append(n)
        self.result = set(_slot_refs(result))
        self.viewers = {}       # slot -> slots that are views of it
        for j, ks in tr.links.items():
            for k in ks:
                if type(k) is int:
                    self.viewers.setdefault(k, []).append(j)

    def fresh(self, n_or_slot):
        """The fresh array the call at index *n* made (or of slot)."""
        e = self.calls[n_or_slot]
        return self.tr.fresh.get(e[4])

    def target(self, p, g, at, allowed, buf):
        """``(entries to drop, (producer index, buf))`` for parameter *p*'s gradient, read as
        slot *g* by the entry at *at*; *allowed*: ids of the entries that may read it (the
        optimiser's).  None if it does not qualify."""
        calls, mine = self.calls, self.leaves.get(id(p), ())
        if len(mine) != 1 or mine[0] > at:
            return None
        stops = [n for n in self.nograd.get(id(p), ()) if n > at]
        if not stops:
            return None
        stop = stops[0]
        x = calls[mine[0]][2]
        n = self.made.get(x)
        real = self.tr.fresh.get(x)
        if n is None or real is None or x in self.tr.links or x in self.result or \
                g in self.result or not real.flags.c_contiguous or real.shape != p._data.shape:
            return None
        for k in {x, g}:
            for r in self.refs.get(k, ()):
                if id(calls[r]) not in allowed:
                    return None
        todo = list(self.viewers.get(x, ()))
        seen = set()
        while todo:                 # views of it: made and read by the optimiser only
            j = todo.pop()
            if j in seen:
                continue
            seen.add(j)
            if j in self.result or id(calls[self.made.get(j, at)]) not in allowed:
                return None
            for r in self.refs.get(j, ()):
                if id(calls[r]) not in allowed:
                    return None
            todo.extend(self.viewers.get(j, ()))
        _, fn, _, kwargs, _ = calls[n]
        fn = _UFUNC_OF.get(fn, fn)
        owner = getattr(fn, "__self__", None)
        if not (fn is np.matmul or (isinstance(fn, np.ufunc) and fn.nout == 1) or (
                isinstance(owner, np.ufunc) and getattr(fn, "__name__", "") == "reduce")):
            return None
        if "out" in kwargs or "where" in kwargs:
            return None
        for e in calls[mine[0]:stop + 1]:
            if e[0] == "call" and id(e) in self.opaque:
                return None         # a call on tensors could see the .grad
        return {mine[0], at, stop}, (n, buf)


_WRITERS = frozenset(("fill", "put", "sort", "partition", "__setitem__", "at", "copyto", "place",
                      "putmask", "fill_diagonal"))
"""Names of NumPy functions and methods that write into their first argument."""


def _rng_states(gens):
    """Where the random streams an op may draw from stand (chainrule's generators, NumPy's
    global one)."""
    legacy = np.random.get_state()
    return [g.rng.bit_generator.state for g in gens] + [legacy[1].tobytes(), legacy[2:]]


def _mutates(calls, start_slot):
    """True if one of *calls* writes into an array made before slot *start_slot*."""
    for entry in calls:
        if entry[0] != "call":
            continue
        _, fn, args, kwargs, _ = entry
        targets = []
        if fn in INPLACE or fn is operator.setitem or getattr(fn, "__name__", "") in _WRITERS:
            targets.append(args[0] if args else None)
        if "out" in kwargs:
            o = kwargs["out"]
            targets.extend(o[2] if o[0] == "seq" else (o,))
        for t in targets:
            if t is None or t[0] != "s" or t[1] < start_slot:
                return True
    return False


def _unproxy(ctx):
    """Give *ctx* (an op's context after a traced forward) the real arrays back."""
    if hasattr(ctx, "__dict__"):
        for k, v in list(vars(ctx).items()):
            setattr(ctx, k, _real_deep(v))
    saved = getattr(ctx, "_saved", None)
    if type(saved) is tuple:
        ctx._saved = tuple(_real_deep(v) for v in saved)


def _real_deep(v):
    if isinstance(v, Tensor) and type(v._data) is Proxy:
        return wrap(v._data._a)
    if type(v) is tuple or type(v) is list:
        return type(v)(_real_deep(x) for x in v)
    return _real(v)


def _bind_tuple(run, ospec, out, bound):
    slots = []
    for o, v in zip(ospec, out):
        if o is None:
            slots.append(None)
        elif type(o) is int:
            slots.append(run._bind(o, v, bound))
        else:
            slots.append(None)
            run.tr.poison("a tensor call returns nested results")
    return tuple(slots)


def _outputs(ospec, out):
    for o, v in zip(ospec, out):
        if o is None:
            continue
        if type(o) is int:
            yield o, v
        else:
            yield from _outputs(o, v)


def _enc(tr, v):
    t = type(v)
    if t is Ref:
        return v.spec
    if t is tuple or t is list:
        return ("seq", t, tuple([_enc(tr, x) for x in v]))
    if t is Proxy:
        return ("s", v._s)
    return ("k", v)


