"""Keras masks: which time steps of a padded sequence are real, carried from layer to layer.

``Embedding(mask_zero=True)`` marks the steps whose id is not 0; the mask travels with the
layer's output tensor (as Keras 3's ``_keras_mask``), and a layer that takes a ``mask`` (the
recurrent layers, ``Bidirectional``, ``Attention``, ``MultiHeadAttention``) receives it without
being told. A :class:`MaskedLayer` reads the masks of its inputs, passes them to ``forward`` and
attaches ``compute_mask(inputs, mask)`` to its outputs.

The masks are kept beside the tensors (a tensor's attributes are fixed), keyed by identity and
dropped when the tensor is freed. Example::

    >>> emb = cr.layers.Embedding(10, 4, mask_zero=True)
    >>> y = emb(cr.tensor([[3, 1, 0, 0]]))
    >>> get_keras_mask(y)
    tensor([[ True,  True, False, False]])
"""
import inspect
import weakref

import numpy as np

from chainrule.errors import DTypeError, ShapeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.symbolic import is_symbolic
from chainrule.tensor import Tensor

_MASKS = {}   # id(tensor) -> (weak reference to the tensor, its mask)


def set_keras_mask(x, mask):
    """Attach *mask* (a bool Tensor, or None to remove it) to the tensor *x*."""
    if not isinstance(x, Tensor):
        return
    key = id(x)
    if mask is None:
        _MASKS.pop(key, None)
        return

    def forget(ref, key=key):
        entry = _MASKS.get(key)
        if entry is not None and entry[0] is ref:
            del _MASKS[key]

    _MASKS[key] = (weakref.ref(x, forget), mask)


def get_keras_mask(x):
    """The mask attached to the tensor *x* (a bool Tensor), or None."""
    entry = _MASKS.get(id(x)) if isinstance(x, Tensor) else None
    if entry is None or entry[0]() is not x:
        return None
    return entry[1]


def check_sequence_mask(mask, batch, steps, where):
    """A (batch, steps) bool Tensor from a bool or 0/1 integer mask, or a clear error."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        mask = Tensor(np.asarray(mask))       # an op mixing it with device data says so
    kind = mask._data.dtype.kind
    if kind not in "biu":
        raise DTypeError(f"{where}: mask must be a bool (or 0/1 integer) tensor of shape "
                         f"(batch, timesteps), received dtype {mask.dtype}")
    if tuple(mask.shape) != (batch, steps):
        raise ShapeError(f"{where}: mask must have shape (batch, timesteps) = ({batch}, {steps}) "
                         f"to match the inputs, received a mask of shape {tuple(mask.shape)}")
    return mask if kind == "b" else Tensor(mask._data != 0)


def _masks_of(inputs):
    if isinstance(inputs, (list, tuple)):
        masks = [get_keras_mask(x) for x in inputs]
        return masks if any(m is not None for m in masks) else None
    return get_keras_mask(inputs)


class MaskedLayer(Layer):
    """A layer that receives its inputs' masks in ``forward(..., mask=...)`` (if it takes one) and
    gives its outputs ``compute_mask(inputs, mask)`` (by default: the input mask, unchanged)."""

    supports_masking = True
    _takes_mask = {}

    @classmethod
    def _forward_takes_mask(cls):
        flag = MaskedLayer._takes_mask.get(cls)
        if flag is None:
            flag = "mask" in inspect.signature(cls.forward).parameters
            MaskedLayer._takes_mask[cls] = flag
        return flag

    def __call__(self, inputs, *args, **kwargs):
        if is_symbolic(inputs):
            return super().__call__(inputs, *args, **kwargs)
        mask = kwargs.pop("mask", None)
        if mask is None:
            mask = _masks_of(inputs)
        if self._forward_takes_mask():
            kwargs["mask"] = mask
        out = super().__call__(inputs, *args, **kwargs)
        out_mask = self.compute_mask(inputs, mask)
        if isinstance(out, (list, tuple)):
            masks = out_mask if isinstance(out_mask, (list, tuple)) else [out_mask] + \
                [None] * (len(out) - 1)
            for o, m in zip(out, masks):
                set_keras_mask(o, m)
        else:
            set_keras_mask(out, out_mask)
        return out

    def compute_mask(self, inputs, mask=None):
        """The mask of the output: the input's mask by default (layers that keep time steps)."""
        return mask
