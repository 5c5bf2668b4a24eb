"""JAX-style function transforms: ``cr.grad(f)`` and ``cr.value_and_grad(f)``.

They turn a function of tensors returning a scalar into a function returning its gradient,
computed by one backward pass on fresh leaves (the caller's tensors are not modified).  An
argument that already requires grad (inside an outer ``cr.grad``) is differentiated in place with
``create_graph=True``, so transforms nest: ``cr.grad(cr.grad(f))`` is the second derivative.
"""
import functools

from chainrule.autograd.grad import grad as _grad
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError
from chainrule.grad_mode import enable_grad, is_grad_enabled
from chainrule.tensor import Tensor, to_array


def _argnums(argnums, nargs):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not isinstance(a, int):
            raise ArgumentTypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
        if not -nargs <= a < nargs:
            raise ConfigError(f"argnums {argnums!r} out of range for a function called with "
                              f"{nargs} positional arguments")
    return nums


def value_and_grad(fun, argnums=0, has_aux=False):
    """Return a function computing ``(fun(*args), ∂fun/∂args[argnums])``.

    *fun* must return a scalar tensor (or ``(scalar, aux)`` when ``has_aux=True``; the value is
    then ``(scalar, aux)``).  *argnums* is an int or a tuple of ints; with a tuple the gradient is
    a tuple.  Arguments may be tensors, arrays or numbers; float arguments are differentiated.

    >>> f = cr.value_and_grad(lambda x: (x ** 2).sum())
    >>> f(cr.tensor([1., 2.]))[1]
    tensor([2., 4.])
    """
    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        nums = _argnums(argnums, len(args))
        args = list(args)
        leaves = []
        nested = False    # inside an outer transform (or graph): keep the graph for it
        for a in nums:
            x = args[a]
            arr = x._data if isinstance(x, Tensor) else to_array(x)
            if arr.dtype.kind != "f":
                raise DTypeError(f"grad: argument {a} must be a float tensor or number, got dtype "
                                 f"{arr.dtype}")
            if isinstance(x, Tensor) and x.requires_grad and is_grad_enabled():
                leaf, nested = x, True
            else:
                leaf = Tensor(arr, requires_grad=True)
            args[a] = leaf
            leaves.append(leaf)
        with enable_grad():
            res = fun(*args, **kwargs)
            if has_aux and not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise ArgumentTypeError(f"grad: with has_aux=True the function must return a pair "
                                f"(scalar output, auxiliary data), got {type(res).__name__}")
            out, aux = (res if has_aux else (res, None))
            if not isinstance(out, Tensor) or out.numel() != 1:
                raise ArgumentTypeError(f"grad: the function must return a scalar tensor, got "
                                f"{type(out).__name__}"
                                f"{'' if not isinstance(out, Tensor) else ' of shape ' + str(out.shape)}")
            grads = _grad(out, leaves, allow_unused=True, create_graph=nested) \
                if out.requires_grad else (None,) * len(leaves)
        grads = tuple(Tensor(namespace_of(l._data).zeros_like(l._data)) if g is None else g
                      for g, l in zip(grads, leaves))
        g = grads[0] if isinstance(argnums, int) else grads
        value = out if nested else out.detach()
        return ((value, aux) if has_aux else value), g
    return wrapped


def grad(fun, argnums=0, has_aux=False):
    """Return a function computing the gradient of scalar-valued *fun* (as ``jax.grad``).

    >>> df = cr.grad(lambda x: (x ** 3).sum())
    >>> df(cr.tensor([2.0]))
    tensor([12.])
    """
    vg = value_and_grad(fun, argnums, has_aux)

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g
    return wrapped
