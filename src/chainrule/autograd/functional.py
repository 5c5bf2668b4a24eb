"""Higher-level derivatives of functions of tensors, as ``torch.autograd.functional``.

All are built from vector-Jacobian products (reverse mode):

* ``vjp(f, x, v)``  = vᵀ J                        one backward pass
* ``jvp(f, x, v)``  = J v                         the "double-vjp" trick: J v = d/du (uᵀ J v)
* ``jacobian(f, x)``                              one vjp per output element (a row of J)
* ``hvp(f, x, v)``  = H v = ∇(∇f · v)             backward through a backward (create_graph)
* ``hessian(f, x)``                               the Jacobian of the gradient
"""
from chainrule.autograd.grad import grad as _grad
from chainrule.backend import namespace_of, numpy_namespace
from chainrule.errors import ArgumentTypeError, AutogradError, DTypeError
from chainrule.grad_mode import enable_grad
from chainrule.ops.shape import stack
from chainrule.tensor import Tensor


def _prep(inputs, create_graph):
    """Inputs as a tuple of fresh leaves requiring grad (graph-connected when create_graph)."""
    single = isinstance(inputs, Tensor)
    xs = (inputs,) if single else tuple(inputs)
    out = []
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise ArgumentTypeError(f"inputs[{i}]: expected a tensor, got {type(x).__name__}")
        if x.dtype.kind != "f":
            raise DTypeError(f"inputs[{i}]: expected a float tensor, got dtype {x.dtype}")
        if create_graph and x.requires_grad:
            out.append(x.view_as(x))
        else:
            out.append(x.detach().requires_grad_(True))
    return single, tuple(out)


def _tuple(x):
    return x if isinstance(x, tuple) else (tuple(x) if isinstance(x, list) else (x,))


def _fill(grads, like):
    return tuple(Tensor(namespace_of(x._data).zeros_like(x._data)) if g is None else g for g, x in zip(grads, like))


def _unwrap(single, xs):
    return xs[0] if single else xs


def _finish(t, create_graph):
    return t if create_graph else t.detach()


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """Return ``(func(inputs), vᵀJ)``: the outputs and the vector-Jacobian product with *v*."""
    single, xs = _prep(inputs, create_graph)
    with enable_grad():
        out = func(*xs)
        outs = _tuple(out)
        if v is None:
            if len(outs) != 1 or outs[0].numel() != 1:
                raise AutogradError("vjp: v can be omitted only when func returns a single scalar")
            vs = None
        else:
            vs = _tuple(v)
        grads = _grad(outs, xs, grad_outputs=vs, create_graph=create_graph, allow_unused=True) \
            if any(o.requires_grad for o in outs) else (None,) * len(xs)
    res = tuple(_finish(r, create_graph) for r in _fill(grads, xs))
    outs = tuple(_finish(o, create_graph) for o in outs)
    return (outs if isinstance(out, (tuple, list)) else outs[0]), _unwrap(single, res)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """Return ``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp trick."""
    single, xs = _prep(inputs, True)
    vs = _tuple(v) if v is not None else None
    if vs is None:
        if len(xs) != 1 or xs[0].numel() != 1:
            raise AutogradError("jvp: v can be omitted only when the input is a single scalar")
        vs = (Tensor(namespace_of(xs[0]._data).ones_like(xs[0]._data)),)
    with enable_grad():
        out = func(*xs)
        outs = _tuple(out)
        us = [Tensor(namespace_of(o._data).zeros_like(o._data), requires_grad=True) for o in outs]
        gx = _grad(outs, xs, grad_outputs=us, create_graph=True, allow_unused=True)
        pairs = [(g, w) for g, w in zip(gx, vs) if g is not None and g.requires_grad]
        if pairs:
            res = _grad([g for g, _ in pairs], us, grad_outputs=[w for _, w in pairs],
                        create_graph=create_graph, allow_unused=True)
        else:
            res = (None,) * len(us)
    res = tuple(_finish(r, create_graph) for r in _fill(res, outs))
    outs = tuple(_finish(o, create_graph) for o in outs)
    if isinstance(out, (tuple, list)):
        return outs, res
    return outs[0], res[0]


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """The Jacobian of *func* at *inputs*: shape ``out.shape + in.shape`` (tuples of them for
    several outputs or inputs), one vector-Jacobian product per output element."""
    single_in, xs = _prep(inputs, create_graph)
    with enable_grad():
        raw = func(*xs)
        outs = _tuple(raw)
        single_out = not isinstance(raw, (tuple, list))
        rows = []
        for o in outs:
            xp = namespace_of(o._data)
            per_input = [xp.zeros(o.shape + x.shape, dtype=o._data.dtype) for x in xs]
            per_input_t = [[] for _ in xs]
            for r in range(o.numel()):
                e = xp.zeros(o._data.size, dtype=o._data.dtype)
                e[r] = 1
                gs = _grad(o, xs, grad_outputs=Tensor(e.reshape(o.shape)), retain_graph=True,
                           create_graph=create_graph, allow_unused=True) \
                    if o.requires_grad else (None,) * len(xs)
                for i, g in enumerate(gs):
                    if create_graph:
                        per_input_t[i].append(g if g is not None else
                                              Tensor(xp.zeros(xs[i].shape, dtype=o._data.dtype)))
                    elif g is not None:
                        per_input[i].reshape((o.numel(),) + xs[i].shape)[r] = g._data
            if create_graph:
                from_rows = [_stack_rows(per_input_t[i], o.shape + xs[i].shape, xs[i].shape)
                             for i in range(len(xs))]
                rows.append(tuple(from_rows))
            else:
                rows.append(tuple(Tensor(j) for j in per_input))
    if single_out:
        return rows[0][0] if single_in else rows[0]
    return tuple(r[0] for r in rows) if single_in else tuple(rows)


def _stack_rows(rows, shape, in_shape):
    if not rows:
        return Tensor(numpy_namespace.zeros(shape))
    return stack(rows).reshape(shape)


def hvp(func, inputs, v, create_graph=False, strict=False):
    """Return ``(func(inputs), H v)`` for a scalar *func*: a Hessian-vector product by double
    backprop, ∇ₓ(∇ₓf · v), never forming H."""
    single, xs = _prep(inputs, True)
    vs = _tuple(v)
    with enable_grad():
        out = func(*xs)
        if out.numel() != 1:
            raise AutogradError(f"hvp: func must return a single-element tensor, got shape {out.shape}")
        gs = _grad(out, xs, create_graph=True, allow_unused=True)
        pairs = [(g, w, x) for g, w, x in zip(gs, vs, xs) if g is not None and g.requires_grad]
        if pairs:
            res = _grad([g for g, _, _ in pairs], xs, grad_outputs=[w for _, w, _ in pairs],
                        create_graph=create_graph, allow_unused=True)
        else:
            res = (None,) * len(xs)
    res = tuple(_finish(r, create_graph) for r in _fill(res, xs))
    return _finish(out, create_graph), _unwrap(single, res)


vhp = hvp  # for the twice-differentiable scalar functions used here H is symmetric: vᵀH = (Hv)ᵀ


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """The Hessian of scalar *func* at *inputs*: the Jacobian of its gradient."""
    single, xs = _prep(inputs, True)

    def gradient(*ys):
        out = func(*ys)
        if out.numel() != 1:
            raise AutogradError(f"hessian: func must return a single-element tensor, got shape "
                                f"{out.shape}")
        gs = _grad(out, ys, create_graph=True, allow_unused=True)
        return _fill(gs, ys)[0] if single else _fill(gs, ys)

    return jacobian(gradient, xs[0] if single else xs, create_graph=create_graph)
