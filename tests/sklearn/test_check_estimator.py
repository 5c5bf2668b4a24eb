"""scikit-learn's own estimator checks, run on both estimators with their default parameters."""
import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from chainrule.sklearn import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402


@parametrize_with_checks([NeuralNetClassifier(), NeuralNetRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_check_estimator_passes_as_a_whole():
    from sklearn.utils.estimator_checks import check_estimator
    for est in (NeuralNetClassifier(), NeuralNetRegressor()):
        results = check_estimator(est, on_fail=None, on_skip=None)
        failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
        assert not failed
        assert len(results) > 50
