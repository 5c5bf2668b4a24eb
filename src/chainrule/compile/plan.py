"""A recorded plan: the flat list of calls a step made, replayed on new inputs.

``Plan.replay(inputs)`` walks the entries in order, finds each call's arguments (the step's
tensors, earlier results, parameters, constants), calls the very function the eager step called
(an op's ``apply``, ``backward``, an optimiser's ``step``/``zero_grad``) and files its results.
The same calls in the same order on the same values give bit-identical results, and draw random
numbers (dropout) in the same order.
"""
import types

import numpy as np

from chainrule.backend import is_array
from chainrule.grad_mode import state as _grad_state
from chainrule.tensor import Tensor


class Plan:
    """Entries ``(fn, arg specs, kwarg specs, output spec, grad mode)`` plus where the step's
    result is."""

    kind = "ops"
    """Which replay runs: ``"ops"`` (this one, op by op) or ``"array"`` (``array_plan``)."""
    __slots__ = ("_fast", "_slots", "entries", "externals", "n_slots", "result", "why_not_array")

    def __init__(self, entries, n_slots, result):
        self.entries, self.n_slots, self.result = entries, n_slots, result
        self.why_not_array = None
        self.externals = _externals(entries)
        self._slots = [None] * n_slots
        self._fast = [(fn, tuple([_code(s) for s in aspec]), kspec, ospec, grad)
                      for fn, aspec, kspec, ospec, grad in entries]

    def guards_hold(self):
        """True while every outside tensor still has the shape, dtype and requires_grad it had."""
        for t, meta in self.externals:
            if (t._requires_grad, t._data.shape, t._data.dtype) != meta:
                return False
        return True

    def replay(self, inputs):
        """Run the plan on the step's tensor arguments *inputs*; return the step's result."""
        slots = self._slots
        try:
            for fn, args, kwargs, ospec, grad in self._fast:
                args = [slots[p] if k == 0 else p if k == 1 else inputs[p] if k == 2
                        else _get(p, inputs, slots) for k, p in args]
                kwargs = {n: _get(s, inputs, slots) for n, s in kwargs.items()}
                prev = _grad_state.enabled
                if grad == prev:
                    out = fn(*args, **kwargs)
                else:                   # recorded under no_grad (or enable_grad): the same here
                    _grad_state.enabled = grad
                    try:
                        out = fn(*args, **kwargs)
                    finally:
                        _grad_state.enabled = prev
                if ospec is not None:
                    if type(ospec) is int:
                        slots[ospec] = out
                    else:
                        _put(ospec, out, slots)
            return _get(self.result, inputs, slots)
        finally:
            for i in range(len(slots)):   # hold nothing between steps
                slots[i] = None

    def describe(self):
        """The plan as text, one call a line (``docs/compile.md`` shows the heart step's)."""
        lines = []
        for k, (fn, aspec, kspec, ospec, _) in enumerate(self.entries):
            args = [_show(s) for s in aspec] + [f"{n}={_show(s)}" for n, s in kspec.items()]
            outs = "" if ospec is None else _show_out(ospec) + " = "
            lines.append(f"{k:3d}  {outs}{_name(fn)}({', '.join(args)})")
        return "\n".join(lines)


def _get(s, inputs, slots):
    kind = s[0]
    if kind == "slot":
        return slots[s[1]]
    if kind == "const":
        return s[1]
    if kind == "ext":
        return s[1]
    if kind == "in":
        return inputs[s[1]]
    if kind == "seq":
        return s[1]([_get(x, inputs, slots) for x in s[2]])
    if kind == "data":
        return _get(s[1], inputs, slots)._data
    raise AssertionError(kind)


def _code(s):
    """An argument spec as ``(code, payload)``: 0 a slot, 1 a value, 2 an input, 3 anything else."""
    kind = s[0]
    if kind == "slot":
        return 0, s[1]
    if kind in ("const", "ext"):
        return 1, s[1]
    if kind == "in":
        return 2, s[1]
    return 3, s


def _put(ospec, out, slots):
    if type(ospec) is int:
        slots[ospec] = out
    else:
        for o, v in zip(ospec, out):
            if o is not None:
                _put(o, v, slots)


def _externals(entries):
    seen, out = set(), []

    def walk(s):
        if s[0] == "ext" and id(s[1]) not in seen:
            seen.add(id(s[1]))
            t = s[1]
            out.append((t, (t._requires_grad, t._data.shape, t._data.dtype)))
        elif s[0] == "seq":
            for x in s[2]:
                walk(x)
    for _, aspec, kspec, _, _ in entries:
        for s in (*aspec, *kspec.values()):
            walk(s)
    return out


# ---- checking that two recordings of one step are the same plan ---------------------------------
def same_plan(a, b):
    """``None`` if recordings *a* and *b* (entries) are the same calls on the same arguments, else
    the first difference, in words.  An outside tensor that is a different object in each
    recording was made by the step outside the recorded calls: the plan cannot make it again,
    so the step is not recordable."""
    if len(a) != len(b):
        return f"the step made {len(a)} calls once and {len(b)} the next time (Python control flow)"
    for k, ((fa, sa, ka, oa, ga), (fb, sb, kb, ob, gb)) in enumerate(zip(a, b)):
        if fa != fb or oa != ob or ga != gb or ka.keys() != kb.keys():
            return f"call {k} differs between two runs: {_name(fa)} then {_name(fb)} " \
                   f"(Python control flow on tensor values?)"
        for x, y in zip((*sa, *ka.values()), (*sb, *kb.values())):
            why = _same_spec(x, y)
            if why:
                return f"call {k} ({_name(fa)}): {why}"
    return None


def same_result(x, y):
    """``None`` if two recordings' results (specs) are the same, else why not.  A returned tensor
    must come from the step's recorded calls (or be the same outside tensor each time)."""
    if x[0] != y[0]:
        return "the step returns different things in two runs"
    if x[0] == "ext":
        return None if x[1] is y[1] else (
            "the step returns a tensor made outside the recorded ops (e.g. by .detach())")
    if x[0] == "seq":
        if x[1] is not y[1] or len(x[2]) != len(y[2]):
            return "the step returns different things in two runs"
        for u, v in zip(x[2], y[2]):
            why = same_result(u, v)
            if why:
                return why
        return None
    return _same_spec(x, y)


def _same_spec(x, y):
    if x[0] != y[0]:
        return "an argument comes from different places in two runs"
    kind = x[0]
    if kind in ("in", "slot", "data"):
        return None if x[1] == y[1] else "an argument comes from different places in two runs"
    if kind == "seq":
        if x[1] is not y[1] or len(x[2]) != len(y[2]):
            return "a sequence argument changes between runs"
        for u, v in zip(x[2], y[2]):
            why = _same_spec(u, v)
            if why:
                return why
        return None
    if kind == "ext":
        if x[1] is y[1]:
            return None
        return ("a tensor is made inside the step outside the recorded ops (cr.tensor(...), "
                "cr.randn(...), Tensor(array)...); make it once outside the step or pass it in")
    if is_array(x[1]) or is_array(y[1]):
        return None if x[1] is y[1] else (
            "an array made inside the step is given to an op; the plan cannot make it again")
    return None if _same_value(x[1], y[1]) else \
        f"the constant argument {x[1]!r} changes between runs (to {y[1]!r})"


def _same_value(u, v):
    if u is v:
        return True
    if type(u) is not type(v):
        return False
    if isinstance(u, Tensor) or is_array(u):
        return False                    # a different tensor or array: not the same constant
    if isinstance(u, types.FunctionType):   # a lambda made by the step: the same code and cells
        cu, cv = u.__closure__ or (), v.__closure__ or ()
        return (u.__code__ is v.__code__ and len(cu) == len(cv) and
                _same_value(u.__defaults__, v.__defaults__) and
                all(_same_value(a.cell_contents, b.cell_contents) for a, b in zip(cu, cv)))
    if isinstance(u, np.generic):
        return u.dtype == v.dtype and (bool(u == v) or bool(np.isnan(u) and np.isnan(v)))
    try:
        return bool(u == v)
    except Exception:       # noqa: BLE001 - an object without a plain ==: only itself is equal
        return False


# ---- listing -------------------------------------------------------------------------------------
def _name(fn):
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, type):
        return f"{owner.__name__}.{fn.__name__}"
    return getattr(fn, "__qualname__", repr(fn))


def _show(s):
    kind = s[0]
    if kind == "slot":
        return f"t{s[1]}"
    if kind == "in":
        return f"in{s[1]}"
    if kind == "ext":
        t = s[1]
        return f"{'param' if t._requires_grad else 'const'}{list(t._data.shape)}"
    if kind == "data":
        return _show(s[1]) + ".data"
    if kind == "seq":
        inner = ", ".join(_show(x) for x in s[2])
        return f"({inner})" if s[1] is tuple else f"[{inner}]"
    v = s[1]
    if isinstance(v, (Tensor, np.ndarray)):
        return f"array{list(v.shape)}"
    text = repr(v)
    return text if len(text) <= 24 else type(v).__name__


def _show_out(o):
    if type(o) is int:
        return f"t{o}"
    return "(" + ", ".join("_" if x is None else _show_out(x) for x in o) + ")"
