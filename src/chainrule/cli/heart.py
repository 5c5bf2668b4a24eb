"""``chainrule train heart``: the lectures' heart-disease network, trained by backprop.

The job: load the embedded Cleveland data (303 patients, 13 variables), make a seeded stratified
train/validation/test split, fit the preprocessing on the training rows only (standardise numeric
columns, one-hot encode categorical ones), build inputs → 16 ReLU units → 1 sigmoid output, train
it with mini-batch Adam on binary cross-entropy, report test accuracy, ROC AUC, the confusion
matrix and the parameter count, and save everything needed to score new patients in one file.
"""
import json
import os
import time

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.datasets import load_heart_disease
from chainrule.metrics import accuracy_score, confusion_matrix, roc_auc_score
from chainrule.preprocessing import TabularPreprocessor, train_test_split
from chainrule.training import evaluate_loss, predict, train_epoch

MODEL_FORMAT = "chainrule.heart-model"
MODEL_VERSION = 1
OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD, "rmsprop": optim.RMSprop,
              "adagrad": optim.Adagrad, "adamax": optim.Adamax}


def add_arguments(p):
    p.add_argument("--hidden", type=int, default=16, help="hidden ReLU units (default 16)")
    p.add_argument("--epochs", type=int, default=100, help="passes over the training set (100)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (32)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (0.001)")
    p.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS),
                   help="optimiser (adam)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the initial weights "
                                                       "and the shuffling (0)")
    p.add_argument("--test-size", type=float, default=0.2, help="held-out test fraction (0.2)")
    p.add_argument("--val-size", type=float, default=0.2,
                   help="validation fraction of the remaining rows (0.2)")
    p.add_argument("--out", default=os.path.join("runs", "heart"),
                   help="folder for model.chainrule and training-curve.png (runs/heart)")
    p.add_argument("--quiet", action="store_true", help="print only the final report")


def _positive(name, value):
    if value <= 0:
        raise ValueError(f"--{name} must be positive, got {value}")


def build_network(n_inputs, hidden=16):
    """inputs → *hidden* ReLU units → 1 output logit (the sigmoid is fused into the loss)."""
    return nn.Sequential(nn.Linear(n_inputs, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def count_parameters(model):
    """The number of trainable numbers: for 28 → 16 → 1 that is 28·16 + 16 + 16·1 + 1 = 481."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


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
    for name in ("hidden", "epochs", "batch_size", "lr"):
        _positive(name.replace("_", "-"), getattr(args, name))
    say = (lambda *a, **k: None) if args.quiet else print
    data = load_heart_disease()
    X_train, X_val, X_test, y_train, y_val, y_test = _split(data.data, data.target, args)
    pre = TabularPreprocessor(data.feature_names, data.feature_kinds, categories=data.categories)
    pre.fit(X_train)
    xt, yt = _tensors(pre, X_train, y_train)
    xv, yv = _tensors(pre, X_val, y_val)
    xs, _ = _tensors(pre, X_test, y_test)

    cr.manual_seed(args.seed)
    model = build_network(pre.n_features_out_, args.hidden)
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = OPTIMIZERS[args.optimizer](model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(xt, yt), batch_size=args.batch_size, shuffle=True,
                        generator=cr.Generator().manual_seed(args.seed))
    say(f"heart disease: {len(y_train)} train / {len(y_val)} validation / {len(y_test)} test "
        f"patients; 13 variables -> {pre.n_features_out_} inputs; network "
        f"{pre.n_features_out_} -> {args.hidden} ReLU -> 1 sigmoid; {count_parameters(model)} "
        f"parameters; {args.optimizer} lr={args.lr:g}, batch {args.batch_size}")
    history = {"loss": [], "val_loss": [], "val_accuracy": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        loss = train_epoch(model, loss_fn, optimizer, loader)
        val_loss = evaluate_loss(model, loss_fn, xv, yv)
        val_acc = accuracy_score(y_val, (predict(model, xv).data.reshape(-1) > 0).astype(int))
        for k, v in (("loss", loss), ("val_loss", val_loss), ("val_accuracy", val_acc)):
            history[k].append(v)
        say(f"epoch {epoch:3d}/{args.epochs}  loss {loss:.4f}  val_loss {val_loss:.4f}  "
            f"val_accuracy {val_acc:.4f}")
    seconds = time.perf_counter() - start

    prob = predict(model, xs).sigmoid().data.reshape(-1)
    pred = (prob > 0.5).astype(np.int64)
    acc = accuracy_score(y_test, pred)
    auc = roc_auc_score(y_test, prob)
    (tn, fp), (fn, tp) = confusion_matrix(y_test, pred)
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
        cr.plot.history({"loss": history["loss"], "val_loss": history["val_loss"]}, curve,
                        title="heart disease: binary cross-entropy")
        print(f"training curve saved to {curve}")
    except ImportError as e:
        print(f"note: no training-curve PNG: {e}")
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(history, f)
    return 0


def save_model(path, model, pre, config, feature_names):
    """One file: format tag, config, preprocessing state and weights (``cr.save``, no pickle)."""
    cr.save({"format": MODEL_FORMAT, "version": MODEL_VERSION,
             "config": {k: v for k, v in config.items() if isinstance(v, (int, float, str))},
             "feature_names": list(feature_names), "preprocessor": pre.to_dict(),
             "state_dict": dict(model.state_dict())}, path)


def load_model(path):
    """Rebuild (network, preprocessor, feature_names) from a file written by :func:`save_model`."""
    obj = cr.load(path)
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a heart model file written by 'chainrule train heart'")
    if obj.get("version") != MODEL_VERSION:
        raise ValueError(f"{path}: heart model format version {obj.get('version')} is not "
                         f"supported (expected {MODEL_VERSION})")
    pre = TabularPreprocessor.from_dict(obj["preprocessor"])
    model = build_network(pre.n_features_out_, int(obj["config"]["hidden"]))
    model.load_state_dict(obj["state_dict"])
    model.eval()
    return model, pre, list(obj["feature_names"])
