"""Loss functions: a prediction and a target in, a number (or one per sample) out.

The losses live in one file per family; this module gathers them, so that
``from chainrule.nn.functional.loss import cross_entropy`` (and ``nn/modules/loss.py``'s
``F.check_reduction``) keep working:

* ``loss_regression``: mse_loss, l1_loss, huber_loss, smooth_l1_loss, pinball_loss;
* ``loss_binary``: binary_cross_entropy, binary_cross_entropy_with_logits;
* ``loss_cross_entropy`` and ``loss_nll`` (with ``loss_class_targets``, their targets' checks):
  cross_entropy, nll_loss;
* ``loss_distribution``: kl_div, poisson_nll_loss, gaussian_nll_loss;
* ``loss_ranking``: margin_ranking_loss, hinge_embedding_loss, cosine_embedding_loss,
  triplet_margin_loss;
* ``loss_margin``: soft_margin_loss, multilabel_soft_margin_loss, multi_margin_loss;
* ``loss_common``: the reduction names and check, argument checks, reducing.

Arguments, defaults and numbers follow ``torch.nn.functional``.

>>> F.l1_loss(cr.tensor([1., 2.]), cr.tensor([1., 4.]))
tensor(1.)
"""
from chainrule.nn.functional.loss_common import REDUCTIONS, check_reduction  # noqa: F401
from chainrule.nn.functional.loss_regression import (check_quantile, huber_loss, l1_loss,  # noqa: F401
                                                     mse_loss, pinball_loss, smooth_l1_loss)
from chainrule.nn.functional.loss_binary import (binary_cross_entropy,  # noqa: F401
                                                 binary_cross_entropy_with_logits)
from chainrule.nn.functional.loss_cross_entropy import cross_entropy  # noqa: F401
from chainrule.nn.functional.loss_nll import nll_loss  # noqa: F401
from chainrule.nn.functional.loss_distribution import (gaussian_nll_loss, kl_div,  # noqa: F401
                                                       poisson_nll_loss)
from chainrule.nn.functional.loss_ranking import (cosine_embedding_loss,  # noqa: F401
                                                  hinge_embedding_loss, margin_ranking_loss,
                                                  triplet_margin_loss)
from chainrule.nn.functional.loss_margin import (multi_margin_loss,  # noqa: F401
                                                 multilabel_soft_margin_loss, soft_margin_loss)

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "pinball_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss",
           "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "margin_ranking_loss",
           "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss"]
