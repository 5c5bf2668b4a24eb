"""The guards of a compiled step: what must be the same for a recorded plan to be replayed.

For every tensor argument its shape, dtype, device and ``requires_grad``; for other arguments
their value (or type); and the ``training`` flag (and whether it has hooks) of every module the
step can reach (its arguments, the function's closure and globals, a bound method's object).
"""
import numpy as np

from chainrule.backend import device_of
from chainrule.nn import Module
from chainrule.tensor import Tensor


def flatten(value, tensors):
    """A hashable description of *value*, the tensors in it appended to *tensors*."""
    if isinstance(value, Tensor):
        tensors.append(value)
        d = value._data
        where = "cpu" if type(d) is np.ndarray else str(device_of(d))
        return ("T", d.shape, d.dtype, where, value._requires_grad)
    if type(value) is tuple or type(value) is list:
        return (type(value).__name__, tuple([flatten(v, tensors) for v in value]))
    if type(value) is dict:
        return ("dict", tuple([(k, flatten(v, tensors)) for k, v in value.items()]))
    if isinstance(value, np.ndarray):
        return ("A", value.shape, value.dtype.str)
    if isinstance(value, (int, float, str, bool, type(None))):
        return ("V", value)
    return ("O", id(value))


def reachable(fn, args, kwargs, kind):
    """The objects of type *kind* a step can reach directly: its arguments, a bound method's
    object (and its ``optimizer``), the function's closure and the globals it names."""
    found = [v for v in (*args, *kwargs.values()) if isinstance(v, kind)]
    owner = getattr(fn, "__self__", None)
    for v in (owner, getattr(owner, "optimizer", None)):
        if isinstance(v, kind):
            found.append(v)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, kind):
            found.append(v)
    code = getattr(fn, "__code__", None)
    if code is not None:
        g = getattr(fn, "__globals__", {})
        for name in code.co_names:
            v = g.get(name)
            if isinstance(v, kind):
                found.append(v)
    return found


def modules_of(fn, args, kwargs):
    """The modules whose training flags guard the plan (with their submodules)."""
    roots = reachable(fn, args, kwargs, Module)
    found, seen = [], set()
    for r in roots:
        for m in r.modules():
            if id(m) not in seen:
                seen.add(id(m))
                found.append(m)
    return found


def hook_dicts(modules):
    """The hook dicts of *modules* (four each: a module makes them once, in ``__init__``, and
    registering a hook adds to one), read by :func:`modes` on every call."""
    return [d for m in modules for d in (m._forward_hooks, m._forward_pre_hooks,
                                         m._backward_hooks, m._backward_pre_hooks)]


def modes(modules, hooks):
    """The training flags of *modules* and whether any of them has hooks (*hooks*, their
    :func:`hook_dicts`; a replay would skip hooks, so a module with one makes the step run
    eagerly): this runs on every call of a compiled step, so it is two quick passes."""
    return tuple([m.training for m in modules]), any(hooks)


def has_hooks(m):
    """True if module *m* has forward or backward hooks, which run in its ``__call__``."""
    return bool(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                or m._backward_pre_hooks)
