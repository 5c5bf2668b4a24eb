"""``cr.autograd.grad``: gradients returned instead of accumulated."""
import numpy as np
import pytest

import chainrule as cr


def leaf(values):
    return cr.tensor(values, dtype=cr.float64, requires_grad=True)


def test_grad_returns_a_tuple_and_leaves_grad_untouched():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    gx, gy = cr.autograd.grad((x * y).sum(), [x, y])
    np.testing.assert_array_equal(gx.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(gy.numpy(), [1.0, 2.0])
    assert x.grad is None and y.grad is None
    assert not gx.requires_grad and gx.grad_fn is None


def test_single_tensor_input_and_output():
    x = leaf(3.0)
    (g,) = cr.autograd.grad(x ** 2, x)
    assert g.item() == 6.0


def test_allow_unused():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        cr.autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = cr.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_grad_outputs_weights_a_non_scalar_output():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    with pytest.raises(RuntimeError, match="scalar outputs"):
        cr.autograd.grad(y, x)
    (g,) = cr.autograd.grad(y, x, grad_outputs=cr.tensor([1.0, 0.0, -1.0], dtype=cr.float64),
                            retain_graph=True)
    np.testing.assert_array_equal(g.numpy(), [2.0, 0.0, -6.0])
    (g,) = cr.autograd.grad([y], [x], grad_outputs=[np.ones(3)])
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0, 6.0])


def test_several_outputs_sum_their_vector_jacobian_products():
    x = leaf([1.0, 2.0])
    (g,) = cr.autograd.grad([(x * 2).sum(), (x ** 2).sum()], x)
    np.testing.assert_array_equal(g.numpy(), [4.0, 6.0])


def test_create_graph_allows_a_second_derivative():
    x = leaf([1.0, 2.0])
    (g,) = cr.autograd.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), [6.0, 12.0])


def test_create_graph_defaults_retain_graph():
    x = leaf(2.0)
    y = x.exp() * x
    cr.autograd.grad(y, x, create_graph=True)
    cr.autograd.grad(y, x)        # the graph was retained by create_graph


def test_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h ** 2).sum()
    gh, gx = cr.autograd.grad(y, [h, x])
    np.testing.assert_array_equal(gh.numpy(), 2 * h.detach().numpy())
    np.testing.assert_array_equal(gx.numpy(), 3 * gh.numpy())


def test_grad_of_a_leaf_with_respect_to_itself():
    x = leaf([1.0, 2.0])
    (g,) = cr.autograd.grad(x, x, grad_outputs=cr.tensor([5.0, 6.0], dtype=cr.float64))
    np.testing.assert_array_equal(g.numpy(), [5.0, 6.0])


def test_input_without_requires_grad_is_rejected():
    x = cr.tensor([1.0])
    with pytest.raises(RuntimeError, match="input 0 does not require grad"):
        cr.autograd.grad((x * 2).sum(), x)


def test_output_without_graph_is_rejected():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.autograd.grad(cr.ones(1).sum(), x)


def test_gradient_penalty_pattern():
    """d/dw of |∂L/∂x|² (as in WGAN-GP): needs create_graph through a matmul and tanh."""
    torch = pytest.importorskip("torch")
    xv, wv = np.random.default_rng(0).standard_normal((2, 3, 4))[0], \
        np.random.default_rng(1).standard_normal((4, 2))
    results = []
    for m in (cr, torch):
        x = m.tensor(xv, requires_grad=True)
        w = m.tensor(wv, requires_grad=True)
        loss = m.tanh(x @ w).sum()
        (gx,) = m.autograd.grad(loss, x, create_graph=True)
        (gw,) = m.autograd.grad((gx ** 2).sum(), w)
        results.append(gw.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


def test_only_the_part_of_the_graph_leading_to_the_inputs_runs():
    x = leaf([1.0, 2.0])
    h = x.exp()
    y = (h * h).sum()
    (gh,) = cr.autograd.grad(y, h)
    np.testing.assert_allclose(gh.numpy(), 2 * np.exp([1.0, 2.0]))
    (h * 3).sum().backward()       # ExpBackward below h was neither run nor freed
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp([1.0, 2.0]))


def test_inputs_at_several_depths():
    x = leaf([1.0, 2.0])
    h1 = x * 2
    h2 = h1.sin()
    y = (h2 * h1).sum()
    g1, g2, gx = cr.autograd.grad(y, [h1, h2, x])
    h1v = 2 * np.array([1.0, 2.0])
    np.testing.assert_allclose(g2.numpy(), h1v)
    np.testing.assert_allclose(g1.numpy(), np.cos(h1v) * h1v + np.sin(h1v))
    np.testing.assert_allclose(gx.numpy(), 2 * g1.numpy())
