"""``NeuralNetRegressor``: a chainrule network as a scikit-learn regressor (skorch's name)."""
import numpy as np
from sklearn.base import RegressorMixin

from chainrule import nn
from chainrule.errors import DataError
from chainrule.sklearn._net import NeuralNet


class NeuralNetRegressor(RegressorMixin, NeuralNet):
    """A scikit-learn regressor that trains a chainrule network by mini-batch backprop.

    Takes the same arguments as :class:`~chainrule.sklearn.NeuralNetClassifier`; the default
    criterion is ``MSELoss`` and ``n_outputs`` is the number of target columns (1 for a 1-D y,
    whose predictions are then 1-D too). ``score`` is R². Example::

        >>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
        >>> reg = NeuralNetRegressor(max_epochs=100, lr=0.01, random_state=0).fit(X, 3 * X[:, 0])
        >>> reg.predict(X).shape, bool(reg.score(X, 3 * X[:, 0]) > 0.99)
        ((50,), True)
    """

    def _default_criterion(self):
        return nn.MSELoss

    def _y_check(self):
        return {"multi_output": True, "y_numeric": True}

    def _targets(self, y, first, classes, w):
        y = np.asarray(y, dtype=np.float64)
        T = y if y.ndim == 2 else y.reshape(-1, 1)
        if first:
            return T, None, {"n_outputs_": T.shape[1], "_y_2d": y.ndim == 2}
        if T.shape[1] != self.n_outputs_:
            raise DataError(f"{type(self).__name__}: y has {T.shape[1]} target column(s), but the "
                            f"network was fitted with {self.n_outputs_}")
        return T, None, {}

    def partial_fit(self, X, y, sample_weight=None):
        """Train ``max_epochs`` more epochs without re-initialising (the first call initialises);
        return self. Example: ``reg.partial_fit(X1, y1).partial_fit(X2, y2)``."""
        first = not hasattr(self, "module_")
        return self._fit(X, y, sample_weight, first)

    def predict(self, X):
        """The predicted targets: shape (n_samples,) for a 1-D training y, else (n_samples, k)."""
        out = self._forward(X)
        return out.reshape(-1) if not self._y_2d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # several target columns: one output unit each
        return tags
