"""nn.functional: the namespace, and one table of functional ops checked against torch and by
gradcheck/gradgradcheck in float64; the docstring examples of the whole nn package run."""
import doctest
import importlib
import math
import pkgutil

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck

API_NN = ["Parameter", "Module", "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU",
          "Softmax", "LogSoftmax", "Dropout", "BatchNorm1d", "LayerNorm", "Flatten", "Identity",
          "Embedding", "Sequential", "ModuleList", "ModuleDict", "MSELoss", "L1Loss", "HuberLoss",
          "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "PinballLoss", "ELU",
          "SiLU", "Softplus", "Unflatten", "SmoothL1Loss"]
API_F = ["relu", "linear", "dropout", "cross_entropy", "binary_cross_entropy_with_logits",
         "mse_loss", "one_hot", "leaky_relu", "gelu", "sigmoid", "tanh", "softmax", "log_softmax",
         "elu", "silu", "softplus", "batch_norm", "layer_norm", "embedding", "l1_loss",
         "huber_loss", "smooth_l1_loss", "binary_cross_entropy", "nll_loss", "pinball_loss"]
API_INIT = ["uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
            "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "calculate_gain",
            "trunc_normal_", "orthogonal_"]
API_UTILS = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def test_public_names_exist():
    for name in API_NN:
        assert hasattr(nn, name), name
    for name in API_F:
        assert callable(getattr(F, name)), name
    for name in API_INIT:
        assert callable(getattr(nn.init, name)), name
    for name in API_UTILS:
        assert callable(getattr(nn.utils, name)), name
    assert nn.functional is F
    assert set(F.__all__) >= set(API_F) and set(nn.__all__) >= set(API_NN)


def test_layer_classes_are_modules_and_torch_named():
    torch = pytest.importorskip("torch")
    for name in API_NN:
        if name not in ("Parameter", "Module"):
            assert issubclass(getattr(nn, name), nn.Module), name
        if name != "PinballLoss":  # ours alone
            assert hasattr(torch.nn, name), name
    for name in API_F:
        if name != "pinball_loss":
            assert hasattr(torch.nn.functional, name), name


# ---- one table: (name, the call given a functional namespace, input shapes) ---------------------
def _w(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


CASES = [
    ("linear", lambda F, x, w, b: F.linear(x, w, b), [(4, 3), (2, 3), (2,)]),
    ("linear_nd", lambda F, x, w, b: F.linear(x, w, b), [(2, 3, 3), (5, 3), (5,)]),
    ("linear_1d", lambda F, x, w: F.linear(x, w), [(3,), (2, 3)]),
    ("relu", lambda F, x: F.relu(x), [(3, 4)]),
    ("leaky_relu", lambda F, x: F.leaky_relu(x, 0.3), [(3, 4)]),
    ("gelu", lambda F, x: F.gelu(x), [(3, 4)]),
    ("gelu_tanh", lambda F, x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    ("sigmoid", lambda F, x: F.sigmoid(x), [(3, 4)]),
    ("tanh", lambda F, x: F.tanh(x), [(3, 4)]),
    ("softmax", lambda F, x: F.softmax(x, dim=-1), [(3, 4)]),
    ("log_softmax", lambda F, x: F.log_softmax(x, dim=0), [(3, 4)]),
    ("elu", lambda F, x: F.elu(x, alpha=1.3), [(3, 4)]),
    ("silu", lambda F, x: F.silu(x), [(3, 4)]),
    ("softplus", lambda F, x: F.softplus(x, beta=1.5, threshold=2.0), [(3, 4)]),
    ("layer_norm", lambda F, x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    ("layer_norm_2d", lambda F, x, w, b: F.layer_norm(x, (2, 3), w, b),
     [(2, 2, 3), (2, 3), (2, 3)]),
    ("batch_norm", lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     [(5, 3), (3,), (3,)]),
    ("batch_norm_3d", lambda F, x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 1e-3),
     [(2, 3, 4), (3,), (3,)]),
]
CASE_IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name, call, shapes", CASES, ids=CASE_IDS)
def test_functional_matches_torch(name, call, shapes):
    torch = pytest.importorskip("torch")
    arrays = [_w(s, i).astype(np.float32) for i, s in enumerate(shapes)]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = call(F, *ours), call(torch.nn.functional, *theirs)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    gy = _w(y.shape, 99).astype(np.float32)
    y.backward(cr.tensor(gy))
    ty.backward(torch.tensor(gy))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=f"input {i}")


@pytest.mark.parametrize("name, call, shapes", CASES, ids=CASE_IDS)
def test_functional_gradcheck(name, call, shapes):
    xs = [cr.tensor(_w(s, i) + 0.01, dtype=cr.float64, requires_grad=True)
          for i, s in enumerate(shapes)]
    fn = lambda *a: call(F, *a)  # noqa: E731
    assert gradcheck(fn, xs)
    assert gradgradcheck(fn, xs)


# ---- specifics -------------------------------------------------------------------------------
def test_linear_errors_and_no_bias():
    w = cr.randn(2, 3)
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 5\) does not fit weight "
                                         r"of shape \(2, 3\)"):
        F.linear(cr.randn(4, 5), w)
    with pytest.raises(ValueError, match="bias of shape"):
        F.linear(cr.randn(4, 3), w, cr.zeros(3))
    with pytest.raises(TypeError, match="does not match weight dtype"):
        F.linear(cr.randn(4, 3, dtype=cr.float64), w)
    y = F.linear(cr.ones(1, 3), cr.ones(2, 3))
    assert y.tolist() == [[3.0, 3.0]]


def test_linear_backward_records_nothing_without_create_graph():
    x = cr.randn(4, 3, requires_grad=True)
    fc = nn.Linear(3, 2)
    fc(x).sum().backward()
    assert x.grad.grad_fn is None and fc.weight.grad.grad_fn is None
    assert not x.grad.requires_grad


def test_batch_norm_functional_updates_running_stats_like_torch():
    torch = pytest.importorskip("torch")
    xn = (_w((6, 3), 0) * 2 + 1).astype(np.float32)
    rm, rv = cr.zeros(3), cr.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    v = rm._version
    F.batch_norm(cr.tensor(xn), rm, rv, training=True, momentum=0.2)
    torch.nn.functional.batch_norm(torch.tensor(xn), trm, trv, training=True, momentum=0.2)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), rtol=1e-6)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-6)
    assert rm._version == v + 1
    y = F.batch_norm(cr.tensor(xn), rm, rv)
    ty = torch.nn.functional.batch_norm(torch.tensor(xn), trm, trv)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_functional_errors():
    with pytest.raises(ValueError, match=r"running_mean should have shape \(3,\)"):
        F.batch_norm(cr.zeros(4, 3), cr.zeros(2), cr.ones(3))
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        F.batch_norm(cr.zeros(4, 3), None, None)


def test_embedding_functional_matches_torch():
    torch = pytest.importorskip("torch")
    wn = _w((5, 2), 0).astype(np.float32)
    idx = np.array([[4, 0], [1, 1]])
    y = F.embedding(cr.tensor(idx), cr.tensor(wn))
    ty = torch.nn.functional.embedding(torch.tensor(idx), torch.tensor(wn))
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_loss_functions_are_reexported():
    x = cr.tensor([[0.5, -1.0]], requires_grad=True)
    t = cr.tensor([[1.0, 0.0]])
    assert F.mse_loss(x, t).shape == ()
    assert F.cross_entropy(x, cr.tensor([1])).shape == ()
    assert nn.MSELoss()(x, t).item() == pytest.approx(F.mse_loss(x, t).item())


def _nn_modules():
    names = ["chainrule.nn"]
    for pkg in ("chainrule.nn.modules", "chainrule.nn.functional", "chainrule.nn.utils"):
        mod = importlib.import_module(pkg)
        names.append(pkg)
        names += [f"{pkg}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)
                  if not m.name.startswith("loss")]          # the losses are tested with them
    return names + ["chainrule.nn.init"]


@pytest.mark.parametrize("name", _nn_modules())
def test_docstring_examples_run(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, extraglobs={"cr": cr, "nn": nn, "F": F, "math": math},
                          optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
