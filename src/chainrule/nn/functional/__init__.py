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
