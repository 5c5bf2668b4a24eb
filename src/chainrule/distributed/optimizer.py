"""``DistributedOptimizer``: average the gradients over all ranks, then take the wrapped step.

Data parallelism in one line: every rank runs forward and backward on its own shard of the global
batch, and before each update the gradients are averaged over the ranks, so every rank applies the
same update to the same weights and they stay identical. With the loss a mean over the shard and
the shards of equal size, the average of the ranks' gradients *is* the gradient of the mean loss
over the global batch, so N ranks train the weights one process would on the whole batch.

As Horovod's ``hvd.DistributedOptimizer(optimizer)``: the result is still an instance of the
optimiser's class (``isinstance(opt, cr.optim.Adam)``; learning-rate schedulers, checkpoints and
Keras callbacks see the same optimiser), shares its state with the object it wraps, and adds the
averaging in ``step``. The gradients travel in flat buckets of ``bucket_cap_mb`` (see
:mod:`chainrule.distributed.buckets`), one Allreduce each.

Overlap with backward: as Horovod, the constructor registers a post-accumulate-grad hook on every
parameter (``Tensor.register_post_accumulate_grad_hook``), and a bucket's non-blocking Allreduce
starts during backward as soon as the last of its gradients is complete, in bucket order (PyTorch
DDP's reducer); ``step`` starts the rest and waits. The first step does not overlap: it first
checks that every rank holds the same parameters. Gradients that fit in one bucket have nothing
to overlap (the bucket is complete when backward ends): then no hooks are registered at all.
Gradient accumulation follows Horovod's ``backward_passes_per_step``: the buckets start during
the N-th backward pass after a step (or ``zero_grad``); one pass more raises UsageError instead
of averaging a stale gradient.
"""
import contextlib
import weakref

from chainrule.distributed import world
from chainrule.distributed.agreement import check_same_layout
from chainrule.distributed.buckets import GradientBuckets
from chainrule.errors import ArgumentTypeError, ConfigError, UsageError
from chainrule.grad_mode import enable_grad
from chainrule.optim import LBFGS

_CLASSES = {}


class _SyncState:
    """What a DistributedOptimizer adds to the optimiser it wraps."""

    def __init__(self, comm, names, cap_bytes, average, passes):
        self.comm = comm
        self.names = names               # id(param) -> name, for error messages
        self.cap_bytes = cap_bytes
        self.average = average
        self.passes = passes             # backward_passes_per_step
        self.buckets = None              # the plan (GradientBuckets), made with the hooks
        self.verified = False            # the ranks' layouts were compared: buckets may start early
        self.overlap = True              # start buckets during backward (False: at step)
        self.handles = []                # the post-accumulate-grad hooks' handles
        self.sample_count = None         # this rank's weight in the next average
        self.synchronized = False        # synchronize() ran since the last step
        self.skip = False

    def grad_ready(self, param):
        """A parameter's gradient of this backward pass is complete (its hook)."""
        buckets = self.buckets
        if buckets is not None:
            start = None
            if self.verified and self.overlap:
                weight = 1.0 if self.sample_count is None else self.sample_count
                start = (self.comm, world.mpi(), weight)
            buckets.grad_ready(param, self.passes, start)

    def plan(self, params):
        """Make the bucket plan for *params* and hook them (replacing the previous hooks).

        With a single bucket there is nothing to overlap (it is complete only when backward
        ends), so no hooks: the averaging happens in ``step`` and costs backward nothing."""
        for h in self.handles:
            h.remove()
        self.buckets = GradientBuckets(params, self.cap_bytes)
        self.verified = False
        ref = weakref.ref(self)        # the hooks must not keep the optimiser alive
        self.handles[:] = [p.register_post_accumulate_grad_hook(
            lambda p, ref=ref: _call_ready(ref, p))
            for p in (params if len(self.buckets.buckets) > 1 else ())]


def _call_ready(ref, param):
    sync = ref()
    if sync is not None:
        sync.grad_ready(param)


def _remove_hooks(handles):
    for h in handles:
        h.remove()


class DistributedOptimizer:
    """Wrap *optimizer* so that ``step()`` first averages the gradients over all ranks.

    Args:
        optimizer: a ``cr.optim`` optimiser, or a Keras-style one from ``cr.keras.optimizers``
            (built), made over this rank's copy of the model.
        named_parameters: optional ``model.named_parameters()``, to name parameters in errors.
        bucket_cap_mb: the size of a gradient bucket in MiB (PyTorch DDP's ``bucket_cap_mb``).
        op: ``"avg"`` (default) averages the gradients, ``"sum"`` adds them.
        backward_passes_per_step: the backward passes whose gradients one ``step`` averages
            (gradient accumulation, Horovod's argument); the buckets start during the last.

    ``step``, ``zero_grad``, ``state_dict``, ``load_state_dict`` and ``param_groups`` are the
    wrapped optimiser's (shared, not copied). Needs :func:`cr.distributed.init` first.

    When the ranks' shards of a batch differ in size (the last batch of an epoch),
    :meth:`set_sample_count` weights each rank's gradient by its number of samples, which makes
    the average exactly the gradient of the global batch; a rank with an empty shard calls
    ``set_sample_count(0)`` and ``step()`` without a backward pass.

    Example::

        dist = cr.distributed
        dist.init()
        model = Net()
        dist.broadcast_parameters(model.state_dict(), root_rank=0)
        opt = dist.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.1))
        for x, y in loader:                      # a DistributedSampler gives each rank its shard
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()                           # Allreduce of the gradients, then SGD
    """

    def __new__(cls, optimizer=None, *args, **kwargs):
        if cls is not DistributedOptimizer:
            if optimizer is None:               # copy.deepcopy / pickle rebuilding an instance
                return object.__new__(cls)
            # type(opt)(params, ...) on a wrapped optimiser (a scratch copy, as checkpoint checks
            # make) builds a plain optimiser of the wrapped class
            return cls._wrapped(optimizer, *args, **kwargs)
        if isinstance(optimizer, DistributedOptimizer):
            raise ConfigError("DistributedOptimizer: the optimizer is already a "
                              "DistributedOptimizer; wrap it once")
        if not hasattr(optimizer, "param_groups") or not hasattr(optimizer, "step") \
                or not hasattr(optimizer, "__dict__"):
            raise ArgumentTypeError("DistributedOptimizer: expected a cr.optim or "
                                    "cr.keras.optimizers optimizer, got "
                                    f"{type(optimizer).__name__}")
        if isinstance(optimizer, LBFGS) or isinstance(getattr(optimizer, "optimizer", None), LBFGS):
            raise ConfigError("DistributedOptimizer: LBFGS evaluates its closure several times per "
                              "step; average the loss and gradients inside the closure instead "
                              "(cr.distributed.all_reduce)")
        obj = object.__new__(_wrapped_class(type(optimizer)))
        obj.__dict__ = optimizer.__dict__       # one optimiser: the state is shared, not copied
        return obj

    def __init__(self, optimizer, named_parameters=None, *, bucket_cap_mb=4.0, op="avg",
                 backward_passes_per_step=1):
        world.comm()                                  # a clear error before init()
        comm = world.gradient_comm()
        if op not in ("avg", "sum"):
            raise ConfigError(f"DistributedOptimizer: op must be 'avg' or 'sum', got op={op!r}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) \
                or not bucket_cap_mb > 0:
            raise ConfigError(f"DistributedOptimizer: bucket_cap_mb must be a positive number, got "
                              f"bucket_cap_mb={bucket_cap_mb!r}")
        passes = backward_passes_per_step
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
            raise ConfigError(f"DistributedOptimizer: backward_passes_per_step must be a positive "
                              f"int, got backward_passes_per_step={passes!r}")
        names = {}
        if named_parameters is not None:
            names = {id(p): str(n) for n, p in named_parameters}
        sync = _SyncState(comm, names, int(bucket_cap_mb * (1 << 20)), op == "avg", passes)
        previous = self.__dict__.get("_sync")     # the optimiser wrapped again: one set of hooks
        if previous is not None:
            _remove_hooks(previous.handles)
        self._sync = sync
        if comm.Get_size() > 1:
            sync.plan(self._trainable())
            weakref.finalize(sync, _remove_hooks, sync.handles)

    # ---- the averaging --------------------------------------------------------------------------
    def set_sample_count(self, n):
        """Weight this rank's gradients by *n* (its number of samples) in the next average.

        The next step then sets each gradient to Σᵣ nᵣ·gᵣ / Σᵣ nᵣ: with each gᵣ the gradient of a
        mean over nᵣ samples, that is the gradient of the mean over all of them. 0 means "no
        samples here": this rank's gradients are ignored (they may be None or not finite).
        """
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not n >= 0:
            raise ConfigError(f"set_sample_count: n must be a non-negative number, got n={n!r}")
        buckets = self._sync.buckets
        if buckets is not None and buckets.requests and buckets.weight != n:
            raise UsageError(f"set_sample_count({n!r}): this step's gradients already went out "
                             f"during backward weighted by {buckets.weight}; call "
                             f"set_sample_count before backward")
        self._sync.sample_count = n

    def synchronize(self):
        """Average the gradients over all ranks now (the next ``step`` then does not again).

        Call it to look at or clip the averaged gradients before ``step``, as Horovod's
        ``optimizer.synchronize()``. Collective: every rank must call it.
        """
        sync = self._sync
        weight = 1.0 if sync.sample_count is None else sync.sample_count
        comm = sync.comm
        if comm.Get_size() == 1:
            if weight == 0:
                self.zero_grad()
        else:
            params = self._trainable()
            if sync.buckets is None or not sync.buckets.matches(params) or not sync.verified:
                if sync.buckets is not None:
                    sync.buckets.discard(world.mpi())       # started on a plan now out of date
                entries = [(sync.names.get(id(p), f"param_groups[{g}][{i}]"), p) for g, i, p
                           in self._numbered()]
                check_same_layout("DistributedOptimizer",
                                  [(n, tuple(p.shape), str(p.dtype)) for n, p in entries])
                if sync.buckets is None or not sync.buckets.matches(params):
                    sync.plan(params)
                sync.verified = True
            sync.buckets.reduce(comm, world.mpi(), weight, sync.average)
        sync.sample_count = None
        sync.synchronized = True

    def zero_grad(self, *args, **kwargs):
        """The wrapped ``zero_grad``; it also drops the gradients this rank has counted or sent
        since the last step (every rank must then do the same: collective when buckets went out
        during backward)."""
        sync = self.__dict__.get("_sync")
        if sync is not None and sync.buckets is not None:
            sync.buckets.discard(world.mpi())
        return super().zero_grad(*args, **kwargs)

    @contextlib.contextmanager
    def skip_synchronize(self):
        """Inside this block ``step`` does not average (after an explicit :meth:`synchronize`)."""
        self._sync.skip = True
        try:
            yield
        finally:
            self._sync.skip = False

    def step(self, closure=None):
        """Average the gradients over the ranks (unless already done), then take the step.

        A *closure* is evaluated once, before the averaging, and its loss returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        sync = self.__dict__.get("_sync")      # absent in a copy: that steps as a plain optimiser
        if sync is not None:
            if not (sync.synchronized or sync.skip):
                self.synchronize()
            sync.synchronized = False
        result = super().step()
        return loss if closure is not None else result

    # ---- helpers ------------------------------------------------------------------------------
    def _numbered(self):
        seen = set()
        for g, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    yield g, i, p

    def _trainable(self):
        return [p for _, _, p in self._numbered()]


def _wrapped_class(base):
    """The class ``DistributedOptimizer`` + *base* (made once per optimiser class)."""
    cls = _CLASSES.get(base)
    if cls is None:
        cls = type(base.__name__, (DistributedOptimizer, base),
                   {"__module__": base.__module__, "__doc__": base.__doc__, "_wrapped": base})
        _CLASSES[base] = cls
    return cls
