"""The training loop both styles share: PyTorch-style code and ``Model.fit`` run these steps."""
from chainrule.training.loop import evaluate_loss, predict, train_epoch, train_step

__all__ = ["evaluate_loss", "predict", "train_epoch", "train_step"]
