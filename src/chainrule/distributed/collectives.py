"""Collectives on tensors: ``all_reduce`` (in place), ``broadcast`` and ``all_gather``.

torch.distributed's names and arguments, run as MPI's buffer collectives (``Allreduce``, ``Bcast``,
``Allgather`` on the tensor's array itself: no pickling). Every rank must call the same collective
in the same order with tensors of the same shape and dtype, as in torch.distributed and MPI.

Device: the buffers handed to MPI are the tensors' own arrays, or working copies made by the
array's own module (``numpy`` today; ``cupy`` for GPU tensors), so a GPU tensor's data stays on the
GPU and reaches the network through a CUDA-aware MPI (Open MPI with UCX, MVAPICH2-GDR, Cray MPICH,
MPICH built with CUDA), which mpi4py passes device memory to through ``__cuda_array_interface__``.
chainrule waits for the GPU's pending work on a buffer before MPI reads it.
"""
import sys

import numpy as np

from chainrule.distributed import world
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError, suggest
from chainrule.tensor import Tensor


class ReduceOp:
    """The reductions of :func:`all_reduce`, as ``torch.distributed.ReduceOp`` (plain strings)."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


_OPS = ("sum", "avg", "max", "min")


def array_module(arr):
    """The module that made the array *arr* (``numpy``; ``cupy`` for a GPU array): buffers for
    MPI are made with it, so they live where *arr* lives."""
    top = type(arr).__module__.split(".")[0]
    return sys.modules.get(top, np)


def device_ready(arr):
    """Wait until the GPU has finished writing *arr* (no-op for CPU arrays): MPI reads device
    memory directly and knows nothing of CUDA streams."""
    if hasattr(arr, "__cuda_array_interface__"):
        cuda = getattr(array_module(arr), "cuda", None)
        if cuda is not None:
            cuda.get_current_stream().synchronize()


def _check_tensor(fn, tensor, name="tensor"):
    if not isinstance(tensor, Tensor):
        raise ArgumentTypeError(f"{fn}: {name} must be a cr.Tensor, got {type(tensor).__name__}")


def _mpi_op(MPI, op):
    key = op.lower() if isinstance(op, str) else op
    if key not in _OPS:
        raise ConfigError(f"all_reduce: op must be one of {', '.join(map(repr, _OPS))} "
                          f"(cr.distributed.ReduceOp), got op={op!r}.{suggest(str(op), _OPS)}")
    return key, {"sum": MPI.SUM, "avg": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[key]


def _working(arr):
    """(buffer MPI can use, whether it is a copy that must be written back into *arr*).

    A copy where *arr* is not contiguous, or of a dtype MPI lacks: float16 is reduced in float32,
    bool as uint8."""
    mod = array_module(arr)
    if arr.dtype == np.float16:
        return arr.astype(np.float32), True
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8), True
    if not arr.flags.c_contiguous:
        return mod.ascontiguousarray(arr), True
    return arr, False


def _write_back(tensor, buf, copied):
    if copied:
        tensor._data[...] = buf.astype(tensor._data.dtype, copy=False)
    tensor._vc[0] += 1


def all_reduce(tensor, op="sum"):
    """Combine *tensor* over all ranks, in place: every rank ends with the sum (or mean, max, min).

    ``op``: ``"sum"``, ``"avg"`` (the sum over size(); floating tensors only), ``"max"``,
    ``"min"`` (or ``cr.distributed.ReduceOp.SUM`` …). As ``torch.distributed.all_reduce``: one
    MPI ``Allreduce`` on the tensor's own array; returns None.

    Example: on 2 ranks, ``t = cr.tensor([rank() + 1.0]); all_reduce(t)`` leaves [3.] in both.
    """
    _check_tensor("all_reduce", tensor)
    comm = world.comm()
    MPI = world.mpi()
    key, mpi_op = _mpi_op(MPI, op)
    arr = tensor._data
    if arr.dtype == np.bool_ and key in ("sum", "avg"):
        raise DTypeError(f"all_reduce: op={key!r} is not defined for dtype bool; use "
                         f"'max' (any) or 'min' (all), or convert it to int first")
    if key == "avg" and arr.dtype.kind != "f":
        raise DTypeError(f"all_reduce: op='avg' needs a floating-point tensor, got dtype "
                         f"{arr.dtype}; use op='sum' and divide, or convert it to float")
    buf, copied = _working(arr)
    device_ready(buf)
    comm.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
    if key == "avg":
        buf /= buf.dtype.type(comm.Get_size())
    _write_back(tensor, buf, copied)


def _check_root(fn, src, name):
    n = world.size()
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < n:
        raise ConfigError(f"{fn}: {name} must be a rank in [0, {n - 1}], got {name}={src!r}")
    return int(src)


def broadcast(tensor, src=0):
    """Copy *tensor* from rank *src* into the same tensor on every other rank, in place.

    As ``torch.distributed.broadcast``: one MPI ``Bcast`` on the tensor's own array.

    Example: ``w = cr.randn(3); broadcast(w, src=0)`` gives every rank rank 0's ``w``.
    """
    _check_tensor("broadcast", tensor)
    comm = world.comm()
    src = _check_root("broadcast", src, "src")
    buf, copied = _working(tensor._data)
    device_ready(buf)
    comm.Bcast(buf, root=src)
    _write_back(tensor, buf, copied)


def all_gather(tensor_list, tensor):
    """Gather *tensor* from every rank into *tensor_list* (one tensor per rank, in rank order).

    As ``torch.distributed.all_gather``: *tensor_list* holds size() tensors of *tensor*'s shape and
    dtype, overwritten in place; one MPI ``Allgather``.

    Example::

        parts = [cr.zeros(2) for _ in range(cr.distributed.size())]
        cr.distributed.all_gather(parts, cr.full((2,), float(cr.distributed.rank())))
        # parts == [tensor([0., 0.]), tensor([1., 1.]), ...] on every rank
    """
    _check_tensor("all_gather", tensor)
    comm = world.comm()
    n = comm.Get_size()
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != n:
        got = (len(tensor_list) if isinstance(tensor_list, (list, tuple))
               else type(tensor_list).__name__)
        raise ShapeError(f"all_gather: tensor_list must be a list of {n} tensors (one per rank), "
                         f"got {got}")
    for i, t in enumerate(tensor_list):
        _check_tensor("all_gather", t, f"tensor_list[{i}]")
        if t.shape != tensor.shape or t.dtype != tensor.dtype:
            raise ShapeError(f"all_gather: tensor_list[{i}] has shape {tuple(t.shape)} and dtype "
                             f"{t.dtype}, but tensor has shape {tuple(tensor.shape)} and dtype "
                             f"{tensor.dtype}; they must match")
    send, _ = _working(tensor._data)
    send = array_module(send).ascontiguousarray(send)
    recv = array_module(send).empty((n,) + send.shape, dtype=send.dtype)
    device_ready(send)
    comm.Allgather(send, recv)
    for t, part in zip(tensor_list, recv):
        t._data[...] = part.astype(t._data.dtype, copy=False)
        t._vc[0] += 1
