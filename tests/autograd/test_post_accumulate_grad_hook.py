"""Tensor.register_post_accumulate_grad_hook: called with the leaf as soon as its gradient of the
pass is complete, mid-backward (what DistributedOptimizer starts its Allreduces from)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import AutogradError


def _mlp_order(lib):
    """Which hooks fire in which order for a 3-layer MLP: parameters' post-accumulate hooks and a
    register_hook on the first hidden activation (which fires before layer 0's backward)."""
    lib.manual_seed(0)
    nn = lib.nn
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    order = []
    for name, p in m.named_parameters():
        p.register_post_accumulate_grad_hook(lambda p, name=name: order.append(name))
    x = lib.randn(5, 3)
    h1 = m[1](m[0](x))
    h1.register_hook(lambda g: order.append("h1"))
    out = m[4](m[3](m[2](h1)))
    (out * out).sum().backward()
    return order


def _layers(order):
    """The order of layers (a parameter's module prefix), consecutive repeats merged."""
    out = []
    for name in order:
        layer = name.split(".")[0]
        if not out or out[-1] != layer:
            out.append(layer)
    return out


def test_hooks_fire_mid_backward_layer_by_layer():
    order = _mlp_order(cr)
    # the last layers' gradients are complete (and their hooks run) before layer 0's backward
    assert _layers(order) == ["4", "2", "h1", "0"]
    assert sorted(order) == sorted(["4.weight", "4.bias", "2.weight", "2.bias", "h1",
                                    "0.weight", "0.bias"])


def test_call_order_matches_torch_per_layer():
    torch = pytest.importorskip("torch")
    ours, theirs = _mlp_order(cr), _mlp_order(torch)
    # layer by layer the same; inside one Linear torch runs bias first (addmm's first input),
    # chainrule the weight first (its linear op's input order)
    assert _layers(ours) == _layers(theirs)
    assert sorted(ours) == sorted(theirs)


def test_hook_sees_the_whole_accumulated_grad_once():
    w = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    w.grad = cr.tensor([10.0, 10.0], dtype=cr.float64)      # accumulated from an earlier pass
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    y = (w * 3).sum() + (w * w).sum()          # two paths into w: one call, after both
    y.backward()
    assert seen == [[10.0 + 3 + 2, 10.0 + 3 + 4]]
    assert w.grad.tolist() == seen[0]


def test_matches_torch_with_sgd_in_the_hook():
    torch = pytest.importorskip("torch")

    def run(lib):
        v = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        calls = []

        def sgd(p):
            calls.append(p.grad.tolist())
            with lib.no_grad():
                p.sub_(0.1 * p.grad)
            p.grad = None                   # optimiser-in-backward frees the gradient
        v.register_post_accumulate_grad_hook(sgd)
        for _ in range(3):
            ((v * v).sum() + v.sum()).backward()
        return v.tolist(), calls, v.grad
    (a, ca, ga), (b, cb, gb) = run(cr), run(torch)
    np.testing.assert_allclose(a, b, rtol=1e-15)
    np.testing.assert_allclose(ca, cb, rtol=1e-15)
    assert ga is None and gb is None


def test_registration_order_and_remove():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h1 = w.register_post_accumulate_grad_hook(lambda p: seen.append("a"))
    w.register_post_accumulate_grad_hook(lambda p: seen.append("b"))
    (w * 2).sum().backward()
    assert seen == ["a", "b"]
    h1.remove()
    h1.remove()                                   # twice is harmless
    (w * 2).sum().backward()
    assert seen == ["a", "b", "b"]
    with w.register_post_accumulate_grad_hook(lambda p: seen.append("c")):
        (w * 2).sum().backward()
    (w * 2).sum().backward()
    assert seen == ["a", "b", "b", "b", "c", "b"]


def test_removing_the_last_hook_drops_the_bookkeeping():
    from chainrule.tensor import _post_acc_hooks
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    hs = [w.register_post_accumulate_grad_hook(lambda p: None) for _ in range(2)]
    assert id(w) in _post_acc_hooks
    hs[0].remove()
    assert id(w) in _post_acc_hooks
    hs[1].remove()
    assert id(w) not in _post_acc_hooks        # backward no longer counts w's edges


def test_leaf_root_and_no_gradient():
    seen = []
    v = cr.tensor([0.0, 0.0], requires_grad=True)
    v.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    v.backward(cr.tensor([1.0, 2.0]))              # the leaf is the root itself
    assert seen == [[1.0, 2.0]]
    u = cr.tensor([1.0], requires_grad=True)
    u.register_post_accumulate_grad_hook(lambda p: seen.append("u"))
    (v * 2).sum().backward()                       # u is not in this graph: no call
    assert seen == [[1.0, 2.0], [3.0, 4.0]]


def test_not_called_by_autograd_grad():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(1))
    (g,) = cr.autograd.grad((w * w).sum(), w)
    assert seen == [] and w.grad is None and g.tolist() == [2.0, 4.0]


@pytest.mark.parametrize("lib_name", ["chainrule", "torch"])
def test_backward_with_inputs_calls_the_hooks_of_those_inputs_only(lib_name):
    """backward(inputs=[w]): w's hook sees its accumulated .grad; v, left out, is not called
    (the same in torch)."""
    lib = cr if lib_name == "chainrule" else pytest.importorskip("torch")
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    v = lib.tensor([3.0, 4.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(("w", p.grad.tolist())))
    v.register_post_accumulate_grad_hook(lambda p: seen.append(("v", p.grad.tolist())))
    w.grad = lib.tensor([10.0, 10.0])
    (w * w * v).sum().backward(inputs=[w])
    assert seen == [("w", [16.0, 26.0])] and v.grad is None


def test_with_register_hook_on_the_same_leaf():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_hook(lambda g: g * 10)              # runs first, on the summed gradient
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    ((w * 2).sum() + w.sum()).backward()
    assert seen == [[30.0, 30.0]] and w.grad.tolist() == [30.0, 30.0]


def test_in_place_edit_of_grad_does_not_leak_into_other_gradients():
    # the add's backward hands one array to the leaf a and to b's node, still to run: a hook
    # that edits a.grad in place must not change what the rest of backward sees
    a = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    c = cr.tensor([3.0, 4.0], dtype=cr.float64, requires_grad=True)
    a.register_post_accumulate_grad_hook(lambda p: p.grad.mul_(0))
    b = c * 1.0
    ((a + b) * 2).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0] and c.grad.tolist() == [2.0, 2.0]


def test_errors():
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(AutogradError, match="doesn't require gradient"):
        x.register_post_accumulate_grad_hook(lambda p: None)
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(AutogradError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(TypeError, match="callable"):
        w.register_post_accumulate_grad_hook(3)
    w.register_post_accumulate_grad_hook(lambda p: 5)
    with pytest.raises(AutogradError, match="must return None"):
        (w * 2).sum().backward()
