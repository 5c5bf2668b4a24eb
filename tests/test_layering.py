"""The house's layers: each part of chainrule imports only from the layers below it (or its own).

backend arrays → tensor → the Function/Op node base → ops → autograd engine → nn / data →
optim → training loop and pictures → Keras-style models → command line.  Each package has a rank
of its own, so an import cycle between two packages is an upward edge and fails.  This test reads every module's imports and fails on an upward edge.
"""
import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "chainrule"

RANK = {
    "backend": 0, "atomic_write": 0, "dtypes": 0, "grad_mode": 0, "random": 0, "errors": 0,
    "cuda": 0, "accelerator": 0,
    "tensor": 1,
    "function": 2, "factories": 2, "viz": 2, "serialization": 2, "safetensors_io": 2,
    "ops": 3,
    "linalg": 3.5,
    "autograd": 4,
    "nn": 5, "data": 5, "datasets": 5, "preprocessing": 5, "metrics": 5,
    "func": 5.5, "utils": 5.5,
    "optim": 6,
    "training": 7, "plot": 7, "checkpoint": 7, "distributed": 7,
    "compile": 7.5,
    "keras": 8,
    "tour": 9, "sklearn": 9, "onnx": 9,
    "cli": 10, "__main__": 10,
}


def _part(path):
    rel = path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "chainrule":
                for alias in node.names:
                    yield alias.name, node.lineno
            elif node.module.startswith("chainrule."):
                yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("chainrule."):
                    yield alias.name.split(".")[1], node.lineno


MODULES = sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_imports(path):
    part = _part(path)
    if part not in RANK:
        pytest.fail(f"{path.relative_to(SRC)}: part {part!r} has no layer in tests/test_layering.py")
    for target, line in _imports(path):
        if target not in RANK:
            continue  # a name imported from the package root, e.g. `from chainrule import nn`
        assert RANK[target] <= RANK[part], (
            f"{path.relative_to(SRC)}:{line} imports chainrule.{target} (layer {RANK[target]}) "
            f"from layer {RANK[part]} ({part}): upward imports break the layering")


def test_no_import_inside_functions_to_dodge_cycles():
    offenders = []
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                        if mod and mod.startswith("chainrule"):
                            offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {mod}")
    assert not offenders, "imports of chainrule inside functions: " + ", ".join(offenders)
