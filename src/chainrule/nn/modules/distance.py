"""``CosineSimilarity`` and ``PairwiseDistance``, as ``torch.nn``: modules over their functions.

>>> nn.PairwiseDistance()(cr.zeros(2, 3), cr.ones(2, 3)).shape
(2,)
"""
from chainrule.nn.functional.distance import cosine_similarity, pairwise_distance
from chainrule.nn.modules.module import Module


class CosineSimilarity(Module):
    """Σ x₁x₂ / (max(‖x₁‖, eps) · max(‖x₂‖, eps)) along *dim*.

    >>> nn.CosineSimilarity(dim=1)(cr.tensor([[1.0, 0.0]]), cr.tensor([[0.0, 1.0]]))
    tensor([0.])
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """‖x₁ − x₂ + eps‖ₚ along the last dimension."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
