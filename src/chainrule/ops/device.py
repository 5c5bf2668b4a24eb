"""Moving a tensor between devices: ``x.to("cuda")``, ``x.cuda()``, ``x.cpu()``.

A copy between devices is an op like any other: its Jacobian is the identity, so the gradient
flows back as a copy to the source device (as in PyTorch, ``x.cuda().sum().backward()`` fills the
CPU tensor's ``.grad``).
"""
from chainrule.backend import device as _device, device_of, to_device
from chainrule.function import Op
from chainrule.tensor import Tensor


class ToDevice(Op):
    """y = x on another device.  x̄ = ȳ copied back to x's device; ẏ = ẋ copied to the device."""

    @staticmethod
    def forward(ctx, x, device):
        ctx.src = device_of(x._data)
        return to_device(x._data, device)

    @staticmethod
    def backward(ctx, gy):
        if isinstance(gy, Tensor):
            return ToDevice.apply(gy, ctx.src), None
        return to_device(gy, ctx.src), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = ẋ on the same device as y."""
        return ctx.call(ToDevice, tx, ctx.primals[1])


def to_device_op(input, device):
    """*input* on *device*: the tensor itself when it is there already, else a differentiable copy."""
    dev = _device(device)
    if device_of(input._data) == dev:
        return input
    return ToDevice.apply(input, dev)


def cuda(input, device=None, non_blocking=False):
    """A copy on the GPU (``device`` an index or "cuda:N"; default the first GPU)."""
    if device is None:
        dev = _device("cuda")
    elif isinstance(device, int):
        dev = _device("cuda", device)
    else:
        dev = _device(device)
    return to_device_op(input, dev)


def cpu(input):
    """A copy in host memory (the tensor itself when it is on the CPU already)."""
    return to_device_op(input, "cpu")
