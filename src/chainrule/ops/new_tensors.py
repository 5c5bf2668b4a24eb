"""``x.new_zeros, new_ones, new_empty, new_full, new_tensor``: new tensors with x's dtype and
device unless told otherwise, as PyTorch's ``Tensor.new_*``."""
from chainrule import factories
from chainrule.factories import _size


def _where(self, dtype, device):
    return (self._data.dtype if dtype is None else dtype), (self.device if device is None
                                                           else device)


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    """Zeros of *size*, with this tensor's dtype and device by default."""
    dtype, device = _where(self, dtype, device)
    return factories.zeros(_size(size, "new_zeros"), dtype=dtype, device=device,
                           requires_grad=requires_grad)


def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    """Ones of *size*, with this tensor's dtype and device by default."""
    dtype, device = _where(self, dtype, device)
    return factories.ones(_size(size, "new_ones"), dtype=dtype, device=device,
                          requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor of *size*, with this tensor's dtype and device by default."""
    dtype, device = _where(self, dtype, device)
    return factories.empty(_size(size, "new_empty"), dtype=dtype, device=device,
                           requires_grad=requires_grad)


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """*fill_value* everywhere in *size*, converted to this tensor's dtype by default."""
    dtype, device = _where(self, dtype, device)
    return factories.full(_size((size,) if isinstance(size, int) else (tuple(size),),
                                "new_full"), fill_value, dtype=dtype, device=device,
                          requires_grad=requires_grad)


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    """A copy of *data* (detached when it is a tensor) with this tensor's dtype and device by
    default: ``x.new_tensor([1, 2])``."""
    dtype, device = _where(self, dtype, device)
    if hasattr(data, "detach"):
        data = data.detach()
    return factories.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


NEW = {"new_zeros": new_zeros, "new_ones": new_ones, "new_empty": new_empty,
       "new_full": new_full, "new_tensor": new_tensor}
