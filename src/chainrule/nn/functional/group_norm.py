"""``group_norm``: normalise each sample over groups of channels, as ``torch.nn.functional.group_norm``.

The C channels (dim 1) are split into G groups of C/G; each group of each sample is standardised
over its channels and all positions, with the biased variance, then scaled and shifted per
channel::

    y = γ_c · (x − μ_{n,g}) / √(σ²_{n,g} + ε) + β_c

It is ``layer_norm`` over each (sample, group) slice (one fused, twice-differentiable op), then the
per-channel affine. Keras's ``GroupNormalization`` (channels last) uses it on moved axes.

>>> F.group_norm(cr.randn(2, 4, 3), 2).shape
(2, 4, 3)
"""
from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError
from chainrule.nn.functional.normalization import layer_norm
from chainrule.tensor import Tensor


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Standardise (N, C, *) *input* over *num_groups* groups of channels, then γ x̂ + β per channel.

    >>> y = F.group_norm(cr.randn(3, 6, 5), 3)
    >>> bool(y.reshape(3, 3, 10).mean(-1).abs().max() < 1e-5)
    True
    """
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"group_norm: expected a cr.Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ShapeError(f"group_norm: expected input of shape (N, C, *), got {tuple(input.shape)}")
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups <= 0:
        raise ConfigError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise ShapeError(f"group_norm: expected number of channels in input ({c}) to be divisible "
                         f"by num_groups ({num_groups})")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"group_norm: {name} should have shape ({c},), got {tuple(t.shape)}")
    if input.numel() == 0:
        return input * 1.0
    grouped = input.reshape(n, num_groups, -1)
    y = layer_norm(grouped, (grouped.shape[-1],), eps=eps).reshape(input.shape)
    pshape = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(pshape)
    if bias is not None:
        y = y + bias.reshape(pshape)
    return y
