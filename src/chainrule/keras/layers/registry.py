"""The allowlist of layer classes a saved model may name, and (de)serialising layers by name.

``@serializable()`` registers a chainrule class under its name; ``serialize_layer`` turns a layer
into ``{"class_name", "config"}``; ``deserialize_layer`` rebuilds one, looking the name up only in
this allowlist (or in the caller's ``custom_objects``) — a file can never make chainrule import or
evaluate anything. Errors are :class:`SavedConfigError` naming the entry.

Example::

    >>> entry = serialize_layer(cr.layers.Dense(4, name="d"))
    >>> entry["class_name"], entry["config"]["units"]
    ('Dense', 4)
    >>> deserialize_layer(entry).units
    4
"""
import inspect

from chainrule.errors import ArgumentTypeError, ConfigError
from chainrule.keras.layers.base import Layer
from chainrule.keras.registry import LAYERS


class SavedConfigError(ConfigError):
    """A saved config is wrong at a named place (``config['layers'][3]: ...``); raised as is
    through nested models, so the message names the innermost bad entry. A ``cr.ConfigError``."""


def serializable(name=None):
    """Class decorator: allow ``load_model`` to rebuild this chainrule class from its name.

    Only chainrule's own modules use it; a saved file can name nothing else (user classes are
    passed to ``load_model(path, custom_objects={...})``). Example: ``@serializable()``.
    """
    def register(cls):
        return LAYERS.add(cls, name or cls.__name__)
    return register


def serialize_layer(layer):
    """``{"class_name": ..., "config": layer.get_config()}`` for saving a layer inside a model."""
    cls = type(layer)
    return {"class_name": LAYERS.name_of(cls) or cls.__name__, "config": layer.get_config()}


def deserialize_layer(entry, custom_objects=None, where="layer"):
    """A new layer from a ``serialize_layer`` dict, with its class looked up in the allowlist of
    chainrule layers (or in *custom_objects*, a dict name → class the caller trusts).

    Anything wrong raises ``ValueError`` naming *where* (the entry's place in the file).
    """
    if not isinstance(entry, dict) or set(entry) != {"class_name", "config"}:
        raise SavedConfigError(f"{where}: expected a dict with keys 'class_name' and 'config'. "
                          f"Received: {_short(entry)}")
    name, config = entry["class_name"], entry["config"]
    if not isinstance(name, str):
        raise SavedConfigError(f"{where}['class_name']: expected a string, received {_short(name)}")
    custom = custom_objects or {}
    if not isinstance(custom, dict):
        raise ArgumentTypeError(f"custom_objects must be a dict of name -> class. Received: "
                                f"{type(custom_objects).__name__}")
    cls = custom.get(name)
    if cls is None:
        try:
            cls = LAYERS.lookup(name, hint=" A saved model can only name chainrule's layers; to "
                                           "load your own layer, pass load_model(path, "
                                           "custom_objects={'%s': YourLayer})." % name[:80])
        except ConfigError as e:
            raise SavedConfigError(f"{where}: {e}") from None
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ArgumentTypeError(f"custom_objects['{name}'] must be a cr.layers.Layer subclass")
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise SavedConfigError(f"{where}['config']: expected a dict with string keys")
    try:
        if "custom_objects" in inspect.signature(cls.from_config).parameters:
            return cls.from_config(config, custom_objects=custom_objects)
        return cls.from_config(config)
    except SavedConfigError:
        raise
    except (TypeError, ValueError, KeyError) as e:
        raise SavedConfigError(f"{where}: invalid config for {name}: {e}") from None


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
