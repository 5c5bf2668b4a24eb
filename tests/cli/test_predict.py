"""`chainrule predict`: scores patients, and names the row and column of malformed input."""
import csv

import pytest

from chainrule.cli.main import main
from chainrule.datasets import load_heart_disease

NAMES = load_heart_disease().feature_names


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("heart")
    assert main(["train", "heart", "--epochs", "3", "--quiet", "--out", str(out)]) == 0
    return out / "model.chainrule"


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _patients(n=3):
    data = load_heart_disease()
    rows = []
    for r in data.data[:n]:
        rows.append(["?" if v != v else f"{v:g}" for v in r])
    return rows


def test_predict_scores_each_row(model_path, tmp_path, capsys):
    p = _write(tmp_path / "p.csv", NAMES, _patients(4))
    assert main(["predict", str(model_path), str(p)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "row,probability,prediction"
    assert len(lines) == 5
    for line in lines[1:]:
        _, prob, pred = line.split(",")
        assert 0.0 <= float(prob) <= 1.0 and pred in ("0", "1")


def test_predict_accepts_columns_in_any_order_and_missing_values(model_path, tmp_path, capsys):
    rows = _patients(2)
    rows[0][NAMES.index("ca")] = "?"
    order = list(reversed(range(len(NAMES))))
    p = _write(tmp_path / "p.csv", [NAMES[i] for i in order] + ["note"],
               [[r[i] for i in order] + ["x"] for r in rows])
    out = tmp_path / "pred.csv"
    assert main(["predict", str(model_path), str(p), "--output", str(out)]) == 0
    assert len(out.read_text().strip().splitlines()) == 3


def test_missing_column_is_named(model_path, tmp_path, capsys):
    header = [n for n in NAMES if n != "chol"]
    rows = [[v for n, v in zip(NAMES, r) if n != "chol"] for r in _patients(1)]
    p = _write(tmp_path / "p.csv", header, rows)
    assert main(["predict", str(model_path), str(p)]) == 2
    assert "missing column(s) chol" in capsys.readouterr().err


def test_non_numeric_value_names_row_and_column(model_path, tmp_path, capsys):
    rows = _patients(3)
    rows[1][NAMES.index("age")] = "sixty"
    p = _write(tmp_path / "p.csv", NAMES, rows)
    assert main(["predict", str(model_path), str(p)]) == 2
    err = capsys.readouterr().err
    assert "row 2" in err and "'age'" in err and "sixty" in err


def test_unknown_category_names_row_and_column(model_path, tmp_path, capsys):
    rows = _patients(3)
    rows[2][NAMES.index("cp")] = "9"
    p = _write(tmp_path / "p.csv", NAMES, rows)
    assert main(["predict", str(model_path), str(p)]) == 2
    err = capsys.readouterr().err
    assert "row 3 (line 4)" in err and "'cp'" in err and "unknown category 9" in err


def test_not_a_model_file(tmp_path, capsys):
    bogus = tmp_path / "m.chainrule"
    bogus.write_bytes(b"not a model")
    p = _write(tmp_path / "p.csv", NAMES, _patients(1))
    assert main(["predict", str(bogus), str(p)]) == 2
    assert "m.chainrule" in capsys.readouterr().err


def test_empty_csv(model_path, tmp_path, capsys):
    p = tmp_path / "empty.csv"
    p.write_text("")
    assert main(["predict", str(model_path), str(p)]) == 2
    assert "empty file" in capsys.readouterr().err
