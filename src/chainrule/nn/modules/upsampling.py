"""``Upsample``: resize images or sequences by nearest or (bi)linear interpolation."""
from chainrule.nn.functional.resize import interpolate
from chainrule.nn.modules.module import Module


class Upsample(Module):
    """y = F.interpolate(x, size, scale_factor, mode, align_corners) (``torch.nn.Upsample``).

    >>> cr.nn.Upsample(scale_factor=2)(cr.ones(1, 3, 4, 4)).shape
    (1, 3, 8, 8)
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) \
            else (tuple(float(s) for s in scale_factor) if scale_factor else None)
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self):
        s = f"size={self.size}" if self.scale_factor is None else \
            f"scale_factor={self.scale_factor}"
        return s + f", mode={self.mode!r}"
