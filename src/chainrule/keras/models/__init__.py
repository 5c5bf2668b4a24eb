"""Keras-style models: ``Model`` (functional or subclassed) and ``Sequential``.

>>> model = cr.Sequential([cr.layers.Input((29,)), cr.layers.Dense(16, activation="relu"),
...                        cr.layers.Dense(1, activation="sigmoid")])
"""
from chainrule.keras.models.functional import Model
from chainrule.keras.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
