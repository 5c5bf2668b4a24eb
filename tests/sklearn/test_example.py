"""examples/sklearn_heart.py: the heart job as a scikit-learn pipeline tuned by GridSearchCV."""
import importlib.util
import pathlib

import pytest

pytest.importorskip("sklearn")

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "sklearn_heart.py"


def test_sklearn_heart_example_tunes_and_scores(capsys):
    spec = importlib.util.spec_from_file_location("sklearn_heart", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    accuracy, best = mod.main()
    assert accuracy >= 0.8
    assert set(best) == {"net__lr", "net__module"}
    out = capsys.readouterr().out
    assert "13 variables -> 28 inputs" in out and "4 settings x 5 folds" in out
