"""Every example in the documentation runs: the docstrings of every module of ``chainrule`` and
the code blocks of ``docs/*.md`` and ``README.md``.

* Docstrings are run by :mod:`doctest` with ``cr`` (chainrule), ``np`` (NumPy), ``nn``
  (``chainrule.nn``) and ``F`` (``chainrule.nn.functional``) in scope, as PyTorch's examples
  assume, besides the module's own names; ELLIPSIS and NORMALIZE_WHITESPACE on, the seed set to 0 before each docstring, in a fresh
  temporary folder (so an example may write a file).  A module whose import fails for want of an
  optional dependency (matplotlib, scipy, nevergrad, torch) is skipped, naming it.
* In the Markdown pages, a fenced block marked ``pycon`` is a doctest session; a block marked
  ``python`` is run as a script.  The blocks of one page share one namespace, in order, like a
  notebook.  A block right after the line ``<!-- no-run -->`` is shown but not run (for a
  fragment that needs a file or a name the page does not define).
"""
import doctest
import importlib
import pathlib
import re
import textwrap

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

ROOT = pathlib.Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "chainrule"
GLOBS = {"cr": cr, "np": np, "nn": nn, "F": F}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
OPTIONAL = {"matplotlib", "scipy", "nevergrad", "torch", "sklearn", "onnx", "onnxruntime",
            "safetensors", "mpi4py", "cupy"}


def _module_names():
    """Every module of the package whose source holds an example (a ``>>>`` prompt)."""
    names = []
    for path in sorted(SRC.rglob("*.py")):
        if ">>>" not in path.read_text(encoding="utf-8"):
            continue
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


MODULES = _module_names()


def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing = (getattr(e, "name", None) or "").split(".")[0]
        if missing in OPTIONAL:
            pytest.skip(f"{name} needs {missing}, which is not installed")
        raise


class _Runner(doctest.DocTestRunner):
    """Collects failures as text instead of printing them."""

    def __init__(self):
        super().__init__(optionflags=FLAGS, verbose=False)
        self.found = []         # (test name, what went wrong)
        self.skipped = {}       # test name -> the optional dependency an example of it needs

    @property
    def problems(self):
        """The failures, less those of docstrings cut short by a missing optional dependency."""
        return [text for name, text in self.found if name not in self.skipped]

    def report(self):
        return "\n\n".join(self.problems)

    def report_failure(self, out, test, example, got):
        self.found.append((test.name, f"{test.name} (line {_line(test, example)}):\n"
                           f"{textwrap.indent(example.source, '    >>> ').rstrip()}\n"
                           f"expected:\n{textwrap.indent(example.want or '(nothing)', '    ')}"
                           f"got:\n{textwrap.indent(got or '(nothing)', '    ')}"))

    def report_unexpected_exception(self, out, test, example, exc_info):
        kind, value, _ = exc_info
        if issubclass(kind, ImportError):
            needed = [dep for dep in sorted(OPTIONAL)
                      if dep in str(value).lower() or (getattr(value, "name", "") or "") == dep]
            if needed:
                self.skipped.setdefault(test.name, needed[0])
                return
        self.found.append((test.name, f"{test.name} (line {_line(test, example)}):\n"
                           f"{textwrap.indent(example.source, '    >>> ').rstrip()}\n"
                           f"raised {kind.__name__}: {value}"))


def _line(test, example):
    if test.lineno is None:
        return "?"
    return test.lineno + example.lineno + 1


def _run_doctests(tests, globs):
    runner = _Runner()
    for test in tests:
        test.globs.update(globs)
        cr.manual_seed(0)
        np.random.seed(0)
        runner.run(test, clear_globs=False)
    return runner


def _check(runner, where):
    assert not runner.problems, f"{len(runner.problems)} failing example(s) in {where}:\n\n" + \
        runner.report()
    if runner.skipped:
        pytest.skip("; ".join(f"{name} needs {dep}" for name, dep in runner.skipped.items()))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    module = _import(name)
    monkeypatch.chdir(tmp_path)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(module, name) if t.examples]
    if not tests:
        pytest.skip(f"{name} has no examples")
    _check(_run_doctests(tests, GLOBS), name)


# ---- the Markdown pages ---------------------------------------------------------------------

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)\s*(?P<info>[^\n`]*)$")
PAGES = [p for p in sorted((ROOT / "docs").glob("**/*.md")) + [ROOT / "README.md"]
         if re.search(r"^ *(```+|~~~+) *(python|py|pycon)\b", p.read_text(encoding="utf-8"), re.M)]


def code_blocks(text):
    """[(line, language, code, run)] for every fenced block of a Markdown text."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, fence, indent = i, m["fence"], len(m["indent"])
        info = m["info"].strip().split()
        lang = info[0].lower() if info else ""
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence[:3]):
            j += 1
        body = "\n".join(line[indent:] for line in lines[i + 1:j])
        prev = next((lines[k].strip() for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        blocks.append((start + 1, lang, body + "\n", prev != "<!-- no-run -->"))
        i = j + 1
    return blocks


def test_code_blocks_are_found():
    blocks = code_blocks("text\n\n```pycon\n>>> 1 + 1\n2\n```\n\n<!-- no-run -->\n```python\n"
                         "x = open('f')\n```\n\n    ```python\n    y = 1\n    ```\n")
    assert blocks == [(3, "pycon", ">>> 1 + 1\n2\n", True), (9, "python", "x = open('f')\n", False),
                      (13, "python", "y = 1\n", True)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_examples_run(page, tmp_path, monkeypatch):
    blocks = [b for b in code_blocks(page.read_text(encoding="utf-8"))
              if b[1] in ("python", "py", "pycon") and b[3]]
    if not blocks:
        pytest.skip(f"{page.name} has no runnable Python blocks")
    monkeypatch.chdir(tmp_path)
    cr.manual_seed(0)
    np.random.seed(0)
    namespace = dict(GLOBS, __name__="__main__")
    parser = doctest.DocTestParser()
    failures = []
    for line, lang, code, _ in blocks:
        where = f"{page.relative_to(ROOT)}:{line}"
        if lang == "pycon":
            test = parser.get_doctest(code, namespace, where, str(page), line)
            runner = _run_doctests([test], {})
            namespace.update(test.globs)       # the next blocks see what this one defined
            if runner.skipped:
                pytest.skip(f"{where} needs {next(iter(runner.skipped.values()))}")
            failures += runner.problems
            continue
        try:
            exec(compile(code, where, "exec"), namespace)
        except ImportError as e:
            missing = (e.name or "").split(".")[0]
            if missing in OPTIONAL or any(dep in str(e).lower() for dep in OPTIONAL):
                pytest.skip(f"{where} needs an optional dependency: {e}")
            failures.append(f"{where}: the python block raised ImportError: {e}")
        except Exception as e:  # noqa: BLE001 - reported with the block's line
            failures.append(f"{where}: the python block raised {type(e).__name__}: {e}")
    assert not failures, "\n\n".join(failures)
