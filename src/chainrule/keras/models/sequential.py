"""``cr.Sequential``: a plain stack of layers, each feeding the next.

``Sequential([Dense(16, activation="relu"), Dense(1, activation="sigmoid")])`` builds lazily: the
input size is learnt from the first call (or ``fit``), from a leading ``cr.layers.Input(shape)``,
from ``input_shape=`` on the first layer (Keras 2 style), or from ``model.build((None, 29))``.
Once the input is known each added layer is called symbolically at once, so shape mistakes show
at ``add``. It is a :class:`~chainrule.keras.models.functional.Model` (so an ``nn.Module``).

Example::

    >>> model = cr.Sequential([cr.layers.Input(shape=(29,)),
    ...                        cr.layers.Dense(16, activation="relu"),
    ...                        cr.layers.Dense(1, activation="sigmoid")])
    >>> model.count_params()
    497
"""
from chainrule import dtypes
from chainrule.errors import ArgumentTypeError, ConfigError, IndexOutOfRangeError, ShapeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.registry import deserialize_layer, serializable, serialize_layer
from chainrule.keras.layers.input import InputLayer
from chainrule.keras.models.functional import Model, _Reader
from chainrule.keras.models.graph import Graph
from chainrule.keras.symbolic import KerasTensor


@serializable()
class Sequential(Model):
    """A linear stack of layers. ``add(layer)`` appends, ``pop()`` removes the last.

    Args:
        layers: a list of layers, optionally starting with ``cr.layers.Input(shape)``.
        name: the model's name (default ``"sequential"``, made unique).

    Example::

        >>> model = cr.Sequential(name="mlp")
        >>> model.add(cr.layers.Dense(8, activation="relu"))
        >>> model.add(cr.layers.Dense(1))
        >>> model(np.zeros((4, 3))).shape
        (4, 1)
    """

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._seq = []
        self._input_layer = None
        self._last = None        # the last layer's output KerasTensor, once the input is known
        self._input_tensor = None
        if layers is not None:
            if not isinstance(layers, (list, tuple)):
                raise ArgumentTypeError(f"Sequential: expected a list of layers. Received: "
                                        f"{type(layers).__name__}")
            for layer in layers:
                self.add(layer)

    @classmethod
    def _default_name(cls):
        return cls.__name__

    # The graph is made on demand from the input tensor and the last output (cheap to keep
    # extending while layers are added; a 10,000-layer stack builds in linear time).
    @property
    def _graph(self):
        cached = self.__dict__.get("_graph_cache")
        if cached is None and self._last is not None:
            cached = Graph(self._input_tensor, self._last, f"Sequential '{self.name}'")
            self.__dict__["_graph_cache"] = cached
        return cached

    @_graph.setter
    def _graph(self, value):
        self.__dict__["_graph_cache"] = value

    @property
    def built(self):
        """Whether the input shape is known (and so every layer built)."""
        return self.__dict__.get("_last") is not None

    @built.setter
    def built(self, value):
        pass  # derived from the layers, as in Keras's Sequential

    def add(self, layer):
        """Append *layer* (or a leading ``cr.layers.Input``); checks its input shape if known.

        Example: ``model.add(cr.layers.Dense(4))``.
        """
        where = f"Sequential '{self.name}'"
        if isinstance(layer, KerasTensor):
            if not isinstance(layer.node.layer, InputLayer):
                raise ConfigError(f"{where}: only an Input tensor (cr.layers.Input) can be added, "
                                  f"not the output of layer '{layer.node.layer.name}'")
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._seq or self._input_layer is not None:
                raise ConfigError(f"{where}: an Input can only be the first element of a "
                                  f"Sequential model")
            self._start(layer)
            return
        if not isinstance(layer, Layer):
            raise ArgumentTypeError(f"{where}: only instances of cr.layers.Layer can be added to a "
                                    f"Sequential model. Received: {layer!r} (of type "
                                    f"{type(layer).__name__})")
        if layer is self:
            raise ConfigError(f"{where}: a model cannot contain itself")
        if layer.name in self._modules or \
                (self._input_layer is not None and layer.name == self._input_layer.name):
            raise ConfigError(f"{where}: all layers added to a Sequential model should have unique "
                              f"names. Name \"{layer.name}\" is already the name of a layer in "
                              f"this model. Update the `name` argument to pass a unique name")
        if not self._seq and self._input_layer is None and layer._input_shape_arg is not None:
            self._start(InputLayer(batch_shape=layer._input_shape_arg))
        if self._last is not None:
            self._last = layer(self._last)  # raises on a shape mismatch, before anything changes
            self._graph = None
        self._seq.append(layer)
        self._modules[layer.name] = layer

    def _start(self, input_layer):
        self._input_layer = input_layer
        self._input_tensor = input_layer.make_tensor()
        last = self._input_tensor
        for layer in self._seq:
            last = layer(last)
        self._last = last
        self._graph = None

    def pop(self):
        """Remove and return the last layer. Example: ``model.pop()``."""
        if not self._seq:
            raise IndexOutOfRangeError(f"Sequential '{self.name}': there are no layers to pop")
        layer = self._seq.pop()
        del self._modules[layer.name]
        if self._input_layer is not None:
            self._start(self._input_layer)
        return layer

    def build(self, input_shape=None):
        """Build every layer for inputs of *input_shape* (batch first). Example: ``build((None, 29))``."""
        if self._last is not None:
            return
        if isinstance(input_shape, (list, dict)) or input_shape is None or len(input_shape) < 1:
            raise ShapeError(f"Sequential '{self.name}': expected one input shape with the batch "
                             f"first, e.g. build((None, 29)). Received: {input_shape!r}")
        if not self._seq:
            raise ConfigError(f"Sequential model '{self.name}' has no layers yet; add layers "
                              f"before building or calling it")
        self._start(InputLayer(batch_shape=(None,) + tuple(input_shape[1:]),
                               dtype=dtypes.get_default_dtype()))

    @property
    def layers(self):
        """The layers in order (the Input is not listed)."""
        return list(self._seq)

    @property
    def output_names(self):
        return [self._seq[-1].name] if self._seq else []

    def forward(self, inputs, training=None):
        if not self._seq:
            raise ConfigError(f"Sequential model '{self.name}' has no layers yet; add layers "
                              f"before calling it")
        return self._graph.run(inputs, training)

    def get_config(self):
        inp = self._input_layer
        return {"name": self.name, "trainable": self.trainable,
                "input": None if inp is None else {"name": inp.name, "dtype": inp.dtype,
                                                   "batch_shape": list(inp.batch_shape)},
                "layers": [serialize_layer(layer) for layer in self._seq]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        c = _Reader(config, "config")
        model = cls(name=c.str("name"))
        inp = config.get("input")
        if inp is not None:
            i = _Reader(inp, "config['input']")
            model.add(InputLayer(batch_shape=i.list("batch_shape"), dtype=i.str("dtype"),
                                 name=i.str("name")))
        for k, entry in enumerate(c.list("layers")):
            model.add(deserialize_layer(entry, custom_objects, f"config['layers'][{k}]"))
        model._trainable = c.bool("trainable")
        return model
