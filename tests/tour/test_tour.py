"""The guided tour: every step writes its PNG, ``chainrule tour`` writes them all, and the
numbers the figures show are the ones they claim (backprop against finite differences, 481/497)."""
import os
import pathlib
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

from chainrule import tour
from chainrule.cli.main import main

pytest.importorskip("matplotlib")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def png_size(path):
    """(width, height) of a PNG file, after checking its signature and that it is not tiny."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > 10_000, f"{path} is suspiciously small ({len(data)} bytes)"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def tour_dir(tmp_path_factory):
    """One run of ``chainrule tour --out DIR`` shared by the tests of this module."""
    out = tmp_path_factory.mktemp("tour")
    assert main(["tour", "--out", str(out)]) == 0
    return out


def test_steps_are_the_lectures_order():
    assert tour.STEPS == ("chain_backprop", "graph", "activations", "bce", "jacobian", "quartic",
                          "step_sizes", "optimizer_paths", "minima_saddle", "heart_curves",
                          "zeroth_vs_first", "landscape", "vanishing_gradients",
                          "attention_map", "convnet")
    names = [tour.step(s).FILENAME for s in tour.STEPS]
    assert names == sorted(names) and len(set(names)) == len(names)
    for i, name in enumerate(names, 1):
        assert name.startswith(f"{i:02d}-") and name.endswith(".png")


@pytest.mark.parametrize("name", tour.STEPS)
def test_each_step_is_a_documented_module_with_make(name):
    module = tour.step(name)
    assert module.__doc__ and module.__doc__.startswith(f"Step {tour.STEPS.index(name) + 1} ")
    assert callable(module.make) and module.TITLE
    assert tour.step(name.replace("_", "-")) is module


@pytest.mark.parametrize("name", tour.STEPS)
def test_tour_command_writes_every_step(tour_dir, name):
    width, height = png_size(tour_dir / tour.step(name).FILENAME)
    assert width >= 600 and height >= 300


def test_tour_command_writes_nothing_else(tour_dir):
    assert sorted(os.listdir(tour_dir)) == sorted(tour.step(s).FILENAME for s in tour.STEPS)


def test_make_returns_the_path_it_wrote(tmp_path):
    path = tour.step("bce").make(tmp_path / "new" / "dir")
    assert path == os.path.join(str(tmp_path / "new" / "dir"), "04-bce.png")
    png_size(path)


def test_only_and_list(tmp_path, capsys):
    assert main(["tour", "--out", str(tmp_path), "--only", "activations", "jacobian"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["03-activations.png", "05-jacobian.png"]
    assert "2 figures" in capsys.readouterr().out
    assert main(["tour", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(s in listed for s in tour.STEPS)
    assert main(["tour", "--out", str(tmp_path), "--only", "nope"]) == 2
    assert "no step named 'nope'" in capsys.readouterr().err


def test_a_step_runs_as_a_script(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "chainrule.tour.activations", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "03-activations.png" in proc.stdout
    png_size(tmp_path / "03-activations.png")


# ---- the figures show what they say ------------------------------------------------------

def test_chain_backprop_matches_finite_differences():
    from chainrule.tour import chain_backprop as step
    layers = step.build_chain()
    hs, loss, dh, dw = step.backprop(layers)
    fd_h, fd_w = step.finite_differences(layers, hs)
    np.testing.assert_allclose(dh, fd_h, rtol=1e-4)
    np.testing.assert_allclose(dw, fd_w, rtol=1e-4)
    assert np.all(np.abs(dh[:-1]) < np.abs(dh[1:]))      # the gradient shrinks going back
    assert step.check_all(layers) is True


def test_heart_parameter_counts_by_hand():
    from chainrule.tour import heart_curves as step
    assert step.by_hand(29) == ("29·16 + 16 + 16·1 + 1 = 497", 497)
    assert step.by_hand(28) == ("28·16 + 16 + 16·1 + 1 = 481", 481)
    assert step.checked_counts(28) == [(28, "28·16 + 16 + 16·1 + 1 = 481"),
                                       (29, "29·16 + 16 + 16·1 + 1 = 497")]


def test_graph_walk_finds_every_recorded_op():
    from chainrule.tour import graph as step
    (fused, fnames), (prim, pnames) = step.mlp_losses()
    nodes, edges = step.graph_of(fused, fnames)
    ops = [n["label"] for n in nodes.values() if n["kind"] == "op"]
    assert sorted(ops) == ["BinaryCrossEntropyWithLogitsBackward", "LinearBackward",
                           "LinearBackward", "ReluBackward"]
    assert sum(n["kind"] == "parameter" for n in nodes.values()) == 4
    nodes, edges = step.graph_of(prim, pnames)
    ops = [n for n in nodes.values() if n["kind"] == "op"]
    assert len(ops) == 16 and nodes["out"]["rank"] == 0
    for a, b, _ in edges:        # every edge goes from a deeper node to a shallower one
        assert nodes[a]["rank"] > nodes[b]["rank"]


def test_jacobian_and_critical_points():
    from chainrule.tour import jacobian, minima_saddle
    W, x, y, j_lin, j_x, j_w = jacobian.layer_jacobians()
    np.testing.assert_allclose(j_lin, W, atol=1e-12)
    np.testing.assert_allclose(j_x, (1 - y ** 2)[:, None] * W, atol=1e-12)
    kinds = [p[3] for p in minima_saddle.quartic_points()]
    assert kinds == ["minimum", "maximum", "minimum"]
    points = minima_saddle.surface_points()
    assert [p[4] for p in points] == ["minimum", "saddle", "minimum"]
    assert all(p[2] < 1e-12 for p in points)      # the gradient vanishes there


def test_zeroth_order_needs_more_evaluations():
    from chainrule.tour import zeroth_vs_first as step
    problem = step.Problem()
    f_star = problem.optimum()
    _, first = step.descend(problem, "backprop", 4.0, 2, budget=400)
    evals, central = step.descend(problem, "central", 4.0, None, budget=400)
    assert evals[1] == 58 and len(central) == 400 // 58 + 1
    np.testing.assert_allclose(central, first[:len(central)], rtol=1e-6)   # same steps
    assert first[-1] - f_star < central[-1] - f_star                      # more of them


def test_committed_figures_and_readme():
    """docs/images/tour holds every step's figure; the README shows three and links the rest."""
    names = [tour.step(s).FILENAME for s in tour.STEPS]
    for name in names:
        png_size(ROOT / "docs" / "images" / "tour" / name)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("<!-- tour:start -->"):readme.index("<!-- tour:end -->")]
    shown = re.findall(r"!\[[^\]]*\]\(docs/images/tour/([^)]+)\)", section)
    assert len(shown) == 3 and set(shown) <= set(names), shown
    assert all(f"docs/images/tour/{n}" in section for n in names)
