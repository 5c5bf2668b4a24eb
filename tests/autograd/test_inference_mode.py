"""``cr.inference_mode``: the tensors made inside are inference tensors, with PyTorch's rules
(each checked against torch 2.13 where it is installed)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import AutogradError

SAVED = "Inference tensors cannot be saved for backward"
INPLACE = "Inplace update to inference tensor outside InferenceMode is not allowed"


def _libs():
    torch = pytest.importorskip("torch")
    return (cr, torch)


def test_tensors_made_inside_are_inference_tensors():
    for lib in _libs():
        normal = lib.ones(3)
        w = lib.ones(3, requires_grad=True)
        with lib.inference_mode():
            made, computed, from_grad = lib.ones(3), normal * 2, w * 2
            view_of_normal = normal[:2]
            assert lib.tensor([1.0]).is_inference()
        assert made.is_inference() and computed.is_inference() and from_grad.is_inference()
        assert not from_grad.requires_grad
        assert not view_of_normal.is_inference() and not normal.is_inference()
        assert not lib.ones(3).is_inference() and not (made * 2).is_inference()
        assert made[:1].is_inference() and made.detach().is_inference()
        assert not made.clone().is_inference()
        with lib.no_grad():
            assert not lib.ones(2).is_inference()
        with lib.inference_mode(), lib.inference_mode(False):
            assert not lib.ones(2).is_inference()


def test_inference_tensor_cannot_be_saved_for_backward():
    """Read by an op that records autograd: fine when the op saves nothing of it (add), an error
    naming the rule when it is saved (mul, exp, linear), as PyTorch."""
    for lib in _libs():
        w = lib.ones(3, dtype=lib.float64, requires_grad=True)
        with lib.inference_mode():
            x = lib.ones(3, dtype=lib.float64) * 2
        y = w + x
        assert y.requires_grad and not y.is_inference()
        y.sum().backward()
        w2 = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
        for fn in (lambda: w * x, lambda: lib.exp(w) * x, lambda: lib.nn.functional.linear(x, w2)):
            with pytest.raises(RuntimeError, match=SAVED):
                fn()
        assert (x * 2).tolist() == [4.0, 4.0, 4.0]          # no graph: any op may read it
        with lib.no_grad():
            assert (w * x).tolist() == [2.0, 2.0, 2.0]
        (w * x.clone()).sum().backward()                    # a clone is a normal tensor


def test_inplace_on_inference_tensor_only_inside_inference_mode():
    for lib in _libs():
        with lib.inference_mode():
            x = lib.zeros(3)
            x.add_(1)                                      # allowed inside
            x[0] = 5.0
        for fn in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.fill_(0),
                   lambda: x.__setitem__(0, 1.0), lambda: x.copy_(lib.ones(3)),
                   lambda: x[:2].add_(1)):
            with pytest.raises(RuntimeError, match=INPLACE):
                fn()
        if lib is cr:       # refused before writing (PyTorch writes, then raises)
            assert x.tolist() == [5.0, 1.0, 1.0]
        normal = lib.zeros(3)
        normal.add_(lib.ones(3) * 0 + x.clone())           # a normal tensor may read one
        with lib.inference_mode():
            normal.add_(1)                                 # and change inside: stays normal
        assert not normal.is_inference() and normal.tolist() == (x + 1).tolist()


def test_requires_grad_on_inference_tensor():
    for lib in _libs():
        with lib.inference_mode():
            x = lib.ones(2)
            inside = lib.ones(2).requires_grad_()
        assert inside.requires_grad and inside.is_inference()
        with pytest.raises(RuntimeError, match="Setting requires_grad=True on inference tensor "
                                               "outside InferenceMode is not allowed"):
            x.requires_grad_()


def test_errors_are_the_library_type():
    with cr.inference_mode():
        x = cr.ones(2)
    with pytest.raises(AutogradError):
        x.add_(1)
    with pytest.raises(AutogradError):
        x * cr.ones(2, requires_grad=True)


def test_module_forward_in_inference_mode_then_training():
    """The everyday pattern: evaluate under inference_mode, then train the same model."""
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 1))
    x = cr.randn(5, 4)
    with cr.inference_mode():
        pred = model(x)
    assert pred.is_inference() and not model[0].weight.is_inference()
    loss = ((model(x) - pred.clone()) ** 2).mean()
    loss.backward()
    assert model[0].weight.grad is not None
    np.testing.assert_allclose(model(x).detach().numpy(), pred.numpy())


def test_inference_mode_is_per_thread_and_closes_on_error():
    import threading

    from chainrule import grad_mode
    inside, made = threading.Event(), {}

    def other():
        inside.wait(5)
        made["t"] = cr.ones(2) * 2          # another thread, outside inference mode
    th = threading.Thread(target=other)
    th.start()
    with cr.inference_mode():
        inside.set()
        th.join(5)
        assert cr.ones(1).is_inference()
    assert not made["t"].is_inference()
    with pytest.raises(ZeroDivisionError), cr.inference_mode():
        1 / 0
    assert grad_mode.inference_active == 0 and not cr.is_inference_mode_enabled()
    assert not cr.ones(1).is_inference()
