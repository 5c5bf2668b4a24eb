"""Forward-mode AD (``cr.autograd.forward_ad``): each op's jvp against torch.autograd.forward_ad
and against reverse mode (J v from the full Jacobian), plus the dual-level API."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import forward_ad as fwAD
from chainrule.errors import ChainruleError

F = cr.nn.functional
R = np.random.default_rng(0)


def _pos(*s):
    return R.uniform(0.5, 2.0, s)


def _any(*s):
    return R.normal(size=s)


# name, function of (library, *inputs), input arrays (float64)
CASES = [
    ("add", lambda m, a, b: a + b, [_any(3, 4), _any(4)]),
    ("sub", lambda m, a, b: a - b, [_any(3, 4), _any(3, 1)]),
    ("mul", lambda m, a, b: a * b, [_any(3, 4), _any(3, 4)]),
    ("mul_scalar", lambda m, a: 2.5 * a, [_any(5)]),
    ("div", lambda m, a, b: a / b, [_any(3, 4), _pos(4)]),
    ("rdiv", lambda m, a: 1.5 / a, [_pos(4)]),
    ("neg", lambda m, a: -a, [_any(2, 3)]),
    ("pow", lambda m, a, b: a ** b, [_pos(3, 2), _any(3, 2)]),
    ("pow_scalar", lambda m, a: a ** 3, [_any(4)]),
    ("rpow", lambda m, a: 2.0 ** a, [_any(4)]),
    ("matmul", lambda m, a, b: a @ b, [_any(3, 4), _any(4, 2)]),
    ("matmul_vec", lambda m, a, b: a @ b, [_any(4), _any(2, 4, 3)]),
    ("matmul_batched", lambda m, a, b: m.matmul(a, b), [_any(2, 3, 4), _any(4, 5)]),
    ("exp", lambda m, a: m.exp(a), [_any(3, 2)]),
    ("log", lambda m, a: m.log(a), [_pos(3, 2)]),
    ("log1p", lambda m, a: m.log1p(a), [_pos(5)]),
    ("sqrt", lambda m, a: m.sqrt(a), [_pos(5)]),
    ("sin", lambda m, a: m.sin(a), [_any(5)]),
    ("cos", lambda m, a: m.cos(a), [_any(5)]),
    ("tanh", lambda m, a: m.tanh(a), [_any(5)]),
    ("sigmoid", lambda m, a: m.sigmoid(a), [_any(5)]),
    ("relu", lambda m, a: m.relu(a), [_any(6)]),
    ("abs", lambda m, a: m.abs(a), [_any(6)]),
    ("clamp", lambda m, a: m.clamp(a, -0.5, 0.5), [_any(8)]),
    ("clamp_tensors", lambda m, a, lo, hi: m.clamp(a, lo, hi),
     [_any(8), _any(8) - 1, _any(8) + 1]),
    ("maximum", lambda m, a, b: m.maximum(a, b), [_any(6), _any(6)]),
    ("minimum", lambda m, a, b: m.minimum(a, b), [_any(6), _any(6)]),
    ("where", lambda m, a, b: m.where(a > 0, a, b), [_any(6), _any(6)]),
    ("sign", lambda m, a: m.sign(a) * a, [_any(6)]),
    ("sum", lambda m, a: a.sum(), [_any(3, 4)]),
    ("sum_dim", lambda m, a: a.sum(dim=1, keepdim=True), [_any(3, 4)]),
    ("mean", lambda m, a: a.mean(0), [_any(3, 4)]),
    ("std", lambda m, a: a.std(1), [_any(3, 4)]),
    ("prod", lambda m, a: a.prod(1), [_any(3, 4)]),
    ("amax", lambda m, a: m.amax(a, dim=0), [_any(3, 4)]),
    ("max_dim", lambda m, a: m.max(a, dim=1)[0], [_any(3, 4)]),
    ("logsumexp", lambda m, a: m.logsumexp(a, dim=1), [_any(3, 4)]),
    ("norm", lambda m, a: m.norm(a), [_any(3, 4)]),
    ("gather", lambda m, a: m.gather(a, 1, m.tensor([[0, 2], [1, 1], [3, 0]])), [_any(3, 4)]),
    ("reshape", lambda m, a: a.reshape(4, 3), [_any(3, 4)]),
    ("view_flatten", lambda m, a: a.flatten(), [_any(3, 4)]),
    ("transpose", lambda m, a: a.transpose(0, 1), [_any(3, 4)]),
    ("permute", lambda m, a: a.permute(2, 0, 1), [_any(2, 3, 4)]),
    ("expand", lambda m, a: a.expand(3, 4), [_any(1, 4)]),
    ("unsqueeze", lambda m, a: a.unsqueeze(1), [_any(3, 4)]),
    ("cat", lambda m, a, b: m.cat([a, b], 1), [_any(3, 4), _any(3, 2)]),
    ("stack", lambda m, a, b: m.stack([a, b]), [_any(3), _any(3)]),
    ("getitem", lambda m, a: a[1:, ::2], [_any(3, 4)]),
    ("getitem_adv", lambda m, a: a[m.tensor([0, 2, 2])], [_any(3, 4)]),
    ("softmax", lambda m, a: m.softmax(a, dim=1), [_any(3, 4)]),
    ("log_softmax", lambda m, a: m.log_softmax(a, dim=0), [_any(3, 4)]),
    ("clone", lambda m, a: a.clone(), [_any(3)]),
    ("to_float32", lambda m, a: a.to(m.float32).sum().to(m.float64), [_any(3)]),
    ("linear", lambda m, x, w, b: m.nn.functional.linear(x, w, b),
     [_any(5, 3), _any(4, 3), _any(4)]),
    ("linear_3d", lambda m, x, w: m.nn.functional.linear(x, w), [_any(2, 5, 3), _any(4, 3)]),
    ("mlp", lambda m, x, w1, w2: m.tanh(x @ w1).relu() @ w2, [_any(4, 3), _any(3, 5), _any(5, 2)]),
]


def _cr_jvp(fn, arrays, tangents):
    with fwAD.dual_level():
        duals = [fwAD.make_dual(cr.tensor(a), cr.tensor(t)) for a, t in zip(arrays, tangents)]
        out = fn(cr, *duals)
        primal, tangent = fwAD.unpack_dual(out)
    return primal.numpy(), None if tangent is None else tangent.numpy()


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_jvp_matches_reverse_mode_jacobian(name, fn, arrays):
    """J v from forward mode equals J v assembled from reverse-mode rows."""
    tangents = [R.normal(size=a.shape) for a in arrays]
    primal, tangent = _cr_jvp(fn, arrays, tangents)
    xs = [cr.tensor(a) for a in arrays]
    jac = cr.autograd.functional.jacobian(lambda *z: fn(cr, *z), tuple(xs))
    jac = jac if isinstance(jac, tuple) else (jac,)
    expect = sum(np.tensordot(j.numpy(), t, axes=t.ndim) for j, t in zip(jac, tangents))
    np.testing.assert_allclose(primal, fn(cr, *xs).numpy())
    tol = 1e-6 if "float32" in name else 1e-10      # the tangent is rounded to float32 there
    np.testing.assert_allclose(tangent, expect, rtol=tol, atol=1e-12)


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_jvp_matches_torch(name, fn, arrays):
    torch = pytest.importorskip("torch")
    import torch.autograd.forward_ad as tfw
    tangents = [R.normal(size=a.shape) for a in arrays]
    _, tangent = _cr_jvp(fn, arrays, tangents)
    with tfw.dual_level():
        duals = [tfw.make_dual(torch.tensor(a), torch.tensor(t)) for a, t in zip(arrays, tangents)]
        expect = tfw.unpack_dual(fn(torch, *duals)).tangent
    tol = 1e-6 if "float32" in name else 1e-10
    np.testing.assert_allclose(tangent, expect.numpy(), rtol=tol, atol=1e-12)


def test_ties_and_kinks_follow_torch():
    torch = pytest.importorskip("torch")
    import torch.autograd.forward_ad as tfw
    cases = [(lambda m, a, b: m.maximum(a, b), [np.array([1., 2., 3.]), np.array([1., 0., 3.])]),
             (lambda m, a: m.relu(a), [np.array([-1., 0., 2.])]),
             (lambda m, a: m.abs(a), [np.array([-1., 0., 2.])]),
             (lambda m, a: m.clamp(a, 0., 1.), [np.array([-1., 0., 0.5, 1., 2.])]),
             (lambda m, a: m.amax(a), [np.array([1., 3., 3.])])]
    for fn, arrays in cases:
        tangents = [np.arange(1., a.size + 1) for a in arrays]
        _, t = _cr_jvp(fn, arrays, tangents)
        with tfw.dual_level():
            duals = [tfw.make_dual(torch.tensor(a), torch.tensor(v))
                     for a, v in zip(arrays, tangents)]
            expect = tfw.unpack_dual(fn(torch, *duals)).tangent.numpy()
        np.testing.assert_allclose(t, expect)


def test_float32_tangents_keep_dtype():
    with fwAD.dual_level():
        x = fwAD.make_dual(cr.ones(3), cr.full((3,), 2.0))
        y = fwAD.unpack_dual(cr.exp(x) * 3)
    assert y.tangent.dtype == cr.float32 and y.primal.dtype == cr.float32
    np.testing.assert_allclose(y.tangent.numpy(), 6 * np.e * np.ones(3), rtol=1e-6)


def test_unpack_dual_of_plain_tensor_and_outside_level():
    x = cr.ones(2)
    p, t = fwAD.unpack_dual(x)
    assert p is x and t is None
    with fwAD.dual_level():
        assert fwAD.unpack_dual(x).tangent is None
        d = fwAD.make_dual(x, cr.ones(2))
        primal = fwAD.unpack_dual(d).primal
        assert fwAD.unpack_dual(primal).tangent is None      # the primal carries no tangent
        assert fwAD.unpack_dual(d * 2).tangent.tolist() == [2.0, 2.0]
    assert fwAD.unpack_dual(d).tangent is None               # dropped when the level exits


def test_make_dual_errors():
    with pytest.raises(RuntimeError, match="dual_level"):
        fwAD.make_dual(cr.ones(2), cr.ones(2))
    with fwAD.dual_level():
        with pytest.raises(ValueError, match="shape"):
            fwAD.make_dual(cr.ones(2), cr.ones(3))
        with pytest.raises(TypeError, match="dtype"):
            fwAD.make_dual(cr.ones(2), cr.ones(2, dtype=cr.float64))
        with pytest.raises(TypeError, match="floating-point"):
            fwAD.make_dual(cr.ones(2, dtype=cr.int64), cr.ones(2))


def test_op_without_jvp_names_itself():
    class Square(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g

    with fwAD.dual_level():
        x = fwAD.make_dual(cr.ones(2), cr.ones(2))
        with pytest.raises(NotImplementedError, match="Square defines no jvp") as e:
            Square.apply(x)
    assert isinstance(e.value, ChainruleError)


def test_custom_function_jvp():
    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x * x * g

        @staticmethod
        def jvp(ctx, tx):
            x, = ctx.primals
            return 3 * x * x * tx

    with fwAD.dual_level():
        x = fwAD.make_dual(cr.tensor([1., 2.]), cr.tensor([1., 1.]))
        assert fwAD.unpack_dual(Cube.apply(x)).tangent.tolist() == [3.0, 12.0]


def test_reverse_mode_through_tangent():
    """The tangent is differentiable: d/dx of (d/dt sin(x + t·1)) = -sin(x)."""
    x = cr.tensor([0.3, 1.2], dtype=cr.float64, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, cr.ones(2, dtype=cr.float64))
        t = fwAD.unpack_dual(cr.sin(d)).tangent
    t.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -np.sin([0.3, 1.2]))


def test_forward_over_reverse_hessian_vector_product():
    """The tangent of a gradient (create_graph) is the Hessian-vector product, saved outputs
    included (exp keeps its output for backward)."""
    a = np.array([0.2, -0.4, 0.9])
    v = np.array([1.0, 2.0, -1.0])
    with fwAD.dual_level():
        x = fwAD.make_dual(cr.tensor(a, requires_grad=True), cr.tensor(v))
        y = (cr.exp(x) * cr.sin(x)).sum()
        g, = cr.autograd.grad(y, x, create_graph=True)
        hv = fwAD.unpack_dual(g).tangent.detach().numpy()
    h = np.diag(np.exp(a) * (np.sin(a) + 2 * np.cos(a) - np.sin(a)))   # (eˣ sin x)'' = 2eˣcos x
    np.testing.assert_allclose(hv, h @ v, rtol=1e-6)


def test_nested_levels_give_second_derivative():
    with fwAD.dual_level():
        x1 = fwAD.make_dual(cr.tensor([0.5], dtype=cr.float64), cr.ones(1, dtype=cr.float64))
        with fwAD.dual_level():
            x2 = fwAD.make_dual(x1, cr.ones(1, dtype=cr.float64))
            y = x2 ** 3
            t2 = fwAD.unpack_dual(y).tangent          # 3x², still dual at the outer level
        assert fwAD.unpack_dual(t2).tangent.item() == pytest.approx(6 * 0.5)


def test_no_dispatch_left_after_levels():
    from chainrule import function
    from chainrule.grad_mode import state
    with fwAD.dual_level():
        pass
    assert function.dispatch_levels == 0 and state.dispatch is None


STANDIN = ["add", "mul", "div", "pow", "matmul", "exp", "log", "tanh", "sigmoid", "relu", "clamp",
           "maximum", "where", "sum_dim", "mean", "amax", "logsumexp", "reshape", "permute",
           "expand", "cat", "getitem", "getitem_adv", "softmax", "log_softmax", "to_float32",
           "linear", "mlp", "gather", "max_dim"]


@pytest.mark.parametrize("name", STANDIN)
def test_jvp_on_the_standin_device_equals_cpu(name):
    from chainrule.backend.cuda import use_standin
    fn, arrays = next((c[1], c[2]) for c in CASES if c[0] == name)
    tangents = [R.normal(size=a.shape) for a in arrays]
    _, cpu = _cr_jvp(fn, arrays, tangents)
    with use_standin() as ns:
        class Dev:
            """The library with tensor() making stand-in tensors (for the cases' constants)."""
            def __getattr__(self, k):
                return getattr(cr, k)

            @staticmethod
            def tensor(v, **kw):
                return cr.tensor(v, **kw).to("cuda")
        dev = Dev()
        with fwAD.dual_level():
            duals = [fwAD.make_dual(cr.Tensor(ns.asarray(a)), cr.Tensor(ns.asarray(t)))
                     for a, t in zip(arrays, tangents)]
            t = fwAD.unpack_dual(fn(dev, *duals)).tangent
        assert t.is_cuda
        np.testing.assert_allclose(t.data.get(), cpu, rtol=1e-6, atol=1e-12)
