"""``cr.linalg`` against ``torch.linalg``: shapes and modes, errors, gradients where PyTorch makes
a choice (singular det, full_matrices, qr modes, norms at zero), second derivatives, and the
factorisations on the "cuda" stand-in device."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import cuda as cuda_backend

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1515)


def same(c, t, rtol=1e-9, atol=1e-11):
    c = c.detach().numpy() if isinstance(c, cr.Tensor) else np.asarray(c)
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    assert c.shape == t.shape, (c.shape, t.shape)
    np.testing.assert_allclose(c, t, rtol=rtol, atol=atol)


def grads(fn, *arrays):
    """Outputs and input gradients (for a fixed random upstream gradient) in both libraries."""
    cs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    oc, ot = fn(cr, *cs), fn(torch, *ts)
    oc = oc if isinstance(oc, tuple) else (oc,)
    ot = ot if isinstance(ot, tuple) else (ot,)
    ups = [np.random.default_rng(3).standard_normal(tuple(o.shape)) for o in ot]
    cr.autograd.backward(list(oc), [cr.tensor(u) for u in ups])
    torch.autograd.backward(list(ot), [torch.tensor(u) for u in ups])
    for c, t in zip(oc, ot):
        same(c, t)
    for c, t in zip(cs, ts):
        same(c.grad if c.grad is not None else np.zeros(c.shape),
             t.grad if t.grad is not None else np.zeros(c.shape))


def test_singular_det_gradient_is_the_cofactor():
    # det is a polynomial: its gradient is the cofactor matrix everywhere.  (PyTorch 2.13 returns
    # 0 at an exactly singular matrix; chainrule returns the true derivative.)
    a = cr.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=cr.float64, requires_grad=True)
    cr.linalg.det(a).backward()
    np.testing.assert_allclose(a.grad.numpy(), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    b = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])     # rank 2
    for x in (b, np.stack([b, np.eye(3) * 2])):
        assert cr.autograd.gradcheck(cr.linalg.det, (cr.tensor(x, requires_grad=True),))


def test_svd_full_matrices_and_shapes_match_torch():
    for shape in [(4, 2), (2, 4), (3, 3), (2, 3, 5)]:
        a = RNG.standard_normal(shape)
        for full in (True, False):
            u, s, vh = cr.linalg.svd(cr.tensor(a), full_matrices=full)
            tu, ts, tvh = torch.linalg.svd(torch.tensor(a), full_matrices=full)
            assert (u.shape, s.shape, vh.shape) == (tuple(tu.shape), tuple(ts.shape),
                                                    tuple(tvh.shape))
            same(s, ts)
            k = s.shape[-1]
            same((u[..., :, :k] * s.unsqueeze(-2)) @ vh[..., :k, :], a)
    grads(lambda m, x: (lambda u, s, vh: (u[:, :2] * s, vh.sum(0)))(*m.linalg.svd(x)),
          RNG.standard_normal((4, 2)))
    grads(lambda m, x: m.linalg.svdvals(x), RNG.standard_normal((2, 3, 4)))


def test_svd_values_only_have_a_gradient_with_repeated_singular_values():
    grads(lambda m, x: m.linalg.svdvals(x).sum(), np.eye(3) * 2.0)
    grads(lambda m, x: m.linalg.matrix_norm(x, "nuc"), np.diag([3.0, 3.0, 1.0]))


def test_qr_modes_match_torch():
    for shape in [(4, 3), (3, 4), (2, 3, 3)]:
        a = RNG.standard_normal(shape)
        for mode in ("reduced", "complete", "r"):
            q, r = cr.linalg.qr(cr.tensor(a), mode=mode)
            tq, tr = torch.linalg.qr(torch.tensor(a), mode=mode)
            same(q, tq)
            same(r, tr)
    grads(lambda m, x: tuple(m.linalg.qr(x, mode="complete")), RNG.standard_normal((3, 5)))
    x = cr.tensor(RNG.standard_normal((4, 2)), requires_grad=True)
    q, r = cr.linalg.qr(x, mode="complete")
    with pytest.raises(RuntimeError, match="not differentiable"):
        (q.sum() + r.sum()).backward()
    with pytest.raises(ValueError, match="mode"):
        cr.linalg.qr(x, mode="economic")


def test_eigh_both_triangles_and_eigvalsh_match_torch():
    a = RNG.standard_normal((2, 4, 4))
    s = a + np.swapaxes(a, -1, -2)
    for uplo in ("L", "U"):
        w, v = cr.linalg.eigh(cr.tensor(a), UPLO=uplo)      # reads one triangle only
        tw, tv = torch.linalg.eigh(torch.tensor(a), UPLO=uplo)
        same(w, tw)
        same(v.abs(), tv.abs())
    grads(lambda m, x: (lambda w, v: (w, v @ v.mT * 2))(*m.linalg.eigh(x)), s)
    grads(lambda m, x: m.linalg.eigvalsh(x, UPLO="U"), s)


def test_cholesky_upper_and_solve_forms_match_torch():
    a = RNG.standard_normal((3, 3))
    spd = a @ a.T + 3 * np.eye(3)
    grads(lambda m, x: m.linalg.cholesky(x, upper=True), spd)
    b = RNG.standard_normal((2, 3))
    grads(lambda m, x, y: m.linalg.solve(x, y, left=False), spd, b)
    grads(lambda m, x, y: m.linalg.solve(x, y), spd, b[0])
    grads(lambda m, x, y: m.linalg.inv(x) @ y, np.stack([spd, spd * 2]), b.T)


@pytest.mark.parametrize("ord", [2, 1, 0, 0.5, -1, -2, 3, float("inf"), -float("inf")])
def test_vector_norm_matches_torch_including_zeros(ord):
    a = np.array([[0.0, 3.0, -4.0], [0.0, 0.0, 0.0], [1.0, -1.0, 2.0]])
    for dim, keepdim in [(None, False), (1, True), ((0, 1), False), (-1, False)]:
        grads(lambda m, x, d=dim, k=keepdim: m.linalg.vector_norm(x, ord, d, k), a)


@pytest.mark.parametrize("p", [0.5, 0.3, 1, 2, 3])
def test_tensor_norm_matches_torch_including_zeros(p):
    """x.norm(p) with 0 < p < 1 gave NaN gradients where x = 0 (torch: 0); it is now the same op
    as linalg.vector_norm's."""
    a = np.array([[0.0, 3.0, -4.0], [0.0, 0.0, 0.0], [1.0, -1.0, 2.0]])
    for dim, keepdim in [(None, False), (1, True), (-1, False)]:
        grads(lambda m, x, d=dim, k=keepdim: x.norm(p, d, k), a)


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf")])
def test_matrix_norm_matches_torch(ord):
    a = RNG.standard_normal((2, 3, 4))
    grads(lambda m, x: m.linalg.matrix_norm(x, ord), a)
    grads(lambda m, x: m.linalg.matrix_norm(x, ord, dim=(2, 0), keepdim=True), a)


def test_norm_dispatches_like_torch():
    v, a = RNG.standard_normal(5), RNG.standard_normal((3, 4))
    for fn, x in [(lambda m, x: m.linalg.norm(x), a), (lambda m, x: m.linalg.norm(x, 3), v),
                  (lambda m, x: m.linalg.norm(x, "fro"), a), (lambda m, x: m.linalg.norm(x, -2), a),
                  (lambda m, x: m.linalg.norm(x, dim=1), a),
                  (lambda m, x: m.linalg.norm(x, 1, dim=(1, 0), keepdim=True), a)]:
        grads(fn, x)
    c, t = cr.tensor(a, dtype=cr.float32), torch.tensor(a, dtype=torch.float32)
    got, want = cr.linalg.vector_norm(c, dtype=cr.float64), torch.linalg.vector_norm(t, dtype=torch.float64)
    assert got.dtype == cr.float64
    same(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match="1D or 2D"):
        cr.linalg.norm(cr.ones(2, 2, 2), 2)
    with pytest.raises(TypeError, match="floating"):
        cr.linalg.vector_norm(cr.tensor([1, 2]))


def test_errors_are_linalg_errors_and_runtime_errors():
    with pytest.raises(cr.linalg.LinAlgError, match="singular") as info:
        cr.linalg.inv(cr.zeros(2, 2))
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, cr.ChainruleError)
    with pytest.raises(RuntimeError, match="positive-definite"):
        cr.linalg.cholesky(-cr.eye(2))
    with pytest.raises(RuntimeError, match="singular"):
        cr.linalg.solve(cr.zeros(2, 2), cr.ones(2))
    with pytest.raises(ValueError, match="square"):
        cr.linalg.det(cr.ones(2, 3))
    with pytest.raises(TypeError, match="floating"):
        cr.linalg.inv(cr.eye(2, dtype=cr.int64))
    with pytest.raises(ValueError, match="incompatible"):
        cr.linalg.solve(cr.eye(3), cr.ones(2))


def test_second_derivatives_match_torch():
    a = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
    for fn in (lambda m, x: m.linalg.det(x), lambda m, x: m.linalg.inv(x).sum(),
               lambda m, x: m.linalg.svdvals(x).sum(), lambda m, x: m.linalg.eigh(x + x.mT)[1][0, 0],
               lambda m, x: m.linalg.cholesky(x @ x.mT).sum(), lambda m, x: m.linalg.qr(x)[0].sum()):
        c, t = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        gc, = cr.autograd.grad(fn(cr, c), c, create_graph=True)
        gt, = torch.autograd.grad(fn(torch, t), t, create_graph=True)
        same(gc, gt)
        hc, = cr.autograd.grad((gc * gc).sum(), c)
        ht, = torch.autograd.grad((gt * gt).sum(), t)
        same(hc, ht, rtol=1e-7)


def test_factorisations_on_the_standin_device_equal_the_cpu():
    a = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    fns = [lambda x: cr.linalg.det(x), lambda x: cr.linalg.inv(x),
           lambda x: cr.linalg.solve(x, x[..., 0]), lambda x: cr.linalg.cholesky(x @ x.mT),
           lambda x: cr.linalg.qr(x)[0], lambda x: cr.linalg.svd(x)[0] @ cr.linalg.svd(x)[2],
           lambda x: cr.linalg.eigh(x + x.mT)[0], lambda x: cr.linalg.matrix_norm(x, "nuc"),
           lambda x: cr.linalg.vector_norm(x, 0.5, dim=1)]
    with cuda_backend.use_standin():
        for fn in fns:
            c = cr.tensor(a, requires_grad=True)
            d = cr.tensor(a, device="cuda", requires_grad=True)
            yc, yd = fn(c), fn(d)
            assert yd.device == cr.device("cuda")
            gc, = cr.autograd.grad(yc.sum(), c, create_graph=True)
            gd, = cr.autograd.grad(yd.sum(), d, create_graph=True)
            hc, = cr.autograd.grad((gc * gc).sum(), c)
            hd, = cr.autograd.grad((gd * gd).sum(), d)
            for x, y in ((yc, yd), (gc, gd), (hc, hd)):
                np.testing.assert_allclose(y.detach().cpu().numpy(), x.detach().numpy(),
                                           rtol=1e-10, atol=1e-12)
