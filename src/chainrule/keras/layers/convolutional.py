"""Keras 3's convolution layers: ``Conv1D``, ``Conv2D``, ``Conv2DTranspose``.

Channels last by default (``data_format="channels_last"``: (batch, height, width, channels)),
kernels in Keras's layout (kh, kw, in/groups, filters) — (kh, kw, filters, in) for the transposed
convolution — initialised glorot_uniform, biases zeros.  Each layer wraps ``chainrule.nn``'s ops
(the math is written once, there): channels-last input is handed to them as an (N, C, H, W) view,
and "same" padding is TensorFlow's (as Keras's): out = ⌈in / stride⌉, the padding split with the
odd cell after.

Example::

    >>> conv = cr.layers.Conv2D(16, 3, padding="same", activation="relu")
    >>> conv(cr.ones(2, 8, 8, 1)).shape
    (2, 8, 8, 16)
    >>> [w.shape for w in conv.get_weights()]
    [(3, 3, 1, 16), (16,)]
"""
from chainrule.errors import ConfigError, ShapeError
from chainrule.keras import regularizers
from chainrule.keras.layers import activations, initializers
from chainrule.keras.layers.registry import serializable
from chainrule.keras.layers.spatial import (SpatialLayer, data_format_arg, int_tuple,
                                            output_length, same_padding)
from chainrule.keras.symbolic import shape_repr
from chainrule.keras.utils import positive_int
from chainrule.nn.functional.conv import convolution, transposed_convolution_to


class _Conv(SpatialLayer):
    _transposed = False

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, output_padding=None, **kwargs):
        super().__init__(**kwargs)
        where, r = type(self).__name__, self.rank
        self.filters = positive_int(filters, "filters", where)
        self.groups = positive_int(groups, "groups", where)
        if self.filters % self.groups:
            raise ConfigError(f"{where}: the number of filters must be evenly divisible by the "
                              f"number of groups. Received: groups={groups}, filters={filters}")
        self.kernel_size = int_tuple(kernel_size, r, "kernel_size", where)
        self.strides = int_tuple(strides, r, "strides", where)
        self.dilation_rate = int_tuple(dilation_rate, r, "dilation_rate", where)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(f"{where}: `strides > 1` not supported in conjunction with "
                              f"`dilation_rate > 1`. Received: strides={self.strides} and "
                              f"dilation_rate={self.dilation_rate}")
        allowed = ("valid", "same", "causal") if r == 1 and not self._transposed else \
            ("valid", "same")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in allowed:
            raise ConfigError(f"{where}: the `padding` argument must be one of {allowed}. "
                              f"Received: padding={padding!r}")
        self.padding = padding
        self.output_padding = None if output_padding is None else \
            int_tuple(output_padding, r, "output_padding", where, minimum=0)
        if self.output_padding is not None:
            for op, s in zip(self.output_padding, self.strides):
                if op >= s:
                    raise ConfigError(f"{where}: strides {self.strides} must be greater than "
                                      f"output padding {self.output_padding}")
        self.data_format = data_format_arg(data_format, where)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def _where(self):
        return f"{type(self).__name__} '{self.name}'"

    def build(self, input_shape):
        self._check_rank(input_shape)
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ShapeError(f"{self._where()}: the channel dimension of the inputs should be "
                             f"defined. Received input_shape={shape_repr(tuple(input_shape))}")
        if channels % self.groups:
            raise ConfigError(f"{self._where()}: the number of input channels must be evenly "
                              f"divisible by the number of groups. Received groups={self.groups},"
                              f" but the input has {channels} channels (full input shape is "
                              f"{shape_repr(tuple(input_shape))})")
        if not self._transposed:
            self._check_windows(input_shape, "kernel_size", self.kernel_size, self.strides,
                                self.dilation_rate, self.padding)
        self.input_channels = channels
        if self._transposed:
            shape = self.kernel_size + (self.filters, channels)
        else:
            shape = self.kernel_size + (channels // self.groups, self.filters)
        self.add_weight("kernel", shape, self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer,
                            regularizer=self.bias_regularizer)

    def _check_input(self, shape):
        self._check_rank(shape)
        got = shape[self._channel_axis()]
        if got is not None and got != self.input_channels:
            raise ShapeError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer "
                             f"({type(self).__name__}): expected axis {self._channel_axis()} of "
                             f"input shape to have value {self.input_channels} (the kernel has "
                             f"shape {shape_repr(tuple(self.kernel.shape))}), but received input "
                             f"with shape {shape_repr(tuple(shape))}")
        if not self._transposed:
            self._check_windows(shape, "kernel_size", self.kernel_size, self.strides,
                                self.dilation_rate, self.padding)

    def _torch_kernel(self):
        """The kernel in chainrule.nn's layout (out, in/groups, *k) — (in, out, *k) transposed —
        as a view (its gradient flows back to the Keras-layout weight)."""
        r = self.rank
        return self.kernel.permute(r + 1, r, *range(r))

    def forward(self, inputs):
        self._check_input(tuple(inputs.shape))
        x = self._channels_first(inputs)
        size = tuple(x.shape[2:])
        bias = self.bias if self.use_bias else None
        if self._transposed:
            y = self._transpose(x, size, bias)
        else:
            if self.padding == "valid":
                pads = tuple((0, 0) for _ in size)
            elif self.padding == "causal":
                pads = tuple((d * (k - 1), 0) for k, d in zip(self.kernel_size,
                                                              self.dilation_rate))
            else:
                pads = same_padding(size, self.kernel_size, self.strides, self.dilation_rate)
            y = convolution(x, self._torch_kernel(), bias, self.strides, pads,
                            self.dilation_rate, self.groups, self.rank, self._where())
        return self.activation(self._channels_back(y))

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        spatial = tuple(self._out_size(n, k, s, d, op) for n, k, s, d, op in zip(
            self._spatial(input_shape), self.kernel_size, self.strides, self.dilation_rate,
            self.output_padding or (None,) * self.rank))
        return self._assemble(input_shape, spatial, self.filters)

    def _out_size(self, n, k, s, d, op):
        return output_length(n, k, s, d, self.padding)

    def get_config(self):
        config = {**super().get_config(), "filters": self.filters,
                  "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                  "padding": self.padding, "data_format": self.data_format,
                  "dilation_rate": list(self.dilation_rate)}
        if not self._transposed:
            config["groups"] = self.groups
        else:
            config["output_padding"] = None if self.output_padding is None else \
                list(self.output_padding)
        return {**config, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


@serializable()
class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels): ``activation(conv1d(x, kernel) + bias)``;
    kernel (k, in/groups, filters); padding "valid", "same" or "causal" (left-padded, so step t
    sees only steps ≤ t).

    >>> cr.layers.Conv1D(8, 3, padding="causal")(cr.ones(2, 10, 4)).shape
    (2, 10, 8)
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, **kwargs)


@serializable()
class Conv2D(_Conv):
    """2-D convolution over (batch, height, width, channels): ``activation(conv2d(x, kernel) +
    bias)``; kernel (kh, kw, in/groups, filters); padding "valid" or "same" (TensorFlow's).

    >>> cr.layers.Conv2D(4, (3, 3), strides=2, padding="same")(cr.ones(1, 7, 7, 3)).shape
    (1, 4, 4, 4)
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, **kwargs)


@serializable()
class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution (learned upsampling): kernel (kh, kw, filters, in).  Output size
    per spatial dim, as Keras: "valid" (n - 1)·s + max(k, s), "same" n·s — or, with
    *output_padding*, (n - 1)·s + k - 2·(k // 2 if "same" else 0) + output_padding — cropped as
    TensorFlow crops (the odd cell at the end).

    >>> cr.layers.Conv2DTranspose(2, 3, strides=2, padding="same")(cr.ones(1, 4, 4, 8)).shape
    (1, 8, 8, 2)
    """

    rank = 2
    _transposed = True

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, output_padding, **kwargs)

    def _out_size(self, n, k, s, d, op):
        if n is None:
            return None
        k = d * (k - 1) + 1
        if op is None:
            return n * s + max(k - s, 0) if self.padding == "valid" else n * s
        return (n - 1) * s + k - 2 * (k // 2 if self.padding == "same" else 0) + op

    def _transpose(self, x, size, bias):
        out, lo = [], []
        for n, k, s, d, op in zip(size, self.kernel_size, self.strides, self.dilation_rate,
                                  self.output_padding or (None,) * self.rank):
            o = self._out_size(n, k, s, d, op)
            full = (n - 1) * s + d * (k - 1) + 1
            lo.append(max(full - o, 0) // 2 if self.padding == "same" else 0)
            out.append(o)
        return transposed_convolution_to(x, self._torch_kernel(), bias, self.strides,
                                         self.dilation_rate, 1, tuple(lo), tuple(out), self.rank,
                                         self._where())


__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose"]
