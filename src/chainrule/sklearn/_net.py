"""The part the classifier and the regressor share: parameters, building the network, the
mini-batch training loop with sample weights and early stopping, and batched prediction.

Training (``fit`` = build a fresh network, then ``partial_fit``): each epoch shuffles the rows
(``shuffle=True``) and takes one optimiser step per mini-batch on the weighted mean loss
``Σ wᵢ ℓᵢ / Σ wᵢ`` over the batch, ``ℓᵢ`` the criterion's per-sample loss (``reduction="none"``,
averaged over any other axes) and ``wᵢ`` the sample weight (1 by default). With
``early_stopping=True`` a ``validation_fraction`` of the rows (stratified for classifiers) is held
out, training stops once the validation loss has not improved by ``tol`` for
``n_iter_no_change`` epochs, and the weights of the best epoch are kept.

Randomness: ``random_state`` (an int, a ``RandomState`` or None) seeds the initial weights, the
shuffling, the validation split and dropout; chainrule's global generator is left as it was.
"""
import copy
import contextlib
import math
import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from chainrule import nn, optim
from chainrule.errors import ArgumentTypeError, ConfigError, DataError, ShapeError
from chainrule.grad_mode import no_grad
from chainrule.random import get_rng_state, manual_seed, set_rng_state
from chainrule.tensor import Tensor
from chainrule.training import train_step

_PREDICT_CHUNK = 8192


@contextlib.contextmanager
def seeded(seed):
    """Run the block with chainrule's global generator seeded by *seed*, then restore it."""
    state = get_rng_state()
    manual_seed(seed)
    try:
        yield
    finally:
        set_rng_state(state)


def check_sample_weight(sample_weight, n):
    """Sample weights as a float64 array of length *n*: finite, non-negative, not all zero."""
    if sample_weight is None:
        return np.ones(n)
    sw = np.asarray(sample_weight)
    if sw.ndim == 0:
        sw = np.full(n, sw.item())
    sw = check_array(sw, ensure_2d=False, dtype=np.float64, input_name="sample_weight")
    if sw.shape != (n,):
        raise ShapeError(f"sample_weight.shape == {sw.shape}, expected ({n},)!")
    if (sw < 0).any():
        raise DataError(f"Negative values in data passed to sample_weight (first at row "
                        f"{int(np.argmax(sw < 0))})")
    if not sw.any():
        raise DataError("Sample weights must contain at least one non-zero number.")
    return sw


class NeuralNet(BaseEstimator):
    """Base of :class:`NeuralNetClassifier` and :class:`NeuralNetRegressor` (see those)."""

    def __init__(self, module=None, criterion=None, optimizer=optim.Adam, lr=0.001,
                 max_epochs=10, batch_size=32, optimizer_kwargs=None, shuffle=True,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, tol=1e-4,
                 warm_start=False, dtype=None, verbose=0, random_state=None):
        self.module = module
        self.criterion = criterion
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer_kwargs = optimizer_kwargs
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.dtype = dtype
        self.verbose = verbose
        self.random_state = random_state

    # ---- what the classifier and the regressor define -----------------------------------------
    def _default_criterion(self):
        raise NotImplementedError

    def _targets(self, y, first, classes, w):
        """(encoded targets, labels to stratify by or None, fitted attributes to set) for *y*;
        the attributes (``classes_``, ``n_outputs_`` ...) only when *first*."""
        raise NotImplementedError

    # ---- checking the parameters (at fit, as scikit-learn asks) --------------------------------
    def _check_params(self):
        name = type(self).__name__

        def positive_int(attr):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ConfigError(f"{name}: {attr} must be a positive int, got {attr}={v!r}")

        positive_int("max_epochs")
        positive_int("n_iter_no_change")
        bs = self.batch_size
        if bs is not None and bs != -1 and (isinstance(bs, bool) or
                                            not isinstance(bs, numbers.Integral) or bs < 1):
            raise ConfigError(f"{name}: batch_size must be a positive int, or -1 / None for the "
                              f"whole data in one batch, got batch_size={bs!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real) or not self.lr > 0:
            raise ConfigError(f"{name}: lr must be a positive number, got lr={self.lr!r}")
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) or \
                not self.tol >= 0:
            raise ConfigError(f"{name}: tol must be a non-negative number, got tol={self.tol!r}")
        vf = self.validation_fraction
        if isinstance(vf, bool) or not isinstance(vf, numbers.Real) or not 0 < vf < 1:
            raise ConfigError(f"{name}: validation_fraction must lie strictly between 0 and 1, got "
                              f"validation_fraction={vf!r}")
        if not callable(self.optimizer):
            raise ConfigError(f"{name}: optimizer must be an optimiser class such as "
                              f"cr.optim.Adam (called as optimizer(params, lr=lr, "
                              f"**optimizer_kwargs)), got {self.optimizer!r}")
        if self.optimizer_kwargs is not None and not isinstance(self.optimizer_kwargs, dict):
            raise ConfigError(f"{name}: optimizer_kwargs must be a dict or None, got "
                              f"{self.optimizer_kwargs!r}")

    # ---- building ------------------------------------------------------------------------------
    def _network_dtype(self, X, module):
        """The float dtype to train in: *dtype* if given; else the data's for the default network
        (float32 stays float32, anything else float64); else the given module's own."""
        if self.dtype is not None:
            return np.dtype(self.dtype)
        if self.module is None:
            return np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
        return _module_dtype(module)

    def _build_module(self, n_features, n_outputs):
        name = type(self).__name__
        if self.module is None:
            return nn.Sequential(nn.Linear(n_features, 100), nn.ReLU(),
                                 nn.Linear(100, n_outputs))
        if isinstance(self.module, nn.Module):
            module = copy.deepcopy(self.module)  # the given module stays as it is
        elif callable(self.module):
            module = self.module(n_features, n_outputs)
            if not isinstance(module, nn.Module):
                raise ArgumentTypeError(f"{name}: module({n_features}, {n_outputs}) must return a "
                                        f"cr.nn.Module, got {type(module).__name__}")
        else:
            raise ArgumentTypeError(f"{name}: module must be a cr.nn.Module, a callable "
                                    f"(n_features, n_outputs) -> Module, or None, got "
                                    f"{type(self.module).__name__}")
        return module

    def _build_criterion(self):
        crit = self.criterion if self.criterion is not None else self._default_criterion()
        if isinstance(crit, type):
            crit = crit()
        elif isinstance(crit, nn.Module):
            crit = copy.deepcopy(crit)
        elif not callable(crit):
            raise ArgumentTypeError(f"{type(self).__name__}: criterion must be a loss class, a "
                                    "loss module or a function (output, target) -> loss, got "
                                    f"{crit!r}")
        per_sample = None
        if isinstance(getattr(crit, "reduction", None), str):
            per_sample = copy.deepcopy(crit)
            per_sample.reduction = "none"
        return crit, per_sample

    def _initialize(self, X, n_outputs, weighted):
        """A fresh network, criterion and optimiser for *n_outputs* outputs."""
        criterion, per_sample = self._build_criterion()
        if weighted and per_sample is None:
            raise ConfigError(f"{type(self).__name__}: sample_weight needs a criterion with a "
                              f"per-sample form (reduction='none'), which {criterion!r} lacks")
        rng = check_random_state(self.random_state)
        with seeded(int(rng.randint(np.iinfo(np.int32).max))):
            module = self._build_module(X.shape[1], n_outputs)
        dtype = self._network_dtype(X, module)
        if _module_dtype(module) != dtype:
            module.to(dtype)
        module.eval()
        with no_grad():
            probe = module(Tensor(np.ascontiguousarray(X[:2], dtype=dtype)))
        if not isinstance(probe, Tensor) or probe.ndim != 2 or probe.shape[1] != n_outputs:
            shape = tuple(probe.shape) if isinstance(probe, Tensor) else type(probe).__name__
            raise ShapeError(f"{type(self).__name__}: the module must map (n_samples, "
                             f"{X.shape[1]}) inputs to (n_samples, {n_outputs}) outputs, but it "
                             f"returned {shape} for 2 samples")
        optimizer = self.optimizer(module.parameters(), lr=self.lr, **(self.optimizer_kwargs or {}))
        self.module_, self.optimizer_ = module, optimizer
        self.criterion_, self._per_sample = criterion, per_sample
        self._rng, self._dtype = rng, dtype
        self.history_ = []

    # ---- training ------------------------------------------------------------------------------
    def _loss(self, output, target, weight):
        """The weighted mean loss of a batch (*weight* sums to 1), or the criterion's own."""
        if self._per_sample is None:
            return self.criterion_(output, target)
        per = self._per_sample(output, target)
        if per.ndim > 1:
            per = per.reshape(per.shape[0], -1).mean(1)
        return (per * weight).sum()

    def _batches(self, n, shuffle):
        order = self._rng.permutation(n) if shuffle else np.arange(n)
        size = n if self.batch_size in (None, -1) else int(self.batch_size)
        return [order[i:i + size] for i in range(0, n, size)]

    def _tensors(self, X, T, w, rows):
        x = Tensor(np.ascontiguousarray(X[rows], dtype=self._dtype))
        t = T[rows]
        t = Tensor(np.ascontiguousarray(t, dtype=self._dtype if t.dtype.kind == "f" else None))
        wb = w[rows]
        return x, t, Tensor((wb / wb.sum()).astype(self._dtype))

    def _validation_loss(self, X, T, w):
        self.module_.eval()
        total, weight = 0.0, 0.0
        with no_grad():
            for rows in self._batches(len(X), False):
                if not w[rows].any():
                    continue
                x, t, wb = self._tensors(X, T, w, rows)
                loss = self._loss(self.module_(x), t, wb).item()
                total += loss * w[rows].sum()
                weight += w[rows].sum()
        return total / weight if weight else math.nan

    def _split(self, n, stratify):
        """(train, validation) row indices of *n* rows for early stopping."""
        n_val = math.ceil(self.validation_fraction * n)
        if n_val < 1 or n - n_val < 1:
            raise ConfigError(f"{type(self).__name__}: early_stopping needs at least one training "
                              f"and one validation sample; with n_samples={n} and "
                              f"validation_fraction={self.validation_fraction} there are not "
                              f"enough")
        rows = np.arange(n)
        if stratify is not None:
            _, counts = np.unique(stratify, return_counts=True)
            if counts.min() < 2 or n_val < len(counts) or n - n_val < len(counts):
                stratify = None
        train, val = train_test_split(rows, test_size=n_val, stratify=stratify,
                                      random_state=self._rng)
        return np.sort(train), np.sort(val)

    def _train(self, X, T, w, stratify=None):
        """``max_epochs`` epochs on (X, T) with weights *w*; returns self."""
        module, opt = self.module_, self.optimizer_
        if self.early_stopping:
            train_rows, val_rows = self._split(len(X), stratify)
            Xv, Tv, wv = X[val_rows], T[val_rows], w[val_rows]
            X, T, w = X[train_rows], T[train_rows], w[train_rows]
        best, best_state, stale = math.inf, None, 0
        seed = int(self._rng.randint(np.iinfo(np.int32).max))
        epochs_run = 0
        with seeded(seed):  # dropout and other randomness inside the module
            for _ in range(int(self.max_epochs)):
                start = time.perf_counter()
                module.train()
                total, weight = 0.0, 0.0
                for rows in self._batches(len(X), self.shuffle):
                    wsum = w[rows].sum()
                    if wsum == 0:
                        continue  # only zero-weight rows: nothing to learn from
                    x, t, wb = self._tensors(X, T, w, rows)
                    loss = train_step(module, self._loss, opt, x, t, sample_weight=wb)
                    total += loss * wsum
                    weight += wsum
                epochs_run += 1
                record = {"epoch": len(self.history_) + 1,
                          "train_loss": total / weight if weight else math.nan}
                if self.early_stopping:
                    record["valid_loss"] = self._validation_loss(Xv, Tv, wv)
                record["dur"] = time.perf_counter() - start
                self.history_.append(record)
                if self.verbose:
                    print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in record.items()))
                if not self.early_stopping:
                    continue
                if record["valid_loss"] < best - self.tol:
                    best, stale = record["valid_loss"], 0
                    best_state = {k: v._data.copy() for k, v in module.state_dict().items()}
                else:
                    stale += 1
                    if stale >= self.n_iter_no_change:
                        break
        if best_state is not None:
            module.load_state_dict(best_state)
        module.eval()
        self.n_iter_ = epochs_run
        return self

    # ---- the scikit-learn entry points -------------------------------------------------------
    def _validate(self, X, y, first):
        return validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32],
                             **self._y_check())

    def _y_check(self):
        return {}

    def _fit(self, X, y, sample_weight, first, classes=None):
        self._check_params()
        X, y = self._validate(X, y, first)
        w = check_sample_weight(sample_weight, X.shape[0])
        T, stratify, fitted = self._targets(y, first, classes, w)
        if first:
            self._initialize(X, fitted["n_outputs_"], sample_weight is not None)
            for key, value in fitted.items():
                setattr(self, key, value)
        elif sample_weight is not None and self._per_sample is None:
            raise ConfigError(f"{type(self).__name__}: sample_weight needs a criterion with a "
                              f"per-sample form (reduction='none'), which "
                              f"{self.criterion_!r} lacks")
        return self._train(X, T, w, stratify)

    def fit(self, X, y, sample_weight=None):
        """Train a freshly initialised network for ``max_epochs`` epochs (or, with
        ``warm_start=True`` once fitted, continue training the current one); return self.

        *sample_weight* (one non-negative number per row) weights each row's loss.
        Example: ``NeuralNetClassifier(max_epochs=20).fit(X, y).score(X, y)``.
        """
        first = not (self.warm_start and hasattr(self, "module_"))
        return self._fit(X, y, sample_weight, first)

    def _forward(self, X):
        """The network's raw outputs on *X* as a NumPy array (evaluation mode, no graph)."""
        check_is_fitted(self, "module_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        X = X.astype(self._dtype, copy=False)
        module = self.module_
        module.eval()
        parts = []
        with no_grad():
            for i in range(0, X.shape[0], _PREDICT_CHUNK):
                out = module(Tensor(np.ascontiguousarray(X[i:i + _PREDICT_CHUNK])))
                parts.append(np.asarray(out._data))
        return np.concatenate(parts) if parts else np.empty((0, self.n_outputs_), self._dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False  # a NaN input would poison every weight it touches
        tags.input_tags.sparse = False     # inputs are dense arrays
        return tags


def _module_dtype(module):
    for p in module.parameters():
        if p._data.dtype.kind == "f":
            return np.dtype(p._data.dtype)
    return np.dtype(np.float32)
