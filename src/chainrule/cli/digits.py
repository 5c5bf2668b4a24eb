"""``chainrule train digits``: a small convnet learns the 8×8 handwritten digits in seconds.

    chainrule train digits                       # conv–ReLU–pool ×2 → linear, Adam
    chainrule predict runs/digits/model.chainrule images.csv

Loads the 1,797 digits shipped with chainrule, makes a seeded stratified train/validation/test
split, trains ``DigitsNet`` and prints the test accuracy, the confusion matrix and the parameter
count.  Saves the model (``model.chainrule``), the history and, with matplotlib, two pictures: the
training curves and the misclassified test digits with their predicted and true labels.
``chainrule predict`` scores a CSV of images, one row of 64 pixel values (0..16, row by row) each.
"""
import csv
import io
import json
import math
import os
import sys

import numpy as np

from chainrule.atomic_write import write_atomic
from chainrule.errors import ConfigError, DataError
from chainrule.plot import history as plot_history
from chainrule.plot.images import image_grid
from chainrule.training.digits import (PIXEL_MAX, images_tensor, is_model_file, load_model,
                                       predict_proba, save_model, train_digits)

MAX_LINE_BYTES = 1 << 16
"""The longest line read from a pixels CSV; a longer one is refused, not read."""


def add_arguments(p):
    p.add_argument("--epochs", type=int, default=40, help="passes over the training set (40)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (32)")
    p.add_argument("--lr", type=float, default=1e-2,
                   help="Adam's learning rate, cosine-decayed over the epochs (0.01)")
    p.add_argument("--channels", type=int, nargs=2, default=(16, 32), metavar=("C1", "C2"),
                   help="channels of the two convolutions (16 32)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the split, the initial weights and the shuffling (0)")
    p.add_argument("--test-size", type=float, default=0.2, help="held-out test fraction (0.2)")
    p.add_argument("--val-size", type=float, default=0.1,
                   help="validation fraction of the remaining images (0.1)")
    p.add_argument("--out", default=os.path.join("runs", "digits"),
                   help="folder for model.chainrule, history.json and the pictures (runs/digits)")
    p.add_argument("--quiet", action="store_true", help="print only the final report")


def _confusion_text(m):
    head = "true\\pred " + "".join(f"{d:5d}" for d in range(10))
    rows = [f"{t:9d} " + "".join(f"{v:5d}" for v in row) for t, row in enumerate(m)]
    return "\n".join([head] + rows)


def run(args):
    say = (lambda *a, **k: None) if args.quiet else print

    def on_epoch(epoch, logs):
        say(f"epoch {epoch + 1:3d}/{args.epochs}  loss {logs['loss']:.4f}  accuracy "
            f"{logs['accuracy']:.4f}  val_loss {logs['val_loss']:.4f}  val_accuracy "
            f"{logs['val_accuracy']:.4f}", flush=True)

    if not 0.0 < args.test_size < 1.0 or not 0.0 < args.val_size < 1.0:
        raise ConfigError(f"--test-size and --val-size must be fractions between 0 and 1 "
                          f"(exclusive), got {args.test_size} and {args.val_size}")
    result = train_digits(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          channels=tuple(args.channels), seed=args.seed,
                          test_size=float(args.test_size), val_size=float(args.val_size),
                          on_epoch=on_epoch)
    model, history = result["model"], result["history"]
    n_train, n_val, n_test = result["sizes"]
    c1, c2 = model.config["channels"]
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "model.chainrule")
    save_model(path, model, vars(args))
    text = json.dumps(history).encode("utf-8")
    write_atomic(os.path.join(args.out, "history.json"), lambda f: f.write(text))
    print(f"digits: {n_train} train / {n_val} validation / {n_test} test images; network "
          f"conv3x3(1->{c1})-ReLU-maxpool2 -> conv3x3({c1}->{c2})-ReLU-maxpool2 -> "
          f"linear({4 * c2}->10); Adam lr={args.lr:g}, batch {args.batch_size}")
    print(f"test accuracy {result['test_accuracy']:.4f}   ({n_test} held-out images, trained "
          f"{args.epochs} epochs in {result['seconds']:.1f} s)")
    print("confusion matrix (rows: true digit, columns: predicted)")
    print(_confusion_text(result["confusion"]))
    print(f"parameters {result['parameters']}   model saved to {path}")
    _pictures(args.out, history, result)
    return 0


def _pictures(out, history, result):
    curve = os.path.join(out, "training-curve.png")
    wrong = os.path.join(out, "misclassified.png")
    try:
        plot_history(history, curve, title="digits convnet")
        miss = np.flatnonzero(result["pred"] != result["y_test"])
        images = result["X_test"][miss].reshape(-1, 8, 8)
        captions = [f"pred {result['pred'][i]} / true {result['y_test'][i]}" for i in miss]
        image_grid(images, wrong, captions, cols=6,
                   title=f"misclassified test digits ({len(miss)} of {len(result['y_test'])})")
    except ImportError as e:
        print(f"note: no pictures: {e}")
        return
    print(f"training curve saved to {curve}; misclassified digits saved to {wrong}")


# ---- chainrule predict -----------------------------------------------------------------------
def _number(cell):
    try:
        return float(cell)
    except ValueError:
        return None


def read_pixels(path):
    """The images of a CSV file as an (n, 64) float array, and each row's line number.

    One image per row: 64 pixel values 0..16, row by row (as ``load_digits().data``).  A first
    row of names (no number in it) is a header; it must name 64 columns.  A row of the wrong length,
    a value that is not a finite number or lies outside 0..16 is refused with the file, row, line
    and column.
    """
    with open(path, "rb") as f:
        raw = f.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: byte {e.start + 1} is not UTF-8 text; save the file as UTF-8"
                        ) from None
    rows, lines = [], []
    reader = csv.reader(io.StringIO(text))
    header = None
    for cells in reader:
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(",".join(cells)) > MAX_LINE_BYTES:
            raise DataError(f"{path}: line {line} is longer than {MAX_LINE_BYTES} characters; "
                            f"this is not a pixels CSV")
        values = [_number(c.strip()) for c in cells]
        if header is None and not rows and all(v is None for v in values):
            header = cells
            if len(cells) != 64:
                raise DataError(f"{path}: the header (line {line}) names {len(cells)} columns; "
                                f"expected 64, one per pixel")
            continue
        where = f"{path}: row {len(rows) + 1} (line {line})"
        if len(cells) != 64:
            raise DataError(f"{where} has {len(cells)} values; expected 64 pixel values (an 8×8 "
                            f"image row by row)")
        for j, (cell, v) in enumerate(zip(cells, values), start=1):
            if v is None or not math.isfinite(v):
                raise DataError(f"{where}, column {j}: {cell.strip()[:40]!r} is not a finite "
                                f"number")
            if not 0 <= v <= PIXEL_MAX:
                raise DataError(f"{where}, column {j}: pixel value {v:g} is outside 0..16 (each "
                                f"pixel counts the ink in a 4×4 block)")
        rows.append(values)
        lines.append(line)
    if not rows:
        raise DataError(f"{path}: no images; expected rows of 64 pixel values")
    return np.array(rows, dtype=np.float64), lines


def predict(args):
    """``chainrule predict MODEL images.csv`` for a digits model: row, digit, probability."""
    if args.output is not None and os.path.exists(args.output) and any(
            os.path.samefile(args.output, p) for p in (args.model, args.patients)
            if os.path.exists(p)):
        raise ConfigError(f"--output {args.output!r} is an input file; write the predictions "
                          f"to another file")
    model = load_model(args.model)
    pixels, _ = read_pixels(args.patients)
    proba = predict_proba(model, images_tensor(pixels))
    digit = proba.argmax(1)
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(["row", "digit", "probability"])
    for i, (d, p) in enumerate(zip(digit, proba[np.arange(len(digit)), digit]), start=1):
        w.writerow([i, int(d), f"{p:.4f}"])
    if args.output is None:
        sys.stdout.write(text.getvalue())
    else:
        data = text.getvalue().encode("utf-8")
        write_atomic(args.output, lambda f: f.write(data), what="predict --output")
    return 0


__all__ = ["add_arguments", "is_model_file", "predict", "read_pixels", "run"]
