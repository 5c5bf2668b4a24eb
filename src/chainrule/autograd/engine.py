"""The backward pass: the chain rule applied node by node, from the output back to the leaves.

``run_backward`` is the whole engine:

1. Walk the graph from the roots with an explicit stack (never recursion, so a chain of 100,000
   ops works) and count, for every node, how many edges lead into it from nodes still to be run.
2. Run nodes in topological order (Kahn's algorithm): a node runs once every consumer has sent its
   gradient, so its incoming gradient is complete.  Running a node means calling its ``backward``
   (the op's vector-Jacobian product) on the summed gradient of each of its outputs.
3. Undo broadcasting in one place, :func:`unbroadcast`: an input that was broadcast in the forward
   pass receives the gradient summed back to its own shape.
4. Send each input's gradient along its edge: to the node that made it, or into a leaf's ``.grad``.
   A node's pending gradients are dropped as soon as it has run; its saved tensors are freed
   unless ``retain_graph=True``.

With ``create_graph=True`` the backward calls are themselves recorded (grad mode stays on), so the
gradients have a graph of their own and can be differentiated again.
"""
from chainrule.grad_mode import state as _grad_state
from chainrule.tensor import Tensor
from chainrule.backend import xp
from chainrule.ops.shape import sum_to


def unbroadcast(grad, shape):
    """Sum *grad* back to *shape*: the vector-Jacobian product of broadcasting.

    Broadcasting copies an input along new leading dimensions and along dimensions of size 1,
    so each copy's gradient adds up: sum over the new dimensions, and over the stretched ones
    with keepdim.  This is the only place in chainrule where broadcasting is undone.
    """
    if grad.data.shape == shape:
        return grad
    return sum_to(grad, shape)  # a differentiable op: its own backward is a broadcast


def _topological_counts(roots):
    """Count the edges into every node reachable from *roots* (iterative depth-first walk)."""
    deps = {}
    stack = []
    for r in roots:
        if r not in deps:
            deps[r] = 0
            stack.append(r)
    while stack:
        node = stack.pop()
        for edge in node.next_functions:
            if edge is None:
                continue
            nxt = edge[0]
            if type(nxt) is Tensor or isinstance(nxt, Tensor):
                continue
            if nxt in deps:
                deps[nxt] += 1
            else:
                deps[nxt] = 1
                stack.append(nxt)
    return deps


def _add(a, b):
    return b if a is None else a + b


def run_backward(roots, grad_roots, retain_graph=False, create_graph=False, inputs=None,
                 allow_unused=False, accumulate=True):
    """Backpropagate *grad_roots* from the tensors *roots*.

    With ``accumulate=True`` (``Tensor.backward``) leaf gradients are added into ``.grad``.
    Otherwise (``autograd.grad``) the gradients of *inputs* are returned as a tuple.
    """
    prev_mode = _grad_state.enabled
    _grad_state.enabled = bool(create_graph)
    try:
        return _run(roots, grad_roots, retain_graph, create_graph, inputs, allow_unused, accumulate)
    finally:
        _grad_state.enabled = prev_mode


def _run(roots, grad_roots, retain_graph, create_graph, inputs, allow_unused, accumulate):
    pending = {}          # node -> list of gradients, one slot per output
    leaf_grads = {}       # leaf tensor (for autograd.grad) -> gradient
    captured = {}         # (node, output_nr) -> gradient, for non-leaf inputs of autograd.grad
    handed = set()        # ids of arrays already given to a leaf's .grad in this pass
    want = None
    if inputs is not None:
        want = {}
        for t in inputs:
            if t.grad_fn is not None:
                want[(t.grad_fn, t._output_nr)] = t
    root_nodes = []
    for t, g in zip(roots, grad_roots):
        if t.grad_fn is None:
            _deliver_to_leaf(t, g, create_graph, accumulate, leaf_grads, handed, user=True)
            continue
        slots = pending.get(t.grad_fn)
        if slots is None:
            slots = pending[t.grad_fn] = [None] * t.grad_fn._n_outputs
            root_nodes.append(t.grad_fn)
        slots[t._output_nr] = _add(slots[t._output_nr], g)
        handed.add(id(g.data if g.data.base is None else g.data.base))

    deps = _topological_counts(root_nodes)
    ready = [n for n in root_nodes if deps[n] == 0]
    anomaly = _grad_state.anomaly
    while ready:
        node = ready.pop()
        slots = pending.pop(node, None)
        if slots is None:
            grads_out = None
        else:
            grads_out = slots
            if want is not None:
                for k, g in enumerate(slots):
                    if (node, k) in want and g is not None:
                        captured[(node, k)] = g
            if node._retained:
                for t in node._retained:
                    g = slots[t._output_nr]
                    if g is not None:
                        t.grad = g if create_graph else _own(g, handed)
        edges = node.next_functions
        if grads_out is not None and any(g is not None for g in grads_out):
            for k, g in enumerate(grads_out):
                if g is None:
                    grads_out[k] = Tensor(xp.zeros(*node._output_meta[k]))
            in_grads = node.backward(node, *grads_out)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) < len(edges):
                raise RuntimeError(f"{node.name()} returned {len(in_grads)} gradients for "
                                   f"{len(edges)} inputs: backward must return one per input")
            if anomaly:
                _check_finite(node, in_grads)
            if not retain_graph:
                node.release()
            shapes = node._input_shapes
            for i, edge in enumerate(edges):
                if edge is None:
                    continue
                g = in_grads[i]
                if g is None:
                    continue
                if type(g) is not Tensor:
                    g = Tensor(xp.asarray(g))
                if g.data.shape != shapes[i]:
                    g = unbroadcast(g, shapes[i])
                nxt, nr = edge
                if isinstance(nxt, Tensor):
                    _deliver_to_leaf(nxt, g, create_graph, accumulate, leaf_grads, handed)
                    continue
                s = pending.get(nxt)
                if s is None:
                    s = pending[nxt] = [None] * nxt._n_outputs
                s[nr] = g if s[nr] is None else s[nr] + g
        elif not retain_graph:
            node.release()
        for edge in edges:
            if edge is None:
                continue
            nxt = edge[0]
            if isinstance(nxt, Tensor):
                continue
            deps[nxt] -= 1
            if deps[nxt] == 0:
                ready.append(nxt)

    if inputs is None:
        return None
    result = []
    for t in inputs:
        g = leaf_grads.get(id(t)) if t.grad_fn is None else captured.get((t.grad_fn, t._output_nr))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"one of the differentiated tensors (shape {t.shape}) was not used to compute the "
                f"outputs; pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)


def _own(g, handed):
    """Return a gradient whose memory nobody else holds (so in-place edits of .grad are safe)."""
    arr = g.data
    base = arr if arr.base is None else arr.base
    if not arr.flags.writeable or id(base) in handed:
        arr = arr.copy()
        base = arr
    handed.add(id(base))
    return g if arr is g.data else Tensor(arr)


def _deliver_to_leaf(leaf, g, create_graph, accumulate, leaf_grads, handed, user=False):
    """Add gradient *g* into a leaf: its ``.grad`` for backward, or the result of autograd.grad."""
    if not accumulate:
        key = id(leaf)
        leaf_grads[key] = g if key not in leaf_grads else leaf_grads[key] + g
        return
    if g.data.dtype != leaf.data.dtype:
        g = g.to(leaf.data.dtype)
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if user:
        handed.add(id(g.data if g.data.base is None else g.data.base))
    if leaf.grad is None:
        leaf.grad = _own(g, handed)
    elif leaf.grad.data.shape == g.data.shape and leaf.grad.data.flags.writeable:
        xp.add(leaf.grad.data, g.data, out=leaf.grad.data)
    else:
        leaf.grad = Tensor(leaf.grad.data + g.data)


def _check_finite(node, grads):
    for i, g in enumerate(grads):
        if g is None:
            continue
        arr = g.data if isinstance(g, Tensor) else g
        if arr.dtype.kind == "f" and not xp.isfinite(arr).all():
            where = getattr(node, "_trace", None)
            msg = (f"anomaly detected: function {node.name()} returned a NaN or inf gradient for its "
                   f"input {i}")
            if where:
                msg += "\nthe forward call that created this node:\n" + where
            raise RuntimeError(msg)
