"""The PyTorch-habit examples run as written, and the same files run on PyTorch (only the import
lines changed) reach the same losses from the same weights."""
import contextlib
import io
import pathlib
import types

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _load(name, library):
    """Load examples/<name>.py as written (library "chainrule") or with its imports switched to
    PyTorch ("torch"): ``import chainrule as torch`` -> ``import torch``, ``from chainrule`` ->
    ``from torch``.  Nothing else in the file changes."""
    source = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    if library == "torch":
        pytest.importorskip("torch")
        assert "import chainrule as torch\n" in source
        source = source.replace("import chainrule as torch\n", "import torch\n")
        source = source.replace("from chainrule", "from torch")
        assert not [ln for ln in source.splitlines()
                    if ln.startswith(("import ", "from ")) and "chainrule" in ln]
    mod = types.ModuleType(f"{name}_{library}")
    mod.__file__ = str(EXAMPLES / f"{name}.py")
    exec(compile(source, mod.__file__, "exec"), mod.__dict__)  # noqa: S102 - the example file
    return mod


def _quiet(fn, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        res = fn(*args, **kwargs)
    return res, out.getvalue()


INIT = [0.1, -0.2, 0.05, 0.3]
HABITS = {
    "tensors": {"init": INIT}, "autograd": {"init": INIT}, "custom_function": {},
    "nn": {"init": INIT}, "optim": {"init": INIT}, "module": {"init": INIT},
    "dynamic_net": {"init": INIT + [0.01]},
}


@pytest.mark.parametrize("program", list(HABITS))
def test_learning_pytorch_with_examples_programs(program):
    mod = _load("pytorch_habits", "chainrule")
    (losses, coefs), printed = _quiet(getattr(mod, program), steps=300, log_every=50,
                                      **HABITS[program])
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert losses[-1] < losses[0]                       # it learns
    assert printed.count("\n") >= 6
    try:
        tmod = _load("pytorch_habits", "torch")
    except pytest.skip.Exception:
        return
    (t_losses, t_coefs), _ = _quiet(getattr(tmod, program), steps=300, log_every=50,
                                    **HABITS[program])
    np.testing.assert_allclose(losses, t_losses, rtol=1e-4)
    np.testing.assert_allclose(coefs, t_coefs, rtol=1e-4, atol=1e-6)


def test_habits_file_runs_as_a_script_with_random_weights():
    mod = _load("pytorch_habits", "chainrule")
    mod.torch.manual_seed(0)
    (losses, _), printed = _quiet(mod.autograd, steps=200, log_every=100)
    assert "Result: y = " in printed and len(losses) == 2


def _network_init(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"0": (512, 784), "2": (512, 512), "4": (10, 512)}
    init = {}
    for k, (o, i) in shapes.items():
        bound = 1 / np.sqrt(i)
        init[f"linear_relu_stack.{k}.weight"] = rng.uniform(-bound, bound, (o, i)).astype(
            np.float32)
        init[f"linear_relu_stack.{k}.bias"] = rng.uniform(-bound, bound, o).astype(np.float32)
    return init


def test_quickstart_trains_and_matches_torch():
    mod = _load("pytorch_basics", "chainrule")
    kw = {"epochs": 2, "n_train": 512, "n_test": 128, "init": _network_init(), "log_every": 2}
    hist, printed = _quiet(mod.quickstart, **kw)
    assert "Accuracy:" in printed and "Predicted:" in printed
    assert hist["test"][-1][0] < hist["test"][0][0]      # the test loss goes down
    assert hist["prediction"][1] in mod.CLASSES
    try:
        tmod = _load("pytorch_basics", "torch")
    except pytest.skip.Exception:
        return
    t_hist, _ = _quiet(tmod.quickstart, **kw)
    np.testing.assert_allclose(hist["train"], t_hist["train"], rtol=1e-5)
    np.testing.assert_allclose(np.array(hist["test"]), np.array(t_hist["test"]), rtol=1e-5)
    assert hist["prediction"] == t_hist["prediction"]


def test_build_model_matches_torch():
    mod = _load("pytorch_basics", "chainrule")
    X = np.random.default_rng(3).random((1, 28, 28), dtype=np.float32)
    res, printed = _quiet(mod.build_model, init=_network_init(1), X=X)
    assert res["shapes"] == [(3, 784), (3, 20), (3, 10)]
    np.testing.assert_allclose(res["rows_sum_to_one"], 1.0, rtol=1e-6)
    assert "Layer: linear_relu_stack.0.weight | Size: (512, 784)" in printed
    try:
        tmod = _load("pytorch_basics", "torch")
    except pytest.skip.Exception:
        return
    t_res, _ = _quiet(tmod.build_model, init=_network_init(1), X=X)
    np.testing.assert_allclose(res["probabilities"], t_res["probabilities"], rtol=1e-5)
    assert res["class"] == t_res["class"]


def test_automatic_differentiation_matches_torch():
    mod = _load("pytorch_basics", "chainrule")
    rng = np.random.default_rng(4)
    w, b = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    res, printed = _quiet(mod.automatic_differentiation, w=w, b=b)
    assert "Gradient function for z = <AddBackward" in printed
    first, second, third = res["jacobian_products"]
    np.testing.assert_array_equal(second, 2 * first)          # gradients accumulate
    np.testing.assert_array_equal(third, first)               # ... until zeroed
    try:
        tmod = _load("pytorch_basics", "torch")
    except pytest.skip.Exception:
        return
    t_res, _ = _quiet(tmod.automatic_differentiation, w=w, b=b)
    assert res["loss"] == pytest.approx(t_res["loss"], rel=1e-6)
    np.testing.assert_allclose(res["w_grad"], t_res["w_grad"], rtol=1e-5)
    np.testing.assert_allclose(res["b_grad"], t_res["b_grad"], rtol=1e-5)
    for a, t in zip(res["jacobian_products"], t_res["jacobian_products"]):
        np.testing.assert_array_equal(a, t)
