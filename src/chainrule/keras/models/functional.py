"""``cr.Model``: a network of layers from Inputs to outputs, and also an ``nn.Module``.

``Model(inputs, outputs)`` takes the symbolic tensors of a graph built by calling layers on
``cr.layers.Input`` tensors. Graphs may fork (one tensor feeding several layers), merge
(``Concatenate``, ``Add``), have several inputs and outputs, and call one layer more than once
(shared weights). The model registers its layers as child modules, so ``parameters()``,
``state_dict()``, ``train()`` / ``eval()`` and a hand-written loop work as for any Module, while
``compile`` / ``fit`` / ``evaluate`` / ``predict`` come from the Keras-style ``Trainer``.

Calling the model: ``model(x)`` with a tensor or array (one input), a list in ``model.inputs``
order, or a dict keyed by input name; it returns a tensor, or a list for several outputs.
``training=True/False`` overrides the module's mode for that call.

Subclassing is supported too: ``Model()`` without inputs and outputs, layers as attributes, and
``call(inputs)`` (or ``forward``) computing the result.

Example::

    >>> inputs = cr.layers.Input(shape=(29,), name="input")
    >>> h = cr.layers.Dense(16, activation="relu")(inputs)
    >>> outputs = cr.layers.Dense(1, activation="sigmoid")(h)
    >>> model = cr.Model(inputs, outputs)
    >>> model(np.zeros((4, 29))).shape
    (4, 1)
"""
import inspect

import numpy as np

from chainrule.errors import ConfigError, IndexOutOfRangeError, ShapeError, suggest
from chainrule.grad_mode import no_grad
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.registry import (SavedConfigError, deserialize_layer, serializable,
                                              serialize_layer)
from chainrule.keras.layers.input import InputLayer
from chainrule.keras.models.graph import Graph
from chainrule.keras.models.summary import print_summary
from chainrule.keras.saving import save_model
from chainrule.keras.symbolic import shape_repr
from chainrule.keras.training import Trainer
from chainrule.tensor import Tensor


@serializable("Functional")
class Model(Trainer, Layer):
    """A Keras-style model: layers wired from ``inputs`` to ``outputs``; an ``nn.Module`` too.

    Args:
        inputs: a KerasTensor from ``cr.layers.Input`` or a list of them.
        outputs: a KerasTensor computed from the inputs, or a list of them.
        name: the model's name (default ``"functional"``, made unique).

    Example::

        >>> a, b = cr.layers.Input((3,), name="a"), cr.layers.Input((2,), name="b")
        >>> h = cr.layers.Concatenate()([cr.layers.Dense(4)(a), cr.layers.Dense(4)(b)])
        >>> model = cr.Model([a, b], cr.layers.Dense(1)(h))
        >>> model({"a": np.ones((5, 3)), "b": np.ones((5, 2))}).shape
        (5, 1)
    """

    _autocast = False

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._graph = None
        if inputs is None and outputs is None:
            return  # a subclassed model: layers are attributes, call() computes
        where = f"Model '{self.name}'"
        if inputs is None or outputs is None:
            raise ConfigError(f"{where}: pass both inputs and outputs (or neither, to subclass). "
                              f"Received: inputs={inputs!r}, outputs={outputs!r}")
        self._set_graph(Graph(inputs, outputs, where))
        if not trainable:
            self.trainable = False

    @classmethod
    def _default_name(cls):
        return "Functional" if cls is Model else cls.__name__

    def _set_graph(self, graph):
        self._graph = graph
        for layer in graph.layers:
            if isinstance(layer, InputLayer):
                continue
            if layer is self:
                raise ConfigError(f"Model '{self.name}' cannot contain itself")
            self._modules[layer.name] = layer  # keyed by the (unique) layer name
        self.built = True

    # ---- Keras attributes -------------------------------------------------------------------
    @property
    def layers(self):
        """The layers in the order they run (Input layers included for functional models)."""
        if self._graph is not None:
            return list(self._graph.layers)
        return self._sublayers()

    @property
    def inputs(self):
        """The model's input KerasTensors, in order."""
        return list(self._graph.inputs) if self._graph is not None else []

    @property
    def outputs(self):
        """The model's output KerasTensors, in order."""
        return list(self._graph.outputs) if self._graph is not None else []

    @property
    def input(self):
        """The input KerasTensor (a list for several inputs)."""
        self._require_graph("input")
        return self._graph.inputs[0] if self._graph.single_input else list(self._graph.inputs)

    @property
    def output(self):
        """The output KerasTensor (a list for several outputs)."""
        self._require_graph("output")
        return self._graph.outputs[0] if self._graph.single_output else list(self._graph.outputs)

    @property
    def input_names(self):
        """The names of the Input layers, in ``inputs`` order (the keys for dict data)."""
        return self._graph.input_names if self._graph is not None else []

    @property
    def output_names(self):
        """The names of the layers producing the outputs, in ``outputs`` order."""
        if self._graph is None:
            return []
        names = [t.name for t in self._graph.outputs]
        if len(set(names)) < len(names):  # one layer's output given twice: number them
            names = [f"{n}_{i}" if names.count(n) > 1 else n for i, n in enumerate(names)]
        return names

    def _require_graph(self, what):
        if self._graph is None:
            raise AttributeError(f"Model '{self.name}' has no {what}: it is a subclassed model "
                                 f"(or a Sequential model that is not built yet)")

    def get_layer(self, name=None, index=None):
        """The layer called *name*, or at position *index* of ``layers``.

        Example: ``model.get_layer("dense_1").get_weights()``.
        """
        layers = self.layers
        if index is not None and name is not None:
            raise ConfigError("get_layer: provide only a layer name or a layer index. "
                              f"Received: index={index}, name={name}")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise IndexOutOfRangeError("get_layer: was asked to retrieve layer at index "
                                           f"{index} but "
                                           f"model only has {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in layers]
        raise ConfigError(f"No such layer: {name}.{suggest(name, names)} Existing layers are: "
                          f"{names}.")

    # ---- running ----------------------------------------------------------------------------
    def forward(self, inputs, training=None):
        """Run the layers on *inputs*; see the class docstring for the accepted forms."""
        if self._graph is None:
            return self._subclass_call(inputs, training)
        return self._graph.run(inputs, training)

    def _subclass_call(self, inputs, training):
        call = getattr(self, "call", None)
        if call is None:
            raise NotImplementedError(f"Model '{self.name}' has no graph: build it as "
                                      f"cr.Model(inputs, outputs), or subclass Model and define "
                                      f"call(self, inputs)")
        params = inspect.signature(call).parameters
        if "training" in params:
            return call(inputs, training=training)
        return call(inputs)

    def compute_output_shape(self, input_shape):
        if self._graph is None:
            return super().compute_output_shape(input_shape)
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        ins = self._graph.inputs
        if len(shapes) != len(ins):
            raise ShapeError(f"Model '{self.name}' expects {len(ins)} inputs, received "
                             f"{len(shapes)}")
        for t, s in zip(ins, shapes):
            if len(s) != len(t.shape) or any(a is not None and b is not None and a != b
                                             for a, b in zip(t.shape[1:], s[1:])):
                raise ShapeError(f"Model '{self.name}': input '{t.node.layer.name}' expects shape "
                                 f"{shape_repr(t.shape)}, received {shape_repr(tuple(s))}")
        outs = [t.shape for t in self._graph.outputs]
        return outs[0] if self._graph.single_output else outs

    def compute_output_dtype(self, input_dtype):
        if self._graph is None:
            return super().compute_output_dtype(input_dtype)
        dts = [t.dtype for t in self._graph.outputs]
        return dts[0] if self._graph.single_output else dts

    def _before_data(self, x):
        """Build a lazily built model by running it once on the first rows of *x* (in eval mode,
        without a graph), then finish a compile that was waiting for the weights."""
        if not self.built and x is not None:
            was_training = self.training
            try:
                self.eval()
                with no_grad():
                    self(_first_rows(x))
            finally:
                self.train(was_training)
        super()._before_data(x)

    # ---- display and saving -------------------------------------------------------------------
    def summary(self, line_length=None, print_fn=None, expand_nested=False, show_trainable=False):
        """Print a table of layers, output shapes and parameter counts, and the totals.

        *print_fn* (default ``print``) is called once per line; *line_length* widens the table.
        Example: ``model.summary()`` ends with ``Total params: 497`` for the lecture model.
        """
        print_summary(self, line_length=line_length, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable)

    def save(self, filepath, overwrite=True):
        """Save architecture, weights, compile settings and optimizer state to one file (see
        ``cr.load_model``).

        Example: ``model.save("heart.keras")``.
        """
        save_model(self, filepath, overwrite=overwrite)

    def get_config(self):
        """The architecture as JSON-able data: every layer's class and config, and the wiring."""
        if self._graph is None:
            raise NotImplementedError(
                f"Model '{self.name}' is a subclassed model: its architecture is Python code, "
                f"which a config cannot hold. Save its weights with "
                f"cr.save(model.state_dict(), path) instead, or build it as cr.Model(inputs, outputs)")
        g = self._graph
        position = {n.uid: i for i, n in enumerate(g.nodes)}
        nodes = []
        for n in g.nodes:
            nodes.append({"layer": n.layer.name,
                          "inputs": [[position[t.node.uid], t.index] for t in n.inputs],
                          "as_list": n.as_list, "kwargs": dict(n.kwargs)})
        return {"name": self.name, "trainable": self.trainable,
                "layers": [serialize_layer(layer) for layer in g.layers],
                "nodes": nodes,
                "inputs": [[position[t.node.uid], t.index] for t in g.inputs],
                "outputs": [[position[t.node.uid], t.index] for t in g.outputs],
                "single_input": g.single_input, "single_output": g.single_output}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild a functional model from ``get_config()``'s dict (layers come from the allowlist
        of chainrule layer classes, or *custom_objects*). Weights are freshly initialised."""
        c = _Reader(config, "config")
        layers = {}
        for i, entry in enumerate(c.list("layers")):
            layer = deserialize_layer(entry, custom_objects, f"config['layers'][{i}]")
            if layer.name in layers:
                raise SavedConfigError(f"config['layers'][{i}]: duplicate layer name "
                                       f"'{layer.name}'")
            layers[layer.name] = layer
        made = []  # per node: its output KerasTensors
        used_inputs = set()
        for j, nd in enumerate(c.list("nodes")):
            where = f"config['nodes'][{j}]"
            n = _Reader(nd, where)
            name = n.str("layer")
            if name not in layers:
                raise SavedConfigError(f"{where}: unknown layer '{name}'")
            layer = layers[name]
            refs = [_ref(r, made, f"{where}['inputs'][{k}]") for k, r in enumerate(n.list("inputs"))]
            kwargs = n.dict("kwargs")
            if isinstance(layer, InputLayer):
                if refs or name in used_inputs:
                    raise SavedConfigError(f"{where}: an InputLayer has one node and no inputs")
                used_inputs.add(name)
                made.append([layer.make_tensor()])
                continue
            if not refs:
                raise SavedConfigError(f"{where}: layer '{name}' is called on no inputs")
            out = layer(refs if n.bool("as_list") else refs[0], **kwargs)
            made.append(list(out) if isinstance(out, list) else [out])
        inputs = [_ref(r, made, f"config['inputs'][{k}]") for k, r in enumerate(c.list("inputs"))]
        outputs = [_ref(r, made, f"config['outputs'][{k}]") for k, r in enumerate(c.list("outputs"))]
        if not inputs or not outputs:
            raise SavedConfigError("config: a functional model needs at least one input and one "
                                   "output")
        single_in, single_out = c.bool("single_input"), c.bool("single_output")
        if (single_in and len(inputs) != 1) or (single_out and len(outputs) != 1):
            raise SavedConfigError("config: single_input/single_output do not match the "
                                   "inputs/outputs")
        model = cls(inputs[0] if single_in else inputs, outputs[0] if single_out else outputs,
                    name=c.str("name"))
        model._trainable = c.bool("trainable")  # each layer's own flag came with its config
        return model

    def __repr__(self):
        kind = "Functional" if type(self) is Model else type(self).__name__
        return f"<{kind} name={self.name}, built={self.built}>"


def _first_rows(x, n=2):
    """The first *n* samples of model data (an array, a tensor, or a list or dict of them)."""
    if isinstance(x, dict):
        return {k: _first_rows(v, n) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, (np.ndarray, Tensor)) for v in x):
        return [_first_rows(v, n) for v in x]
    return x[:n] if isinstance(x, Tensor) else np.asarray(x)[:n]


def _ref(r, made, where):
    """The KerasTensor that a ``[node position, output index]`` pair points to (earlier nodes only)."""
    if not (isinstance(r, list) and len(r) == 2 and all(type(v) is int for v in r)):
        raise SavedConfigError(f"{where}: expected [node position, output index], received {r!r}")
    p, k = r
    if not 0 <= p < len(made) or not 0 <= k < len(made[p]):
        raise SavedConfigError(f"{where}: [{p}, {k}] does not refer to an output of an earlier "
                               "node")
    return made[p][k]


class _Reader:
    """Typed access to one dict of an untrusted config, with errors naming the entry."""

    def __init__(self, d, where):
        if not isinstance(d, dict):
            raise SavedConfigError(f"{where}: expected a dict, received {type(d).__name__}")
        self.d, self.where = d, where

    def get(self, key, kind, what):
        if key not in self.d:
            raise SavedConfigError(f"{self.where}: missing key '{key}'")
        value = self.d[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SavedConfigError(f"{self.where}['{key}']: expected {what}, received "
                                   f"{type(value).__name__}")
        return value

    def list(self, key):
        return self.get(key, list, "a list")

    def dict(self, key):
        return self.get(key, dict, "a dict")

    def str(self, key):
        return self.get(key, str, "a string")

    def bool(self, key):
        return self.get(key, bool, "true or false")

