"""Binary-classification metrics with scikit-learn's names and results.

Inputs are array-likes (NumPy arrays, lists or tensors): *y_true* holds 0/1 labels, *y_pred*
predicted labels and *y_score* scores (probabilities or logits).
"""
import numpy as np

from chainrule.errors import DataError


def _labels(y, name):
    a = np.asarray(getattr(y, "data", y)).reshape(-1)
    if a.size and not np.isin(a, (0, 1)).all():
        bad = a[~np.isin(a, (0, 1))][0]
        raise DataError(f"{name}: expected binary labels 0/1, got the value {bad!r}")
    return a.astype(np.int64)


def _pair(y_true, y_pred):
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise DataError(f"y_true has {t.size} labels but y_pred has {p.size}; they must match")
    return t, p


def accuracy_score(y_true, y_pred):
    """The fraction of predictions equal to the labels."""
    t, p = _pair(y_true, y_pred)
    return float((t == p).mean()) if t.size else float("nan")


def confusion_matrix(y_true, y_pred):
    """The 2×2 matrix [[TN, FP], [FN, TP]] (rows: true class, columns: predicted), as scikit-learn."""
    t, p = _pair(y_true, y_pred)
    m = np.zeros((2, 2), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    return m


def precision_score(y_true, y_pred):
    """TP / (TP + FP); 0.0 when nothing is predicted positive."""
    (tn, fp), (fn, tp) = confusion_matrix(y_true, y_pred)
    return float(tp / (tp + fp)) if tp + fp else 0.0


def recall_score(y_true, y_pred):
    """TP / (TP + FN) (sensitivity); 0.0 when there are no positives."""
    (tn, fp), (fn, tp) = confusion_matrix(y_true, y_pred)
    return float(tp / (tp + fn)) if tp + fn else 0.0


def f1_score(y_true, y_pred):
    """The harmonic mean of precision and recall."""
    p, r = precision_score(y_true, y_pred), recall_score(y_true, y_pred)
    return 2 * p * r / (p + r) if p + r else 0.0


def roc_auc_score(y_true, y_score):
    """Area under the ROC curve: the probability that a random positive outscores a random
    negative (ties count one half), computed from average ranks (Mann-Whitney U). A NaN or
    infinite score raises ``DataError``, as scikit-learn refuses them.

    Example::

        >>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    t = _labels(y_true, "y_true")
    s = np.asarray(getattr(y_score, "data", y_score), dtype=np.float64).reshape(-1)
    if s.shape != t.shape:
        raise DataError(f"y_true has {t.size} labels but y_score has {s.size} scores")
    bad = np.flatnonzero(~np.isfinite(s))
    if bad.size:
        raise DataError(f"roc_auc_score: y_score holds {s[bad[0]]} at index {bad[0]} "
                        f"({bad.size} non-finite score(s) in all); scores must be finite numbers "
                        f"to be ranked")
    n_pos, n_neg = int(t.sum()), int((1 - t).sum())
    if n_pos == 0 or n_neg == 0:
        raise DataError("roc_auc_score: only one class present in y_true; ROC AUC is undefined")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], s.size]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = (a + b + 1) / 2.0
    u = ranks[t == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))
