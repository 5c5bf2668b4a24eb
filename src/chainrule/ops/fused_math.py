"""The add*-family: a product or quotient added to a tensor in one call, as PyTorch fuses them.

``addmm``  y = β·input + α·(mat1 @ mat2)      ``addmv``  y = β·input + α·(mat @ vec)
``addr``   y = β·input + α·(vec1 ⊗ vec2)      ``baddbmm`` y = β·input + α·(batch1 @ batch2)
``addcmul`` y = input + v·t1·t2               ``addcdiv`` y = input + v·t1/t2

Each is composed from the product ops (``matrix.py``) and arithmetic, so its Jacobian is theirs:
for addmm, input̄ = β·sum_to(ȳ), mat1̄ = α·ȳ·mat2ᵀ, mat2̄ = α·mat1ᵀ·ȳ; for addcmul,
t1̄ = v·ȳ·t2; for addcdiv, t2̄ = −v·ȳ·t1/t2².  As PyTorch, β = 0 ignores *input* (its nan and inf
do not propagate), and the product's shape decides the result's (input only broadcasts to it).
"""
from chainrule.backend import namespace_of
from chainrule.errors import DTypeError, ShapeError
from chainrule.ops.arithmetic import add, div, mul
from chainrule.ops.elementwise import where
from chainrule.ops.matrix import bmm, mm, mv, outer
from chainrule.ops.shape import expand
from chainrule.tensor import Tensor


def _combine(op, input, prod, beta, alpha):
    """β·input + α·prod, with input broadcast to prod's shape (it may not widen it)."""
    if not isinstance(input, Tensor):
        input = Tensor(namespace_of(prod._data).asarray(input, dtype=prod._data.dtype))
    try:
        input = expand(input, prod.shape)
    except ShapeError:
        raise ShapeError(f"{op}: input of shape {input.shape} does not broadcast to the "
                         f"product's shape {prod.shape}") from None
    scaled = prod if alpha == 1 else mul(prod, alpha)
    if beta == 0:       # input ignored, as PyTorch (0 · nan would be nan); its gradient is 0
        if not input.requires_grad:
            return scaled
        ignored = Tensor(namespace_of(prod._data).ones(prod._data.shape, dtype=bool))
        return add(scaled, where(ignored, 0.0, input))
    return add(input if beta == 1 else mul(input, beta), scaled)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """β·input + α·(mat1 @ mat2), *input* broadcast to (n, p).

    >>> cr.addmm(cr.zeros(2, 2), cr.eye(2), cr.ones(2, 2), alpha=2)
    tensor([[2., 2.],
            [2., 2.]])
    """
    return _combine("addmm", input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """β·input + α·(mat @ vec), *input* broadcast to (n,).

    >>> cr.addmv(cr.ones(2), cr.eye(2), cr.ones(2))
    tensor([2., 2.])
    """
    return _combine("addmv", input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """β·input + α·(vec1 ⊗ vec2), *input* broadcast to (n, m).

    >>> cr.addr(cr.zeros(2, 3), cr.ones(2), cr.arange(3.))
    tensor([[0., 1., 2.],
            [0., 1., 2.]])
    """
    return _combine("addr", input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """β·input + α·(batch1 @ batch2) per batch, *input* broadcast to (b, n, p).

    >>> tuple(cr.baddbmm(cr.zeros(3, 2, 2), cr.ones(3, 2, 4), cr.ones(3, 4, 2)).shape)
    (3, 2, 2)
    """
    return _combine("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def _check_float(op, *ts):
    if all(isinstance(t, Tensor) and t._data.dtype.kind in "iub" for t in ts):
        raise DTypeError(f"{op}: integer division with {op} is not supported; compute "
                         f"(input + value * tensor1 / tensor2) or convert to a float dtype first")


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value · tensor1 · tensor2 (all three broadcast together).

    >>> cr.addcmul(cr.ones(2), cr.ones(2), cr.full((2,), 3.), value=0.5)
    tensor([2.5000, 2.5000])
    """
    prod = mul(tensor1, tensor2)
    return add(input, prod if value == 1 else mul(prod, value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value · tensor1 / tensor2 (all three broadcast together; float tensors only).

    >>> cr.addcdiv(cr.ones(2), cr.ones(2), cr.full((2,), 4.), value=2)
    tensor([1.5000, 1.5000])
    """
    _check_float("addcdiv", tensor1, tensor2)
    q = div(tensor1, tensor2)
    return add(input, q if value == 1 else mul(q, value))
