"""``SyncBatchNorm``: batch normalisation whose statistics are those of the global batch, over
every rank of a data-parallel job.

In training, each rank sums its shard per channel (Σx, Σx², the count), one Allreduce adds the
ranks' sums, and every rank normalises with the global mean and biased variance
μ = Σx / n, σ² = Σx² / n − μ². The Allreduce is a differentiable op whose backward is the same
Allreduce of the gradients of those sums, so backward runs the matching reduction: each rank's
x̄ is its rows' share of the gradient of the ranks' summed loss, exactly as one process would
compute it on the whole batch (with equal shards; ``DistributedOptimizer`` then averages).

Layering: this module knows nothing of MPI. It talks to a *process group*, any object with
``size()`` and ``all_reduce_sum(array)`` (sum an array in place over the group's ranks);
``cr.distributed`` (a layer above ``nn``) fills in :data:`default_process_group` with the world
of ``cr.distributed.init()``, and ``cr.distributed.ProcessGroup(comm)`` wraps another mpi4py
communicator. Without ``init`` (or with one rank, or in ``eval()``) it is ``BatchNorm``.
"""
from chainrule import dtypes
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ShapeError
from chainrule.function import Op
from chainrule.grad_mode import no_grad
from chainrule.nn.functional.normalization import _count, _update_running
from chainrule.nn.modules.normalization import BatchNorm1d
from chainrule.ops.shape import cat
from chainrule.tensor import Tensor

default_process_group = None
"""A callable returning the process group SyncBatchNorm uses when given none (the world of
``cr.distributed.init()``, or None before it); set by ``chainrule.distributed``."""


class _AllReduceSum(Op):
    """y = Σ over the ranks of x.  Each rank's loss depends on every rank's x through y, so
    x̄ = Σ over the ranks of ȳ: the same Allreduce, on the gradients."""

    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        out = x._data.copy()
        group.all_reduce_sum(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return ctx.call(_AllReduceSum, g, ctx.group), None


class SyncBatchNorm(BatchNorm1d):
    """y = γ (x - μ) / √(σ² + eps) + β per channel C of (N, C, *) input, with μ and σ² (and the
    running statistics) taken over the batch of **every rank** in training (PyTorch's class).

    Args as ``BatchNorm1d``, plus ``process_group``: None for the world of
    ``cr.distributed.init()``, or a ``cr.distributed.ProcessGroup``. With one rank, without
    ``init``, or in ``eval()`` it computes exactly what ``BatchNorm1d``/``BatchNorm2d`` do.
    Every rank must run it in the same order (it is a collective) on a non-empty shard.

    >>> bn = cr.nn.SyncBatchNorm(3)
    >>> bn(cr.randn(8, 3, 4, 4)).shape
    (8, 3, 4, 4)
    >>> model = cr.nn.SyncBatchNorm.convert_sync_batchnorm(cr.nn.Sequential(cr.nn.BatchNorm1d(2)))
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)
        if process_group is not None and not (hasattr(process_group, "all_reduce_sum")
                                              and hasattr(process_group, "size")):
            raise ArgumentTypeError(f"SyncBatchNorm: process_group must be None (the world of "
                                    f"cr.distributed.init()) or a cr.distributed.ProcessGroup, "
                                    f"got {type(process_group).__name__}")
        self.process_group = process_group

    def _group(self):
        """The group to synchronise over now, or None: BatchNorm's own computation."""
        if not self.training:
            return None
        group = self.process_group
        if group is None and default_process_group is not None:
            group = default_process_group()
        return group if group is not None and group.size() > 1 else None

    def forward(self, input):
        shape = input.shape
        if len(shape) < 2:
            raise ShapeError(f"SyncBatchNorm({self.num_features}): expected at least 2D input "
                             f"(N, C, *), got {len(shape)}D input of shape {shape}")
        if shape[1] != self.num_features:
            raise ShapeError(f"SyncBatchNorm({self.num_features}): expected input with "
                             f"{self.num_features} channels in dimension 1, got shape {shape}")
        if len(shape) <= 3:
            return self._forward_ncl(input)
        k = len(shape)                 # as BatchNorm2d: channel by channel, (1, C, H·W·…·N)
        rows = input.permute(1, *range(2, k), 0).reshape(1, shape[1], -1)
        out = self._forward_ncl(rows).reshape((shape[1],) + tuple(shape[2:]) + (shape[0],))
        return out.permute(k - 1, *range(k - 1))

    def _forward_ncl(self, x):
        group = self._group()
        if group is None:
            return super().forward(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        c = self.num_features
        axes = (0,) if x.ndim == 2 else (0, 2)
        pshape = (c,) if x.ndim == 2 else (c, 1)
        x64 = x if x.dtype == dtypes.float64 else x.to(dtypes.float64)
        count = namespace_of(x64._data).full((1,), _count(x64.shape, axes), dtype=x64._data.dtype)
        local = cat([x64.sum(dim=axes), (x64 * x64).sum(dim=axes), Tensor(count)])
        total = _AllReduceSum.apply(local, group)
        n = float(total._data[-1])
        if n <= 1:
            raise ShapeError(f"SyncBatchNorm: expected more than 1 value per channel when "
                             f"training, got {n:g} over all ranks")
        mean = total[:c] / n
        var = (total[c:2 * c] / n - mean * mean).clamp_min(0.0)
        if self.track_running_stats:
            with no_grad():
                _update_running((self.running_mean, self.running_var, factor), mean._data,
                                var._data, n)
        rstd = (var + self.eps).rsqrt()
        y = (x - mean.to(x.dtype).reshape(pshape)) * rstd.to(x.dtype).reshape(pshape)
        if self.weight is not None:
            y = y * self.weight.reshape(pshape)
        if self.bias is not None:
            y = y + self.bias.reshape(pshape)
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every ``BatchNorm1d``/``BatchNorm2d`` in *module* (or *module* itself) by a
        SyncBatchNorm sharing its parameters and buffers; returns the converted module."""
        out = module
        if isinstance(module, BatchNorm1d) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group,
                      dtype=_dtype_of(module), bias=module.bias is not None or not module.affine)
            if module.affine:
                out.weight = module.weight
                if module.bias is not None:
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


def _dtype_of(module):
    for t in (module.weight, module.running_mean):
        if isinstance(t, Tensor):
            return t.dtype
    return None


__all__ = ["SyncBatchNorm"]
