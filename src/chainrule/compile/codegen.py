"""The array plan as Python source: one straight-line function per plan, so that a replay pays
no interpreter of its own (no slot lists, no per-entry dispatch), only the ops' array code.

``generate(program, result)`` turns :mod:`.array_plan`'s program into the text of
``def replay(inputs): ...`` and the constants it names (op classes, parameters, wrappers), and
compiles it.  Slots become local variables: ``a3`` the array of slot 3, ``t3`` its tensor (made
only where a tensor method needs one), ``c2`` the ctx of node 2, ``g2_0`` the gradient pending
for output 0 of node 2.  ``ArrayPlan.source`` shows the text.
"""
import math
import re

import numpy as np

from chainrule.grad_mode import state as _grad_state
from chainrule.ops.shape import sum_to
from chainrule.tensor import Tensor, to_array, wrap

_ndarray = np.ndarray
FORWARD, CALL, BACKWARD = 0, 1, 2
DATA = "_data" if "_data" in Tensor.__slots__ else "data"
"""The name of Tensor's array slot, which the generated lines read and write directly."""


class _Source:
    """The lines of the function and the constants they name."""

    def __init__(self):
        self.lines, self.consts, self._ids, self._counts = [], {}, {}, {}
        self.wrappers = []
        self.tensor_vars = set()      # slots with a tensor variable t<j> defined

    def const(self, value, stem="K"):
        """The name under which the function reads *value* (one name per object): ``stem_n``,
        which no local variable of the generated code (``a3``, ``g2_0``...) can be."""
        key = id(value)
        name = self._ids.get(key)
        if name is None:
            stem = re.sub(r"\W", "_", stem)
            n = self._counts.get(stem, 0)
            self._counts[stem] = n + 1
            name = self._ids[key] = f"{stem}_{n}"
            self.consts[name] = value
        return name

    def emit(self, line, depth=1):
        self.lines.append("    " * depth + line)


def generate(program, result, n_inputs):
    """``(replay function, its source text, the wrapper tensors it fills)`` for *program*."""
    src = _Source()
    for i in range(n_inputs):
        src.emit(f"in{i} = inputs[{i}]")
    for ins in program:
        if ins[0] == FORWARD:
            _forward(src, *ins[1:])
        elif ins[0] == CALL:
            _call(src, *ins[1:])
        else:
            _backward(src, ins[1])
    src.emit(f"return {_tensor_expr(src, result)}")
    text = "def replay(inputs):\n" + "\n".join(src.lines) + "\n"
    scope = dict(src.consts, wrap=wrap, _as_array=as_array, _ndarray=_ndarray, _fix=fix,
                 _leaf=deliver, _multi=multi)
    exec(compile(text, "<cr.compile array plan>", "exec"), scope)   # noqa: S102 - our own text
    return scope["replay"], text, src.wrappers


def _forward(src, cls, needs, xp, aspec, kspec, ospec, node):
    args = [_op_arg(src, s) for s in aspec]
    args += [f"{k}={_op_arg(src, s)}" for k, s in kspec.items()]
    c = f"c{node}" if node >= 0 else "c"
    op = src.const(cls, cls.__name__)
    src.emit(f"{c} = {op}.__new__({op})")
    src.emit(f"{c}.needs_input_grad = {src.const(needs, 'needs')}; {c}.xp = "
             f"{src.const(xp, 'xp')}")
    call = f"{src.const(cls.forward, cls.__name__ + '_forward')}({', '.join([c, *args])})"
    if type(ospec) is int:
        src.emit(f"o = {call}")
        src.emit(f"a{ospec} = o if type(o) is _ndarray else _as_array(o)")
        src.tensor_vars.discard(ospec)
    elif ospec is None:
        src.emit(call)
    else:
        src.emit(f"o = {call}")
        for path, j in _outputs(ospec, "o"):
            src.emit(f"a{j} = _as_array({path})")
            src.tensor_vars.discard(j)


def _op_arg(src, s):
    """An op's argument: the step's tensor, a wrapper around a slot's array, the array itself."""
    kind = s[0]
    if kind == "slot":
        j = s[1]
        if j in src.tensor_vars:         # a tensor a method returned: hand over that tensor
            return f"t{j}"
        w = wrap(None)
        src.wrappers.append(w)
        name = src.const(w, "w")
        src.emit(f"{name}.{DATA} = a{j}")
        return name
    if kind == "in":
        return f"in{s[1]}"
    if kind == "ext":
        return src.const(s[1], "param" if s[1]._requires_grad else "tensor")
    if kind == "const":
        return _value(src, s[1])
    if kind == "data":
        inner = s[1]
        return f"in{inner[1]}.{DATA}" if inner[0] == "in" else f"a{inner[1]}"
    if kind == "seq":
        return _seq(s, [_op_arg(src, x) for x in s[2]])
    raise AssertionError(kind)


def _tensor_expr(src, s):
    """An argument as a tensor (what a tensor method or the caller gets)."""
    kind = s[0]
    if kind == "slot":
        j = s[1]
        if j not in src.tensor_vars:
            src.emit(f"t{j} = wrap(a{j})")
            src.tensor_vars.add(j)
        return f"t{j}"
    if kind == "seq":
        return _seq(s, [_tensor_expr(src, x) for x in s[2]])
    return _op_arg(src, s)


def _seq(s, items):
    if s[1] is tuple:
        return "(" + "".join(f"{x}, " for x in items) + ")"
    if s[1] is list:
        return "[" + ", ".join(items) + "]"
    raise AssertionError(s[1])


def _value(src, v):
    if v is None or v is True or v is False or type(v) in (int, str) or (
            type(v) is float and math.isfinite(v)):
        return repr(v)
    return src.const(v)


def _outputs(ospec, path):
    for k, o in enumerate(ospec):
        if o is None:
            continue
        if type(o) is int:
            yield f"{path}[{k}]", o
        else:
            yield from _outputs(o, f"{path}[{k}]")


def _call(src, fn, aspec, kspec, ospec, grad):
    args = [_tensor_expr(src, s) for s in aspec]
    args += [f"{k}={_tensor_expr(src, s)}" for k, s in kspec.items()]
    state = src.const(_grad_state, "grad_mode")
    if grad:
        src.emit(f"{state}.enabled = True")
    target = "o = " if ospec is not None else ""
    src.emit(f"{target}{src.const(fn, getattr(fn, '__qualname__', 'call'))}({', '.join(args)})")
    if grad:
        src.emit(f"{state}.enabled = False")
    for s in aspec:                       # a method may have given a slot's tensor new memory
        if s[0] == "slot":
            src.emit(f"a{s[1]} = t{s[1]}.{DATA}")
    if type(ospec) is int:
        src.emit(f"t{ospec} = o; a{ospec} = o.{DATA}")
        src.tensor_vars.add(ospec)
    elif ospec is not None:
        for path, j in _outputs(ospec, "o"):
            src.emit(f"t{j} = {path}; a{j} = t{j}.{DATA}")
            src.tensor_vars.add(j)


def _backward(src, prog):
    """The engine's pass in its recorded order: each node's backward on the summed gradients of
    its outputs, each input gradient summed into its producer's pending gradient (in the order
    the engine adds them) or delivered to a leaf's ``.grad``."""
    (root, root_nr, shape, dtype, xp), steps = prog
    pending = sorted({(n, k) for n, _, n_out, _, _ in steps for k in range(n_out)})
    for n, k in pending:
        if (n, k) != (root, root_nr):
            src.emit(f"g{n}_{k} = None")
    src.emit(f"g{root}_{root_nr} = {src.const(xp, 'xp')}.ones({src.const(shape)}, "
             f"dtype={src.const(dtype)})")
    src.emit(f"handed = {{id(g{root}_{root_nr})}}; borrowed = set()")
    for n, backward, n_out, meta, edges in steps:
        grads = [f"g{n}_{k}" for k in range(n_out)]
        b = src.const(backward, getattr(backward, "__qualname__", "backward"))
        if n_out == 1:
            src.emit(f"if g{n}_0 is not None:")
            src.emit(f"r = {b}(c{n}, g{n}_0)", 2)
        else:
            src.emit(f"if {' or '.join(g + ' is not None' for g in grads)}:")
            src.emit(f"r = _multi(c{n}, {b}, [{', '.join(grads)}], {src.const(meta)})", 2)
        src.emit("if type(r) is not tuple: r = (r,)", 2)
        for i, leaf, target, nr, s, d in edges:
            src.emit(f"x = r[{i}]", 2)
            src.emit("if x is not None:", 2)
            src.emit(f"if type(x) is not _ndarray or x.shape != {src.const(s)} "
                     f"or x.dtype != {src.const(d)}: x = _fix(x, {src.const(s)}, "
                     f"{src.const(d)})", 3)
            if leaf:     # a fresh gradient for an empty .grad is stored as it is, else _leaf
                who = f"in{target[1]}" if target[0] == "in" else src.const(target[1], "param")
                src.emit(f"if {who}._grad is None and type(x) is _ndarray and x.base is None "
                         f"and x.flags.writeable and id(x) not in handed:", 3)
                src.emit(f"handed.add(id(x)); borrowed.add(id({who})); {who}._grad = wrap(x)", 4)
                src.emit("else:", 3)
                src.emit(f"_leaf({who}, x, handed, borrowed)", 4)
            else:
                g = f"g{target}_{nr}"
                src.emit(f"{g} = x if {g} is None else {g} + x", 3)
        src.emit(f"c{n} = None")          # the node's saved arrays go, as the engine frees them
        for g in grads:
            src.emit(f"{g} = None")
    src.emit("r = x = None")


# ---- helpers the generated code calls ----------------------------------------------------------
def as_array(out):
    """An op's output as the array the eager ``apply`` would wrap."""
    if isinstance(out, Tensor):
        return out._data
    if type(out) is _ndarray or not isinstance(out, (np.generic, int, float, bool, complex)):
        return out
    return to_array(out)           # NumPy gives 0-d results as scalars: the eager wrap makes arrays


def fix(g, shape, dtype):
    """A gradient as the engine passes it on: an array, summed back from a broadcast
    (``unbroadcast``), in its input's dtype."""
    if isinstance(g, Tensor):
        g = g._data
    elif isinstance(g, np.generic):
        g = np.asarray(g)
    if g.shape != shape:
        g = sum_to(wrap(g), shape)._data
    if g.dtype != dtype:
        g = wrap(g).to(dtype)._data
    return g


def multi(ctx, backward, grads, meta):
    """A multi-output node's backward, unused outputs given zero gradients (as the engine)."""
    if ctx._materialize_grads:
        for k, g in enumerate(grads):
            if g is None:
                grads[k] = ctx.xp.zeros(*meta[k])
    return backward(ctx, *grads)


def deliver(leaf, g, handed, borrowed):
    """``engine._deliver_to_leaf`` for ``backward()`` on arrays: the first gradient is stored
    without a copy unless someone else holds its memory; later ones are added in place."""
    if g.dtype != leaf._data.dtype:
        g = wrap(g).to(leaf._data.dtype)._data
    cur = leaf._grad
    if cur is None:
        base = g.base
        if base is None:
            base = g
        if id(base) in handed or not getattr(g.flags, "writeable", True):
            g = g.copy()
            handed.add(id(g))
        else:
            handed.add(id(base))
            borrowed.add(id(leaf))
        leaf._grad = wrap(g)
    elif id(leaf) not in borrowed and cur._data.shape == g.shape \
            and getattr(cur._data.flags, "writeable", True):
        cur._data += g
    else:
        leaf._grad = Tensor(cur._data + g)
        borrowed.discard(id(leaf))
