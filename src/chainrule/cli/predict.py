"""``chainrule predict MODEL patients.csv``: score new patients with a saved heart model.

The CSV is UTF-8 (a byte-order mark, as Excel's "CSV UTF-8" writes, is fine) with a header naming
the 13 variables (in any order; extra columns are ignored; no name twice); a missing value is
written '?' or left empty. Each row gets the predicted probability of heart disease and the 0/1
prediction. Malformed input (a row with too many or too few values, a value that is not a number
or too large for the model, a byte that is not UTF-8, an over-long cell) is refused with the
file, row, line and column; nothing is written then. ``--output`` may not name the model or the
patients file, and is written atomically.
"""
import csv
import io
import math
import os
import re
import sys

import numpy as np

import chainrule as cr
from chainrule.atomic_write import write_atomic
from chainrule.cli import addition
from chainrule.cli.heart import load_model
from chainrule.errors import ConfigError, DataError
from chainrule.training import predict as run_model

MAX_LINE_BYTES = 1 << 20
"""The longest line read from a patients CSV (1 MiB); a longer one is refused, not read."""
MAX_STANDARDISED = 1e3
"""The farthest a numeric value may lie from the training mean, in standard deviations: beyond it
a value is a typo or garbage (and beyond float32's range it would make the probability NaN)."""
_BOM = b"\xef\xbb\xbf"


def add_arguments(p):
    p.add_argument("model", help="a model file written by 'chainrule train heart' or "
                                 "'chainrule train digits'")
    p.add_argument("patients", help="a CSV file of patients, with a header row (heart); or of "
                                    "images, 64 pixel values 0-16 per row (digits)")
    p.add_argument("--output", "-o", help="write the predictions to this CSV (default: print)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="probability above which a patient is predicted ill (0.5)")


def _lines(f, path):
    """The file's lines as text, decoded one by one, so that a bad byte is named by its line."""
    number = 0
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise DataError(f"{path}: line {number} is longer than {MAX_LINE_BYTES} bytes; this "
                            f"is not a patients CSV")
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as e:
            bad = raw[e.start:e.start + 1]
            raise DataError(f"{path}: line {number}, byte {e.start + 1}: {bad!r} is not UTF-8 "
                            f"text; save the file as UTF-8 (in Excel: 'CSV UTF-8')") from None


def _rows(path):
    """``(line number, list of cells)`` for each non-blank CSV record, csv errors named by line."""
    with open(path, "rb") as f:
        reader = csv.reader(_lines(f, path))
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                detail = str(e)
                if "field larger than field limit" in detail:
                    detail = (f"a value is longer than {csv.field_size_limit()} characters; this "
                              f"is not a patients CSV")
                raise DataError(f"{path}: line {reader.line_num}: {detail}") from None
            if cells:
                yield reader.line_num, cells


def read_patients(path, feature_names):
    """The CSV's rows as ``(rows, lines)``: dicts over *feature_names* and their line numbers.

    Checks the header (every feature present, no name twice), each row's length against the
    header's, and each value (a finite number, or '?' / empty for a missing one).
    """
    records = _rows(path)
    first = next(records, None)
    if first is None:
        raise DataError(f"{path}: empty file; expected a header row naming the columns "
                        f"{', '.join(feature_names)}")
    header_line, header = first[0], [h.strip() for h in first[1]]
    seen = {}
    for j, name in enumerate(header, start=1):
        if name in seen:
            raise DataError(f"{path}: line {header_line}: column {name!r} appears twice in the "
                            f"header (columns {seen[name]} and {j}); name each column once")
        seen[name] = j
    missing = [n for n in feature_names if n not in seen]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; the header must "
                        f"name all of {', '.join(feature_names)}")
    rows, lines = [], []
    for i, (line, cells) in enumerate(records, start=1):
        where = f"{path}: row {i} (line {line})"
        if len(cells) > len(header):
            extra = cells[len(header)]
            raise DataError(f"{where} has {len(cells)} values but the header names {len(header)} "
                            f"columns: value {len(header) + 1} ({extra[:40]!r}) has no column. "
                            f"A decimal comma? Write 1.5, not 1,5, or quote a value that holds a "
                            f"comma")
        if len(cells) < len(header):
            raise DataError(f"{where} has too few values: {len(cells)}, but the header names "
                            f"{len(header)} columns; column {header[len(cells)]!r} (column "
                            f"{len(cells) + 1}) has no value")
        row = {}
        for name in feature_names:
            v = cells[seen[name] - 1]
            s = v.strip()
            if s not in ("", "?"):
                try:
                    value = float(s)
                except ValueError:
                    raise DataError(f"{where}, column {name!r}: {v[:40]!r} is not a number"
                                    ) from None
                if not math.isfinite(value):
                    raise DataError(f"{where}, column {name!r}: {v[:40]!r} is not a finite number "
                                    f"(write '?' or leave the cell empty for a missing value)")
            row[name] = v
        rows.append(row)
        lines.append(line)
    if not rows:
        raise DataError(f"{path}: no patient rows after the header")
    return rows, lines


def _source_columns(pre):
    """For each of the preprocessor's output columns, the input column it comes from."""
    out = []
    for name, kind in zip(pre.feature_names, pre.feature_kinds):
        out.extend([name] * (1 if kind == "numeric" else len(pre.categories_[name])))
    return out


def encode(pre, rows, path, lines):
    """The model's float32 inputs for *rows*; a bad or too large value is named by row, line and
    column."""
    try:
        X = pre.transform(rows)
    except ValueError:
        for i, row in enumerate(rows, start=1):
            try:
                pre.transform([row])
            except ValueError as e:
                detail = re.sub(r"^[\w.]+: row 0, ", "", str(e))
                raise DataError(f"{path}: row {i} (line {lines[i - 1]}), {detail}") from None
        raise
    with np.errstate(over="ignore"):
        X32 = X.astype(np.float32)
    bad = np.argwhere(~np.isfinite(X32) | (np.abs(X) > MAX_STANDARDISED))
    if bad.size:
        i, j = bad[0]
        name = _source_columns(pre)[j]
        raise DataError(f"{path}: row {i + 1} (line {lines[i]}), column {name!r}: "
                        f"{rows[i][name].strip()[:40]!r} is too large for the model: it lies "
                        f"{abs(X[i, j]):.3g} standard deviations from the training patients' "
                        f"mean (at most {MAX_STANDARDISED:g} are accepted); check the value")
    return X32


def _check_probabilities(prob, X, rows, pre, path, lines):
    """Every probability must be a number: a value that makes one NaN is named, never scored."""
    bad = np.flatnonzero(~np.isfinite(prob))
    if bad.size:
        i = int(bad[0])
        j = int(np.argmax(np.abs(X[i])))
        name = _source_columns(pre)[j]
        raise DataError(f"{path}: row {i + 1} (line {lines[i]}), column {name!r}: "
                        f"{rows[i][name].strip()[:40]!r} is too large for the model: the "
                        f"probability comes out as {prob[i]}")


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def run(args):
    if addition.is_model_file(args.model):   # a model of 'chainrule train addition': questions
        return addition.predict(args.model, [args.patients], output=args.output)
    if not 0.0 <= args.threshold <= 1.0:
        raise ConfigError(f"--threshold must be a probability in [0, 1], got {args.threshold}")
    if args.output is not None:
        for what, other in (("model", args.model), ("patients", args.patients)):
            if _same_file(args.output, other):
                raise ConfigError(f"--output {args.output!r} is the {what} file; write the "
                                  f"predictions to another file")
    model, pre, names = load_model(args.model)
    rows, lines = read_patients(args.patients, names)
    X = encode(pre, rows, args.patients, lines)
    prob = run_model(model, cr.tensor(X, dtype=cr.float32))._data.reshape(-1)
    _check_probabilities(prob, X, rows, pre, args.patients, lines)
    pred = (prob > args.threshold).astype(np.int64)
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(["row", "probability", "prediction"])
    for i, (p, c) in enumerate(zip(prob, pred), start=1):
        w.writerow([i, f"{p:.4f}", int(c)])
    if args.output is None:
        sys.stdout.write(text.getvalue())
    else:
        data = text.getvalue().encode("utf-8")
        write_atomic(args.output, lambda f: f.write(data), what="predict --output")
    return 0
