import numpy as np
import pytest

import chainrule as cr
from chainrule.metrics import (accuracy_score, confusion_matrix, f1_score, precision_score,
                               recall_score, roc_auc_score)


def test_confusion_matrix_layout_and_scores():
    y = [0, 0, 1, 1, 1, 0]
    p = [0, 1, 1, 0, 1, 0]
    m = confusion_matrix(y, p)
    assert m.tolist() == [[2, 1], [1, 2]]  # [[TN, FP], [FN, TP]]
    assert accuracy_score(y, p) == pytest.approx(4 / 6)
    assert precision_score(y, p) == pytest.approx(2 / 3)
    assert recall_score(y, p) == pytest.approx(2 / 3)
    assert f1_score(y, p) == pytest.approx(2 / 3)


def test_scores_accept_tensors():
    assert accuracy_score(cr.tensor([1, 0]), cr.tensor([1, 1])) == 0.5


def test_roc_auc_equals_pairwise_probability_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # rounding creates ties
    pos, neg = s[y == 1], s[y == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert roc_auc_score(y, s) == pytest.approx(pairs)


def test_roc_auc_perfect_and_reversed():
    assert roc_auc_score([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc_score([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="only one class"):
        roc_auc_score([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="binary labels"):
        accuracy_score([0, 2], [0, 1])
    with pytest.raises(ValueError, match="must match"):
        accuracy_score([0, 1, 1], [0, 1])


@pytest.mark.parametrize("scores", [[np.nan] * 4, [0.1, np.nan, 0.3, 0.9], [0.1, 0.2, np.inf, 0.9],
                                    [-np.inf, 0.2, 0.3, 0.9]],
                         ids=["all_nan", "one_nan", "inf", "-inf"])
def test_roc_auc_refuses_non_finite_scores(scores):
    """All-NaN scores used to rank as ties and give 0.75: a silent wrong answer."""
    with pytest.raises(cr.errors.DataError, match=r"roc_auc_score: y_score holds .* at index"):
        roc_auc_score([0, 1, 0, 1], scores)
    with pytest.raises(ValueError):
        roc_auc_score(cr.tensor([0, 1, 0, 1]), cr.tensor(scores))
