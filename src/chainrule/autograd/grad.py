"""The entry points of backpropagation: ``Tensor.backward`` and ``autograd.grad``."""
from chainrule import function as _function
from chainrule.autograd.engine import _own, _post_hooks, run_backward
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, AutogradError
from chainrule.tensor import Tensor


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_grads(outputs, grad_outputs):
    grads = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise ArgumentTypeError(f"backward: output {i} is a {type(out).__name__}, not a tensor")
        if not out.requires_grad:
            raise AutogradError(
                f"backward: output {i} (shape {out.shape}) does not require grad and has no grad_fn:"
                f" none of the tensors it was computed from has requires_grad=True (or it was "
                f"computed under no_grad). Set requires_grad=True on the inputs you differentiate")
        g = grad_outputs[i] if grad_outputs is not None and i < len(grad_outputs) else None
        if g is None:
            if out._data.size != 1:
                raise AutogradError(
                    f"grad can be implicitly created only for scalar outputs: output {i} has shape "
                    f"{out.shape}. Pass gradient=cr.ones_like(y) (or the vector v of the "
                    f"vector-Jacobian product vᵀJ you want) to backward(), or reduce y first "
                    f"(y.sum().backward())")
            g = Tensor(namespace_of(out._data).ones(out._data.shape, dtype=out._data.dtype))
        else:
            if not isinstance(g, Tensor):
                g = Tensor(namespace_of(out._data).asarray(g, dtype=out._data.dtype))
            elif g._data.dtype != out._data.dtype:
                g = Tensor(g._data.astype(out._data.dtype))
            if g._data.shape != out._data.shape:
                raise AutogradError(f"backward: gradient has shape {g.shape} but output {i} has "
                                    f"shape {out.shape}; they must match")
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate into the leaves' ``.grad`` the gradient of *tensors* (weighted by *grad_tensors*).

    The same as ``t.backward(gradient)`` for one tensor.  ``inputs`` restricts accumulation to
    the given leaves.
    """
    rec = _function.recorder
    if rec is not None and not rec.busy:            # cr.compile is recording a step
        return rec.call(backward, (tensors, grad_tensors, retain_graph, create_graph, inputs), {})
    outputs = _as_tuple(tensors)
    grads = _root_grads(outputs, _as_tuple(grad_tensors))
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        got = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                           allow_unused=True, accumulate=False)
        handed = {id(g._data if g._data.base is None else g._data.base) for g in grads}
        for t, g in zip(inputs, got):
            if g is not None:    # never alias the caller's gradient or another .grad
                t.grad = _own(g, handed, create_graph) if t.grad is None else t.grad + g
                _post_hooks(t, ())   # its post-accumulate-grad hooks, as for backward()
        return
    run_backward(outputs, grads, retain_graph, create_graph)


def tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Backpropagate from this tensor: add d(self)/d(leaf) into every leaf's ``.grad``.

    For a non-scalar tensor pass *gradient* (the vector v of the product vᵀJ).  The graph's saved
    tensors are freed unless ``retain_graph=True``; ``create_graph=True`` records the backward
    pass itself so the gradients can be differentiated again.
    """
    backward((self,), None if gradient is None else (gradient,), retain_graph, create_graph, inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Return the gradients of *outputs* with respect to *inputs* (without touching ``.grad``).

    >>> x = cr.tensor(3.0, requires_grad=True)
    >>> cr.autograd.grad(x ** 2, x)[0].item()
    6.0
    """
    rec = _function.recorder
    if rec is not None and not rec.busy:            # cr.compile is recording a step
        return rec.call(grad, (outputs, inputs, grad_outputs, retain_graph, create_graph,
                               allow_unused), {})
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise AutogradError(f"grad: input {i} does not require grad; set requires_grad=True on "
                                f"the tensors you differentiate with respect to")
    grads = _root_grads(outputs, _as_tuple(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                          allow_unused=allow_unused, accumulate=False)
    if not create_graph:
        result = tuple(None if g is None else g.detach() for g in result)
    return result


def zero_grads(tensors, set_to_none=True):
    """Drop the ``.grad`` of each tensor (or zero it in place if ``set_to_none=False``).

    ``Module.zero_grad`` and ``Optimizer.zero_grad`` both call this.
    """
    for t in tensors:
        g = t.grad
        if g is None:
            continue
        if set_to_none:
            t.grad = None
            continue
        if g.grad_fn is not None:
            g.detach_()
        else:
            g.requires_grad_(False)
        g._data.fill(0)
        g._vc[0] += 1


Tensor.backward = tensor_backward   # autograd binds Tensor.backward: the tensor knows no engine
