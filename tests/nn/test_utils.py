"""nn.utils: gradient clipping and parameter vectors (against torch)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils import (clip_grad_norm_, clip_grad_value_, get_total_norm,
                                parameters_to_vector, vector_to_parameters)


def _pair(torch, scale=1.0):
    """A chainrule and a torch parameter list holding the same gradients."""
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    ours, theirs = [], []
    for s in shapes:
        w, g = rng.standard_normal(s).astype(np.float32), \
            (rng.standard_normal(s) * scale).astype(np.float32)
        p = nn.Parameter(cr.tensor(w))
        p.grad = cr.tensor(g)
        tp = torch.nn.Parameter(torch.tensor(w))
        tp.grad = torch.tensor(g)
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1, float("inf"), 3.0, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, cr.Tensor) and total.shape == () and total.dtype == cr.float32
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-6)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_formula():
    p = nn.Parameter(cr.zeros(2))
    p.grad = cr.tensor([3.0, 4.0])
    v = p.grad._version
    total = clip_grad_norm_(p, 1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=1e-6)
    assert p.grad._version == v + 1


def test_clip_grad_norm_skips_missing_grads_and_empty():
    a, b = nn.Parameter(cr.ones(2)), nn.Parameter(cr.ones(2))
    a.grad = cr.tensor([0.0, 2.0])
    assert clip_grad_norm_([a, b], 10).item() == pytest.approx(2.0)
    assert clip_grad_norm_([b], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(cr.zeros(2))
    p.grad = cr.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert not np.isfinite(clip_grad_norm_([p], 1.0).item())


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(torch, scale=3.0)
    assert clip_grad_value_(ours, 1.5) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, tp in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


def test_get_total_norm():
    assert get_total_norm([cr.tensor([3.0]), cr.tensor([4.0])]).item() == pytest.approx(5.0)
    assert get_total_norm(cr.tensor([-7.0, 2.0]), norm_type="inf").item() == 7.0


def test_parameters_to_vector_and_back_match_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    vec = parameters_to_vector(ours.parameters())
    tvec = torch.nn.utils.parameters_to_vector(theirs.parameters())
    assert vec.shape == (26,)
    np.testing.assert_array_equal(vec.detach().numpy(), tvec.detach().numpy())
    new = np.arange(26, dtype=np.float32)
    ids = [id(p) for p in ours.parameters()]
    vector_to_parameters(cr.tensor(new), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs.parameters())
    assert [id(p) for p in ours.parameters()] == ids
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.data, tp.detach().numpy())


def test_parameters_to_vector_is_differentiable():
    fc = nn.Linear(2, 2)
    (parameters_to_vector(fc.parameters()) ** 2).sum().backward()
    np.testing.assert_allclose(fc.weight.grad.numpy(), 2 * fc.weight.data, rtol=1e-6)


def test_vector_to_parameters_errors():
    fc = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="expected cr.Tensor"):
        vector_to_parameters(np.zeros(6), fc.parameters())
    with pytest.raises(ValueError, match="1-D vector of 6 values"):
        vector_to_parameters(cr.zeros(5), fc.parameters())
