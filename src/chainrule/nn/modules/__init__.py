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

from chainrule.nn.modules.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa
from chainrule.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d,  # noqa: E402
                                          AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d)
from chainrule.nn.modules.batchnorm import BatchNorm2d  # noqa: E402
from chainrule.nn.modules.sync_batchnorm import SyncBatchNorm  # noqa: E402
__all__ += ["SyncBatchNorm"]
from chainrule.nn.modules.channel_dropout import Dropout1d, Dropout2d  # noqa: E402
from chainrule.nn.modules.padding import (ConstantPad2d, ReflectionPad2d,  # noqa: E402
                                          ReplicationPad2d, ZeroPad2d)
from chainrule.nn.modules.upsampling import Upsample  # noqa: E402

_IMAGES = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BatchNorm2d",
           "ConstantPad2d", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Dropout1d",
           "Dropout2d", "MaxPool1d", "MaxPool2d", "ReflectionPad2d", "ReplicationPad2d",
           "Upsample", "ZeroPad2d"]
__all__ += _IMAGES

from chainrule.nn.modules.activation_more import (CELU, GLU, Hardshrink, Hardsigmoid,  # noqa: E402
                                                  Hardswish, Hardtanh, LogSigmoid, Mish, PReLU,
                                                  ReLU6, SELU, Softmin, Softshrink, Softsign,
                                                  Tanhshrink, Threshold)
from chainrule.nn.modules.bilinear import Bilinear  # noqa: E402
from chainrule.nn.modules.distance import CosineSimilarity, PairwiseDistance  # noqa: E402
from chainrule.nn.modules.norm_layers import (GroupNorm, InstanceNorm1d,  # noqa: E402
                                              InstanceNorm2d, LocalResponseNorm, RMSNorm)
from chainrule.nn.modules.parameter_containers import ParameterDict, ParameterList  # noqa: E402
from chainrule.nn.modules.loss_more import (CosineEmbeddingLoss, GaussianNLLLoss,  # noqa: E402
                                            HingeEmbeddingLoss, KLDivLoss, MarginRankingLoss,
                                            MultiLabelSoftMarginLoss, MultiMarginLoss,
                                            PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss)

_CATALOGUE = ["Bilinear", "CELU", "CosineEmbeddingLoss", "CosineSimilarity", "GLU",
              "GaussianNLLLoss", "GroupNorm", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh",
              "HingeEmbeddingLoss", "InstanceNorm1d", "InstanceNorm2d", "KLDivLoss",
              "LocalResponseNorm", "LogSigmoid", "MarginRankingLoss", "Mish",
              "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PReLU", "PairwiseDistance",
              "ParameterDict", "ParameterList", "PoissonNLLLoss", "RMSNorm", "ReLU6", "SELU",
              "SoftMarginLoss", "Softmin", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
              "TripletMarginLoss"]
__all__ += _CATALOGUE
