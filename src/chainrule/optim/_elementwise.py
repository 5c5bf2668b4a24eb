"""The step loop shared by optimisers whose update is elementwise (SGD, Adam, RMSprop...).

Such an update treats every element of every parameter alike, with the group's hyperparameters,
so it can run once per parameter or once over all of a group's parameters laid end to end.
A subclass writes the update once, on arrays (``_update``), and says which buffers a parameter's
state holds (``_new_state``); this class runs it one of two ways:

* **per parameter** (PyTorch's single-tensor loop): for each parameter with a gradient, the update
  runs on ``p._data`` with that parameter's state arrays;
* **flat** (the fast path): the group's parameters are copied once into one contiguous buffer and
  each ``p._data`` becomes a view of it; the state buffers are flat too, with the per-parameter
  state tensors viewing them. A step then gathers the gradients into one flat array and runs the
  update once, a handful of NumPy calls whatever the number of parameters.

Both run the same arithmetic on each element, so they give bit-identical results. The flat path
is taken when the group's ``foreach`` is not False, every parameter has a gradient, all share a
floating dtype, none overlap in memory, their states are in step, and they are small on average
(``FLAT_MEAN_SIZE``; for large parameters the per-call overhead saved is less than the cost of
gathering the gradients); otherwise (and always when ``foreach=False``) the per-parameter loop
runs. If something replaces a ``p._data`` array, the next step notices and repacks. Once packed,
``p._data`` is a view of the group's buffer, so an array taken from ``p._data`` *before* the first
step no longer follows the parameter.
"""
import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import CheckpointError
from chainrule.grad_mode import enable_grad
from chainrule.optim._kernels import Work
from chainrule.optim.optimizer import Optimizer, _new_step
from chainrule.tensor import Tensor

try:
    from numpy.lib.array_utils import byte_bounds as _byte_bounds
except ImportError:                       # NumPy < 2.0
    _byte_bounds = np.byte_bounds


FLAT_MEAN_SIZE = 1 << 15
"""Pack a group only if its parameters average at most this many elements: for larger ones the
per-call overhead the flat path saves is smaller than the cost of gathering the gradients."""


class _FlatGroup:
    """One group's parameters, gradients and state buffers, each packed in one flat array."""

    __slots__ = ("group", "params", "views", "param", "grad", "bufs", "steps", "work")

    def __init__(self, group, params, dtype, has_step, scalar_dtype):
        self.group = group
        self.params = list(params)
        n = sum(p._data.size for p in params)
        self.param = np.empty(n, dtype)
        self.grad = np.empty(n, dtype)
        self.views = []
        self.bufs = {}
        self.steps = np.zeros(len(params), scalar_dtype) if has_step else None
        self.work = Work(n)
        start = 0
        for p in params:
            stop = start + p._data.size
            view = self.param[start:stop].reshape(p._data.shape)
            view[...] = p._data
            p._data = view
            self.views.append(view)
            start = stop

    def split(self, flat):
        """Views of a flat array shaped as each parameter."""
        out, start = [], 0
        for v in self.views:
            stop = start + v.size
            out.append(flat[start:stop].reshape(v.shape))
            start = stop
        return out


def _all_contiguous(*arrays):
    return all(a.flags.c_contiguous for a in arrays)


class ElementwiseOptimizer(Optimizer):
    """An optimiser whose update is elementwise; subclasses define ``_new_state`` and ``_update``.

    ``_new_state(group, param)`` returns the fresh state buffers (name to array) for an array of
    parameter values; ``_update(group, param, grad, bufs, step, own_grad, work)`` updates
    ``param`` and the arrays in ``bufs`` in place (it may add a buffer, as SGD's momentum does on
    its first step). ``step`` is the parameter's step count after this step, or None for
    optimisers without one; ``own_grad`` says whether ``grad`` may be overwritten.
    """

    _has_step = True            # whether state holds a "step" counter
    _flat_ok = True             # whether the flat path may be used
    _chunk = 1 << 16            # large parameters are updated this many elements at a time, so
    # every pass of the update streams through cache-sized pieces and the scratch stays small
    # (elementwise arithmetic: the result is bit-identical to one whole-array update)

    def __init__(self, params, defaults):
        self._flat = {}
        self._flat_misses = {}
        self._works = {}
        super().__init__(params, defaults)

    def _state_replaced(self):
        self._flat = {}
        self._flat_misses = {}
        self._works = {}

    def _chunk_work(self, xp):
        """The scratch of chunked updates (one chunk long), kept across steps: allocating it
        fresh each step costs page faults for no gain."""
        work = self._works.get(xp)
        if work is None or work.shape != (self._chunk,):
            work = self._works[xp] = Work((self._chunk,), xp)
        return work

    def _cast_state(self, param, value, index):
        out = super()._cast_state(param, value, index)
        if out and self._has_step and "step" not in out:
            raise CheckpointError(f"loaded state dict: state[{index}] has no 'step' entry "
                             f"(keys: {sorted(map(str, out))}); was it made by {type(self).__name__}?")
        return out

    def _new_state(self, group, param):
        raise NotImplementedError

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        raise NotImplementedError

    def step(self, closure=None):
        """Perform one optimisation step; *closure* (optional) re-evaluates the loss first."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            key = id(group)
            flat_ok = self._flat_ok and group.get("foreach") is not False
            fg = self._flat.get(key)
            if fg is not None:
                if flat_ok and fg.group is group and self._step_flat(group, fg):
                    continue
                del self._flat[key]
            if flat_ok and self._flat_misses.get(key, 0) < 3:
                fg = self._pack(group)
                if fg is not None:
                    self._step_flat(group, fg)
                    continue
                self._flat_misses[key] = self._flat_misses.get(key, 0) + 1
            self._step_each(group)
        return loss

    # ---- the per-parameter loop -------------------------------------------------------------
    def _init_state(self, group, p, state):
        if self._has_step:
            state["step"] = _new_step()
        for k, arr in self._new_state(group, p._data).items():
            state[k] = Tensor(arr)

    def _step_each(self, group):
        states = self.state
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            state = states.get(p)
            if not state:
                state = {}
                self._init_state(group, p, state)
                if state:
                    states[p] = state
            step = None
            if self._has_step:
                s = state["step"]._data
                s += 1
                step = float(s)
            bufs = {k: v._data for k, v in state.items() if k != "step"}
            n = len(bufs)
            if n and p._data.size > self._chunk and type(p._data) is np.ndarray \
                    and _all_contiguous(p._data, g._data, *bufs.values()):
                self._update_in_chunks(group, p._data, g._data, bufs, step)
            else:
                self._update(group, p._data, g._data, bufs, step, False,
                             Work(p._data.shape, namespace_of(p._data)))
            if len(bufs) != n:
                for k, arr in bufs.items():
                    if k not in state:
                        state[k] = Tensor(arr)
                states[p] = state
            p._vc[0] += 1

    def _update_in_chunks(self, group, param, grad, bufs, step):
        """``_update`` over consecutive pieces of the flattened arrays (existing buffers only)."""
        size, c = param.size, self._chunk
        p, g = param.reshape(-1), grad.reshape(-1)
        flat = {k: v.reshape(-1) for k, v in bufs.items()}
        full = self._chunk_work(namespace_of(param))
        for start in range(0, size, c):
            stop = min(start + c, size)
            work = full if stop - start == c else full.head(stop - start)
            self._update(group, p[start:stop], g[start:stop],
                         {k: v[start:stop] for k, v in flat.items()}, step, False, work)

    # ---- the flat path ----------------------------------------------------------------------
    def _step_flat(self, group, fg):
        """One step over the packed group; False (nothing done) if it no longer fits the layout."""
        params = group["params"]
        if len(params) != len(fg.params):
            return False
        grads = []
        for p, q, view in zip(params, fg.params, fg.views):
            g = p._grad
            if g is None or p is not q or p._data is not view:
                return False
            grads.append(g._data)
        np.concatenate(grads, axis=None, out=fg.grad, casting="same_kind")   # flattened, in order
        step = None
        if fg.steps is not None:
            fg.steps += 1
            step = float(fg.steps[0])
        bufs = fg.bufs
        n = len(bufs)
        self._update(group, fg.param, fg.grad, bufs, step, True, fg.work)
        if len(bufs) != n:           # a buffer made on the first step (SGD's momentum)
            first = self.state[params[0]]
            for k, flat in bufs.items():
                if k not in first:
                    for p, view in zip(params, fg.split(flat)):
                        self.state[p][k] = Tensor(view)
        for p in params:
            p._vc[0] += 1
        return True

    def _pack(self, group):
        """Lay the group out flat if it qualifies (see the module docstring); else None."""
        params = group["params"]
        if len(params) < 2 or sum(p._data.size for p in params) > FLAT_MEAN_SIZE * len(params):
            return None
        dtype = params[0]._data.dtype
        if dtype.kind != "f" or group.get("differentiable"):
            return None
        for p in params:
            if p.grad is None or p._data.dtype != dtype or p.grad._data.shape != p._data.shape \
                    or type(p._data) is not np.ndarray:    # the flat layout is for host memory
                return None
        if len(set(map(id, params))) != len(params) or _overlapping(params):
            return None
        states = [self.state.get(p) or {} for p in params]
        if len({frozenset(s) for s in states}) != 1:
            return None
        fresh = not states[0]
        scalar_dtype = _new_step()._data.dtype
        if self._has_step and not fresh:
            if len({float(s["step"]._data) for s in states}) != 1:
                return None
            scalar_dtype = states[0]["step"]._data.dtype
        for k in states[0]:
            if k != "step" and any(not isinstance(s[k], Tensor) or s[k]._data.shape != p._data.shape
                                   for s, p in zip(states, params)):
                return None
        fg = _FlatGroup(group, params, dtype, self._has_step, scalar_dtype)
        if fresh:
            fg.bufs.update(self._new_state(group, fg.param))
        else:
            for k in states[0]:
                if k == "step":
                    fg.steps[:] = float(states[0]["step"]._data)
                else:
                    fg.bufs[k] = np.concatenate([s[k]._data.reshape(-1) for s in states]).astype(
                        dtype, copy=False)
        # point every state tensor at its slice of the flat buffers
        for i, p in enumerate(params):
            if fg.steps is not None:
                st = self.state[p]
                view = fg.steps[i:i + 1].reshape(())
                if "step" in st:
                    st["step"]._data = view
                else:
                    st["step"] = Tensor(view)
        for k, flat in fg.bufs.items():
            for p, view in zip(params, fg.split(flat)):
                st = self.state[p]
                if k in st:
                    st[k]._data = view
                else:
                    st[k] = Tensor(view)
        self._flat[id(group)] = fg
        return fg


def _overlapping(params):
    """True if any two parameters' arrays share memory (then they cannot be packed apart)."""
    spans = []
    for p in params:
        a = p._data
        if a.size == 0:
            continue
        spans.append(_byte_bounds(a))
    spans.sort()
    return any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1))
