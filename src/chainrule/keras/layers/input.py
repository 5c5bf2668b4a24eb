"""``Input(shape)``: the symbolic tensor a functional model starts from, and its ``InputLayer``.

``Input(shape=(29,))`` returns a :class:`~chainrule.keras.symbolic.KerasTensor` of shape
``(None, 29)`` (``None`` is the batch) produced by an :class:`InputLayer`; calling layers on it
builds a graph, and ``cr.Model(inputs, outputs)`` turns that graph into a model. When the model is
called, data given for this input is converted to the Input's dtype and its shape checked.

Example::

    >>> x = cr.layers.Input(shape=(29,), name="input")
    >>> x.shape, x.dtype
    ((None, 29), 'float32')
"""
from chainrule import dtypes
from chainrule.errors import ConfigError, DTypeError, ShapeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.utils import check_name, normalize_shape, positive_int
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import STRING_DTYPE, KerasTensor, Node


@serializable()
class InputLayer(Layer):
    """The layer behind ``Input``: no weights, it only names and describes one model input.

    ``batch_shape`` is the full shape with the batch first (``(None, 29)``). Example::

        >>> cr.layers.InputLayer(shape=(3,)).batch_shape
        (None, 3)
    """

    _autocast = False

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        if shape is not None and batch_shape is not None:
            raise ConfigError("InputLayer: pass shape or batch_shape, not both. Received: "
                              f"shape={shape!r}, batch_shape={batch_shape!r}")
        if batch_shape is not None:
            batch_shape = normalize_shape(batch_shape, "InputLayer", "batch_shape")
            if not batch_shape:
                raise ShapeError("InputLayer: batch_shape must include the batch dimension. "
                                 f"Received: batch_shape={batch_shape!r}")
        else:
            if shape is None:
                raise ShapeError("InputLayer: expected a shape, e.g. Input(shape=(29,)). "
                                 "Received: shape=None")
            shape = normalize_shape(shape, "Input", "shape")
            batch = None if batch_size is None else positive_int(batch_size, "batch_size", "Input")
            batch_shape = (batch,) + shape
        self.batch_shape = batch_shape
        self._string = dtype in (STRING_DTYPE, "str")
        if self._string:
            self._dtype = dtypes.get_default_dtype()
        else:
            self._dtype = dtypes.to_dtype(dtype) if dtype is not None else \
                dtypes.get_default_dtype()
            if self._dtype.kind not in "biuf":
                raise DTypeError(f"InputLayer: expected a numeric dtype (bool, int or float) or "
                                 f"'string'. Received: dtype={dtype!r}")
        self.built = True

    @property
    def dtype(self):
        """The dtype of the data this input takes (``"float32"``, ``"int64"``, ``"string"``)."""
        return STRING_DTYPE if self._string else self._dtype.name

    def make_tensor(self):
        """A new symbolic tensor produced by this layer (``Input`` calls this once)."""
        node = Node(self, (), False)
        out = KerasTensor(self.batch_shape, self.dtype, node, 0)
        node.outputs = (out,)
        return out

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def forward(self, inputs):
        return inputs

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self.batch_shape), "dtype": self.dtype}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None):  # noqa: N802 - Keras's name
    """A symbolic input of *shape* (without the batch) for building functional models.

    *dtype* defaults to ``cr.get_default_dtype()``; give ``dtype="int64"`` for integer codes fed
    to ``IntegerLookup`` or ``CategoryEncoding``, ``dtype="string"`` for text fed to
    ``StringLookup`` or ``Hashing``. *name* (default ``input_layer``, made unique) is
    the key for this input when a model is called with a dict. Example::

        >>> inputs = cr.layers.Input(shape=(29,), name="input")
        >>> outputs = cr.layers.Dense(1, activation="sigmoid")(inputs)
        >>> model = cr.Model(inputs, outputs)
    """
    if name is not None:
        check_name(name, "Input")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                       name=name)
    return layer.make_tensor()
