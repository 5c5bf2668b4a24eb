"""Dropout: inverted scaling in training, identity in eval, the mask reused by backward."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck


def test_training_zeros_and_scales():
    cr.manual_seed(0)
    x = cr.ones(200, 500)
    y = nn.Dropout(p=0.2)(x).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.8, rtol=1e-6)
    assert abs(kept.mean() - 0.8) < 0.005
    assert abs(y.mean() - 1.0) < 0.01          # the expectation is unchanged


def test_eval_is_identity():
    d = nn.Dropout(0.5).eval()
    x = cr.randn(4, 4)
    assert d(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_train_eval_switch():
    d = nn.Dropout(0.9)
    x = cr.ones(1000)
    assert (d(x).numpy() == 0).mean() > 0.8
    d.eval()
    assert (d(x).numpy() == 1).all()
    d.train()
    assert (d(x).numpy() == 0).mean() > 0.8


def test_p_one_gives_zeros_and_zero_gradient():
    x = cr.ones(5, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert y.tolist() == [0.0] * 5
    y.sum().backward()
    assert x.grad.tolist() == [0.0] * 5


def test_backward_uses_the_same_mask():
    x = cr.randn(50, 20, requires_grad=True)
    y = F.dropout(x, 0.3)
    y.sum().backward()
    mask = (y.detach().numpy() != 0)
    np.testing.assert_allclose(x.grad.numpy(), np.where(mask, 1 / 0.7, 0.0), rtol=1e-6)


def test_gradcheck_with_fixed_generator():
    x = cr.randn(4, 5, dtype=cr.float64, requires_grad=True)

    def f(x):  # the same mask on every call: a fresh generator with a fixed seed
        return F.dropout(x, 0.4, generator=cr.Generator().manual_seed(7))

    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


def test_generator_reproducible_and_dtype_kept():
    x = cr.ones(30, dtype=cr.float64)
    a = F.dropout(x, 0.5, generator=cr.Generator().manual_seed(1))
    b = F.dropout(x, 0.5, generator=cr.Generator().manual_seed(1))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == cr.float64
    cr.manual_seed(3)
    c = F.dropout(x, 0.5)
    cr.manual_seed(3)
    np.testing.assert_array_equal(c.numpy(), F.dropout(x, 0.5).numpy())


def test_p_validation():
    for p in (-0.1, 1.5, "half", None):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, "
                                             "but got"):
            nn.Dropout(p)
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(cr.ones(2), p)
    with pytest.raises(TypeError, match="floating-point"):
        F.dropout(cr.tensor([1, 2]), 0.5)


def test_statistics_match_torch():
    torch = pytest.importorskip("torch")
    x = np.ones((400, 400), np.float32)
    ours = F.dropout(cr.tensor(x), 0.3).numpy()
    theirs = torch.nn.functional.dropout(torch.tensor(x), 0.3).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs))
    assert abs((ours == 0).mean() - (theirs == 0).mean()) < 0.01


def test_repr():
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"
