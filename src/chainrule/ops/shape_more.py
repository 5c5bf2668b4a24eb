"""More shape methods: ``ravel, split_with_sizes, hsplit, vsplit, dsplit, sum_to_size``, and the
in-place view changes ``squeeze_, unsqueeze_, t_, transpose_``.

All are compositions of the shape ops (``shape.py``, ``rearrange.py``), whose VJPs undo them.
The in-place view changes only change the tensor's metadata, as PyTorch's: the tensor keeps its
memory, takes the view's shape (and, in a graph, the view's node), and its version is bumped so a
saved copy of the old shape is caught.
"""
import numbers

from chainrule.errors import AutogradError, ShapeError
from chainrule.grad_mode import check_inplace_on_inference
from chainrule.grad_mode import state as _grad_state
from chainrule.ops._util import normalize_dim
from chainrule.ops.rearrange import tensor_split
from chainrule.ops.shape import reshape, split, squeeze, sum_to, t, transpose, unsqueeze


def ravel(input):
    """The elements as a 1-D tensor in row-major order (a view when the memory allows).

    >>> tuple(cr.ones(2, 3).ravel().shape)
    (6,)
    """
    return reshape(input, (-1,))


def split_with_sizes(input, split_sizes, dim=0):
    """Split along *dim* into pieces of *split_sizes*, which must sum to the dimension's size.

    >>> [p.shape for p in cr.ones(5).split_with_sizes([2, 3])]
    [(2,), (3,)]
    """
    d = normalize_dim(dim, input._data.ndim, "split_with_sizes")
    sizes = [int(s) for s in split_sizes]
    n = input._data.shape[d] if input._data.ndim else 1
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise ShapeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                         f"tensor's size at dimension {d}), but got split_sizes={sizes}")
    return tuple(split(input, sizes, d))


def _nsplit(input, indices_or_sections, dim, need, op):
    nd = input._data.ndim
    if nd < need:
        raise ShapeError(f"torch.{op} requires a tensor with at least {need} dimension"
                         f"{'s' if need > 1 else ''}, but got a tensor with {nd} dimensions!")
    if isinstance(indices_or_sections, numbers.Integral):
        n = input._data.shape[dim]
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ShapeError(f"torch.{op} attempted to split along dimension {dim}, but the size "
                             f"of the dimension {n} is not divisible by the split_size "
                             f"{indices_or_sections}!")
    return tuple(tensor_split(input, indices_or_sections, dim))


def hsplit(input, indices_or_sections):
    """Split column-wise: along dim 1 (dim 0 for a 1-D tensor), into equal parts or at indices."""
    return _nsplit(input, indices_or_sections, 1 if input._data.ndim > 1 else 0, 1, "hsplit")


def vsplit(input, indices_or_sections):
    """Split row-wise: along dim 0 of a tensor with at least 2 dimensions."""
    return _nsplit(input, indices_or_sections, 0, 2, "vsplit")


def dsplit(input, indices_or_sections):
    """Split depth-wise: along dim 2 of a tensor with at least 3 dimensions."""
    return _nsplit(input, indices_or_sections, 2, 3, "dsplit")


def sum_to_size(input, *size):
    """Sum down to *size*, which must expand to the tensor's shape (the adjoint of ``expand``).

    >>> cr.ones(2, 3).sum_to_size(1, 3)
    tensor([[2., 2., 2.]])
    """
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    shape = tuple(input._data.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != shape[lead + i] for i, s in enumerate(size)):
        raise ShapeError(f"sum_to_size: size {list(size)} is not expandable to size "
                         f"{list(shape)}")
    return reshape(sum_to(input, size), size) if size != shape else input


def _view_inplace(x, fn, *args):
    """Give *x* the shape of the view ``fn(x, *args)`` in place: metadata only, as PyTorch."""
    if type(x._vc) is not list:      # an inference tensor
        check_inplace_on_inference()
    graph = _grad_state.enabled and x._requires_grad
    if graph and x.grad_fn is None:
        raise AutogradError("a leaf Variable that requires grad is being used in an in-place "
                            "operation.")
    res = fn(x, *args)
    if res is x:
        return x
    x._data = res._data
    if graph:
        x.grad_fn, x._output_nr = res.grad_fn, res._output_nr
    if x._view_of is not None:       # its base's history can no longer be rebased through it
        x._view_of = (x._view_of[0], None, None)
    x._vc[0] += 1
    return x


def squeeze_(input, dim=None):
    """``squeeze`` in place: drop size-1 dimensions from the tensor's own shape."""
    return _view_inplace(input, squeeze, dim)


def unsqueeze_(input, dim):
    """``unsqueeze`` in place: insert a size-1 dimension into the tensor's own shape."""
    return _view_inplace(input, unsqueeze, dim)


def t_(input):
    """``t`` in place: transpose a matrix's own shape and strides."""
    return _view_inplace(input, t)


def transpose_(input, dim0, dim1):
    """``transpose`` in place: swap two dimensions of the tensor's own shape and strides."""
    return _view_inplace(input, transpose, dim0, dim1)
