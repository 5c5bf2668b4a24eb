"""Gradient buckets: every gradient packed into a few flat buffers, one Allreduce per buffer.

Averaging each parameter's gradient with its own Allreduce costs one network latency per tensor
(a ResNet has hundreds); packing them into buffers of a few MiB pays it once per buffer and moves
the bytes at full bandwidth (PyTorch DDP's buckets, Horovod's tensor fusion). The parameters go in
reverse order, the order backward finishes their gradients in, so the first bucket holds the last
layers. Buckets are non-blocking (``Iallreduce``) and start *during* backward: a
post-accumulate-grad hook on each parameter (:meth:`GradientBuckets.grad_ready`) counts the
gradients of the pass that are complete, and a bucket starts as soon as all of its own are, while
backward goes on with the earlier layers (PyTorch DDP's reducer). Buckets start strictly in
bucket order (a bucket that is ready waits for the ones before it), so every rank calls the same
collectives in the same order whatever its timing; the buckets not started during backward start
in :meth:`GradientBuckets.reduce`, which waits for all of them.

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
from chainrule.errors import UsageError
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
        self.where = {id(p): k for k, b in enumerate(self.buckets) for p in b.params}
        self.reset()

    def reset(self):
        """Forget the backward passes counted and the buckets started (once waited for)."""
        self.passes = {}                       # id(param) -> complete gradients since the step
        self.missing = [len(b.params) for b in self.buckets]   # gradients each bucket awaits
        self.requests = []                     # the started buckets' requests, in bucket order
        self.weight = None                     # the weight the started buckets carry

    def grad_ready(self, param, passes_per_step, start=None):
        """The hook: *param*'s gradient of one backward pass is complete.

        After *passes_per_step* passes a parameter is done; then every bucket whose parameters
        are all done starts, in bucket order, when *start* ``(comm, MPI, weight)`` is given
        (else the buckets wait for :meth:`reduce`). A pass beyond *passes_per_step* raises
        UsageError: the bucket may already be on the wire without it.
        """
        k = self.where.get(id(param))
        if k is None:
            return
        n = self.passes.get(id(param), 0) + 1
        if n > passes_per_step:
            raise UsageError(
                f"DistributedOptimizer: a gradient was computed {n} times since the last step(), "
                f"but backward_passes_per_step={passes_per_step}, so its average may already be on "
                f"its way without this pass. To accumulate gradients over N backward passes per "
                f"step, pass backward_passes_per_step=N; to drop a pass, call opt.zero_grad()")
        self.passes[id(param)] = n
        if n == passes_per_step:
            self.missing[k] -= 1
        if start is not None:
            comm, MPI, weight = start
            while len(self.requests) < len(self.buckets) and self.missing[len(self.requests)] == 0:
                self._start(comm, MPI, weight)
            if self.requests:
                MPI.Request.Testall(self.requests)      # let MPI progress the started ones

    def _start(self, comm, MPI, weight):
        """Pack the next bucket and start its non-blocking Allreduce."""
        buf = self.buckets[len(self.requests)].pack(weight)
        device_ready(buf)
        self.weight = weight
        self.requests.append(comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM))

    def discard(self, MPI):
        """Wait for the started buckets and drop their sums (the gradients stay this rank's)."""
        if self.requests:
            MPI.Request.Waitall(self.requests)
        self.reset()

    def matches(self, params):
        """Whether the plan was made for exactly these parameter tensors, in this order."""
        return len(params) == len(self.params) and all(a is b for a, b in zip(params, self.params))

    def reduce(self, comm, MPI, weight=1.0, average=True):
        """Sum every bucket over the ranks (one non-blocking Allreduce each, those not started
        during backward now) and set the gradients.

        With *average*, each gradient becomes Σᵣ wᵣ·gᵣ / Σᵣ wᵣ, else Σᵣ wᵣ·gᵣ.
        """
        if self.requests and weight != self.weight:
            raise UsageError(f"DistributedOptimizer: the gradients went out during backward "
                             f"weighted by {self.weight}, but the step's sample count is "
                             f"{weight}; call set_sample_count before backward")
        while len(self.requests) < len(self.buckets):
            self._start(comm, MPI, weight)
        try:
            MPI.Request.Waitall(self.requests)
        finally:
            self.reset()
        for bucket in self.buckets:
            bucket.unpack(average)
