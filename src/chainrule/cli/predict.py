"""``chainrule predict MODEL patients.csv``: score new patients with a saved heart model.

The CSV has a header naming the 13 variables (in any order; extra columns are ignored); a
missing value is written '?' or left empty.  Each row gets the predicted probability of heart
disease and the 0/1 prediction.  Malformed input is reported with its row and column.
"""
import csv
import math
import re
import sys

import numpy as np

from chainrule.cli.heart import load_model
from chainrule.errors import ConfigError, DataError
from chainrule.training import predict as run_model
import chainrule as cr


def add_arguments(p):
    p.add_argument("model", help="a model file written by 'chainrule train heart'")
    p.add_argument("patients", help="a CSV file of patients, with a header row")
    p.add_argument("--output", "-o", help="write the predictions to this CSV (default: print)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="probability above which a patient is predicted ill (0.5)")


def read_patients(path, feature_names):
    """The CSV's rows as a list of dicts over *feature_names*, checking header and cells."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise DataError(f"{path}: empty file; expected a header row naming the columns "
                            f"{', '.join(feature_names)}")
        header = [h.strip() for h in reader.fieldnames]
        missing = [n for n in feature_names if n not in header]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; the header must "
                            f"name all of {', '.join(feature_names)}")
        rows = []
        for i, raw in enumerate(reader, start=1):
            row = {k.strip(): v for k, v in raw.items() if k is not None}
            for name in feature_names:
                v = row.get(name)
                if v is None:
                    raise DataError(f"{path}: row {i} (line {i + 1}) has too few values: column "
                                    f"{name!r} is absent")
                s = v.strip()
                if s not in ("", "?"):
                    try:
                        value = float(s)
                    except ValueError:
                        raise DataError(f"{path}: row {i} (line {i + 1}), column {name!r}: "
                                        f"{v!r} is not a number") from None
                    if not math.isfinite(value):
                        raise DataError(f"{path}: row {i} (line {i + 1}), column {name!r}: "
                                        f"{v!r} is not a finite number (write '?' or leave the "
                                        f"cell empty for a missing value)")
            rows.append({n: row[n] for n in feature_names})
    if not rows:
        raise DataError(f"{path}: no patient rows after the header")
    return rows


def encode(pre, rows, path):
    """The model's inputs for *rows*; a bad value is reported with its CSV row and line."""
    try:
        return pre.transform(rows)
    except ValueError:
        for i, row in enumerate(rows, start=1):
            try:
                pre.transform([row])
            except ValueError as e:
                detail = re.sub(r"^[\w.]+: row 0, ", "", str(e))
                raise DataError(f"{path}: row {i} (line {i + 1}), {detail}") from None
        raise


def run(args):
    if not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold must be a probability in [0, 1], got {args.threshold}")
    model, pre, names = load_model(args.model)
    rows = read_patients(args.patients, names)
    X = encode(pre, rows, args.patients)
    prob = run_model(model, cr.tensor(X, dtype=cr.float32)).data.reshape(-1)
    pred = (prob > args.threshold).astype(np.int64)
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        w = csv.writer(out)
        w.writerow(["row", "probability", "prediction"])
        for i, (p, c) in enumerate(zip(prob, pred), start=1):
            w.writerow([i, f"{p:.4f}", int(c)])
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
