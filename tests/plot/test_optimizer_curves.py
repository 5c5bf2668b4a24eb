"""Learning curves of several optimisers on the heart-disease network."""
import sys

import numpy as np
import pytest

from chainrule.optim import SGD, Adam
from chainrule.plot.optimizers import HeartProblem, compare_optimizers, optimizer_curves


def test_same_start_same_batches_different_rules():
    problem = HeartProblem(0)
    assert problem.x_train.shape[1] == problem.n_features == 28
    runs = (("sgd", SGD, {"lr": 0.05}), ("adam", Adam, {"lr": 0.01}))
    curves = compare_optimizers(runs, epochs=3, problem=problem)
    assert list(curves) == ["sgd", "adam"]
    for c in curves.values():
        assert len(c["loss"]) == len(c["val_loss"]) == 4
        assert c["loss"][-1] < c["loss"][0]
    assert curves["sgd"]["loss"][0] == curves["adam"]["loss"][0]       # the same initial weights
    assert curves["sgd"]["loss"][1] != curves["adam"]["loss"][1]
    again = compare_optimizers(runs[:1], epochs=3, problem=problem)
    np.testing.assert_array_equal(again["sgd"]["loss"], curves["sgd"]["loss"])
    with pytest.raises(ValueError, match="epochs"):
        compare_optimizers(runs, epochs=0, problem=problem)


def test_optimizer_curves_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    assert optimizer_curves(out, epochs=2) == out
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_without_matplotlib_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install"):
        optimizer_curves(tmp_path / "x.png", epochs=1)
