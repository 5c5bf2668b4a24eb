"""Tensor hooks (register_hook, retain_grad), module backward hooks and inference_mode, against
PyTorch's behaviour."""
import pytest

import chainrule as cr
from chainrule.errors import ChainruleError


def _run(lib, record):
    """The same little program in chainrule or torch: hooks on a leaf, a non-leaf (also retained)
    and a root, one hook replacing the gradient; returns the gradients it saw and kept."""
    x = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([0.5, 0.25, -1.0], dtype=lib.float64, requires_grad=True)
    x.register_hook(lambda g: record.append(("x", g.tolist())))
    w.register_hook(lambda g: g * 10)
    y = x * w
    y.retain_grad()
    y.register_hook(lambda g: record.append(("y", g.tolist())))
    y.register_hook(lambda g: g + 1)
    z = (y * y).sum() + (x * 3).sum()      # x reached by two paths: one summed gradient
    z.register_hook(lambda g: record.append(("z", g.tolist())))
    z.backward()
    return x.grad.tolist(), w.grad.tolist(), y.grad.tolist(), y.retains_grad


def test_tensor_hooks_match_torch():
    torch = pytest.importorskip("torch")
    seen_cr, seen_t = [], []
    assert _run(cr, seen_cr) == _run(torch, seen_t)
    assert seen_cr == seen_t


def test_hook_order_without_torch():
    seen = []
    _, _, yg, retains = _run(cr, seen)
    assert [s[0] for s in seen] == ["z", "y", "x"]
    # y = x·w = [0.5, -0.5, -3]; its hook adds 1 to 2y, and retain_grad keeps the result
    assert retains and yg == [2.0, 0.0, -5.0]
    # x's hook sees the sum of both paths, once: w·(2y + 1) + 3
    assert seen[2][1] == [0.5 * 2.0 + 3, 0.25 * 0.0 + 3, -1.0 * -5.0 + 3]


def test_hook_handle_remove_and_context():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x.register_hook(lambda g: g * 0)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    h.remove()
    h.remove()                     # twice is harmless
    x.grad = None
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    x.grad = None
    with x.register_hook(lambda g: g * 3):
        (x * 2).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]


def test_hooks_run_for_autograd_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 2)
    y = x * x
    y.register_hook(lambda g: g + 1)
    g, = cr.autograd.grad(y.sum(), x)
    assert g.tolist() == [8.0, 16.0] and x.grad is None


def test_hooks_with_create_graph_stay_differentiable():
    x = cr.tensor([1.5], dtype=cr.float64, requires_grad=True)
    h = x.register_hook(lambda g: g * x)        # a hook that is itself differentiable
    g, = cr.autograd.grad((x ** 3).sum(), x, create_graph=True)     # 3x² · x = 3x³
    h.remove()
    gg, = cr.autograd.grad(g.sum(), x)
    assert g.item() == pytest.approx(3 * 1.5 ** 3)
    assert gg.item() == pytest.approx(9 * 1.5 ** 2)


def test_hook_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        cr.ones(2).register_hook(lambda g: g)
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="shape") as e:
        (x * 2).sum().backward()
    assert isinstance(e.value, ChainruleError)


def test_hooks_do_not_outlive_their_leaf():
    from chainrule.tensor import _leaf_hooks
    n = len(_leaf_hooks)
    x = cr.ones(2, requires_grad=True)
    x.register_hook(lambda g: g)
    assert len(_leaf_hooks) == n + 1
    del x
    assert len(_leaf_hooks) == n


def test_retain_grad_accumulates_and_is_checked():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert not y.retains_grad
    y.retain_grad()
    y.retain_grad()                            # twice: still once
    (y * y).sum().backward(retain_graph=True)
    (y * y).sum().backward()
    assert y.grad.tolist() == [8.0, 16.0]
    assert not x.retains_grad                  # a leaf keeps its .grad anyway
    with pytest.raises(RuntimeError):
        cr.ones(2).retain_grad()


class _Two:
    """A module with two positional inputs (one a number) and two outputs."""

    @staticmethod
    def make(lib):
        class Two(lib.nn.Module):
            def forward(self, a, k, b):
                return a * b * k, a + b
        return Two()


def _module_hooks(lib, log):
    m = _Two.make(lib)
    def fmt(gs):
        return [None if g is None else g.tolist() for g in gs]
    m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", fmt(go))))
    m.register_full_backward_hook(lambda mod, gi, go: log.append(("full", fmt(gi), fmt(go))))
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0], requires_grad=True)
    o1, o2 = m(a, 2.0, b)
    (o1.sum() + 2 * o2.sum()).backward()
    return a.grad.tolist(), b.grad.tolist()


def test_module_backward_hooks_match_torch():
    torch = pytest.importorskip("torch")
    log_cr, log_t = [], []
    assert _module_hooks(cr, log_cr) == _module_hooks(torch, log_t)
    assert log_cr == log_t


def test_module_backward_hooks_replace_gradients_like_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (cr, torch):
        lib.manual_seed(0)
        lin = lib.nn.Linear(3, 2).double()
        with lib.no_grad():
            lin.weight.copy_(lib.tensor([[1., 2., 3.], [-1., 0., 1.]], dtype=lib.float64))
        h1 = lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
        h2 = lin.register_full_backward_hook(lambda m, gi, go: (gi[0] + 1,))
        x = lib.tensor([[1., 1., 1.]], dtype=lib.float64, requires_grad=True)
        lin(x).sum().backward()
        first = (x.grad.tolist(), lin.weight.grad.tolist())
        h1.remove()
        h2.remove()
        x.grad = None
        lin.weight.grad = None
        lin(x).sum().backward()
        results.append((first, x.grad.tolist(), lin.weight.grad.tolist()))
    assert results[0] == results[1]


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_module_hooks_when_no_input_requires_grad():
    torch = pytest.importorskip("torch")
    logs = []
    for lib in (cr, torch):
        log = []
        lin = lib.nn.Linear(2, 1)
        lin.register_full_backward_hook(
            lambda m, gi, go, log=log: log.append(
                (gi, None if go[0] is None else tuple(go[0].shape))))
        lin(lib.ones(4, 2)).sum().backward()
        logs.append(log)
    assert logs[0] == logs[1] == [((None,), (4, 1))]


def test_module_hooks_on_a_submodule_of_a_model():
    model = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU(), cr.nn.Linear(3, 2))
    shapes = []
    model[2].register_full_backward_hook(
        lambda m, gi, go: shapes.append((tuple(gi[0].shape), tuple(go[0].shape))))
    model(cr.randn(5, 4)).sum().backward()
    assert shapes == [((5, 3), (5, 2))]
    assert model[0].weight.grad is not None


def test_inference_mode():
    torch = pytest.importorskip("torch")
    for lib in (cr, torch):
        x = lib.ones(2, requires_grad=True)
        with lib.inference_mode():
            assert not lib.is_grad_enabled() and lib.is_inference_mode_enabled()
            y = x * 2
        assert not y.requires_grad and lib.is_grad_enabled()
        assert not lib.is_inference_mode_enabled()
        with lib.inference_mode(False):
            assert lib.is_grad_enabled()

        @lib.inference_mode()
        def f(t):
            return (t * 3).requires_grad
        assert f(x) is False


def test_inference_tensors_cannot_be_saved_for_backward_but_a_clone_can():
    """As PyTorch (the full rules: tests/autograd/test_inference_mode.py)."""
    with cr.inference_mode():
        c = cr.ones(2) * 3
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        c * w
    (c.clone() * w).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_materialize_grads_false_passes_none():
    class Split(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            ctx.seen = (g1 is None, g2 is None)
            Split.last = ctx.seen
            return g1 if g2 is None else g1 + 2 * g2

    x = cr.ones(2, requires_grad=True)
    a, _ = Split.apply(x)
    a.sum().backward()
    assert Split.last == (False, True) and x.grad.tolist() == [1.0, 1.0]


def test_materialize_grads_false_passes_none_to_an_ops_first_order_backward():
    from chainrule.function import Op

    class Split(Op):
        """(x, 2x); backward on arrays, an unused output's gradient left as None."""
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x.data * 1, x.data * 2

        @staticmethod
        def backward(ctx, g1, g2):
            Split.last = (g1 is None, g2 is None)
            return 2 * g2 if g1 is None else g1 if g2 is None else g1 + 2 * g2

    x = cr.ones(2, requires_grad=True)
    a, _ = Split.apply(x)
    a.sum().backward()
    assert Split.last == (False, True) and x.grad.tolist() == [1.0, 1.0]
    _, b = Split.apply(x)
    b.sum().backward()
    assert Split.last == (True, False) and x.grad.tolist() == [3.0, 3.0]
