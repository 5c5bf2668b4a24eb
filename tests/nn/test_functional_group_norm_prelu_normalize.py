"""F.group_norm, F.prelu and F.normalize: PyTorch's functional ops (values and gradients against
torch), gradcheck in float64, and their argument checks."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd.gradcheck import gradcheck

RNG = np.random.default_rng(0)


def t64(a, grad=True):
    return cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


@pytest.mark.parametrize("shape, groups", [((3, 6, 5), 3), ((2, 4), 2), ((2, 6, 2, 3), 6),
                                           ((2, 4, 3), 1)])
def test_group_norm_against_torch(shape, groups):
    torch = pytest.importorskip("torch")
    x, w, b = RNG.normal(size=shape), RNG.normal(size=shape[1]), RNG.normal(size=shape[1])
    ours = [t64(x), t64(w), t64(b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.group_norm(ours[0], groups, ours[1], ours[2], eps=1e-5)
    ref = torch.nn.functional.group_norm(theirs[0], groups, theirs[1], theirs[2], eps=1e-5)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = RNG.normal(size=shape)
    (y * cr.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    for a, b_ in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b_.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_group_norm_gradcheck_and_errors():
    x, w, b = t64(RNG.normal(size=(2, 4, 3))), t64(RNG.normal(size=4)), t64(RNG.normal(size=4))
    assert gradcheck(lambda a, c, d: F.group_norm(a, 2, c, d), (x, w, b))
    assert gradcheck(lambda a: F.group_norm(a, 4), (x,))
    with pytest.raises(ValueError, match=r"channels in input \(4\) to be divisible by "
                                         r"num_groups \(3\)"):
        F.group_norm(x, 3)
    with pytest.raises(ValueError, match=r"weight should have shape \(4,\)"):
        F.group_norm(x, 2, t64(np.ones(3)))
    with pytest.raises(ValueError, match="num_groups must be a positive int"):
        F.group_norm(x, 0)


@pytest.mark.parametrize("shape, n_weights", [((4, 3), 3), ((4, 3), 1), ((2, 3, 5), 3),
                                              ((5,), 1)])
def test_prelu_against_torch(shape, n_weights):
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=shape)
    x.flat[0] = 0.0                                   # the kink: PyTorch's gradient there
    w = RNG.uniform(0.05, 0.5, size=n_weights)
    xo, wo = t64(x), t64(w)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y, ref = F.prelu(xo, wo), torch.nn.functional.prelu(xt, wt)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    g = RNG.normal(size=shape)
    (y * cr.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(wo.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_prelu_gradcheck_and_errors():
    x = t64(RNG.normal(size=(3, 4)) + 0.1)
    assert gradcheck(F.prelu, (x, t64(RNG.uniform(0.1, 0.3, size=4))))
    with pytest.raises(ValueError, match="mismatch of parameter numbers and input channel size"):
        F.prelu(x, t64(np.ones(3)))
    with pytest.raises(TypeError, match="floating-point"):
        F.prelu(cr.tensor([1, 2]), t64([0.1]))


@pytest.mark.parametrize("p, dim", [(2.0, 1), (2.0, -1), (1.0, 0), (3.0, 1),
                                    (float("inf"), 1)])
def test_normalize_against_torch(p, dim):
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=(4, 5))
    x[1] = 0.0                                        # a zero slice: finite, as PyTorch
    xo, xt = t64(x), torch.tensor(x, requires_grad=True)
    y, ref = F.normalize(xo, p=p, dim=dim), torch.nn.functional.normalize(xt, p=p, dim=dim)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-15)
    g = RNG.normal(size=x.shape)
    (y * cr.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    if p == 2.0:
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert np.isfinite(xo.grad.numpy()).all()


def test_normalize_gradcheck_defaults_and_errors():
    x = t64(RNG.normal(size=(3, 4)))
    assert gradcheck(lambda a: F.normalize(a), (x,))
    assert gradcheck(lambda a: F.normalize(a, p=3.0, dim=(0, 1)), (x,))
    np.testing.assert_allclose(F.normalize(cr.tensor([[3.0, 4.0]])).numpy(), [[0.6, 0.8]])
    with pytest.raises(ValueError, match="p must be a positive number"):
        F.normalize(x, p=0)
