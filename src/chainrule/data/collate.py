"""Turning a list of samples into a batch, as ``torch.utils.data.default_collate`` does.

Tensors, NumPy arrays and numbers are stacked into a tensor along a new first dimension (Python
floats become float64, ints int64, as in PyTorch); dicts, named tuples, tuples and lists are
collated field by field (a tuple of fields becomes a list, as in PyTorch); strings stay a list.
Batches are built from the stored values and are not recorded by autograd.
"""
import collections.abc
import copy
import numbers

import numpy as np

from chainrule.errors import ArgumentTypeError, DTypeError, ShapeError
from chainrule.tensor import Tensor

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}; pass a collate_fn to batch other types")


def _stack(arrays):
    first = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.shape != first:
            raise ShapeError(f"default_collate: cannot stack samples of different shapes: sample 0 "
                             f"has shape {first}, sample {i} has shape {a.shape}; give samples of "
                             f"one shape or pass a collate_fn")
    return Tensor(np.stack(arrays))


def _is_text_array(a):
    return a.dtype.kind in "OSUV"


def default_collate(batch):
    """Stack a list of samples into a batch along a new first dimension, as PyTorch's ``default_collate``.

    Example::

        >>> import numpy as np
        >>> x, y = default_collate([(np.zeros(3), 0), (np.ones(3), 1)])
        >>> x.shape, y.tolist()
        ((2, 3), [0, 1])
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([t._data for t in batch])
    if isinstance(elem, np.ndarray):
        if _is_text_array(elem):
            raise DTypeError(_ERR.format(f"a numpy array of dtype {elem.dtype}"))
        return _stack([np.asarray(a) for a in batch])
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return Tensor(np.array(batch))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, numbers.Integral):
        arr = np.array(batch)
        return Tensor(arr.astype(np.int64) if arr.dtype.kind in "iu" else arr)
    if isinstance(elem, (str, bytes, np.str_, np.bytes_)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(out)
            return clone
        return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = [len(s) for s in batch]
        if len(set(sizes)) != 1:
            raise ShapeError(f"default_collate: each sample in the batch must have the same number "
                             f"of fields; got sizes {sizes}")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise ArgumentTypeError(_ERR.format(type(elem).__name__))


def default_convert(data):
    """Turn NumPy arrays (also inside dicts, tuples and lists) into tensors; leave the rest as is.

    The loader applies it to each sample when batching is off (``batch_size=None``).
    Example: ``default_convert((np.zeros(2), 1))`` is ``[Tensor([0., 0.]), 1]``.
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _is_text_array(data) else Tensor(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        out = {key: default_convert(data[key]) for key in data}
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(out)
            return clone
        return out
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (tuple, list)):
        return [default_convert(d) for d in data]
    return data
