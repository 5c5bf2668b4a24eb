"""One registry for every name the Keras side looks up, with one error format.

Losses, metrics, optimizers, learning-rate schedules, activations, initializers, regularizers,
callbacks and layers (the allowlist a saved model may name) each have a :class:`Registry` here;
the modules that define them register their names at import, and every ``get`` / ``deserialize``
looks names up through :meth:`Registry.lookup`. A name that is not there always fails the same
way, as a :class:`~chainrule.errors.ConfigError` with the closest name::

    Unknown optimizer: 'adm'. Did you mean 'adam'? Known optimizers: adadelta, adagrad, ...

and an identifier of the wrong kind as ``Could not interpret loss identifier: 42 (expected ...)``.
``{"class_name": ..., "config": {...}}`` entries (configs in saved models) are rebuilt with
:meth:`Registry.deserialize`, which only instantiates registered classes: a file can never make
chainrule import or evaluate anything.

The command line's ``--optimizer`` choices come from :func:`optimizer_names`.

Example::

    >>> OPTIMIZERS.lookup("adam")
    <class 'chainrule.keras.optimizers.wrapped.Adam'>
    >>> optimizer_names()[:3]
    ['adadelta', 'adagrad', 'adam']
"""
import inspect

from chainrule.errors import ConfigError, suggest


def unknown_name(kind, name, known, plural=None, hint=""):
    """The ConfigError for a name that is not registered: closest name first, then all names.

    Example: ``unknown_name("loss", "mse2", ["mse", "mae"])`` says "Unknown loss: 'mse2'. Did
    you mean 'mse'? Known losses: mae, mse".
    """
    names = sorted({k for k in known if isinstance(k, str)}, key=lambda k: (k.lower(), k))
    shown = name if not isinstance(name, str) or len(name) <= 80 else name[:77] + "..."
    return ConfigError(f"Unknown {kind}: {shown!r}.{suggest(name, names, n=1, cutoff=0.5)}"
                       f"{hint} Known {plural or kind + 's'}: {', '.join(names)}")


def uninterpretable(kind, identifier, expected):
    """The ConfigError for an identifier of the wrong type.

    Example: ``uninterpretable("loss", 42, "a name or a function")`` says "Could not interpret
    loss identifier: 42 (expected a name or a function)".
    """
    text = repr(identifier)
    text = text if len(text) <= 80 else text[:77] + "..."
    return ConfigError(f"Could not interpret {kind} identifier: {text} (expected {expected})")


class Registry:
    """The names of one kind of object (``"loss"``, ``"metric"`` ...) and what they stand for.

    ``add(obj, *names)`` registers an object under names (a class under its own name by
    default); ``lookup(name)`` returns it or raises :func:`unknown_name`'s error; with
    ``ignore_case`` a name also matches in lower case (``"Adam"`` → ``"adam"``). Example::

        >>> LOSSES.lookup("mse").__name__
        'mean_squared_error'
    """

    def __init__(self, kind, plural=None, ignore_case=False):
        self.kind = kind
        self.plural = plural or kind + "s"
        self.ignore_case = ignore_case
        self._table = {}
        self._names_of = {}      # id(obj) -> first name it was registered under

    def add(self, obj, *names):
        """Register *obj* under *names* (default: its ``__name__``); returns *obj*."""
        for name in names or (obj.__name__,):
            self._table[name] = obj
            self._names_of.setdefault(id(obj), name)
        return obj

    def register(self, *names):
        """Class or function decorator: ``@LOSSES.register("mse")``."""
        def decorate(obj):
            return self.add(obj, *names)
        return decorate

    def names(self):
        """All registered names, sorted."""
        return sorted(self._table)

    def __contains__(self, name):
        return isinstance(name, str) and (name in self._table or (
            self.ignore_case and name.lower() in self._table))

    def name_of(self, obj):
        """The name *obj* (a registered object or class) was first registered under, or None."""
        return self._names_of.get(id(obj))

    def lookup(self, name, hint=""):
        """The object registered as *name*, or the ConfigError naming the closest names."""
        if isinstance(name, str):
            if name in self._table:
                return self._table[name]
            if self.ignore_case and name.lower() in self._table:
                return self._table[name.lower()]
        raise unknown_name(self.kind, name, self._table, self.plural, hint)

    def deserialize(self, entry, custom_objects=None, where=None):
        """A new object from ``{"class_name": NAME, "config": {...}}``, NAME registered here (or in
        *custom_objects*, a dict the caller trusts). Every problem is a ConfigError naming *where*."""
        where = where or f"{self.kind} config"
        if not isinstance(entry, dict) or set(entry) - {"class_name", "config"} \
                or "class_name" not in entry:
            raise ConfigError(f"Unknown {self.kind} config: {_short(entry)} (expected "
                              f"{{'class_name': one of the known {self.plural}, 'config': "
                              f"{{...}}}}) at {where}")
        name, config = entry["class_name"], entry.get("config", {})
        custom = custom_objects or {}
        cls = custom.get(name) if isinstance(name, str) else None
        if cls is None:
            if name not in self:
                raise ConfigError(f"Unknown {self.kind} config: {_short(entry)} at {where}: "
                                  + str(unknown_name(self.kind, name, self._table, self.plural)))
            cls = self.lookup(name)
        if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
            raise ConfigError(f"{where}['config']: expected a dict with string keys, received "
                              f"{_short(config)}")
        if not isinstance(cls, type):
            raise ConfigError(f"{where}: {name!r} names a function, not a class; give it by name "
                              f"instead of as a config")
        from_config = getattr(cls, "from_config", None)
        try:
            if from_config is None:
                return cls(**config)
            if "custom_objects" in inspect.signature(from_config).parameters:
                return from_config(config, custom_objects=custom_objects)
            return from_config(config)
        except ConfigError:
            raise
        except (TypeError, ValueError, KeyError) as e:
            raise ConfigError(f"{where}: invalid config for {self.kind} {name}: {e}") from None

    def serialize(self, obj):
        """``{"class_name": NAME, "config": obj.get_config()}`` for an object of a registered class;
        a ConfigError for anything else (a lambda, a user class)."""
        cls = getattr(type(obj), "_wrapped", type(obj))   # a wrapper class names what it wraps
        name = self.name_of(cls)
        if name is None or self._table.get(name) is not cls or not hasattr(obj, "get_config"):
            raise ConfigError(f"cannot serialize {self.kind} {obj!r}: only chainrule's built-in "
                              f"{self.plural} can be saved in a config")
        return {"class_name": name, "config": obj.get_config()}


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


LOSSES = Registry("loss", "losses")
METRICS = Registry("metric")
OPTIMIZERS = Registry("optimizer", ignore_case=True)
SCHEDULES = Registry("learning rate schedule")
ACTIVATIONS = Registry("activation")
INITIALIZERS = Registry("initializer")
REGULARIZERS = Registry("regularizer")
CALLBACKS = Registry("callback")
LAYERS = Registry("layer class", "layer classes")


def optimizer_names():
    """The optimizer names a command line may offer (``--optimizer adam``), lower case, sorted.

    ``OPTIMIZERS.lookup(name)`` gives the class; its defaults are Keras's. Example::

        >>> "nadam" in optimizer_names()
        True
    """
    return sorted(n for n in OPTIMIZERS.names() if n == n.lower())


__all__ = ["ACTIVATIONS", "CALLBACKS", "INITIALIZERS", "LAYERS", "LOSSES", "METRICS",
           "OPTIMIZERS", "REGULARIZERS", "Registry", "SCHEDULES", "optimizer_names",
           "uninterpretable", "unknown_name"]
