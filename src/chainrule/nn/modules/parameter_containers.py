"""``ParameterList`` and ``ParameterDict``: parameters held in a list or dict that the module sees.

As in PyTorch, a tensor put in one is wrapped as a ``Parameter`` (sharing its memory) and
registered under its index (``"0"``, ``"1"``...) or key, so ``parameters()``, ``state_dict()``,
``to()`` and the optimisers find it; other values are kept as plain attributes.

>>> ps = nn.ParameterList([nn.Parameter(cr.zeros(2)) for _ in range(3)])
>>> len(list(ps.parameters()))
3
"""
import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from chainrule.errors import (ArgumentTypeError, ConfigError, IndexOutOfRangeError, KeyNameError,
                              UsageError)
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


def _as_parameter(value):
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _describe(p):
    if isinstance(p, Tensor):
        size = "x".join(str(s) for s in p.shape)
        device = f" ({p.device})" if str(p.device) != "cpu" else ""
        kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
        return f"{kind} containing: [{type(p).__module__.split('.')[0]}.{p.dtype} of size " \
               f"{size}{device}]"
    return f"Object of type: {type(p).__name__}"


class ParameterList(Module):
    """A list of parameters: ``self.ws = nn.ParameterList([...])``, then ``self.ws[i]``.

    >>> ps = nn.ParameterList([cr.ones(2)])
    >>> ps.append(cr.zeros(3))
    ParameterList(
        (0): Parameter containing: [chainrule.float32 of size 2]
        (1): Parameter containing: [chainrule.float32 of size 3]
    )
    """

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self += values

    def _index(self, idx):
        idx = operator.index(idx)
        if not -len(self) <= idx < len(self):
            raise IndexOutOfRangeError(f"index {idx} is out of range for a ParameterList of "
                                       f"{len(self)}")
        return idx % len(self)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(self._index(idx)))

    def __setitem__(self, idx, param):
        idx = self._index(idx)
        setattr(self, str(idx), _as_parameter(param))

    def __setattr__(self, name, value):
        if name.isdigit() and not isinstance(value, Parameter) \
                and name in self.__dict__.get("_parameters", ()):
            del self._parameters[name]             # a plain value replaces a parameter
        super().__setattr__(name, value)

    def __len__(self):
        return self._size

    def __iter__(self):
        return iter(self[i] for i in range(len(self)))

    def __iadd__(self, parameters):
        return self.extend(parameters)

    def append(self, value):
        """Add *value* (a tensor becomes a Parameter) at the end; return self."""
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        """Append every value of the iterable *values*; return self."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise ArgumentTypeError(f"ParameterList.extend should be called with an iterable, but got "
                             f"{type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return "\n".join(f"  ({k}): {_describe(p)}" for k, p in enumerate(self))

    def __call__(self, *args, **kwargs):
        raise UsageError("ParameterList should not be called.")


class ParameterDict(Module):
    """An ordered dict of parameters: ``self.ws = nn.ParameterDict({"a": ...})``, then ``self.ws["a"]``.

    >>> pd = nn.ParameterDict({"scale": cr.ones(1)})
    >>> pd["shift"] = cr.zeros(1)
    >>> list(pd.keys()), [n for n, _ in pd.named_parameters()]
    (['scale', 'shift'], ['scale', 'shift'])
    """

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = OrderedDict()
        if parameters is not None:
            self.update(parameters)

    def _check_key(self, key):
        if not isinstance(key, str):
            raise ArgumentTypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")
        return key

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyNameError(key)
        return getattr(self, key)

    def __setitem__(self, key, value):
        self._check_key(key)
        self._keys[key] = None
        value = _as_parameter(value)
        if not isinstance(value, Parameter) and key in self._parameters:
            del self._parameters[key]              # a plain value replaces a parameter
        setattr(self, key, value)

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(list(self._keys))

    def __contains__(self, key):
        return key in self._keys

    def copy(self):
        """A new ParameterDict with the same parameters (not copies of them)."""
        return ParameterDict(OrderedDict((k, self[k]) for k in self._keys))

    def setdefault(self, key, default=None):
        """self[key] if present, else set it to *default* and return that."""
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self):
        """Remove every entry."""
        for k in list(self._keys):
            del self[k]

    def pop(self, key):
        """Remove *key* and return its value."""
        v = self[key]
        del self[key]
        return v

    def popitem(self):
        """Remove and return the last (key, value) pair."""
        if not self._keys:
            raise KeyNameError("popitem(): dictionary is empty")
        k = next(reversed(self._keys))
        return k, self.pop(k)

    def get(self, key, default=None):
        """self[key] if present, else *default*."""
        return self[key] if key in self else default

    def fromkeys(self, keys, default=None):
        """A new ParameterDict with *keys*, each set to *default*."""
        return ParameterDict((k, default) for k in keys)

    def keys(self):
        """The keys, in insertion order."""
        return self._keys.keys()

    def items(self):
        """(key, value) pairs."""
        return ((k, self[k]) for k in self._keys)

    def values(self):
        """The values."""
        return (self[k] for k in self._keys)

    def update(self, parameters):
        """Add or replace entries from a mapping or an iterable of (key, value) pairs."""
        if not isinstance(parameters, Iterable):
            raise ArgumentTypeError(f"ParametersDict.update should be called with an iterable of "
                             f"key/value pairs, but got {type(parameters).__name__}")
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            for k, v in parameters.items():
                self[k] = v
        elif isinstance(parameters, Mapping):
            for k, v in sorted(parameters.items()):
                self[k] = v
        else:
            for j, pair in enumerate(parameters):
                if not isinstance(pair, Iterable) or isinstance(pair, (str, Tensor)):
                    raise ArgumentTypeError(f"ParameterDict update sequence element #{j} should be "
                                     f"Iterable; is {type(pair).__name__}")
                pair = tuple(pair)
                if len(pair) != 2:
                    raise ConfigError(f"ParameterDict update sequence element #{j} has length "
                                      f"{len(pair)}; 2 is required")
                self[pair[0]] = pair[1]

    def __or__(self, other):
        out = self.copy()
        out.update(other)
        return out

    def __ror__(self, other):
        out = ParameterDict(other)
        out.update(self)
        return out

    def __ior__(self, other):
        self.update(other)
        return self

    def extra_repr(self):
        return "\n".join(f"  ({k}): {_describe(p)}" for k, p in self.items())

    def __call__(self, input):
        raise UsageError("ParameterDict should not be called.")
