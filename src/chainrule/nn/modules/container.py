"""Containers: ``Sequential`` (a pipeline), ``ModuleList`` and ``ModuleDict`` (registered collections)."""
import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from itertools import chain, islice

from chainrule.errors import ArgumentTypeError, ConfigError, IndexOutOfRangeError
from chainrule.nn.modules.module import Module, _addindent


def _abs_index(idx, n):
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexOutOfRangeError(f"index {idx} is out of range for a container of {n} modules")
    return idx % n


class Sequential(Module):
    """Modules applied one after another: ``y = mₙ(…m₂(m₁(x)))``.

    >>> net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 1))
    >>> net(cr.randn(2, 4)).shape
    (2, 1)

    An ``OrderedDict`` of named modules may be given instead; ``net[0]``, ``net[1:]``, ``len(net)``
    and ``net.append(m)`` work as for a list.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def _key(self, idx):
        return next(islice(self._modules.keys(), _abs_index(idx, len(self)), None))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module):
        setattr(self, self._key(idx), module)

    def __delitem__(self, idx):
        keys = list(self._modules.keys())[idx] if isinstance(idx, slice) else [self._key(idx)]
        for k in keys:
            delattr(self, k)
        self.__dict__["_modules"] = OrderedDict(
            (str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ConfigError(f"add operator supports only objects of Sequential class, but "
                              f"{type(other)} is given.")
        ret = Sequential()
        for m in chain(self, other):
            ret.append(m)
        return ret

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise ConfigError(f"add operator supports only objects of Sequential class, but "
                              f"{type(other)} is given.")
        return self.extend(list(other))

    def append(self, module):
        """Add *module* at the end; return self."""
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index, module):
        """Insert *module* before position *index*; return self."""
        if not isinstance(module, Module):
            raise ArgumentTypeError("Sequential.insert: expected a Module, got "
                                    f"{type(module).__name__}")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexOutOfRangeError(f"Sequential.insert: index {index} is out of range for {n} "
                                       "modules")
        if index < 0:
            index += n
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module
        return self

    def extend(self, modules):
        """Append every module of *modules*; return self."""
        for m in modules:
            self.append(m)
        return self

    def pop(self, key):
        """Remove and return the module at *key*."""
        v = self[key]
        del self[key]
        return v

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(Module):
    """A list of modules the parent registers: ``self.layers = ModuleList([...])``.

    >>> layers = cr.nn.ModuleList([cr.nn.Linear(4, 4) for _ in range(3)])
    >>> len(list(layers.parameters()))
    6
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_abs_index(idx, len(self)))]

    def __setitem__(self, idx, module):
        setattr(self, str(_abs_index(idx, len(self))), module)

    def __delitem__(self, idx):
        keys = [str(k) for k in range(len(self))[idx]] if isinstance(idx, slice) \
            else [str(_abs_index(idx, len(self)))]
        for k in keys:
            delattr(self, k)
        self.__dict__["_modules"] = OrderedDict(
            (str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        out = ModuleList()
        for i, m in enumerate(chain(self, other)):
            out.add_module(str(i), m)
        return out

    def append(self, module):
        """Add *module* at the end; return self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Append every module of the iterable *modules*; return self."""
        if not isinstance(modules, Iterable):
            raise ArgumentTypeError(f"ModuleList.extend should be called with an iterable, but got "
                                    f"{type(modules).__name__}")
        offset = len(self)
        for i, m in enumerate(modules):
            self.add_module(str(offset + i), m)
        return self

    def insert(self, index, module):
        """Insert *module* before position *index*."""
        n = len(self._modules)
        if index < 0:
            index = max(index + n, 0)
        index = min(index, n)
        for i in range(n, index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module

    def pop(self, key):
        """Remove and return the module at *key*."""
        v = self[key]
        del self[key]
        return v

    def __repr__(self):
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        blocks = []  # [start, end, repr] runs of identical consecutive reprs, as torch prints them
        for i, r in enumerate(reprs):
            if blocks and blocks[-1][2] == r:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, r])
        lines = []
        for start, end, r in blocks:
            head = f"({start}): " if start == end else f"({start}-{end}): {end - start + 1} x "
            lines.append(_addindent(head + r, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules whose parameters the parent module sees.

    >>> heads = cr.nn.ModuleDict({"a": cr.nn.Linear(4, 1), "b": cr.nn.Linear(4, 2)})
    >>> heads["b"](cr.randn(3, 4)).shape
    (3, 2)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        """Remove every module."""
        self._modules.clear()

    def pop(self, key):
        """Remove and return the module under *key*."""
        v = self[key]
        del self[key]
        return v

    def keys(self):
        """The names."""
        return self._modules.keys()

    def items(self):
        """(name, module) pairs."""
        return self._modules.items()

    def values(self):
        """The modules."""
        return self._modules.values()

    def update(self, modules):
        """Add (or replace) modules from a mapping or an iterable of (name, module) pairs."""
        if not isinstance(modules, Iterable):
            raise ArgumentTypeError("ModuleDict.update should be called with an iterable of "
                                    f"key/value pairs, but got {type(modules).__name__}")
        if isinstance(modules, (Mapping, ModuleDict)):
            for k, m in modules.items():
                self[k] = m
            return
        for j, pair in enumerate(modules):
            if not isinstance(pair, Iterable) or len(pair) != 2:
                raise ConfigError(f"ModuleDict update sequence element #{j} should be a "
                                  f"(name, module) pair, got {pair!r}")
            self[pair[0]] = pair[1]
