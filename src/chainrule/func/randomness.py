"""vmap's ``randomness=``: what a random op inside a vmapped function draws, as torch.func.vmap.

* ``'error'`` (the default): a random op raises, naming the op;
* ``'same'``: one draw of one example's shape, shared by the whole batch;
* ``'different'``: one draw per example (the batch dimension in front of the draw).

Random ops reach it two ways.  Ops (``dropout``) have a batching rule, here.  The factories
(``rand, randn, rand_like, randn_like, randint, randperm``) draw from the default generator:
while a vmap runs, its NumPy generator is stood in for by :class:`_Draws`, which hands each draw
made by the vmapped function's own code (not by a batching rule below it) to the level's mode.
Draws from an explicit ``generator=`` are not intercepted (they follow 'same').
"""
import sys

import numpy as np

from chainrule.func.batched import RULES, VmapError, _result
from chainrule.grad_mode import state as _state
from chainrule.nn.functional.dropout import Dropout
from chainrule.random import default_generator
from chainrule.tensor import Tensor

_SIZE_AT = {"random": 0, "standard_normal": 0, "integers": 2, "normal": 2, "uniform": 2,
            "exponential": 1, "binomial": 2, "poisson": 1, "permutation": None}
"""The generator's drawing methods, and where their ``size`` argument sits."""


def refuse(op):
    """The error of ``randomness='error'``, naming *op* (PyTorch's wording)."""
    return VmapError(f"vmap: called random operation ({op}) while in randomness error mode. "
                     f"Please either use the 'same' or 'different' randomness flags on vmap or "
                     f"perform the randomness operation out of vmap")


def _caller():
    """The public chainrule function the draw was made from (``rand_like``, ``randn``, ...)."""
    name, f = "a random draw", sys._getframe(2)
    while f is not None and f.f_globals.get("__name__", "").startswith("chainrule."):
        if not f.f_globals["__name__"].startswith("chainrule.func"):
            name = f"cr.{f.f_code.co_name}"
        f = f.f_back
    return name


class _Draws:
    """The default generator's NumPy ``Generator`` seen through a vmap level: draws made at the
    level (the vmapped function's code) follow its ``randomness``; the rest pass through."""

    def __init__(self, real, level):
        self._real, self._level = real, level

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if name not in _SIZE_AT:
            return attr

        def draw(*args, **kwargs):
            level = self._level
            if _state.dispatch is not level:
                return attr(*args, **kwargs)
            if level.randomness == "error":
                raise refuse(_caller())
            if level.randomness == "same":
                return attr(*args, **kwargs)
            _state.dispatch = level.prev        # an outer vmap level sees this draw as its own
            try:
                return _different(level, name, attr, args, kwargs)
            finally:
                _state.dispatch = level
        return draw


def _different(level, name, attr, args, kwargs):
    b = level.size
    at = _SIZE_AT[name]
    if at is None:                              # permutation: one per example
        arr = np.stack([attr(*args, **kwargs) for _ in range(b)])
    else:
        args = list(args)
        if len(args) > at:
            size, args = args[at], args[:at] + args[at + 1:] if len(args) > at else args
        else:
            size = kwargs.pop("size", None)
        size = () if size is None else (size,) if isinstance(size, (int, np.integer)) else size
        kwargs["size"] = (b, *size)
        arr = attr(*args, **kwargs)
    if isinstance(arr, Tensor):
        arr = arr._data
    out = _result(arr, level)
    out.drawn = True
    return out


def install(level):
    """Stand in for the default generator while *level* runs; returns what :func:`uninstall`
    takes."""
    draws = _Draws(default_generator.rng, level)
    default_generator.rng = draws
    return draws


def uninstall(draws):
    if default_generator.rng is draws:          # (unless the function reseeded it)
        default_generator.rng = draws._real


def dropout(level, cls, args, kwargs):
    """Dropout's masks: one per example ('different'), one for all ('same'), or the error."""
    x, p, generator = args
    if level.randomness == "error":
        raise refuse("dropout")
    px = level.phys(x)
    if level.randomness == "different":
        return level.wrap(cls.apply(px, p, generator))
    ones = Tensor(px._data[0] * 0 + 1)           # one example's mask, shared
    return level.wrap(px * cls.apply(ones, p, generator))


RULES[Dropout] = dropout
