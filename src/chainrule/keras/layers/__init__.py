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
from chainrule.keras.layers.preprocessing import Normalization, Rescaling
from chainrule.keras.layers.category_encoding import CategoryEncoding
from chainrule.keras.layers.lookup import IntegerLookup, StringLookup
from chainrule.keras.layers.discretization import Discretization
from chainrule.keras.layers.hashing import Hashing
from chainrule.keras.layers.core import Lambda
from chainrule.keras.layers.reshaping import Permute, RepeatVector
from chainrule.keras.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from chainrule.keras.layers.normalization import GroupNormalization, UnitNormalization

__all__ = ["Activation", "Add", "Average", "BatchNormalization", "CategoryEncoding", "Concatenate",
           "Dense", "Dropout", "Flatten", "Identity", "Input", "InputLayer", "IntegerLookup",
           "Layer", "LayerNormalization", "Maximum", "Minimum", "Multiply", "Normalization",
           "Reshape", "Subtract", "activations", "add", "average", "concatenate", "initializers",
           "maximum", "minimum", "multiply", "subtract"]
__all__ += ["Discretization", "ELU", "GroupNormalization", "Hashing", "Lambda", "LeakyReLU",
            "PReLU", "Permute", "ReLU", "RepeatVector", "Rescaling", "Softmax", "StringLookup",
            "UnitNormalization"]

from chainrule.keras.layers.attention import Attention, MultiHeadAttention  # noqa: E402
from chainrule.keras.layers.embedding import Embedding  # noqa: E402
from chainrule.keras.layers.recurrent import GRU, LSTM, SimpleRNN  # noqa: E402
from chainrule.keras.layers.wrappers import Bidirectional, TimeDistributed  # noqa: E402

__all__ += ["Attention", "Bidirectional", "Embedding", "GRU", "LSTM", "MultiHeadAttention",
            "SimpleRNN", "TimeDistributed"]

from chainrule.keras.layers.convolutional import Conv1D, Conv2D, Conv2DTranspose  # noqa: E402
from chainrule.keras.layers.pooling import (AveragePooling2D, GlobalAveragePooling2D,  # noqa: E402
                                            GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)
from chainrule.keras.layers.spatial_reshaping import UpSampling2D, ZeroPadding2D  # noqa: E402

__all__ += ["AveragePooling2D", "Conv1D", "Conv2D", "Conv2DTranspose", "GlobalAveragePooling2D",
            "GlobalMaxPooling2D", "MaxPooling1D", "MaxPooling2D", "UpSampling2D", "ZeroPadding2D"]
