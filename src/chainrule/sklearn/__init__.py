"""``cr.sklearn``: chainrule networks as scikit-learn estimators (skorch's names).

``NeuralNetClassifier`` and ``NeuralNetRegressor`` fit any ``cr.nn`` module (or build one hidden
layer of 100 ReLU units) with chainrule's optimisers, and behave as scikit-learn estimators: they
pass ``sklearn.utils.estimator_checks.check_estimator`` and work in ``Pipeline``,
``GridSearchCV``, ``cross_val_score`` and ``clone``. Needs scikit-learn
(``pip install 'chainrule[sklearn]'``); ``import chainrule`` never imports it. Example::

    >>> from sklearn.datasets import make_classification
    >>> from sklearn.model_selection import cross_val_score
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> clf = cr.sklearn.NeuralNetClassifier(max_epochs=20, lr=0.01, random_state=0)
    >>> bool(cross_val_score(clf, X, y, cv=3).mean() > 0.75)
    True
"""
try:
    import sklearn as _sklearn  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised where scikit-learn is absent
    raise ImportError("cr.sklearn needs scikit-learn: pip install 'chainrule[sklearn]'",
                      name="sklearn") from e

from chainrule.sklearn.classifier import NeuralNetClassifier
from chainrule.sklearn.regressor import NeuralNetRegressor

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor"]
