"""``cr.viz``: the graph as Graphviz DOT text, and rendering with ``dot``."""
import shutil

import pytest

import chainrule as cr


def small_graph():
    w = cr.randn(3, 2, requires_grad=True)
    b = cr.zeros(2, requires_grad=True)
    x = cr.randn(4, 3)
    y = ((x @ w + b).relu() ** 2).mean()
    return y, w, b


def test_to_dot_contains_ops_shapes_and_leaves():
    y, w, b = small_graph()
    dot = cr.viz.to_dot(y)
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    for op in ("MeanBackward", "PowBackward", "ReluBackward", "AddBackward", "MatMulBackward"):
        assert op in dot
    assert "(4, 2)" in dot and "(3, 2)" in dot and "(2,)" in dot
    assert dot.count("tensor\\n") == 2          # the two leaves that require grad
    assert "output\\n()" in dot


def test_to_dot_names_parameters():
    y, w, b = small_graph()
    dot = cr.viz.to_dot(y, params={"layer.weight": w, "layer.bias": b})
    assert 'label="layer.weight\\n(3, 2)"' in dot and 'label="layer.bias\\n(2,)"' in dot


def test_to_dot_escapes_labels_and_handles_leaves_and_shared_nodes():
    x = cr.ones(2, requires_grad=True)
    h = x * 2
    y = (h + h).sum()
    dot = cr.viz.to_dot(y, params={'we"ird': x})
    assert 'we\\"ird' in dot
    assert dot.count("MulBackward") == 1           # a node reached twice is drawn once
    assert "output" in cr.viz.to_dot(cr.ones(2))    # a tensor without graph
    with pytest.raises(TypeError, match="tensor"):
        cr.viz.to_dot("not a tensor")


def test_to_dot_of_a_deep_graph_needs_no_recursion():
    x = cr.ones(1, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    assert cr.viz.to_dot(y).count("MulBackward") == 3000


def test_render_without_dot_raises_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    y, _, _ = small_graph()
    with pytest.raises(RuntimeError, match="Graphviz 'dot' program was not found") as e:
        cr.viz.render(y, tmp_path / "g.svg")
    assert "install" in str(e.value).lower() and "to_dot" in str(e.value)
    assert not (tmp_path / "g.svg").exists()


def test_render_rejects_unknown_formats(tmp_path):
    y, _, _ = small_graph()
    with pytest.raises(ValueError, match=".svg, .png or .pdf"):
        cr.viz.render(y, tmp_path / "g.gif")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_render_writes_svg(tmp_path):
    y, w, b = small_graph()
    path = cr.viz.render(y, tmp_path / "graph.svg", params={"weight": w})
    text = (tmp_path / "graph.svg").read_text()
    assert path.endswith("graph.svg") and "<svg" in text and "MatMulBackward" in text
