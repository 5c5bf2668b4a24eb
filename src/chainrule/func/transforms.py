"""torch.func's derivative transforms: ``grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian``.

Reverse mode (``grad``, ``vjp``, ``jacrev``) runs the function on fresh leaves and calls the
engine (``autograd.grad``); it also works inside ``vmap`` (per-sample gradients), where the
leaves are the physical batch (an argument shared by the batch is repeated, so each sample gets
its own gradient).  Forward mode (``jvp``, ``jacfwd``) uses the dual tensors of
``autograd.forward_ad``.  Jacobians take one vector product per output element (``jacrev``) or
per input element (``jacfwd``).  Transforms compose: ``hessian = jacfwd(jacrev(f))``.
"""
import functools

from chainrule.autograd import forward_ad as fwAD
from chainrule.autograd.grad import grad as _autograd_grad
from chainrule.backend import device_of, namespace_for, namespace_of
from chainrule.errors import (
    ArgumentTypeError,
    AutogradError,
    ConfigError,
    IndexOutOfRangeError,
    ShapeError,
)
from chainrule.func.batched import VmapError, current_vmap, is_batched
from chainrule.func.vmap import tree_flatten
from chainrule.grad_mode import enable_grad, is_grad_enabled
from chainrule.grad_mode import state as _state
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor


def _argnums(argnums, n):
    nums = (argnums,) if isinstance(argnums, int) else argnums
    if not isinstance(nums, tuple) or not nums or not all(isinstance(a, int) for a in nums):
        raise ArgumentTypeError(f"argnums must be an int or a non-empty tuple of ints, got "
                                f"{argnums!r}")
    for a in nums:
        if not -n <= a < n:
            raise IndexOutOfRangeError(f"argnums {argnums!r} is out of range for a function "
                                       f"called with {n} positional arguments")
    return tuple(a % n for a in nums)


def _forward_levels_open():
    d = _state.dispatch
    while d is not None:
        if isinstance(d, fwAD._Level):
            return True
        d = getattr(d, "prev", None)
    return False


def _copy_tangents(src, dst):
    """Give *dst* the tangents *src* has at the open dual levels (a leaf made from a dual
    tensor stays dual: ``jacfwd(jacrev(f))``)."""
    d, copied = _state.dispatch, False
    while d is not None:
        if isinstance(d, fwAD._Level):
            t = d.tangent(src)
            if t is not None:
                d.set(dst, t)
                copied = True
        d = getattr(d, "prev", None)
    return copied


def _below(level, fn):
    if level is None:
        return fn()
    saved = _state.dispatch
    _state.dispatch = level.prev
    try:
        return fn()
    finally:
        _state.dispatch = saved


class _Frame:
    """The differentiated arguments as fresh leaves, and vector-Jacobian products with them.

    Under a vmap level the leaves are the physical batch tensors (batch dimension first); the
    function sees them batched again, and gradients come back batched.
    """

    def __init__(self, args, nums, op):
        level = current_vmap()
        if level is not None and level.prev is not None:
            raise VmapError(f"cr.func.{op} inside nested vmap (or inside vmap inside forward AD) "
                            f"is not supported; use one vmap around it")
        self.level, self.args, self.op = level, list(args), op
        self.leaves, self.builds, self.counts = [], [], []
        self.create_graph = _forward_levels_open()
        for a in nums:
            flat, build = tree_flatten(args[a])
            new = []
            for x in flat:
                if not isinstance(x, Tensor) or x.dtype.kind != "f":
                    raise ArgumentTypeError(
                        f"cr.func.{op}: argument {a} must hold floating-point tensors, got "
                        f"{type(x).__name__ if not isinstance(x, Tensor) else x.dtype}")
                new.append(self._leaf(x))
            self.args[a] = build(new)
            self.builds.append(build)
            self.counts.append(len(flat))

    def _leaf(self, x):
        lv = self.level
        base = lv.phys_or_expand(x) if lv is not None else x
        if base.requires_grad and is_grad_enabled():    # inside an outer transform: keep its graph
            leaf = base
            self.create_graph = True
        else:
            leaf = base.detach().requires_grad_(True)
            if lv is None and _copy_tangents(x, leaf):
                self.create_graph = True
        self.leaves.append(leaf)
        return lv.wrap(leaf) if lv is not None else leaf

    def _phys(self, t):
        lv = self.level
        if lv is None or is_batched(t, lv):
            return t if lv is None else lv.phys(t)
        return lv.phys_or_expand(t)

    def vjp_leaves(self, outs, cts):
        """vᵀJ for each leaf (flat), for outputs *outs* and cotangents *cts* (None: skip)."""
        pairs = [(self._phys(o), self._phys(c)) for o, c in zip(outs, cts)
                 if c is not None and isinstance(o, Tensor)]
        pairs = [(o, c) for o, c in pairs if o.requires_grad]

        def run():
            if not pairs:
                return (None,) * len(self.leaves)
            return _autograd_grad([o for o, _ in pairs], self.leaves,
                                  grad_outputs=[c for _, c in pairs], retain_graph=True,
                                  create_graph=self.create_graph, allow_unused=True)
        gs = _below(self.level, run)
        gs = [Tensor(namespace_of(l._data).zeros_like(l._data)) if g is None else g
              for g, l in zip(gs, self.leaves)]
        return [self.level.wrap(g) for g in gs] if self.level is not None else gs

    def rebuild(self, flat):
        """Per differentiated argument, the leaves' values put back in its structure."""
        out, i = [], 0
        for build, n in zip(self.builds, self.counts):
            out.append(build(flat[i:i + n]))
            i += n
        return out

    def finish(self, t):
        return t if self.create_graph or not isinstance(t, Tensor) else t.detach()


def _split_aux(res, has_aux, op):
    if not has_aux:
        return res, None
    if not (isinstance(res, (tuple, list)) and len(res) == 2):
        raise ArgumentTypeError(f"cr.func.{op}: with has_aux=True the function must return a pair "
                                f"(output, aux), got {type(res).__name__}")
    return res[0], res[1]


def _one(argnums, per_arg):
    return per_arg[0] if isinstance(argnums, int) else tuple(per_arg)


def grad_and_value(func, argnums=0, has_aux=False):
    """Return a function computing ``(gradient, value)`` of scalar-valued *func* with respect to
    the arguments *argnums* (``(gradient, (value, aux))`` with ``has_aux=True``), as
    ``torch.func.grad_and_value``.  Arguments may be tensors or nested tuples/lists/dicts of
    them (a dict of parameters gives a dict of gradients)."""
    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        frame = _Frame(args, _argnums(argnums, len(args)), "grad")
        with enable_grad():
            out, aux = _split_aux(func(*frame.args, **kwargs), has_aux, "grad")
            if not isinstance(out, Tensor) or out.numel() != 1:
                raise AutogradError(
                    f"cr.func.grad: expected the function to return a one-element tensor, got "
                    f"{type(out).__name__ if not isinstance(out, Tensor) else 'shape ' + str(tuple(out.shape))}"
                    f"; use cr.func.vjp or cr.func.jacrev for other outputs")
            ones = Tensor(_ns(out).ones(tuple(out.shape), dtype=out.dtype))
            g = frame.rebuild(frame.vjp_leaves([out], [ones]))
        value = frame.finish(out)
        g = _one(argnums, g)
        return (g, (value, aux)) if has_aux else (g, value)
    return wrapped


def grad(func, argnums=0, has_aux=False):
    """Return a function computing the gradient of scalar-valued *func* (``torch.func.grad``):
    with respect to argument *argnums* (a tuple gives a tuple); ``(gradient, aux)`` with
    ``has_aux=True``.  Works inside ``vmap``: ``vmap(grad(loss), in_dims=(None, 0, 0))`` gives
    per-sample gradients.

    >>> cr.func.grad(lambda x: (x ** 3).sum())(cr.tensor([1., 2.]))
    tensor([ 3., 12.])
    """
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapped


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` returns vᵀJ for every primal (a
    tuple), for cotangents shaped like the outputs (``torch.func.vjp``); with ``has_aux=True``
    also the aux output."""
    frame = _Frame(primals, tuple(range(len(primals))), "vjp")
    with enable_grad():
        out, aux = _split_aux(func(*frame.args), has_aux, "vjp")
    outs, build = tree_flatten(out)
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise ArgumentTypeError(f"cr.func.vjp: output {i} is a {type(o).__name__}, not a "
                                    f"tensor")

    def vjp_fn(*cotangents):
        cts, _ = tree_flatten(cotangents[0] if len(cotangents) == 1 else list(cotangents))
        if len(cts) != len(outs):
            raise ArgumentTypeError(f"vjp_fn: expected {len(outs)} cotangents (one per output), "
                                    f"got {len(cts)}")
        for o, c in zip(outs, cts):
            if not isinstance(c, Tensor) or tuple(c.shape) != tuple(o.shape):
                raise ShapeError(f"vjp_fn: a cotangent of shape "
                                 f"{tuple(c.shape) if isinstance(c, Tensor) else type(c).__name__}"
                                 f" does not match its output's shape {tuple(o.shape)}")
        with enable_grad():
            return tuple(frame.rebuild(frame.vjp_leaves(outs, cts)))

    value = build([frame.finish(o) for o in outs])
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(func(*primals), J·tangents)`` by forward mode (``torch.func.jvp``): *primals* and
    *tangents* are tuples of the same structure."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise ArgumentTypeError("cr.func.jvp: primals and tangents must be tuples (of the "
                                "function's positional arguments and their tangents)")
    ps, build = tree_flatten(list(primals))
    ts, _ = tree_flatten(list(tangents))
    if len(ps) != len(ts):
        raise ArgumentTypeError(f"cr.func.jvp: {len(ps)} primals but {len(ts)} tangents; give "
                                f"one tangent per primal")
    with fwAD.dual_level():
        duals = [fwAD.make_dual(p, t) for p, t in zip(ps, ts)]
        out, aux = _split_aux(func(*build(duals)), has_aux, "jvp")
        outs, build_out = tree_flatten(out)
        po, to = [], []
        for o in outs:
            if not isinstance(o, Tensor):
                raise ArgumentTypeError(f"cr.func.jvp: the function returned a "
                                        f"{type(o).__name__}, not a tensor")
            p, t = fwAD.unpack_dual(o)
            po.append(p)
            to.append(Tensor(namespace_of(o._data).zeros_like(o._data)) if t is None else t)
    keep = _keeps_graph(ps)
    res = (build_out([_detach_unless(p, keep) for p in po]),
           build_out([_detach_unless(t, keep) for t in to]))
    return res + (aux,) if has_aux else res


def _keeps_graph(tensors):
    """True when the results must stay differentiable: an input requires grad (an outer
    transform or backward differentiates them) or an outer dual level tracks tangents."""
    return is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad
                                     for t in tensors) or _forward_levels_open()


def _detach_unless(t, keep):
    return t if keep or not isinstance(t, Tensor) else t.detach()


def _ns(t):
    """The array module of tensor *t*'s device (a batched tensor's too)."""
    return namespace_for(device_of(t._data))


def _basis(like, r):
    e = _ns(like).zeros(max(int(like.numel()), 1), dtype=like.dtype)
    e[r] = 1
    return Tensor(e.reshape(tuple(like.shape)))


def _assemble(parts, out_shape, in_shape, rows):
    """Stack vector products into a Jacobian of shape out_shape + in_shape: *rows* says whether
    each part is a row (a vjp, shaped like the input) or a column (a jvp, like the output)."""
    if not parts:
        return None
    j = stack(parts, 0 if rows else -1)
    return j.reshape(tuple(out_shape) + tuple(in_shape))


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """Return a function computing the Jacobian of *func* by reverse mode, one vjp per output
    element (``torch.func.jacrev``): shape ``output.shape + input.shape``; tuples for several
    outputs (outer) or argnums (inner).  Works inside ``vmap`` (per-sample Jacobians)."""
    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        frame = _Frame(args, nums, "jacrev")
        with enable_grad():
            out, aux = _split_aux(func(*frame.args, **kwargs), has_aux, "jacrev")
            outs, build_out = tree_flatten(out)
            inputs = [x for a in nums for x in tree_flatten(frame.args[a])[0]]
            jacs = []
            for k, o in enumerate(outs):
                rows = []
                for r in range(int(o.numel())):
                    cts = [_basis(o, r) if i == k else None for i in range(len(outs))]
                    rows.append(frame.vjp_leaves(outs, cts))
                per_leaf = [_assemble([row[i] for row in rows], o.shape, x.shape, True)
                            for i, x in enumerate(inputs)]
                jacs.append(_one(argnums, frame.rebuild(per_leaf)))
        res = build_out([frame.finish(j) if isinstance(j, Tensor) else j for j in jacs])
        return (res, aux) if has_aux else res
    return wrapped


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """Return a function computing the Jacobian of *func* by forward mode, one jvp per input
    element (``torch.func.jacfwd``): shape ``output.shape + input.shape``."""
    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        if current_vmap() is not None:
            raise VmapError("cr.func.jacfwd inside vmap is not supported (forward-mode AD does "
                            "not run inside vmap); use jacrev there")
        nums = _argnums(argnums, len(args))
        flat = [tree_flatten(args[a]) for a in nums]
        columns, first, aux = [], None, None
        for ai, (leaves, _) in enumerate(flat):
            for li, x in enumerate(leaves):
                if not isinstance(x, Tensor) or x.dtype.kind != "f":
                    raise ArgumentTypeError(f"cr.func.jacfwd: argument {nums[ai]} must hold "
                                            f"floating-point tensors")
                cols = []
                for i in range(int(x.numel())):
                    with fwAD.dual_level():
                        new = list(args)
                        new_leaves = list(leaves)
                        new_leaves[li] = fwAD.make_dual(x, _basis(x, i))
                        new[nums[ai]] = flat[ai][1](new_leaves)
                        o, a = _split_aux(func(*new, **kwargs), has_aux, "jacfwd")
                        outs, build_out = tree_flatten(o)
                        ts = []
                        for out in outs:
                            t = fwAD.unpack_dual(out).tangent
                            ts.append(Tensor(namespace_of(out._data).zeros_like(out._data))
                                      if t is None else t)
                        if first is None:
                            first, aux = (outs, build_out), a
                    cols.append(ts)
                columns.append((x, cols))
        outs, build_out = first
        jacs = []
        for k, o in enumerate(outs):
            per_leaf = [_assemble([c[k] for c in cols], o.shape, x.shape, False)
                        for x, cols in columns]
            i, grouped = 0, []
            for ai, (leaves, build) in enumerate(flat):
                grouped.append(build(per_leaf[i:i + len(leaves)]))
                i += len(leaves)
            jacs.append(_one(argnums, grouped))
        keep = _keeps_graph([x for leaves, _ in flat for x in leaves])
        leaves, build = tree_flatten(build_out(jacs))
        res = build([_detach_unless(j, keep) for j in leaves])
        return (res, aux) if has_aux else res
    return wrapped


def hessian(func, argnums=0):
    """The Hessian of scalar-valued *func*: ``jacfwd(jacrev(func, argnums), argnums)``, as
    ``torch.func.hessian`` (forward mode over reverse mode)."""
    if not callable(func):
        raise ConfigError(f"hessian: func must be callable, got {type(func).__name__}")
    return jacfwd(jacrev(func, argnums), argnums)
