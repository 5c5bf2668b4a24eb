"""`chainrule train heart` end to end: it trains, reports, saves, and is reproducible."""
import re
import subprocess
import sys

import pytest

from chainrule.cli.heart import load_model
from chainrule.cli.main import main


def _train(tmp_path, *extra):
    out = tmp_path / "run"
    code = main(["train", "heart", "--quiet", "--out", str(out), *extra])
    assert code == 0
    return out


def test_train_heart_reports_and_saves(tmp_path, capsys):
    out = _train(tmp_path, "--epochs", "5")
    text = capsys.readouterr().out
    assert re.search(r"test accuracy 0\.\d{4}\s+ROC AUC 0\.\d{4}", text)
    assert "confusion matrix" in text
    assert "parameters 481" in text           # 28·16 + 16 + 16·1 + 1
    assert (out / "model.chainrule").stat().st_size > 0
    model, pre, names = load_model(out / "model.chainrule")
    assert pre.n_features_out_ == 28 and len(names) == 13


def test_default_run_reaches_the_quality_bar(tmp_path, capsys):
    _train(tmp_path)
    acc = float(re.search(r"test accuracy (\d\.\d+)", capsys.readouterr().out).group(1))
    assert acc >= 0.80


def test_same_seed_prints_identical_numbers(tmp_path, capsys):
    _train(tmp_path / "a", "--epochs", "8", "--seed", "3")
    first = capsys.readouterr().out
    _train(tmp_path / "b", "--epochs", "8", "--seed", "3")
    second = capsys.readouterr().out
    strip = lambda s: re.sub(r"in \d+\.\d s|saved to \S+", "", s)  # noqa: E731
    assert strip(first) == strip(second)


def test_progress_line_per_epoch_off_a_terminal(tmp_path, capsys):
    main(["train", "heart", "--epochs", "3", "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert re.findall(r"^Epoch (\d)/3$", text, flags=re.M) == ["1", "2", "3"]
    assert len(re.findall(r"^7/7 - .* - loss: \d\.\d{4} - val_accuracy: .* - val_loss: ", text,
                          flags=re.M)) == 3


@pytest.mark.parametrize("flag,value", [("--epochs", "0"), ("--batch-size", "-1"), ("--lr", "0")])
def test_bad_options_are_rejected_clearly(tmp_path, capsys, flag, value):
    assert main(["train", "heart", "--out", str(tmp_path), flag, value]) == 2
    assert f"{flag} must be positive" in capsys.readouterr().err


def test_console_entry_point_runs_as_module(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "chainrule", "train", "heart", "--epochs", "2",
                           "--quiet", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout


def test_optimizer_names_come_from_the_keras_registry(tmp_path, capsys):
    """--optimizer takes every name of cr.keras's optimizer registry (nadam, lion, adadelta
    included), and a typo names the closest of them and lists them all."""
    from chainrule.keras.registry import optimizer_names
    with pytest.raises(SystemExit):
        main(["train", "heart", "--optimizer", "nadm"])
    err = capsys.readouterr().err
    assert "Unknown optimizer: 'nadm'. Did you mean 'nadam'?" in err
    assert "Known optimizers: " + ", ".join(optimizer_names()) in err
    out = tmp_path / "run"
    assert main(["train", "heart", "--epochs", "2", "--optimizer", "lion", "--lr", "1e-4",
                 "--out", str(out)]) == 0
    assert "lion lr=0.0001" in capsys.readouterr().out
    model, _, _ = load_model(out / "model.chainrule")
    assert model.count_params() == 481
