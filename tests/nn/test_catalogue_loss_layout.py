"""Item 4 of issue 15: the losses live in one file per family (each under ~300 lines), the old
module ``nn.functional.loss`` still gathers every loss, and the stable softplus is written once."""
import inspect
import pathlib

import chainrule.nn.functional as F
from chainrule.nn.functional import activation, loss, loss_binary, loss_nll

FUNCTIONAL = pathlib.Path(F.__file__).parent
FAMILIES = ["loss_common", "loss_regression", "loss_binary", "loss_class_targets",
            "loss_cross_entropy", "loss_nll", "loss_distribution", "loss_ranking", "loss_margin"]


def test_each_loss_family_file_is_small():
    for name in FAMILIES + ["loss"]:
        n = len((FUNCTIONAL / f"{name}.py").read_text(encoding="utf-8").splitlines())
        assert n <= 300, f"{name}.py has {n} lines"


def test_loss_module_still_gathers_every_loss():
    for name in loss.__all__:
        assert getattr(loss, name) is getattr(F, name), name
    assert callable(loss.check_reduction) and callable(loss.check_quantile)


def test_stable_softplus_is_written_once():
    formula = "log1p(xp.exp(-xp.abs("
    files = [p for p in FUNCTIONAL.glob("*.py") if formula in p.read_text(encoding="utf-8")]
    assert [p.name for p in files] == ["activation.py"]
    assert "stable_softplus" in inspect.getsource(loss_binary)
    assert "stable_softplus(xp, z)" in inspect.getsource(activation.Softplus)


def test_nll_scatter_is_the_ops_scatter():
    assert "IndexAdd" in inspect.getsource(loss_nll.NllLoss) and not hasattr(loss_nll, "ScatterFlat")
