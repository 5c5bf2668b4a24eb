"""Training checkpoints: everything a run needs to continue exactly where it stopped, in one file.

``save_checkpoint(path, model, optimizer, scheduler, epoch)`` writes the model's ``state_dict``,
the optimiser's and the scheduler's, the state of chainrule's default random generator (dropout,
``cr.randn``, the shuffling of ``Model.fit``) and of any ``cr.Generator`` you name (a
DataLoader's), the epoch and your own *extra* data. It is one :func:`cr.save <chainrule.save>`
file, so the write is atomic (a temporary file, flushed and fsynced, renamed onto *path*): a crash
or a full disk in the middle of a save leaves the previous checkpoint whole.

``load_checkpoint(path, model, optimizer, scheduler, generators=...)`` reads it back. Loading
executes nothing from the file (no pickle) and checks all of it *before* changing anything: the
format and its version, the names of the entries, each tensor's shape and dtype, each optimiser
and scheduler setting; anything wrong raises :class:`~chainrule.errors.CheckpointError` naming
the entry (``model['0.weight']: shape (16, 28) in the file, but the model's is (16, 13)``) and
leaves model, optimiser, scheduler and generators as they were. Resuming from a checkpoint then
continues bit for bit as the run that was never interrupted.

The file holds ``{"format": "chainrule.checkpoint", "version": 1, "epoch", "model",
"optimizer", "scheduler", "rng": {"default", "generators": {name: state}}, "extra"}``.

Example::

    >>> model = nn.Linear(3, 1)
    >>> opt = cr.optim.Adam(model.parameters(), lr=0.01)
    >>> save_checkpoint("ckpt.cr", model, opt, epoch=4, extra={"best_loss": 0.25})
    >>> epoch, extra = load_checkpoint("ckpt.cr", model, opt)
    >>> epoch, extra["best_loss"]
    (4, 0.25)
"""
import copy
import math
import numbers
import os
from collections import namedtuple

import numpy as np

from chainrule import random as _random
from chainrule.errors import ChainruleError, CheckpointError, suggest
from chainrule.optim import LBFGS, Optimizer
from chainrule.serialization import load, save
from chainrule.tensor import Tensor

FORMAT = "chainrule.checkpoint"
VERSION = 1
_KEYS = ("format", "version", "epoch", "model", "optimizer", "scheduler", "rng", "extra")

LoadedCheckpoint = namedtuple("LoadedCheckpoint", ["epoch", "extra"])
LoadedCheckpoint.__doc__ = "What :func:`load_checkpoint` returns: the saved *epoch* and *extra*."


def save_checkpoint(path, model, optimizer=None, scheduler=None, epoch=None, extra=None,
                    generators=None):
    """Write a training checkpoint to *path* atomically: model, optimiser, scheduler, RNG, epoch.

    Args:
        path: a file path (``str`` or ``os.PathLike``) or a binary file object.
        model: anything with ``state_dict()`` (a ``cr.nn.Module``, a ``cr.Model``).
        optimizer, scheduler: optional, anything with ``state_dict()``.
        epoch: an int (or None): typically the number of epochs completed.
        extra: your own data, a tree of dicts, lists, tensors, arrays and numbers.
        generators: ``{name: cr.Generator}`` whose states are saved too, e.g.
            ``{"loader": loader.generator}`` for a shuffled DataLoader.

    The default generator's state is always saved. Nothing is written when some value cannot be
    saved (a TypeError naming its key path). Example::

        >>> model = nn.Linear(2, 1)
        >>> save_checkpoint("ckpt.cr", model, epoch=1)
        >>> sorted(cr.load("ckpt.cr"))
        ['epoch', 'extra', 'format', 'model', 'optimizer', 'rng', 'scheduler', 'version']
    """
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral)):
        raise CheckpointError(f"save_checkpoint: epoch must be an int or None, got {epoch!r}")
    generators = _check_generators(generators, "save_checkpoint")
    obj = {"format": FORMAT, "version": VERSION,
           "epoch": None if epoch is None else int(epoch),
           "model": dict(model.state_dict()),
           "optimizer": None if optimizer is None else optimizer.state_dict(),
           "scheduler": None if scheduler is None else scheduler.state_dict(),
           "rng": {"default": _random.get_rng_state(),
                   "generators": {name: g.get_state() for name, g in generators.items()}},
           "extra": extra}
    save(obj, path)


def load_checkpoint(path, model, optimizer=None, scheduler=None, generators=None,
                    restore_rng=True):
    """Restore a checkpoint written by :func:`save_checkpoint`; return ``(epoch, extra)``.

    Everything is checked before anything is changed; a damaged file raises
    ``cr.SerializationError``, a file that does not fit *model* / *optimizer* / *scheduler* (or
    lacks a requested generator) raises :class:`CheckpointError` naming the entry, and in both
    cases nothing is changed. *generators* (``{name: cr.Generator}``) are restored by name;
    ``restore_rng=False`` leaves the default generator alone. Example::

        >>> model = nn.Linear(2, 1)
        >>> save_checkpoint("ckpt.cr", model, epoch=7)
        >>> load_checkpoint("ckpt.cr", nn.Linear(2, 1)).epoch
        7
        >>> load_checkpoint("ckpt.cr", nn.Linear(3, 1))
        Traceback (most recent call last):
        ...
        chainrule.errors.CheckpointError: ... entry model['weight']: shape (1, 2) in the file, ...
    """
    name = os.fspath(path) if isinstance(path, (str, bytes, os.PathLike)) else "<file object>"
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    generators = _check_generators(generators, "load_checkpoint")
    obj = load(path)
    check = _Checker(name)
    try:
        check.top(obj)
        check.model(obj["model"], model)
        if optimizer is not None:
            check.optimizer(obj["optimizer"], optimizer)
        if scheduler is not None:
            check.scheduler(obj["scheduler"], scheduler)
        check.rng(obj["rng"], generators)
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:  # a checker gap
        raise check.fail("checkpoint", f"{type(e).__name__}: {e}") from None
    _apply(check, obj, model, optimizer, scheduler, generators, restore_rng)
    return LoadedCheckpoint(obj["epoch"], obj["extra"])


def _check_generators(generators, where):
    if generators is None:
        return {}
    if not isinstance(generators, dict):
        raise CheckpointError(f"{where}: generators must be a dict {{name: cr.Generator}}, got "
                              f"{type(generators).__name__}")
    for key, g in generators.items():
        if not isinstance(key, str) or not isinstance(g, _random.Generator):
            raise CheckpointError(f"{where}: generators must map names (str) to cr.Generator, got "
                                  f"{key!r}: {type(g).__name__}")
    return generators


def _apply(check, obj, model, optimizer, scheduler, generators, restore_rng):
    """Load the checked state; should any step still fail, put everything back as it was."""
    saved = {"model": {k: Tensor(np.array(v._data if isinstance(v, Tensor) else v, copy=True))
                       for k, v in model.state_dict().items()},
             "optimizer": None if optimizer is None else optimizer.state_dict(),
             "scheduler": None if scheduler is None else copy.deepcopy(scheduler.state_dict()),
             "rng": _random.get_rng_state(),
             "generators": {k: g.get_state() for k, g in generators.items()}}
    try:
        model.load_state_dict(obj["model"])
        if optimizer is not None:
            optimizer.load_state_dict(obj["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(copy.deepcopy(obj["scheduler"]))
        if restore_rng:
            _random.set_rng_state(obj["rng"]["default"])
        for key, g in generators.items():
            g.set_state(obj["rng"]["generators"][key])
    except BaseException as e:
        model.load_state_dict(saved["model"])
        if optimizer is not None:
            optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        _random.set_rng_state(saved["rng"])
        for key, g in generators.items():
            g.set_state(saved["generators"][key])
        if isinstance(e, (ValueError, TypeError, KeyError, IndexError, RuntimeError)) \
                and not isinstance(e, CheckpointError):
            raise check.fail("checkpoint", f"{type(e).__name__}: {e}") from None
        raise


# ---- checking -----------------------------------------------------------------------------------
def _kind(value):
    """A coarse type for comparing a saved setting with the live one."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (numbers.Number, np.number)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (Tensor, np.ndarray)):
        return "array"
    if isinstance(value, (list, tuple)):
        return "sequence"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


def _article(kind):
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _array(value):
    return value._data if isinstance(value, Tensor) else value


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    """Checks a loaded checkpoint against the objects it is to be loaded into, naming entries."""

    def __init__(self, name):
        self.name = name

    def fail(self, where, what):
        return CheckpointError(f"cannot load checkpoint {self.name!r}: entry {where}: {what}")

    def top(self, obj):
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
            raise CheckpointError(f"cannot load checkpoint {self.name!r}: not a training "
                                  "checkpoint "
                                  f"(format {_short(found)}, expected {FORMAT!r}); a file written "
                                  f"by cr.save is read with cr.load, a model by cr.load_model")
        version = obj.get("version")
        if type(version) is not int or version < 1:
            raise self.fail("version", f"must be a positive int, found {_short(version)}")
        if version > VERSION:
            raise self.fail("version", f"the file has checkpoint format version {version}, newer "
                                       f"than this chainrule reads ({VERSION}); upgrade chainrule")
        unknown = [k for k in obj if k not in _KEYS]
        if unknown:
            raise self.fail(_short(unknown[0]), f"unexpected entry; a checkpoint holds "
                                                f"{', '.join(_KEYS)}")
        missing = [k for k in _KEYS if k not in obj]
        if missing:
            raise self.fail(repr(missing[0]), "missing")
        epoch = obj["epoch"]
        if epoch is not None and type(epoch) is not int:
            raise self.fail("epoch", f"must be an int or None, found {_short(epoch)}")

    def model(self, state, model):
        live = model.state_dict()
        self.tensors("model", state, live, "model")

    def tensors(self, where, state, live, owner):
        """*state* must have exactly *live*'s names, each an array of the same shape and dtype."""
        if not isinstance(state, dict):
            raise self.fail(where, f"expected a dict of tensors, found {type(state).__name__}")
        for key in state:
            if key not in live:
                raise self.fail(f"{where}[{_short(key)}]", f"the {owner} has no entry of that "
                                f"name.{_suggest(key, live)}")
        for key, ref in live.items():
            at = f"{where}[{key!r}]"
            if key not in state:
                raise self.fail(at, f"missing from the file (the {owner} has it)")
            value = state[key]
            if _kind(value) != "array":
                raise self.fail(at, f"expected a tensor, found {type(value).__name__}")
            arr, ref = _array(value), _array(ref)
            if arr.shape != ref.shape:
                raise self.fail(at, f"shape {tuple(arr.shape)} in the file, but the {owner}'s is "
                                    f"{tuple(ref.shape)}")
            if arr.dtype != ref.dtype:
                raise self.fail(at, f"dtype {arr.dtype} in the file, but the {owner}'s is "
                                    f"{ref.dtype}")

    def optimizer(self, state, optimizer):
        if state is None:
            raise self.fail("optimizer", "the checkpoint holds no optimizer state (it was saved "
                                         "without one); load it without optimizer=")
        live = optimizer.state_dict()
        if not isinstance(state, dict) or set(state) != {"state", "param_groups"}:
            raise self.fail("optimizer", "expected a dict with keys 'state' and 'param_groups'")
        groups, live_groups = state["param_groups"], live["param_groups"]
        if not isinstance(groups, list) or len(groups) != len(live_groups):
            raise self.fail("optimizer['param_groups']",
                            f"{len(groups) if isinstance(groups, list) else _short(groups)} "
                            f"parameter groups in the file, {len(live_groups)} in the optimizer")
        params = {}
        shapes = [tuple(p.shape) for g in optimizer.param_groups for p in g["params"]]
        dtypes = [p._data.dtype for g in optimizer.param_groups for p in g["params"]]
        for i, (g, lg) in enumerate(zip(groups, live_groups)):
            at = f"optimizer['param_groups'][{i}]"
            if not isinstance(g, dict) or not isinstance(g.get("params"), list):
                raise self.fail(at, "expected a dict with a 'params' list")
            if len(g["params"]) != len(lg["params"]):
                raise self.fail(f"{at}['params']", f"{len(g['params'])} parameters in the file, "
                                                   f"{len(lg['params'])} in the optimizer's group")
            for j, (index, live_index) in enumerate(zip(g["params"], lg["params"])):
                if type(index) is not int or index in params:
                    raise self.fail(f"{at}['params'][{j}]", f"expected a new parameter index, "
                                                            f"found {_short(index)}")
                params[index] = live_index
            for key, value in g.items():
                if key in ("params", "param_names"):
                    continue
                if key not in lg:
                    raise self.fail(f"{at}[{_short(key)}]", f"the optimizer has no setting of that "
                                                             f"name.{_suggest(key, lg)}")
                self.setting(f"{at}[{key!r}]", value, lg[key])
            for key in lg:   # a setting the file lacks would silently vanish (initial_lr)
                if key not in g and key not in ("params", "param_names") \
                        and key not in getattr(optimizer, "defaults", {}):
                    raise self.fail(f"{at}[{key!r}]", "missing from the file (the optimizer's "
                                                      "group has it)")
            self.hyperparameters(at, g, optimizer)
        per_param = state["state"]
        if not isinstance(per_param, dict):
            raise self.fail("optimizer['state']", f"expected a dict, found "
                                                  f"{type(per_param).__name__}")
        probe = _probe_state(optimizer)
        for index, entry in per_param.items():
            at = f"optimizer['state'][{_short(index)}]"
            if index not in params:
                raise self.fail(at, f"no parameter with that index (the groups list "
                                    f"{sorted(params)})")
            if not isinstance(entry, dict):
                raise self.fail(at, f"expected a dict, found {type(entry).__name__}")
            if probe is not None:
                self.per_param_entry(at, entry, probe.get(params[index]))
            shape, dtype = shapes[params[index]], dtypes[params[index]]
            for key, value in entry.items():
                if _kind(value) != "array":
                    continue
                arr = _array(value)
                if arr.ndim and arr.ndim == len(shape) and tuple(arr.shape) != shape:
                    raise self.fail(f"{at}[{key!r}]", f"shape {tuple(arr.shape)} in the file, but "
                                                      f"its parameter's is {shape}")
                if arr.ndim and tuple(arr.shape) == shape and arr.dtype.kind == "f" \
                        and dtype.kind == "f" and arr.dtype != dtype:
                    raise self.fail(f"{at}[{key!r}]", f"dtype {arr.dtype} in the file, but its "
                                                      f"parameter's is {dtype}")
                if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    raise self.fail(f"{at}[{key!r}]", "holds NaN or infinite values")

    def hyperparameters(self, at, group, optimizer):
        """The saved settings must pass the optimizer's own validator, the one its constructor
        runs (an Adam beta of 1e308 or an infinite lr is refused here, not at the next step)."""
        inner = _inner_optimizer(optimizer)
        if inner is None:
            return
        settings = {**inner.defaults,
                    **{k: v for k, v in group.items() if k not in ("params", "param_names")}}
        try:
            inner.check_hyperparameters(settings)
        except (ValueError, TypeError, RuntimeError, ArithmeticError) as e:
            raise self.fail(at, f"{e} (refused by {type(inner).__name__}'s own checks, as its "
                                f"constructor would)") from None

    def per_param_entry(self, at, entry, expected):
        """One parameter's saved state against what a step of this optimizer creates: the same
        names, each value of the same kind, arrays of the same shape and dtype."""
        if expected is None:
            raise self.fail(at, "the optimizer keeps no state for this parameter")
        for key in entry:
            if key not in expected:
                raise self.fail(f"{at}[{_short(key)}]", f"the optimizer keeps no state of that "
                                                        f"name.{_suggest(key, expected)}")
        for key, ref in expected.items():
            where = f"{at}[{key!r}]"
            if key not in entry:
                raise self.fail(where, "missing from the file (the optimizer keeps it)")
            value = entry[key]
            if _kind(value) != _kind(ref):
                raise self.fail(where, f"expected {_article(_kind(ref))}, found {_short(value)}")
            if _kind(ref) == "array":
                arr, ref = _array(value), _array(ref)
                if arr.shape != ref.shape:
                    raise self.fail(where, f"shape {tuple(arr.shape)} in the file, but the "
                                           f"optimizer keeps {tuple(ref.shape)}")
                if arr.dtype != ref.dtype:
                    raise self.fail(where, f"dtype {arr.dtype} in the file, but the optimizer "
                                           f"keeps {ref.dtype}")

    def setting(self, where, value, live):
        """A saved hyperparameter must be of the live one's kind (a number for a number...)."""
        kind, live_kind = _kind(value), _kind(live)
        if live_kind == "None":   # an optional setting left unset (foreach=None): any value
            return
        if kind != live_kind:
            raise self.fail(where, f"found {_short(value)}, but the live setting is "
                                   f"{_short(live)} ({_article(live_kind)})")
        if kind == "number" and isinstance(value, float) and math.isnan(value) \
                and not (isinstance(live, float) and math.isnan(live)):
            raise self.fail(where, "is NaN")
        if kind == "sequence" and len(value) != len(live):
            raise self.fail(where, f"{len(value)} values in the file, {len(live)} live")
        if kind == "sequence":
            for i, (v, lv) in enumerate(zip(value, live)):
                self.setting(f"{where}[{i}]", v, lv)

    def scheduler(self, state, scheduler):
        if state is None:
            raise self.fail("scheduler", "the checkpoint holds no scheduler state (it was saved "
                                         "without one); load it without scheduler=")
        live = scheduler.state_dict()
        if not isinstance(state, dict):
            raise self.fail("scheduler", f"expected a dict, found {type(state).__name__}")
        for key in state:
            if key not in live:
                raise self.fail(f"scheduler[{_short(key)}]", f"the {type(scheduler).__name__} has "
                                                             f"no setting of that "
                                                             f"name.{_suggest(key, live)}")
        for key, value in live.items():
            if key not in state:
                raise self.fail(f"scheduler[{key!r}]", f"missing from the file (the "
                                                       f"{type(scheduler).__name__} has it)")
            if _kind(state[key]) in ("dict", "array") or _kind(value) in ("dict", "array"):
                if _kind(state[key]) != _kind(value) and "None" not in (_kind(state[key]),
                                                                        _kind(value)):
                    raise self.fail(f"scheduler[{key!r}]", f"found {_short(state[key])}, live "
                                                           f"{_short(value)}")
                continue
            self.setting(f"scheduler[{key!r}]", state[key], value)

    def rng(self, state, generators):
        if not isinstance(state, dict) or set(state) != {"default", "generators"} \
                or not isinstance(state["generators"], dict):
            raise self.fail("rng", "expected a dict with 'default' and 'generators'")
        self.generator_state("rng['default']", state["default"])
        for key in generators:
            if key not in state["generators"]:
                raise self.fail(f"rng['generators'][{key!r}]",
                                f"no generator of that name in the file (it has "
                                f"{sorted(map(str, state['generators'])) or 'none'})")
            self.generator_state(f"rng['generators'][{key!r}]", state["generators"][key])

    def generator_state(self, where, state):
        try:
            _random.Generator().set_state(state)   # a scratch generator: checks every field
        except ChainruleError as e:
            raise self.fail(where, str(e)) from None


def _inner_optimizer(optimizer):
    """The ``cr.optim.Optimizer`` behind *optimizer* (itself, or a wrapper's ``.optimizer``)."""
    inner = optimizer if isinstance(optimizer, Optimizer) else getattr(optimizer, "optimizer", None)
    return inner if isinstance(inner, Optimizer) else None


def _probe_state(optimizer):
    """``{parameter position: state}`` that one step of a scratch copy of *optimizer* (same class,
    same settings, zero parameters and gradients) creates: the layout a saved state must have.
    None when no such probe can be made (LBFGS keeps history whose layout grows with the steps;
    an optimizer that is not a ``cr.optim.Optimizer``)."""
    inner = _inner_optimizer(optimizer)
    if inner is None or isinstance(inner, LBFGS):
        return None
    try:
        groups = []
        for g in inner.param_groups:
            params = []
            for p in g["params"]:
                t = Tensor(np.zeros_like(p._data), requires_grad=True)
                t.grad = Tensor(np.zeros_like(p._data))
                params.append(t)
            groups.append({**{k: v for k, v in g.items() if k not in ("params", "param_names")},
                           "params": params})
        scratch = type(inner)(groups)
        scratch.step()
        return scratch.state_dict()["state"]
    except Exception:   # an optimizer we cannot copy this way: keep the generic checks only
        return None


def _suggest(key, names):
    return suggest(key, list(names)) if isinstance(key, str) else ""
