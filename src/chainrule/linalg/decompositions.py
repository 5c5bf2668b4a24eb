"""Matrix functions and factorisations with their gradients: ``det, inv, solve, cholesky, qr,
svd, eigh`` (and ``svdvals, eigvalsh``), batched over leading dimensions as PyTorch's.

Each backward is the classic matrix-calculus result, written with ``ctx.xp`` so it is
differentiable again: inv's x̄ = −Yᵀ Ȳ Yᵀ; solve's B̄ = A⁻ᵀ X̄, Ā = −B̄ Xᵀ; det's Ā = ȳ · det A ·
A⁻ᵀ; cholesky's (Murray 2016), qr's, svd's and eigh's as PyTorch writes them (svd and eigh need
distinct singular values / eigenvalues when the singular vectors / eigenvectors are used).
"""
from collections import namedtuple

import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import (
    ArgumentTypeError,
    AutogradError,
    ChainruleError,
    ConfigError,
    DTypeError,
    ShapeError,
)
from chainrule.function import Op
from chainrule.ops.shape import reshape, transpose
from chainrule.tensor import Tensor

qr_result = namedtuple("qr", ["Q", "R"])
svd_result = namedtuple("svd", ["U", "S", "Vh"])
eigh_result = namedtuple("eigh", ["eigenvalues", "eigenvectors"])


class LinAlgError(ChainruleError, RuntimeError):
    """A matrix that cannot be factorised or inverted (singular, not positive-definite); a
    RuntimeError, as PyTorch's ``torch.linalg.LinAlgError``."""


def _array(t):
    return t._data if isinstance(t, Tensor) else t


def _mT(xp, a):
    return xp.swapaxes(a, -1, -2)


def _run(op, fn, *args, why="the input matrix is singular"):
    try:
        return fn(*args)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"linalg.{op}: the computation could not be completed because {why}") \
            from None


def _square(A, op):
    if not isinstance(A, Tensor):
        raise ArgumentTypeError(f"linalg.{op}: expected a tensor, got {type(A).__name__}")
    if A._data.ndim < 2 or A._data.shape[-1] != A._data.shape[-2]:
        raise ShapeError(f"linalg.{op}: A must be batches of square matrices, but they are "
                         f"{A.shape[-2:] if A._data.ndim >= 2 else A.shape} matrices")
    _float(A, op)


def _float(A, op):
    if A._data.dtype.kind != "f":
        raise DTypeError(f"linalg.{op}: expected a floating point tensor, got {A.dtype}")


class Inv(Op):
    """Y = A⁻¹.  Ā = −Yᵀ Ȳ Yᵀ;  Ẏ = −Y Ȧ Y."""

    @staticmethod
    def forward(ctx, A):
        y = _run("inv", ctx.xp.linalg.inv, _array(A))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        yt = _mT(ctx.xp, y)
        return -(yt @ gy @ yt)

    @staticmethod
    def jvp(ctx, ta):
        """Ẏ = −Y Ȧ Y."""
        y = ctx.outputs[0]
        return -(y @ ta @ y)


class Solve(Op):
    """X = A⁻¹ B (B a batch of matrices).  B̄ = A⁻ᵀ X̄, Ā = −B̄ Xᵀ;  Ẋ = A⁻¹ (Ḃ − Ȧ X)."""

    @staticmethod
    def forward(ctx, A, B):
        x = _run("solve", ctx.xp.linalg.solve, _array(A), _array(B))
        ctx.save_for_backward(A, x)
        return x

    @staticmethod
    def backward(ctx, gx):
        A, x = ctx.saved_tensors
        xp = ctx.xp
        gb = ctx.call(Solve, _mT(xp, A), gx)
        return (-(gb @ _mT(xp, x)) if ctx.needs_input_grad[0] else None), gb

    @staticmethod
    def jvp(ctx, ta, tb):
        """Ẋ = A⁻¹ (Ḃ − Ȧ X)."""
        rhs = None if ta is None else -(ta @ ctx.outputs[0])
        rhs = tb if rhs is None else rhs if tb is None else tb + rhs
        return ctx.call(Solve, ctx.primals[0], rhs)


class Det(Op):
    """y = det A.  Ā = ȳ · y · A⁻ᵀ (the cofactor matrix); for a singular A the cofactor comes
    from the SVD, A = U S Vᵀ: det(U) det(V) · U diag(Π_{j≠i} s_j) Vᵀ (a constant there).
    ẏ = Σ cofactor(A) ⊙ Ȧ = y · tr(A⁻¹ Ȧ)."""

    @staticmethod
    def forward(ctx, A):
        y = ctx.xp.linalg.det(_array(A))
        ctx.save_for_backward(A, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        A, y = ctx.saved_tensors
        xp = ctx.xp
        g = xp.expand_dims(xp.expand_dims(gy, -1), -1)
        if not (_array(y) == 0).any():
            yk = xp.expand_dims(xp.expand_dims(y, -1), -1)
            return g * yk * _mT(xp, ctx.call(Inv, A))
        return g * _cofactor(_array(A))

    @staticmethod
    def jvp(ctx, ta):
        """ẏ = y · tr(A⁻¹ Ȧ), or Σ cofactor(A) ⊙ Ȧ for a singular A."""
        xp = ctx.xp
        A, y = ctx.primals[0], ctx.outputs[0]
        if not (_array(y) == 0).any():
            return y * xp.sum(xp.sum(_mT(xp, ctx.call(Inv, A)) * ta, axis=-1), axis=-1)
        return xp.sum(xp.sum(_cofactor(_array(A)) * ta, axis=-1), axis=-1)


def _cofactor(a):
    """The cofactor matrix of (batches of) matrix *a*, singular or not, from its SVD."""
    xp = namespace_of(a)
    u, s, vh = xp.linalg.svd(a)
    n = s.shape[-1]
    rows = xp.broadcast_to(s[..., None, :], s.shape + (n,))                 # row i: all of s
    prods = xp.where(xp.eye(n, dtype=bool), 1.0, rows).prod(axis=-1)       # Π_{j≠i} s_j
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * ((u * prods[..., None, :]) @ vh)


class Cholesky(Op):
    """L with A = L Lᵀ (lower).  Ā = L⁻ᵀ S L⁻¹ with S = ½(T + T_strictᵀ), T = tril(Lᵀ L̄)
    (Murray 2016; symmetric, as PyTorch's).  L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ), Φ the lower triangle with the
    diagonal halved (PyTorch's cholesky_jvp)."""

    @staticmethod
    def forward(ctx, A):
        L = _run("cholesky", ctx.xp.linalg.cholesky, _array(A),
                 why="the input is not positive-definite")
        ctx.save_for_backward(L)
        return L

    @staticmethod
    def backward(ctx, gl):
        L, = ctx.saved_tensors
        xp = ctx.xp
        ns = namespace_of(_array(L))
        n = L.shape[-1]
        lower = ns.tri(n, n, 0, dtype=bool)
        strict = ns.tri(n, n, -1, dtype=bool)
        t = xp.where(lower, _mT(xp, L) @ gl, 0.0)
        s = (t + _mT(xp, xp.where(strict, t, 0.0))) * 0.5
        linv = ctx.call(Inv, L)
        return _mT(xp, linv) @ s @ linv

    @staticmethod
    def jvp(ctx, ta):
        """L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ)."""
        xp, L = ctx.xp, ctx.outputs[0]
        linv = ctx.call(Inv, L)
        phi = linv @ ta @ _mT(xp, linv)
        return L @ _tri_half(xp, namespace_of(_array(L)), phi, lower=True)


def _tri_half(xp, ns, m, lower):
    """m's lower (or upper) triangle with its diagonal halved."""
    n = m.shape[-1]
    keep = ns.tri(n, n, -1, dtype=bool)
    if not lower:
        keep = _mT(ns, keep)
    return xp.where(keep, m, 0.0) + xp.where(ns.eye(n, dtype=bool), m * 0.5, 0.0)


def _copyltu(xp, ns, m):
    """The symmetric matrix with m's lower triangle (and diagonal) mirrored above."""
    n = m.shape[-1]
    low = xp.where(ns.tri(n, n, -1, dtype=bool), m, 0.0)
    return low + _mT(xp, low) + xp.where(ns.eye(n, dtype=bool), m, 0.0)


class QR(Op):
    """A = Q R (Householder, as LAPACK).  For m ≥ n: M = R R̄ᵀ − Q̄ᵀ Q and
    Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ; for m < n, with A = [X | Y] and R = [U | V]:
    X̄ = that rule for (Q, U) with Q̄ + Y V̄ᵀ, and Ȳ = Q V̄.
    JVP (m ≥ n, PyTorch's linalg_qr_jvp): with Ẋ = Ȧ R⁻¹ and K = Φᵀ(QᵀẊ + ẊᵀQ) (upper triangle,
    diagonal halved), Q̇ = Ẋ − Q K and Ṙ = K R; for m < n that for (X, U), and V̇ = Qᵀ(Ẏ − Q̇ V)."""

    @staticmethod
    def forward(ctx, A, mode):
        xp = ctx.xp
        q, r = xp.linalg.qr(_array(A), mode=mode)
        ctx.mode = mode
        ctx.save_for_backward(A, q, r)
        return q, r

    @staticmethod
    def backward(ctx, gq, gr):
        A, q, r = ctx.saved_tensors
        m, n = A.shape[-2:]
        if ctx.mode == "complete" and m > n:
            raise AutogradError("The QR decomposition is not differentiable when mode='complete' "
                                "and nrows > ncols.")
        xp = ctx.xp
        if m >= n:
            return _qr_tall(ctx, q, r, gq, gr), None
        u = r[..., :m]
        gu, gv = gr[..., :m], gr[..., m:]
        y = A[..., m:]
        gx = _qr_tall(ctx, q, u, gq + y @ _mT(xp, gv), gu)
        return xp.concatenate([gx, q @ gv], axis=-1), None

    @staticmethod
    def jvp(ctx, ta, _):
        """Q̇ = Ẋ − Q K, Ṙ = K R (see above)."""
        xp = ctx.xp
        q, r = ctx.outputs
        m, n = ta.shape[-2:]
        if ctx.mode == "complete" and m > n:
            raise AutogradError("The QR decomposition is not differentiable when mode='complete' "
                                "and nrows > ncols.")
        if m >= n:
            return _qr_tall_jvp(ctx, q, r, ta)
        dq, du = _qr_tall_jvp(ctx, q, r[..., :m], ta[..., :m])
        dv = _mT(xp, q) @ (ta[..., m:] - dq @ r[..., m:])
        return dq, xp.concatenate([du, dv], axis=-1)


def _qr_tall_jvp(ctx, q, r, ta):
    """(Q̇, Ṙ) of A = Q R with R square: Ẋ = Ȧ R⁻¹, K = Φᵀ(QᵀẊ + ẊᵀQ), Q̇ = Ẋ − Q K, Ṙ = K R."""
    xp = ctx.xp
    dx = _mT(xp, ctx.call(Solve, _mT(xp, r), _mT(xp, ta)))        # Ȧ R⁻¹, as (R⁻ᵀ Ȧᵀ)ᵀ
    c = _mT(xp, q) @ dx
    k = _tri_half(xp, namespace_of(_array(r)), c + _mT(xp, c), lower=False)
    return dx - q @ k, k @ r


def _qr_tall(ctx, q, r, gq, gr):
    xp = ctx.xp
    ns = namespace_of(_array(r))
    m = r @ _mT(xp, gr) - _mT(xp, gq) @ q
    b = gq + q @ _copyltu(xp, ns, m)
    # B R⁻ᵀ, as (R⁻¹ Bᵀ)ᵀ
    return _mT(xp, ctx.call(Solve, r, _mT(xp, b)))


class SVD(Op):
    """A = U diag(S) Vh.  With E_jk = S_k² − S_j² (1 on the diagonal) and skew(X) = X − Xᵀ:
    Ā = U [(skew(UᵀŪ) S + S skew(VᵀV̄)) / E + diag(S̄)] Vh, plus (I − UUᵀ) Ū S⁻¹ Vh when
    m > k, or U S⁻¹ V̄ᵀ (I − VVᵀ) when n > k (k = min(m, n)), as PyTorch's svd_backward.
    JVP (PyTorch's svd_jvp), with Ṗ = Uᵀ Ȧ V: Ṡ = diag(Ṗ), U̇ = U (Ṗ S + S Ṗᵀ) / E
    (+ (I − UUᵀ) Ȧ V S⁻¹ when m > k), V̇ = V (S Ṗ + Ṗᵀ S) / E (+ (I − VVᵀ) Ȧᵀ U S⁻¹ when n > k),
    the diagonals of the quotients 0."""

    @staticmethod
    def forward(ctx, A, full_matrices):
        xp = ctx.xp
        u, s, vh = xp.linalg.svd(_array(A),
                                                         full_matrices=full_matrices)
        ctx.full = full_matrices
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        xp = ctx.xp
        m, n = u.shape[-2], vh.shape[-1]
        k = s.shape[-1]
        if ctx.full:
            u, vh, gu, gvh = u[..., :k], vh[..., :k, :], gu[..., :k], gvh[..., :k, :]
        use_u, use_v = bool(_array(gu).any()), bool(_array(gvh).any())
        ns = namespace_of(_array(s))
        eye = ns.eye(k, dtype=bool)
        g = xp.where(eye, xp.expand_dims(gs, -1), 0.0)        # diag(S̄)
        if use_u or use_v:
            s2 = s * s
            e = xp.where(eye, 1.0, xp.expand_dims(s2, -2) - xp.expand_dims(s2, -1))
            v, gv = _mT(xp, vh), _mT(xp, gvh)
            inner = 0.0
            if use_u:
                uhgu = _mT(xp, u) @ gu
                inner = (uhgu - _mT(xp, uhgu)) * xp.expand_dims(s, -2)
            if use_v:
                vhgv = _mT(xp, v) @ gv
                inner = inner + xp.expand_dims(s, -1) * (vhgv - _mT(xp, vhgv))
            g = g + inner / e
        if m > k and use_u:
            gus = gu / xp.expand_dims(s, -2)
            return (u @ g + gus - u @ (_mT(xp, u) @ gus)) @ vh, None
        if n > k and use_v:
            sgvh = gvh / xp.expand_dims(s, -1)
            return u @ (g @ vh + sgvh - (sgvh @ _mT(xp, vh)) @ vh), None
        return u @ g @ vh, None

    @staticmethod
    def jvp(ctx, ta, _):
        """Ṡ = diag(Ṗ), U̇ and V̇ as above (Ṗ = Uᵀ Ȧ V)."""
        xp = ctx.xp
        u, s, vh = ctx.outputs
        m, n = ta.shape[-2:]
        k = s.shape[-1]
        if ctx.full and m != n:
            raise AutogradError("linalg.svd: the forward-mode derivative of U and Vh is not "
                                "defined for full_matrices=True with a non-square input (the "
                                "extra singular vectors are not unique); use full_matrices=False")
        v = _mT(xp, vh)
        dp = _mT(xp, u) @ ta @ v
        eye = namespace_of(_array(s)).eye(k, dtype=bool)
        ds = xp.sum(xp.where(eye, dp, 0.0), axis=-1)
        s_row, s_col = xp.expand_dims(s, -2), xp.expand_dims(s, -1)
        s2 = s * s
        e = xp.where(eye, 1.0, xp.expand_dims(s2, -2) - xp.expand_dims(s2, -1))
        dpt = _mT(xp, dp)
        du = u @ xp.where(eye, 0.0, (dp * s_row + s_col * dpt) / e)
        dv = v @ xp.where(eye, 0.0, (s_col * dp + dpt * s_row) / e)
        if m > k:
            du = du + (ta @ v - u @ dp) / s_row
        if n > k:
            dv = dv + (_mT(xp, ta) @ u - v @ dpt) / s_row
        return du, ds, _mT(xp, dv)


class Eigh(Op):
    """A = V diag(λ) Vᵀ (A symmetric, its lower triangle read; λ ascending).
    Ā = V [diag(λ̄) + ½ skew(VᵀV̄) / E] Vᵀ with E_ij = λ_j − λ_i (1 on the diagonal).
    With Ṗ = Vᵀ Ȧ V: λ̇ = diag(Ṗ), V̇ = V (Ṗ / E) with a zero diagonal (PyTorch's eigh jvp)."""

    @staticmethod
    def forward(ctx, A, uplo):
        xp = ctx.xp
        w, v = xp.linalg.eigh(_array(A), UPLO=uplo)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        xp = ctx.xp
        n = w.shape[-1]
        eye = namespace_of(_array(w)).eye(n, dtype=bool)
        g = xp.where(eye, xp.expand_dims(gw, -1), 0.0)
        if bool(_array(gv).any()):
            vhgv = _mT(xp, v) @ gv
            e = xp.where(eye, 1.0, xp.expand_dims(w, -2) - xp.expand_dims(w, -1))
            g = g + (vhgv - _mT(xp, vhgv)) * 0.5 / e
        return v @ g @ _mT(xp, v), None

    @staticmethod
    def jvp(ctx, ta, _):
        """λ̇ = diag(VᵀȦV), V̇ = V (VᵀȦV / E) with a zero diagonal."""
        xp = ctx.xp
        w, v = ctx.outputs
        dp = _mT(xp, v) @ ta @ v
        eye = namespace_of(_array(w)).eye(w.shape[-1], dtype=bool)
        e = xp.where(eye, 1.0, xp.expand_dims(w, -2) - xp.expand_dims(w, -1))
        return xp.sum(xp.where(eye, dp, 0.0), axis=-1), v @ xp.where(eye, 0.0, dp / e)


# ---- the functions ---------------------------------------------------------------------------
def det(A):
    """The determinant of (batches of) square matrices."""
    _square(A, "det")
    return Det.apply(A)


def inv(A):
    """The inverse of (batches of) square matrices; LinAlgError if one is singular."""
    _square(A, "inv")
    return Inv.apply(A)


def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B); B a matrix or a vector per batch, broadcasting
    over batch dimensions: ``cr.linalg.solve(A, b)``."""
    _square(A, "solve")
    if not isinstance(B, Tensor):
        B = Tensor(B)
    _float(B, "solve")
    if not left:
        return transpose(solve(transpose(A, -1, -2), transpose(B, -1, -2)), -1, -2)
    vector = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and
                                  B._data.shape == A._data.shape[:-1])
    if B._data.shape[-1 if vector else -2] != A._data.shape[-1]:
        raise ShapeError(f"linalg.solve: incompatible shapes of A {A.shape} and B {B.shape}")
    if vector:                      # a vector per batch: solve for it as a one-column matrix
        x = Solve.apply(A, reshape(B, B._data.shape + (1,)))
        return reshape(x, x._data.shape[:-1])
    return Solve.apply(A, B)


def cholesky(A, *, upper=False):
    """The Cholesky factor L (lower) with A = L Lᵀ of a symmetric positive-definite A (or the
    upper Lᵀ); LinAlgError if A is not positive-definite."""
    _square(A, "cholesky")
    L = Cholesky.apply(A)
    return transpose(L, -1, -2) if upper else L


def qr(A, mode="reduced"):
    """Q with orthonormal columns and upper-triangular R with A = Q R; mode "reduced",
    "complete" or "r" (Q then empty, as PyTorch)."""
    if mode not in ("reduced", "complete", "r"):
        raise ConfigError(f"qr received unrecognized mode {mode!r} but expected one of "
                          f"'reduced' (default), 'r', or 'complete'")
    if A._data.ndim < 2:
        raise ShapeError(f"linalg.qr: the input tensor A must have at least 2 dimensions, got "
                         f"shape {A.shape}")
    _float(A, "qr")
    q, r = QR.apply(A, "complete" if mode == "complete" else "reduced")
    if mode == "r":
        q = Tensor(namespace_of(A._data).zeros((0,), dtype=A._data.dtype))
    return qr_result(q, r)


def svd(A, full_matrices=True):
    """U, S, Vh with A = U diag(S) Vh, singular values descending."""
    if A._data.ndim < 2:
        raise ShapeError(f"linalg.svd: the input tensor A must have at least 2 dimensions, got "
                         f"shape {A.shape}")
    _float(A, "svd")
    return svd_result(*SVD.apply(A, bool(full_matrices)))


def svdvals(A):
    """The singular values of A, descending."""
    return svd(A, full_matrices=False).S


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric A, reading its lower
    (``UPLO="L"``) or upper triangle."""
    _square(A, "eigh")
    if UPLO not in ("L", "U"):
        raise ConfigError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return eigh_result(*Eigh.apply(A, UPLO))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of a symmetric A."""
    return eigh(A, UPLO).eigenvalues
