"""The MPI world: starting it (``init``), who this process is (``rank``, ``size``, ``local_rank``),
waiting for everyone (``barrier``) and ending everyone (``abort``).

``mpiexec -n N python train.py`` starts N copies of a script; ``init()`` joins them into one MPI
communicator through mpi4py (imported only here, only when ``init`` is called, so ``import
chainrule`` never needs it). Ranks are numbered 0 … N−1; rank 0 is the *main process*, the one
that prints and writes files.

Faults: after ``init()`` in a job of two or more ranks, an exception that escapes on any rank prints
its traceback and calls ``MPI_Abort``, which ends every rank at once with a non-zero exit status,
instead of leaving the others waiting forever in their next collective. A rank that wants to stop
the job with an error code calls :func:`abort` (a plain ``sys.exit(code)`` on one rank leaves the
others waiting).
"""
import os
import sys
import time

from chainrule.errors import ConfigError

_INSTALL_HINT = ("cr.distributed needs mpi4py and an MPI library: pip install chainrule[mpi] "
                 "(mpi4py and the mpich wheel from PyPI), or pip install mpi4py against a system "
                 "MPI (Open MPI, MPICH, Intel MPI, Cray MPICH)")

# Environment variables that MPI launchers set in every process they start: the world size.
_LAUNCHER_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE",   # Open MPI's mpiexec
                       "PMI_SIZE",               # MPICH / Intel MPI (hydra), srun --mpi=pmi2
                       "MV2_COMM_WORLD_SIZE",    # MVAPICH2
                       "PMIX_SIZE")              # some PMIx launchers


class _World:
    """The state of this process's membership in the job (one instance, module-level)."""

    def __init__(self):
        self.MPI = None          # the mpi4py.MPI module, once init() ran
        self.comm = None         # chainrule's own duplicate of the world communicator
        self.local_comm = None   # the ranks that share this node's memory
        self.grad_comm = None    # another duplicate, for DistributedOptimizer's gradient buckets
        self.previous_hook = None


_world = _World()


def launched_size(environ=None):
    """The number of ranks an MPI launcher (mpiexec, mpirun, srun) started, read from the
    environment without touching MPI; 1 when the process was not started by one.

    Lets a program decide to call :func:`init` only under ``mpiexec -n N`` with N > 1.

    Example: ``if cr.distributed.launched_size() > 1: cr.distributed.init()``.
    """
    env = os.environ if environ is None else environ
    for name in _LAUNCHER_SIZE_VARS:
        value = env.get(name, "")
        if value.strip().isdigit() and int(value) > 0:
            return int(value)
    return 1


def _import_mpi():
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as e:    # no mpi4py, or no MPI library for it
        raise ImportError(f"{_INSTALL_HINT} ({type(e).__name__}: {e})") from None
    return MPI


def init(comm=None):
    """Join the MPI job: the world of ranks started by ``mpiexec -n N`` (or *comm*, an mpi4py
    communicator, for a sub-group). Calling it again does nothing.

    As ``hvd.init()`` / ``torch.distributed.init_process_group("mpi")``. Run as a plain
    ``python script.py`` it makes a world of one rank. Raises ImportError saying what to install
    (``pip install chainrule[mpi]``) when mpi4py is missing.

    Example::

        import chainrule as cr
        cr.distributed.init()
        print(f"rank {cr.distributed.rank()} of {cr.distributed.size()}")
    """
    if _world.comm is not None:
        return
    MPI = _import_mpi()
    if comm is None:
        comm = MPI.COMM_WORLD
    elif not isinstance(comm, MPI.Comm):
        raise ConfigError(f"init: comm must be an mpi4py communicator (MPI.Comm), got "
                          f"{type(comm).__name__}")
    own = comm.Dup()                       # our messages never mix with the user's on *comm*
    local = own.Split_type(MPI.COMM_TYPE_SHARED, key=own.Get_rank())
    _world.grad_comm = own.Dup()
    _world.MPI, _world.comm, _world.local_comm = MPI, own, local
    if own.Get_size() > 1:
        _install_abort_hook()


def _install_abort_hook():
    """Make an exception that escapes on any rank end the whole job (MPI_Abort), not hang it."""
    previous = sys.excepthook

    def abort_on_exception(exc_type, exc, tb):
        try:
            previous(exc_type, exc, tb)
            sys.stderr.write(f"chainrule.distributed: rank {rank()} of {size()} raised "
                             f"{exc_type.__name__}; aborting the MPI job\n")
        finally:
            _abort_now(1)

    _world.previous_hook = previous
    sys.excepthook = abort_on_exception


def is_initialized():
    """True once :func:`init` has run in this process (``torch.distributed.is_initialized``)."""
    return _world.comm is not None


def _require(what):
    if _world.comm is None:
        raise ConfigError(f"cr.distributed.{what}: the distributed world is not initialized; call "
                          f"cr.distributed.init() first (and launch with mpiexec -n N)")
    return _world.comm


def gradient_comm():
    """The communicator the gradient buckets travel on: their Allreduces start during backward,
    so on a communicator of their own they cannot be mistaken for other collectives that the
    ranks call between backward and ``step`` (MPI matches collectives by order)."""
    _require("gradient_comm")
    return _world.grad_comm


def comm():
    """chainrule's mpi4py communicator (a duplicate of the world's), for MPI calls of your own."""
    return _require("comm")


def mpi():
    """The ``mpi4py.MPI`` module chainrule runs on (after :func:`init`)."""
    _require("mpi")
    return _world.MPI


def rank():
    """This process's rank, 0 … size()−1 (``hvd.rank()``)."""
    return _require("rank").Get_rank()


def size():
    """The number of ranks in the job (``hvd.size()``)."""
    return _require("size").Get_size()


def local_rank():
    """This process's rank among the ranks on the same node: the GPU it should use
    (``hvd.local_rank()``; ``torch.cuda.set_device(local_rank)``)."""
    _require("local_rank")
    return _world.local_comm.Get_rank()


def local_size():
    """The number of ranks on this node (``hvd.local_size()``)."""
    _require("local_size")
    return _world.local_comm.Get_size()


def get_rank():
    """This process's rank (``torch.distributed.get_rank``); the same as :func:`rank`."""
    return _require("get_rank").Get_rank()


def get_world_size():
    """The number of ranks (``torch.distributed.get_world_size``); the same as :func:`size`."""
    return _require("get_world_size").Get_size()


def is_main_process():
    """True on rank 0, and in a process that never called :func:`init`: the process that prints
    progress and writes files.

    Example: ``if cr.distributed.is_main_process(): cr.save_checkpoint("ckpt.cr", model, opt)``.
    """
    return _world.comm is None or _world.comm.Get_rank() == 0


def is_distributed():
    """True when :func:`init` has run and the job has more than one rank."""
    return _world.comm is not None and _world.comm.Get_size() > 1


def barrier():
    """Wait until every rank has reached this call (``hvd.barrier()``, ``dist.barrier()``)."""
    _require("barrier").Barrier()


def abort(errorcode=1):
    """End every rank of the job now with exit status *errorcode* (``MPI_Abort``); without
    :func:`init`, exit this process with it. Use it where one rank must stop the whole job."""
    if _world.comm is None:
        raise SystemExit(errorcode)
    errorcode = int(errorcode)
    sys.stderr.write(f"chainrule.distributed: rank {rank()} of {size()} called abort({errorcode}); "
                     f"ending the MPI job (MPI_Abort)\n")
    _abort_now(errorcode)


def _abort_now(errorcode):
    """Flush, give the launcher a moment to forward what this rank printed (MPICH's hydra drops
    output still in flight when the abort tears the job down), then ``MPI_Abort``."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    time.sleep(_FORWARD_SECONDS)
    _world.MPI.COMM_WORLD.Abort(errorcode)


_FORWARD_SECONDS = 0.5
