"""Custom ops: ``cr.autograd.Function`` with forward, backward, ctx and apply."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, gradcheck, gradgradcheck


class Cube(Function):
    """y = x³; x̄ = 3x² ȳ, written in tensor ops so it differentiates again."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data ** 3

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * 3 * x * x


class ScaledAdd(Function):
    """y = a + alpha·b with a non-tensor argument; records needs_input_grad."""
    seen = []

    @staticmethod
    def forward(ctx, a, b, alpha):
        ScaledAdd.seen.append(ctx.needs_input_grad)
        ctx.alpha = alpha
        return a.data + alpha * b.data

    @staticmethod
    def backward(ctx, gy):
        na, nb, nalpha = ctx.needs_input_grad
        assert nalpha is False
        return (gy if na else None), (gy * ctx.alpha if nb else None), None


class SplitSum(Function):
    """Two outputs: (sum of the first half, x² elementwise)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        n = x.shape[0] // 2
        ctx.n = n
        return x.data[:n].sum(), x.data ** 2

    @staticmethod
    def backward(ctx, g_sum, g_sq):
        x, = ctx.saved_tensors
        mask = cr.tensor((np.arange(x.shape[0]) < ctx.n).astype(x.dtype))
        return g_sum * mask + g_sq * 2 * x


def leaf(values):
    return cr.tensor(values, dtype=cr.float64, requires_grad=True)


def test_custom_function_forward_backward_and_graph():
    x = leaf([1.0, 2.0])
    y = Cube.apply(x)
    assert isinstance(y, cr.Tensor) and y.requires_grad
    assert y.grad_fn.name() == "CubeBackward" and isinstance(y.grad_fn, Cube)
    assert y.grad_fn.next_functions[0][0] is x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_custom_function_passes_gradcheck_and_gradgradcheck():
    x = leaf(np.linspace(-1, 1, 5))
    assert gradcheck(Cube.apply, (x,))
    assert gradgradcheck(Cube.apply, (x,))
    assert gradcheck(lambda v: SplitSum.apply(v), (leaf([0.5, -1.0, 2.0, 3.0]),))


def test_needs_input_grad_and_non_tensor_arguments():
    ScaledAdd.seen.clear()
    a, b = leaf([1.0]), cr.tensor([2.0], dtype=cr.float64)
    y = ScaledAdd.apply(a, b, 3.0)
    assert ScaledAdd.seen[-1] == (True, False, False)
    y.sum().backward()
    assert a.grad.item() == 1.0 and b.grad is None
    b.requires_grad_()
    ScaledAdd.apply(a, b, 3.0).sum().backward()
    assert ScaledAdd.seen[-1] == (True, True, False)
    assert b.grad.item() == 3.0


def test_multiple_outputs_each_get_their_gradient():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    s, sq = SplitSum.apply(x)
    assert s.grad_fn is sq.grad_fn
    (s * 10 + sq.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [10 + 2, 10 + 4, 6, 8])


def test_an_unused_output_gets_a_zero_gradient():
    x = leaf([1.0, 2.0])
    s, sq = SplitSum.apply(x)
    sq.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_no_graph_under_no_grad_or_without_grad_inputs():
    x = leaf([1.0])
    with cr.no_grad():
        y = Cube.apply(x)
        s, sq = SplitSum.apply(x)
    assert y.grad_fn is None and not y.requires_grad
    assert isinstance(s, cr.Tensor) and isinstance(sq, cr.Tensor)
    z = Cube.apply(cr.tensor([2.0]))
    assert z.grad_fn is None and z.item() == 8.0


def test_saved_tensors_check_versions():
    x = leaf([1.0, 2.0])
    h = x * 1
    y = Cube.apply(h)
    with cr.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="CubeBackward"):
        y.sum().backward()


def test_saved_tensors_are_freed_after_backward():
    x = leaf([1.0])
    y = Cube.apply(x)
    y.backward(cr.ones_like(y))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.grad_fn.saved_tensors


def test_forward_returning_an_input_gives_a_new_tensor():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x, other):
            return other

        @staticmethod
        def backward(ctx, gy):
            return None, gy

    a, b = leaf([1.0]), cr.tensor([2.0], dtype=cr.float64)
    out = Identity.apply(a, b)
    assert out is not b and b.is_leaf and b.grad_fn is None
    assert not b.requires_grad


def test_backward_returning_the_wrong_number_of_gradients_is_named():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x.data + y.data

        @staticmethod
        def backward(ctx, gy):
            return gy

    with pytest.raises(RuntimeError, match="BadBackward returned 1 gradients for 2 inputs"):
        Bad.apply(leaf([1.0]), leaf([2.0])).sum().backward()


def test_backward_returning_a_wrong_shape_is_named():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.data * 2

        @staticmethod
        def backward(ctx, gy):
            return cr.ones(5, dtype=cr.float64)

    with pytest.raises(RuntimeError, match=r"BadShapeBackward.*shape \(5,\).*\(3,\)"):
        BadShape.apply(leaf([1.0, 2.0, 3.0])).sum().backward()


def test_extra_none_gradients_are_allowed():
    class Extra(Function):
        @staticmethod
        def forward(ctx, x):
            return x.data * 2

        @staticmethod
        def backward(ctx, gy):
            return gy * 2, None

    x = leaf([1.0])
    Extra.apply(x).sum().backward()
    assert x.grad.item() == 2.0


def test_backward_may_return_arrays():
    class ArrayGrad(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x.data
            return np.sin(x.data)

        @staticmethod
        def backward(ctx, gy):
            return gy.data * np.cos(ctx.x)

    x = leaf([0.0, 1.0])
    ArrayGrad.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.0, 1.0]))


def test_a_function_without_backward_says_so():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x.data

    with pytest.raises(NotImplementedError, match="NoBackward"):
        NoBackward.apply(leaf([1.0])).sum().backward()


def test_integer_outputs_are_not_differentiable():
    class ArgAndValue(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.i = int(x.data.argmax())
            ctx.shape = x.shape
            return x.data.max(), np.asarray(ctx.i)

        @staticmethod
        def backward(ctx, gv, gi):
            g = np.zeros(ctx.shape)
            g[ctx.i] = gv.item()
            return cr.tensor(g)

    x = leaf([1.0, 3.0, 2.0])
    v, i = ArgAndValue.apply(x)
    assert v.requires_grad and not i.requires_grad and i.dtype == cr.int64
    v.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])
