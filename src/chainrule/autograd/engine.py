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
5. A leaf with post-accumulate-grad hooks also has its incoming edges counted; when the last
   one has arrived its ``.grad`` is complete and the hooks run then, mid-backward (what lets
   data-parallel training start a gradient bucket's Allreduce during backward).

With ``create_graph=True`` the backward calls are themselves recorded (grad mode stays on), so the
gradients have a graph of their own and can be differentiated again.
"""
import numpy as _np

_ndarray = _np.ndarray

from chainrule.backend import namespace_of
from chainrule.errors import AutogradError
from chainrule.grad_mode import state as _grad_state
from chainrule.ops.namespace import tensor_namespace
from chainrule.ops.shape import sum_to
from chainrule.tensor import Tensor, _leaf_hooks, _post_acc_hooks, wrap


def unbroadcast(grad, shape):
    """Sum *grad* back to *shape*: the vector-Jacobian product of broadcasting.

    Broadcasting copies an input along new leading dimensions and along dimensions of size 1,
    so each copy's gradient adds up: sum over the new dimensions, and over the stretched ones
    with keepdim.  This is the only place in chainrule where broadcasting is undone.
    """
    if grad._data.shape == shape:
        return grad
    return sum_to(grad, shape)  # a differentiable op: its own backward is a broadcast


def _topological_counts(roots, keep=None):
    """Count the edges into every node reachable from *roots* (iterative depth-first walk),
    through the nodes of *keep* only when it is given."""
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
            if isinstance(nxt, Tensor) or keep is not None and nxt not in keep:
                continue          # a leaf, or a node autograd.grad does not need
            n = deps.get(nxt)
            if n is None:
                deps[nxt] = 1
                stack.append(nxt)
            else:
                deps[nxt] = n + 1
    return deps


def _needed(roots, inputs):
    """The nodes whose backward autograd.grad must run: those on a path from *roots* to one of
    *inputs* (as PyTorch, the rest of the graph is neither run nor freed).  An iterative
    post-order walk: a node is needed when an edge leads to an input or to a needed node."""
    leaves = {id(t) for t in inputs if t.grad_fn is None}
    targets = {t.grad_fn for t in inputs if t.grad_fn is not None}
    needed, seen = set(), set()
    stack = [(r, False) for r in roots]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            for edge in node.next_functions:
                if edge is not None and (id(edge[0]) in leaves if isinstance(edge[0], Tensor)
                                         else edge[0] in needed or edge[0] in targets):
                    needed.add(node)
                    break
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        stack.extend((e[0], False) for e in node.next_functions
                     if e is not None and not isinstance(e[0], Tensor) and e[0] not in seen)
    return needed, targets


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
    borrowed = set()      # ids of leaves whose .grad still shares memory with a pending gradient
    hooked = None         # id(leaf) -> [leaf, summed gradient, user]: leaves with hooks
    want = None
    if inputs is not None:
        want = {}
        for t in inputs:
            if t.grad_fn is not None:
                want[(t.grad_fn, t._output_nr)] = t
    root_nodes = []
    for t, g in zip(roots, grad_roots):
        if t.grad_fn is None:
            if _leaf_hooks and id(t) in _leaf_hooks:
                hooked = _hold(hooked, t, g, True)
            else:
                _deliver_to_leaf(t, g, create_graph, accumulate, leaf_grads, handed, borrowed,
                                 user=True)
            continue
        slots = pending.get(t.grad_fn)
        if slots is None:
            slots = pending[t.grad_fn] = [None] * t.grad_fn._n_outputs
            root_nodes.append(t.grad_fn)
        slots[t._output_nr] = _add(slots[t._output_nr], g)
        handed.add(id(g._data if g._data.base is None else g._data.base))

    needed = keep = None
    if inputs is not None:   # autograd.grad: run only the part of the graph leading to inputs
        needed, targets = _needed(root_nodes, inputs)
        keep = needed | targets
        root_nodes = [n for n in root_nodes if n in keep]
    deps = _topological_counts(root_nodes, keep)
    post = None           # id(leaf) -> [edges still to arrive, got a gradient, leaf]
    if _post_acc_hooks and accumulate:
        post = _post_counts(deps, roots)
    ready = [n for n in root_nodes if deps[n] == 0]
    anomaly = _grad_state.anomaly
    while ready:
        node = ready.pop()
        slots = pending.pop(node, None)
        if slots is None:
            grads_out = None
        else:
            grads_out = slots
            if node._hooks is not None:      # the outputs' register_hook hooks, on their sums
                _node_hooks(node, slots)
            if want is not None:
                for k, g in enumerate(slots):
                    if (node, k) in want and g is not None:
                        captured[(node, k)] = g
            if node._retained:
                for t in node._retained:
                    g = slots[t._output_nr]
                    if g is not None:
                        if t.grad is not None:      # accumulate over backward calls, as leaves do
                            t.grad = t.grad + g
                        else:
                            t.grad = _own(g, handed, create_graph)
        edges = node.next_functions
        if needed is not None and node not in needed:
            continue   # an input's own node, reached only to capture its gradient
        in_grads = None
        if grads_out is not None and (grads_out[0] is not None or
                                      any(g is not None for g in grads_out)):
            in_grads = _call_backward(node, grads_out, len(edges), anomaly, create_graph)
        if not retain_graph:
            node.release()
        shapes, dtypes = node._input_shapes, node._input_dtypes
        for i, edge in enumerate(edges):
            if edge is None:
                continue
            nxt, nr = edge
            g = None if in_grads is None else in_grads[i]
            if g is not None:
                if type(g) is _ndarray:     # a first-order backward's array: wrap it cheaply
                    d = g
                    g = wrap(d)
                elif isinstance(g, Tensor):
                    d = g._data
                else:                       # a device array, or a NumPy scalar
                    if isinstance(g, _np.generic):   # NumPy gives 0-d results as scalars
                        g = _np.asarray(g)
                    d = g
                    g = wrap(d)
                if d.shape != shapes[i]:
                    g = _unbroadcast_input(node, i, g, shapes[i])
                    d = g._data
                if d.dtype != dtypes[i]:
                    g = g.to(dtypes[i])       # each input's gradient has its dtype
                    d = g._data
            if isinstance(nxt, Tensor):       # a leaf: the gradient lands in .grad
                if g is not None:
                    if _leaf_hooks and id(nxt) in _leaf_hooks:
                        hooked = _hold(hooked, nxt, g, False)
                    else:
                        _deliver_to_leaf(nxt, g, create_graph, accumulate, leaf_grads, handed,
                                         borrowed)
                if post is not None:
                    entry = post.get(id(nxt))
                    if entry is not None:
                        entry[0] -= 1
                        entry[1] = entry[1] or g is not None
                        if entry[0] == 0:         # the leaf's last gradient of this pass
                            if hooked and id(nxt) in hooked:
                                _, hg, user = hooked.pop(id(nxt))
                                _finish_held(nxt, hg, user, create_graph, handed, borrowed)
                            if entry[1]:
                                entry[1] = False
                                if nxt._grad is g and id(nxt) in borrowed and not _shared(
                                        g._data, i, in_grads, grads_out):
                                    borrowed.discard(id(nxt))   # nobody else holds it: no copy
                                _post_hooks(nxt, borrowed)
                continue
            if keep is not None and nxt not in keep:
                continue
            if g is not None:
                slots = pending.get(nxt)
                if slots is None:
                    slots = pending[nxt] = [None] * nxt._n_outputs
                slots[nr] = g if slots[nr] is None else slots[nr] + g
            left = deps[nxt] - 1               # one consumer fewer to wait for
            deps[nxt] = left
            if left == 0:
                ready.append(nxt)

    if hooked:   # a hooked leaf's gradient is complete once the graph has run
        wanted = None if inputs is None else {id(t) for t in inputs}
        for leaf, g, user in hooked.values():
            entry = _leaf_hooks.get(id(leaf))
            if entry is not None and (accumulate or id(leaf) in wanted):
                g = _call_hooks(entry[1], g, leaf)
            _deliver_to_leaf(leaf, g, create_graph, accumulate, leaf_grads, handed, borrowed,
                             user=user)
    if post is not None:     # leaves whose gradient came only as a root: complete now
        for entry in post.values():
            if entry[1]:
                _post_hooks(entry[2], borrowed)
    if inputs is None:
        return None
    result = []
    for t in inputs:
        g = leaf_grads.get(id(t)) if t.grad_fn is None else captured.get((t.grad_fn, t._output_nr))
        if g is None and not allow_unused:
            raise AutogradError(
                f"one of the differentiated tensors (shape {t.shape}) was not used to compute the "
                f"outputs; pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)


def _hold(hooked, leaf, g, user):
    """Sum the gradients of a leaf with hooks until the graph has run (then the hooks see the
    whole of it, once)."""
    if hooked is None:
        hooked = {}
    entry = hooked.get(id(leaf))
    if entry is None:
        hooked[id(leaf)] = [leaf, g, user]
    else:
        entry[1] = entry[1] + g
        entry[2] = entry[2] or user
    return hooked


def _post_counts(deps, roots):
    """For the leaves with post-accumulate-grad hooks: how many edges of the graph lead into
    each (a leaf that is a root itself starts with its gradient there)."""
    post = {}
    for node in deps:
        for edge in node.next_functions:
            if edge is not None and isinstance(edge[0], Tensor) and id(edge[0]) in _post_acc_hooks:
                entry = post.get(id(edge[0]))
                if entry is None:
                    post[id(edge[0])] = [1, False, edge[0]]
                else:
                    entry[0] += 1
    for t in roots:
        if t.grad_fn is None and id(t) in _post_acc_hooks:
            post.setdefault(id(t), [0, False, t])[1] = True
    return post


def _shared(arr, i, in_grads, grads_out):
    """Whether *arr*, the gradient a node's backward gave its input *i*, shares memory with its
    other inputs' gradients or with its own incoming gradients (passed through, maybe also held
    by other nodes still to run)."""
    base = arr if arr.base is None else arr.base
    for j, x in enumerate(in_grads):
        if j != i and x is not None:
            x = x._data if isinstance(x, Tensor) else x
            if x is base or getattr(x, "base", None) is base:
                return True
    for x in grads_out:
        if x is not None and (x._data is base or x._data.base is base):
            return True
    return False


def _finish_held(leaf, g, user, create_graph, handed, borrowed):
    """A leaf with ``register_hook`` hooks whose gradient is complete: its hooks, then ``.grad``."""
    entry = _leaf_hooks.get(id(leaf))
    if entry is not None:
        g = _call_hooks(entry[1], g, leaf)
    _deliver_to_leaf(leaf, g, create_graph, True, None, handed, borrowed, user=user)


def _post_hooks(leaf, borrowed):
    """Run a leaf's post-accumulate-grad hooks, ``hook(leaf)``, in order.  A ``.grad`` that still
    shares memory with a gradient waiting for another node is copied first, so a hook may edit it
    in place."""
    entry = _post_acc_hooks.get(id(leaf))
    if entry is None:
        return
    if id(leaf) in borrowed and leaf._grad is not None:
        leaf._grad = Tensor(leaf._grad._data.copy())
        borrowed.discard(id(leaf))
    for hook in list(entry[1].values()):
        out = hook(leaf)        # None; a tensor like the leaf (``p.add_(...)``'s) is ignored
        if out is not None and (not isinstance(out, Tensor) or out.shape != leaf.shape):
            raise AutogradError(f"a post-accumulate-grad hook must return None (it may change "
                                f"the tensor or its .grad in place), got "
                                f"{type(out).__name__} {getattr(out, 'shape', '')}".rstrip())


def _node_hooks(node, slots):
    """Run the ``register_hook`` hooks of a node's outputs on their complete gradients."""
    for k, hooks in node._hooks.items():
        if hooks and slots[k] is not None:
            slots[k] = _call_hooks(hooks, slots[k], None)


def _call_hooks(hooks, g, leaf):
    """``g = hook(g) or g`` for each hook in order, checking what a hook returns."""
    for hook in list(hooks.values()):
        new = hook(g)
        if new is None:
            continue
        if not isinstance(new, Tensor):
            raise AutogradError(f"a tensor hook must return a tensor or None, got "
                                f"{type(new).__name__}")
        if new._data.shape != g._data.shape or new._data.dtype != g._data.dtype:
            raise AutogradError(f"a tensor hook changed the gradient's shape or dtype (from "
                                f"{g.shape} {g.dtype} to {new.shape} {new.dtype}); it must return "
                                f"a gradient of the same shape and dtype")
        g = new
    return g


def _call_backward(node, grads_out, n_inputs, anomaly, create_graph):
    """Run one node's vector-Jacobian product on the gradients of its outputs: on their arrays
    for an op's first-order backward, on the tensors (recorded) with *create_graph*."""
    if len(grads_out) > 1:          # one output is only run with its gradient present
        for k, g in enumerate(grads_out):
            if g is None and node._materialize_grads:   # an output nobody used: zero gradient
                grads_out[k] = wrap(node.xp.zeros(*node._output_meta[k]))
    if not node.on_arrays:
        in_grads = node.backward(node, *grads_out)
    elif not create_graph:
        in_grads = node.backward(node, grads_out[0]._data) if len(grads_out) == 1 else \
            node.backward(node, *[None if g is None else g._data for g in grads_out])
    else:
        array_xp, node.xp = node.xp, tensor_namespace
        try:
            in_grads = node.backward(node, *grads_out)
        finally:
            node.xp = array_xp
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    if len(in_grads) != n_inputs:
        _check_count(node, in_grads, n_inputs)
    if anomaly:
        _check_finite(node, in_grads)
    return in_grads


def _check_count(node, in_grads, n_inputs):
    """Raise unless the gradients past the *n_inputs* first (returned beyond the inputs) are all
    None."""
    if len(in_grads) < n_inputs or any(g is not None for g in in_grads[n_inputs:]):
        raise AutogradError(f"{node.name()} returned {len(in_grads)} gradients for "
                            f"{n_inputs} inputs: backward must return one per input")


def _unbroadcast_input(node, i, g, shape):
    try:
        return unbroadcast(g, shape)
    except ValueError:
        raise AutogradError(f"{node.name()} returned a gradient of shape {g.shape} for input {i}, "
                            f"which has shape {shape} (nor does it broadcast to it)") from None


def _own(g, handed, create_graph=False):
    """Return a gradient whose memory nobody else holds (so in-place edits of .grad are safe);
    with *create_graph* the copy is a ``clone`` that keeps the gradient's own graph."""
    arr = g._data
    base = arr if arr.base is None else arr.base
    if not getattr(arr.flags, "writeable", True) or id(base) in handed:
        g = g.clone() if create_graph else Tensor(arr.copy())
        base = g._data
    handed.add(id(base))
    return g


def _deliver_to_leaf(leaf, g, create_graph, accumulate, leaf_grads, handed, borrowed, user=False):
    """Add gradient *g* into a leaf: its ``.grad`` for backward, or the result of autograd.grad.

    The engine writes ``_grad`` directly: the gradient already has the leaf's shape and dtype.
    A first gradient is stored without a copy when nobody else owns its memory; it may still be
    waiting in ``pending`` for another node, so the next gradient for that leaf in the same pass
    is added out of place (``borrowed``) rather than into that shared memory.
    """
    if not accumulate:
        key = id(leaf)
        leaf_grads[key] = g if key not in leaf_grads else leaf_grads[key] + g
        return
    if g._data.dtype != leaf._data.dtype:
        g = g.to(leaf._data.dtype)
    if user:
        handed.add(id(g._data if g._data.base is None else g._data.base))
    if create_graph:
        leaf._grad = _own(g, handed, True) if leaf.grad is None else leaf.grad + g
        return
    cur = leaf._grad
    if cur is None:
        leaf._grad = cur = _own(g, handed)
        if cur is g:
            borrowed.add(id(leaf))
    elif (id(leaf) not in borrowed and cur._data.shape == g._data.shape
          and getattr(cur._data.flags, "writeable", True)):
        cur._data += g._data
    else:
        leaf._grad = Tensor(cur._data + g._data)
        borrowed.discard(id(leaf))


def _check_finite(node, grads):
    for i, g in enumerate(grads):
        if g is None:
            continue
        arr = g._data if isinstance(g, Tensor) else g
        if arr.dtype.kind == "f" and not namespace_of(arr).isfinite(arr).all():
            where = getattr(node, "_trace", None)
            msg = (f"anomaly detected: function {node.name()} returned a NaN or inf gradient for its "
                   f"input {i}")
            if where:
                msg += "\nthe forward call that created this node:\n" + where
            raise AutogradError(msg)
