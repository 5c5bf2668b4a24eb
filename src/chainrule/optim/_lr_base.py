"""``LRScheduler``: the base of the learning-rate schedules, with PyTorch's stepping protocol.

A schedule owns an optimiser and rewrites each group's ``"lr"``. Constructing one records
``initial_lr`` in every group and takes the initial step (epoch 0); each ``step()`` after an
optimiser step advances ``last_epoch`` and sets the next rate, by the recursive form
``get_lr()`` (from the groups' current rates, so schedules compose) or, when an explicit
epoch is passed, by the closed form ``_get_closed_form_lr()`` where there is one.
"""
import warnings
from weakref import ref

from chainrule.errors import ArgumentTypeError, ConfigError, KeyNameError
from chainrule.optim.optimizer import Optimizer, _to_scalar
from chainrule.tensor import Tensor

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available."
)


def _copy(value):
    return Tensor(value._data.copy()) if isinstance(value, Tensor) else value


def _format_param(name, optimizer, param):
    """One value per parameter group: a list checked for length, or a scalar repeated."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ConfigError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(param)} values, param_groups has "
                f"{len(optimizer.param_groups)}.")
    else:
        param = [param] * len(optimizer.param_groups)
    return [_copy(p) for p in param]


def _param_groups_val_list(optimizer, key):
    """Each group's *key* value (tensors copied)."""
    return [_copy(group[key]) for group in optimizer.param_groups]


def _update_param_group_val(param_group, key, val):
    """Set a group's value, filling a tensor in place where the group holds one."""
    if isinstance(param_group[key], Tensor):
        param_group[key]._data.fill(_to_scalar(val))
    else:
        param_group[key] = val


class _enable_get_lr_call:
    def __init__(self, o):
        self.o = o

    def __enter__(self):
        self.o._get_lr_called_within_step = True
        return self

    def __exit__(self, *exc):
        self.o._get_lr_called_within_step = False


class _initial_mode:
    def __init__(self, o):
        self.o = o

    def __enter__(self):
        self.o._is_initial = True

    def __exit__(self, *exc):
        self.o._is_initial = False


def _warn_get_lr_called_within_step(scheduler):
    if not scheduler._get_lr_called_within_step:
        warnings.warn("To get the last learning rate computed by the scheduler, "
                      "please use `get_last_lr()`.", UserWarning, stacklevel=3)


class LRScheduler:
    """Base class of learning-rate schedules: ``step()``, ``get_last_lr()``, ``state_dict()``.

    Args:
        optimizer: the optimiser whose groups' ``lr`` this schedule sets.
        last_epoch: the index of the last epoch, to resume a schedule; -1 starts afresh
            (then each group's ``initial_lr`` is set to its current ``lr``).

    Subclasses define ``get_lr()`` (the recursive form) and may define
    ``_get_closed_form_lr()``.
    """

    _get_lr_called_within_step = False
    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise ArgumentTypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", _copy(group["lr"]))
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyNameError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                        "scheduler with last_epoch >= 0: load the optimizer's state dict first, "
                        "or start a fresh schedule with last_epoch=-1")
        self.base_lrs = _param_groups_val_list(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        _track_step_calls(optimizer)
        self._initial_step()

    def _initial_step(self):
        """Take the step that sets the rate of epoch 0 (done by the constructor)."""
        self._step_count = 0
        with _initial_mode(self):
            self.step()

    def state_dict(self):
        """Everything but the optimiser, as a dict."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore a schedule saved by ``state_dict()``."""
        self.__dict__.update(state_dict)

    def get_last_lr(self):
        """The learning rate of each group set by the last ``step()``."""
        return self._last_lr

    def get_lr(self):
        """The next learning rates (the recursive form); called by ``step()``."""
        raise NotImplementedError

    def step(self, epoch=None):
        """Advance one epoch (or jump to *epoch*, deprecated) and set the groups' rates."""
        if self._step_count == 1:
            if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
                warnings.warn("Seems like `optimizer.step()` has been overridden after learning "
                              "rate scheduler initialization. Please, make sure to call "
                              "`optimizer.step()` before `lr_scheduler.step()`.",
                              UserWarning, stacklevel=2)
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn("Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
                              "You should call them in the opposite order: `optimizer.step()` "
                              "before `lr_scheduler.step()`. Failure to do this will result in "
                              "skipping the first value of the learning rate schedule.",
                              UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        with _enable_get_lr_call(self):
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                if hasattr(self, "_get_closed_form_lr"):
                    values = self._get_closed_form_lr()
                else:
                    values = self.get_lr()
        for param_group, lr in zip(self.optimizer.param_groups, values):
            _update_param_group_val(param_group, "lr", lr)
        self._last_lr = _param_groups_val_list(self.optimizer, "lr")


def _track_step_calls(opt):
    """Wrap ``opt.step`` (once) so schedules can warn when stepped before the optimiser."""
    if hasattr(opt.step, "_wrapped_by_lr_sched"):
        return
    opt_ref = ref(opt)
    step = opt.step
    func = getattr(step, "__func__", None)

    def wrapper(*args, **kwargs):
        o = opt_ref()
        o._opt_called = True
        if func is None:
            return step(*args, **kwargs)
        return func(o, *args, **kwargs)

    wrapper.__doc__ = step.__doc__
    wrapper._wrapped_by_lr_sched = True
    opt.step = wrapper
