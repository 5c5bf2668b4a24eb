"""Einstein summation (``einsum``) and ``tensordot``, differentiable to any order.

``einsum("ij,jk->ik", a, b)`` multiplies the operands elementwise over every letter and sums the
letters missing from the output.  Its VJP for one operand is again an einsum: ȳ (with the
output's letters) times the other operands, summed to that operand's letters, then broadcast
along letters that appear nowhere else (they were summed in the forward pass).  Repeated letters
in one operand (``"ii->i"``) take a diagonal first, and ``...`` becomes letters of its own.
"""
import string

from chainrule.backend import namespace_of
from chainrule.errors import ConfigError, ShapeError
from chainrule.function import Op
from chainrule.ops.indexing import GetItem
from chainrule.tensor import Tensor

_LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _array(t):
    return t._data if isinstance(t, Tensor) else t


class Einsum(Op):
    """y = Σ over the letters not in *out* of Π_k x_k[letters of operand k].

    x̄_k = einsum(ȳ, the other operands → the letters of x_k found among them), broadcast along
    the letters of x_k that no other operand and not the output carry (and along letters that
    have size 1 there).  Multilinear: ẏ = Σ_k einsum(x_1, …, ẋ_k, …, x_n)."""

    @staticmethod
    def forward(ctx, spec, *xs):
        ins, out = spec
        arrays = [_array(x) for x in xs]
        sizes = {}
        for term, a in zip(ins, arrays):
            for c, n in zip(term, a.shape):
                sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
        ctx.spec, ctx.sizes = spec, sizes
        ctx.save_for_backward(*xs)
        eq = ",".join(ins) + "->" + out
        return ctx.xp.einsum(eq, *arrays, optimize=len(arrays) > 1)

    @staticmethod
    def backward(ctx, gy):
        ins, out = ctx.spec
        xs = ctx.saved_tensors
        grads = [None]
        for i, target in enumerate(ins):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            others = [ins[j] for j in range(len(ins)) if j != i]
            have = set(out).union(*others)
            sub = "".join(c for c in target if c in have)
            rest = [xs[j] for j in range(len(xs)) if j != i]
            g = ctx.call(Einsum, ((out, *others), sub), gy, *rest)
            full = tuple(ctx.sizes[c] for c in target)
            if sub != target:
                g = ctx.xp.reshape(g, tuple(ctx.sizes[c] if c in have else 1 for c in target))
            if tuple(g.shape) != full:      # letters of size 1 where this operand has more
                g = ctx.xp.broadcast_to(g, full)
            grads.append(g)
        return tuple(grads)

    @staticmethod
    def jvp(ctx, _, *txs):
        """ẏ = Σ_k einsum(x_1, …, ẋ_k, …, x_n)."""
        spec, xs = ctx.primals[0], ctx.primals[1:]
        out = None
        for k, t in enumerate(txs):
            if t is not None:
                term = ctx.call(Einsum, spec, *xs[:k], t, *xs[k + 1:])
                out = term if out is None else out + term
        return out


def _from_sublists(args):
    """torch.einsum(a, [0, 1], b, [1, 2], [0, 2]) as an equation and operands."""
    ops, terms = list(args[0::2]), list(args[1::2])
    out = None
    if len(ops) == len(terms) + 1:     # the output sublist came last
        out = ops.pop()

    def word(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)
    eq = ",".join(word(t) for t in terms)
    if out is not None:
        eq += "->" + word(out)
    return eq, ops


def _parse(equation, arrays):
    """Canonical (terms, output) with '...' replaced by letters, and each term's shape checked."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(arrays):
        raise ConfigError("einsum(): more operands were provided than specified in the "
                          "equation" if len(arrays) > len(terms) else
                          f"einsum(): fewer operands were provided than specified in the "
                          f"equation ({len(terms)} terms, {len(arrays)} operands)")
    used = {c for c in eq if c.isalpha()}
    bad = [c for c in eq if not (c.isalpha() or c in ",.->")]
    if bad:
        raise ConfigError(f"einsum(): invalid subscript given in the equation: {bad[0]!r}")
    n_ell = 0
    for t, a in zip(terms, arrays):
        if "..." in t:
            n_ell = max(n_ell, a.ndim - (len(t) - 3))
    spare = [c for c in _LETTERS if c not in used][:n_ell]
    out_terms = []
    for t, a in zip(terms, arrays):
        if "..." in t:
            k = a.ndim - (len(t) - 3)
            if k < 0:
                raise ShapeError(f"einsum(): the term {t!r} has more letters than its operand "
                                 f"of shape {a.shape} has dimensions")
            t = t.replace("...", "".join(spare[n_ell - k:]))
        if len(t) != a.ndim:
            raise ShapeError(f"einsum(): the number of subscripts in the equation ({len(t)}) does "
                             f"not match the number of dimensions ({a.ndim}) for operand "
                             f"{len(out_terms)}" + ("" if "..." in lhs else
                                                    " and no ellipsis was given"))
        out_terms.append(t)
    if arrow:
        out = rhs.replace("...", "".join(spare))
    else:
        counts = {}
        for t in out_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = "".join(spare) + "".join(sorted(c for c, n in counts.items()
                                               if n == 1 and c not in spare))
    letters = set("".join(out_terms))
    for c in out:
        if c not in letters:
            raise ConfigError(f"einsum(): output subscript {c} does not appear in the equation "
                              f"for any input operand")
    if len(set(out)) != len(out):
        raise ConfigError(f"einsum(): output subscript appears more than once in the output: "
                          f"{rhs!r}")
    return out_terms, out


def _diagonal_term(x, term):
    """Operand *x* with repeated letters of *term* reduced to their diagonal, and its letters."""
    if len(set(term)) == len(term):
        return x, term
    xp = namespace_of(x._data)
    uniq = "".join(dict.fromkeys(term))
    sizes = {}
    for c, n in zip(term, x._data.shape):
        if sizes.setdefault(c, n) != n:
            raise ShapeError(f"einsum(): subscript {c} is repeated for operand of shape {x.shape} "
                             f"but the sizes don't match, {sizes[c]} != {n}")
    grid = {c: xp.arange(sizes[c]).reshape(tuple(sizes[c] if k == j else 1
                                                  for k in range(len(uniq))))
            for j, c in enumerate(uniq)}
    return GetItem.apply(x, tuple(grid[c] for c in term)), uniq


def einsum(equation, *operands):
    """Einstein summation: ``cr.einsum("bij,bjk->bik", a, b)`` is a batched matrix product;
    letters missing from the output are summed; ``...`` stands for broadcast dimensions.  The
    operands may also come as one list, or in PyTorch's sublist form."""
    if not isinstance(equation, str):
        equation, operands = _from_sublists((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [x if isinstance(x, Tensor) else Tensor(x) for x in operands]
    terms, out = _parse(equation, [x._data for x in xs])
    pairs = [_diagonal_term(x, t) for x, t in zip(xs, terms)]
    sizes = {}
    for x, t in pairs:
        for c, n in zip(t, x._data.shape):
            if n != 1 and sizes.setdefault(c, n) != n:
                raise ShapeError(f"einsum(): operands do not broadcast with remapped shapes: "
                                 f"subscript {c} has sizes {sizes[c]} and {n}")
    return Einsum.apply((tuple(t for _, t in pairs), out), *[x for x, _ in pairs])


def tensordot(a, b, dims=2):
    """Sum the products of *a*'s last *dims* dimensions with *b*'s first *dims* (or the given
    pairs of dimensions, ``dims=([1, 0], [0, 1])``)."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0 or dims > min(a._data.ndim, b._data.ndim):
            raise ShapeError(f"tensordot: dims ({dims}) must be between 0 and the smaller rank "
                             f"of shapes {a.shape} and {b.shape}")
        da = list(range(a._data.ndim - dims, a._data.ndim))
        db = list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(da) != len(db):
        raise ShapeError(f"tensordot: both dimension lists should have same length, got {da} "
                         f"and {db}")
    da = [d % max(a._data.ndim, 1) for d in da]
    db = [d % max(b._data.ndim, 1) for d in db]
    for i, j in zip(da, db):
        if a._data.shape[i] != b._data.shape[j]:
            raise ShapeError(f"tensordot: contracted dimensions need to match, but first has "
                             f"size {a._data.shape[i]} in dim {i} and second has size "
                             f"{b._data.shape[j]} in dim {j}")
    letters = iter(_LETTERS)
    ta = [next(letters) for _ in range(a._data.ndim)]
    tb = [next(letters) for _ in range(b._data.ndim)]
    for i, j in zip(da, db):
        tb[j] = ta[i]
    out = [c for k, c in enumerate(ta) if k not in da] + [c for k, c in enumerate(tb)
                                                           if k not in db]
    return Einsum.apply((("".join(ta), "".join(tb)), "".join(out)), a, b)
