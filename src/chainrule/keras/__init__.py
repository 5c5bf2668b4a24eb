"""``chainrule.keras``: the Keras-style model API on top of ``cr.nn``.

Layers (``layers``) are ``nn.Module``s that build themselves on first call; calling them on
``layers.Input`` tensors builds a graph that ``Model(inputs, outputs)`` runs; ``Sequential`` stacks
layers; ``compile`` / ``fit`` / ``evaluate`` / ``predict`` train them; ``model.save`` and
``load_model`` keep a whole model in one file, the optimizer's state included. Every name
(``"adam"``, ``"mse"``, ``"relu"`` ...) resolves through one registry (``registry``).

>>> import chainrule as cr
>>> inputs = cr.layers.Input(shape=(29,), name="input")
>>> h = cr.layers.Dense(16, activation="relu")(inputs)
>>> outputs = cr.layers.Dense(1, activation="sigmoid")(h)
>>> model = cr.Model(inputs, outputs)
>>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
"""
from chainrule.keras import regularizers
from chainrule.keras import layers
from chainrule.keras.layers import Input, activations, initializers
from chainrule.keras.utils import clear_session
from chainrule.keras import callbacks, losses, metrics, optimizers
from chainrule.keras.models import Model, Sequential
from chainrule.keras import saving
from chainrule.keras.saving import load_model
from chainrule.keras import registry, utils

__all__ = ["Input", "Model", "Sequential", "activations", "callbacks", "clear_session",
           "initializers", "layers", "load_model", "losses", "metrics", "optimizers",
           "registry", "regularizers", "saving", "utils"]
