"""``Module``: the base class of every layer and network, as ``torch.nn.Module``.

A module registers what its ``__setattr__`` is given: a :class:`Parameter` goes to ``_parameters``,
a sub-``Module`` to ``_modules``, a tensor passed to ``register_buffer`` to ``_buffers``. Everything
else (iterating parameters, ``state_dict``, ``train``/``eval``, ``to``, ``repr``) walks that tree.
Registered things are found by ``__getattr__``, which Python calls only when ordinary attribute
lookup misses, so plain attributes cost nothing extra.
"""
import difflib
import itertools
from collections import OrderedDict, namedtuple

from chainrule import dtypes
from chainrule.autograd.grad import zero_grads
from chainrule.backend import Device, device as _device, device_of, namespace_for, namespace_of, \
    to_device, xp
from chainrule.errors import (ArgumentTypeError, ConfigError, DTypeError, KeyNameError,
                              StateDictError)
from chainrule.nn.modules.backward_hooks import BackwardHook
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` did not match: (missing_keys, unexpected_keys)."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_forward_hook``: ``handle.remove()`` unregisters the hook."""

    _next_id = itertools.count()

    def __init__(self, hooks):
        self.hooks, self.id = hooks, next(RemovableHandle._next_id)

    def remove(self):
        """Unregister the hook (a second call does nothing)."""
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _addindent(s, n):
    """Indent every line of *s* but the first by *n* spaces (blank lines stay empty), as torch."""
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join((" " * n + ln) if ln.strip() else "" for ln in lines[1:])


def _typename(obj):
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _check_name(kind, name):
    if not isinstance(name, str):
        raise ArgumentTypeError(f"{kind} name should be a string, got {_typename(name)}")
    if "." in name:
        raise KeyNameError(f'{kind} name can\'t contain ".", got: {name}')
    if name == "":
        raise KeyNameError(f'{kind} name can\'t be empty string ""')


class Module:
    """Base class of layers and networks: create parts in ``__init__``, compute in ``forward``.

    >>> class MLP(cr.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = cr.nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> MLP()(cr.randn(3, 4)).shape
    (3, 2)
    """

    training: bool

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()

    # ---- calling -----------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        """The computation of the module: override in every subclass."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def __call__(self, *args, **kwargs):
        if self._forward_hooks or self._forward_pre_hooks or self._backward_hooks or \
                self._backward_pre_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        bw = None
        if self._backward_hooks or self._backward_pre_hooks:
            bw = BackwardHook(self)
            args = bw.setup_inputs(args)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out if bw is None else bw.setup_outputs(out)

    def register_forward_pre_hook(self, hook, *, prepend=False):
        """Call ``hook(module, args)`` before forward; a non-None result replaces the args."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend)

    def register_forward_hook(self, hook, *, prepend=False):
        """Call ``hook(module, args, output)`` after forward; a non-None result is the output."""
        return self._add_hook(self._forward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradients of the module's outputs are
        known; a non-None result (a tuple) replaces grad_output.  Returns a removable handle."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients of the module's
        positional inputs are known (grad_input: one entry per positional argument, None for
        those that are not tensors requiring grad); a non-None result (a tuple) replaces
        grad_input.  Returns a removable handle.

        >>> fc = nn.Linear(3, 2)
        >>> h = fc.register_full_backward_hook(lambda m, gi, go: print(go[0].shape))
        >>> fc(cr.ones(4, 3)).sum().backward()
        (4, 2)
        >>> h.remove()
        """
        return self._add_hook(self._backward_hooks, hook, prepend)

    @staticmethod
    def _add_hook(hooks, hook, prepend):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    # ---- registration ------------------------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise ArgumentTypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                        f"(cr.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if d.get("_modules") is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            d["_modules"][name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise ArgumentTypeError(f"cannot assign '{_typename(value)}' as child module "
                                        f"'{name}' (cr.nn.Module or None expected)")
            d["_modules"][name] = None
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise ArgumentTypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                        f"(cr.Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Remove *name* from the places it could be registered other than *keep* (where it is
        about to be set, keeping its position)."""
        d = self.__dict__
        d.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep:
                d[store].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        msg = f"'{type(self).__name__}' object has no attribute '{name}'"
        if "_parameters" not in d:
            raise AttributeError(msg + f" (did {type(self).__name__}.__init__ call "
                                       f"super().__init__() first?)")
        known = [k for store in ("_parameters", "_buffers", "_modules") for k in d.get(store, ())]
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            msg += f"; did you mean '{close[0]}'?"
        raise AttributeError(msg)

    def __delattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if name in d.get(store, ()):
                del d[store][name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        extra = itertools.chain(self._parameters, self._buffers, self._modules)
        return sorted(set(super().__dir__()) | set(extra))

    def register_parameter(self, name, param):
        """Register *param* (a Parameter, or None for an absent one) as ``self.<name>``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyNameError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise ArgumentTypeError(f"cannot assign '{_typename(param)}' object to parameter "
                                    f"'{name}' (cr.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ConfigError(f"cannot assign non-leaf tensor to parameter '{name}': a Parameter "
                              f"must be a leaf; wrap a detached copy, cr.nn.Parameter(t.detach())")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a tensor that is state but not a parameter (``running_mean``); saved by
        ``state_dict`` unless ``persistent=False``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyNameError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise ArgumentTypeError(f"cannot assign '{_typename(tensor)}' object to buffer "
                                    f"'{name}' (cr.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Register *module* (or None) as the child ``self.<name>``."""
        if module is not None and not isinstance(module, Module):
            raise ArgumentTypeError(f"{_typename(module)} is not a Module subclass")
        _check_name("module", name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyNameError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The submodule at dotted path *target* (``"encoder.0"``); ``""`` is the module itself."""
        mod = self
        for item in target.split(".") if target else ():
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def get_parameter(self, target):
        """The parameter at dotted path *target* (``"encoder.0.weight"``)."""
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        p = getattr(mod, name)
        if not isinstance(p, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return p

    def get_buffer(self, target):
        """The buffer at dotted path *target* (``"bn.running_mean"``)."""
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer `{name}`")
        return mod._buffers[name]

    # ---- walking the tree --------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module and every descendant, depth first, each module once."""
        if memo is None:
            memo = set()
        stack = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if mod in memo:
                continue
            if remove_duplicate:
                memo.add(mod)
            yield name, mod
            kids = [(name + ("." if name else "") + k, m) for k, m in mod._modules.items()
                    if m is not None]
            stack.extend(reversed(kids))

    def modules(self):
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """(name, module) for each direct child."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and m not in seen:
                seen.add(m)
                yield name, m

    def children(self):
        """The direct children."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, mod in mods:
            for k, v in getattr(mod, store).items():
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + k, v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, parameter) pairs; a parameter shared by two modules comes once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """The parameters, for an optimiser: ``cr.optim.SGD(model.parameters(), lr=0.1)``."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, buffer) pairs."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """The buffers (``running_mean`` ...)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(m)`` on every submodule (children first) and on self; return self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients -----------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (dropout active, batch statistics) here and below; return self."""
        if not isinstance(mode, bool):
            raise ConfigError(f"training mode is expected to be boolean, got {mode!r}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Switch gradient tracking of every parameter on or off (freezing); return self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's ``.grad`` (or fill it with zeros if ``set_to_none=False``)."""
        zero_grads(self.parameters(), set_to_none)

    # ---- state dict --------------------------------------------------------------------------
    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """An ``OrderedDict`` from dotted names to parameters and persistent buffers.

        The values share memory with the module (detached unless *keep_vars*), as in PyTorch.
        """
        out = OrderedDict() if destination is None else destination
        for mod_prefix, mod in self.named_modules(prefix=prefix, remove_duplicate=False):
            head = mod_prefix + "." if mod_prefix else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    out[head + k] = p if keep_vars else p.detach()
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent_buffers_set:
                    out[head + k] = b if keep_vars else b.detach()
        return out

    def _state_entries(self):
        """(name, owning module, attribute, tensor, is_parameter) for each state_dict entry."""
        for mod_prefix, mod in self.named_modules(remove_duplicate=False):
            head = mod_prefix + "." if mod_prefix else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    yield head + k, mod, k, p, True
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent_buffers_set:
                    yield head + k, mod, k, b, False

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from *state_dict* into the parameters and buffers; return
        ``(missing_keys, unexpected_keys)``.

        Everything is checked before anything is copied: with ``strict=True`` a missing or
        unexpected key, and always a shape mismatch or a non-tensor value, raises a RuntimeError
        listing every problem and leaves the module unchanged.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise ArgumentTypeError("expected state_dict to be dict-like, got "
                                    f"{_typename(state_dict)}")
        entries = list(self._state_entries())
        expected = {e[0] for e in entries}
        missing = [e[0] for e in entries if e[0] not in state_dict]
        missing = list(dict.fromkeys(missing))
        unexpected = [k for k in state_dict.keys() if k not in expected]
        errors, plan = [], []
        for key, mod, attr, t, is_param in entries:
            if key not in state_dict:
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                arr = value._data
            elif isinstance(value, xp.ndarray):
                arr = value
            elif hasattr(value, "__array__"):  # a torch tensor, a NumPy scalar, an array-like
                try:  # an own copy, so a parameter never aliases another library's memory
                    arr = xp.asarray(value).copy()
                except (TypeError, ValueError, RuntimeError) as e:
                    errors.append(f'While copying the parameter named "{key}", could not convert '
                                  f'the {_typename(value)} to an array: {e}')
                    continue
            else:
                errors.append(f'While copying the parameter named "{key}", expected a cr.Tensor or '
                              f'NumPy array (or an array-like with __array__, such as a torch '
                              f'tensor) from checkpoint but received {type(value)}')
                continue
            if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and t._data.dtype.kind != "f"):
                errors.append(f'While copying the parameter named "{key}", the checkpoint holds '
                              f'dtype {arr.dtype}, which cannot be loaded into the model\'s '
                              f'{t._data.dtype} without losing values')
                continue
            if arr.shape != t.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {arr.shape} "
                              f"from checkpoint, the shape in current model is {t.shape}.")
                continue
            plan.append((mod, attr, t, is_param, arr, value))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise StateDictError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        for mod, attr, t, is_param, arr, value in plan:
            if assign:
                new = value if isinstance(value, Tensor) else Tensor(arr)
                if is_param:
                    mod._parameters[attr] = Parameter(new, requires_grad=t.requires_grad)
                else:
                    mod._buffers[attr] = new
            else:
                if type(t._data) is not xp.ndarray:   # a parameter on a GPU: copy the values there
                    arr = to_device(arr, device_of(t._data))
                namespace_of(t._data).copyto(t._data, arr, casting="unsafe")
                t._vc[0] += 1
        return _IncompatibleKeys(missing, unexpected)

    # ---- dtype and device --------------------------------------------------------------------
    def _apply(self, fn):
        """Replace the array of every parameter, gradient and buffer by ``fn(array)``, in place
        (parameters and buffers keep their identity)."""
        seen = set()
        for mod in self.modules():
            for t in itertools.chain(mod._parameters.values(), mod._buffers.values()):
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                new = fn(t._data)
                if new is not t._data:
                    t._data = new
                    t._vc[0] += 1
                if t.grad is not None:
                    g = fn(t.grad._data)
                    if g is not t.grad._data:
                        t.grad = Tensor(g)
        return self

    def to(self, *args, dtype=None, device=None, non_blocking=False):
        """Move parameters and buffers to *device* and/or convert the floating-point ones to
        *dtype*, in place; return self.  ``model.to("cuda")``, ``model.to(cr.float64)``,
        ``model.to("cuda", cr.float64)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (str, Device)):
                device = a
            else:
                dtype = a
        if dtype is not None:
            dtype = dtypes.to_dtype(dtype)
            if dtype.kind != "f":
                raise DTypeError(f"Module.to only accepts floating point dtypes, but got desired "
                                 f"dtype={dtype}")
        if device is not None:
            dev = _device(device)
            if dev.type == "cuda":
                namespace_for(dev)          # DeviceError now, before anything moves
            self._apply(lambda a: to_device(a, dev))
        if dtype is None:
            return self
        return self._apply(lambda a: a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype
                           else a)

    def float(self):
        """Cast floating-point parameters and buffers to float32."""
        return self.to(dtypes.float32)

    def double(self):
        """Cast floating-point parameters and buffers to float64."""
        return self.to(dtypes.float64)

    def half(self):
        """Cast floating-point parameters and buffers to float16."""
        return self.to(dtypes.float16)

    def cpu(self):
        """Move every parameter and buffer to host memory; return self."""
        return self.to("cpu")

    def cuda(self, device=None):
        """Move every parameter and buffer to the GPU (*device*: an index or "cuda:N"); return
        self.  Build the optimiser after moving the model, as in PyTorch."""
        return self.to(_device("cuda", device) if isinstance(device, int) or device is None
                       else device)

    # ---- printing ----------------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The text inside this module's parentheses in ``repr`` (its hyperparameters)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"
