"""The layer classes of ``chainrule.nn``: one file per family, as in PyTorch."""
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.container import ModuleDict, ModuleList, Sequential
from chainrule.nn.modules.linear import Flatten, Identity, Linear, Unflatten
from chainrule.nn.modules.activation import (ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid,
                                             Softmax, Softplus, Tanh)
from chainrule.nn.modules.dropout import Dropout
from chainrule.nn.modules.normalization import BatchNorm1d, LayerNorm
from chainrule.nn.modules.sparse import Embedding
from chainrule.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                                       L1Loss, MSELoss, NLLLoss, PinballLoss, SmoothL1Loss)

__all__ = ["BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "CrossEntropyLoss", "Dropout", "ELU",
           "Embedding", "Flatten", "GELU", "HuberLoss", "Identity", "L1Loss", "LayerNorm",
           "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleDict", "ModuleList",
           "NLLLoss", "PinballLoss", "ReLU", "SiLU", "Sequential", "Sigmoid", "SmoothL1Loss",
           "Softmax", "Softplus", "Tanh", "Unflatten"]

from chainrule.nn.modules.attention import MultiheadAttention
from chainrule.nn.modules.rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell
from chainrule.nn.modules.transformer import (Transformer, TransformerDecoder,
                                              TransformerDecoderLayer, TransformerEncoder,
                                              TransformerEncoderLayer)

__all__ += ["GRU", "GRUCell", "LSTM", "LSTMCell", "MultiheadAttention", "RNN", "RNNBase", "RNNCell",
            "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
            "TransformerEncoderLayer"]
