"""The graph of a functional model: found from its outputs, ordered, and run.

``Graph(inputs, outputs)`` walks back from the output KerasTensors through ``node.inputs`` with an
explicit stack (no recursion, so a 10,000-layer chain is fine), stops at the model's Inputs, and
checks that every Input it reaches was given. The nodes, sorted by creation number, are in
topological order; ``run`` executes them in that order, keeping each intermediate tensor only
until its last consumer has run.

Example::

    >>> x = cr.layers.Input((3,)); y = cr.layers.Dense(2)(x)
    >>> g = Graph([x], [y], "demo")
    >>> [type(layer).__name__ for layer in g.layers]
    ['InputLayer', 'Dense']
"""
import numpy as np

from chainrule import dtypes
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.keras.utils import to_tensor
from chainrule.keras.layers.input import InputLayer
from chainrule.keras.symbolic import STRING_DTYPE, KerasTensor, shape_repr
from chainrule.tensor import Tensor


def _as_list(x, what, where):
    if isinstance(x, KerasTensor):
        return [x], True
    if isinstance(x, (list, tuple)) and x:
        for i, t in enumerate(x):
            if not isinstance(t, KerasTensor):
                raise ArgumentTypeError(f"{where}: {what}[{i}] must be a KerasTensor (from "
                                        "cr.layers.Input or "
                                        f"a layer called on one). Received: {type(t).__name__}")
        return list(x), False
    if isinstance(x, dict):
        raise ArgumentTypeError(f"{where}: {what} must be a KerasTensor or a list of them; for "
                                "named inputs, give each Input a name and pass a dict when calling "
                                "the model")
    raise ArgumentTypeError(f"{where}: {what} must be a KerasTensor (from cr.layers.Input or a "
                            "layer called on one) or a non-empty list of them. Received: "
                            f"{type(x).__name__}")


class Graph:
    """The nodes between a model's inputs and outputs, in topological order, ready to run."""

    def __init__(self, inputs, outputs, where):
        self.where = where
        self.inputs, self.single_input = _as_list(inputs, "inputs", where)
        self.outputs, self.single_output = _as_list(outputs, "outputs", where)
        for i, t in enumerate(self.inputs):
            if not isinstance(t.node.layer, InputLayer):
                raise ConfigError(f"{where}: inputs[{i}] must be created with cr.layers.Input(); "
                                  f"it is the output of layer '{t.node.layer.name}'")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ConfigError(f"{where}: the same Input is given twice in inputs")
        self.nodes = self._collect()
        self.layers = list({id(n.layer): n.layer for n in self.nodes}.values())
        names = {}
        for layer in self.layers:
            if layer.name in names:
                raise ConfigError(f"{where}: the name \"{layer.name}\" is used by 2 different "
                                  "layers "
                                  f"in the model. All layer names should be unique (pass name=... "
                                  f"to tell them apart)")
            names[layer.name] = layer
        self.node_index = {}  # node uid -> index among its layer's nodes in this graph
        per_layer = {}
        for n in self.nodes:
            k = per_layer.get(id(n.layer), 0)
            self.node_index[n.uid] = k
            per_layer[id(n.layer)] = k + 1
        self._compile()

    def _collect(self):
        """All nodes that the outputs depend on, found with an explicit stack."""
        given = {id(t) for t in self.inputs}
        found = {}
        stack = [(t.node, t.name) for t in self.outputs]
        while stack:
            node, wanted_by = stack.pop()
            if node.uid in found:
                continue
            found[node.uid] = node
            if isinstance(node.layer, InputLayer):
                if id(node.outputs[0]) not in given:
                    known = [t.node.layer.name for t in self.inputs]
                    raise ConfigError(
                        f"{self.where}: output '{wanted_by}' is computed from the Input "
                        f"'{node.layer.name}', which is not among the model's inputs {known}. "
                        f"Pass it too: cr.Model(inputs=[..., {node.layer.name}], outputs=...)")
                continue
            for t in node.inputs:
                if t.node.uid not in found:
                    stack.append((t.node, wanted_by))
        return [found[k] for k in sorted(found)]

    def _compile(self):
        """The run plan: per node, its layer, where its inputs are, and what to free after it."""
        slot = {}  # id(KerasTensor) -> position in the values list
        for t in self.inputs:
            slot[id(t)] = len(slot)
        steps = []
        for n in self.nodes:
            if isinstance(n.layer, InputLayer):
                continue
            for t in n.outputs:
                slot[id(t)] = len(slot)
        last_use = {}
        for i, n in enumerate(self.nodes):
            for t in n.inputs:
                last_use[id(t)] = i
        keep = {id(t) for t in self.outputs}
        for i, n in enumerate(self.nodes):
            if isinstance(n.layer, InputLayer):
                continue
            free = sorted({slot[id(t)] for t in n.inputs
                           if last_use[id(t)] == i and id(t) not in keep})
            steps.append((n.layer, [slot[id(t)] for t in n.inputs], n.as_list, n.kwargs,
                          [slot[id(t)] for t in n.outputs], free))
        self.n_slots = len(slot)
        self.steps = steps
        self.output_slots = [slot[id(t)] for t in self.outputs]

    @property
    def input_names(self):
        return [t.node.layer.name for t in self.inputs]

    # ---- matching data to the inputs (the one owner: calls and fit/evaluate/predict use it) ----
    def match(self, data, where=None):
        """The items of *data* in input order: *data* is a tensor or array (one input), a list in
        input order, or a dict keyed by input name. Errors name the missing or unknown input."""
        where, names = where or self.where, self.input_names
        n = len(self.inputs)
        if isinstance(data, dict):
            missing = [k for k in names if k not in data]
            if missing:
                raise ConfigError(f"{where}: missing data for input '{missing[0]}' (the model's "
                                  f"inputs are {names}); received keys {list(data)}")
            unknown = [k for k in data if k not in names]
            if unknown:
                raise ConfigError(f"{where}: received data for unknown input '{unknown[0]}' (the "
                                  f"model's inputs are {names})")
            return [data[k] for k in names]
        if isinstance(data, (list, tuple)) and (n > 1 or (
                len(data) == 1 and isinstance(data[0], (Tensor, np.ndarray)))):
            if len(data) != n:
                raise ShapeError(f"{where}: expected {n} input{'s' if n > 1 else ''} {names}, "
                                 f"received a list of {len(data)}")
            return list(data)
        if n == 1:
            return [data]
        raise ShapeError(f"{where}: the model has {n} inputs {names}; pass a list of {n} "
                         f"arrays in that order or a dict keyed by input name. Received: "
                         f"{type(data).__name__}")

    def check_input(self, i, shape, where=None, what="data", check_batch=True):
        """Raise a ShapeError unless *shape* fits Input *i* (its rank, and every known size; the
        batch size too unless *check_batch* is False)."""
        want = self.inputs[i].shape
        first = 0 if check_batch else 1
        if len(shape) != len(want) or any(d is not None and d != s for d, s in
                                          zip(want[first:], tuple(shape)[first:])):
            raise ShapeError(f"{where or self.where}: input '{self.input_names[i]}' expects shape "
                             f"{shape_repr(want)}, received {what} of shape "
                             f"{shape_repr(tuple(shape))}")

    def feed(self, data):
        """Match *data* to the inputs, converting each to its Input's dtype and checking its shape."""
        out = []
        for i, (t, value) in enumerate(zip(self.inputs, self.match(data))):
            if t.dtype == STRING_DTYPE:
                arr = value._data if isinstance(value, Tensor) else np.asarray(value)
                if arr.dtype.kind not in "USO":
                    raise DTypeError(f"{self.where}: input '{self.input_names[i]}' takes strings. "
                                     f"Received: an array of dtype {arr.dtype}")
                x = Tensor(arr.astype(str))
            else:
                x = to_tensor(value)
                if not isinstance(x, Tensor):
                    raise ArgumentTypeError(f"{self.where}: input '{self.input_names[i]}' must be "
                                            "a Tensor or an array. Received: "
                                            f"{type(value).__name__}")
                want = dtypes.to_dtype(t.dtype)
                if x.dtype != want:
                    x = x.to(want)
            self.check_input(i, tuple(x.shape))
            out.append(x)
        return out

    def run(self, data, training=None):
        """Compute the outputs for *data*; a single tensor or a list, as the outputs were given."""
        values = [None] * self.n_slots
        values[:len(self.inputs)] = self.feed(data)
        for layer, ins, as_list, kwargs, outs, free in self.steps:
            args = [values[i] for i in ins]
            kw = kwargs if training is None else {"training": training, **kwargs}
            result = layer(args if as_list else args[0], **kw)
            if len(outs) == 1:
                values[outs[0]] = result
            else:
                if not isinstance(result, (list, tuple)) or len(result) != len(outs):
                    raise ShapeError(f"{self.where}: layer '{layer.name}' returned "
                                     f"{type(result).__name__}, expected {len(outs)} outputs")
                for i, r in zip(outs, result):
                    values[i] = r
            for i in free:
                values[i] = None
        results = [values[i] for i in self.output_slots]
        return results[0] if self.single_output else results
