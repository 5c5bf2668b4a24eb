"""`chainrule predict` refuses input it would misread, naming file, line and column; never
overwrites its own inputs; accepts Excel's UTF-8 CSV; and refuses a hand-edited model file with
chainrule's error. Each kind of case runs the real command line in a subprocess; its variants
run ``main`` in-process (the same code, without the interpreter start-up)."""
import contextlib
import copy
import csv
import io
import os
import subprocess
import sys
import types

import pytest

import chainrule as cr
from chainrule.cli.main import main
from chainrule.datasets import load_heart_disease

NAMES = load_heart_disease().feature_names


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("heart")
    assert main(["train", "heart", "--epochs", "2", "--quiet", "--out", str(out)]) == 0
    return out / "model.chainrule"


def _rows(n=3):
    return [["?" if v != v else f"{v:g}" for v in r] for r in load_heart_disease().data[:n]]


def _csv(header=NAMES, rows=None, newline="\n"):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    w.writerows(_rows() if rows is None else rows)
    return buf.getvalue()


def _write(path, text, prefix=b""):
    path.write_bytes(prefix + (text.encode("utf-8") if isinstance(text, str) else text))
    return path


def _predict(*args, in_process=False):
    argv = ["predict", *map(str, args)]
    if not in_process:
        return subprocess.run([sys.executable, "-m", "chainrule", *argv], capture_output=True,
                              text=True, timeout=120)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return types.SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def _refused(proc, *parts):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for part in parts:
        assert part in proc.stderr, (part, proc.stderr)


# ---- --output may not overwrite the inputs -------------------------------------------------------
def test_output_onto_the_model_file_is_refused(model_path, tmp_path):
    before = model_path.read_bytes()
    patients = _write(tmp_path / "p.csv", _csv())
    alias = tmp_path / "alias.chainrule"
    alias.symlink_to(model_path)
    for i, target in enumerate((model_path, alias, model_path.parent / ".." /
                                model_path.parent.name / model_path.name)):
        _refused(_predict(model_path, patients, "-o", target, in_process=i > 0),
                 "is the model file")
    assert model_path.read_bytes() == before


def test_output_onto_the_patients_file_is_refused(model_path, tmp_path):
    text = _csv()
    patients = _write(tmp_path / "p.csv", text)
    hard = tmp_path / "hard.csv"
    os.link(patients, hard)
    for i, target in enumerate((patients, hard)):
        _refused(_predict(model_path, patients, "--output", target, in_process=i > 0),
                 "is the patients file")
    assert patients.read_text() == text


def test_output_elsewhere_is_written(model_path, tmp_path):
    patients = _write(tmp_path / "p.csv", _csv())
    out = tmp_path / "pred.csv"
    proc = _predict(model_path, patients, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().splitlines()[0] == "row,probability,prediction"
    assert len(out.read_text().splitlines()) == 4


# ---- rows and columns ----------------------------------------------------------------------------
def test_a_row_with_an_extra_value_is_refused(model_path, tmp_path):
    rows = _rows()
    age = NAMES.index("age")
    rows[1] = rows[1][:age] + ["63", "5"] + rows[1][age + 1:]     # a decimal comma: 63,5
    patients = _write(tmp_path / "p.csv", _csv(rows=rows))
    _refused(_predict(model_path, patients), str(patients), "row 2 (line 3) has 14 values",
             "header names 13 columns", "value 14", "decimal comma")


def test_a_row_with_too_few_values_is_refused(model_path, tmp_path):
    rows = _rows()
    rows[2] = rows[2][:-1]
    patients = _write(tmp_path / "p.csv", _csv(rows=rows))
    _refused(_predict(model_path, patients), str(patients), "row 3 (line 4) has too few values",
             f"column {NAMES[-1]!r} (column 13)")


def test_a_duplicate_column_is_refused(model_path, tmp_path):
    header = NAMES + ["age"]
    rows = [r + ["99"] for r in _rows()]
    patients = _write(tmp_path / "p.csv", _csv(header=header, rows=rows))
    _refused(_predict(model_path, patients), str(patients), "line 1",
             "column 'age' appears twice in the header (columns 1 and 14)")


@pytest.mark.parametrize("column, value", [("age", "1e308"), ("chol", "-1e300"),
                                           ("oldpeak", "3e38")])
def test_a_value_too_large_for_the_model_is_refused(model_path, tmp_path, column, value):
    """age=1e308 used to give a NaN probability, printed as 'nan' and scored 'no disease'."""
    rows = _rows()
    rows[1][NAMES.index(column)] = value
    patients = _write(tmp_path / "p.csv", _csv(rows=rows))
    _refused(_predict(model_path, patients, in_process=column != "age"), str(patients),
             "row 2 (line 3)", f"column {column!r}", value, "too large for the model")


def test_quoted_commas_crlf_and_extra_columns_are_fine(model_path, tmp_path):
    rows = [r + ["a note, with a comma"] for r in _rows()]
    patients = _write(tmp_path / "p.csv", _csv(header=NAMES + ["note"], rows=rows,
                                               newline="\r\n"))
    proc = _predict(model_path, patients)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 4


# ---- encodings and hostile cells -----------------------------------------------------------------
def test_a_utf8_bom_header_is_accepted(model_path, tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark; the first column is still 'age'."""
    patients = _write(tmp_path / "p.csv", _csv(), prefix=b"\xef\xbb\xbf")
    proc = _predict(model_path, patients)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 4


def test_a_non_utf8_byte_names_file_and_line(model_path, tmp_path):
    rows = [r + ["ok"] for r in _rows()]
    text = _csv(header=NAMES + ["note"], rows=rows).encode("utf-8")
    lines = text.split(b"\n")
    lines[2] = lines[2].replace(b"ok", b"caf\xe9")              # Latin-1, as old Excel writes
    patients = _write(tmp_path / "p.csv", b"\n".join(lines))
    _refused(_predict(model_path, patients), str(patients), "line 3", "is not UTF-8 text")


def test_a_200000_character_cell_gives_a_clean_error(model_path, tmp_path):
    rows = _rows()
    rows[0][NAMES.index("chol")] = "1" * 200_000
    patients = _write(tmp_path / "p.csv", _csv(rows=rows))
    _refused(_predict(model_path, patients), str(patients), "line 2",
             "longer than 131072 characters")


# ---- a hand-edited model file --------------------------------------------------------------------
def _edited(model_path, tmp_path, change):
    obj = copy.deepcopy(cr.load(model_path))
    change(obj)
    path = tmp_path / "edited.chainrule"
    cr.save(obj, path)
    return path


EDITS = {
    "name-None": (lambda o: o["feature_names"].__setitem__(0, None), "feature_names must list"),
    "names-None": (lambda o: o.update(feature_names=None), "feature_names must list"),
    "names-reordered": (lambda o: o.update(feature_names=list(reversed(o["feature_names"]))),
                        "feature_names must list"),
    "single_output-False": (lambda o: o["model"]["config"]["config"].update(single_output=False),
                            "must give one probability per patient"),
    "single_output-str": (lambda o: o["model"]["config"]["config"].update(single_output="yes"),
                          "single_output"),
    "scale-0": (lambda o: o["preprocessor"]["fitted"]["scale"].update(age=0.0),
                "finite positive scale"),
    "nan-weights": (lambda o: o["model"]["weights"]["hidden"][0].__setitem__((0, 0), float("nan")),
                    "hold NaN or infinite values"),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_a_hand_edited_model_file_gives_chainrules_error(model_path, tmp_path, name):
    change, message = EDITS[name]
    bad = _edited(model_path, tmp_path, change)
    patients = _write(tmp_path / "p.csv", _csv())
    _refused(_predict(bad, patients, in_process=name not in ("name-None", "single_output-False")),
             str(bad), message)
