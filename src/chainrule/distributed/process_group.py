"""``ProcessGroup``: the ranks of an mpi4py communicator, as the layers below ``distributed`` see
them (``cr.nn.SyncBatchNorm`` takes one): ``size()`` and ``all_reduce_sum(array)``.

``nn`` may not import ``distributed`` (it sits above it), so ``nn`` defines what a process group
must do and ``distributed`` provides it: :func:`world_group` (the world of :func:`init`) is what
``SyncBatchNorm`` uses when given no group.
"""
from chainrule.distributed import world
from chainrule.distributed.collectives import device_ready
from chainrule.errors import ArgumentTypeError


class ProcessGroup:
    """The ranks of *comm* (an mpi4py communicator; None: the world of ``cr.distributed.init()``).

    Example: ``cr.nn.SyncBatchNorm(64, process_group=cr.distributed.ProcessGroup(sub_comm))``.
    """

    def __init__(self, comm=None):
        if comm is None:
            comm = world.comm()
        if not hasattr(comm, "Allreduce") or not hasattr(comm, "Get_size"):
            raise ArgumentTypeError(f"ProcessGroup: comm must be an mpi4py communicator, got "
                                    f"{type(comm).__name__}")
        self.comm = comm

    def size(self):
        """The number of ranks in the group."""
        return self.comm.Get_size()

    def all_reduce_sum(self, array):
        """Sum *array* (contiguous; a NumPy or a GPU array) over the group's ranks, in place."""
        MPI = world.mpi()
        device_ready(array)
        self.comm.Allreduce(MPI.IN_PLACE, array, op=MPI.SUM)


_WORLD = {}


def world_group():
    """The process group of the whole job after :func:`init`; None before it."""
    if not world.is_initialized():
        return None
    comm = world.comm()
    group = _WORLD.get("group")
    if group is None or group.comm is not comm:
        group = _WORLD["group"] = ProcessGroup(comm)
    return group
