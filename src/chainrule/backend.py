"""The array backend: the one module through which chainrule touches array memory.

Every op computes on the arrays held in ``Tensor.data`` with the functions of ``xp``, an array
module with NumPy's interface.  Today that is NumPy on the CPU; a GPU array library with the same
interface (CuPy) can be added as a second device here without rewriting any op.
"""
import numpy as np

xp = np
"""The array module the ops compute with (NumPy's interface)."""

ndarray = np.ndarray


class Device:
    """Where a tensor's memory lives, as in ``torch.device``. Only ``"cpu"`` exists today."""

    __slots__ = ("type",)

    def __init__(self, type="cpu"):
        if isinstance(type, Device):
            type = type.type
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type!r}")
        name = type.split(":")[0]
        if name != "cpu":
            raise RuntimeError(
                f"device {type!r} is not available: chainrule computes on the CPU with NumPy today "
                f"(a CuPy GPU backend is planned); use device='cpu'")
        self.type = "cpu"

    def __repr__(self):
        return f"device(type='{self.type}')"

    def __str__(self):
        return self.type

    def __eq__(self, other):
        if isinstance(other, str):
            return other.split(":")[0] == self.type
        return isinstance(other, Device) and other.type == self.type

    def __hash__(self):
        return hash(self.type)


cpu = Device("cpu")


def device(spec=None):
    """Return the :class:`Device` named by *spec* (``None``, ``"cpu"`` or a Device)."""
    if spec is None or spec is cpu:
        return cpu
    return Device(spec)


def asarray(data, dtype=None):
    """Convert *data* (nested lists, scalars, arrays) to a backend array of *dtype*."""
    return xp.asarray(data, dtype=dtype)
