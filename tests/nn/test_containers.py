"""Sequential, ModuleList and ModuleDict: list and dict behaviour, registration, repr (against torch)."""
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def _names(m):
    return [n for n, _ in m.named_parameters()]


# ---- Sequential ------------------------------------------------------------------------------
def test_sequential_forward_chains():
    a, b = nn.Linear(3, 4), nn.Linear(4, 2)
    seq = nn.Sequential(a, nn.ReLU(), b)
    x = cr.randn(5, 3)
    np.testing.assert_allclose(seq(x).detach().numpy(), b(a(x).relu()).detach().numpy(),
                               rtol=1e-6)
    assert nn.Sequential()(x) is x


def test_sequential_ordereddict_names():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.Tanh()),
                                     ("out", nn.Linear(3, 1))]))
    assert _names(seq) == ["fc.weight", "fc.bias", "out.weight", "out.bias"]
    assert seq.fc is seq[0] and seq.out is seq[-1]
    assert list(seq[1:]._modules) == ["act", "out"]


def test_sequential_indexing_slicing_len_iter():
    mods = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.Sigmoid()]
    seq = nn.Sequential(*mods)
    assert len(seq) == 4
    assert seq[0] is mods[0] and seq[-1] is mods[-1]
    assert list(seq) == mods
    sub = seq[1:3]
    assert isinstance(sub, nn.Sequential) and list(sub) == mods[1:3]
    assert list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="index 4 is out of range"):
        seq[4]
    with pytest.raises(IndexError):
        seq[-5]


def test_sequential_mutation_renumbers_as_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3), nn.Tanh())
    theirs = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.ReLU(), torch.nn.Linear(2, 3),
                                 torch.nn.Tanh())
    for seq, lib in ((ours, nn), (theirs, torch.nn)):
        del seq[1]
        seq.append(lib.Sigmoid())
        seq.insert(1, lib.Linear(2, 2))
        seq[0] = lib.Linear(1, 2)
        seq.pop(-1)
        seq.extend([lib.ReLU()])
        del seq[0:1]
    assert repr(ours) == repr(theirs)
    assert _names(ours) == [n for n, _ in theirs.named_parameters()]


def test_sequential_add_and_iadd():
    a = nn.Sequential(nn.Linear(1, 1))
    b = nn.Sequential(nn.ReLU(), nn.Linear(1, 1))
    c = a + b
    assert len(c) == 3 and len(a) == 1
    a += b
    assert len(a) == 3 and list(a._modules) == ["0", "1", "2"]
    with pytest.raises(ValueError, match="only objects of Sequential"):
        a + [nn.ReLU()]
    with pytest.raises(TypeError, match="expected a Module"):
        a.insert(0, "relu")


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="is not a Module subclass"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_sequential_gradients_flow():
    seq = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    seq(cr.randn(6, 3)).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in seq.parameters())


# ---- ModuleList ------------------------------------------------------------------------------
def test_modulelist_registers_and_indexes():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    assert _names(layers)[:2] == ["0.weight", "0.bias"]
    assert layers[-1] is layers[2]
    assert isinstance(layers[:2], nn.ModuleList) and len(layers[:2]) == 2
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in layers] == ["Sigmoid", "Linear", "Linear", "Linear", "ReLU",
                                                  "Tanh"]
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(5)]
    assert isinstance(layers.pop(-1), nn.Tanh)
    layers[0] = nn.Identity()
    assert isinstance(layers[0], nn.Identity)
    layers += [nn.ReLU()]
    assert len(layers) == 5
    with pytest.raises(IndexError):
        layers[9]
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(3)


def test_modulelist_in_a_module_exposes_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

        def forward(self, x):
            for b in self.blocks:
                x = b(x)
            return x

    net = Net()
    assert _names(net) == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]
    with pytest.raises(NotImplementedError):
        net.blocks(cr.zeros(1, 2))


def test_modulelist_repr_compresses_repeats_as_torch():
    torch = pytest.importorskip("torch")
    ours = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(),
                          nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.ReLU()])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2),
                                  torch.nn.Linear(2, 2), torch.nn.ReLU(),
                                  torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU()),
                                  torch.nn.ReLU()])
    assert repr(ours) == repr(theirs)
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


# ---- ModuleDict ------------------------------------------------------------------------------
def test_moduledict_behaves_like_a_dict():
    d = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.ReLU()})
    assert list(d) == ["a", "b"] and len(d) == 2 and "a" in d
    d["c"] = nn.Tanh()
    d.update([("e", nn.Sigmoid())])
    d.update(OrderedDict(f=nn.Identity()))
    assert list(d.keys()) == ["a", "b", "c", "e", "f"]
    assert isinstance(d.pop("b"), nn.ReLU)
    assert [k for k, _ in d.items()] == ["a", "c", "e", "f"]
    assert len(list(d.values())) == 4
    assert _names(d) == ["a.weight", "a.bias"]
    del d["a"]
    assert "a" not in d
    d.clear()
    assert len(d) == 0
    with pytest.raises(ValueError, match="pair"):
        d.update([("x", nn.ReLU(), 3)])
    with pytest.raises(TypeError, match="iterable"):
        d.update(5)


def test_moduledict_repr_matches_torch():
    torch = pytest.importorskip("torch")
    ours = nn.ModuleDict({"enc": nn.Linear(3, 2), "act": nn.ReLU()})
    theirs = torch.nn.ModuleDict({"enc": torch.nn.Linear(3, 2), "act": torch.nn.ReLU()})
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
