"""``NeuralNetClassifier``: a chainrule network as a scikit-learn classifier (skorch's name)."""
import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets

from chainrule import nn
from chainrule.errors import ConfigError, DataError
from chainrule.sklearn._net import NeuralNet

_BINARY = (nn.BCEWithLogitsLoss, nn.BCELoss)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class NeuralNetClassifier(ClassifierMixin, NeuralNet):
    """A scikit-learn classifier that trains a chainrule network by mini-batch backprop.

    Args:
        module: a ``cr.nn.Module`` mapping (n, n_features) inputs to (n, n_outputs) logits
            (copied at fit; trained from its current weights), a callable
            ``(n_features, n_outputs) -> Module``, or None for one hidden layer of 100 ReLU units.
        criterion: a loss class or module: ``CrossEntropyLoss`` (the default; n_outputs = number
            of classes, probabilities by softmax), ``NLLLoss`` (the module returns
            log-probabilities), ``BCEWithLogitsLoss`` or ``BCELoss`` (two classes, one output).
        optimizer: an optimiser class, called ``optimizer(params, lr=lr, **optimizer_kwargs)``.
        lr, max_epochs, batch_size: learning rate, passes over the data, rows per step
            (-1 or None: all rows).
        shuffle, early_stopping, validation_fraction, n_iter_no_change, tol: see
            :mod:`chainrule.sklearn._net`.
        warm_start: ``fit`` continues training the fitted network instead of starting afresh.
        dtype: the float dtype to train in (the network is converted to it); None: the default
            network follows the data (float32 stays float32, anything else trains in float64)
            and a given or built module keeps its own dtype (the data are converted to it).
        verbose: print one line per epoch. random_state: seeds weights, shuffling, splits, dropout.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``module_``, ``optimizer_``,
    ``criterion_``, ``history_`` (one dict per epoch), ``n_iter_``. Class labels may be any
    sortable values, strings included. Example::

        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]])
        >>> y = np.array(["cat", "dog", "cat", "dog"])
        >>> clf = NeuralNetClassifier(max_epochs=50, lr=0.01, random_state=0).fit(X, y)
        >>> clf.classes_.tolist(), clf.predict_proba(X).shape
        (['cat', 'dog'], (4, 2))
        >>> clf.predict([[0.0, 1.0]]).tolist()
        ['cat']
    """

    def _default_criterion(self):
        return nn.CrossEntropyLoss

    def _binary_criterion(self):
        return isinstance(self.criterion, _BINARY) or (
            isinstance(self.criterion, type) and issubclass(self.criterion, _BINARY))

    def _targets(self, y, first, classes, w):
        check_classification_targets(y)
        name = type(self).__name__
        binary = self._binary_criterion()
        if first:
            known = np.unique(y if classes is None else np.asarray(classes))
            present = np.unique(y[w > 0])
            if len(known) < 2 or (classes is None and len(present) < 2):
                only = present[0] if len(present) else known[0]
                raise DataError(f"{name} needs samples of at least 2 classes in the data (with "
                                f"non-zero sample_weight), but the data contain only one class: "
                                f"{only!r}")
            if binary and len(known) != 2:
                raise ConfigError(f"{name}: a binary criterion ({self.criterion!r}) needs exactly "
                                  f"2 classes, got {len(known)}: {known.tolist()}")
            fitted = {"classes_": known, "n_outputs_": 1 if binary else len(known)}
        else:
            known, fitted = self.classes_, {}
            if classes is not None and not np.array_equal(np.unique(classes), known):
                raise ConfigError(f"{name}: classes={np.unique(classes).tolist()} is not the same "
                                  f"as classes_={known.tolist()} from the first partial_fit")
        unseen = np.setdiff1d(np.unique(y), known)
        if len(unseen):
            raise DataError(f"{name}: y contains labels not among the classes "
                            f"{known.tolist()}: {unseen.tolist()[:10]}")
        codes = np.searchsorted(known, y)
        target = codes.astype(np.float64).reshape(-1, 1) if binary else codes.astype(np.int64)
        return target, codes, fitted

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train ``max_epochs`` more epochs without re-initialising (the first call initialises;
        *classes*, all labels that will ever occur, may be given then). Returns self.

        Example: ``clf.partial_fit(X1, y1, classes=[0, 1, 2]); clf.partial_fit(X2, y2)``.
        """
        first = not hasattr(self, "module_")
        return self._fit(X, y, sample_weight, first, classes)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        out = self._forward(X).astype(np.float64)
        crit = self.criterion_
        if isinstance(crit, nn.BCEWithLogitsLoss):
            p = 1.0 / (1.0 + np.exp(-out[:, 0]))
            return np.column_stack([1.0 - p, p])
        if isinstance(crit, nn.BCELoss):
            return np.column_stack([1.0 - out[:, 0], out[:, 0]])
        if isinstance(crit, nn.NLLLoss):
            return np.exp(out)
        if isinstance(crit, nn.CrossEntropyLoss):
            return _softmax(out)
        return out

    def predict(self, X):
        """The most probable class of each row, as labels from ``classes_``."""
        proba = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags
