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

from chainrule.nn.modules import SyncBatchNorm  # noqa: E402

__all__ += ["SyncBatchNorm"]

from chainrule.nn.modules import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d,  # noqa: E402
                                  AvgPool2d, BatchNorm2d, ConstantPad2d, Conv1d, Conv2d,
                                  ConvTranspose1d, ConvTranspose2d, Dropout1d, Dropout2d,
                                  MaxPool1d, MaxPool2d, ReflectionPad2d, ReplicationPad2d,
                                  Upsample, ZeroPad2d)

__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BatchNorm2d",
            "ConstantPad2d", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d",
            "Dropout1d", "Dropout2d", "MaxPool1d", "MaxPool2d", "ReflectionPad2d",
            "ReplicationPad2d", "Upsample", "ZeroPad2d"]

from chainrule.nn.modules import (Bilinear, CELU, CosineEmbeddingLoss,  # noqa: E402
                                  CosineSimilarity, GLU, GaussianNLLLoss, GroupNorm, Hardshrink,
                                  Hardsigmoid, Hardswish, Hardtanh, HingeEmbeddingLoss,
                                  InstanceNorm1d, InstanceNorm2d, KLDivLoss, LocalResponseNorm,
                                  LogSigmoid, MarginRankingLoss, Mish, MultiLabelSoftMarginLoss,
                                  MultiMarginLoss, PReLU, PairwiseDistance, ParameterDict,
                                  ParameterList, PoissonNLLLoss, RMSNorm, ReLU6, SELU,
                                  SoftMarginLoss, Softmin, Softshrink, Softsign, Tanhshrink,
                                  Threshold, TripletMarginLoss)

__all__ += ["Bilinear", "CELU", "CosineEmbeddingLoss", "CosineSimilarity", "GLU",
            "GaussianNLLLoss", "GroupNorm", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
            "HingeEmbeddingLoss", "InstanceNorm1d", "InstanceNorm2d", "KLDivLoss",
            "LocalResponseNorm", "LogSigmoid", "MarginRankingLoss", "Mish",
            "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PReLU", "PairwiseDistance",
            "ParameterDict", "ParameterList", "PoissonNLLLoss", "RMSNorm", "ReLU6", "SELU",
            "SoftMarginLoss", "Softmin", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
            "TripletMarginLoss"]
