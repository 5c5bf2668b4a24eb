"""``chainrule train digits`` end to end on a short run, the full default job's accuracy,
determinism, ``chainrule predict`` on a pixels CSV, and bad input."""
import json
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.digits import read_pixels
from chainrule.cli.main import main
from chainrule.datasets import load_digits
from chainrule.training.digits import (DigitsNet, count_parameters, images_tensor,
                                       is_model_file, load_model, save_model, split,
                                       train_digits)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short CLI run shared by the tests: its folder and printed report."""
    out = tmp_path_factory.mktemp("digits")
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["train", "digits", "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    return out, buf.getvalue()


def _numbers(report):
    """The report without the timing, which is all that may differ between two runs."""
    return [line for line in report.splitlines() if " s)" not in line and "saved" not in line]


def test_short_run_reports_and_saves(trained):
    out, report = trained
    assert "test accuracy" in report and "360 held-out images" in report
    assert "confusion matrix (rows: true digit, columns: predicted)" in report
    assert "parameters 6090" in report
    assert "1293 train / 144 validation / 360 test images" in report
    rows = [line.split() for line in report.splitlines() if line[:9].strip().isdigit()]
    matrix = np.array([[int(v) for v in r[1:]] for r in rows[-10:]])
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    acc = float(report.split("test accuracy ")[1].split()[0])
    assert abs(acc - np.trace(matrix) / 360) < 1e-4 and acc > 0.5
    assert (out / "model.chainrule").exists() and is_model_file(str(out / "model.chainrule"))
    history = json.loads((out / "history.json").read_text())
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history["loss"]) == 3 and history["loss"][-1] < history["loss"][0]
    pytest.importorskip("matplotlib")
    assert (out / "training-curve.png").stat().st_size > 1000
    assert (out / "misclassified.png").stat().st_size > 1000


def test_same_seed_same_numbers(trained, tmp_path, capsys):
    _, first = trained
    assert main(["train", "digits", "--epochs", "3", "--out", str(tmp_path), "--quiet"]) == 0
    assert _numbers(capsys.readouterr().out) == _numbers(first)


def test_default_job_reaches_98_percent():
    result = train_digits()                      # the defaults of 'chainrule train digits'
    assert result["test_accuracy"] >= 0.98
    assert result["parameters"] == 6090 and result["confusion"].sum() == 360
    assert result["seconds"] < 30


def test_predict_scores_a_pixels_csv(trained, tmp_path, capsys):
    out, _ = trained
    d = load_digits()
    plain = tmp_path / "images.csv"
    np.savetxt(plain, d.data[:6].astype(int), fmt="%d", delimiter=",")
    with_header = tmp_path / "header.csv"
    with_header.write_text(",".join(d.feature_names) + "\n" +
                           "\n".join(",".join(f"{v:g}" for v in r) for r in d.data[:6]) + "\n")
    model = str(out / "model.chainrule")
    assert main(["predict", model, str(plain)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "row,digit,probability" and len(lines) == 7
    digits = [int(line.split(",")[1]) for line in lines[1:]]
    probs = [float(line.split(",")[2]) for line in lines[1:]]
    assert all(0 <= p <= 1 for p in probs)
    target = tmp_path / "pred.csv"
    assert main(["predict", model, str(with_header), "-o", str(target)]) == 0
    again = target.read_text().strip().splitlines()
    assert [int(line.split(",")[1]) for line in again[1:]] == digits
    net = load_model(model)
    expected = net(images_tensor(d.data[:6])).detach().numpy().argmax(1)
    assert digits == expected.tolist()


@pytest.mark.parametrize("text,match", [
    ("1,2,3\n", r"row 1 \(line 1\) has 3 values; expected 64"),
    (",".join(["0"] * 63 + ["x"]) + "\n", "row 1 .*column 64: 'x' is not a finite number"),
    (",".join(["0"] * 64) + "\n" + ",".join(["0"] * 63 + ["17"]) + "\n",
     r"row 2 \(line 2\), column 64: pixel value 17 is outside 0..16"),
    (",".join(["0"] * 64) + "\n" + ",".join(["nan"] * 64) + "\n", "not a finite number"),
    ("a,b\n", "header .*names 2 columns"),
    ("\n\n", "no images"),
])
def test_predict_refuses_bad_pixels(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(cr.DataError, match=match):
        read_pixels(str(path))


def test_predict_errors_through_the_cli(trained, tmp_path, capsys):
    out, _ = trained
    path = tmp_path / "bad.csv"
    path.write_text("1,2\n")
    assert main(["predict", str(out / "model.chainrule"), str(path)]) == 2
    assert "expected 64 pixel values" in capsys.readouterr().err
    model = str(out / "model.chainrule")
    assert main(["predict", model, model, "-o", model]) == 2
    assert "input file" in capsys.readouterr().err


def test_library_parts():
    net = DigitsNet()
    assert count_parameters(net) == 6090
    assert net(cr.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert [type(m).__name__ for m in net.features] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d",
                                                        "ReLU", "MaxPool2d"]
    d = load_digits()
    parts = split(d.data, d.target, seed=0)
    again = split(d.data, d.target, seed=0)
    for a, b in zip(parts, again):
        np.testing.assert_array_equal(a, b)
    y_train, y_test = parts[3], parts[5]
    assert len(y_test) == 360 and np.bincount(y_test).min() >= 34    # stratified
    assert np.abs(np.bincount(y_train) / len(y_train) - np.bincount(d.target) / 1797).max() < 0.01
    with pytest.raises(cr.ConfigError, match="channels"):
        DigitsNet((16,))
    with pytest.raises(cr.ConfigError, match="--epochs"):
        train_digits(epochs=0)
    with pytest.raises(cr.ConfigError, match="--lr"):
        train_digits(lr=float("nan"))
    with pytest.raises(cr.DataError, match="64"):
        images_tensor(np.zeros((2, 63)))


def test_model_file_round_trip_and_refusals(tmp_path):
    net = DigitsNet((4, 8))
    path = str(tmp_path / "m.chainrule")
    save_model(path, net, {"epochs": 1})
    back = load_model(path)
    x = cr.randn(2, 1, 8, 8)
    np.testing.assert_allclose(back(x).detach().numpy(), net.eval()(x).detach().numpy())
    cr.save({"format": "something else"}, str(tmp_path / "other.chainrule"))
    assert not is_model_file(str(tmp_path / "other.chainrule"))
    assert not is_model_file(str(tmp_path / "missing.chainrule"))
    with pytest.raises(cr.CheckpointError, match="not a digits model"):
        load_model(str(tmp_path / "other.chainrule"))
    with cr.no_grad():
        net.classifier[2].weight.data[0, 0] = np.nan
    save_model(path, net)
    with pytest.raises(cr.CheckpointError, match="NaN"):
        load_model(path)
    assert os.path.exists(path)
