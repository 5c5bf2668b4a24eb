"""Parameters to and from one flat vector, as ``torch.nn.utils.parameters_to_vector``."""
from chainrule.errors import ArgumentTypeError, ShapeError
from chainrule.ops.shape import cat
from chainrule.tensor import Tensor


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one 1-D tensor (differentiable).

    >>> cr.nn.utils.parameters_to_vector(cr.nn.Linear(3, 2).parameters()).shape
    (8,)
    """
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor *vec* into the parameters, in place."""
    if not isinstance(vec, Tensor):
        raise ArgumentTypeError(f"expected cr.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    need = sum(p._data.size for p in params)
    if vec.ndim != 1 or vec._data.size != need:
        raise ShapeError(f"vector_to_parameters: expected a 1-D vector of {need} values for the "
                         f"parameters, got shape {vec.shape}")
    start = 0
    for p in params:
        n = p._data.size
        p._data[...] = vec._data[start:start + n].reshape(p._data.shape)
        p._vc[0] += 1
        start += n
