"""What the Keras-style image layers share: checked arguments (Keras's standardize_tuple and
data_format), TensorFlow's "same" padding and output lengths, and ``SpatialLayer``, the base that
hands channels-last input to ``chainrule.nn``'s ops as an (N, C, *spatial) view.

Example::

    >>> same_padding((7, 8), (3, 2), (2, 2), (1, 1))       # out = ⌈in / stride⌉
    ((1, 1), (0, 0))
"""

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.symbolic import shape_repr


def data_format_arg(value, where):
    """*value* checked: "channels_last" (the default, for None) or "channels_first"."""
    if value is None:
        return "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ConfigError(f"{where}: expected data_format 'channels_last' or 'channels_first'. "
                          f"Received: data_format={value!r}")
    return value


def int_tuple(value, rank, name, where, minimum=1):
    """An int or a sequence of *rank* ints ≥ *minimum*, as a tuple (Keras's standardize_tuple)."""
    items = (value,) * rank if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if len(items) != rank or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum
                                 for v in items):
        what = "positive" if minimum == 1 else "non-negative"
        raise ConfigError(f"{where}: the `{name}` argument must be a tuple of {rank} {what} "
                          f"integers. Received {name}={value!r}")
    return items


def same_padding(size, kernel, stride, dilation):
    """TensorFlow's "same": (before, after) so that out = ⌈in / stride⌉, the odd cell after."""
    pairs = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def output_length(n, k, s, d, padding):
    """The number of windows along a dim of size n (None when unknown), as Keras computes it."""
    if n is None:
        return None
    if padding in ("same", "causal"):
        return -(-n // s)
    return max((n - d * (k - 1) - 1) // s + 1, 0)


class SpatialLayer(Layer):
    """What the image layers share: rank, data format, moving channels to and from axis 1."""

    _single_input = True
    rank = 2

    def _channels_first(self, x):
        if self.data_format == "channels_first":
            return x
        return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))

    def _channels_back(self, y):
        if self.data_format == "channels_first":
            return y
        return y.permute(0, *range(2, y.ndim), 1)

    def _spatial(self, shape):
        return tuple(shape[2:]) if self.data_format == "channels_first" else tuple(shape[1:-1])

    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def _check_rank(self, shape):
        if len(shape) != self.rank + 2:
            axes = "channels, spatial" if self.data_format == "channels_first" else \
                "spatial, channels"
            raise ShapeError(f"{type(self).__name__} '{self.name}': expected an input of rank "
                             f"{self.rank + 2} (batch, {axes}), received input with shape "
                             f"{shape_repr(tuple(shape))}")

    def _check_windows(self, shape, name, kernel, strides, dilation, padding):
        """ShapeError, in the input's own layout, when a "valid" window of *kernel* (the layer's
        argument *name*) does not fit the input's known spatial size: checked before any weight
        is made or any output computed."""
        if padding != "valid":
            return
        spatial = self._spatial(shape)
        if any(n is not None and output_length(n, k, s, d, padding) <= 0
               for n, k, s, d in zip(spatial, kernel, strides, dilation)):
            span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
            span = f" (dilated {span})" if span != tuple(kernel) else ""
            raise ShapeError(f"{type(self).__name__} '{self.name}': the kernel is larger than the "
                             f"padded input: {name}={kernel}{span} does not fit input "
                             f"of shape {shape_repr(tuple(shape))} (spatial size "
                             f"{shape_repr(spatial)}) with padding='valid'")

    def _assemble(self, input_shape, spatial, channels):
        if self.data_format == "channels_first":
            return (input_shape[0], channels) + tuple(spatial)
        return (input_shape[0],) + tuple(spatial) + (channels,)
