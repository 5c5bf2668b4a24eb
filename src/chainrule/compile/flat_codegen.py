"""The flat plan as Python source: the traced calls as one straight-line function.

``generate(calls, result, ...)`` turns :mod:`.flat_plan`'s list of traced calls into the text of
``def replay(inputs): ...`` and compiles it: ``v3`` is slot 3's value, operators are written as
operators (``v4 += v2``), methods as methods (``v1.T``), a buffered call gets ``out=buf_n``, a
folded constant or an outside tensor is a name of the function's globals (``Parameter_0``).
:func:`splat` hands elementwise ufuncs an array where the traced call had a Python number.
"""
import math
import operator

import numpy as np

from chainrule.compile.codegen import DATA, _Source, deliver
from chainrule.compile.trace import INPLACE, SYMBOL, UNARY, Draw, get_T
from chainrule.grad_mode import state as _grad_state
from chainrule.tensor import wrap

_ndarray = np.ndarray
_data = operator.attrgetter(DATA)
"""A tensor's array, as a call (the loads of inputs and parameters)."""


def store_leaf(who, x, handed, borrowed):
    """A gradient reaching a leaf, as the engine delivers it (the array plan's lines)."""
    if who._grad is None and type(x) is _ndarray and x.base is None and x.flags.writeable \
            and id(x) not in handed:
        handed.add(id(x))
        borrowed.add(id(who))
        who._grad = wrap(x)
    else:
        deliver(who, x, handed, borrowed)


def outside_array(a):
    """An outside array (an optimiser's packed buffer) as a value of the plan: written as the
    array's own name in the generated code."""
    return a


def grad_array(p):
    """A parameter's gradient array (the optimiser's gather reads each one): written as
    ``p._grad.data`` in the generated code."""
    return p._grad._data


_UFUNC_OF = {getattr(operator, n): u for n, u in (
    ("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("truediv", np.true_divide),
    ("matmul", np.matmul), ("neg", np.negative), ("lt", np.less), ("le", np.less_equal),
    ("gt", np.greater), ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal))}
"""Operators whose ndarray result a ufunc with ``out=`` makes bit for bit."""

_SPLAT = frozenset((np.maximum, np.minimum, np.add, np.subtract, np.multiply, np.true_divide,
                    np.less, np.less_equal, np.greater, np.greater_equal, np.equal,
                    np.not_equal))
"""Exactly rounded elementwise ufuncs: with a Python number converted to the array's dtype
(NumPy's rule for a number beside an array) they give the same bits for an array of that
number, and NumPy's loop over two arrays is several times faster than over an array and a
number (``np.maximum(a, 0)``)."""


def splat(calls, values):
    """*calls* with each Python number beside a float array in a :data:`_SPLAT` ufunc replaced
    by a read-only array of that number in the array's dtype and the result's shape."""
    out, made = [], {}
    for entry in calls:
        if entry[0] == "call" and len(entry[2]) == 2 and type(entry[4]) is int:
            _, fn, args, kwargs, k = entry
            ufunc = _UFUNC_OF.get(fn, fn)
            res = values.get(k)
            if ufunc in _SPLAT and type(res) is _ndarray and res.ndim and not kwargs.keys() - {
                    "out"}:
                new = list(args)
                for i in (0, 1):
                    a, b = args[i], args[1 - i]
                    if a[0] != "k" or type(a[1]) not in (int, float) or b[0] != "s":
                        continue
                    arr = values.get(b[1])
                    if type(arr) is not _ndarray or arr.dtype.kind != "f" or \
                            arr.shape != res.shape or (type(a[1]) is int and abs(a[1]) > 2 ** 24):
                        continue
                    key = (a[1], arr.dtype, res.shape)
                    full = made.get(key)
                    if full is None:
                        full = made[key] = np.full(res.shape, a[1], dtype=arr.dtype)
                        full.flags.writeable = False
                    new[i] = ("k", full)
                entry = ("call", fn, tuple(new), kwargs, k)
        out.append(entry)
    return out


def _slot_refs(spec):
    """The slots an encoded argument structure names."""
    t = type(spec)
    if t is tuple:
        if len(spec) == 2 and spec[0] == "s" and type(spec[1]) is int:
            yield spec[1]
            return
        if len(spec) == 3 and spec[0] == "seq":
            for x in spec[2]:
                yield from _slot_refs(x)
            return
        if len(spec) == 2 and spec[0] == "dict":
            for _, x in spec[1]:
                yield from _slot_refs(x)
            return
        if len(spec) == 2 and spec[0] in ("k", "in"):
            return
        for x in spec:
            yield from _slot_refs(x)
    elif t is dict:
        for x in spec.values():
            yield from _slot_refs(x)


# ---- code generation -----------------------------------------------------------------------------
def generate(calls, result, n_inputs, buffers, simple=False, folded=None, fresh=()):
    """``(replay function, its source)`` for the traced *calls*; *simple*: no two leaves get
    gradients sharing memory (no bookkeeping of handed-over arrays); *fresh*: the slots a call
    made as new arrays (writeable, owning their memory: the same call makes them so again)."""
    src = _Source()
    src.folded = folded or {}
    for i in range(n_inputs):
        src.emit(f"in{i} = inputs[{i}]")
    state = src.const(_grad_state, "grad_mode")
    for n, entry in enumerate(calls):
        kind = entry[0]
        if kind == "call":
            if type(entry[4]) is int and entry[4] in src.folded:
                continue            # made once, at trace time
            _emit_call(src, *entry[1:], buffers.get(n))
        elif kind == "grad":
            src.emit(f"{state}.enabled = {entry[1]}")
        elif kind == "leaf" and simple and entry[2] in fresh:
            who, v = _arg(src, entry[1]), f"v{entry[2]}"      # a fresh array, as when traced
            src.emit(f"if {who}._grad is None:")
            src.emit(f"{who}._grad = wrap({v})", 2)
            src.emit("else:")
            src.emit(f"_deliver({who}, {v}, set(), set())", 2)
        elif kind == "leaf" and simple:
            who, v = _arg(src, entry[1]), f"v{entry[2]}"
            src.emit(f"if {who}._grad is None and type({v}) is _ndarray and {v}.base is None "
                     f"and {v}.flags.writeable:")
            src.emit(f"{who}._grad = wrap({v})", 2)
            src.emit("else:")
            src.emit(f"_deliver({who}, {v}, set(), set())", 2)
        elif kind == "leaf":          # store_leaf, its common case inlined
            who, v = _arg(src, entry[1]), f"v{entry[2]}"
            src.emit(f"if {who}._grad is None and type({v}) is _ndarray and {v}.base is None "
                     f"and {v}.flags.writeable and id({v}) not in handed:")
            src.emit(f"handed.add(id({v})); borrowed.add(id({who})); {who}._grad = wrap({v})", 2)
            src.emit("else:")
            src.emit(f"_deliver({who}, {v}, handed, borrowed)", 2)
        elif kind == "handed":
            if not simple:
                src.emit(f"handed = {{id({_arg(src, ('s', entry[1]))})}}; borrowed = set()")
        elif kind == "nograd":
            src.emit(f"{src.const(entry[1], 'tensor')}._grad = None")
        elif kind == "bump":
            src.emit(f"{src.const(entry[1], 'tensor')}._vc[0] += {entry[2]}")
        else:
            raise AssertionError(kind)
    src.emit(f"return {_arg(src, result)}")
    text = "def replay(inputs):\n" + "\n".join(src.lines) + "\n"
    scope = dict(src.consts, wrap=wrap, _deliver=deliver, _ndarray=_ndarray)
    exec(compile(text, "<cr.compile flat plan>", "exec"), scope)   # noqa: S102 - our own text   # noqa: S102 - our own text
    return scope["replay"], text


def _merge_grad_toggles(calls):
    """Drop "grad mode off" directly followed by "grad mode on" (two tensor calls in a row)."""
    out = []
    for entry in calls:
        if entry == ("grad", True) and out and out[-1] == ("grad", False):
            out.pop()
        else:
            out.append(entry)
    return out


def _arg(src, a):
    kind = a[0]
    if kind == "s":
        if a[1] in src.folded:
            return src.const(src.folded[a[1]], "const")
        return f"v{a[1]}"
    if kind == "in":
        return f"in{a[1]}"
    if kind == "seq":
        items = [_arg(src, x) for x in a[2]]
        if a[1] is tuple:
            return "(" + "".join(f"{x}, " for x in items) + ")"
        return "[" + ", ".join(items) + "]"
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {_arg(src, x)}" for k, x in a[1]) + "}"
    v = a[1]
    if v is None or v is True or v is False or type(v) in (int, str) or (
            type(v) is float and math.isfinite(v)):
        return repr(v)
    if type(v) is slice and all(x is None or type(x) is int for x in (v.start, v.stop, v.step)):
        return repr(v)
    if v is Ellipsis:
        return "..."
    name = getattr(v, "__name__", None) or type(v).__name__
    return src.const(v, name)


_KEYWORD_OUT = frozenset((np.maximum, np.minimum))
"""Ufuncs whose output NumPy wants as ``out=`` (a third positional argument is deprecated)."""


def _takes_out(fn, n_args):
    """Whether ufunc call ``fn(*args, out)`` with *n_args* inputs can take its output
    positionally."""
    return type(fn) is np.ufunc and fn.nout == 1 and n_args == fn.nin and \
        fn not in _KEYWORD_OUT


def _positional_out(fn, args, kwargs):
    """The one output array of a ufunc call given all its inputs positionally and ``out=``
    alone (``out=x`` or ``out=(x,)``), which the call can take positionally: the same call,
    with less argument parsing; else None."""
    if not _takes_out(fn, len(args)) or kwargs.keys() != {"out"}:
        return None
    o = kwargs["out"]
    if o[0] == "seq" and o[1] is tuple and len(o[2]) == 1:
        o = o[2][0]
    return o if o[0] in ("s", "k") else None


def _emit_call(src, fn, args, kwargs, out, buffer):
    a = [_arg(src, x) for x in args]
    ufunc = _UFUNC_OF.get(fn, fn)
    pos = _positional_out(ufunc, args, kwargs) if buffer is None else None
    if pos is not None:
        a.append(_arg(src, pos))
        fn, kwargs = ufunc, {}
    kw = [f"{k}={_arg(src, x)}" for k, x in kwargs.items()]
    if type(out) is tuple and len(out) > 1 and all(type(k) is int for k in out):
        target = ", ".join(f"v{k}" for k in out) + " = "
        out = None
    else:
        target = "" if out is None else (f"v{out} = " if type(out) is int else "o = ")
    if fn is _data:
        line = f"{a[0]}.{DATA}"
    elif fn is outside_array:
        line = a[0]
    elif fn is grad_array:
        line = f"{a[0]}._grad.{DATA}"
    elif buffer is not None:
        b = src.const(buffer, "buf")
        out_arg = b if not kw and _takes_out(ufunc, len(a)) else f"out={b}"
        line = f"{src.const(ufunc, ufunc.__name__)}({', '.join(a + kw + [out_arg])})"
    elif fn in SYMBOL and len(a) == 2 and not kw:
        line = f"{a[0]} {SYMBOL[fn]} {a[1]}"
    elif fn in INPLACE and len(a) == 2 and not kw and args[0][0] == "s" and out == args[0][1]:
        src.emit(f"{a[0]} {INPLACE[fn]} {a[1]}")
        return
    elif fn in UNARY and len(a) == 1 and fn is not operator.abs:
        line = f"{UNARY[fn]}{a[0]}"
    elif fn is get_T:
        line = f"{a[0]}.T"
    elif fn is operator.getitem:
        line = f"{a[0]}[{a[1]}]"
    elif fn is operator.setitem:
        src.emit(f"{a[0]}[{a[1]}] = {a[2]}")
        return
    elif getattr(fn, "__objclass__", None) in (np.ndarray, np.generic) and a:
        line = f"{a[0]}.{fn.__name__}({', '.join(a[1:] + kw)})"
    else:
        name = repr(fn) if type(fn) is Draw else getattr(fn, "__name__", None) or "fn"
        line = f"{src.const(fn, name)}({', '.join(a + kw)})"
    src.emit(target + line)
    if type(out) is tuple:
        for i, k in enumerate(out):
            if k is not None:
                src.emit(f"v{k} = o[{i}]")
