"""The documented examples run and reach what their docstrings claim."""
import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_keras_heart_reproduces_the_lecture_model(capsys):
    mod = _load("keras_heart")
    assert mod.keras_style() >= 0.80
    assert "Total params: 481" in capsys.readouterr().out
    assert mod.pytorch_style() >= 0.80


def test_lbfgs_full_batch_example_runs(capsys):
    pytest.importorskip("scipy")
    _load("lbfgs_full_batch").main()
    assert "test accuracy" in capsys.readouterr().out


def test_blackbox_hybrid_example_learns():
    before, after = _load("blackbox_hybrid").main(steps=60)
    assert after < 0.5 * before
