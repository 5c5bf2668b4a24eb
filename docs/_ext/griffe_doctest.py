"""A Griffe extension for chainrule's docstrings, so that they read well as Markdown.

chainrule's docstrings are written for ``help()`` and for doctest: examples are ``>>>`` sessions,
literal blocks follow a line ending in ``::`` (reStructuredText), and a few name other objects
with Sphinx roles (``:func:`name```).  Markdown would show a ``>>>`` session as three nested block
quotes, so before mkdocstrings renders a docstring this extension

* fences every doctest session as a ``pycon`` code block;
* turns an indented literal block after ``::`` into a fenced block (``python`` when it parses as
  Python, else plain text), and the ``::`` into ``:``;
* writes ``:role:`name``` as the code span ```name```;
* escapes ``a[i][j]`` outside code, which Markdown would take for a reference link.

The text of the docstrings in the source is unchanged: doctest still runs them as they are.
"""
import ast
import re
import textwrap

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):`~?([^`]+)`")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE = re.compile(r"(`+[^`]*`+)")


def _prose(line):
    """*line* with Sphinx roles as code spans and ``][`` escaped, outside its code spans."""
    parts = CODE.split(ROLE.sub(r"`\1`", line))
    for k in range(0, len(parts), 2):          # the even parts are outside code spans
        parts[k] = parts[k].replace("][", "]\\[")
    return "".join(parts)


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _fence(lines, lang):
    body = textwrap.dedent("\n".join(lines)).strip("\n")
    return ["", f"```{lang}", *body.splitlines(), "```", ""]


def _language(block):
    text = textwrap.dedent("\n".join(block))
    if text.lstrip().startswith(">>>"):
        return "pycon"
    try:
        ast.parse(text)
    except SyntaxError:
        return "text"
    return "python"


def convert(text):
    """The Markdown form of one docstring (see the module docstring)."""
    lines = text.splitlines()
    out, i, in_fence = [], 0, False
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            i += 1
            continue
        if in_fence:
            out.append(line)
            i += 1
            continue
        stripped = line.strip()
        if stripped.endswith("::") and not stripped.startswith(">>>"):
            # a reST literal block: the indented lines after a blank line
            base = _indent(line)
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            block_end = j
            while block_end < len(lines) and (not lines[block_end].strip()
                                              or _indent(lines[block_end]) > base):
                block_end += 1
            block = lines[j:block_end]
            while block and not block[-1].strip():
                block.pop()
            head = line.rstrip()[:-2].rstrip()
            if head and not head.endswith(":"):
                head += ":"
            if head:
                out.append(_prose(head))
            if block:
                out.extend(_fence(block, _language(block)))
            i = block_end
            continue
        if stripped.startswith(">>>"):
            # a doctest session: prompts, continuations and expected output, to a blank line
            j = i
            while j < len(lines) and lines[j].strip():
                j += 1
            out.extend(_fence(lines[i:j], "pycon"))
            i = j
            continue
        out.append(_prose(line))
        i += 1
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Rewrite each docstring with :func:`convert` as soon as its object is loaded."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
