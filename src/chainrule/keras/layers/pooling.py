"""Keras 3's pooling layers: ``MaxPooling1D``, ``MaxPooling2D``, ``AveragePooling2D``,
``GlobalAveragePooling2D``, ``GlobalMaxPooling2D`` (channels last by default; "same" padding is
TensorFlow's and is never counted: it never wins a maximum nor enters a mean).

Example::

    >>> cr.layers.MaxPooling2D(3, strides=2, padding="same")(cr.ones(2, 7, 7, 3)).shape
    (2, 4, 4, 3)
"""
from chainrule.errors import ConfigError
from chainrule.keras.layers.registry import serializable
from chainrule.keras.layers.spatial import (SpatialLayer, data_format_arg, int_tuple,
                                            output_length, same_padding)
from chainrule.nn.functional.pooling import pool_to


class _Pool(SpatialLayer):
    _kind = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        where, r = type(self).__name__, self.rank
        self.pool_size = int_tuple(pool_size, r, "pool_size", where)
        self.strides = self.pool_size if strides is None else \
            int_tuple(strides, r, "strides", where)
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise ConfigError(f"{where}: the `padding` argument must be one of ('valid', 'same')."
                              f" Received: padding={padding!r}")
        self.padding = padding
        self.data_format = data_format_arg(data_format, where)

    def _check_input(self, shape):
        self._check_rank(shape)
        self._check_windows(shape, "pool_size", self.pool_size, self.strides,
                            (1,) * self.rank, self.padding)

    def forward(self, inputs):
        self._check_input(tuple(inputs.shape))
        x = self._channels_first(inputs)
        size = tuple(x.shape[2:])
        ones = (1,) * self.rank
        pads = same_padding(size, self.pool_size, self.strides, ones) if self.padding == "same" \
            else tuple((0, 0) for _ in size)
        y = pool_to(x, self._kind, self.pool_size, self.strides, [p[0] for p in pads],
                    [p[1] for p in pads], f"{type(self).__name__} '{self.name}'")
        return self._channels_back(y)

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        spatial = tuple(output_length(n, k, s, 1, self.padding) for n, k, s in zip(
            self._spatial(input_shape), self.pool_size, self.strides))
        channels = input_shape[1 if self.data_format == "channels_first" else -1]
        return self._assemble(input_shape, spatial, channels)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format}


@serializable()
class MaxPooling1D(_Pool):
    """The maximum of each window of *pool_size* steps (strides default to pool_size).

    >>> cr.layers.MaxPooling1D(2)(cr.ones(2, 10, 3)).shape
    (2, 5, 3)
    """

    rank = 1


@serializable()
class MaxPooling2D(_Pool):
    """The maximum of each *pool_size* window (strides default to pool_size; "same" padding
    never wins).

    >>> cr.layers.MaxPooling2D()(cr.ones(2, 8, 8, 3)).shape
    (2, 4, 4, 3)
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


@serializable()
class AveragePooling2D(_Pool):
    """The mean of each *pool_size* window ("same" padding is not counted, as TensorFlow's).

    >>> cr.layers.AveragePooling2D()(cr.ones(2, 8, 8, 3)).shape
    (2, 4, 4, 3)
    """

    _kind = "avg"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPool(SpatialLayer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def _axes(self):
        return tuple(range(2, 2 + self.rank)) if self.data_format == "channels_first" else \
            tuple(range(1, 1 + self.rank))

    def forward(self, inputs):
        self._check_rank(tuple(inputs.shape))
        return self._reduce(inputs, self._axes())

    def compute_output_shape(self, input_shape):
        self._check_rank(tuple(input_shape))
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else n for i, n in enumerate(input_shape))
        return tuple(n for i, n in enumerate(input_shape) if i not in axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


@serializable()
class GlobalAveragePooling2D(_GlobalPool):
    """The mean of each channel over height and width: (batch, h, w, c) → (batch, c).

    >>> cr.layers.GlobalAveragePooling2D()(cr.ones(2, 5, 5, 3)).shape
    (2, 3)
    """

    def _reduce(self, x, axes):
        return x.mean(dim=axes, keepdim=self.keepdims)


@serializable()
class GlobalMaxPooling2D(_GlobalPool):
    """The maximum of each channel over height and width: (batch, h, w, c) → (batch, c).

    >>> cr.layers.GlobalMaxPooling2D(keepdims=True)(cr.ones(2, 5, 5, 3)).shape
    (2, 1, 1, 3)
    """

    def _reduce(self, x, axes):
        return x.amax(dim=axes, keepdim=self.keepdims)


__all__ = ["AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "MaxPooling1D",
           "MaxPooling2D"]
