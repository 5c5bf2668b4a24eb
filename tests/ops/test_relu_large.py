"""ReLU on large NumPy arrays takes a branch-free path (a row of zeros, a bit mask): exactly the
numbers of the plain path, also for NaN, inf and signed zeros in the incoming gradient."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.elementwise import _zero_where


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_bit_mask_is_where_exactly(dtype):
    rng = np.random.default_rng(0)
    g = rng.standard_normal((64, 64)).astype(dtype)
    g[0, :6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, -1.0]
    mask = rng.random((64, 64)) > 0.5
    mask[0, :6] = [False, False, False, False, True, False]
    got = _zero_where(~mask, g)
    want = np.where(~mask, 0, g).astype(dtype)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    assert not np.signbit(got[~mask]).any()          # +0 where zeroed, as PyTorch


@pytest.mark.parametrize("shape", [(3, 5), (64, 80), (3, 40, 50)])
def test_relu_forward_and_backward_match_torch_at_every_size(shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[:3] = [0.0, -0.0, np.nan]
    g = rng.standard_normal(shape).astype(np.float32)
    g.flat[3:6] = [np.nan, np.inf, -0.0]
    a = cr.tensor(x, requires_grad=True)
    y = cr.relu(a)
    y.backward(cr.tensor(g))
    t = torch.tensor(x, requires_grad=True)
    ty = torch.relu(t)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())


def test_a_compiled_step_with_a_large_relu_replays_bit_identically():
    def run(compiled):
        cr.manual_seed(0)
        model = cr.nn.Sequential(cr.nn.Linear(50, 128), cr.nn.ReLU(), cr.nn.Linear(128, 10))
        opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            loss = cr.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss.detach()

        fn = cr.compile(step) if compiled else step
        x, y = cr.randn(64, 50), cr.randint(0, 10, (64,))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            losses = [fn(x, y).item() for _ in range(8)]
        return fn, losses, [p.detach().numpy().copy() for p in model.parameters()]

    _, eager, eager_params = run(False)
    fn, compiled, params = run(True)
    assert [p.kind for p in fn.plans()] == ["flat"], [p.why_not_flat for p in fn.plans()]
    assert compiled == eager and all((a == b).all() for a, b in zip(params, eager_params))


def test_the_large_path_passes_gradcheck():
    # 1,024+ elements take the bit-mask backward; values kept away from the kink at 0
    x = cr.tensor(np.random.default_rng(2).choice([-1.0, 1.0], size=(32, 40))
                  * np.random.default_rng(3).uniform(0.1, 1.0, size=(32, 40)),
                  dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(cr.relu, (x,))
