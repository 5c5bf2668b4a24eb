"""``cr.autograd.gradcheck``: the checker itself."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, GradcheckError, gradcheck, gradgradcheck


def leaf(values):
    return cr.tensor(values, dtype=cr.float64, requires_grad=True)


class WrongSin(Function):
    """sin with a deliberately wrong backward: 1.1·cos on element 2 only."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        scale = np.ones(x.shape)
        scale[2] = 1.1
        return gy * x.cos() * cr.tensor(scale)


class ConstantBackward(Function):
    """x² whose backward is right once but is not differentiable again (raw NumPy)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data ** 2

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * cr.tensor(2 * x.data)


def test_returns_true_for_correct_gradients():
    x, y = leaf([0.1, -0.5, 2.0]), leaf([[1.0, 2.0, 3.0]])
    assert gradcheck(lambda a, b: (a * b).exp(), (x, y)) is True
    assert gradcheck(lambda a: a.sin(), x) is True                       # a bare tensor
    assert gradgradcheck(lambda a, b: (a * b).exp(), (x, y)) is True


def test_names_the_worst_entry_of_a_wrong_backward():
    x = leaf([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(GradcheckError) as e:
        gradcheck(WrongSin.apply, (x,))
    msg = str(e.value)
    assert "output element 2, input element 2" in msg
    assert f"numerical {np.cos(0.3):.6g}"[:18] in msg
    assert "analytical" in msg and "input 0" in msg
    assert gradcheck(WrongSin.apply, (x,), raise_exception=False) is False


def test_tolerances_are_used():
    x = leaf([0.1, 0.2, 0.3])
    assert gradcheck(WrongSin.apply, (x,), atol=0.2, rtol=0.0)


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = leaf([0.5, 1.5])
    assert gradcheck(ConstantBackward.apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradgradcheck(ConstantBackward.apply, (x,))


def test_nan_gradient_is_reported_as_the_worst_entry():
    class NanGrad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x.data * y.data

        @staticmethod
        def backward(ctx, gy):
            return gy, gy * float("nan")

    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(NanGrad.apply, (leaf([1.0, 2.0]), leaf([3.0, 4.0])))


def test_several_outputs_and_non_differentiable_inputs():
    x = leaf([1.0, 2.0, 3.0])
    idx = cr.tensor([2, 0])
    assert gradcheck(lambda a, i: (a[i], a.sum() * 2), (x, idx))


def test_non_contiguous_inputs_are_perturbed_correctly():
    base = np.arange(12.0).reshape(3, 4) / 10
    x = cr.from_numpy(base.T).requires_grad_()      # a transposed (Fortran-ordered) array
    assert gradcheck(lambda a: (a * a).sum(1), (x,))


def test_float32_inputs_warn_and_no_input_raises():
    with pytest.warns(UserWarning, match="float64"):
        gradcheck(lambda a: a * 2, (cr.tensor([1.0], requires_grad=True),), eps=1e-2, atol=1e-2)
    with pytest.raises(ValueError, match="requires_grad=True"):
        gradcheck(lambda a: a * 2, (cr.tensor([1.0], dtype=cr.float64),))


def test_inputs_are_restored_after_checking():
    x = leaf([0.3, 0.7])
    before = x.detach().numpy().copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(lambda a: a.exp(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None
