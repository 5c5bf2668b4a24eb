"""The backward engine: traversal, accumulation, graph release, versions, anomalies, grad mode."""
import sys

import numpy as np
import pytest

import chainrule as cr


def leaf(values, dtype=cr.float64):
    return cr.tensor(values, dtype=dtype, requires_grad=True)


# ---- traversal -----------------------------------------------------------------------------------
def test_a_chain_of_100000_ops_backpropagates_without_recursion():
    x = leaf(1.0)
    y = x
    for i in range(100_000):
        y = y * 1.0001 if i % 10 == 0 else -y
    assert sys.getrecursionlimit() < 100_000
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)
    del y   # freeing a 100,000-node chain must not overflow the stack either


def test_deep_chain_with_autograd_grad_and_create_graph():
    x = leaf(0.5)
    y = x
    for _ in range(3_000):
        y = y.sin()
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    (gg,) = cr.autograd.grad(g, x)
    assert np.isfinite(gg.item())


def test_diamond_graph_sums_both_paths():
    x = leaf([1.0, 2.0])
    a = x * 3
    b = x.exp()
    y = (a * b).sum()        # d/dx = 3 e^x + 3x e^x
    y.backward()
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp(xv) * (1 + xv))


def test_a_tensor_used_many_times_in_one_op():
    x = leaf([1.0, -2.0])
    (x * x * x + x / x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_shared_subgraph_reached_along_paths_of_different_length():
    x = leaf(2.0)
    h = x * x            # used by a short and a long path
    long = h
    for _ in range(5):
        long = long + 0.0
    (h + long * h).backward()   # y = h + h², dy/dx = (1 + 2h) 2x
    assert x.grad.item() == pytest.approx((1 + 2 * 4.0) * 4.0)


def test_multiple_roots_and_a_leaf_root():
    x = leaf([1.0, 2.0])
    y = x * 2
    cr.autograd.backward([y.sum(), (y * y).sum(), x.sum()])
    np.testing.assert_allclose(x.grad.numpy(), 2 + 8 * np.array([1.0, 2.0]) + 1)


def test_backward_on_a_leaf_itself():
    x = leaf(3.0)
    x.backward()
    assert x.grad.item() == 1.0


def test_random_graphs_match_torch():
    """Random DAGs that reuse leaves and intermediates (a regression: a leaf's first gradient
    shared memory with a gradient still pending for another node, and was then added into)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for trial in range(150):
        vals = [rng.standard_normal(3) for _ in range(rng.integers(1, 4))]
        c_nodes = [leaf(v) for v in vals]
        t_nodes = [torch.tensor(v, requires_grad=True) for v in vals]
        c_leaves, t_leaves = list(c_nodes), list(t_nodes)
        for _ in range(rng.integers(1, 9)):
            i, j = rng.integers(len(c_nodes)), rng.integers(len(c_nodes))
            op = rng.integers(6)
            pick = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
                    lambda a, b: (a * 0.3).exp(), lambda a, b: a.reshape(3, 1).reshape(3),
                    lambda a, b: a[:] * 1.0][op]
            c_nodes.append(pick(c_nodes[i], c_nodes[j]))
            t_nodes.append(pick(t_nodes[i], t_nodes[j]))
        used = rng.choice(len(c_nodes), size=rng.integers(1, len(c_nodes) + 1), replace=False)
        sum((c_nodes[k] * (k + 1.0)).sum() for k in used).backward()
        sum((t_nodes[k] * (k + 1.0)).sum() for k in used).backward()
        for c, t in zip(c_leaves, t_leaves):
            if t.grad is None:
                assert c.grad is None
            else:
                np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-12,
                                           err_msg=f"trial {trial}")


# ---- accumulation and aliasing -------------------------------------------------------------------
def test_gradients_accumulate_over_two_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])


def test_leaf_grads_of_x_plus_y_are_never_aliased():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x + y).sum().backward()
    x.grad.zero_()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])
    assert not np.shares_memory(x.grad.numpy(), y.grad.numpy())


@pytest.mark.parametrize("build", [
    lambda x, y: (x + y) * 2,
    lambda x, y: cr.cat([x, y]).reshape(2, 2),
    lambda x, y: (x + y).sum() * cr.ones(2, dtype=cr.float64),
    lambda x, y: x.expand(3, 2) + y,
])
def test_no_aliasing_in_any_backward_mode(build):
    for mode in ("plain", "create_graph", "inputs"):
        x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
        out = build(x, y)
        g = cr.ones_like(out)
        if mode == "plain":
            out.backward(g)
        elif mode == "create_graph":
            out.backward(g, create_graph=True)
        else:
            out.backward(g, inputs=[x, y])
        before = y.grad.numpy().copy()
        x.grad.zero_()                   # writable, and private to x
        np.testing.assert_array_equal(y.grad.numpy(), before, err_msg=mode)
        assert g.numpy().all(), "the gradient passed to backward must not be modified"


def test_user_gradient_is_not_stored_as_grad():
    x = leaf([1.0, 2.0])
    g = cr.tensor([1.0, 1.0], dtype=cr.float64)
    x.backward(g)
    x.grad.zero_()
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])


def test_leaf_grad_is_writable_and_settable():
    x = leaf([1.0, 2.0])
    (x.expand(3, 2)).sum().backward()    # a broadcast view's gradient is read-only in NumPy
    x.grad.zero_()
    x.grad += 1
    x.grad = cr.zeros(2, dtype=cr.float64)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_gradient_dtype_follows_each_input():
    a = cr.tensor([1.0, 2.0], requires_grad=True)             # float32
    b = cr.tensor([3.0, 4.0], dtype=cr.float64, requires_grad=True)
    h = a * 1.0
    h.retain_grad()
    (h * b).sum().backward()
    assert (h * b).dtype == cr.float64
    assert a.grad.dtype == cr.float32 and h.grad.dtype == cr.float32
    assert b.grad.dtype == cr.float64
    (ga,) = cr.autograd.grad((a * b).sum(), a)
    assert ga.dtype == cr.float32


# ---- releasing the graph -------------------------------------------------------------------------
def test_second_backward_through_released_graph_raises_and_retain_graph_allows_it():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True") as e:
        y.backward()
    assert "second time" in str(e.value)

    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_autograd_grad_releases_the_graph_unless_retained():
    x = leaf(2.0)
    y = x ** 3
    cr.autograd.grad(y, x, retain_graph=True)
    cr.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        cr.autograd.grad(y, x)


# ---- higher order --------------------------------------------------------------------------------
def test_create_graph_gives_second_and_third_derivatives():
    x = leaf(1.5)
    y = x ** 4 + x.sin()
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (g2,) = cr.autograd.grad(g, x, create_graph=True)
    (g3,) = cr.autograd.grad(g2, x)
    assert g.item() == pytest.approx(4 * 1.5 ** 3 + np.cos(1.5))
    assert g2.item() == pytest.approx(12 * 1.5 ** 2 - np.sin(1.5))
    assert g3.item() == pytest.approx(24 * 1.5 - np.cos(1.5))


def test_backward_with_create_graph_makes_grad_differentiable():
    x = leaf([1.0, 2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad.clone()
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


def test_without_create_graph_the_gradient_has_no_graph():
    x = leaf([1.0, 2.0])
    (x ** 3).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad


# ---- the version counter -------------------------------------------------------------------------
def test_modifying_a_saved_tensor_in_place_makes_backward_raise_naming_the_op():
    x = leaf([1.0, 2.0])
    h = x * 2
    y = (h * h).sum()              # MulBackward saves h
    h += 1
    with pytest.raises(RuntimeError, match="MulBackward") as e:
        y.backward()
    assert "modified by an in-place operation" in str(e.value)
    assert "version 1" in str(e.value) and "version 0" in str(e.value)


def test_modifying_a_saved_output_in_place_is_caught():
    x = leaf([1.0, 2.0])
    y = x.exp()                    # ExpBackward saves its output
    z = y.sum()
    with cr.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="ExpBackward"):
        z.backward()


def test_modifying_a_saved_tensor_through_a_view_is_caught():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    h = x * 1.0
    y = (h * h).sum()
    with cr.no_grad():
        h.T[0, 1] = 10.0         # the transpose shares h's memory and version counter
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    x = leaf([1.0, 2.0, 3.0])
    h = x * 1.0
    y = (h.sin()).sum()
    h[1:].mul_(3)
    with pytest.raises(RuntimeError, match="SinBackward"):
        y.backward()


def test_in_place_changes_on_unsaved_tensors_are_fine():
    x = leaf([1.0, 2.0])
    h = x + 1                      # AddBackward saves nothing
    y = h * 3
    h += 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert h._version == 1


# ---- anomaly detection ---------------------------------------------------------------------------
def test_detect_anomaly_names_the_op_whose_backward_is_not_finite():
    x = leaf([0.0, 1.0])
    with cr.autograd.detect_anomaly():
        y = (cr.sqrt(x) * 2).sum()
        with pytest.raises(RuntimeError, match="SqrtBackward") as e:
            y.backward()
    assert "nan or inf" in str(e.value).lower()
    assert "test_engine.py" in str(e.value)     # where the forward call was made


def test_without_detect_anomaly_nothing_is_checked():
    x = leaf([0.0, 1.0])
    y = (cr.sqrt(x) * 2).sum()
    y.backward()
    assert np.isinf(x.grad.numpy()[0])
    assert not cr.autograd.is_anomaly_enabled()


def test_detect_anomaly_is_restored_on_exit_and_works_as_decorator():
    @cr.autograd.detect_anomaly()
    def run(n):
        assert cr.autograd.is_anomaly_enabled()
        return run(n - 1) if n else cr.autograd.is_anomaly_enabled()
    assert run(3) and not cr.autograd.is_anomaly_enabled()
    cr.autograd.set_detect_anomaly(True)
    assert cr.autograd.is_anomaly_enabled()
    cr.autograd.set_detect_anomaly(False)
    assert not cr.autograd.is_anomaly_enabled()


# ---- error messages ------------------------------------------------------------------------------
def test_non_scalar_backward_without_gradient_says_what_to_pass():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="only for scalar outputs") as e:
        (x * 2).backward()
    assert "gradient=" in str(e.value) and "(2,)" in str(e.value)


def test_gradient_of_the_wrong_shape_is_rejected():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*\(2,\)"):
        (x * 2).backward(cr.ones(3))


def test_backward_of_a_tensor_without_graph_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(2).sum().backward()
    x = leaf([1.0])
    with cr.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="no_grad"):
        y.sum().backward()


def test_requires_grad_on_an_int_tensor_says_which_and_why():
    with pytest.raises(RuntimeError, match="floating-point") as e:
        cr.tensor([1, 2], requires_grad=True)
    assert "int64" in str(e.value)
    with pytest.raises(RuntimeError, match="bool"):
        cr.tensor([True]).requires_grad_()


def test_requires_grad_cannot_be_switched_off_on_a_non_leaf():
    y = leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad = False


# ---- retain_grad ---------------------------------------------------------------------------------
def test_retain_grad_on_a_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward(retain_graph=True)
    np.testing.assert_allclose(h.grad.numpy(), 2 * 3 * np.array([1.0, 2.0]))
    (h * h).sum().backward()      # accumulates, as torch does
    np.testing.assert_allclose(h.grad.numpy(), 4 * 3 * np.array([1.0, 2.0]))


def test_non_leaf_grad_is_none_without_retain_grad():
    x = leaf([1.0])
    h = x * 3
    h.sum().backward()
    assert h.grad is None and x.grad is not None


def test_retain_grad_on_a_leaf_is_a_no_op_and_on_a_constant_raises():
    x = leaf([1.0])
    x.retain_grad()
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(1).retain_grad()


# ---- grad mode -----------------------------------------------------------------------------------
def test_no_grad_builds_no_graph():
    x = leaf([1.0, 2.0])
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert cr.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with cr.no_grad():
        with cr.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad


def test_grad_mode_decorators():
    x = leaf([1.0])

    @cr.no_grad()
    def f():
        return x * 2

    @cr.no_grad
    def g():
        return x * 2

    @cr.enable_grad()
    def h():
        return x * 2

    assert not f().requires_grad and not g().requires_grad
    with cr.no_grad():
        assert h().requires_grad
    assert cr.is_grad_enabled()


def test_no_grad_decorator_on_a_recursive_function_restores_the_mode():
    @cr.no_grad()
    def f(n):
        return f(n - 1) if n else cr.is_grad_enabled()
    assert f(3) is False
    assert cr.is_grad_enabled()


def test_set_grad_enabled_as_call_context_and_decorator():
    @cr.set_grad_enabled(False)
    def f():
        return cr.is_grad_enabled()
    assert cr.is_grad_enabled()               # decorating does not switch the mode
    assert f() is False and cr.is_grad_enabled()
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    cr.set_grad_enabled(False)
    try:
        assert not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)
    assert cr.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with cr.no_grad():
            raise ValueError
    assert cr.is_grad_enabled()


def test_training_step_pattern_in_place_update_under_no_grad():
    w = leaf([1.0, 2.0])
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with cr.no_grad():
            w -= 0.1 * w.grad
        w.grad.zero_()
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.detach().numpy(), np.array([1.0, 2.0]) * 0.8 ** 3)
