"""Drawing the computational graph: Graphviz DOT text of the graph that produced a tensor.

``to_dot(y)`` walks from ``y.grad_fn`` along ``next_functions`` (an explicit stack, no recursion)
and writes one box per op (its backward node), one ellipse per leaf (shape, and the parameter's
name when given), and an edge for every input.  ``render`` turns it into SVG/PNG/PDF with the
Graphviz ``dot`` program.
"""
import os
import shutil
import subprocess

from chainrule.errors import ArgumentTypeError, ConfigError, UsageError
from chainrule.tensor import Tensor


def _shape(shape):
    return str(tuple(shape))


def _quote(text):
    """*text* safe inside a DOT double-quoted label."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def to_dot(tensor, params=None, name="chainrule"):
    """Return Graphviz DOT text for the graph that computed *tensor*.

    *params* (e.g. ``dict(model.named_parameters())``) labels leaves with their names.

    >>> print(cr.viz.to_dot((cr.ones(2, requires_grad=True) * 3).sum()))  # doctest: +ELLIPSIS
    digraph chainrule {...
    """
    if not isinstance(tensor, Tensor):
        raise ArgumentTypeError(f"to_dot: expected a tensor, got {type(tensor).__name__}")
    names = {id(p): n for n, p in (params or {}).items()}
    lines = [f"digraph {name} {{", '  rankdir="BT";',
             '  node [fontname="Helvetica", fontsize=10];']
    ids = {}

    def node_id(obj):
        if id(obj) not in ids:
            ids[id(obj)] = f"n{len(ids)}"
        return ids[id(obj)]

    out = node_id(tensor)
    lines.append(f'  {out} [label="output\\n{_shape(tensor.shape)}", shape=ellipse, '
                 f'style=filled, fillcolor="#b3e2cd"];')
    if tensor.grad_fn is None:
        lines.append("}")
        return "\n".join(lines) + "\n"
    lines.append(f"  {node_id(tensor.grad_fn)} -> {out};")
    seen, stack = set(), [tensor.grad_fn]
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        lines.append(f'  {node_id(fn)} [label="{fn.name()}", shape=box, style=filled, '
                     f'fillcolor="#fdcdac"];')
        for k, edge in enumerate(fn.next_functions):
            if edge is None:
                continue
            nxt = edge[0]
            if isinstance(nxt, Tensor):
                nid = node_id(nxt)
                if id(nxt) not in seen:
                    seen.add(id(nxt))
                    kind = type(nxt).__name__.lower()
                    label = _quote(names.get(id(nxt), kind))
                    lines.append(f'  {nid} [label="{label}\\n{_shape(nxt.shape)}", shape=ellipse,'
                                 f' style=filled, fillcolor="{"#cbd5e8" if kind == "parameter" else "#f4cae4"}"];')
                lines.append(f"  {nid} -> {node_id(fn)};")
            else:
                shape = fn._input_shapes[k] if fn._input_shapes else None
                label = f' [label="{_shape(shape)}"]' if shape is not None else ""
                lines.append(f"  {node_id(nxt)} -> {node_id(fn)}{label};")
                stack.append(nxt)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tensor, path, params=None):
    """Write the graph of *tensor* to *path* (.svg, .png or .pdf) with Graphviz's ``dot``.

    Raises a RuntimeError saying what to install when the ``dot`` program is missing.
    """
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ConfigError(f"render: path must end in .svg, .png or .pdf, got {os.fspath(path)!r}")
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError(
            "render: the Graphviz 'dot' program was not found on PATH. Install Graphviz "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda: conda "
            "install graphviz), or save cr.viz.to_dot(tensor) to a .dot file and render it "
            "elsewhere")
    text = to_dot(tensor, params)
    proc = subprocess.run([dot, f"-T{fmt}", "-o", os.fspath(path)], input=text.encode(),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise UsageError(f"render: dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return os.fspath(path)
