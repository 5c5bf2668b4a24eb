"""Step 2 — the computational graph of an MLP, drawn from the graph chainrule recorded.

Every op run on a tensor that requires grad leaves a node (its ``grad_fn``); a node's
``next_functions`` are edges to the nodes (or the leaf parameters) that made its inputs.  This step
walks those edges from the loss — an explicit stack, as the engine and ``cr.viz.to_dot`` do — and
lays the nodes out by their longest distance from the loss, so the forward pass reads upwards:
parameters at the bottom, the loss at the top.  Nothing is drawn that was not recorded.

Two graphs of the same network x → 4 ReLU → 1 sigmoid → binary cross-entropy:

* written with ``cr.nn`` (``Linear``, ``ReLU``, the fused ``binary_cross_entropy_with_logits``):
  four nodes, because chainrule fuses the linear layer and the loss;
* written out with primitive ops (``x @ W1.T + b1`` … ``-(y·log p + (1 − y)·log(1 − p)).mean()``):
  every multiplication, addition and transpose a node of its own; p feeds two branches, so
  its gradient is the sum of two contributions.

(``cr.viz.to_dot`` gives the same graph as Graphviz text, for those who have ``dot``.)
"""
from chainrule import nn
from chainrule.factories import randn, zeros
from chainrule.nn import functional as F
from chainrule.nn.parameter import Parameter
from chainrule.plot.figure import require_matplotlib
from chainrule.random import manual_seed
from chainrule.tensor import Tensor
from chainrule.tour._common import main, save

FILENAME = "02-graph.png"
TITLE = "The computational graph of an MLP, as chainrule records it"
COLORS = {"op": "#fdcdac", "parameter": "#cbd5e8", "tensor": "#f4cae4", "output": "#b3e2cd"}


def graph_of(output, params=None):
    """The recorded graph behind *output*: (nodes, edges).

    ``nodes`` maps a key to ``{"label", "kind", "rank"}`` (kind: output, op, parameter or
    tensor; rank: the longest number of edges from the output); ``edges`` is a list of
    ``(from_key, to_key, shape)`` in the forward direction, from an input to the op using it.
    """
    names = {id(p): n for n, p in (params or {}).items()}
    nodes = {"out": {"label": f"loss {tuple(output.shape)}", "kind": "output"}}
    edges, consumers = [], {}
    if output.grad_fn is None:
        nodes["out"]["rank"] = 0
        return nodes, edges
    root = output.grad_fn
    edges.append((id(root), "out", tuple(output.shape)))
    stack, seen = [root], set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        nodes[id(fn)] = {"label": fn.name(), "kind": "op"}
        for k, edge in enumerate(fn.next_functions):
            if edge is None:
                continue
            nxt = edge[0]
            shape = fn._input_shapes[k]
            if isinstance(nxt, Tensor):
                kind = "parameter" if isinstance(nxt, Parameter) else "tensor"
                nodes.setdefault(id(nxt), {"label": f"{names.get(id(nxt), kind)}\n{tuple(shape)}",
                                           "kind": kind})
                edges.append((id(nxt), id(fn), None))
            else:
                edges.append((id(nxt), id(fn), tuple(shape)))
                stack.append(nxt)
            consumers.setdefault(id(nxt), []).append(id(fn))
    # longest distance from the output: Kahn's order over consumer counts, no recursion
    waiting = {k: len(v) for k, v in consumers.items()}
    inputs = {}
    for a, b, _ in edges:
        inputs.setdefault(b, []).append(a)
    nodes["out"]["rank"] = 0
    nodes[id(root)]["rank"] = 1
    ready = [id(root)]
    while ready:
        key = ready.pop()
        for child in inputs.get(key, []):
            nodes[child]["rank"] = max(nodes[child].get("rank", 0), nodes[key]["rank"] + 1)
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return nodes, edges


def _positions(nodes, edges):
    """x by barycentre of the consumers (two sweeps), y by rank: forward flows upwards."""
    by_rank = {}
    for key, node in nodes.items():
        by_rank.setdefault(node["rank"], []).append(key)
    users = {}
    for a, b, _ in edges:
        users.setdefault(a, []).append(b)
    x = {}
    for _ in range(2):
        for rank in sorted(by_rank):
            row = by_rank[rank]
            if rank:
                row.sort(key=lambda k: sum(x.get(u, 0.0) for u in users.get(k, [])) /
                         max(1, len(users.get(k, []))))
            for i, key in enumerate(row):
                x[key] = i - (len(row) - 1) / 2
    top = max(by_rank)
    return {k: (x[k] * 1.0, float(top - nodes[k]["rank"])) for k in nodes}


def draw_graph(ax, output, params=None, title=None):
    """Draw the graph behind *output* on the matplotlib axes *ax*; returns the number of ops."""
    nodes, edges = graph_of(output, params)
    pos = _positions(nodes, edges)
    artists = {}
    for key, node in nodes.items():
        px, py = pos[key]
        box = "round,pad=0.3" if node["kind"] == "op" else "round4,pad=0.35"
        artists[key] = ax.text(px, py, node["label"], ha="center", va="center", fontsize=7.5,
                               bbox=dict(boxstyle=box, fc=COLORS[node["kind"]], ec="0.3", lw=0.7),
                               zorder=3)
    for a, b, shape in edges:
        ax.annotate("", xy=(0.5, 0.0), xycoords=artists[b], xytext=(0.5, 1.0),
                    textcoords=artists[a],
                    arrowprops=dict(arrowstyle="->", color="0.35", lw=0.8,
                                    shrinkA=1, shrinkB=1), zorder=2)
        if shape is not None:
            (xa, ya), (xb, yb) = pos[a], pos[b]
            ax.text((xa + xb) / 2 + 0.06, (ya + yb) / 2, str(shape), fontsize=6.5, color="0.3",
                    ha="left", va="center", zorder=4)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    n_ops = sum(1 for n in nodes.values() if n["kind"] == "op")
    if title:
        ax.set_title(f"{title}\n{n_ops} recorded ops", fontsize=9)
    return n_ops


def mlp_losses(seed=0):
    """The same MLP's loss twice: with ``cr.nn`` (fused ops) and with primitive tensor ops."""
    manual_seed(seed)
    x, y = randn(5, 3), (randn(5, 1) > 0).float()
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    fused = F.binary_cross_entropy_with_logits(model(x), y)
    W1, b1 = Parameter(randn(4, 3)), Parameter(zeros(4))
    W2, b2 = Parameter(randn(1, 4)), Parameter(zeros(1))
    h = (x @ W1.T + b1).relu()
    p = (h @ W2.T + b2).sigmoid()
    primitive = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    return ((fused, dict(model.named_parameters())),
            (primitive, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}))


def make(out_dir):
    """Draw both graphs of the MLP side by side; returns the PNG path."""
    plt = require_matplotlib()
    (fused, fused_names), (primitive, prim_names) = mlp_losses()
    fig, axes = plt.subplots(1, 2, figsize=(13, 8.2), gridspec_kw={"width_ratios": [1, 1.7]})
    draw_graph(axes[0], fused, fused_names, "cr.nn.Sequential(Linear(3, 4), ReLU(), Linear(4, 1))"
               "\n+ F.binary_cross_entropy_with_logits")
    draw_graph(axes[1], primitive, prim_names, "the same network in primitive ops:\n"
               "p = σ(relu(x @ W1.T + b1) @ W2.T + b2);  −(y log p + (1 − y) log(1 − p)).mean()")
    fig.suptitle(TITLE + " (arrows: forward; backprop runs them in reverse)", fontsize=11)
    fig.tight_layout()
    return save(fig, out_dir, FILENAME)


if __name__ == "__main__":
    raise SystemExit(main(make))
