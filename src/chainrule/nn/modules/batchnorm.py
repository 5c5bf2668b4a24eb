"""``BatchNorm2d``: batch normalisation per channel of (N, C, H, W) input.

It is ``BatchNorm1d``'s layer and math (``F.batch_norm``) over the batch and both spatial axes,
so nothing is written twice: the image is handed to it as (1, C, H·W·N), channel by channel — a
view of the (C, H, W, N) layout the convolution ops produce, in which each channel's statistics
are one contiguous run.
"""
from chainrule.errors import ShapeError
from chainrule.nn.modules.normalization import BatchNorm1d


class BatchNorm2d(BatchNorm1d):
    """y = γ (x - μ) / √(σ² + eps) + β per channel, μ and σ² over (N, H, W).

    Training uses the batch statistics and updates ``running_mean``/``running_var``; ``eval()``
    uses the running statistics (as ``torch.nn.BatchNorm2d``).

    >>> cr.nn.BatchNorm2d(3)(cr.randn(4, 3, 5, 5)).shape
    (4, 3, 5, 5)
    """

    def forward(self, input):
        shape = input.shape
        if len(shape) != 4:
            raise ShapeError(f"BatchNorm2d({self.num_features}): expected 4D input (N, C, H, W), "
                             f"got {len(shape)}D input of shape {shape}")
        if shape[1] != self.num_features:
            raise ShapeError(f"BatchNorm2d({self.num_features}): expected input with "
                             f"{self.num_features} channels in dimension 1, got shape {shape}")
        n, c, h, w = shape
        rows = input.permute(1, 2, 3, 0).reshape(1, c, h * w * n)
        return super().forward(rows).reshape(c, h, w, n).permute(3, 0, 1, 2)
