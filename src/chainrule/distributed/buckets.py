"""Gradient buckets: every gradient packed into a few flat buffers, one Allreduce per buffer.

Averaging each parameter's gradient with its own Allreduce costs one network latency per tensor
(a ResNet has hundreds); packing them into buffers of a few MiB pays it once per buffer and moves
the bytes at full bandwidth (PyTorch DDP's buckets, Horovod's tensor fusion). The parameters go in
reverse order, the order backward finishes their gradients in, so the first bucket holds the last
layers. Buckets are non-blocking (``Iallreduce``): bucket *k* is on the wire while bucket *k*+1 is
being packed, and all are waited for together.

A bucket's buffer holds, after the gradients, one "has a gradient" flag per parameter and the
rank's weight, so one Allreduce also tells every rank which parameters received a gradient
anywhere and the total weight::

    [ g_1 … g_m (flattened, × weight) | flag_1 … flag_k | weight ]

After the sum, a parameter's gradient is Σᵣ wᵣ·gᵣ / Σᵣ wᵣ (with wᵣ = 1: the plain mean over
ranks); a parameter that no rank had a gradient for keeps ``grad = None`` (the optimiser skips it,
as on one process). A rank whose weight is 0 (an empty shard of the batch) contributes nothing.
"""
import numpy as np

from chainrule.distributed.collectives import array_module, device_ready
from chainrule.tensor import Tensor


def reduce_dtype(dtype):
    """The dtype a gradient of *dtype* is summed in: its own; float32 for float16 (MPI has none)."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


class Bucket:
    """Some parameters of one reduction dtype and the flat buffer their gradients travel in."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.params = []
        self.offsets = []
        self.numel = 0
        self.buffer = None

    @property
    def nbytes(self):
        return self.numel * self.dtype.itemsize

    def add(self, param):
        self.params.append(param)
        self.offsets.append(self.numel)
        self.numel += param._data.size

    def pack(self, weight):
        """Write weight × each gradient (zeros for none), the flags and the weight; return it."""
        k = len(self.params)
        if self.buffer is None:
            self.buffer = array_module(self.params[0]._data).empty(self.numel + k + 1, self.dtype)
        buf = self.buffer
        grads, flags = buf[:self.numel], buf[self.numel:self.numel + k]
        if weight == 0:
            buf.fill(0)
            return buf
        present = [p.grad is not None for p in self.params]
        if all(present) and array_module(buf) is np:       # one call for the whole bucket
            np.concatenate([p.grad._data.reshape(-1) for p in self.params], out=grads,
                           casting="same_kind")
        else:
            for p, start, has in zip(self.params, self.offsets, present):
                grads[start:start + p._data.size] = p.grad._data.reshape(-1) if has else 0
        flags[...] = present
        if weight != 1:
            grads *= self.dtype.type(weight)
        buf[-1] = weight
        return buf

    def unpack(self, average):
        """Set each parameter's gradient from the summed buffer: ÷ Σ weights when *average*.

        The gradients are views of one fresh array per bucket (the buffer itself is reused by
        the next step), shaped and typed as their parameters."""
        buf = self.buffer
        total = buf[-1]
        flags = buf[self.numel:self.numel + len(self.params)]
        summed = buf[:self.numel]
        fresh = summed / total if average else summed.copy()
        for p, start, flag in zip(self.params, self.offsets, flags):
            if flag == 0 or total == 0:
                p.grad = None
                continue
            g = fresh[start:start + p._data.size].reshape(p._data.shape)
            p.grad = Tensor(g if g.dtype == p._data.dtype else g.astype(p._data.dtype))


class GradientBuckets:
    """The bucket plan for a list of parameters, and the averaging of their gradients.

    Args:
        params: the parameters (tensors), in the optimiser's order.
        cap_bytes: a bucket closes when the next gradient would take it past this size (a larger
            gradient gets a bucket of its own).
    """

    def __init__(self, params, cap_bytes):
        self.params = list(params)
        self.buckets = []
        open_by_dtype = {}
        for p in reversed(self.params):           # backward finishes the last layers first
            dtype = reduce_dtype(p._data.dtype)
            bucket = open_by_dtype.get(dtype)
            size = p._data.size * dtype.itemsize
            if bucket is None or (bucket.params and bucket.nbytes + size > cap_bytes):
                bucket = open_by_dtype[dtype] = Bucket(dtype)
                self.buckets.append(bucket)
            bucket.add(p)

    def matches(self, params):
        """Whether the plan was made for exactly these parameter tensors, in this order."""
        return len(params) == len(self.params) and all(a is b for a, b in zip(params, self.params))

    def reduce(self, comm, MPI, weight=1.0, average=True):
        """Sum every bucket over the ranks (one non-blocking Allreduce each) and set the gradients.

        With *average*, each gradient becomes Σᵣ wᵣ·gᵣ / Σᵣ wᵣ, else Σᵣ wᵣ·gᵣ.
        """
        requests = []
        for bucket in self.buckets:
            buf = bucket.pack(weight)
            device_ready(buf)
            requests.append(comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM))
        MPI.Request.Waitall(requests)
        for bucket in self.buckets:
            bucket.unpack(average)
