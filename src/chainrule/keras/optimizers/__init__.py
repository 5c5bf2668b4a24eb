"""Keras-style optimizers: Keras's names, arguments and defaults, stepping with ``chainrule.optim``.

``SGD, Adam, AdamW, RMSprop, Adagrad, Adamax`` run ``cr.optim``'s updates (PyTorch's arithmetic,
see :mod:`~chainrule.keras.optimizers.wrapped`); ``Nadam, Adadelta, Lion`` run Keras 3's own.
Every one takes a number or a :mod:`~chainrule.keras.optimizers.schedules` schedule as
``learning_rate``, and saves and restores its whole state (see
:class:`~chainrule.keras.optimizers.base.Optimizer`). Names resolve case-insensitively through
the one registry (``"adam"``, ``"Nadam"``).

Example::

    >>> model = cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(1)])
    >>> schedule = schedules.CosineDecay(0.01, decay_steps=1000)
    >>> model.compile(Nadam(learning_rate=schedule), "mse")
"""
from chainrule import optim
from chainrule.keras.optimizers import schedules
from chainrule.keras.optimizers.adadelta import Adadelta
from chainrule.keras.optimizers.base import Optimizer, OptimWrapper
from chainrule.keras.optimizers.lion import Lion
from chainrule.keras.optimizers.nadam import Nadam
from chainrule.keras.optimizers.wrapped import SGD, Adagrad, Adam, Adamax, AdamW, RMSprop
from chainrule.keras.registry import OPTIMIZERS, uninterpretable

CLASSES = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Nadam,
                                         Adadelta, Lion)}
NAMES = {name.lower(): cls for name, cls in CLASSES.items()}
for _name, _cls in CLASSES.items():
    OPTIMIZERS.add(_cls, _name)
for _name, _cls in NAMES.items():
    OPTIMIZERS.add(_cls, _name)


def get(identifier):
    """Resolve an optimizer: a name, a config dict, a Keras-style optimizer (class or instance), or
    a ``cr.optim`` optimizer (class or instance). The result is built by ``compile``.

    Example: ``get("adam").learning_rate == 0.001``; ``get("adm")`` raises "Unknown optimizer:
    'adm'. Did you mean 'adam'? ...".
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return OPTIMIZERS.lookup(identifier)()
    if isinstance(identifier, dict):
        return OPTIMIZERS.deserialize(identifier)
    if isinstance(identifier, optim.Optimizer):
        return OptimWrapper(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, type) and issubclass(identifier, optim.Optimizer):
        return OptimWrapper(identifier)
    raise uninterpretable("optimizer", identifier, "a name such as 'adam', a keras optimizer, "
                          "or a cr.optim optimizer or class")


def serialize(optimizer):
    """``{"class_name": ..., "config": optimizer.get_config()}`` for a Keras-style optimizer.

    Example: ``serialize(Adam())["class_name"]`` is ``"Adam"``.
    """
    return OPTIMIZERS.serialize(optimizer)


def deserialize(config, custom_objects=None):
    """The (unbuilt) optimizer :func:`serialize` wrote. Example: ``deserialize(serialize(opt))``."""
    return OPTIMIZERS.deserialize(config, custom_objects, "optimizer")


__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Lion", "Nadam", "OptimWrapper",
           "Optimizer", "RMSprop", "SGD", "deserialize", "get", "schedules", "serialize"]
