"""Regression metrics: mean squared and absolute errors, their root, and the R² score.

The error metrics average a per-sample value (the loss function's) over everything seen;
:class:`R2Score` accumulates sums per output column and reports
1 − Σ(y − ŷ)² / Σ(y − ȳ)², Keras 3's (and scikit-learn's) coefficient of determination.

Example::

    >>> round(R2Score()([[1.], [4.], [3.]], [[2.], [4.], [4.]]), 6)   # 4/7
    0.571429
"""
import warnings

import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras import losses
from chainrule.keras.metrics.metric import Mean, MeanMetricWrapper, Metric, as_array, same_rank


class MeanSquaredError(MeanMetricWrapper):
    """Mean over samples of mean_j (y_true − y_pred)².

    Example: ``MeanSquaredError()([[1.]], [[3.]])`` is 4.0.
    """

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean over samples of mean_j |y_true − y_pred|.

    Example: ``MeanAbsoluteError()([[1.]], [[3.]])`` is 2.0.
    """

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name, dtype)


class RootMeanSquaredError(Mean):
    """√(mean of (y_true − y_pred)²) over everything seen.

    Example: ``RootMeanSquaredError()([[0.], [0.]], [[3.], [4.]])`` is √12.5.
    """

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(losses.mean_squared_error(y_true, y_pred)._data, sample_weight)

    def result(self):
        return float(np.sqrt(super().result()))


class R2Score(Metric):
    """R² = 1 − Σ w(y − ŷ)² / Σ w(y − ȳ)², per output column, then aggregated (Keras 3's).

    Args:
        class_aggregation: ``"uniform_average"`` (default: the mean over columns),
            ``"variance_weighted_average"`` (weighted by each column's Σ w(y − ȳ)²) or ``None``
            (a list, one score per column).
        num_regressors: p > 0 gives the adjusted R², 1 − (1 − R²)(n − 1)/(n − p − 1), with n the
            number of values seen (falls back to R², with a warning, when n − 1 ≤ p).

    Inputs are ``(batch, outputs)`` arrays (a vector is one column). A column whose targets are
    all equal scores 0 (NaN if it is also predicted exactly, as in Keras). Example:
    ``R2Score()([[1.], [4.], [3.]], [[2.], [4.], [4.]])`` is 4/7.
    """

    _direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score",
                 dtype=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ConfigError(f"R2Score: invalid value for argument `class_aggregation`. Expected "
                              f"one of (None, 'uniform_average', 'variance_weighted_average'). "
                              f"Received: class_aggregation={class_aggregation!r}")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, (int, np.integer)) \
                or num_regressors < 0:
            raise ConfigError(f"R2Score: invalid value for argument `num_regressors`. Expected a "
                              f"value >= 0. Received: num_regressors={num_regressors!r}")
        self.class_aggregation = class_aggregation
        self.num_regressors = int(num_regressors)
        super().__init__(name, dtype)

    def reset_state(self):
        self.num_samples = 0
        self.sum = self.squared_sum = self.total_mse = self.count = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = same_rank(as_array(y_true), as_array(y_pred))
        if t.ndim == 1:
            t, p = t[:, None], p[:, None]
        if t.ndim != 2 or t.shape != p.shape:
            raise ShapeError(f"R2Score expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={p.shape} and "
                             f"y_true.shape={t.shape}")
        w = np.ones(t.shape[:1]) if sample_weight is None else as_array(sample_weight)
        if w.ndim == 1:
            w = w[:, None]
        w = np.broadcast_to(w, t.shape)
        if self.sum is None:
            zeros = np.zeros(t.shape[1])
            self.sum, self.squared_sum = zeros.copy(), zeros.copy()
            self.total_mse, self.count = zeros.copy(), zeros.copy()
        elif self.sum.shape[0] != t.shape[1]:
            raise ShapeError(f"R2Score: the metric was built for {self.sum.shape[0]} output "
                             f"columns, received {t.shape[1]}")
        self.sum += (t * w).sum(axis=0)
        self.squared_sum += (t * t * w).sum(axis=0)
        self.total_mse += ((t - p) ** 2 * w).sum(axis=0)
        self.count += w.sum(axis=0)
        self.num_samples += t.size

    def result(self):
        if self.sum is None:
            return 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1.0 - self.total_mse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = float(np.mean(raw))
        elif self.class_aggregation == "variance_weighted_average":
            score = float(np.sum(total * raw) / np.sum(total))
        else:
            score = raw
        p, n = self.num_regressors, self.num_samples
        if p:
            if p > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. "
                              "Falling back to standard R2 score.", stacklevel=2)
            elif p == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard "
                              "R2 score.", stacklevel=2)
            else:
                score = 1.0 - (1.0 - np.asarray(score)) * (n - 1.0) / (n - p - 1.0)
        return [float(v) for v in score] if np.ndim(score) else float(score)
