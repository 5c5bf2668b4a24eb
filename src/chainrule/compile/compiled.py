"""``cr.compile(fn)``: record a training step once, replay it while its guards hold."""
import functools
import operator
import warnings
from collections import OrderedDict

import numpy as np

from chainrule import function as _function
from chainrule.compile import array_plan, flat_plan
from chainrule.compile.guards import (
    flatten,
    has_hooks,
    hook_dicts,
    modes,
    modules_of,
    reachable,
)
from chainrule.compile.plan import Plan, same_plan, same_result
from chainrule.compile.recorder import Recorder
from chainrule.errors import ConfigError
from chainrule.function import Function
from chainrule.nn import Module
from chainrule.optim.optimizer import Optimizer
from chainrule.tensor import Tensor

_ndarray = np.ndarray
_training = operator.attrgetter("training")


class CompileWarning(UserWarning):
    """A compiled step runs eagerly: the warning names what could not be recorded."""


CACHE_SIZE = 8
"""Plans kept per compiled function (one per set of guards: batch size, dtype, modes...)."""

RETRACES = 3
"""Times a flat plan whose traced optimiser changed (repacked, new settings) is traced again;
after that its array plan replays (settings that change every step, as a one-cycle schedule's
betas, would cost a trace a step)."""

_EAGER = "eager"
_MISS = object()


class _Entry:
    """What the cache holds for one set of guards: recordings so far, then a plan (or eager)."""

    __slots__ = ("first", "plan", "reason", "retraces", "state")

    def __init__(self):
        self.state, self.first, self.plan, self.reason = "record", None, None, None
        self.retraces = 0


class CompiledFunction:
    """A training step that records itself on its first calls and replays the recording after.

    The first call with new guards (see :mod:`chainrule.compile.guards`) runs eagerly while
    recording; the second runs eagerly and records again, and the two recordings must make the
    same calls on the same arguments; from the third call on, the plan is replayed (the third
    replay is traced into a flat plan of NumPy calls).  A step that cannot be recorded runs
    eagerly, with one :class:`CompileWarning` naming the cause.
    """

    def __init__(self, fn, cache_size=CACHE_SIZE):
        if not callable(fn):
            raise ConfigError(f"cr.compile: fn must be callable, got {type(fn).__name__}")
        if isinstance(fn, type) and issubclass(fn, Function):
            raise ConfigError("cr.compile: compile a training step, not a Function class")
        if not isinstance(cache_size, int) or isinstance(cache_size, bool) or cache_size < 1:
            raise ConfigError(f"cr.compile: cache_size must be a positive int, got {cache_size!r}")
        self.fn = fn
        self.cache_size = cache_size
        self.cache = OrderedDict()
        self._modules = None
        self._hooks = ()
        self._optimizers = ()
        self._module_args = False
        self._last_key = self._last_entry = None
        self._fast = None
        self.recordings = 0
        """How many times a plan was recorded (a test reads it)."""
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        fast = self._fast
        if fast is not None and not kwargs:
            out = fast.run(args)
            if out is not _MISS:
                return out
        self._fast = None
        if _function.recorder is not None:       # compiled step called from a recorded one
            return self.fn(*args, **kwargs)
        if self._modules is None or self._module_args:
            self._modules = modules_of(self.fn, args, kwargs)
            self._hooks = hook_dicts(self._modules)
            self._optimizers = reachable(self.fn, args, kwargs, Optimizer)
            self._module_args = any(isinstance(v, Module) for v in (*args, *kwargs.values()))
        tensors = []
        key = (flatten(args, tensors), flatten(kwargs, tensors) if kwargs else None,
               modes(self._modules, self._hooks))
        if key == self._last_key:           # the same guards as the last call: no cache work
            entry = self._last_entry
        else:
            entry = self.cache.get(key)
            if entry is None:
                entry = self.cache[key] = _Entry()
                while len(self.cache) > self.cache_size:
                    self.cache.popitem(last=False)
            else:
                self.cache.move_to_end(key)
            self._last_key, self._last_entry = key, entry
        if entry.state == "replay":
            plan = entry.plan
            if plan.guards_hold():
                if plan.kind == "array" and not plan.traced:
                    return self._trace(entry, plan, tensors)
                out = plan.replay(tensors)
                if plan.kind == "flat":
                    if plan.stale:
                        self._restale(entry, plan)
                    elif not kwargs and not self._module_args:
                        self._fast = _FastPath.make(self, entry, plan, args, key)
                return out
            entry.state, entry.first, entry.plan = "record", None, None
        if entry.state == _EAGER:
            return self.fn(*args, **kwargs)
        return self._record(entry, tensors, args, kwargs)

    @staticmethod
    def _restale(entry, plan):
        """A traced optimiser of flat *plan* changed (repacked, new settings): trace again
        (up to :data:`RETRACES` times)."""
        if entry.retraces < RETRACES:
            entry.retraces += 1
            entry.plan, plan.array.traced = plan.array, False

    def _record(self, entry, tensors, args, kwargs):
        rec = Recorder(tensors, self._watched(), self._optimizers)
        with rec:
            out = self.fn(*args, **kwargs)
        self.recordings += 1
        for m in self._modules:
            if has_hooks(m):
                rec.unrecordable(f"{type(m).__name__} has forward or backward hooks, which run "
                                 f"in its __call__ (a replay calls its ops directly)")
                break
        result = rec.spec(out)
        if rec.reason is not None:
            self._go_eager(entry, rec.reason)
            return out
        if entry.first is None:
            entry.first = (rec.entries, result)
            return out
        why = same_plan(entry.first[0], rec.entries)
        if why is None:
            why = same_result(entry.first[1], result)
        if why is not None:
            self._go_eager(entry, why)
            return out
        entry.state, entry.first = "replay", None
        plan = Plan(rec.entries, rec.n_slots, result)
        try:
            entry.plan = array_plan.build(plan, rec)
        except array_plan.NotArrayPlannable as why:
            plan.why_not_array = str(why)       # replayed op by op
            entry.plan = plan
        return out

    def _trace(self, entry, plan, tensors):
        """The first replay of an array plan runs traced: its NumPy calls become a flat plan
        (:mod:`.flat_plan`), or ``plan.why_not_flat`` says why not."""
        out, flat, why = flat_plan.trace(plan, tensors)
        if why is None and flat is None:      # replayed op by op this time: trace later
            return out
        plan.traced = True
        if flat is not None:
            entry.plan = flat
        else:
            plan.why_not_flat = why
        return out

    def _watched(self):
        seen, out = set(), []
        for m in self._modules:
            for t in (*m.parameters(), *m.buffers()):
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    out.append(t)
        return out

    def _go_eager(self, entry, reason):
        entry.state, entry.first, entry.reason = _EAGER, None, reason
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        warnings.warn(f"cr.compile: {name} runs eagerly: {reason}", CompileWarning, stacklevel=3)

    def plans(self):
        """The plans recorded so far (the most recently used last)."""
        return [e.plan for e in self.cache.values() if e.plan is not None]


class _FastPath:
    """The guards of the last call of a compiled step, checked in one pass: when the next
    call's arguments are distinct tensors of the same shapes, dtypes, ``requires_grad`` and
    strides (the traced ones), the modules have the same training flags and no hooks, and the
    plan's outside tensors still have the very arrays they had, the flat plan replays without
    the cache's work (the key, its lookup).  Anything else goes the long way
    (:meth:`CompiledFunction.__call__`)."""

    __slots__ = ("entry", "fn", "hooks", "modules", "plan", "specs", "training")

    @classmethod
    def make(cls, fn, entry, plan, args, key):
        """The fast path for calls like *args* (None unless every argument is a tensor)."""
        if not all(type(a) is Tensor for a in args) or len(plan._layout) < len(args):
            return None
        self = cls()
        self.fn, self.entry, self.plan = fn, entry, plan
        self.specs = [(a._data.shape, a._data.dtype, a._requires_grad, strides)
                      for a, strides in zip(args, plan._layout)]
        self.modules, self.hooks = fn._modules, fn._hooks
        self.training = list(key[2][0])
        return self

    def run(self, args):
        plan = self.plan
        if _function.recorder is not None or len(args) != len(self.specs) or \
                self.entry.plan is not plan:
            return _MISS
        ids = []
        for a, (shape, dtype, grad, strides) in zip(args, self.specs):
            if type(a) is not Tensor:
                return _MISS
            d = a._data
            if type(d) is not _ndarray or d.shape != shape or d.dtype is not dtype or \
                    d.strides != strides or a._requires_grad is not grad:
                return _MISS
            ids.append(id(d))
        if list(map(_training, self.modules)) != self.training or any(self.hooks):
            return _MISS
        if not plan.guards_hold() or not plan._same or len(set(ids)) != len(ids) or \
                not plan._ext_ids.isdisjoint(ids):
            return _MISS        # the full checks decide (plan.layout_holds)
        out = plan.replay(args, True)
        if plan.stale:
            self.fn._fast = None
            CompiledFunction._restale(self.entry, plan)
        return out


def compile(fn=None, *, cache_size=CACHE_SIZE):
    """Record the training step *fn* on its first calls and replay it on later ones.

    A step is forward, loss, ``backward()`` and ``optimizer.step()`` with the same shapes every
    time; the replay makes the same calls in the same order, so results are bit-identical to
    running *fn* eagerly.  New shapes, dtypes, devices, ``requires_grad`` flags or training
    modes record again; a step that cannot be recorded runs eagerly with one warning.

    >>> model = nn.Linear(3, 1)
    >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
    >>> @cr.compile
    ... def step(x, y):
    ...     opt.zero_grad()
    ...     loss = F.mse_loss(model(x), y)
    ...     loss.backward()
    ...     opt.step()
    ...     return loss.detach()
    >>> x, y = cr.randn(8, 3), cr.randn(8, 1)
    >>> losses = [step(x, y) for _ in range(5)]    # two recordings, then three replays
    >>> print(step.plans()[0].describe())
      0  SGD.zero_grad(SGD)
      1  t0 = Linear.forward(in0, param[1, 3], param[1])  node 0
      2  t1 = MSE.forward(t0, in1, None, 'mean', None)  node 1
      3  backward:
           MSE.backward(node 1) -> node 0
           Linear.backward(node 0) -> param[1, 3].grad, param[1].grad
      4  SGD.step(SGD)
      5  t2 = Tensor.detach(t1)

    The third call runs the array plan (:mod:`chainrule.compile.array_plan`: each op's forward
    and backward on arrays, in the engine's order) while tracing the NumPy calls inside the ops;
    from the fourth on, the replay is that flat list of NumPy calls on preallocated buffers
    (``step.plans()[0].kind == "flat"``, see :mod:`chainrule.compile.flat_plan`), or the array
    plan where the trace could not be replayed (``plan.why_not_flat`` says why).
    """
    if fn is None:
        return lambda f: CompiledFunction(f, cache_size)
    return CompiledFunction(fn, cache_size)
