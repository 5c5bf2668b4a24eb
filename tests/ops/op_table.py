"""The one table of differentiable ops that drives every gradient test (STYLE.md, point 7).

Each :class:`OpInfo` names an op once, as ``fn(m, *args)`` where ``m`` is the namespace it runs in:
``chainrule`` for the op under test, ``torch`` for the reference, and ``numpy`` for the expected
forward values (an explicit ``np_ref`` where NumPy spells it differently).  ``samples(rng)`` gives
the inputs: float64 arrays are the differentiable arguments, bool and int arrays are masks and
indices.  The samples cover scalars, 0-d tensors, broadcasting pairs such as (3, 1) x (4,) and
(2, 3, 4) x (3, 1), and keep away from kinks (inputs of ``abs``/``relu`` are nonzero, ``log`` and
``sqrt`` see positive numbers), so finite differences are valid everywhere.

The tests in ``test_gradcheck.py`` (forward, gradcheck, gradgradcheck), ``test_torch_parity.py``
(values and gradients against PyTorch) iterate over :data:`OPS`; adding a row tests a new op.
"""
import math
import zlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np


@dataclass(frozen=True)
class Sample:
    """The arguments of one call: float64 arrays (differentiated) and bool/int arrays (not)."""
    args: tuple
    name: str


@dataclass(frozen=True)
class OpInfo:
    name: str
    fn: Callable                      # fn(m, *args), m = chainrule, torch or numpy
    samples: Callable                 # samples(rng) -> list[Sample]
    np_ref: Optional[Callable] = None  # forward values on arrays, when fn(numpy, ...) is not it
    gradgrad: bool = True             # twice differentiable at the samples: run gradgradcheck

    def numpy(self, *arrays):
        return self.np_ref(*arrays) if self.np_ref is not None else self.fn(np, *arrays)

    def __repr__(self):
        return self.name


# ---- input domains and sample generators ---------------------------------------------------------
def real(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    """Away from 0 (log, sqrt, the base of a real power)."""
    return rng.uniform(0.5, 2.0, shape)


def nonzero(rng, shape):
    """Either sign but |x| >= 0.3: clear of the kinks of abs, relu, norm and of 1/x."""
    return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def _name(*shapes):
    return "x".join("(" + ",".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"
                    for s in shapes)


UNARY_SHAPES = [(), (5,), (3, 4), (2, 3, 4)]
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (3, 1)), ((), (3,)), ((4,), ()),
                 ((1, 4), (3, 1)), ((), ())]
MATMUL_SHAPES = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 2)),
                 ((2, 1, 3, 4), (3, 4, 2)), ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)),
                 ((4,), (2, 4, 3)), ((2, 3, 4), (4,))]


def unary(domain=real, shapes=UNARY_SHAPES):
    def samples(rng):
        return [Sample((domain(rng, s),), _name(s)) for s in shapes]
    return samples


def binary(da=real, db=real, shapes=BINARY_SHAPES):
    def samples(rng):
        return [Sample((da(rng, a), db(rng, b)), _name(a, b)) for a, b in shapes]
    return samples


def with_zeros(rng, zero_d=False):
    """prod's inputs with one zero, two zeros in one row, three zeros, and a 0-d zero."""
    one = rng.uniform(0.5, 1.5, (3, 4))
    one[1, 2] = 0.0
    two = rng.uniform(0.5, 1.5, (3, 4))
    two[0, 1] = two[0, 3] = 0.0
    three = rng.uniform(0.5, 1.5, (2, 3, 4))
    three[1, 0, 0] = three[0, 2, 1] = three[0, 2, 3] = 0.0
    out = [Sample((one,), "one-zero"), Sample((two,), "two-zeros-in-a-row"),
           Sample((three,), "(2,3,4)-three-zeros")]
    return out + [Sample((np.zeros(()),), "0-d-zero")] if zero_d else out


def clamp_tensor_bounds(rng):
    out = []
    for xs, ls, hs in [((3, 4), (3, 4), (3, 4)), ((3, 4), (3, 1), (4,)), ((2, 3, 4), (), (3, 1))]:
        out.append(Sample((real(rng, xs), rng.uniform(-1.0, -0.2, ls), rng.uniform(0.2, 1.0, hs)),
                          _name(xs, ls, hs)))
    # crossed bounds (lo > hi): every output is hi
    out.append(Sample((real(rng, (5,)), rng.uniform(0.6, 1.0, (5,)), rng.uniform(-1.0, -0.6, (5,))),
                      "crossed"))
    return out


def where_samples(rng):
    out = []
    for cs, a, b in [((3, 4), (3, 4), (3, 4)), ((3, 4), (3, 1), (4,)), ((2, 1, 4), (3, 1), ()),
                     ((), (3,), (3,))]:
        out.append(Sample((rng.random(cs) > 0.5, real(rng, a), real(rng, b)), _name(cs, a, b)))
    return out


def seq(*shapes, domain=real):
    def samples(rng):
        return [Sample(tuple(domain(rng, s) for s in group), _name(*group)) for group in shapes]
    return samples


def with_index(shape, index, name):
    """A (3, 4)-style input and a fixed integer or bool index array."""
    def samples(rng):
        return [Sample((real(rng, shape), np.asarray(index)), name)]
    return samples


def gather_samples(rng):
    return [Sample((real(rng, (3, 4)), np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])), "dim1-repeats"),
            Sample((real(rng, (3, 4)), np.array([[2, 0], [0, 0]])), "smaller-index")]


def masked(rng):
    x = real(rng, (3, 4))
    return [Sample((x, np.array([[True, False, True, True], [False, False, True, False],
                                 [True, True, False, False]])), "mask-2d"),
            Sample((real(rng, (3, 4)), np.array([True, False, True])), "row-mask")]


# ---- references NumPy does not spell like torch --------------------------------------------------
def np_softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def np_logsumexp(x, dim=None, keepdims=False):
    m = x.max(axis=dim, keepdims=True)
    y = np.log(np.exp(x - m).sum(axis=dim, keepdims=True)) + m
    return y if keepdims else (y.reshape(()) if dim is None else np.squeeze(y, axis=dim))


def np_norm(x, p=2, dim=None, keepdims=False):
    a = np.abs(x)
    if p == np.inf:
        return a.max(axis=dim, keepdims=keepdims)
    return (a ** p).sum(axis=dim, keepdims=keepdims) ** (1.0 / p)


def np_split(x, size, dim):
    n = x.shape[dim]
    if isinstance(size, int):
        size = [size] * (n // size) + ([n % size] if n % size else [])
    sizes = size
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=dim))


def np_take(x, idx, dim):
    part = tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(idx.shape))
    return np.take_along_axis(x[part], idx, axis=dim)


INF = float("inf")
REDUCE_SHAPES = [(5,), (3, 4), (2, 3, 4)]
FULL_SHAPES = [(), (5,), (3, 4), (2, 3, 4)]
MATRIX_SHAPES = [(3, 4), (2, 3, 4)]


# ---- the table -----------------------------------------------------------------------------------
OPS = [
    # arithmetic, broadcasting, and the reflected forms with Python numbers
    OpInfo("add", lambda m, a, b: a + b, binary()),
    OpInfo("add.alpha", lambda m, a, b: m.add(a, b, alpha=2.0), binary(),
           np_ref=lambda a, b: a + 2.0 * b),
    OpInfo("sub", lambda m, a, b: a - b, binary()),
    OpInfo("sub.fn", lambda m, a, b: m.subtract(a, b) if m is np else m.sub(a, b), binary()),
    OpInfo("mul", lambda m, a, b: a * b, binary()),
    OpInfo("mul.fn", lambda m, a, b: m.multiply(a, b) if m is np else m.mul(a, b), binary()),
    OpInfo("div", lambda m, a, b: a / b, binary(real, nonzero)),
    OpInfo("div.fn", lambda m, a, b: m.divide(a, b) if m is np else m.div(a, b),
           binary(real, nonzero)),
    OpInfo("pow", lambda m, a, b: a ** b, binary(positive, real)),
    OpInfo("pow.fn", lambda m, a, b: m.pow(a, b), binary(positive, real)),
    OpInfo("radd", lambda m, x: 2.5 + x, unary()),
    OpInfo("rsub", lambda m, x: 2.5 - x, unary()),
    OpInfo("rmul", lambda m, x: -1.5 * x, unary()),
    OpInfo("rdiv", lambda m, x: 2.5 / x, unary(nonzero)),
    OpInfo("rpow", lambda m, x: 2.0 ** x, unary()),
    OpInfo("add.scalar", lambda m, x: x + 2.5, unary()),
    OpInfo("sub.scalar", lambda m, x: x - 1.5, unary()),
    OpInfo("mul.scalar", lambda m, x: x * 3, unary()),
    OpInfo("div.scalar", lambda m, x: x / 4.0, unary()),
    OpInfo("pow.2", lambda m, x: x ** 2, unary()),
    OpInfo("pow.3", lambda m, x: x ** 3, unary()),
    OpInfo("pow.0.5", lambda m, x: x ** 0.5, unary(positive)),
    OpInfo("pow.-1.5", lambda m, x: x ** -1.5, unary(positive)),
    OpInfo("pow.0", lambda m, x: x ** 0, unary()),
    OpInfo("pow.1", lambda m, x: x ** 1, unary()),
    OpInfo("neg", lambda m, x: -x, unary()),
    OpInfo("neg.fn", lambda m, x: m.negative(x) if m is np else m.neg(x), unary()),
    OpInfo("matmul", lambda m, a, b: a @ b, binary(shapes=MATMUL_SHAPES)),
    OpInfo("matmul.fn", lambda m, a, b: m.matmul(a, b), binary(shapes=MATMUL_SHAPES)),
    # elementwise
    OpInfo("abs", lambda m, x: m.abs(x), unary(nonzero)),
    OpInfo("exp", lambda m, x: m.exp(x), unary()),
    OpInfo("log", lambda m, x: m.log(x), unary(positive)),
    OpInfo("log1p", lambda m, x: m.log1p(x), unary(positive)),
    OpInfo("sqrt", lambda m, x: m.sqrt(x), unary(positive)),
    OpInfo("sin", lambda m, x: m.sin(x), unary()),
    OpInfo("cos", lambda m, x: m.cos(x), unary()),
    OpInfo("tanh", lambda m, x: m.tanh(x), unary()),
    OpInfo("sigmoid", lambda m, x: m.sigmoid(x), unary(), np_ref=lambda x: 1 / (1 + np.exp(-x))),
    OpInfo("relu", lambda m, x: m.relu(x), unary(nonzero), np_ref=lambda x: np.maximum(x, 0)),
    OpInfo("clamp", lambda m, x: m.clamp(x, -0.5, 0.5), unary(),
           np_ref=lambda x: np.clip(x, -0.5, 0.5)),
    OpInfo("clamp.min", lambda m, x: m.clamp(x, min=-0.5), unary(),
           np_ref=lambda x: np.maximum(x, -0.5)),
    OpInfo("clamp.max", lambda m, x: x.clamp(max=0.5), unary(),
           np_ref=lambda x: np.minimum(x, 0.5)),
    OpInfo("clip", lambda m, x: x.clip(-0.5, 0.5), unary()),
    OpInfo("clamp.tensor", lambda m, x, lo, hi: m.clamp(x, lo, hi), clamp_tensor_bounds,
           np_ref=lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi)),
    OpInfo("clamp.tensor_min", lambda m, x, lo, hi: m.clamp(x, min=lo), clamp_tensor_bounds,
           np_ref=lambda x, lo, hi: np.maximum(x, lo)),
    OpInfo("maximum", lambda m, a, b: m.maximum(a, b), binary()),
    OpInfo("minimum", lambda m, a, b: m.minimum(a, b), binary()),
    OpInfo("where", lambda m, c, a, b: m.where(c, a, b), where_samples),
    # reductions
    OpInfo("sum", lambda m, x: x.sum(), unary(shapes=FULL_SHAPES)),
    OpInfo("sum.dim", lambda m, x: x.sum(1), unary(shapes=MATRIX_SHAPES)),
    OpInfo("sum.dims_keepdim", lambda m, x: m.sum(x, (0, -1), keepdim=True) if m is not np
           else x.sum(axis=(0, -1), keepdims=True), unary(shapes=MATRIX_SHAPES)),
    OpInfo("mean", lambda m, x: x.mean(), unary(shapes=FULL_SHAPES)),
    OpInfo("mean.dim", lambda m, x: x.mean(-1), unary(shapes=REDUCE_SHAPES)),
    OpInfo("mean.keepdim", lambda m, x: x.mean(0, keepdim=True), unary(shapes=REDUCE_SHAPES),
           np_ref=lambda x: x.mean(0, keepdims=True)),
    OpInfo("var", lambda m, x: x.var(), unary(shapes=REDUCE_SHAPES),
           np_ref=lambda x: x.var(ddof=1)),
    OpInfo("var.dim_biased", lambda m, x: x.var(1, unbiased=False), unary(shapes=MATRIX_SHAPES),
           np_ref=lambda x: x.var(1)),
    OpInfo("var.correction0_keepdim", lambda m, x: m.var(x, -1, keepdim=True, correction=0),
           unary(shapes=REDUCE_SHAPES), np_ref=lambda x: x.var(-1, keepdims=True)),
    OpInfo("std", lambda m, x: x.std(), unary(shapes=REDUCE_SHAPES),
           np_ref=lambda x: x.std(ddof=1)),
    OpInfo("std.dim", lambda m, x: m.std(x, 0), unary(shapes=MATRIX_SHAPES),
           np_ref=lambda x: x.std(0, ddof=1)),
    OpInfo("std.dims_keepdim_biased", lambda m, x: x.std((0, 1), unbiased=False, keepdim=True),
           unary(shapes=MATRIX_SHAPES), np_ref=lambda x: x.std((0, 1), keepdims=True)),
    OpInfo("prod", lambda m, x: x.prod(), unary(positive, FULL_SHAPES)),
    OpInfo("prod.dim", lambda m, x: x.prod(1), unary(nonzero, MATRIX_SHAPES)),
    OpInfo("prod.zeros", lambda m, x: x.prod(), lambda rng: with_zeros(rng, zero_d=True)),
    OpInfo("prod.zeros_dim", lambda m, x: x.prod(-1), with_zeros),
    OpInfo("prod.zeros_dim_keepdim", lambda m, x: m.prod(x, 0, keepdim=True) if m is not np
           else x.prod(0, keepdims=True), with_zeros),
    OpInfo("max", lambda m, x: x.max(), unary(shapes=FULL_SHAPES)),
    OpInfo("min", lambda m, x: m.min(x), unary(shapes=FULL_SHAPES)),
    OpInfo("max.dim", lambda m, x: x.max(1).values if m is not np else x.max(1),
           unary(shapes=MATRIX_SHAPES)),
    OpInfo("max.dim_keepdim", lambda m, x: m.max(x, -1, keepdim=True)[0], unary(),
           np_ref=lambda x: x.max(-1, keepdims=True) if x.ndim else x),
    OpInfo("min.dim", lambda m, x: x.min(dim=0).values if m is not np else x.min(0),
           unary(shapes=REDUCE_SHAPES)),
    OpInfo("amax", lambda m, x: x.amax(dim=(0, 1)) if m is not np else x.max(axis=(0, 1)),
           unary(shapes=MATRIX_SHAPES)),
    OpInfo("amax.keepdim", lambda m, x: m.amax(x, -1, keepdim=True) if m is not np
           else x.max(-1, keepdims=True), unary(shapes=REDUCE_SHAPES)),
    OpInfo("amin", lambda m, x: x.amin(1) if m is not np else x.min(1),
           unary(shapes=MATRIX_SHAPES)),
    OpInfo("logsumexp", lambda m, x: m.logsumexp(x, dim=-1), unary(shapes=REDUCE_SHAPES),
           np_ref=lambda x: np_logsumexp(x, -1)),
    OpInfo("logsumexp.dims_keepdim", lambda m, x: x.logsumexp((0, 1), keepdim=True),
           unary(shapes=MATRIX_SHAPES), np_ref=lambda x: np_logsumexp(x, (0, 1), True)),
    OpInfo("norm", lambda m, x: x.norm(), unary(nonzero, FULL_SHAPES),
           np_ref=lambda x: np_norm(x)),
    OpInfo("norm.p1", lambda m, x: x.norm(p=1), unary(nonzero, FULL_SHAPES),
           np_ref=lambda x: np_norm(x, 1)),
    OpInfo("norm.pinf", lambda m, x: x.norm(p=INF), unary(nonzero, REDUCE_SHAPES),
           np_ref=lambda x: np_norm(x, np.inf)),
    OpInfo("norm.p3", lambda m, x: x.norm(p=3), unary(nonzero, REDUCE_SHAPES),
           np_ref=lambda x: np_norm(x, 3)),
    OpInfo("norm.p0.5", lambda m, x: x.norm(p=0.5), unary(nonzero, REDUCE_SHAPES),
           np_ref=lambda x: np_norm(x, 0.5)),
    OpInfo("norm.dim", lambda m, x: m.norm(x, 2, 1), unary(nonzero, MATRIX_SHAPES),
           np_ref=lambda x: np_norm(x, 2, 1)),
    OpInfo("norm.p1_dims_keepdim", lambda m, x: x.norm(1, (0, -1), True),
           unary(nonzero, MATRIX_SHAPES), np_ref=lambda x: np_norm(x, 1, (0, -1), True)),
    OpInfo("norm.pinf_dim", lambda m, x: x.norm(INF, -1), unary(nonzero, MATRIX_SHAPES),
           np_ref=lambda x: np_norm(x, np.inf, -1)),
    OpInfo("softmax", lambda m, x: m.softmax(x, -1), unary(),
           np_ref=lambda x: np_softmax(x, -1 if x.ndim else None)),
    OpInfo("softmax.dim0", lambda m, x: x.softmax(0), unary(shapes=REDUCE_SHAPES),
           np_ref=lambda x: np_softmax(x, 0)),
    OpInfo("log_softmax", lambda m, x: m.log_softmax(x, dim=1), unary(shapes=MATRIX_SHAPES),
           np_ref=lambda x: np.log(np_softmax(x, 1))),
    OpInfo("log_softmax.last", lambda m, x: x.log_softmax(-1), unary(shapes=REDUCE_SHAPES),
           np_ref=lambda x: np.log(np_softmax(x, -1))),
    # shapes
    OpInfo("reshape", lambda m, x: x.reshape(4, 3), unary(shapes=[(3, 4), (12,)])),
    OpInfo("reshape.infer", lambda m, x: m.reshape(x, (2, -1)), unary(shapes=[(2, 3, 4), (6,)])),
    OpInfo("view", lambda m, x: x.view(-1) if m is not np else x.reshape(-1),
           unary(shapes=[(), (3, 4), (2, 3, 4)])),
    OpInfo("flatten", lambda m, x: x.flatten(), unary()),
    OpInfo("flatten.range", lambda m, x: m.flatten(x, 1) if m is not np
           else x.reshape(x.shape[0], -1), unary(shapes=MATRIX_SHAPES)),
    OpInfo("unsqueeze", lambda m, x: x.unsqueeze(0) if m is not np else x[None], unary()),
    OpInfo("unsqueeze.last", lambda m, x: m.unsqueeze(x, -1) if m is not np else x[..., None],
           unary()),
    OpInfo("squeeze", lambda m, x: x.squeeze(), unary(shapes=[(3, 1, 4), (1,), (1, 1), ()])),
    OpInfo("squeeze.dim", lambda m, x: x.squeeze(1) if m is not np else x.squeeze(1),
           unary(shapes=[(3, 1, 4), (2, 1)])),
    OpInfo("transpose", lambda m, x: x.transpose(0, 1) if m is not np else x.swapaxes(0, 1),
           unary(shapes=MATRIX_SHAPES)),
    OpInfo("transpose.fn", lambda m, x: m.transpose(x, -1, 0) if m is not np
           else x.swapaxes(-1, 0), unary(shapes=MATRIX_SHAPES)),
    OpInfo("T", lambda m, x: x.T, unary(shapes=[(3, 4), (1, 5)])),
    OpInfo("mT", lambda m, x: x.mT, unary(shapes=MATRIX_SHAPES)),
    OpInfo("permute", lambda m, x: x.permute(2, 0, 1) if m is not np else x.transpose(2, 0, 1),
           unary(shapes=[(2, 3, 4)])),
    OpInfo("expand", lambda m, x: x.expand(2, 3, 4) if m is not np
           else np.broadcast_to(x, (2, 3, 4)), unary(shapes=[(3, 1), (4,), (), (1, 3, 4)])),
    OpInfo("expand.keep", lambda m, x: x.expand(3, -1) if m is not np
           else np.broadcast_to(x, (3,) + x.shape), unary(shapes=[(4,)])),
    OpInfo("cat", lambda m, a, b: m.cat([a, b]) if m is not np else np.concatenate([a, b]),
           seq(((2, 3), (4, 3)), ((1, 2, 2), (3, 2, 2)))),
    OpInfo("cat.dim1", lambda m, a, b, c: m.cat((a, b, c), dim=1) if m is not np
           else np.concatenate([a, b, c], 1), seq(((2, 3), (2, 1), (2, 4)))),
    OpInfo("stack", lambda m, a, b: m.stack([a, b], dim=1) if m is not np
           else np.stack([a, b], 1), seq(((3, 4), (3, 4)), ((5,), (5,)))),
    OpInfo("stack.0d", lambda m, a, b, c: m.stack([a, b, c]), seq(((), (), ()))),
    OpInfo("split", lambda m, x: x.split(2, dim=1), unary(shapes=[(3, 5), (2, 4, 3)]),
           np_ref=lambda x: np_split(x, 2, 1)),
    OpInfo("split.sections", lambda m, x: m.split(x, [1, 3]), unary(shapes=[(4, 2)]),
           np_ref=lambda x: np_split(x, [1, 3], 0)),
    OpInfo("chunk", lambda m, x: x.chunk(3, -1), unary(shapes=[(2, 7), (6,)]),
           np_ref=lambda x: np_split(x, -(-x.shape[-1] // 3), x.ndim - 1)),
    # indexing
    OpInfo("index.int", lambda m, x: x[1], unary(shapes=[(3, 4), (4,)])),
    OpInfo("index.negative_int", lambda m, x: x[-1, 2], unary(shapes=[(3, 4)])),
    OpInfo("index.slice", lambda m, x: x[1:3], unary(shapes=[(4, 3), (5,)])),
    OpInfo("index.step", lambda m, x: x[::2, 1:], unary(shapes=[(5, 3)])),
    OpInfo("index.none", lambda m, x: x[:, None], unary(shapes=[(3, 4), (4,)])),
    OpInfo("index.ellipsis", lambda m, x: x[..., 1], unary(shapes=[(3, 4), (2, 3, 4)])),
    OpInfo("index.mixed_basic", lambda m, x: x[None, ..., 0:2, -1], unary(shapes=[(2, 3, 4)])),
    OpInfo("index.int_array_repeats", lambda m, x, i: x[i],
           with_index((4, 3), [0, 2, 0, 0, 3], "rows-0-2-0-0-3")),
    OpInfo("index.int_array_dim1", lambda m, x, i: x[:, i],
           with_index((3, 4), [[1, 1], [3, 0]], "2d-index")),
    OpInfo("index.int_array_pair", lambda m, x, i: x[i, i],
           with_index((4, 4), [0, 1, 1, 3], "diag-with-repeat")),
    OpInfo("index.bool_mask", lambda m, x, mask: x[mask], masked),
    OpInfo("index.bool_rows_slice", lambda m, x, mask: x[mask, 1:],
           with_index((3, 4), [True, False, True], "rows-then-slice")),
    OpInfo("gather", lambda m, x, i: m.gather(x, 1, i) if m is not np else np_take(x, i, 1),
           gather_samples),
    OpInfo("gather.dim0", lambda m, x, i: x.gather(0, i) if m is not np else np_take(x, i, 0),
           with_index((3, 4), [[2, 0, 2, 1], [2, 2, 0, 0]], "dim0-repeats")),
    # copies and conversions
    OpInfo("clone", lambda m, x: x.clone() if m is not np else x.copy(), unary()),
    OpInfo("to.float64", lambda m, x: x.to(m.float64) if m is not np else x.astype(np.float64),
           unary()),
    # a composite: a two-layer network's loss
    OpInfo("mlp", lambda m, x, w1, w2: ((m.tanh(x @ w1) @ w2) ** 2).mean(),
           seq(((4, 3), (3, 5), (5, 2)))),
]


# ---- the everyday catalogue (issue 15): products, scans, sorting, scatters, shapes, more math,
# division, linear algebra.  One block: its sample makers and NumPy references, then its rows.
def _between(lo, hi):
    def domain(rng, shape):
        return rng.uniform(lo, hi, shape)
    return domain


def _index_samples(*groups):
    """Samples of float arrays (by shape) and fixed integer arrays, in the order given."""
    def samples(rng):
        return [Sample(tuple(real(rng, g) if isinstance(g, tuple) else np.asarray(g)
                             for g in group), name) for name, group in groups]
    return samples


def _np_positions(idx, dim):
    full = [np.arange(n).reshape([n if k == d else 1 for k in range(idx.ndim)])
            for d, n in enumerate(idx.shape)]
    full[dim] = idx
    return tuple(full)


def np_scatter(x, src, idx, dim):
    out = x.copy()
    out[_np_positions(idx, dim)] = src[tuple(slice(0, n) for n in idx.shape)]
    return out


def np_scatter_add(x, src, idx, dim):
    out = x.copy()
    np.add.at(out, _np_positions(idx, dim), src[tuple(slice(0, n) for n in idx.shape)])
    return out


def np_index_add(x, idx, src, alpha):
    out = x.copy()
    np.add.at(out, idx, alpha * src)
    return out


def np_lower_median(x, axis=None, keepdims=False):
    if axis is None:
        return np.sort(x.ravel())[(x.size - 1) // 2]
    s = np.take(np.sort(x, axis), (x.shape[axis] - 1) // 2, axis)
    return np.expand_dims(s, axis) if keepdims else s


def well_conditioned(rng, shape):
    """Square matrices near 3·I: far from singular, so float32 results stay accurate."""
    return rng.standard_normal(shape) * 0.5 + 3 * np.eye(shape[-1])


def np_solve(a, b):
    """torch.linalg.solve's rule: b is a vector per batch when it has one dimension fewer."""
    if b.ndim == 1 or b.ndim == a.ndim - 1 and b.shape == a.shape[:-1]:
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


def np_symmetric(x):
    return x @ np.swapaxes(x, -1, -2) + 3 * np.eye(x.shape[-1])


def sym_pd(m, x):
    """A symmetric positive-definite matrix made from x (cholesky reads one triangle only)."""
    return x @ x.mT + 3 * m.eye(x.shape[-1], dtype=x.dtype, device=x.device)


def np_quantile_q(x):
    return np.quantile(x, [0.1, 0.6], axis=0, keepdims=True, method="nearest")


def _svd(m, x):
    return m.linalg.svd(x, full_matrices=False)


def _np_polar(x):
    u, _, vh = np.linalg.svd(x, full_matrices=False)
    return u @ vh


def _np_eigh_parts(x):
    w, v = np.linalg.eigh(x + x.T)
    return w, v * v


def _np_matrix_norm(x, ord, axes=(-2, -1), keepdims=False):
    return np.linalg.norm(x, ord, axis=axes, keepdims=keepdims)


OPS += [
    # products and the parts of matrices
    OpInfo("mm", lambda m, a, b: m.mm(a, b), binary(shapes=[((3, 4), (4, 2))]),
           np_ref=lambda a, b: a @ b),
    OpInfo("bmm", lambda m, a, b: m.bmm(a, b), binary(shapes=[((2, 3, 4), (2, 4, 2))]),
           np_ref=lambda a, b: a @ b),
    OpInfo("mv", lambda m, a, b: a.mv(b), binary(shapes=[((3, 4), (4,))]),
           np_ref=lambda a, b: a @ b),
    OpInfo("dot", lambda m, a, b: m.dot(a, b), binary(shapes=[((4,), (4,))])),
    OpInfo("outer", lambda m, a, b: m.outer(a, b), binary(shapes=[((3,), (4,))])),
    OpInfo("einsum", lambda m, a, b: m.einsum("bij,bjk->bik", a, b),
           binary(shapes=[((2, 3, 4), (2, 4, 2))])),
    OpInfo("einsum.diag_ellipsis", lambda m, x: m.einsum("...ii->...i", x),
           unary(shapes=[(2, 3, 3)])),
    OpInfo("einsum.three_broadcast", lambda m, a, b, c: m.einsum("ij,jk,k->i", a, b, c),
           seq(((3, 4), (4, 1), (2,)))),
    OpInfo("tensordot", lambda m, a, b: m.tensordot(a, b, dims=([1, 2], [0, 1])),
           binary(shapes=[((3, 4, 2), (4, 2, 5))]),
           np_ref=lambda a, b: np.tensordot(a, b, axes=([1, 2], [0, 1]))),
    OpInfo("diag", lambda m, x: m.diag(x), unary(shapes=[(4,), (3, 4)])),
    OpInfo("diag.offset", lambda m, x: x.diag(-1) if m is not np else np.diag(x, -1),
           unary(shapes=[(3,), (4, 3)])),
    OpInfo("diagonal", lambda m, x: m.diagonal(x, 1, 0, -1), unary(shapes=[(3, 4), (2, 3, 4)])),
    OpInfo("trace", lambda m, x: m.trace(x), unary(shapes=[(3, 4)])),
    OpInfo("tril", lambda m, x: m.tril(x, -1), unary(shapes=[(3, 4), (2, 3, 4)])),
    OpInfo("triu", lambda m, x: x.triu(1) if m is not np else np.triu(x, 1),
           unary(shapes=[(4, 3), (2, 3, 4)])),
    # scans
    OpInfo("cumsum", lambda m, x: m.cumsum(x, 1), unary(shapes=MATRIX_SHAPES)),
    OpInfo("cumsum.dim0", lambda m, x: x.cumsum(0), unary(shapes=[(5,), (3, 4)])),
    OpInfo("cumprod", lambda m, x: m.cumprod(x, -1), unary(nonzero, [(5,), (2, 3, 4)])),
    OpInfo("cumprod.zeros", lambda m, x: m.cumprod(x, 1), with_zeros),
    OpInfo("diff", lambda m, x: m.diff(x), unary(shapes=[(5,), (3, 4)])),
    OpInfo("diff.n2_prepend", lambda m, x, p: m.diff(x, n=2, dim=0, prepend=p),
           seq(((4, 3), (1, 3))), np_ref=lambda x, p: np.diff(x, n=2, axis=0, prepend=p)),
    # sorting and selection (distinct values: the ties are tested in test_catalogue_*.py)
    OpInfo("sort.values", lambda m, x: m.sort(x, dim=1, descending=True).values,
           unary(shapes=MATRIX_SHAPES), np_ref=lambda x: np.flip(np.sort(x, 1), 1)),
    OpInfo("sort.ascending", lambda m, x: x.sort(0)[0], unary(shapes=[(5,), (3, 4)]),
           np_ref=lambda x: np.sort(x, 0)),
    OpInfo("topk", lambda m, x: m.topk(x, 2).values, unary(shapes=[(5,), (3, 4)]),
           np_ref=lambda x: np.flip(np.sort(x, -1), -1)[..., :2]),
    OpInfo("topk.smallest_dim0", lambda m, x: x.topk(2, dim=0, largest=False).values,
           unary(shapes=[(4, 3)]), np_ref=lambda x: np.sort(x, 0)[:2]),
    OpInfo("kthvalue", lambda m, x: m.kthvalue(x, 2, 1).values, unary(shapes=MATRIX_SHAPES),
           np_ref=lambda x: np.sort(x, 1)[:, 1]),
    OpInfo("median", lambda m, x: x.median(), unary(shapes=[(5,), (3, 4)]),
           np_ref=np_lower_median),
    OpInfo("median.dim_keepdim", lambda m, x: m.median(x, 0, keepdim=True).values,
           unary(shapes=[(4, 3), (5, 2)]), np_ref=lambda x: np_lower_median(x, 0, True)),
    OpInfo("quantile", lambda m, x: m.quantile(x, 0.3, dim=1), unary(shapes=MATRIX_SHAPES),
           np_ref=lambda x: np.quantile(x, 0.3, axis=1)),
    OpInfo("quantile.nearest_q_keepdim",
           lambda m, x: m.quantile(x, x.new_tensor([0.1, 0.6]), dim=0, keepdim=True,
                                   interpolation="nearest"),
           unary(shapes=[(4, 3)]), np_ref=np_quantile_q),
    OpInfo("quantile.midpoint_all", lambda m, x: x.quantile(0.4, interpolation="midpoint"),
           unary(shapes=[(3, 4)]), np_ref=lambda x: np.quantile(x, 0.4, method="midpoint")),
    # scattering and selecting
    OpInfo("scatter", lambda m, x, s, i: m.scatter(x, 1, i, s),
           _index_samples(("rows", ((3, 5), (3, 2), [[0, 4], [2, 1], [3, 0]])),
                          ("0-d-index-rows", ((2, 3), (1, 3), [[2, 0, 1]]))),
           np_ref=lambda x, s, i: np_scatter(x, s, i, 1)),
    OpInfo("scatter.value", lambda m, x, i: x.scatter(0, i, value=1.5) if m is not np
           else np_scatter(x, np.full(i.shape, 1.5), i, 0),
           _index_samples(("cols", ((3, 4), [[2, 0, 1, 0]])))),
    OpInfo("scatter_add", lambda m, x, s, i: m.scatter_add(x, 0, i, s),
           _index_samples(("repeats", ((3, 4), (2, 4), [[0, 1, 2, 0], [0, 0, 2, 1]]))),
           np_ref=lambda x, s, i: np_scatter_add(x, s, i, 0)),
    OpInfo("index_add", lambda m, x, i, s: m.index_add(x, 0, i, s, alpha=2.0),
           _index_samples(("repeats", ((4, 3), [0, 2, 0], (3, 3)))),
           np_ref=lambda x, i, s: np_index_add(x, i, s, 2.0)),
    OpInfo("masked_select", lambda m, x, mask: m.masked_select(x, mask),
           _index_samples(("broadcast-mask", ((3, 4), [True, False, True, True])),
                          ("full-mask", ((2, 2), [[True, False], [False, True]]))),
           np_ref=lambda x, mask: np.broadcast_to(x, np.broadcast_shapes(x.shape, mask.shape))[
               np.broadcast_to(mask, np.broadcast_shapes(x.shape, mask.shape))]),
    OpInfo("take_along_dim", lambda m, x, i: m.take_along_dim(x, i, dim=1),
           _index_samples(("broadcast-negative", ((3, 4), [[3, -1, 0]]))),
           np_ref=lambda x, i: np.take_along_axis(x, np.broadcast_to(i % x.shape[1], (3, 3)), 1)),
    OpInfo("take_along_dim.flat", lambda m, x, i: x.take_along_dim(i) if m is not np
           else x.ravel()[i], _index_samples(("flat", ((3, 4), [11, 0, 5, 5])))),
    # shapes
    OpInfo("repeat", lambda m, x: x.repeat(2, 1, 3), unary(shapes=[(2, 3), ()]),
           np_ref=lambda x: np.tile(x, (2, 1, 3))),
    OpInfo("tile", lambda m, x: m.tile(x, (2,)), unary(shapes=[(2, 3), (4,)])),
    OpInfo("flip", lambda m, x: m.flip(x, (0, 2)), unary(shapes=[(2, 3, 4)])),
    OpInfo("flip.last", lambda m, x: x.flip(-1) if m is not np else np.flip(x, -1),
           unary(shapes=[(5,), (3, 4)])),
    OpInfo("roll", lambda m, x: m.roll(x, (1, -2), (0, 1)), unary(shapes=[(3, 4)])),
    OpInfo("roll.flat", lambda m, x: m.roll(x, 3), unary(shapes=[(3, 4)])),
    OpInfo("movedim", lambda m, x: m.movedim(x, 0, -1), unary(shapes=[(2, 3, 4)]),
           np_ref=lambda x: np.moveaxis(x, 0, -1)),
    OpInfo("movedim.pairs", lambda m, x: x.movedim((0, 1), (2, 0)), unary(shapes=[(2, 3, 4)]),
           np_ref=lambda x: np.moveaxis(x, (0, 1), (2, 0))),
    OpInfo("swapaxes", lambda m, x: m.swapaxes(x, 0, 2), unary(shapes=[(2, 3, 4)])),
    OpInfo("narrow", lambda m, x: m.narrow(x, 1, 1, 2), unary(shapes=[(3, 4)]),
           np_ref=lambda x: x[:, 1:3]),
    OpInfo("unflatten", lambda m, x: x.unflatten(1, (2, -1)), unary(shapes=[(3, 4)]),
           np_ref=lambda x: x.reshape(3, 2, 2)),
    OpInfo("tensor_split", lambda m, x: m.tensor_split(x, 3, dim=1), unary(shapes=[(2, 7)]),
           np_ref=lambda x: tuple(np.array_split(x, 3, axis=1))),
    OpInfo("tensor_split.indices", lambda m, x: x.tensor_split([1, 4]), unary(shapes=[(5, 2)]),
           np_ref=lambda x: tuple(np.array_split(x, [1, 4]))),
    OpInfo("hstack", lambda m, a, b: m.hstack([a, b]), seq(((3, 2), (3, 4)), ((3,), (2,)))),
    OpInfo("vstack", lambda m, a, b: m.vstack((a, b)), seq(((2, 3), (3,)))),
    OpInfo("repeat_interleave", lambda m, x: m.repeat_interleave(x, 2, dim=0),
           unary(shapes=[(3, 2)]), np_ref=lambda x: np.repeat(x, 2, axis=0)),
    OpInfo("repeat_interleave.counts", lambda m, x, r: x.repeat_interleave(r, dim=1),
           _index_samples(("counts", ((2, 4), [1, 0, 2, 1]))),
           np_ref=lambda x, r: np.repeat(x, r, axis=1)),
    # elementwise math
    OpInfo("erf", lambda m, x: m.erf(x), unary(), np_ref=np.vectorize(math.erf)),
    OpInfo("expm1", lambda m, x: m.expm1(x), unary()),
    OpInfo("log2", lambda m, x: m.log2(x), unary(positive)),
    OpInfo("log10", lambda m, x: x.log10(), unary(positive), np_ref=np.log10),
    OpInfo("rsqrt", lambda m, x: m.rsqrt(x), unary(positive), np_ref=lambda x: 1 / np.sqrt(x)),
    OpInfo("square", lambda m, x: m.square(x), unary()),
    OpInfo("reciprocal", lambda m, x: x.reciprocal(), unary(nonzero), np_ref=np.reciprocal),
    OpInfo("tan", lambda m, x: m.tan(x), unary(_between(-1.2, 1.2))),
    OpInfo("asin", lambda m, x: m.asin(x), unary(_between(-0.9, 0.9))),
    OpInfo("acos", lambda m, x: x.acos(), unary(_between(-0.9, 0.9)), np_ref=np.acos),
    OpInfo("atan", lambda m, x: m.atan(x), unary()),
    OpInfo("atan2", lambda m, a, b: m.atan2(a, b), binary(nonzero, nonzero)),
    OpInfo("sinh", lambda m, x: m.sinh(x), unary()),
    OpInfo("cosh", lambda m, x: x.cosh(), unary(), np_ref=np.cosh),
    OpInfo("remainder", lambda m, a, b: m.remainder(a, b), binary(real, nonzero)),
    OpInfo("remainder.op", lambda m, a, b: a % b, binary(real, nonzero,
                                                         [((3, 4), (4,)), ((), (3,))])),
    OpInfo("fmod", lambda m, a, b: m.fmod(a, b), binary(real, nonzero)),
    OpInfo("div.floor", lambda m, a, b: m.div(a, b, rounding_mode="floor") if m is not np
           else np.floor_divide(a, b), binary(real, nonzero, [((3, 4), (4,))])),
    OpInfo("div.trunc", lambda m, a, b: a.div(b, rounding_mode="trunc") if m is not np
           else np.trunc(a / b), binary(real, nonzero, [((3, 4), (4,))])),
    OpInfo("lerp", lambda m, a, b: m.lerp(a, b, 0.3), binary(shapes=[((3, 4), (3, 4))]),
           np_ref=lambda a, b: a + 0.3 * (b - a)),
    OpInfo("lerp.tensor_weight", lambda m, a, b, w: m.lerp(a, b, w),
           seq(((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), ())),
           np_ref=lambda a, b, w: a + w * (b - a)),
    OpInfo("trunc", lambda m, x: m.trunc(x), unary()),
    OpInfo("nan_to_num", lambda m, x: m.nan_to_num(x, nan=0.5, posinf=9.0),
           lambda rng: [Sample((np.array([1.5, np.nan, np.inf, -np.inf, -2.0]),), "nan-inf")]),
    OpInfo("clamp_min", lambda m, x: m.clamp_min(x, -0.3), unary(),
           np_ref=lambda x: np.maximum(x, -0.3)),
    OpInfo("clamp_max", lambda m, x: x.clamp_max(0.4), unary(),
           np_ref=lambda x: np.minimum(x, 0.4)),
    # linear algebra
    OpInfo("linalg.det", lambda m, x: m.linalg.det(x),
           unary(well_conditioned, [(3, 3), (2, 3, 3)])),
    OpInfo("linalg.inv", lambda m, x: m.linalg.inv(x), unary(well_conditioned, [(3, 3)])),
    OpInfo("linalg.solve", lambda m, a, b: m.linalg.solve(a, b),
           lambda rng: [Sample((well_conditioned(rng, a), real(rng, b)), _name(a, b))
                        for a, b in [((3, 3), (3, 2)), ((2, 3, 3), (2, 3)), ((3, 3), (2, 3, 1))]],
           np_ref=np_solve),
    OpInfo("linalg.cholesky", lambda m, x: m.linalg.cholesky(sym_pd(m, x)),
           unary(shapes=[(3, 3), (2, 3, 3)]),
           np_ref=lambda x: np.linalg.cholesky(np_symmetric(x))),
    OpInfo("linalg.qr", lambda m, x: tuple(m.linalg.qr(x)), unary(shapes=[(4, 3), (2, 4)])),
    OpInfo("linalg.svd.values", lambda m, x: _svd(m, x)[1], unary(shapes=[(4, 3)]),
           np_ref=lambda x: np.linalg.svd(x, compute_uv=False)),
    OpInfo("linalg.svd.polar", lambda m, x: (lambda u, s, vh: u @ vh)(*_svd(m, x)),
           unary(shapes=[(4, 3), (3, 5)]), np_ref=_np_polar),
    OpInfo("linalg.eigh", lambda m, x: (lambda w, v: (w, v * v))(*m.linalg.eigh(x + x.T)),
           unary(shapes=[(4, 4)]), np_ref=_np_eigh_parts),
    OpInfo("linalg.vector_norm", lambda m, x: m.linalg.vector_norm(x, 3, dim=1, keepdim=True),
           unary(nonzero, [(3, 4)]), np_ref=lambda x: np_norm(x, 3, 1, True)),
    OpInfo("linalg.vector_norm.p05", lambda m, x: m.linalg.vector_norm(x, 0.5),
           unary(nonzero, [(3, 4)]), np_ref=lambda x: np_norm(x, 0.5)),
    OpInfo("linalg.matrix_norm", lambda m, x: m.linalg.matrix_norm(x, "nuc"),
           unary(shapes=[(3, 4), (2, 3, 4)]), np_ref=lambda x: _np_matrix_norm(x, "nuc")),
    OpInfo("linalg.matrix_norm.1", lambda m, x: m.linalg.matrix_norm(x, 1, keepdim=True),
           unary(shapes=[(2, 3, 4)]), np_ref=lambda x: _np_matrix_norm(x, 1, keepdims=True)),
    OpInfo("linalg.norm", lambda m, x: m.linalg.norm(x), unary(shapes=[(2, 3, 4)]),
           np_ref=lambda x: np.linalg.norm(x.ravel())),
    OpInfo("linalg.norm.inf", lambda m, x: m.linalg.norm(x, float("inf")), unary(shapes=[(3, 4)]),
           np_ref=lambda x: np.linalg.norm(x, np.inf)),
]


OPS_BY_NAME = {op.name: op for op in OPS}
assert len(OPS_BY_NAME) == len(OPS), "op names must be unique"


def cases():
    """Every (op, sample) pair; each op draws its samples from a seed fixed by its name."""
    out = []
    for op in OPS:
        for sample in op.samples(np.random.default_rng(zlib.crc32(op.name.encode()))):
            out.append((op, sample))
    return out


CASES = cases()
CASE_IDS = [f"{op.name}-{s.name}" for op, s in CASES]
