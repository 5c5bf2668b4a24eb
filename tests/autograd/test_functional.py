"""``cr.autograd.functional``: Jacobians, Hessians and their products."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import functional as F

X = np.array([0.3, -0.7, 1.1])
Y = np.array([0.5, 0.2, -0.4])
V = np.array([1.0, -2.0, 0.5])


def t(a):
    return cr.tensor(np.asarray(a, dtype=np.float64))


def close(a, b, rtol=1e-10):
    np.testing.assert_allclose(a.detach().numpy() if hasattr(a, "detach") else a,
                               b.detach().numpy() if hasattr(b, "detach") else b,
                               rtol=rtol, atol=1e-12)


def cubic(x):
    """f(x) = Σ xᵢ³ · x₀: gradient and Hessian in closed form below."""
    return (x ** 3).sum() * x[0]


def cubic_grad(x):
    g = 3 * x ** 2 * x[0]
    g[0] += (x ** 3).sum()
    return g


def cubic_hessian(x):
    h = np.diag(6 * x * x[0])
    h[0, :] += 3 * x ** 2
    h[:, 0] += 3 * x ** 2
    return h


# ---- closed forms --------------------------------------------------------------------------------
def test_jacobian_of_an_elementwise_function_is_diagonal():
    j = F.jacobian(lambda x: x.sin(), t(X))
    close(j, np.diag(np.cos(X)))
    assert j.shape == (3, 3) and not j.requires_grad


def test_jacobian_of_a_linear_map_is_its_matrix():
    a = np.arange(6.0).reshape(2, 3)
    close(F.jacobian(lambda x: t(a) @ x, t(X)), a)


def test_jacobian_shapes_for_matrix_inputs_and_outputs():
    w = np.random.default_rng(0).standard_normal((2, 3))
    j = F.jacobian(lambda m: m @ m.T, t(w))
    assert j.shape == (2, 2, 2, 3)
    # d(WWᵀ)_{ik}/dW_{jl} = δ_ij W_kl + δ_kj W_il
    want = np.einsum("ij,kl->ikjl", np.eye(2), w) + np.einsum("kj,il->ikjl", np.eye(2), w)
    close(j, want)


def test_hessian_closed_form_and_symmetry():
    h = F.hessian(cubic, t(X))
    close(h, cubic_hessian(X))
    close(h, h.T)


def test_vjp_jvp_hvp_closed_forms():
    out, g = F.vjp(lambda x: x.sin(), t(X), t(V))
    close(out, np.sin(X))
    close(g, V * np.cos(X))
    out, jv = F.jvp(lambda x: x.sin(), t(X), t(V))
    close(jv, np.cos(X) * V)
    value, hv = F.hvp(cubic, t(X), t(V))
    assert value.item() == pytest.approx(cubic(t(X)).item())
    close(hv, cubic_hessian(X) @ V)
    _, g = F.vjp(cubic, t(X))           # v may be omitted for a scalar function
    close(g, cubic_grad(X))


def test_multiple_inputs_give_tuples():
    def f(x, y):
        return (x * y).sum()
    gx, gy = F.jacobian(f, (t(X), t(Y)))
    close(gx, Y)
    close(gy, X)
    ((hxx, hxy), (hyx, hyy)) = F.hessian(f, (t(X), t(Y)))
    close(hxx, np.zeros((3, 3)))
    close(hxy, np.eye(3))
    close(hyx, np.eye(3))


def test_inputs_are_not_modified_and_need_no_requires_grad():
    x = t(X)
    F.hessian(cubic, x)
    F.jacobian(lambda a: a * 2, x)
    assert not x.requires_grad and x.grad is None


def test_errors():
    with pytest.raises(RuntimeError, match="single-element"):
        F.hessian(lambda x: x * 2, t(X))
    with pytest.raises(RuntimeError, match="v can be omitted"):
        F.vjp(lambda x: x * 2, t(X))
    with pytest.raises(TypeError, match="float"):
        F.jacobian(lambda x: x * 2, cr.tensor([1, 2]))


# ---- a small MLP: Hessian by double backprop -----------------------------------------------------
def mlp_loss(m, w1, w2):
    x = m.tensor(np.linspace(-1, 1, 8).reshape(4, 2))
    y = m.tensor([[1.0], [0.0], [1.0], [0.0]], dtype=m.float64)
    h = m.tanh(x.to(m.float64) @ w1)
    return ((h @ w2 - y) ** 2).mean()


def test_hessian_of_an_mlp_loss_by_double_backprop_matches_finite_differences():
    rng = np.random.default_rng(1)
    w1, w2 = rng.standard_normal((2, 3)), rng.standard_normal((3, 1))
    flat = np.concatenate([w1.ravel(), w2.ravel()])

    def loss_flat(theta):
        return mlp_loss(cr, theta[:6].reshape(2, 3), theta[6:].reshape(3, 1))

    h = F.hessian(loss_flat, t(flat)).numpy()
    # by hand: one gradient with create_graph=True, then one backward per row
    theta = cr.tensor(flat, requires_grad=True)
    (g,) = cr.autograd.grad(loss_flat(theta), theta, create_graph=True)
    rows = [cr.autograd.grad(g[i], theta, retain_graph=True)[0].numpy() for i in range(9)]
    np.testing.assert_allclose(h, np.stack(rows), rtol=1e-10, atol=1e-12)
    # central differences of the gradient
    eps = 1e-6
    fd = []
    for i in range(9):
        e = np.zeros(9)
        e[i] = eps
        gp = cr.grad(loss_flat)(t(flat + e)).numpy()
        gm = cr.grad(loss_flat)(t(flat - e)).numpy()
        fd.append((gp - gm) / (2 * eps))
    np.testing.assert_allclose(h, np.stack(fd), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(h, h.T, atol=1e-12)


# ---- against torch.autograd.functional -----------------------------------------------------------
def pair(m):
    return lambda x, y: ((x * y).sin() * x).sum() + (y ** 2).sum() * x[0]


def two_outputs(m):
    return lambda x, y: (x * y, x.exp().sum())


CASES = {
    "jacobian": lambda m, TF: TF.jacobian(lambda x: (x ** 3).sin(), m.tensor(X)),
    "jacobian-tuple-in": lambda m, TF: TF.jacobian(pair(m), (m.tensor(X), m.tensor(Y))),
    "jacobian-tuple-out": lambda m, TF: TF.jacobian(two_outputs(m), (m.tensor(X), m.tensor(Y))),
    "jacobian-create-graph": lambda m, TF: TF.jacobian(lambda x: x.exp() * x, m.tensor(X),
                                                       create_graph=True),
    "hessian": lambda m, TF: TF.hessian(cubic, m.tensor(X)),
    "hessian-tuple": lambda m, TF: TF.hessian(pair(m), (m.tensor(X), m.tensor(Y))),
    "hessian-linear": lambda m, TF: TF.hessian(lambda x: x.sum(), m.tensor(X)),
    "vjp": lambda m, TF: TF.vjp(lambda x: (x ** 3).sin(), m.tensor(X), m.tensor(V)),
    "vjp-tuple": lambda m, TF: TF.vjp(two_outputs(m), (m.tensor(X), m.tensor(Y)),
                                      (m.tensor(V), m.tensor(2.0, dtype=m.float64))),
    "jvp": lambda m, TF: TF.jvp(lambda x: (x ** 3).sin(), m.tensor(X), m.tensor(V)),
    "jvp-tuple": lambda m, TF: TF.jvp(two_outputs(m), (m.tensor(X), m.tensor(Y)),
                                      (m.tensor(V), m.tensor(V))),
    "hvp": lambda m, TF: TF.hvp(cubic, m.tensor(X), m.tensor(V)),
    "hvp-tuple": lambda m, TF: TF.hvp(pair(m), (m.tensor(X), m.tensor(Y)),
                                      (m.tensor(V), m.tensor(V))),
    "vhp-tuple": lambda m, TF: TF.vhp(pair(m), (m.tensor(X), m.tensor(Y)),
                                      (m.tensor(V), m.tensor(V))),
}


def flatten(out):
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in flatten(o)]
    return [out]


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch_autograd_functional(name):
    torch = pytest.importorskip("torch")
    import torch.autograd.functional as TF
    got, want = flatten(CASES[name](cr, F)), flatten(CASES[name](torch, TF))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape)
        assert g.requires_grad == w.requires_grad
        close(g, w)


@pytest.mark.parametrize("fn", ["jacobian", "hessian", "vjp", "jvp", "hvp"])
def test_create_graph_connects_to_the_callers_inputs_as_torch(fn):
    torch = pytest.importorskip("torch")
    import torch.autograd.functional as TF
    grads = []
    for m, mod in ((cr, F), (torch, TF)):
        x = m.tensor(X, requires_grad=True)
        f = cubic if fn in ("hessian", "hvp") else (lambda a: (a ** 3).sin())
        args = (f, x) if fn in ("jacobian", "hessian") else (f, x, m.tensor(V))
        out = getattr(mod, fn)(*args, create_graph=True)
        result = out if fn in ("jacobian", "hessian") else out[1]
        result.sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10)
