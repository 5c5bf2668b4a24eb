"""Start every rank from the same point: ``broadcast_parameters`` and ``broadcast_optimizer_state``.

Both are Horovod's: after building the model (and loading a checkpoint on rank 0, if any), copy
rank 0's weights and optimiser state to every rank, so that the ranks, which then apply the same
averaged gradients, stay identical. The tensors travel as raw bytes in a few flat buffers (one
``Bcast`` each, whatever their dtypes); the ranks first check that their models have the same
parameters (names, shapes, dtypes) and otherwise all raise a ShapeError naming the first mismatch.
"""
from collections.abc import Mapping

import numpy as np

from chainrule.distributed import world
from chainrule.distributed.agreement import agree, check_same_layout, signature
from chainrule.distributed.collectives import array_module, device_ready
from chainrule.errors import ArgumentTypeError, CheckpointError, ConfigError
from chainrule.tensor import Tensor

_CHUNK_BYTES = 64 << 20      # bytes per Bcast: large enough for bandwidth, bounded extra memory


def named_tensors(params, fn="broadcast_parameters"):
    """``[(name, tensor), ...]`` from a module (its state_dict), a state dict,
    ``named_parameters()`` pairs, or plain tensors (named by position)."""
    if callable(getattr(params, "state_dict", None)) and not isinstance(params, Mapping):
        params = params.state_dict()
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    out = []
    for i, item in enumerate(items):
        name, t = item if isinstance(item, tuple) and len(item) == 2 else (f"[{i}]", item)
        if not isinstance(t, (Tensor, np.ndarray)):
            raise ArgumentTypeError(f"{fn}: entry {name!r} is a {type(t).__name__}, expected a "
                                    "cr.Tensor; pass model.state_dict(), model.named_parameters() "
                                    "or a list of tensors")
        out.append((name, t))
    return out


def _array(t):
    return t._data if isinstance(t, Tensor) else t


def _chunks(arrays):
    """Split *arrays* into runs of about _CHUNK_BYTES (an array larger than that runs alone)."""
    run, size = [], 0
    for a in arrays:
        if run and size + a.nbytes > _CHUNK_BYTES:
            yield run
            run, size = [], 0
        run.append(a)
        size += a.nbytes
    if run:
        yield run


def broadcast_arrays(arrays, root, comm, write=None):
    """Make every rank's *arrays* equal to rank *root*'s, in place: raw bytes, one Bcast per chunk.

    *write(i)* is called after ``arrays[i]`` was overwritten (on the ranks other than the root).
    """
    is_root = comm.Get_rank() == root
    start = 0
    for run in _chunks(arrays):
        nbytes = sum(a.nbytes for a in run)
        if nbytes:
            mod = array_module(run[0])
            buf = mod.empty(nbytes, np.uint8)
            offsets, o = [], 0
            for a in run:
                offsets.append(o)
                if is_root:
                    buf[o:o + a.nbytes] = mod.ascontiguousarray(a).reshape(-1).view(np.uint8)
                o += a.nbytes
            device_ready(buf)
            comm.Bcast(buf, root=root)
            if not is_root:
                for a, o in zip(run, offsets):
                    a[...] = buf[o:o + a.nbytes].view(a.dtype).reshape(a.shape)
        if not is_root and write is not None:
            for i in range(start, start + len(run)):
                write(i)
        start += len(run)


def broadcast_parameters(params, root_rank=0):
    """Copy rank *root_rank*'s parameters (and buffers) into every rank's, in place.

    *params* is a module, its ``state_dict()`` (parameters and buffers such as BatchNorm's running
    statistics), ``named_parameters()``, or a list of tensors. As ``hvd.broadcast_parameters``.
    Raises ShapeError on every rank, naming the first mismatching parameter, when the ranks'
    models differ.

    Example::

        model = build_model()          # initialised differently on every rank
        cr.distributed.broadcast_parameters(model.state_dict(), root_rank=0)
    """
    comm = world.comm()
    root = _root("broadcast_parameters", root_rank)
    pairs = named_tensors(params)
    check_same_layout("broadcast_parameters", signature(pairs), root)
    tensors = [t for _, t in pairs]

    def bump(i):
        if isinstance(tensors[i], Tensor):
            tensors[i]._vc[0] += 1

    broadcast_arrays([_array(t) for t in tensors], root, comm, bump)


def _root(fn, root_rank):
    n = world.size()
    if isinstance(root_rank, bool) or not isinstance(root_rank, (int, np.integer)) \
            or not 0 <= root_rank < n:
        raise ConfigError(f"{fn}: root_rank must be a rank in [0, {n - 1}], got "
                         f"root_rank={root_rank!r}")
    return int(root_rank)


class _Slot:
    """Stands for the *index*-th tensor of an optimiser state while its structure travels."""

    __slots__ = ("index", "shape", "dtype")

    def __init__(self, index, shape, dtype):
        self.index, self.shape, self.dtype = index, shape, dtype

    def __reduce__(self):
        return _Slot, (self.index, self.shape, self.dtype)


def _strip(value, arrays):
    """*value* with each tensor replaced by a _Slot; the arrays appended to *arrays*."""
    if isinstance(value, (Tensor, np.ndarray)):
        arr = _array(value)
        arrays.append(arr)
        return _Slot(len(arrays) - 1, tuple(arr.shape), arr.dtype.str)
    if isinstance(value, Mapping):
        return {k: _strip(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_strip(v, arrays) for v in value)
    return value


def _fill(value, arrays):
    if isinstance(value, _Slot):
        return Tensor(arrays[value.index])
    if isinstance(value, dict):
        return {k: _fill(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_fill(v, arrays) for v in value)
    return value


def broadcast_optimizer_state(optimizer, root_rank=0):
    """Copy rank *root_rank*'s optimiser state (moments, step counts, learning rates) to every rank.

    The state dict's structure travels once (pickled, small), its tensors as raw bytes; the other
    ranks then ``load_state_dict`` it. As ``hvd.broadcast_optimizer_state``. If any rank cannot
    load it (a different model), every rank raises CheckpointError naming the rank and the reason.

    Example::

        if cr.distributed.rank() == 0:
            cr.load_checkpoint("ckpt.cr", model, opt)
        cr.distributed.broadcast_parameters(model.state_dict())
        cr.distributed.broadcast_optimizer_state(opt)
    """
    comm = world.comm()
    root = _root("broadcast_optimizer_state", root_rank)
    is_root = comm.Get_rank() == root
    arrays = []
    skeleton = _strip(optimizer.state_dict(), arrays) if is_root else None
    skeleton = comm.bcast(skeleton, root=root)
    if not is_root:
        slots = []
        _collect_slots(skeleton, slots)
        slots.sort(key=lambda s: s.index)
        mod = array_module(_first_param_array(optimizer))
        arrays = [mod.empty(s.shape, np.dtype(s.dtype)) for s in slots]
    broadcast_arrays(arrays, root, comm)
    error = None
    if not is_root:
        try:
            optimizer.load_state_dict(_fill(skeleton, arrays))
        except (ValueError, TypeError, KeyError, RuntimeError) as e:
            error = e
    agree("broadcast_optimizer_state", error, CheckpointError)


def _collect_slots(value, out):
    if isinstance(value, _Slot):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_slots(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect_slots(v, out)


def _first_param_array(optimizer):
    for group in optimizer.param_groups:
        for p in group["params"]:
            return p._data
    return np.empty(0)
