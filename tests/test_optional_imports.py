"""``import chainrule`` never imports the optional libraries; cr.sklearn and cr.onnx load on first use."""
import subprocess
import sys

import pytest

OPTIONAL = ("sklearn", "onnx", "onnxruntime", "safetensors")


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_chainrule_imports_no_optional_library():
    code = ("import sys, chainrule as cr\n"
            "import chainrule.cli.main\n"
            f"print(sorted(m for m in {OPTIONAL!r} if m in sys.modules))")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name, needs", [("sklearn", "sklearn"), ("onnx", "onnx")])
def test_optional_namespaces_resolve_lazily(name, needs):
    pytest.importorskip(needs)
    import chainrule as cr
    module = getattr(cr, name)
    assert module.__name__ == f"chainrule.{name}"
    assert hasattr(module, "NeuralNetClassifier" if name == "sklearn" else "export")
    with pytest.raises(AttributeError, match="no attribute 'sklearnn'"):
        cr.sklearnn  # noqa: B018


def test_missing_library_says_what_to_install():
    code = ("import sys; sys.modules['sklearn'] = None; sys.modules['onnx'] = None\n"
            "import chainrule as cr\n"
            "for name in ('sklearn', 'onnx'):\n"
            "    try:\n"
            "        getattr(cr, name)\n"
            "    except ImportError as e:\n"
            "        print(e)\n")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert "pip install 'chainrule[sklearn]'" in result.stdout
    assert "pip install 'chainrule[onnx]'" in result.stdout
