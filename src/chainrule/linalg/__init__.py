"""``cr.linalg``: linear algebra with gradients, as ``torch.linalg``.

Norms (``norm, vector_norm, matrix_norm``), determinants and inverses (``det, inv, solve``) and
factorisations (``cholesky, qr, svd, svdvals, eigh, eigvalsh``), batched over leading dimensions::

    A = cr.randn(3, 3, requires_grad=True)
    cr.linalg.det(A).backward()          # A.grad is det(A) · A⁻ᵀ
"""
from chainrule.linalg.decompositions import (
                                             LinAlgError,
                                             cholesky,
                                             det,
                                             eigh,
                                             eigvalsh,
                                             inv,
                                             qr,
                                             solve,
                                             svd,
                                             svdvals,
)
from chainrule.linalg.norms import matrix_norm, norm, vector_norm

__all__ = ["LinAlgError", "cholesky", "det", "eigh", "eigvalsh", "inv", "matrix_norm", "norm",
           "qr", "solve", "svd", "svdvals", "vector_norm"]
