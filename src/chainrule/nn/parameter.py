"""``Parameter``: a tensor that a Module registers as one of its weights."""
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad and is collected by ``Module.parameters()``.

    ``cr.nn.Parameter(cr.zeros(3))`` shares the given tensor's memory, as in PyTorch.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = Tensor([])
        super().__init__(data._data if isinstance(data, Tensor) else data)
        if isinstance(data, Tensor):
            self._vc = data._vc
        self.requires_grad = requires_grad

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
