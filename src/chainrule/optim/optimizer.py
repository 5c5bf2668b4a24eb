"""``Optimizer``: the base class, holding parameter groups and per-parameter state as PyTorch does.

An optimiser keeps ``param_groups``, a list of dicts, each with its ``"params"`` (a list of tensors)
and its hyperparameters (``lr``, ``betas``...), and ``state``, a dict from each parameter to a dict
of that parameter's buffers (``exp_avg``, ``step``...), whose values are tensors or numbers exactly
where PyTorch has them.  ``state_dict()`` packs both with parameters replaced by integer indices, in
PyTorch's layout, so a checkpoint made here reads as one made there.
"""
import copy
import math
import numbers
import warnings
from collections import defaultdict
from itertools import chain

import numpy as np

from chainrule.backend import device_of, is_array, to_device

from chainrule import dtypes
from chainrule.autograd.grad import zero_grads
from chainrule.errors import ArgumentTypeError, CheckpointError, ConfigError, ShapeError
from chainrule.tensor import Tensor


class _RequiredParameter:
    """Marks a hyperparameter that has no default: every group must give it."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _to_scalar(x):
    """A hyperparameter as a Python number (a one-element tensor becomes its value)."""
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise ShapeError(f"expected a one-element tensor, got shape {tuple(x.shape)}")
        return x.item()
    return x


def _scalar_dtype():
    """The dtype of ``state["step"]``: float64 when that is the default float dtype, else float32."""
    return dtypes.float64 if dtypes.get_default_dtype() == dtypes.float64 else dtypes.float32


def _new_step():
    """A fresh ``state["step"]``: a 0-d tensor holding 0, as ``torch.tensor(0.0)``."""
    return Tensor(np.zeros((), _scalar_dtype()))


def check_nonnegative(value, what):
    """*value* (a number, or a one-element tensor) if it is a finite number >= 0, else
    ``ConfigError("Invalid <what>: <value>")``, PyTorch's message (which also refuses inf here)."""
    v = _to_scalar(value)
    if isinstance(v, str) or not isinstance(v, numbers.Real) or not 0.0 <= v < math.inf:
        raise ConfigError(f"Invalid {what}: {v}")
    return v


def _check_supported(name, **flags):
    """Reject PyTorch options that have no meaning here (CUDA graphs, differentiable steps)."""
    for flag, value in flags.items():
        if value:
            raise ConfigError(f"{name}: {flag}=True is not supported: chainrule updates parameters "
                              f"in place with NumPy, outside the autograd graph and without CUDA "
                              f"graphs; leave {flag}=False")


def _typename(obj):
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


class Optimizer:
    """Base class of all optimisers: parameter groups, per-parameter state and checkpoints.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts each defining a
            parameter group (``{"params": [...], "lr": 0.1}``); order must be deterministic.
        defaults: the hyperparameters a group takes when it does not set them.

    Subclasses implement ``step(closure=None)``. ``zero_grad``, ``state_dict``,
    ``load_state_dict`` and ``add_param_group`` behave as PyTorch's.
    """

    _per_element_state = ()     # state keys holding one value per parameter element (shape-checked)

    # Set on each instance by __init__; declared here so the class documents its attributes.
    param_groups: list = ()
    """The parameter groups: dicts holding ``"params"`` (a list of tensors) and hyperparameters."""
    state: dict = None
    """Per-parameter state (e.g. Adam's moments), keyed by the parameter tensor."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise ArgumentTypeError("params argument given to the optimizer should be an iterable of "
                                    "Tensors or dicts, but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ConfigError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # ---- pickling and printing ------------------------------------------------------------
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._state_replaced()

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    @classmethod
    def check_hyperparameters(cls, group):
        """Return the settings of *group* (a dict: ``lr``, ``betas``...) checked exactly as the
        constructor checks its arguments, or raise ``ConfigError`` naming the refused one.

        The one validator of an optimiser's hyperparameters: the constructor, ``load_state_dict``
        and ``cr.load_checkpoint`` all call it. The base class checks nothing. Example::

            >>> cr.optim.Adam.check_hyperparameters({"lr": float("inf"), "betas": (0.9, 0.999),
            ...                                      "eps": 1e-8, "weight_decay": 0})
            Traceback (most recent call last):
            ...
            chainrule.errors.ConfigError: Invalid learning rate: inf
        """
        return dict(group)

    def _state_replaced(self):
        """Called when ``state`` or ``param_groups`` were replaced wholesale (subclass hook)."""

    # ---- groups -----------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (unset ones from ``defaults``).

        Useful to start training frozen layers partway through, as in PyTorch.
        """
        if not isinstance(param_group, dict):
            raise ArgumentTypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ConfigError("param_group must have a 'params' entry listing its tensors")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise ArgumentTypeError("optimizer parameters need to be organized in ordered collections, but "
                                    "the ordering of tensors in sets will change between runs. "
                                    "Please use a list instead.")
        else:
            params = list(params)

        tensors, names = [], []
        for param in params:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ConfigError("all optimizer params should be with/without names. "
                                  "Some param names are missing")
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise ArgumentTypeError("optimizer can only optimize Tensors, but one of the params is "
                                        + _typename(param))
            if not (param.is_leaf or param.retains_grad):
                raise ConfigError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ConfigError("parameter group didn't specify a value of required "
                                  f"optimization parameter {name}")
            param_group.setdefault(name, default)

        if len(tensors) != len(set(map(id, tensors))):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; "
                          "see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)

        seen = set()
        for group in self.param_groups:
            seen.update(map(id, group["params"]))
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ConfigError("all optimizer param groups should be with/without names. "
                                  f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(map(id, tensors)):
            raise ConfigError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ---- gradients --------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimised tensors: to ``None`` (default), or to zeros.

        As in PyTorch, a parameter whose ``.grad`` is None is skipped by ``step``, while one whose
        gradient is zeros is stepped (weight decay and momentum still move it).
        """
        for group in self.param_groups:
            zero_grads(group["params"], set_to_none)

    def step(self, closure=None):
        """Perform one optimisation step; *closure* re-evaluates the model and returns the loss."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    # ---- checkpoints ------------------------------------------------------------------------
    def state_dict(self):
        """The optimiser's state as a dict, in PyTorch's layout.

        ``{"state": {index: {"step": tensor, "exp_avg": tensor, ...}},
        "param_groups": [{"lr": ..., ..., "params": [index, ...]}]}``: parameters are numbered
        in group order. The tensors are copies, so the dict is a snapshot.
        """
        index = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): _snapshot(v)
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load a state made by ``state_dict()`` (here or in PyTorch's layout).

        Checks that the number of groups and each group's size match, and that per-element
        buffers have their parameter's shape; on a mismatch raises ValueError and changes nothing.
        The loaded tensors are copied and cast to each parameter's dtype (``step`` keeps its own).
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict \
                or "param_groups" not in state_dict:
            got = (f"keys {sorted(map(str, state_dict))}" if isinstance(state_dict, dict)
                   else type(state_dict).__name__)
            raise CheckpointError("load_state_dict: expected a dict with keys 'state' and "
                                  f"'param_groups' (as made by state_dict()), got {got}")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise CheckpointError("loaded state dict has a different number of parameter groups: "
                                  f"{len(saved_groups)} saved, {len(groups)} in this optimizer")
        for i, (g, sg) in enumerate(zip(groups, saved_groups)):
            if not isinstance(sg, dict) or "params" not in sg:
                raise CheckpointError(f"loaded state dict: param_groups[{i}] is not a dict with "
                                      "'params'")
            if len(g["params"]) != len(sg["params"]):
                raise CheckpointError("loaded state dict contains a parameter group that doesn't "
                                      f"match the size of optimizer's group: group {i} has "
                                      f"{len(sg['params'])} parameters saved, "
                                      f"{len(g['params'])} here")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = self._cast_state(param, v, k)
            else:
                state[k] = v

        new_groups = []
        for i, (g, sg) in enumerate(zip(groups, saved_groups)):
            for name, default in self.defaults.items():
                sg.setdefault(name, default)
            try:
                sg = self.check_hyperparameters(sg)
            except (ValueError, TypeError, RuntimeError) as e:
                raise CheckpointError(f"loaded state dict: param_groups[{i}]: {e}") from None
            sg["params"] = g["params"]
            if "param_names" in g and "param_names" not in sg:
                sg["param_names"] = g["param_names"]
            new_groups.append(sg)
        self.__setstate__({"state": state, "param_groups": new_groups})

    def _cast_state(self, param, value, index):
        """Copy one parameter's saved state, casting tensors to the parameter's dtype."""
        if not isinstance(value, dict):
            raise CheckpointError(f"loaded state dict: state[{index}] should be a dict, "
                                  f"got {type(value).__name__}")
        out = {}
        for key, v in value.items():
            if key in self._per_element_state and (isinstance(v, (Tensor, np.ndarray)) or is_array(v)) \
                    and tuple(v.shape) != tuple(param.shape):
                raise CheckpointError(f"loaded state dict: state[{index}][{key!r}] has shape "
                                      f"{tuple(v.shape)} but its parameter has shape "
                                      f"{tuple(param.shape)}")
            out[key] = _cast(param, v, key)
        return out


def _snapshot(value):
    """A deep copy of a state value: tensors copied, containers rebuilt, numbers kept."""
    if isinstance(value, Tensor):
        return Tensor(value._data.copy())
    if isinstance(value, np.ndarray) or is_array(value):
        return Tensor(value.copy())
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    return value


def _cast(param, value, key=None):
    """Copy *value* for *param*'s state: floating tensors take the parameter's dtype except
    ``step``, which keeps its own (as PyTorch does)."""
    if isinstance(value, (Tensor, np.ndarray)) or is_array(value):
        arr = value._data if isinstance(value, Tensor) else value
        if key == "step":                       # the step count stays in host memory
            return Tensor(to_device(arr, "cpu").copy())
        if param._data.dtype.kind == "f" and arr.dtype.kind in "fiub":
            arr = arr.astype(param._data.dtype, copy=True)
        else:
            arr = arr.copy()
        return Tensor(to_device(arr, device_of(param._data)))   # state lives on its parameter's device
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value
