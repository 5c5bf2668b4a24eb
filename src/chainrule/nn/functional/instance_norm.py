"""``instance_norm``: standardise each channel of each sample over its positions, as PyTorch's.

    y = γ_c · (x − μ_{n,c}) / √(σ²_{n,c} + ε) + β_c        (μ, σ² over the spatial dims of x[n, c])

As in PyTorch it is ``batch_norm`` on the input seen as one sample of N·C channels: with running
statistics those are updated from every instance (their batch mean, the variance unbiased), and
with ``use_input_stats=False`` it is ``batch_norm`` in evaluation mode with them.

>>> F.instance_norm(cr.randn(2, 3, 5)).shape
(2, 3, 5)
"""
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError
from chainrule.nn.functional.normalization import batch_norm
from chainrule.tensor import Tensor


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise (N, C, *) *input* per sample and channel; optional per-channel γ, β.

    >>> y = F.instance_norm(cr.randn(2, 3, 8))
    >>> bool(y.mean(-1).abs().max() < 1e-5)
    True
    """
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"instance_norm: expected a cr.Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ShapeError(f"instance_norm: expected input of shape (N, C, *), got "
                         f"{tuple(input.shape)}")
    shape = tuple(input.shape)
    n, c = shape[0], shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"instance_norm: {name} should have shape ({c},) for input with {c} "
                             f"channels (shape {shape}), got {tuple(t.shape)}")
    if (running_mean is None) != (running_var is None):
        raise ConfigError("instance_norm: give both running_mean and running_var, or neither")
    if not use_input_stats:
        if running_mean is None:
            raise ConfigError("instance_norm: Expected running_mean and running_var to be "
                              "defined when use_input_stats is false")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    spatial = 1
    for s in shape[2:]:
        spatial *= s
    if spatial <= 1:
        raise ShapeError(f"instance_norm: Expected more than 1 spatial element when training, got "
                         f"input size {list(shape)}")
    flat = input.reshape((1, n * c) + shape[2:])
    if running_mean is None:
        y = batch_norm(flat, None, None, None, None, True, momentum, eps)
    else:
        xp = namespace_of(running_mean._data)
        rm, rv = Tensor(xp.tile(running_mean._data, n)), Tensor(xp.tile(running_var._data, n))
        y = batch_norm(flat, rm, rv, None, None, True, momentum, eps)
        for buf, tiled in ((running_mean, rm), (running_var, rv)):
            buf._data[...] = tiled._data.reshape(n, c).mean(axis=0)
            buf._vc[0] += 1
    y = y.reshape(shape)
    pshape = (1, c) + (1,) * (len(shape) - 2)
    if weight is not None:
        y = y * weight.reshape(pshape)
    if bias is not None:
        y = y + bias.reshape(pshape)
    return y
