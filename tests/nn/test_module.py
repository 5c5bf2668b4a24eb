"""Module: registration, traversal, modes, state dicts, conversion and printing (against torch)."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.scale = nn.Parameter(cr.ones(1))
        self.register_buffer("steps", cr.zeros(1))
        self.register_buffer("cache", cr.zeros(2), persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block()
        self.b = nn.Sequential(nn.ReLU(), nn.Linear(4, 2))

    def forward(self, x):
        return self.b(self.a(x))


def torch_net(torch):
    tnn = torch.nn

    class Block(tnn.Module):  # same class names as ours, so the reprs can be compared
        def __init__(self):
            super().__init__()
            self.fc = tnn.Linear(3, 4)
            self.bn = tnn.BatchNorm1d(4)
            self.scale = tnn.Parameter(torch.ones(1))
            self.register_buffer("steps", torch.zeros(1))
            self.register_buffer("cache", torch.zeros(2), persistent=False)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.a = Block()
            self.b = tnn.Sequential(tnn.ReLU(), tnn.Linear(4, 2))

    return Net()


# ---- registration ------------------------------------------------------------------------------
def test_setattr_registers_parameters_modules_and_plain_attributes():
    m = Block()
    assert list(m._parameters) == ["scale"]
    assert list(m._modules) == ["fc", "bn"]
    assert list(m._buffers) == ["steps", "cache"]
    m.note = "plain"
    assert m.__dict__["note"] == "plain"
    assert m.fc is m._modules["fc"] and m.scale is m._parameters["scale"]


def test_reassigning_a_parameter_name_requires_a_parameter_or_none():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'chainrule.tensor.Tensor' as parameter "
                                        "'weight'"):
        m.weight = cr.zeros(2, 2)
    m.bias = None
    assert m.bias is None and "bias" in m._parameters
    assert [n for n, _ in m.named_parameters()] == ["weight"]


def test_assigning_a_tensor_to_a_buffer_name_replaces_the_buffer():
    m = Block()
    m.steps = cr.ones(1)
    assert m._buffers["steps"].tolist() == [1.0]
    with pytest.raises(TypeError, match="as buffer 'steps'"):
        m.steps = 3


def test_assigning_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(cr.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_getattr_miss_names_the_class_and_suggests():
    m = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'weights'; did you "
                                             "mean 'weight'"):
        m.weights
    assert not hasattr(m, "nothing_here")


def test_delattr_unregisters():
    m = Block()
    del m.scale
    del m.steps
    del m.fc
    assert "scale" not in m._parameters and "steps" not in m._buffers and "fc" not in m._modules


def test_register_validation():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", cr.zeros(1))
    with pytest.raises(KeyError, match="empty"):
        m.register_parameter("", None)
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer"):
        m.register_buffer("x", [1])
    with pytest.raises(TypeError, match="parameter 'p'"):
        m.register_parameter("p", cr.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("c", 3)
    m.plain = 1
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", cr.zeros(1))
    p = nn.Parameter(cr.ones(1))
    p.grad_fn = (cr.ones(1, requires_grad=True) * 2).grad_fn
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("q", p)


def test_forward_missing_raises():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(cr.zeros(1))


# ---- traversal -------------------------------------------------------------------------------
def test_named_parameters_and_buffers_match_torch():
    torch = pytest.importorskip("torch")
    m, t = Net(), torch_net(torch)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in m.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in m.named_children()] == [n for n, _ in t.named_children()]
    assert [n for n, _ in m.named_parameters(prefix="net", recurse=True)] == \
        [n for n, _ in t.named_parameters(prefix="net")]
    assert [n for n, _ in m.a.named_parameters(recurse=False)] == ["scale"]


def test_shared_parameters_and_modules_come_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.modules())) == 3
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    # the state dict keeps both names, as torch
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_deep_nesting_does_not_recurse():
    m = nn.Linear(1, 1)
    for _ in range(3000):
        m = nn.Sequential(m)
    assert len(list(m.parameters())) == 2
    assert len(m.state_dict()) == 2


def test_apply_visits_children_first():
    order = []
    Net().apply(lambda mod: order.append(type(mod).__name__))
    assert order == ["Linear", "BatchNorm1d", "Block", "ReLU", "Linear", "Sequential", "Net"]


def test_get_submodule_parameter_buffer():
    m = Net()
    assert m.get_submodule("b.1") is m.b[1]
    assert m.get_submodule("") is m
    assert m.get_parameter("a.fc.weight") is m.a.fc.weight
    assert m.get_buffer("a.bn.running_mean") is m.a.bn.running_mean
    with pytest.raises(AttributeError, match="Block has no attribute `nope`"):
        m.get_submodule("a.nope")
    with pytest.raises(AttributeError, match="`scale` is not an nn.Module"):
        m.get_submodule("a.scale")
    with pytest.raises(AttributeError, match="`fc` is not an nn.Parameter"):
        m.get_parameter("a.fc")


# ---- modes and gradients ---------------------------------------------------------------------
def test_train_eval_propagate():
    m = Net()
    assert m.training and m.a.bn.training
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="boolean"):
        m.train("yes")


def test_zero_grad_and_requires_grad_():
    m = Net()
    m(cr.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_forward_hooks():
    m = nn.Linear(2, 2)
    seen = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: seen.append(out.shape) or out + 1)
    y = m(cr.ones(3, 2))
    np.testing.assert_allclose(y.detach().numpy(), np.broadcast_to(m.bias.detach().numpy() + 1,
                                                                  (3, 2)), rtol=1e-6)
    assert seen == [(3, 2)]
    h1.remove()
    h2.remove()
    assert not m._forward_hooks and not m._forward_pre_hooks


# ---- state dict ------------------------------------------------------------------------------
def test_state_dict_keys_match_torch_and_share_memory():
    torch = pytest.importorskip("torch")
    m, t = Net(), torch_net(torch)
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == list(t.state_dict())
    assert "a.cache" not in sd
    w = sd["a.fc.weight"]
    assert not w.requires_grad and w.grad_fn is None
    w._data[0, 0] = 123.0
    assert m.a.fc.weight._data[0, 0] == 123.0
    assert m.state_dict(keep_vars=True)["a.fc.weight"] is m.a.fc.weight


def test_state_dict_round_trip_with_torch():
    torch = pytest.importorskip("torch")
    m, t = Net(), torch_net(torch)
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in m.state_dict().items()})
    m2 = Net()
    res = m2.load_state_dict({k: cr.tensor(v.numpy()) for k, v in t.state_dict().items()})
    assert repr(res) == "<All keys matched successfully>"
    for (k, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_load_state_dict_accepts_arrays_and_casts():
    m = nn.Linear(2, 3)
    m.load_state_dict({"weight": np.ones((3, 2)), "bias": cr.zeros(3, dtype=cr.float64)})
    assert m.weight.dtype == cr.float32 and m.weight._data.sum() == 6


def test_load_state_dict_failure_changes_nothing_and_lists_everything():
    m = Net()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    w_id = id(m.a.fc.weight)
    bad = {k: cr.zeros(*v.shape) for k, v in m.state_dict().items()}
    bad["a.fc.weight"] = cr.zeros(5, 5)
    del bad["b.1.bias"]
    bad["extra.key"] = cr.zeros(1)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    assert 'Missing key(s) in state_dict: "b.1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.key"' in msg
    assert ("size mismatch for a.fc.weight: copying a param with shape (5, 5) from checkpoint, "
            "the shape in current model is (4, 3).") in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    assert id(m.a.fc.weight) == w_id


def test_load_state_dict_shape_error_raises_even_when_not_strict():
    m = nn.Linear(2, 3)
    w = m.weight._data.copy()
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        m.load_state_dict({"weight": cr.zeros(3, 2), "bias": cr.zeros(4)}, strict=False)
    np.testing.assert_array_equal(m.weight._data, w)
    with pytest.raises(RuntimeError, match='expected a cr.Tensor or NumPy array'):
        m.load_state_dict({"weight": [[0.0] * 2] * 3, "bias": cr.zeros(3)})


def test_load_state_dict_non_strict_returns_keys():
    m = Net()
    sd = m.state_dict()
    partial = {k: v for k, v in sd.items() if not k.startswith("b.")}
    partial["junk"] = cr.zeros(1)
    res = m.load_state_dict(partial, strict=False)
    assert res.missing_keys == ["b.1.weight", "b.1.bias"]
    assert res.unexpected_keys == ["junk"]
    assert res == (["b.1.weight", "b.1.bias"], ["junk"])


def test_load_state_dict_bumps_version_and_assign():
    m = nn.Linear(2, 2)
    v = m.weight._version
    m.load_state_dict({"weight": cr.ones(2, 2), "bias": cr.ones(2)})
    assert m.weight._version == v + 1
    new_w = cr.full((2, 2), 3.0)
    m.load_state_dict({"weight": new_w, "bias": cr.ones(2)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight._data is new_w._data


def test_state_dict_survives_save_and_load(tmp_path):
    m = Net()
    m(cr.randn(6, 3))
    cr.save(m.state_dict(), tmp_path / "m.cr")
    m2 = Net()
    m2.load_state_dict(cr.load(tmp_path / "m.cr"))
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert m2.a.bn.num_batches_tracked.item() == 1


# ---- dtype and device ------------------------------------------------------------------------
def test_to_dtype_keeps_identity_and_skips_integer_buffers():
    m = Net()
    m(cr.randn(4, 3)).sum().backward()
    w = m.a.fc.weight
    assert m.to(cr.float64) is m
    assert m.a.fc.weight is w and w.dtype == cr.float64 and w.grad.dtype == cr.float64
    assert m.a.bn.running_mean.dtype == cr.float64
    assert m.a.bn.num_batches_tracked.dtype == cr.int64
    m.float()
    assert w.dtype == cr.float32
    m.double()
    assert m(cr.randn(2, 3, dtype=cr.float64)).dtype == cr.float64
    m.to("cpu")
    m.to(cr.zeros(1, dtype=cr.float32))
    assert w.dtype == cr.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(cr.int64)
    with pytest.raises(RuntimeError, match="not available"):
        m.to("cuda")


def test_optimizer_style_update_after_to():
    m = nn.Linear(2, 1)
    params = list(m.parameters())
    m.double()
    m(cr.ones(1, 2, dtype=cr.float64)).sum().backward()
    assert all(p.grad is not None for p in params)


def test_deepcopy_is_independent():
    m = Net()
    c = copy.deepcopy(m)
    c.a.fc.weight._data[...] = 0
    assert m.a.fc.weight._data.any()
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in m.named_parameters()]


# ---- printing --------------------------------------------------------------------------------
def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    m = nn.Sequential(nn.Linear(13, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Dropout(0.25),
                      nn.Sequential(nn.Linear(16, 8, bias=False), nn.GELU(), nn.LayerNorm(8)),
                      nn.LeakyReLU(0.2), nn.Tanh(), nn.Sigmoid(), nn.Softmax(dim=1),
                      nn.LogSoftmax(dim=-1), nn.ELU(), nn.SiLU(), nn.Softplus(), nn.Flatten(),
                      nn.Identity(), nn.Embedding(10, 3, padding_idx=0), nn.Unflatten(1, (2, 4)),
                      nn.GELU(approximate="tanh"), nn.Dropout())
    t = tnn.Sequential(tnn.Linear(13, 16), tnn.ReLU(), tnn.BatchNorm1d(16), tnn.Dropout(0.25),
                       tnn.Sequential(tnn.Linear(16, 8, bias=False), tnn.GELU(), tnn.LayerNorm(8)),
                       tnn.LeakyReLU(0.2), tnn.Tanh(), tnn.Sigmoid(), tnn.Softmax(dim=1),
                       tnn.LogSoftmax(dim=-1), tnn.ELU(), tnn.SiLU(), tnn.Softplus(),
                       tnn.Flatten(), tnn.Identity(), tnn.Embedding(10, 3, padding_idx=0),
                       tnn.Unflatten(1, (2, 4)), tnn.GELU(approximate="tanh"), tnn.Dropout())
    assert repr(m) == repr(t)


def test_custom_module_repr_matches_torch():
    torch = pytest.importorskip("torch")
    assert repr(Net()) == repr(torch_net(torch))
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
    assert repr(nn.LeakyReLU(inplace=True)) == repr(torch.nn.LeakyReLU(inplace=True))
    assert repr(nn.BatchNorm1d(4, momentum=None, affine=False)) == \
        repr(torch.nn.BatchNorm1d(4, momentum=None, affine=False))
    assert repr(nn.LayerNorm((2, 3), elementwise_affine=False)) == \
        repr(torch.nn.LayerNorm((2, 3), elementwise_affine=False))
    assert repr(nn.Module()) == repr(torch.nn.Module())


def test_dir_lists_registered_names():
    names = dir(Block())
    assert {"fc", "bn", "scale", "steps", "forward"} <= set(names)


def test_reassigning_keeps_registration_order_as_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours.weight = nn.Parameter(cr.zeros(2, 2))
    theirs.weight = torch.nn.Parameter(torch.zeros(2, 2))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    seq[0] = nn.Sigmoid()
    assert [type(m).__name__ for m in seq] == ["Sigmoid", "Tanh"]


def test_parameter_basics():
    p = nn.Parameter(cr.ones(2))
    assert p.requires_grad and p.is_leaf and isinstance(p, cr.Tensor)
    assert repr(p).startswith("Parameter containing:\n")
    assert not nn.Parameter(cr.ones(2), requires_grad=False).requires_grad
    t = cr.zeros(3)
    q = nn.Parameter(t)
    q._data[0] = 1.0
    assert t.tolist()[0] == 1.0          # shares memory with the tensor it wraps, as torch


def test_forgetting_super_init_is_explained():
    class Forgot(nn.Module):
        def __init__(self):
            self.size = 3

        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first"):
        Forgot()(cr.zeros(1))
