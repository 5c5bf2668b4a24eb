"""``vmap``: a function of one sample turned into a function of a batch, without a Python loop.

The mapped dimension of each argument is moved to the front and the argument becomes a batched
tensor (``batched.py``); the function runs once, each of its ops batched by its rule
(``rules.py``); each output's batch dimension is moved to ``out_dims``.
"""
import functools

from chainrule.errors import ArgumentTypeError, ConfigError, IndexOutOfRangeError
from chainrule.func.batched import VmapError, VmapLevel, enter, is_batched, leave
from chainrule.func.randomness import install, uninstall
from chainrule.grad_mode import state as _state
from chainrule.ops.shape import cat, permute
from chainrule.random import default_generator
from chainrule.tensor import Tensor


# ---- nested arguments (tuples, lists, dicts of tensors) ------------------------------------
def tree_flatten(tree):
    """The leaves of nested tuples, lists and dicts, and a function rebuilding the structure."""
    if isinstance(tree, (tuple, list)):
        parts = [tree_flatten(t) for t in tree]
        leaves = [x for p in parts for x in p[0]]
        kind = type(tree)

        def build(vals):
            out, i = [], 0
            for p in parts:
                n = len(p[0])
                out.append(p[1](vals[i:i + n]))
                i += n
            return kind(out) if kind in (tuple, list) else kind(*out)
        return leaves, build
    if isinstance(tree, dict):
        keys = list(tree)
        leaves, build_vals = tree_flatten([tree[k] for k in keys])
        return leaves, lambda vals: type(tree)(zip(keys, build_vals(vals)))
    return [tree], lambda vals: vals[0]


def _broadcast_dims(dims, tree, what):
    """*dims* (an int or None for the whole tree, or a matching structure) as one per leaf."""
    leaves, _ = tree_flatten(tree)
    if dims is None or isinstance(dims, int):
        return [dims] * len(leaves)
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)):
        if len(dims) != len(tree):
            raise ConfigError(f"vmap: {what} has {len(dims)} entries for {len(tree)} arguments "
                              f"(or outputs); give one per argument, or a single int")
        return [d for sub_d, sub in zip(dims, tree) for d in _broadcast_dims(sub_d, sub, what)]
    if isinstance(dims, dict) and isinstance(tree, dict):
        return [d for k in tree for d in _broadcast_dims(dims[k], tree[k], what)]
    raise ConfigError(f"vmap: {what}={dims!r} does not match the structure of the arguments")


def _move_to_front(t, d):
    if d == 0:
        return t
    return permute(t, (d,) + tuple(i for i in range(t.ndim) if i != d))


def _move_from_front(t, d):
    if d == 0:
        return t
    dims = list(range(1, t.ndim))
    dims.insert(d, 0)
    return permute(t, tuple(dims))


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorise *func* over dimension *in_dims* of its arguments (as ``torch.func.vmap``).

    *func* is written for one sample; the returned function takes batches: each tensor argument
    is mapped over its dimension *in_dims* (an int, or None for an argument shared by all
    samples; a tuple gives one per argument, nested like the arguments), and each output gets
    the batch dimension at *out_dims*.  The ops run once on the whole batch (the batching rules
    of ``cr.func.rules``), not once per sample; an op without a rule raises an error naming it.
    Keyword arguments are passed unbatched.  *randomness* says what random ops inside do
    (dropout, ``rand``, ``randn_like``, ...): ``'error'`` raises, ``'same'`` draws once for the
    whole batch, ``'different'`` draws for each sample (``cr.func.randomness``).

    >>> dot = lambda a, b: (a * b).sum()
    >>> cr.func.vmap(dot)(cr.ones(5, 3), cr.ones(5, 3)).shape
    (5,)
    >>> loss = lambda w, x: ((x * w).sum() - 1) ** 2
    >>> cr.func.vmap(cr.func.grad(loss), in_dims=(None, 0))(cr.ones(3), cr.ones(4, 3)).shape
    (4, 3)
    """
    if not callable(func):
        raise ArgumentTypeError(f"vmap: func must be callable, got {type(func).__name__}")
    if randomness not in ("error", "different", "same"):
        raise ConfigError(f"vmap: randomness must be 'error', 'different' or 'same', got "
                          f"{randomness!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ConfigError(f"vmap: chunk_size must be None or a positive int, got {chunk_size!r}")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        leaves, build = tree_flatten(list(args))
        dims = _broadcast_dims(in_dims, list(args), "in_dims")
        size = _batch_size(leaves, dims)      # (and the negative dims made positive)
        if chunk_size is not None and chunk_size < size:
            return _chunked(func, leaves, dims, build, kwargs, size)
        return _run(func, leaves, dims, build, kwargs, size)

    def _chunked(func, leaves, dims, build, kwargs, size):
        outs = []
        start_state = default_generator.rng.bit_generator.state
        for start in range(0, size, chunk_size):
            n = min(chunk_size, size - start)
            if randomness == "same":      # every chunk draws the first chunk's numbers
                default_generator.rng.bit_generator.state = start_state
            part = [x if d is None else x.narrow(d, start, n) if hasattr(x, "narrow") else
                    x[(slice(None),) * d + (slice(start, start + n),)]
                    for x, d in zip(leaves, dims)]
            outs.append(_run(func, part, dims, build, kwargs, n))
        flat = [tree_flatten(o) for o in outs]
        od = _broadcast_dims(out_dims, outs[0], "out_dims")
        joined = [cat([f[0][i] for f in flat], od[i] % (flat[0][0][i].ndim or 1))
                  for i in range(len(flat[0][0]))]
        return flat[0][1](joined)

    def _run(func, leaves, dims, build, kwargs, size):
        level = VmapLevel(size, _state.dispatch, randomness)
        moved = [x if d is None else _move_to_front(x, d) for x, d in zip(leaves, dims)]
        enter(level)
        draws = install(level)
        try:
            args = build([x if d is None else level.wrap(x) for x, d in zip(moved, dims)])
            out = func(*args, **kwargs)
            outs, build_out = tree_flatten(out)
            od = _broadcast_dims(out_dims, out, "out_dims")
            phys = [_unbatch(level, o, i) for i, o in enumerate(outs)]
        finally:
            uninstall(draws)
            leave(level)
        res = []
        for p, d in zip(phys, od):
            if d is None:
                raise ConfigError("vmap: out_dims=None is only for outputs that do not depend "
                                  "on the batch; give an int")
            n = p.ndim
            if not -n <= d < n:
                raise IndexOutOfRangeError(f"vmap: out_dims={d} is out of range for an output "
                                           f"with {n} dimensions (batch included)")
            res.append(_move_from_front(p, d % n))
        return build_out(res)

    def _unbatch(level, o, i):
        if is_batched(o, level):
            return level.phys(o)
        if isinstance(o, Tensor):           # the same for every sample: repeated B times
            saved = _state.dispatch
            _state.dispatch = level.prev
            try:
                return o.unsqueeze(0).expand((level.size,) + tuple(o.shape))
            finally:
                _state.dispatch = saved
        raise VmapError(f"vmap: the function must return tensors (or tuples, lists, dicts of "
                        f"them); output {i} is a {type(o).__name__}")

    return wrapped


def _batch_size(leaves, dims):
    sizes = []
    for i, (x, d) in enumerate(zip(leaves, dims)):
        if d is None:
            continue
        if not isinstance(x, Tensor):
            raise ConfigError(f"vmap: in_dims={d} for argument {i}, a {type(x).__name__}: only "
                              f"tensors can be mapped; give None for it")
        n = x.ndim
        if not -n <= d < n:
            raise IndexOutOfRangeError(f"vmap: in_dims={d} is out of range for argument {i} of "
                                       f"shape {tuple(x.shape)}")
        dims[i] = d % n
        sizes.append(x.shape[d % n])
    if not sizes:
        raise ConfigError("vmap: no argument is mapped: give at least one tensor argument an "
                          "int in_dims")
    if any(s != sizes[0] for s in sizes):
        raise ConfigError(f"vmap: expected all mapped tensors to have the same size in the mapped "
                          f"dimension, got sizes {sizes}")
    return sizes[0]
