"""The Optimizer base: groups, zero_grad, state_dict/load_state_dict, and the flat fast path."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import chainrule.optim as co
from chainrule.grad_mode import is_grad_enabled, no_grad
from chainrule.tensor import Tensor


def _params(n=3, dtype=np.float32, seed=0):
    return ours_params(make_params([(4, 3), (3,), (2,)][:n], dtype, seed))


def make_params(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def ours_params(arrays):
    return [Tensor(a.copy(), requires_grad=True) for a in arrays]


def _grads(params, seed):
    rng = np.random.default_rng(seed)
    for p in params:
        p.grad = Tensor(rng.standard_normal(p.shape).astype(p._data.dtype))


ELEMENTWISE = [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
               ("SGD", dict(lr=0.1)),
               ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
               ("AdamW", dict(lr=0.01)),
               ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
               ("Adamax", dict(lr=0.01)),
               ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1))]
IDS = [f"{n}-{sorted(k)}" for n, k in ELEMENTWISE]


# ---- construction and groups ------------------------------------------------------------------
def test_constructor_errors():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        co.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        co.SGD(Tensor(np.zeros(2)), lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        co.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        co.SGD([{"params": set(_params(1))}])


def test_non_leaf_tensors_are_rejected():
    import chainrule as cr
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        co.Adam([x * 2])


def test_groups_take_defaults_and_their_own_values():
    a, b = _params(2)
    opt = co.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["params"] == [b]          # a lone tensor becomes a list
    assert set(opt.param_groups[0]) == set(opt.defaults) | {"params"}
    a.grad, b.grad = Tensor(np.ones_like(a._data)), Tensor(np.ones_like(b._data))
    opt.step()
    np.testing.assert_allclose(opt.param_groups[0]["params"][0]._data, _params(2)[0]._data - 0.1,
                               rtol=1e-6)
    np.testing.assert_allclose(b._data, _params(2)[1]._data - 0.5, rtol=1e-6)


def test_add_param_group():
    a, b, c = _params(3)
    opt = co.Adam([a], lr=0.01)
    opt.add_param_group({"params": [b], "lr": 0.1})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([c])
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [("c", c)]})
    assert len(opt.param_groups) == 2


def test_required_hyperparameter():
    class Needy(co.Optimizer):
        def __init__(self, params, lr=co.required):
            super().__init__(params, {"lr": lr})

    with pytest.raises(ValueError, match="didn't specify a value of required optimization "
                                         "parameter lr"):
        Needy(_params(1))
    assert Needy([{"params": _params(1), "lr": 0.1}]).param_groups[0]["lr"] == 0.1


def test_duplicate_parameters_warn():
    a = _params(1)[0]
    with pytest.warns(UserWarning, match="duplicate parameters"):
        co.SGD([a, a], lr=0.1)


def test_named_parameters():
    a, b = _params(2)
    opt = co.Adam([("w", a), ("b", b)])
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
    with pytest.raises(ValueError, match="Some param names are missing"):
        co.Adam([("w", a), b])


def test_repr_lists_groups():
    text = repr(co.SGD(_params(1), lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


# ---- zero_grad and step ------------------------------------------------------------------------
def test_zero_grad_set_to_none():
    ps = _params(2)
    _grads(ps, 0)
    opt = co.SGD(ps, lr=0.1)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_zero_grad_to_zeros_keeps_the_tensor():
    ps = _params(2)
    _grads(ps, 0)
    grads = [p.grad for p in ps]
    versions = [g._version for g in grads]
    co.SGD(ps, lr=0.1).zero_grad(set_to_none=False)
    for p, g, v in zip(ps, grads, versions):
        assert p.grad is g
        np.testing.assert_array_equal(g._data, 0)
        assert g._version == v + 1 and not g.requires_grad


def test_zero_grad_to_zeros_still_steps_with_weight_decay():
    # a zero gradient is still a gradient: weight decay moves the parameter (a None one would not)
    p = _params(1)[0]
    before = p._data.copy()
    opt = co.SGD([p], lr=0.1, weight_decay=1.0)
    p.grad = Tensor(np.ones_like(p._data))
    opt.zero_grad(set_to_none=False)
    opt.step()
    np.testing.assert_allclose(p._data, before * 0.9, rtol=1e-6)


def test_step_returns_the_closure_loss_evaluated_with_grad_enabled():
    ps = _params(2)
    opt = co.Adam(ps)
    seen = []

    def closure():
        seen.append(is_grad_enabled())
        _grads(ps, 1)
        return 3.5

    with no_grad():
        assert opt.step(closure) == 3.5
    assert seen == [True]
    assert opt.step() is None


@pytest.mark.parametrize("foreach", [None, False])
def test_step_bumps_each_version_counter_once(foreach):
    ps = _params(3)
    _grads(ps, 0)
    ps[2].grad = None
    opt = co.Adam(ps, foreach=foreach)
    versions = [p._version for p in ps]
    opt.step()
    assert [p._version for p in ps] == [versions[0] + 1, versions[1] + 1, versions[2]]


# ---- the flat fast path -----------------------------------------------------------------------
@pytest.mark.parametrize("name, kwargs", ELEMENTWISE, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flat_and_per_parameter_paths_are_bit_identical(name, kwargs, dtype):
    shapes = [(16, 29), (16,), (1, 16), (1,), (3, 2, 2)]
    arrays = make_params(shapes, dtype)
    seq = grad_seq(shapes, dtype, 15)
    flat, opt_flat = _run(name, kwargs, arrays, seq, None)
    each, opt_each = _run(name, kwargs, arrays, seq, False)
    for a, b in zip(flat, each):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert id(opt_flat.param_groups[0]) in opt_flat._flat
    assert not opt_each._flat
    for p, q in zip(opt_flat.param_groups[0]["params"], opt_each.param_groups[0]["params"]):
        for k, v in opt_each.state[q].items():
            np.testing.assert_array_equal(opt_flat.state[p][k]._data, v._data)


def grad_seq(shapes, dtype, steps, seed=1, skip=None):
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(steps):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        if skip is not None:
            grads = [None if skip(t, i) else g for i, g in enumerate(grads)]
        seq.append(grads)
    return seq


def _run(name, kwargs, arrays, seq, foreach):
    params = ours_params(arrays)
    opt = getattr(co, name)(params, foreach=foreach, **kwargs)
    out = []
    for grads in seq:
        for p, g in zip(params, grads):
            p.grad = None if g is None else Tensor(g.copy())
        opt.step()
        out.append([p._data.copy() for p in params])
    return out, opt


def test_flat_path_packs_params_and_state_into_one_buffer():
    ps = _params(3)
    opt = co.Adam(ps)
    _grads(ps, 0)
    opt.step()
    base = ps[0]._data.base
    assert base is not None and all(p._data.base is base for p in ps)
    exp_avgs = [opt.state[p]["exp_avg"]._data for p in ps]
    assert all(e.base is exp_avgs[0].base for e in exp_avgs)
    assert [e.shape for e in exp_avgs] == [p.shape for p in ps]


@pytest.mark.parametrize("name, kwargs", ELEMENTWISE, ids=IDS)
def test_params_skipped_now_and_then_match_torch(name, kwargs):
    # a parameter without a gradient is skipped (its step count too), as in PyTorch
    pytest.importorskip("torch")
    arrays = make_params(SHAPES4, np.float64)
    seq = grad_seq(SHAPES4, np.float64, 20, skip=lambda t, i: (t + i) % 5 == 0 and i != 1)
    ours, _ = _run(name, kwargs, arrays, seq, None)
    theirs, _, _ = _run_torch(name, kwargs, arrays, seq)
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13)


SHAPES4 = [(16, 29), (16,), (1, 16), (1,)]


def _run_torch(name, kwargs, arrays, seq):
    import torch
    params = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    opt = getattr(torch.optim, name)(params, foreach=False, **kwargs)
    out = []
    for grads in seq:
        for p, g in zip(params, grads):
            p.grad = None if g is None else torch.tensor(g.copy())
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out, opt, params


def test_replacing_param_data_between_steps_is_noticed():
    arrays = make_params(SHAPES4, np.float64)
    seq = grad_seq(SHAPES4, np.float64, 6)
    results = []
    for foreach in (None, False):
        params = ours_params(arrays)
        opt = co.Adam(params, lr=0.1, foreach=foreach)
        for t, grads in enumerate(seq):
            for p, g in zip(params, grads):
                p.grad = Tensor(g.copy())
            opt.step()
            if t == 2:                   # e.g. weights loaded from a checkpoint
                params[0]._data = np.full(params[0].shape, 0.5)
        results.append([p._data.copy() for p in params])
    for x, y in zip(*results):
        np.testing.assert_array_equal(x, y)


def test_in_place_writes_to_param_data_are_kept():
    ps = _params(2, np.float64)
    opt = co.SGD(ps, lr=1.0)
    _grads(ps, 0)
    opt.step()
    ps[1]._data[...] = 7.0                # e.g. nn.init on a packed parameter
    for p in ps:
        p.grad = Tensor(np.zeros_like(p._data))
    opt.step()
    np.testing.assert_array_equal(ps[1]._data, 7.0)


def test_mixed_dtypes_fall_back_to_the_per_parameter_loop():
    a = Tensor(np.ones(3, np.float32), requires_grad=True)
    b = Tensor(np.ones(2, np.float64), requires_grad=True)
    opt = co.Adam([a, b], lr=0.1)
    a.grad, b.grad = Tensor(np.ones(3, np.float32)), Tensor(np.ones(2, np.float64))
    opt.step()
    assert not opt._flat
    np.testing.assert_allclose(a._data, 0.9, rtol=1e-6)
    np.testing.assert_allclose(b._data, 0.9 + 1e-9, rtol=1e-12)
    assert a._data.dtype == np.float32 and b._data.dtype == np.float64


# ---- state_dict -------------------------------------------------------------------------------
def test_state_dict_layout_matches_torch():
    torch = pytest.importorskip("torch")
    arrays = make_params(SHAPES4, np.float32)
    ps = ours_params(arrays)
    tps = [torch.tensor(a, requires_grad=True) for a in arrays]
    opt = co.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}], amsgrad=True)
    topt = torch.optim.Adam([{"params": tps[:2]}, {"params": tps[2:], "lr": 0.1}], amsgrad=True)
    for t in range(3):
        _grads(ps, t)
        for p, q in zip(tps, ps):
            p.grad = torch.tensor(q.grad._data)
        opt.step()
        topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert sd["param_groups"] == tsd["param_groups"]
    assert list(sd["state"]) == list(tsd["state"]) == [0, 1, 2, 3]
    for i in sd["state"]:
        assert list(sd["state"][i]) == list(tsd["state"][i])
        for k, v in sd["state"][i].items():
            tv = tsd["state"][i][k]
            assert isinstance(v, Tensor) and v.shape == tuple(tv.shape)
            assert str(v.dtype) == str(tv.dtype).replace("torch.", "")
            np.testing.assert_allclose(v._data, tv.numpy(), rtol=2e-6, atol=1e-7)


def test_state_dict_is_a_snapshot():
    ps = _params(2)
    opt = co.Adam(ps)
    _grads(ps, 0)
    opt.step()
    sd = opt.state_dict()
    saved = sd["state"][0]["exp_avg"]._data.copy()
    _grads(ps, 1)
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"]._data, saved)
    assert float(sd["state"][0]["step"]) == 1.0


@pytest.mark.parametrize("name, kwargs", ELEMENTWISE, ids=IDS)
@pytest.mark.parametrize("foreach", [None, False])
def test_round_trip_continues_identically(name, kwargs, foreach):
    arrays = make_params(SHAPES4, np.float32)
    seq = grad_seq(SHAPES4, np.float32, 12)
    full, _ = _run(name, kwargs, arrays, seq, foreach)

    params = ours_params(arrays)
    opt = getattr(co, name)(params, foreach=foreach, **kwargs)
    for grads in seq[:5]:
        set_grads_(params, grads)
        opt.step()
    blob = pickle.dumps((opt.state_dict(), [p._data for p in params]))   # through bytes

    sd, values = pickle.loads(blob)
    params2 = ours_params(values)
    opt2 = getattr(co, name)(params2, foreach=foreach, **kwargs)
    opt2.load_state_dict(sd)
    for t, grads in enumerate(seq[5:], start=5):
        set_grads_(params2, grads)
        opt2.step()
        for x, y in zip(params2, full[t]):
            np.testing.assert_array_equal(x._data, y)


def set_grads_(params, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else Tensor(g.copy())


def test_loading_a_torch_checkpoint_continues_like_torch():
    torch = pytest.importorskip("torch")
    arrays = make_params(SHAPES4, np.float64)
    seq = grad_seq(SHAPES4, np.float64, 10)
    tps = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    topt = torch.optim.Adam(tps, lr=0.05, amsgrad=True)
    for grads in seq[:4]:
        for p, g in zip(tps, grads):
            p.grad = torch.tensor(g)
        topt.step()
    tsd = topt.state_dict()
    sd = {"state": {i: {k: Tensor(v.numpy().copy()) for k, v in s.items()}
                    for i, s in tsd["state"].items()},
          "param_groups": copy.deepcopy(tsd["param_groups"])}
    ps = ours_params([p.detach().numpy() for p in tps])
    opt = co.Adam(ps, lr=0.05, amsgrad=True)
    opt.load_state_dict(sd)
    for grads in seq[4:]:
        set_grads_(ps, grads)
        for p, g in zip(tps, grads):
            p.grad = torch.tensor(g)
        opt.step()
        topt.step()
        for p, q in zip(ps, tps):
            np.testing.assert_allclose(p._data, q.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_load_state_dict_copies_and_casts():
    ps = _params(2, np.float32)
    opt = co.Adam(ps)
    _grads(ps, 0)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = Tensor(sd["state"][0]["exp_avg"]._data.astype(np.float64))
    opt2 = co.Adam(_params(2, np.float32))
    opt2.load_state_dict(sd)
    p0 = opt2.param_groups[0]["params"][0]
    assert opt2.state[p0]["exp_avg"].dtype == np.float32
    assert opt2.state[p0]["step"].dtype == np.float32
    assert not np.shares_memory(opt2.state[p0]["exp_avg_sq"]._data, sd["state"][0]["exp_avg_sq"]._data)


def test_load_state_dict_restores_hyperparameters_but_keeps_params():
    ps = _params(2)
    opt = co.SGD(ps, lr=0.5, momentum=0.9)
    sd = opt.state_dict()
    opt2 = co.SGD(_params(2), lr=0.1)
    mine = opt2.param_groups[0]["params"]
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.5 and opt2.param_groups[0]["momentum"] == 0.9
    assert opt2.param_groups[0]["params"] is mine or opt2.param_groups[0]["params"] == mine


def _snapshot(opt):
    return (copy.deepcopy([{k: v for k, v in g.items() if k != "params"}
                           for g in opt.param_groups]),
            {id(p): {k: v._data.copy() for k, v in s.items()} for p, s in opt.state.items()},
            [list(map(id, g["params"])) for g in opt.param_groups])


def _same(a, b):
    assert a[0] == b[0] and a[2] == b[2] and a[1].keys() == b[1].keys()
    for k in a[1]:
        for name in a[1][k]:
            np.testing.assert_array_equal(a[1][k][name], b[1][k][name])


@pytest.mark.parametrize("mutate, message", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0], params=[9])),
     "different number of parameter groups: 2 saved, 1 in this optimizer"),
    (lambda sd: sd["param_groups"][0]["params"].pop(),
     "doesn't match the size of optimizer's group: group 0 has 2 parameters saved, 3 here"),
    (lambda sd: sd["state"][1].__setitem__("exp_avg", Tensor(np.zeros((5, 5), np.float32))),
     r"state\[1\]\['exp_avg'\] has shape \(5, 5\) but its parameter has shape \(3,\)"),
    (lambda sd: sd.pop("state"), "expected a dict with keys 'state' and 'param_groups'"),
])
def test_mismatched_state_dict_raises_and_changes_nothing(mutate, message):
    ps = _params(3)
    opt = co.Adam(ps, lr=0.01)
    _grads(ps, 0)
    opt.step()
    sd = opt.state_dict()
    mutate(sd)
    _grads(ps, 1)
    opt.step()
    before = _snapshot(opt)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(sd)
    _same(_snapshot(opt), before)
    # and the optimiser carries on as if nothing had happened
    reference = co.Adam(ours_params([p._data for p in ps]), lr=0.01)
    reference.load_state_dict(opt.state_dict())
    _grads(ps, 2)
    _grads(reference.param_groups[0]["params"], 2)
    opt.step()
    reference.step()
    for p, q in zip(ps, reference.param_groups[0]["params"]):
        np.testing.assert_array_equal(p._data, q._data)


def test_load_state_dict_rejects_non_dicts():
    opt = co.SGD(_params(1), lr=0.1)
    with pytest.raises(ValueError, match="expected a dict"):
        opt.load_state_dict([1, 2])


def test_deepcopy_and_pickle_of_an_optimizer():
    ps = _params(2, np.float64)
    opt = co.Adam(ps, lr=0.1)
    _grads(ps, 0)
    opt.step()
    twin = copy.deepcopy(opt)
    twin_params = twin.param_groups[0]["params"]
    _grads(ps, 1)
    for p, q in zip(twin_params, ps):
        p.grad = Tensor(q.grad._data.copy())
    opt.step()
    twin.step()
    for p, q in zip(ps, twin_params):
        np.testing.assert_array_equal(p._data, q._data)
    again = pickle.loads(pickle.dumps(opt))
    assert float(list(again.state.values())[0]["step"]) == 2.0


def test_optimizer_trains_nn_module_like_torch():
    torch = pytest.importorskip("torch")
    import chainrule as cr
    import chainrule.nn as nn
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    with torch.no_grad():
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.copy_(torch.tensor(p._data))
    opt = co.AdamW(model.parameters(), lr=0.01)
    topt = torch.optim.AdamW(tmodel.parameters(), lr=0.01, foreach=False)
    for _ in range(15):
        opt.zero_grad()
        loss = ((model(cr.tensor(X)) - cr.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = ((tmodel(torch.tensor(X)) - torch.tensor(y)) ** 2).mean()
        tloss.backward()
        topt.step()
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p._data, tp.detach().numpy(), rtol=1e-4, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(cr.tensor(X))              # the packed parameters still work in the forward pass


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adamax", "Adagrad", "LBFGS"])
def test_param_group_keys_and_defaults_match_torch(name):
    torch = pytest.importorskip("torch")
    ours = getattr(co, name)(_params(1))
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)])
    assert ours.defaults == theirs.defaults
    group = {k: v for k, v in ours.param_groups[0].items() if k != "params"}
    tgroup = {k: v for k, v in theirs.param_groups[0].items() if k != "params"}
    assert group == tgroup


def test_groups_of_large_parameters_are_not_packed():
    from chainrule.optim import _elementwise
    big = _elementwise.FLAT_MEAN_SIZE
    ps = [Tensor(np.zeros(2 * big, np.float32), requires_grad=True),
          Tensor(np.zeros(3, np.float32), requires_grad=True)]
    arrays = [p._data for p in ps]
    opt = co.SGD(ps, lr=0.1)
    for p in ps:
        p.grad = Tensor(np.ones_like(p._data))
    opt.step()
    assert not opt._flat and all(p._data is a for p, a in zip(ps, arrays))
    np.testing.assert_allclose(arrays[0], -0.1, rtol=1e-6)
