"""``chainrule.nn.functional`` (imported as ``F``): every layer and loss as a plain function.

>>> import chainrule.nn.functional as F
>>> F.relu(cr.tensor([-1.0, 2.0]))
tensor([0., 2.])
"""
from chainrule.nn.functional.activation import (elu, gelu, leaky_relu, log_softmax, one_hot, relu,
                                                sigmoid, silu, softmax, softplus, tanh)
from chainrule.nn.functional.dropout import dropout
from chainrule.nn.functional.embedding import embedding
from chainrule.nn.functional.linear import linear
from chainrule.nn.functional.group_norm import group_norm
from chainrule.nn.functional.normalize import normalize
from chainrule.nn.functional.prelu import prelu
from chainrule.nn.functional.normalization import batch_norm, layer_norm
from chainrule.nn.functional.loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                                          cross_entropy, huber_loss, l1_loss, mse_loss, nll_loss,
                                          pinball_loss, smooth_l1_loss)

__all__ = ["batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "dropout", "elu", "embedding", "gelu", "group_norm", "huber_loss",
           "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "mse_loss", "nll_loss",
           "normalize", "one_hot", "pinball_loss", "prelu", "relu", "sigmoid", "silu",
           "smooth_l1_loss", "softmax", "softplus", "tanh"]

from chainrule.nn.functional.attention import (multi_head_attention_forward,  # noqa: E402
                                               scaled_dot_product_attention)

__all__ += ["multi_head_attention_forward", "scaled_dot_product_attention"]

from chainrule.nn.functional.conv import (conv1d, conv2d, conv_transpose1d,  # noqa: E402
                                          conv_transpose2d, fold, unfold)
from chainrule.nn.functional.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d,  # noqa: E402
                                             avg_pool1d, avg_pool2d, max_pool1d, max_pool2d)
from chainrule.nn.functional.padding import pad  # noqa: E402
from chainrule.nn.functional.resize import interpolate  # noqa: E402
from chainrule.nn.functional.channel_dropout import dropout1d, dropout2d  # noqa: E402

__all__ += ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "conv1d",
            "conv2d", "conv_transpose1d", "conv_transpose2d", "dropout1d", "dropout2d", "fold",
            "interpolate", "max_pool1d", "max_pool2d", "pad", "unfold"]

from chainrule.nn.functional.activation_more import (celu, glu, hardshrink, hardsigmoid,  # noqa: E402
                                                     hardswish, hardtanh, logsigmoid, mish, relu6,
                                                     selu, softmin, softshrink, softsign,
                                                     tanhshrink, threshold)
from chainrule.nn.functional.bilinear import bilinear  # noqa: E402
from chainrule.nn.functional.distance import cosine_similarity, pairwise_distance  # noqa: E402
from chainrule.nn.functional.instance_norm import instance_norm  # noqa: E402
from chainrule.nn.functional.local_response_norm import local_response_norm  # noqa: E402
from chainrule.nn.functional.rms_norm import rms_norm  # noqa: E402
from chainrule.nn.functional.loss_distribution import (gaussian_nll_loss, kl_div,  # noqa: E402
                                                       poisson_nll_loss)
from chainrule.nn.functional.loss_margin import (multi_margin_loss,  # noqa: E402
                                                 multilabel_soft_margin_loss, soft_margin_loss)
from chainrule.nn.functional.loss_ranking import (cosine_embedding_loss,  # noqa: E402
                                                  hinge_embedding_loss, margin_ranking_loss,
                                                  triplet_margin_loss)

__all__ += ["bilinear", "celu", "cosine_embedding_loss", "cosine_similarity", "gaussian_nll_loss",
            "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "hinge_embedding_loss",
            "instance_norm", "kl_div", "local_response_norm", "logsigmoid", "margin_ranking_loss",
            "mish", "multi_margin_loss", "multilabel_soft_margin_loss", "pairwise_distance",
            "poisson_nll_loss", "relu6", "rms_norm", "selu", "soft_margin_loss", "softmin",
            "softshrink", "softsign", "tanhshrink", "threshold", "triplet_margin_loss"]

from chainrule.nn.functional.recurrent import (gru_cell, lstm_cell, rnn_relu_cell,  # noqa: E402
                                               rnn_tanh_cell)

__all__ += ["gru_cell", "lstm_cell", "rnn_relu_cell", "rnn_tanh_cell"]
