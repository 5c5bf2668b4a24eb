"""Evaluation metrics on arrays of labels and scores (NumPy in, Python numbers out)."""
from chainrule.metrics.classification import (accuracy_score, confusion_matrix, f1_score,
                                              precision_score, recall_score, roc_auc_score)

__all__ = ["accuracy_score", "confusion_matrix", "f1_score", "precision_score", "recall_score",
           "roc_auc_score"]
