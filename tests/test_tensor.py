"""``cr.Tensor``: attributes, methods, repr, comparisons, in-place ops and error messages."""
import numpy as np
import pytest

import chainrule as cr

MATH = ["add", "sub", "mul", "div", "neg", "pow", "matmul", "abs", "exp", "log", "log1p", "sqrt",
        "sin", "cos", "tanh", "sigmoid", "relu", "clamp", "clip", "maximum", "minimum", "where",
        "sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "logsumexp", "norm",
        "argmax", "argmin", "softmax", "log_softmax", "reshape", "view", "flatten", "unsqueeze",
        "squeeze", "transpose", "permute", "expand", "split", "chunk", "gather", "clone", "to"]
FREE_ONLY = ["cat", "stack", "where"]


@pytest.mark.parametrize("name", MATH)
def test_every_op_is_a_method_and_most_are_free_functions(name):
    assert callable(getattr(cr.Tensor, name))
    if name not in ("to", "view"):
        assert callable(getattr(cr, name))


@pytest.mark.parametrize("name", FREE_ONLY)
def test_joining_ops_are_free_functions(name):
    assert callable(getattr(cr, name))


def test_free_function_and_method_agree():
    x = cr.tensor([[0.5, -1.0], [2.0, 3.0]])
    for name, args in [("exp", ()), ("sum", (1,)), ("clamp", (-0.5, 0.5)), ("softmax", (0,)),
                       ("norm", ()), ("transpose", (0, 1)), ("amax", (0,))]:
        np.testing.assert_array_equal(getattr(cr, name)(x, *args).numpy(),
                                      getattr(x, name)(*args).numpy(), err_msg=name)


# ---- attributes ----------------------------------------------------------------------------------
def test_attributes():
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == cr.float32
    assert x.device == cr.device("cpu") and x.device == "cpu" and str(x.device) == "cpu"
    assert x.grad is None and x.requires_grad and x.is_leaf and x.grad_fn is None
    assert x.T.shape == (3, 2) and x.mT.shape == (3, 2)
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    assert y.grad_fn.name() == "MulBackward"
    assert x.dim() == 2 and len(x) == 2


def test_T_reverses_dimensions_and_carries_gradient():
    x = cr.arange(24.0).reshape(2, 3, 4).requires_grad_()
    assert x.T.shape == (4, 3, 2)
    (x.T * cr.arange(24.0).reshape(4, 3, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(24.0).reshape(4, 3, 2).T)


def test_size_numel_item_tolist():
    x = cr.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.numel() == 24
    assert cr.tensor([[2.5]]).item() == 2.5 and isinstance(cr.tensor(3).item(), int)
    assert cr.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert cr.tensor(1.5).tolist() == 1.5
    with pytest.raises(ValueError, match="2 elements"):
        cr.tensor([1.0, 2.0]).item()
    assert float(cr.tensor([2.5])) == 2.5 and int(cr.tensor(3)) == 3
    assert [10, 20, 30][cr.tensor(1)] == 20


def test_numpy_shares_memory_and_refuses_when_grad_is_required():
    x = cr.tensor([1.0, 2.0])
    a = x.numpy()
    a[0] = 9.0
    assert x[0].item() == 9.0
    with pytest.raises(RuntimeError, match="detach"):
        cr.tensor([1.0], requires_grad=True).numpy()
    np.testing.assert_array_equal(np.asarray(cr.tensor([1.0, 2.0])), [1.0, 2.0])


def test_detach_shares_memory_but_not_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.numpy(), y.data)


def test_requires_grad_():
    x = cr.tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(RuntimeError, match="only floating-point tensors can require gradients"):
        cr.tensor([1, 2]).requires_grad_()


def test_to_dtype_device_and_other_tensor():
    x = cr.tensor([1.5, 2.5], requires_grad=True)
    y = x.to(cr.float64)
    assert y.dtype == cr.float64 and y.grad_fn is not None
    y.sum().backward()
    assert x.grad.dtype == cr.float32
    assert x.to("cpu") is x and x.to(cr.float32) is x
    assert x.to(cr.tensor([1], dtype=cr.int64)).dtype == cr.int64
    assert x.detach().to(dtype=cr.int64).tolist() == [1, 2]
    assert x.double().dtype == cr.float64 and x.detach().long().dtype == cr.int64
    assert x.float().dtype == cr.float32 and (x > 2).int().dtype == cr.int32
    with pytest.raises(RuntimeError, match="not available"):
        x.to("cuda")


def test_clone_copies_and_stays_in_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.data, x.data) and c.grad_fn.name() == "CloneBackward"
    (c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_zero_():
    x = cr.tensor([1.0, 2.0])
    assert x.zero_() is x and x.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="leaf"):
        cr.tensor([1.0], requires_grad=True).zero_()
    w = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        w.zero_()
    assert w.tolist() == [0.0]


# ---- repr ----------------------------------------------------------------------------------------
def test_repr_follows_torch():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(cr.tensor(3.5)) == "tensor(3.5000)"
    assert repr(cr.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"
    assert repr(cr.tensor([True, False])) == "tensor([ True, False])"
    assert repr(cr.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(cr.tensor([1.0], requires_grad=True) * 2) == "tensor([2.], grad_fn=<MulBackward>)"
    assert repr(cr.tensor([1.0], dtype=cr.float64)) == "tensor([1.], dtype=cr.float64)"
    assert repr(cr.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"
    big = repr(cr.arange(5000))
    assert "..." in big and len(big) < 200


# ---- comparisons ---------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparisons_return_bool_tensors_without_grad(op):
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = cr.tensor([2.0, 2.0, 2.0], requires_grad=True)
    for other, ref in ((b, np.array([2.0, 2.0, 2.0])), (2.0, 2.0)):
        r = eval(f"a {op} other")
        assert r.dtype == cr.bool and not r.requires_grad and r.grad_fn is None
        np.testing.assert_array_equal(r.numpy(), eval(f"np.array([1.0, 2.0, 3.0]) {op} ref"))


def test_logical_ops_and_reductions_on_bools():
    a, b = cr.tensor([True, False, True]), cr.tensor([True, True, False])
    assert (a & b).tolist() == [True, False, False]
    assert (a | b).tolist() == [True, True, True]
    assert (~a).tolist() == [False, True, False]
    assert cr.any(a).item() and not cr.all(a).item()
    assert cr.equal(cr.tensor([1, 2]), cr.tensor([1, 2]))
    assert cr.allclose(cr.tensor([1.0]), cr.tensor([1.0 + 1e-9]))


def test_a_comparison_does_not_break_backward():
    x = cr.tensor([-1.0, 2.0], requires_grad=True)
    (x * (x > 0)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])


# ---- in-place ops --------------------------------------------------------------------------------
def test_in_place_ops_outside_the_graph_write_into_memory():
    x = cr.tensor([1.0, 2.0])
    a = x.numpy()
    x += 1
    x -= 0.5
    x *= cr.tensor([2.0, 4.0])
    x /= 2
    x.add_(1, alpha=2).sub_(1).mul_(2).div_(4)
    x.clamp_(max=2.0)
    assert a is x.numpy() and x._version == 9
    np.testing.assert_allclose(x.numpy(), [1.25, 2.0])
    x.copy_(cr.tensor([7.0, 8.0]))
    assert x.tolist() == [7.0, 8.0]


def test_in_place_ops_inside_the_graph_are_recorded():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h += x            # h = 3x
    h *= x            # h = 3x²
    h.sub_(1).div_(3)  # h = x² - 1/3
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert h.grad_fn.name() == "DivBackward"


def test_in_place_on_a_plain_tensor_with_a_grad_operand_joins_the_graph():
    buf = cr.zeros(2)
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    buf += w * 3
    assert buf.requires_grad and not buf.is_leaf
    buf.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])


def test_in_place_on_a_leaf_that_requires_grad_raises_unless_no_grad():
    w = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match="view of a leaf"):
        w[0].mul_(2)
    with cr.no_grad():
        w += 1
    assert w.is_leaf and w.tolist() == [2.0]


def test_in_place_on_an_indexing_view_updates_the_base_and_its_gradient():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x * 1
    h[0].mul_(10)            # a view: h changes too, and h's history records it
    assert h.tolist() == [[10.0, 20.0], [3.0, 4.0]]
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[10.0, 10.0], [1.0, 1.0]])


def test_in_place_on_a_transposed_or_reshaped_view_rebases_the_base():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x * 1
    h.T[0].mul_(10)          # column 0 of h
    h.reshape(4)[3] += 1
    assert h.tolist() == [[10.0, 2.0], [30.0, 5.0]]
    (h * h).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[200.0, 4.0], [600.0, 10.0]])


def test_in_place_on_an_expanded_view_in_the_graph_is_refused():
    h = cr.tensor([1.0, 2.0], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="expanded view"):
        h.expand(3, 2).mul_(2)


def test_augmented_assignment_on_an_index():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1
    h[1] += 5
    h[::2] *= 2
    assert h.tolist() == [2.0, 7.0, 6.0]
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 1.0, 2.0])


def test_setitem_outside_the_graph():
    x = cr.zeros(2, 3)
    x[0] = 1.0
    x[:, 2] = cr.tensor([5.0, 6.0])
    x[x == 0] = -1.0
    x[1, [0, 1]] = cr.tensor([7.0, 8.0])
    assert x.tolist() == [[1.0, 1.0, 5.0], [7.0, 8.0, 6.0]]
    assert x._version == 4


def test_setitem_in_the_graph_sends_gradient_to_the_value_and_the_rest():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = cr.tensor(10.0, requires_grad=True)
    h = x * 2
    h[1] = v * 3
    assert h.tolist() == [2.0, 30.0, 6.0]
    (h * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 6.0])
    assert v.grad.item() == 6.0


def test_setitem_with_a_mask_in_the_graph():
    x = cr.tensor([-1.0, 2.0, -3.0], requires_grad=True)
    h = x.clone()
    h[h < 0] = 0.0
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])


def test_setitem_errors_name_the_shape():
    with pytest.raises(IndexError, match=r"shape \(2,\)"):
        cr.zeros(2)[5] = 1.0


# ---- error messages ------------------------------------------------------------------------------
def test_broadcast_error_names_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        cr.ones(2, 3) + cr.ones(4)
    for op, name in [(lambda a, b: a - b, "sub"), (lambda a, b: a * b, "mul"),
                     (lambda a, b: a / b, "div"), (lambda a, b: a ** b, "pow"),
                     (cr.maximum, "maximum"), (cr.minimum, "minimum")]:
        with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\)"):
            op(cr.ones(2, 3), cr.ones(4))


def test_matmul_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\).*3 != 4"):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(ValueError, match=r"matmul: shapes \(3,\) and \(2,\)"):
        cr.ones(3) @ cr.ones(2)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        cr.tensor(2.0) @ cr.ones(2)
    with pytest.raises(ValueError, match=r"batch dimensions.*\(2, 2, 3\).*\(3, 3, 5\)"):
        cr.ones(2, 2, 3) @ cr.ones(3, 3, 5)


def test_shape_op_errors():
    with pytest.raises(ValueError, match=r"reshape: shape \(4, -1\) is invalid for input of size 6"):
        cr.ones(6).reshape(4, -1)
    with pytest.raises(RuntimeError, match="view.*use .reshape"):
        cr.ones(2, 3).T.view(6)
    with pytest.raises(IndexError, match="dimension out of range"):
        cr.ones(2).sum(3)
    with pytest.raises(ValueError, match="cat: sizes of tensors must match"):
        cr.cat([cr.ones(2, 3), cr.ones(2, 4)])
    with pytest.raises(ValueError, match="zero-dimensional"):
        cr.cat([cr.tensor(1.0), cr.tensor(2.0)])
    with pytest.raises(ValueError, match="stack: expects each tensor to be equal size"):
        cr.stack([cr.ones(2), cr.ones(3)])
    with pytest.raises(ValueError, match="expand"):
        cr.ones(2, 3).expand(4, 3)
    with pytest.raises(ValueError, match="permute"):
        cr.ones(2, 3).permute(0, 0)
    with pytest.raises(IndexError, match=r"invalid for a tensor of shape \(3,\)"):
        cr.ones(3)[5]
    with pytest.raises(ValueError, match="clamp: at least one"):
        cr.ones(2).clamp()
    with pytest.raises(ValueError, match="Integers to negative integer powers"):
        cr.tensor([2]) ** -1


def test_int_and_bool_tensor_errors():
    with pytest.raises(TypeError, match="mean: could not infer output dtype"):
        cr.tensor([1, 2]).mean()
    with pytest.raises(TypeError, match="cannot make a tensor"):
        cr.tensor(["a"])
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(cr.tensor([1.0, 2.0]))


# ---- misc ----------------------------------------------------------------------------------------
def test_iteration_len_and_hash():
    x = cr.arange(6.0).reshape(3, 2)
    assert [r.tolist() for r in x] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert len({x: 1, cr.ones(1): 2}) == 2
    with pytest.raises(TypeError):
        len(cr.tensor(1.0))


def test_zero_d_indexing_gives_a_view():
    x = cr.tensor([1.0, 2.0])
    v = x[1]
    assert v.shape == () and v.item() == 2.0
    v += 1
    assert x.tolist() == [1.0, 3.0]


def test_integer_ops_keep_torch_dtypes():
    i = cr.tensor([1, 2, 3])
    assert (i + 1).dtype == cr.int64 and (i * 2.5).dtype == cr.float32
    assert (i / 2).dtype == cr.float32 and i.sum().dtype == cr.int64
    assert (i > 1).sum().item() == 2
    assert cr.exp(i).dtype == cr.float32


def test_numpy_scalars_and_arrays_on_the_left_defer_to_the_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for y in (np.float64(2.0) * x, np.sqrt(4.0) * x, np.float32(2.0) + x - x,
              np.int64(2) * x):
        assert isinstance(y, cr.Tensor) and y.dtype == cr.float32 and y.grad_fn is not None
    y = np.array([1.0, 3.0]) * x
    assert isinstance(y, cr.Tensor) and y.dtype == cr.float64
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 3.0])


def test_setitem_in_a_graph_with_a_repeated_index_keeps_the_last_value_as_torch():
    # the graph path used to add the values (12 here) where eager NumPy and PyTorch keep the last
    w = cr.ones(3, requires_grad=True)
    x = w * 1
    v = cr.tensor([5.0, 7.0], requires_grad=True)
    x[cr.tensor([0, 0])] = v
    assert x.tolist() == [7.0, 1.0, 1.0]
    x.sum().backward()
    assert v.grad.tolist() == [1.0, 1.0] and w.grad.tolist() == [0.0, 1.0, 1.0]
    plain = cr.ones(3)
    plain[cr.tensor([0, 0])] = cr.tensor([5.0, 7.0])
    assert plain.tolist() == [7.0, 1.0, 1.0]
