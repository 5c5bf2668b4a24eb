"""``x.data`` as in PyTorch: a tensor sharing x's memory, outside the graph, whose in-place changes
autograd does not see; ``x.data = t`` makes x use t's memory."""
import copy
import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule.backend.cuda import use_standin


def test_data_is_a_plain_tensor_outside_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    for t in (x, y):
        d = t.data
        assert type(d) is cr.Tensor and d.grad_fn is None and d.is_leaf
        assert d.requires_grad is False and d.grad is None
        assert d.tolist() == t.tolist() and d.shape == t.shape and d.dtype == t.dtype
    assert x.data is not x.data                      # a new tensor each time, as torch
    p = cr.nn.Parameter(cr.ones(3))
    assert type(p.data) is cr.Tensor and not p.data.requires_grad   # not a Parameter


def test_data_shares_memory_both_ways():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.data
    d.add_(1)                                        # no no_grad needed: d needs no grad
    assert x.tolist() == [2.0, 3.0, 4.0] and x.requires_grad
    with cr.no_grad():
        x.mul_(2)
    assert d.tolist() == [4.0, 6.0, 8.0]
    assert np.shares_memory(x.data.numpy(), x.detach().numpy())
    x.data[0] = -1.0                                 # setitem through .data
    assert x[0].item() == -1.0


def test_changes_through_data_are_not_seen_by_the_version_counter():
    x = cr.ones(3, requires_grad=True)
    v = x._version
    x.data.add_(1)
    x.data.mul_(2)
    assert x._version == v                           # torch: .data has its own version counter
    x.detach().add_(1)
    assert x._version == v + 1                       # detach() shares it: the checked way
    a = cr.ones(3, requires_grad=True)
    b = a.exp()
    b.data.mul_(2)                                   # a saved output changed behind autograd's back
    b.sum().backward()                               # no error, as torch; the rule uses the new y
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.e * np.ones(3), rtol=1e-6)
    c = cr.ones(3, requires_grad=True)
    e = c.exp()
    e.detach().mul_(2)                               # the same through detach() is caught
    with pytest.raises(RuntimeError, match="modified by an inplace operation|in-?place"):
        e.sum().backward()


def test_manual_sgd_with_data_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    W0, X = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((5, 4)).astype(np.float32)
    w, tw = cr.tensor(W0, requires_grad=True), torch.tensor(W0, requires_grad=True)
    x, tx = cr.tensor(X), torch.tensor(X)
    for _ in range(3):
        (x @ w.T).tanh().pow(2).sum().backward()
        (tx @ tw.T).tanh().pow(2).sum().backward()
        w.data -= 0.1 * w.grad                       # the classic loop, no no_grad
        tw.data -= 0.1 * tw.grad
        w.grad.zero_()
        tw.grad.zero_()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert w.is_leaf and w.requires_grad and w._version == tw._version == 0


def test_module_habits_through_data():
    torch = pytest.importorskip("torch")
    lin, tlin = cr.nn.Linear(4, 2), torch.nn.Linear(4, 2)
    tlin.weight.data.copy_(torch.from_numpy(lin.weight.data.numpy()))   # ours into theirs
    lin.bias.data.copy_(cr.tensor(tlin.bias.data.numpy()))               # theirs into ours
    np.testing.assert_array_equal(lin.weight.detach().numpy(), tlin.weight.detach().numpy())
    np.testing.assert_array_equal(lin.bias.detach().numpy(), tlin.bias.detach().numpy())
    cr.nn.init.normal_(lin.weight.data, 0, 0.02)     # model.weight.data initialised in place
    assert 0 < float(lin.weight.detach().std()) < 0.1
    lin.weight.data.zero_()
    lin.bias.data.fill_(0.5)
    out = lin(cr.ones(1, 4))
    assert out.tolist() == [[0.5, 0.5]]
    out.sum().backward()                             # the graph still works afterwards
    assert lin.weight.grad.tolist() == [[1.0] * 4] * 2
    other = cr.nn.Linear(4, 2)
    for p, q in zip(other.parameters(), lin.parameters()):
        p.data.copy_(q.data)                         # p.data.copy_(q.data)
    assert other.bias.tolist() == [0.5, 0.5] and other.weight.abs().sum().item() == 0


def test_assigning_data_replaces_the_memory():
    x = cr.ones(3, requires_grad=True)
    v = x._version
    t = cr.zeros(2, 2)
    x.data = t                                       # shape may change, as torch
    assert x.shape == (2, 2) and x.requires_grad and x.is_leaf and x._version == v
    t.add_(5)
    assert x.tolist() == [[5.0, 5.0], [5.0, 5.0]]    # x now uses t's memory
    x.data = cr.zeros(2, dtype=cr.float64)           # so may the dtype (a float one)
    assert x.dtype == cr.float64
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0] and x.grad.dtype == cr.float64
    y = cr.ones(2, requires_grad=True) * 2           # a non-leaf's data can be assigned too
    y.data = cr.full((2,), 7.0)
    assert y.tolist() == [7.0, 7.0] and y.grad_fn is not None
    z = cr.ones(2)
    z.data = cr.arange(3)                            # no grad: any dtype
    assert z.dtype == cr.int64 and z.tolist() == [0, 1, 2]


def test_assigning_data_rejects_what_torch_rejects():
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match="has to be a tensor, but got ndarray"):
        x.data = np.zeros(3)
    with pytest.raises(TypeError, match="has to be a tensor, but got list"):
        x.data = [1.0, 2.0]
    with pytest.raises(RuntimeError, match="must be floating point"):
        x.data = cr.arange(3)
    assert x.tolist() == [1.0, 1.0, 1.0] and x.dtype == cr.float32   # unchanged on error


def test_data_of_a_view_writes_into_the_base_and_is_not_a_view():
    base = cr.arange(6.0).reshape(2, 3)
    row = base[0]
    d = row.data
    assert d._view_of is None                        # torch: x.data is not a view for autograd
    d.fill_(7.0)
    assert base.tolist() == [[7.0, 7.0, 7.0], [3.0, 4.0, 5.0]]


def test_data_stays_on_the_device():
    with use_standin():
        x = cr.ones(3, requires_grad=True).cuda()
        d = x.data
        assert d.is_cuda and d.device == x.device and not d.requires_grad
        d.add_(1)
        assert x.cpu().tolist() == [2.0, 2.0, 2.0]


def test_parameters_copy_and_pickle_after_the_rename():
    p = cr.nn.Parameter(cr.tensor([1.0, 2.0]))
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(q) is cr.nn.Parameter and q.requires_grad and q.tolist() == [1.0, 2.0]
        q.data.add_(1)
        assert p.tolist() == [1.0, 2.0]              # a copy has its own memory
    assert cr.nn.Parameter(p.data).tolist() == [1.0, 2.0]
    shared = cr.nn.Parameter(p.data)                 # Parameter(t) shares t's memory, as torch
    shared.data.mul_(10)
    assert p.tolist() == [10.0, 20.0]


@pytest.mark.parametrize("foreach", [None, False])
def test_an_optimizer_follows_data_assigned_between_steps(foreach):
    torch = pytest.importorskip("torch")
    w, tw = cr.ones(2, 3, requires_grad=True), torch.ones(2, 3, requires_grad=True)
    b, tb = cr.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    opt = cr.optim.SGD([w, b], lr=0.1, momentum=0.9, foreach=foreach)
    topt = torch.optim.SGD([tw, tb], lr=0.1, momentum=0.9)
    x, tx = cr.ones(4, 2), torch.ones(4, 2)
    for step in range(3):
        if step == 1:
            w.data = cr.full((2, 3), 2.0)            # a new array: the optimiser must follow it
            tw.data = torch.full((2, 3), 2.0)
        opt.zero_grad()
        topt.zero_grad()
        ((x @ w + b) ** 2).sum().backward()
        ((tx @ tw + tb) ** 2).sum().backward()
        opt.step()
        topt.step()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), tb.detach().numpy(), rtol=1e-6)
