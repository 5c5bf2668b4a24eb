"""``cr.layers``: Keras-style layers, called on data or on symbolic ``Input`` tensors.

>>> import chainrule as cr
>>> inputs = cr.layers.Input(shape=(29,), name="input")
>>> h = cr.layers.Dense(16, activation="relu")(inputs)
>>> outputs = cr.layers.Dense(1, activation="sigmoid")(h)
>>> model = cr.Model(inputs, outputs)
"""
from chainrule.keras.layers import activations, initializers
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.core import Activation, Dense, Dropout, Flatten, Identity, Reshape
from chainrule.keras.layers.input import Input, InputLayer
from chainrule.keras.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply,
                                            Subtract, add, average, concatenate, maximum, minimum,
                                            multiply, subtract)
from chainrule.keras.layers.normalization import BatchNormalization, LayerNormalization
from chainrule.keras.layers.preprocessing import CategoryEncoding, IntegerLookup, Normalization

__all__ = ["Activation", "Add", "Average", "BatchNormalization", "CategoryEncoding", "Concatenate",
           "Dense", "Dropout", "Flatten", "Identity", "Input", "InputLayer", "IntegerLookup",
           "Layer", "LayerNormalization", "Maximum", "Minimum", "Multiply", "Normalization",
           "Reshape", "Subtract", "activations", "add", "average", "concatenate", "initializers",
           "maximum", "minimum", "multiply", "subtract"]
