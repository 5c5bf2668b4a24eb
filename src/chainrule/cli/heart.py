"""``chainrule train heart``: the lectures' heart-disease network, trained by backprop.

The job: load the embedded Cleveland data (303 patients, 13 variables), make a seeded stratified
train/validation/test split, fit the preprocessing on the training rows only (standardise numeric
columns, one-hot encode categorical ones), build inputs → 16 ReLU units → 1 sigmoid output with the
Keras-style API, train it with ``fit`` (mini-batch Adam on binary cross-entropy; underneath, the
same ``chainrule.training`` step a PyTorch-style loop uses), report test accuracy, ROC AUC, the
confusion matrix and the parameter count, and save everything needed to score new patients in one
file.
"""
import argparse
import json
import math
import os
import time

import numpy as np

import chainrule as cr
from chainrule.atomic_write import write_atomic
from chainrule.datasets import load_heart_disease
from chainrule.errors import CheckpointError, ConfigError
from chainrule.keras.applications.heart import build_model, count_parameters
from chainrule.keras.callbacks import Callback
from chainrule.keras.registry import OPTIMIZERS as OPTIMIZER_REGISTRY, optimizer_names, unknown_name
from chainrule.keras.saving import dict_to_model, model_to_dict
from chainrule.metrics import accuracy_score, confusion_matrix, roc_auc_score
from chainrule.preprocessing import TabularPreprocessor, train_test_split
from chainrule.training.model_file import load_model_file

MODEL_FORMAT = "chainrule.heart-model"
MODEL_VERSION = 2


def add_arguments(p):
    p.add_argument("--hidden", type=int, default=16, help="hidden ReLU units (default 16)")
    p.add_argument("--epochs", type=int, default=100, help="passes over the training set (100)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (32)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (0.001)")
    p.add_argument("--optimizer", default="adam", type=_optimizer_name,
                   metavar="{" + ",".join(optimizer_names()) + "}",
                   help="optimiser, a Keras-style name (adam)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the initial weights "
                                                       "and the shuffling (0)")
    p.add_argument("--test-size", type=float, default=0.2, help="held-out test fraction (0.2)")
    p.add_argument("--val-size", type=float, default=0.2,
                   help="validation fraction of the remaining rows (0.2)")
    p.add_argument("--out", default=os.path.join("runs", "heart"),
                   help="folder for model.chainrule and training-curve.png (runs/heart)")
    p.add_argument("--quiet", action="store_true", help="print only the final report")


def _optimizer_name(text):
    """argparse type of ``--optimizer``: a known name, or an error with the closest one."""
    names = optimizer_names()                 # the Keras registry's names
    if text not in names:
        raise argparse.ArgumentTypeError(str(unknown_name("optimizer", text, names)))
    return text


MAX_LR = 10.0
"""The largest ``--lr`` accepted: a step size beyond it only throws the weights around."""
MAX_HIDDEN = 65536


def check_arguments(args):
    """Refuse non-finite or absurd settings before anything is loaded, trained or written."""
    for name in ("hidden", "epochs", "batch_size"):
        if not getattr(args, name) > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive, got "
                              f"{getattr(args, name)}")
    if args.hidden > MAX_HIDDEN:
        raise ConfigError(f"--hidden must be at most {MAX_HIDDEN}, got {args.hidden}")
    if not args.lr > 0:  # NaN too
        raise ConfigError(f"--lr must be positive, got {args.lr}")
    if not math.isfinite(args.lr) or args.lr > MAX_LR:
        raise ConfigError(f"--lr must be a finite learning rate no larger than {MAX_LR:g}, got "
                          f"{args.lr}; typical values lie between 1e-4 and 1e-1")
    for name in ("test_size", "val_size"):
        value = getattr(args, name)
        if not 0.0 < value < 1.0:
            raise ConfigError(f"--{name.replace('_', '-')} must be a fraction between 0 and 1 "
                              f"(exclusive), got {value}")


class StopOnNonFiniteLoss(Callback):
    """Raise ``ConfigError`` naming the epoch and batch at which the training loss stops being
    finite, so that no diverged model is ever saved. Example:
    ``model.fit(x, y, callbacks=[StopOnNonFiniteLoss(lr=0.001)])``."""

    def __init__(self, lr=None):
        super().__init__()
        self.lr, self.epoch = lr, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            params = self.params if isinstance(self.params, dict) else {}
            epochs, steps = params.get("epochs"), params.get("steps")
            hint = f"; try a smaller --lr than {self.lr:g}" if self.lr is not None else ""
            raise ConfigError(
                f"training diverged: the loss became {loss} at epoch {self.epoch + 1}"
                f"{f'/{epochs}' if epochs else ''}, batch {batch + 1}{f'/{steps}' if steps else ''}"
                f"; nothing was saved{hint}")


def _split(X, y, args):
    gen = cr.Generator().manual_seed(args.seed)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=args.test_size, stratify=y,
                                                      generator=gen)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=args.val_size,
                                                      stratify=y_rest, generator=gen)
    return X_train, X_val, X_test, y_train, y_val, y_test


def _tensors(pre, X, y):
    return (cr.tensor(pre.transform(X), dtype=cr.float32),
            cr.tensor(y.reshape(-1, 1), dtype=cr.float32))


def run(args):
    check_arguments(args)
    if cr.distributed.launched_size() > 1:  # mpiexec -n N chainrule train heart: data-parallel fit
        cr.distributed.init()
    main_process = cr.distributed.is_main_process()
    say = (lambda *a, **k: None) if args.quiet or not main_process else print
    data = load_heart_disease()
    X_train, X_val, X_test, y_train, y_val, y_test = _split(data.data, data.target, args)
    pre = TabularPreprocessor(data.feature_names, data.feature_kinds, categories=data.categories)
    pre.fit(X_train)
    xt, yt = _tensors(pre, X_train, y_train)
    xv, yv = _tensors(pre, X_val, y_val)
    xs, _ = _tensors(pre, X_test, y_test)

    cr.manual_seed(args.seed)  # initial weights and the shuffling of every epoch
    model = build_model(pre.n_features_out_, args.hidden)
    model.compile(optimizer=OPTIMIZER_REGISTRY.lookup(args.optimizer)(learning_rate=args.lr),
                  loss="binary_crossentropy", metrics=["accuracy"],
                  jit_compile=True)   # each step recorded once (per batch size), then replayed
    say(f"heart disease: {len(y_train)} train / {len(y_val)} validation / {len(y_test)} test "
        f"patients; 13 variables -> {pre.n_features_out_} inputs; network "
        f"{pre.n_features_out_} -> {args.hidden} ReLU -> 1 sigmoid; {count_parameters(model)} "
        f"parameters; {args.optimizer} lr={args.lr:g}, batch {args.batch_size}")
    start = time.perf_counter()
    history = model.fit(xt, yt, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(xv, yv), shuffle=True,
                        verbose=0 if args.quiet else "auto",
                        callbacks=[StopOnNonFiniteLoss(args.lr)])
    seconds = time.perf_counter() - start

    prob = model.predict(xs, verbose=0).reshape(-1)
    _check_finite(model, prob)
    pred = (prob > 0.5).astype(np.int64)
    acc = accuracy_score(y_test, pred)
    auc = roc_auc_score(y_test, prob)
    (tn, fp), (fn, tp) = confusion_matrix(y_test, pred)
    if not main_process:                    # the other ranks trained alongside; rank 0 reports
        return 0
    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, "model.chainrule")
    save_model(model_path, model, pre, vars(args), data.feature_names)
    print(f"test accuracy {acc:.4f}   ROC AUC {auc:.4f}   ({len(y_test)} held-out patients, "
          f"trained {args.epochs} epochs in {seconds:.1f} s)")
    print("confusion matrix (rows: true, columns: predicted)")
    print(f"              no disease  disease\n  no disease  {tn:10d}  {fp:7d}\n"
          f"  disease     {fn:10d}  {tp:7d}")
    print(f"parameters {count_parameters(model)}   model saved to {model_path}")
    curve = os.path.join(args.out, "training-curve.png")
    try:
        cr.plot.history(history, curve, title="heart disease")
        print(f"training curve saved to {curve}")
    except ImportError as e:
        print(f"note: no training-curve PNG: {e}")
    text = json.dumps(history.history).encode("utf-8")
    write_atomic(os.path.join(args.out, "history.json"), lambda f: f.write(text))
    return 0


def _check_finite(model, prob):
    """A trained network with a non-finite weight or test probability is never reported or saved."""
    for name, p in model.named_parameters():
        if not np.isfinite(p._data).all():
            raise ConfigError(f"training diverged: the weights {name!r} hold NaN or infinite "
                              f"values; nothing was saved; try a smaller --lr")
    if not np.isfinite(prob).all():
        raise ConfigError("training diverged: the network predicts non-finite probabilities; "
                          "nothing was saved; try a smaller --lr")


def save_model(path, model, pre, config, feature_names):
    """One file: format tag, config, preprocessing state and weights (``cr.save``, no pickle)."""
    cr.save({"format": MODEL_FORMAT, "version": MODEL_VERSION,
             "config": {k: v for k, v in config.items() if isinstance(v, (int, float, str))},
             "feature_names": list(feature_names), "preprocessor": pre.to_dict(),
             "model": model_to_dict(model)}, path)


def load_model(path):
    """Rebuild (network, preprocessor, feature_names) from a file written by :func:`save_model`."""
    def build(obj):
        return (TabularPreprocessor.from_dict(obj["preprocessor"]),
                dict_to_model(obj["model"], compile=False), obj["feature_names"])

    pre, model, names = load_model_file(path, MODEL_FORMAT, MODEL_VERSION, "heart",
                                        "a heart model file", build)
    if type(names) is not list or names != pre.feature_names:
        raise CheckpointError(f"{path}: damaged heart model file: feature_names must list the "
                              f"preprocessor's columns {pre.feature_names}, found "
                              f"{str(names)[:300]}")
    model.eval()
    _check_network(path, model, pre.n_features_out_)
    return model, pre, list(names)


def _check_network(path, model, n_inputs):
    """The network must map *n_inputs* numbers to one probability, as ``build_model``'s does."""
    try:
        with cr.no_grad():
            out = model(cr.zeros(2, n_inputs))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError) as e:
        raise CheckpointError(f"{path}: damaged heart model file: the network cannot take the "
                              f"preprocessor's {n_inputs} inputs ({type(e).__name__}: "
                              f"{str(e)[:200]})") from None
    if not isinstance(out, cr.Tensor) or tuple(out.shape) != (2, 1):
        got = (f"shape {tuple(out.shape)}" if isinstance(out, cr.Tensor)
               else f"a {type(out).__name__} of outputs")
        raise CheckpointError(f"{path}: damaged heart model file: the network must give one "
                              f"probability per patient, shape (n, 1), but gives {got} (check "
                              f"'single_output' in its config)")
    for name, p in model.named_parameters():
        if not np.isfinite(p._data).all():
            raise CheckpointError(f"{path}: the network's weights {name!r} hold NaN or infinite "
                                  f"values (saved by a diverged training run?); retrain it")
