"""``chainrule.nn``: layers, losses and their functional forms, as ``torch.nn``.

>>> import chainrule as cr
>>> from chainrule import nn
>>> model = nn.Sequential(nn.Linear(13, 16), nn.ReLU(), nn.Linear(16, 1))
>>> loss = nn.BCEWithLogitsLoss()(model(cr.randn(8, 13)), cr.ones(8, 1))
"""
from chainrule.nn.parameter import Parameter
from chainrule.nn import functional, init
from chainrule.nn.modules import (BCELoss, BCEWithLogitsLoss, BatchNorm1d, CrossEntropyLoss,
                                  Dropout, ELU, Embedding, Flatten, GELU, HuberLoss, Identity,
                                  L1Loss, LayerNorm, LeakyReLU, Linear, LogSoftmax, MSELoss,
                                  Module, ModuleDict, ModuleList, NLLLoss, PinballLoss, ReLU, SiLU,
                                  Sequential, Sigmoid, SmoothL1Loss, Softmax, Softplus, Tanh,
                                  Unflatten)
from chainrule.nn import utils

__all__ = ["BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "CrossEntropyLoss", "Dropout", "ELU",
           "Embedding", "Flatten", "GELU", "HuberLoss", "Identity", "L1Loss", "LayerNorm",
           "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleDict", "ModuleList",
           "NLLLoss", "Parameter", "PinballLoss", "ReLU", "SiLU", "Sequential", "Sigmoid",
           "SmoothL1Loss", "Softmax", "Softplus", "Tanh", "Unflatten", "functional", "init",
           "utils"]

from chainrule.nn.modules import (GRU, GRUCell, LSTM, LSTMCell, MultiheadAttention, RNN,  # noqa: E402
                                  RNNBase, RNNCell, Transformer, TransformerDecoder,
                                  TransformerDecoderLayer, TransformerEncoder,
                                  TransformerEncoderLayer)

__all__ += ["GRU", "GRUCell", "LSTM", "LSTMCell", "MultiheadAttention", "RNN", "RNNBase", "RNNCell",
            "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
            "TransformerEncoderLayer"]
