"""``chainrule train addition``: a sequence-to-sequence network learns to add from characters.

    chainrule train addition                      # LSTM encoder–decoder with attention
    chainrule train addition --model transformer  # a small transformer
    chainrule predict runs/addition/model.chainrule "535+61, 7+8"

Seeded questions of up to three-digit numbers ("535+61" → "596"); training stops when the
held-out exact-match accuracy reaches --target (0.99) or after --epochs / --max-minutes. Prints
sample predictions, saves the model (``model.chainrule``), the history and a training-curve
picture (with matplotlib).
"""
import json
import os
import time

from chainrule.errors import ConfigError, DataError
from chainrule.plot import history as plot_history
from chainrule.training.addition import (answer, is_model_file, load_model, save_model,
                                         train_addition)

DEFAULTS = {"lstm": {"epochs": 12, "batch_size": 128, "lr": 3e-3},
            "transformer": {"epochs": 20, "batch_size": 128, "lr": 2e-3}}


def add_arguments(p):
    p.add_argument("--model", choices=("lstm", "transformer"), default="lstm",
                   help="LSTM encoder–decoder with attention (default) or a small transformer")
    p.add_argument("--train-size", type=int, default=50000,
                   help="distinct training questions (50000)")
    p.add_argument("--test-size", type=int, default=2000,
                   help="held-out questions for the exact-match accuracy (2000)")
    p.add_argument("--epochs", type=int, default=None,
                   help="at most this many passes; the learning rate's cosine decay spans them "
                        "(LSTM 12, transformer 20)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (128)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam's learning rate, cosine-decayed (LSTM 0.003, transformer 0.002)")
    p.add_argument("--hidden", type=int, default=None,
                   help="LSTM units (128) or transformer width d_model (64)")
    p.add_argument("--target", type=float, default=0.99,
                   help="stop once the held-out exact-match accuracy reaches this (0.99)")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop after the epoch that passes this many minutes")
    p.add_argument("--seed", type=int, default=0, help="seed of the data, weights and order (0)")
    p.add_argument("--out", default=os.path.join("runs", "addition"),
                   help="folder for model.chainrule, history.json, training-curve.png")
    p.add_argument("--quiet", action="store_true", help="print only the final report")


def _check(args):
    for name in ("train_size", "test_size"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got "
                              f"{getattr(args, name)}")
    for name in ("epochs", "batch_size", "hidden"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {v}")
    if args.lr is not None and not args.lr > 0:
        raise ConfigError(f"--lr must be positive, got {args.lr}")
    if not 0.0 <= args.target <= 1.0:
        raise ConfigError(f"--target must be an accuracy in [0, 1], got {args.target}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise ConfigError(f"--max-minutes must be positive, got {args.max_minutes}")


def run(args):
    _check(args)
    say = (lambda *a, **k: None) if args.quiet else print
    d = DEFAULTS[args.model]
    epochs = args.epochs or d["epochs"]
    sizes = {}
    if args.hidden is not None:
        sizes["hidden" if args.model == "lstm" else "d_model"] = args.hidden
    say(f"addition: {args.train_size} training questions, {args.test_size} held-out, model "
        f"{args.model}; stopping at exact-match {args.target:g}")

    def on_epoch(epoch, logs):
        say(f"epoch {epoch:3d}  loss {logs['loss']:.4f}  held-out exact match "
            f"{logs['val_accuracy']:.4f}  ({logs['seconds']:.0f} s)", flush=True)

    start = time.perf_counter()
    model, data, history = train_addition(
        args.model, args.train_size, args.test_size, epochs, args.batch_size or d["batch_size"],
        args.lr or d["lr"], args.seed, args.target,
        None if args.max_minutes is None else 60 * args.max_minutes, on_epoch, **sizes)
    seconds = time.perf_counter() - start
    acc = history["val_accuracy"][-1]
    questions = data.test_questions[:10]
    print("sample predictions (held-out questions):")
    for q, a, got in zip(questions, data.test_answers[:10], answer(model, questions)):
        print(f"  {q:>8s} = {got:<5s} {'ok' if got == a else 'wrong, ' + a}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "model.chainrule")
    save_model(path, model, history, {"seconds": seconds, "seed": args.seed})
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(history, f)
    n = sum(p.numel() for p in model.parameters())
    print(f"held-out exact match {acc:.4f} after {len(history['loss'])} epochs in "
          f"{seconds:.1f} s; {n} parameters; model saved to {path}")
    curve = os.path.join(args.out, "training-curve.png")
    try:
        plot_history(history, curve, title=f"addition ({args.model})")
        print(f"training curve saved to {curve}")
    except ImportError as e:
        print(f"note: no training-curve PNG: {e}")
    return 0


def predict(model_path, questions, output=None):
    """``chainrule predict MODEL QUESTIONS`` for an addition model: one ``q=answer`` per line,
    printed or written to the file *output*.

    *questions* are strings such as ``"535+61"`` (several may share one string, separated by
    spaces or commas) or the path of a text file with one question per line.
    """
    model = load_model(model_path)
    texts = []
    for text in questions:
        if os.path.isfile(str(text)):
            with open(text, encoding="utf-8") as f:
                texts.extend(f.read().splitlines())
        else:
            texts.append(str(text))
    items = [q for text in texts for q in text.replace(",", " ").split()]
    if not items:
        raise DataError("give at least one question such as '535+61'")
    lines = [f"{q}={a}" for q, a in zip(items, answer(model, items))]
    if output is None:
        print("\n".join(lines))
    else:
        with open(output, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return 0


__all__ = ["add_arguments", "is_model_file", "predict", "run"]
