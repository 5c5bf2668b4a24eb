"""``model.summary()``: a table of layers, output shapes and parameter counts, as Keras prints.

Columns: ``Layer (type)``, ``Output Shape``, ``Param #`` and, for functional models that are not a
plain chain (forks, merges, several inputs or outputs, shared layers), ``Connected to``, which
lists each input as ``layer_name[node][output]`` (Keras's notation: the node counts the calls of
that layer, the output which of its results). The totals count each weight once (shared layers
too); non-trainable params are frozen weights and state such as BatchNormalization's moving
statistics. A layer that is not built yet shows ``?`` and ``0 (unbuilt)``.

Example (the lecture model)::

    Model: "functional"
    _______________________________________________________________
     Layer (type)                  Output Shape             Param #
    ===============================================================
     input (InputLayer)            (None, 29)                     0
     dense (Dense)                 (None, 16)                   480
     dense_1 (Dense)               (None, 1)                     17
    ===============================================================
    Total params: 497
    Trainable params: 497
    Non-trainable params: 0
"""
from collections import defaultdict

from chainrule.keras.layers.input import InputLayer
from chainrule.keras.symbolic import shape_repr
from chainrule.nn.parameter import Parameter


def _class_name(layer):
    name = type(layer).__name__
    return "Functional" if name == "Model" and getattr(layer, "_graph", None) is not None else name


def _is_chain(model, graph):
    """Keras's "sequential-like" test: one input, one output, every node fed by one tensor once."""
    if graph is None or type(model).__name__ == "Sequential":
        return True
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return False
    consumers = defaultdict(int)
    layers_seen = set()
    for node in graph.nodes:
        if isinstance(node.layer, InputLayer):
            continue
        if len(node.inputs) != 1 or id(node.layer) in layers_seen:
            return False
        layers_seen.add(id(node.layer))
        consumers[id(node.inputs[0])] += 1
    return all(n == 1 for n in consumers.values())


def _nodes_by_layer(model):
    graph = getattr(model, "_graph", None)
    out = defaultdict(list)
    for n in graph.nodes if graph is not None else ():
        out[id(n.layer)].append(n)
    return out


def _rows(model, depth, expand_nested, with_connections, show_trainable):
    """Table rows for *model*'s layers (and nested models' layers when expanding), no recursion."""
    rows = []
    stack = [(model, depth, iter(model.layers), _nodes_by_layer(model))]
    while stack:
        owner, level, layers, by_layer = stack[-1]
        layer = next(layers, None)
        if layer is None:
            stack.pop()
            continue
        graph = getattr(owner, "_graph", None)
        nodes = by_layer.get(id(layer), [])
        if nodes:
            shapes = []
            for n in nodes:
                outs = [shape_repr(t.shape) for t in n.outputs]
                shapes.append(outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]")
            shape = shapes[0] if len(set(shapes)) == 1 else "multiple"
        else:
            shape = "?"
        params = str(layer.count_params()) if layer.built else "0 (unbuilt)"
        connected = []
        if with_connections and level == depth:
            for n in nodes:
                connected += [f"{t.node.layer.name}[{graph.node_index[t.node.uid]}][{t.index}]"
                              for t in n.inputs]
            connected = connected or ["-"]
        row = ["  " * (level - depth) + f"{layer.name} ({_class_name(layer)})", shape, params,
               connected]
        if show_trainable:
            row.append("Y" if layer.trainable else "N")
        rows.append(row)
        if expand_nested and hasattr(layer, "layers") and layer.layers:
            stack.append((layer, level + 1, iter(layer.layers), _nodes_by_layer(layer)))
    return rows


def summary_lines(model, line_length=None, expand_nested=False, show_trainable=False):
    """The summary's lines (what ``print_summary`` prints), as a list of strings."""
    graph = getattr(model, "_graph", None)
    with_connections = not _is_chain(model, graph)
    rows = _rows(model, 0, expand_nested, with_connections, show_trainable)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if with_connections:
        headers.append("Connected to")
    if show_trainable:
        headers.append("Trainable")
    cells = []
    for r in rows:
        conn = r[3] if with_connections else None
        base = [r[0], r[1], r[2]]
        extra = [r[4]] if show_trainable else []
        if with_connections:
            cells.append(base + [conn[0]] + extra)
            for more in conn[1:]:
                cells.append(["", "", "", more] + [""] * len(extra))
        else:
            cells.append(base + extra)
    minimum = [28, 20, 10, 20, 9]  # Keras's proportions for an 80-column table
    widths = [max([len(h), minimum[i]] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    total_width = 1 + sum(widths) + 2 * (len(widths) - 1)
    if line_length is not None and line_length > total_width:
        widths[0] += line_length - total_width
        total_width = line_length

    def fmt(values):
        parts = []
        for i, (v, w) in enumerate(zip(values, widths)):
            parts.append(v.rjust(w) if i == 2 else v.ljust(w))
        return (" " + "  ".join(parts)).rstrip()

    weights = model.weights
    trainable = sum(w._data.size for w in weights if isinstance(w, Parameter) and w.requires_grad)
    total = sum(w._data.size for w in weights)
    lines = [f'Model: "{model.name}"', "_" * total_width, fmt(headers), "=" * total_width]
    lines += [fmt(c) for c in cells]
    lines += ["=" * total_width, f"Total params: {total}", f"Trainable params: {trainable}",
              f"Non-trainable params: {total - trainable}"]
    return lines


def print_summary(model, line_length=None, print_fn=None, expand_nested=False,
                  show_trainable=False):
    """Print *model*'s summary, one line per ``print_fn`` call (default ``print``).

    Example: ``print_summary(model, print_fn=lines.append)``.
    """
    print_fn = print if print_fn is None else print_fn
    for line in summary_lines(model, line_length, expand_nested, show_trainable):
        print_fn(line)
