"""Embedding: lookup, accumulated gradients, the padding row, max_norm (against torch)."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck


def test_init_is_standard_normal_with_zero_padding_row():
    cr.manual_seed(0)
    emb = nn.Embedding(2000, 50, padding_idx=3)
    w = emb.weight._data
    assert emb.weight.shape == (2000, 50) and emb.weight.dtype == cr.float32
    assert not w[3].any()
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.01 and abs(rest.std() - 1) < 0.01


def test_negative_padding_idx_wraps():
    emb = nn.Embedding(10, 3, padding_idx=-1)
    assert emb.padding_idx == 9 and not emb.weight._data[9].any()
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        nn.Embedding(10, 3, padding_idx=10)


@pytest.mark.parametrize("padding_idx", [None, 0, 2])
def test_matches_torch_with_repeated_indices(padding_idx):
    torch = pytest.importorskip("torch")
    ours = nn.Embedding(6, 4, padding_idx=padding_idx)
    theirs = torch.nn.Embedding(6, 4, padding_idx=padding_idx)
    theirs.load_state_dict({"weight": torch.from_numpy(ours.weight._data.copy())})
    idx = np.array([[0, 2, 2, 5], [1, 0, 2, 3]])
    y, ty = ours(cr.tensor(idx)), theirs(torch.tensor(idx))
    assert y.shape == (2, 4, 4)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    gy = np.random.default_rng(0).standard_normal(y.shape).astype(np.float32)
    y.backward(cr.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-6,
                               atol=1e-6)
    if padding_idx is not None:
        assert not ours.weight.grad.numpy()[padding_idx].any()


def test_gradcheck_and_gradgradcheck():
    w = cr.randn(5, 3, dtype=cr.float64, requires_grad=True)
    idx = cr.tensor([[1, 4, 1], [0, 0, 2]])
    assert gradcheck(lambda w: F.embedding(idx, w), (w,))
    # with a padding row the gradient deliberately ignores that row: check the other rows
    assert gradcheck(lambda w: F.embedding(cr.tensor([1, 4, 1, 2]), w, padding_idx=0), (w,))
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))


def test_max_norm_matches_torch():
    torch = pytest.importorskip("torch")
    wn = (np.random.default_rng(1).standard_normal((5, 3)) * 3).astype(np.float32)
    ours = nn.Embedding(5, 3, max_norm=1.0, _weight=cr.tensor(wn.copy()))
    theirs = torch.nn.Embedding(5, 3, max_norm=1.0, _weight=torch.tensor(wn.copy()))
    idx = np.array([0, 1, 1, 3])
    np.testing.assert_allclose(ours(cr.tensor(idx)).detach().numpy(),
                               theirs(torch.tensor(idx)).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.weight._data, theirs.weight.detach().numpy(), rtol=1e-6)


def test_from_pretrained_and_freeze():
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    assert emb(cr.tensor([1])).tolist() == [[3.0, 4.0]]
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    with pytest.raises(ValueError, match="2-D"):
        nn.Embedding.from_pretrained(cr.zeros(3))


def test_errors():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match="index 12 is out of range for 10 embeddings"):
        emb(cr.tensor([1, 12]))
    with pytest.raises(IndexError, match="index -1 is out of range"):
        emb(cr.tensor([-1]))
    with pytest.raises(TypeError, match="integer tensor of indices"):
        emb(cr.tensor([1.0]))
    with pytest.raises(ValueError, match="embedding_dim must be a positive int"):
        nn.Embedding(3, 0)


def test_repr_and_state_dict_match_torch():
    torch = pytest.importorskip("torch")
    assert repr(nn.Embedding(10, 3, padding_idx=0, max_norm=2.0)) == \
        repr(torch.nn.Embedding(10, 3, padding_idx=0, max_norm=2.0))
    assert list(nn.Embedding(4, 2).state_dict()) == list(torch.nn.Embedding(4, 2).state_dict())


def test_embedding_trains():
    emb = nn.Embedding(4, 2)
    idx = cr.tensor([0, 1, 2, 3])
    target = cr.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    for _ in range(100):
        emb.zero_grad()
        loss = ((emb(idx) - target) ** 2).sum()
        loss.backward()
        with cr.no_grad():
            emb.weight -= 0.1 * emb.weight.grad
    np.testing.assert_allclose(emb.weight._data, target.numpy(), atol=1e-4)
