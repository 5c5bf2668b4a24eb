"""cr.func: vmap (batched, no Python loop) and the derivative transforms, against per-sample
loops and against torch.func."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import function
from chainrule.func import batched
from chainrule.grad_mode import state

F = cr.nn.functional
R = np.random.default_rng(1)


def A(*shape):
    return R.normal(size=shape)


def _loop(fn, arrays, dims):
    """The per-sample reference: fn on each sample (chainrule, no vmap), stacked."""
    n = next(a.shape[d] for a, d in zip(arrays, dims) if d is not None)
    outs = []
    for i in range(n):
        args = [cr.tensor(a if d is None else np.take(a, i, axis=d)) for a, d in zip(arrays, dims)]
        outs.append(fn(cr, *args).numpy())
    return np.stack(outs)


# name, per-sample function of (library, *args), arrays, in_dims
VMAP_CASES = [
    ("add_broadcast", lambda m, x, b: x + b, [A(5, 3), A(4, 3)], (0, None)),
    ("mul_both", lambda m, x, y: x * y, [A(5, 3), A(5, 3)], (0, 0)),
    ("scalar_ops", lambda m, x: (2 - x) / 3 + x ** 2 - (-x), [A(5, 4)], (0,)),
    ("pow_tensor", lambda m, x, y: m.abs(x) ** y, [A(5, 3), A(3)], (0, None)),
    ("unary", lambda m, x: m.exp(m.tanh(x)) + m.sigmoid(x) * m.sin(x) - m.cos(x) + m.relu(x),
     [A(5, 2, 3)], (0,)),
    ("log_sqrt", lambda m, x: m.log(m.abs(x) + 1) + m.sqrt(m.abs(x)) + m.log1p(m.abs(x)),
     [A(4, 3)], (0,)),
    ("clamp_where", lambda m, x, y: m.where(x > 0, m.clamp(x, -0.5, 0.5), y),
     [A(5, 3), A(5, 3)], (0, 0)),
    ("max_min", lambda m, x, y: m.maximum(x, y) - m.minimum(x, y), [A(5, 3), A(3)], (0, None)),
    ("sum_all", lambda m, x: x.sum(), [A(5, 3, 2)], (0,)),
    ("sum_dims", lambda m, x: x.sum(dim=(0, -1), keepdim=True), [A(5, 3, 2, 4)], (0,)),
    ("mean_std", lambda m, x: x.mean(-1) + x.std(0) .sum(), [A(5, 3, 4)], (0,)),
    ("amax_lse", lambda m, x: m.amax(x, dim=1) + m.logsumexp(x, dim=0).sum(), [A(5, 3, 4)], (0,)),
    ("norm_prod", lambda m, x: m.norm(x) + x.prod(), [A(5, 4)], (0,)),
    ("softmax", lambda m, x: m.softmax(x, dim=-1) * m.log_softmax(x, dim=0), [A(5, 3, 4)], (0,)),
    ("matmul_mat_shared", lambda m, x, w: x @ w, [A(5, 3, 4), A(4, 2)], (0, None)),
    ("matmul_vec_shared", lambda m, x, w: x @ w, [A(5, 4), A(4, 2)], (0, None)),
    ("matmul_shared_vec", lambda m, w, x: w @ x, [A(3, 4), A(5, 4)], (None, 0)),
    ("matmul_dot", lambda m, x, y: x @ y, [A(5, 4), A(5, 4)], (0, 0)),
    ("matmul_batched", lambda m, x, y: m.matmul(x, y), [A(5, 2, 3, 4), A(5, 4, 2)], (0, 0)),
    ("matmul_batch_broadcast", lambda m, x, y: m.matmul(x, y), [A(5, 3, 4), A(2, 4, 2)],
     (0, None)),
    ("linear", lambda m, x, w, b: m.nn.functional.linear(x, w, b), [A(5, 3), A(2, 3), A(2)],
     (0, None, None)),
    ("linear_per_sample_w", lambda m, x, w, b: m.nn.functional.linear(x, w, b),
     [A(5, 3), A(5, 2, 3), A(2)], (0, 0, None)),
    ("reshape_view", lambda m, x: x.reshape(4, 3).view(-1).flatten(), [A(5, 3, 4)], (0,)),
    ("permute_t", lambda m, x: x.permute(2, 0, 1).transpose(0, 1) + x.sum(0).T.unsqueeze(0),
     [A(5, 3, 4, 2)], (0,)),
    ("expand_squeeze", lambda m, x: x.unsqueeze(0).expand(2, 3, 4).squeeze(), [A(5, 3, 4)],
     (0,)),
    ("broadcast_sum_to", lambda m, x, b: (x + b).sum(), [A(5, 1, 4), A(3, 1)], (0, None)),
    ("cat_stack_mixed", lambda m, x, c: m.cat([x, c, x], dim=-1) + m.stack([x, c]).sum(0).sum(),
     [A(5, 3, 2), A(3, 2)], (0, None)),
    ("getitem", lambda m, x: x[1:, ::2] * x[0, 1], [A(5, 3, 4)], (0,)),
    ("getitem_array", lambda m, x: x[m.tensor([2, 0, 2])], [A(5, 3, 4)], (0,)),
    ("getitem_separated", lambda m, x: x[m.tensor([1, 0]), :, m.tensor([0, 1])],
     [A(5, 3, 2, 4)], (0,)),
    ("gather", lambda m, x: m.gather(x, 1, m.tensor([[0, 0], [1, 0], [2, 2]])), [A(5, 3, 4)],
     (0,)),
    ("to_dtype_clone", lambda m, x: x.to(m.float32).clone().to(m.float64) * 2, [A(5, 3)], (0,)),
    ("compare_mask", lambda m, x, y: m.where((x > 0) & ~(y < x), x, y * 2).masked_fill(x > 1, 0.),
     [A(5, 3), A(5, 3)], (0, 0)),
    ("isnan_logic", lambda m, x: m.where(m.isnan(x.log()) | (x == x.max()), 0., x),
     [A(5, 3)], (0,)),
    ("argmax_max_dim", lambda m, x: m.max(x, dim=1)[0] * m.argmax(x, dim=1).double()
     + m.argmax(x).double(), [A(5, 3, 4)], (0,)),
    ("in_dim_1", lambda m, x, y: x * y.sum(), [A(3, 5), A(4, 5)], (1, 1)),
    ("in_dim_neg", lambda m, x: x.sum(0), [A(3, 2, 5)], (-1,)),
    ("mlp", lambda m, x, w1, w2: m.tanh(x @ w1).relu() @ w2, [A(6, 4), A(4, 5), A(5, 2)],
     (0, None, None)),
]


@pytest.mark.parametrize("name,fn,arrays,dims", VMAP_CASES, ids=[c[0] for c in VMAP_CASES])
def test_vmap_matches_per_sample_loop(name, fn, arrays, dims):
    out = cr.func.vmap(lambda *a: fn(cr, *a), in_dims=dims)(*[cr.tensor(a) for a in arrays])
    np.testing.assert_allclose(out.numpy(), _loop(fn, arrays, dims), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,fn,arrays,dims", VMAP_CASES, ids=[c[0] for c in VMAP_CASES])
def test_vmap_matches_torch(name, fn, arrays, dims):
    torch = pytest.importorskip("torch")
    out = cr.func.vmap(lambda *a: fn(cr, *a), in_dims=dims)(*[cr.tensor(a) for a in arrays])
    expect = torch.func.vmap(lambda *a: fn(torch, *a), in_dims=dims)(
        *[torch.tensor(a) for a in arrays])
    np.testing.assert_allclose(out.numpy(), expect.numpy(), rtol=1e-12, atol=1e-12)


class _CountingOp:
    """Counts the ops that reach the engine's apply (vmap must run each op once per batch)."""

    def __init__(self):
        self.n = 0

    def __enter__(self):
        self.orig = function.Function.__dict__["apply"]
        counter = self

        @classmethod
        def apply(cls, *args, **kwargs):
            if state.dispatch is None:
                counter.n += 1
            return counter.orig.__func__(cls, *args, **kwargs)
        function.Function.apply = apply
        return self

    def __exit__(self, *exc):
        function.Function.apply = self.orig


def test_vmap_is_one_call_per_op_not_a_loop():
    f = cr.func.vmap(lambda x, w: (x @ w).relu().sum())
    x, w = cr.randn(64, 8), cr.randn(64, 8, 3)
    with _CountingOp() as c:
        f(x, w)
    assert 0 < c.n < 20            # a handful of batched ops, not 64 × per-sample ops


def test_vmap_in_out_dims_nested_structures_and_out_dims():
    x, y = cr.randn(3, 4), cr.randn(4, 2)
    out = cr.func.vmap(lambda d: {"s": d["a"] * 2, "t": (d["a"].sum(), d["b"])},
                       in_dims=({"a": 0, "b": None},))({"a": x, "b": y})
    np.testing.assert_allclose(out["s"].numpy(), 2 * x.numpy())
    np.testing.assert_allclose(out["t"][0].numpy(), x.numpy().sum(1), rtol=1e-6)
    assert out["t"][1].shape == (3, 4, 2)           # unbatched outputs are repeated
    o = cr.func.vmap(lambda a: a * 2, in_dims=0, out_dims=1)(cr.randn(3, 4, 5))
    assert o.shape == (4, 3, 5)


def test_vmap_kwargs_unbatched_and_chunk_size():
    x = cr.randn(7, 3)
    f = cr.func.vmap(lambda a, scale=1.0: a.sum() * scale, chunk_size=3)
    np.testing.assert_allclose(f(x, scale=2.0).numpy(), 2 * x.numpy().sum(1), rtol=1e-6)


def test_nested_vmap_is_an_outer_product():
    x, y = cr.tensor(A(3, 4)), cr.tensor(A(5, 4))
    out = cr.func.vmap(cr.func.vmap(lambda a, b: (a * b).sum(), in_dims=(None, 0)),
                       in_dims=(0, None))(x, y)
    np.testing.assert_allclose(out.numpy(), x.numpy() @ y.numpy().T, rtol=1e-12)


def test_vmap_errors_are_clear():
    x = cr.randn(4, 3)
    with pytest.raises(RuntimeError, match="item"):
        cr.func.vmap(lambda a: a * a.sum().item())(x)
    with pytest.raises(RuntimeError, match="an `if` on a tensor"):
        cr.func.vmap(lambda a: a if a.sum() > 0 else -a)(x)
    with pytest.raises(RuntimeError, match="print"):
        cr.func.vmap(lambda a: print(a) or a)(x)
    with pytest.raises(RuntimeError, match="random operation \\(dropout\\)"):
        cr.func.vmap(lambda a: F.dropout(a, 0.5, training=True))(x)
    with pytest.raises(ValueError, match="same size"):
        cr.func.vmap(lambda a, b: a + b)(x, cr.randn(5, 3))
    with pytest.raises(ValueError, match="no argument is mapped"):
        cr.func.vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(IndexError, match="out of range"):
        cr.func.vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(RuntimeError, match="must return tensors"):
        cr.func.vmap(lambda a: 3)(x)
    leaked = []
    cr.func.vmap(lambda a: leaked.append(a) or a)(x)
    with pytest.raises(RuntimeError, match="escaped"):
        leaked[0] + 1
    assert function.dispatch_levels == 0 and state.dispatch is None


def test_vmap_detach_cuts_the_graph():
    w = cr.randn(3, requires_grad=True)
    out = cr.func.vmap(lambda a: (a * w).detach() * w + a * w, in_dims=0)(cr.randn(4, 3))
    out.sum().backward()
    assert w.grad is not None


def test_grad_through_vmap_matches_torch():
    torch = pytest.importorskip("torch")
    x, w = A(6, 4), A(4)
    xc, wc = cr.tensor(x), cr.tensor(w, requires_grad=True)
    cr.func.vmap(lambda a: cr.tanh(a @ wc))(xc).sum().backward()
    xt, wt = torch.tensor(x), torch.tensor(w, requires_grad=True)
    torch.func.vmap(lambda a: torch.tanh(a @ wt))(xt).sum().backward()
    np.testing.assert_allclose(wc.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def _loss(m):
    def loss(params, x, y):
        h = m.tanh(x @ params["w1"] + params["b1"])
        return ((h @ params["w2"] - y) ** 2).mean()
    return loss


def _params(lib):
    rng = np.random.default_rng(5)
    return {"w1": lib.tensor(rng.normal(size=(4, 8))), "b1": lib.tensor(rng.normal(size=8)),
            "w2": lib.tensor(rng.normal(size=(8, 2)))}


def test_per_sample_gradients_match_torch():
    torch = pytest.importorskip("torch")
    x, y = A(7, 4), A(7, 2)
    got = cr.func.vmap(cr.func.grad(_loss(cr)), in_dims=(None, 0, 0))(
        _params(cr), cr.tensor(x), cr.tensor(y))
    want = torch.func.vmap(torch.func.grad(_loss(torch)), in_dims=(None, 0, 0))(
        _params(torch), torch.tensor(x), torch.tensor(y))
    for k in want:
        assert got[k].shape == tuple(want[k].shape)
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=1e-10, atol=1e-12)


def test_per_sample_gradients_of_a_module_with_functional_call():
    torch = pytest.importorskip("torch")
    model = cr.nn.Sequential(cr.nn.Linear(3, 5), cr.nn.Tanh(), cr.nn.Linear(5, 1)).double()
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(),
                                 torch.nn.Linear(5, 1)).double()
    tmodel.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    x, y = A(6, 3), A(6, 1)

    def make(lib, mod):
        def loss(p, xi, yi):
            out = lib.func.functional_call(mod, p, (xi.unsqueeze(0),))
            return ((out - yi.unsqueeze(0)) ** 2).mean()
        return loss
    got = cr.func.vmap(cr.func.grad(make(cr, model)), in_dims=(None, 0, 0))(
        {k: v.detach() for k, v in model.named_parameters()}, cr.tensor(x), cr.tensor(y))
    want = torch.func.vmap(torch.func.grad(make(torch, tmodel)), in_dims=(None, 0, 0))(
        {k: v.detach() for k, v in tmodel.named_parameters()}, torch.tensor(x), torch.tensor(y))
    for k in want:
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=1e-10, atol=1e-12)
    assert model[0].weight.grad is None      # the module's own parameters are untouched


def f_scalar(m):
    return lambda x, y: (m.sin(x) * y).sum() + (x ** 2).sum() * y[0]


def f_vec(m):
    return lambda x, y: m.tanh(x * y.sum()) ** 2


def _both(name, *args, **kw):
    torch = pytest.importorskip("torch")
    return (getattr(cr.func, name), getattr(torch.func, name), torch)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_grad_and_jacobians_match_torch(argnums):
    torch = pytest.importorskip("torch")
    x, y = A(3), A(3)
    cx, cy, tx, ty = cr.tensor(x), cr.tensor(y), torch.tensor(x), torch.tensor(y)
    pairs = [(cr.func.grad(f_scalar(cr), argnums)(cx, cy),
              torch.func.grad(f_scalar(torch), argnums)(tx, ty)),
             (cr.func.jacrev(f_vec(cr), argnums)(cx, cy),
              torch.func.jacrev(f_vec(torch), argnums)(tx, ty)),
             (cr.func.jacfwd(f_vec(cr), argnums)(cx, cy),
              torch.func.jacfwd(f_vec(torch), argnums)(tx, ty)),
             (cr.func.hessian(f_scalar(cr), argnums)(cx, cy),
              torch.func.hessian(f_scalar(torch), argnums)(tx, ty))]
    for got, want in pairs:
        got_l = list(_leaves(got))
        want_l = list(_leaves(want))
        assert len(got_l) == len(want_l)
        for g, w in zip(got_l, want_l):
            assert not g.requires_grad
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-10, atol=1e-12)


def _leaves(t):
    if isinstance(t, (tuple, list)):
        for s in t:
            yield from _leaves(s)
    else:
        yield t


def test_grad_and_value_has_aux_and_nesting():
    x = cr.tensor([0.5, -1.0], dtype=cr.float64)
    g, (v, aux) = cr.func.grad_and_value(lambda a: ((a ** 3).sum(), a * 2), has_aux=True)(x)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    assert v.item() == pytest.approx(0.125 - 1) and aux.tolist() == [1.0, -2.0]
    d2 = cr.func.grad(lambda a: cr.func.grad(lambda b: (b ** 3).sum())(a).sum())(x)
    np.testing.assert_allclose(d2.numpy(), 6 * x.numpy())
    with pytest.raises(RuntimeError, match="one-element"):
        cr.func.grad(lambda a: a * 2)(x)


def test_vjp_and_jvp_match_torch():
    torch = pytest.importorskip("torch")
    x, v, u = A(4), A(4), A(4)
    out, fn = cr.func.vjp(lambda a: cr.sin(a) * a, cr.tensor(x))
    tout, tfn = torch.func.vjp(lambda a: torch.sin(a) * a, torch.tensor(x))
    np.testing.assert_allclose(out.numpy(), tout.numpy())
    np.testing.assert_allclose(fn(cr.tensor(v))[0].numpy(), tfn(torch.tensor(v))[0].numpy())
    p, t = cr.func.jvp(lambda a, b: a * cr.exp(b), (cr.tensor(x), cr.tensor(v)),
                       (cr.tensor(u), cr.tensor(v)))
    tp, tt = torch.func.jvp(lambda a, b: a * torch.exp(b), (torch.tensor(x), torch.tensor(v)),
                            (torch.tensor(u), torch.tensor(v)))
    np.testing.assert_allclose(p.numpy(), tp.numpy())
    np.testing.assert_allclose(t.numpy(), tt.numpy(), rtol=1e-12)


def test_vmap_of_jacrev_gives_per_sample_jacobians():
    torch = pytest.importorskip("torch")
    x, w = A(5, 3), A(3, 2)
    got = cr.func.vmap(cr.func.jacrev(lambda a: cr.tanh(a @ cr.tensor(w))))(cr.tensor(x))
    want = torch.func.vmap(torch.func.jacrev(lambda a: torch.tanh(a @ torch.tensor(w))))(
        torch.tensor(x))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_jacfwd_inside_vmap_is_refused_clearly():
    with pytest.raises(RuntimeError, match="jacfwd inside vmap"):
        cr.func.vmap(cr.func.jacfwd(lambda a: a * 2))(cr.randn(3, 2))


def test_register_batching_rule_for_a_custom_function():
    class Double(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with pytest.raises(NotImplementedError, match="Double has no batching rule"):
        cr.func.vmap(Double.apply)(cr.randn(3, 2))
    cr.func.register_batching_rule(Double, cr.func.rules.elementwise)
    try:
        x = cr.randn(3, 2)
        np.testing.assert_allclose(cr.func.vmap(Double.apply)(x).numpy(), 2 * x.numpy())
    finally:
        del batched.RULES[Double]


def test_functional_call_swaps_and_restores():
    lin = cr.nn.Linear(2, 1)
    w = cr.ones(1, 2)
    out = cr.func.functional_call(lin, {"weight": w, "bias": cr.zeros(1)}, (cr.tensor([[1., 2.]]),))
    assert out.item() == 3.0 and lin.weight is not w
    with pytest.raises(KeyError, match="unexpected"):
        cr.func.functional_call(lin, {"weights": w}, (cr.ones(1, 2),))
    with pytest.raises(KeyError, match="missing"):
        cr.func.functional_call(lin, {"weight": w}, (cr.ones(1, 2),), strict=True)


STANDIN = ["add_broadcast", "mul_both", "unary", "sum_dims", "softmax", "matmul_mat_shared",
           "matmul_dot", "linear", "linear_per_sample_w", "reshape_view", "permute_t",
           "cat_stack_mixed", "getitem", "compare_mask", "mlp"]


@pytest.mark.parametrize("name", STANDIN)
def test_vmap_on_the_standin_device_equals_cpu(name):
    from chainrule.backend.cuda import use_standin
    fn, arrays, dims = next((c[1], c[2], c[3]) for c in VMAP_CASES if c[0] == name)
    cpu = cr.func.vmap(lambda *a: fn(cr, *a), in_dims=dims)(*[cr.tensor(a) for a in arrays])
    with use_standin() as ns:
        out = cr.func.vmap(lambda *a: fn(cr, *a), in_dims=dims)(
            *[cr.Tensor(ns.asarray(a)) for a in arrays])
        assert out.is_cuda
        np.testing.assert_allclose(out._data.get(), cpu.numpy(), rtol=1e-12, atol=1e-12)


def test_per_sample_gradients_on_the_standin_device():
    from chainrule.backend.cuda import use_standin
    x, y = A(5, 4), A(5, 2)
    cpu = cr.func.vmap(cr.func.grad(_loss(cr)), in_dims=(None, 0, 0))(
        _params(cr), cr.tensor(x), cr.tensor(y))
    with use_standin():
        dev = {k: v.to("cuda") for k, v in _params(cr).items()}
        got = cr.func.vmap(cr.func.grad(_loss(cr)), in_dims=(None, 0, 0))(
            dev, cr.tensor(x).to("cuda"), cr.tensor(y).to("cuda"))
        for k in cpu:
            assert got[k].is_cuda
            np.testing.assert_allclose(got[k]._data.get(), cpu[k].numpy(), rtol=1e-12)


def test_an_op_without_a_batching_rule_runs_once_per_element_with_one_warning():
    from chainrule.func import batched
    x = cr.randn(4, 3, 5, dtype=cr.float64, requires_grad=True)
    batched._warned.discard(type(cr.cumsum(x, 0).grad_fn))
    with pytest.warns(UserWarning, match="CumSum has no batching rule"):
        y = cr.func.vmap(lambda a: cr.cumsum(a, 1) * 2)(x)
    np.testing.assert_allclose(y.detach().numpy(), np.cumsum(x.detach().numpy(), 2) * 2)
    (y * cr.arange(5.0, dtype=cr.float64)).sum().backward()
    want = np.cumsum(np.arange(5.0)[::-1], 0)[::-1] * 2
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(want, (4, 3, 5)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # once per op
        cr.func.vmap(lambda a: cr.cumsum(a, 0))(x.detach())
    from chainrule.linalg.decompositions import QR
    batched._warned.discard(QR)
    with pytest.warns(UserWarning, match="QR has no batching rule"):
        q, r = cr.func.vmap(cr.linalg.qr)(x.detach())   # an op with several outputs
    np.testing.assert_allclose((q @ r).numpy(), x.detach().numpy(), atol=1e-12)
