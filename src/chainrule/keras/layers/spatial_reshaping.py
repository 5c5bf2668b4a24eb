"""Keras 3's ``ZeroPadding2D`` and ``UpSampling2D`` (channels last by default).

Example::

    >>> cr.layers.UpSampling2D()(cr.layers.ZeroPadding2D(1)(cr.ones(1, 3, 3, 2))).shape
    (1, 10, 10, 2)
"""
from chainrule.errors import ConfigError
from chainrule.keras.layers.registry import serializable
from chainrule.keras.layers.spatial import SpatialLayer, data_format_arg, int_tuple
from chainrule.nn.functional.padding import pad as _pad
from chainrule.nn.functional.resize import interpolate


@serializable()
class ZeroPadding2D(SpatialLayer):
    """Zeros around each image: *padding* an int, (rows, cols), or ((top, bottom), (left,
    right)).

    >>> cr.layers.ZeroPadding2D(((1, 0), (2, 1)))(cr.ones(1, 4, 4, 3)).shape
    (1, 5, 7, 3)
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = "ZeroPadding2D"
        if isinstance(padding, int) and not isinstance(padding, bool):
            pairs = ((padding, padding), (padding, padding))
        elif isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
                isinstance(p, int) and not isinstance(p, bool) for p in padding):
            pairs = ((padding[0], padding[0]), (padding[1], padding[1]))
        elif isinstance(padding, (tuple, list)) and len(padding) == 2:
            pairs = tuple(int_tuple(p, 2, "padding", where, minimum=0) for p in padding)
        else:
            pairs = None
        if pairs is None or any(v < 0 or isinstance(v, bool) or not isinstance(v, int)
                                for p in pairs for v in p):
            raise ConfigError(f"{where}: `padding` should be either an int, a tuple of 2 ints "
                              f"(symmetric_height_pad, symmetric_width_pad), or a tuple of 2 "
                              f"tuples of 2 ints ((top_pad, bottom_pad), (left_pad, "
                              f"right_pad)). Received: padding={padding!r}")
        self.padding = pairs
        self.data_format = data_format_arg(data_format, where)

    def forward(self, inputs):
        self._check_rank(tuple(inputs.shape))
        (t, b), (l, r) = self.padding
        amounts = (l, r, t, b) if self.data_format == "channels_first" else (0, 0, l, r, t, b)
        return _pad(inputs, amounts)

    def compute_output_shape(self, input_shape):
        self._check_rank(tuple(input_shape))
        spatial = tuple(None if n is None else n + a + b for n, (a, b) in
                        zip(self._spatial(input_shape), self.padding))
        channels = input_shape[self._channel_axis()]
        return self._assemble(input_shape, spatial, channels)

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding],
                "data_format": self.data_format}


@serializable()
class UpSampling2D(SpatialLayer):
    """Repeat each row *size[0]* and each column *size[1]* times ("nearest"), or interpolate
    ("bilinear", half-pixel centres as Keras's image resize).

    >>> cr.layers.UpSampling2D((2, 3))(cr.ones(1, 4, 4, 3)).shape
    (1, 8, 12, 3)
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        where = "UpSampling2D"
        self.size = int_tuple(size, 2, "size", where)
        if interpolation not in ("nearest", "bilinear"):
            raise ConfigError(f"{where}: `interpolation` argument should be one of: 'nearest' "
                              f"or 'bilinear'. Received: interpolation={interpolation!r}")
        self.interpolation = interpolation
        self.data_format = data_format_arg(data_format, where)

    def forward(self, inputs):
        self._check_rank(tuple(inputs.shape))
        x = self._channels_first(inputs)
        out = tuple(n * s for n, s in zip(x.shape[2:], self.size))
        y = interpolate(x, size=out, mode=self.interpolation,
                        align_corners=False if self.interpolation == "bilinear" else None)
        return self._channels_back(y)

    def compute_output_shape(self, input_shape):
        self._check_rank(tuple(input_shape))
        spatial = tuple(None if n is None else n * s for n, s in
                        zip(self._spatial(input_shape), self.size))
        return self._assemble(input_shape, spatial, input_shape[self._channel_axis()])

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


__all__ = ["UpSampling2D", "ZeroPadding2D"]
