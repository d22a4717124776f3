"""Helpers for notebooks that are also book pages.

:func:`show_source` prints the code of a ``selfattn`` function under the
formula it implements: the whole function without its docstring, or one
section marked in the code with ``# [name]`` and ``# [end name]``. It fails
with a ``ValueError`` when the section is gone, so a chapter can never show a
stale or empty slice of code.

:func:`clear_notebook` removes what a run leaves in a notebook file before it
is committed: outputs, execution counts, and the values of the prose's
``{eval}`` roles that JupyterLab stores in markdown cells. From a shell::

    python -m selfattn.book clear chapters/*.ipynb
"""

from __future__ import annotations

import ast
import inspect
import re
import json
import sys
import textwrap

from . import _checks

__all__ = ["source", "show_source", "clear_notebook"]


#: A marker line: ``# [name]`` opens a section, ``# [end name]`` closes it.
_MARKER = re.compile(r"^\s*# \[(end )?([\w .-]+)\]\s*$")


def _qualified_name(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _without_docstring(code: str) -> str:
    """``code`` (one dedented def or class) with its docstring lines removed."""
    node = ast.parse(code).body[0]
    first = node.body[0] if node.body else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return code
    lines = code.splitlines()
    del lines[first.lineno - 1:first.end_lineno]
    return "\n".join(lines)


def source(obj, section: str | None = None) -> str:
    """The code of a function, method or class: whole, or one marked section.

    The whole code drops the docstring (the page already explains it) and the
    section marker lines. A section is the lines between ``# [section]`` and
    ``# [end section]``, dedented.

    Parameters
    ----------
    obj : function, method or class
    section : str, optional
        The name of a marked section; ``None`` gives the whole code.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``obj`` is a module or a lambda, has no Python source, or if ``section``
        is not marked in it exactly once (the message names the function and the marker).

    Examples
    --------
    >>> from selfattn.book import source
    >>> def double(x):
    ...     '''Twice x.'''
    ...     # [math]
    ...     y = 2 * x
    ...     # [end math]
    ...     return y
    >>> print(source(double))
    def double(x):
        y = 2 * x
        return y
    >>> print(source(double, "math"))
    y = 2 * x
    >>> source(double, "scale")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: no section 'scale' in ...double: the marker '# [scale]' is missing; sections: ['math']
    """
    _checks.source_object(obj)
    name = _qualified_name(obj)
    try:
        code = textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as err:
        raise ValueError(f"obj must be a Python function, method or class with source code, "
                         f"got {obj!r}: {err}") from None
    lines = code.splitlines()
    if section is None:
        kept = [line for line in _without_docstring(code).splitlines() if not _MARKER.match(line)]
        return "\n".join(kept)
    if not isinstance(section, str) or not section.strip():
        raise ValueError(f"section must be the name of a marked section (a str), got {section!r}")
    marks = [(i, m.group(1) is not None, m.group(2)) for i, line in enumerate(lines)
             if (m := _MARKER.match(line))]
    starts = [i for i, end, label in marks if label == section and not end]
    ends = [i for i, end, label in marks if label == section and end]
    found = sorted({label for _, end, label in marks if not end})
    if not starts:
        raise ValueError(f"no section {section!r} in {name}: the marker '# [{section}]' is missing; "
                         f"sections: {found}")
    if not ends:
        raise ValueError(f"section {section!r} in {name} is not closed: "
                         f"the marker '# [end {section}]' is missing")
    if len(starts) > 1 or len(ends) > 1 or ends[0] < starts[0]:
        raise ValueError(f"section {section!r} in {name} must be marked once, '# [{section}]' before "
                         f"'# [end {section}]'; found openings on lines {starts} and ends on {ends}")
    body = [line for line in lines[starts[0] + 1:ends[0]] if not _MARKER.match(line)]
    if not any(line.strip() for line in body):
        raise ValueError(f"section {section!r} in {name} is empty")
    return textwrap.dedent("\n".join(body))


def show_source(obj, section: str | None = None) -> None:
    """Print :func:`source` of ``obj``: the whole code, or one marked section.

    Parameters
    ----------
    obj : function, method or class
    section : str, optional
        The name of a section marked ``# [section]`` ... ``# [end section]``.

    Raises
    ------
    ValueError
        As :func:`source`: no source, or the section is missing.

    Examples
    --------
    >>> from selfattn.book import show_source
    >>> def half(x):
    ...     '''Half of x.'''
    ...     return x / 2
    >>> show_source(half)
    def half(x):
        return x / 2
    """
    print(source(obj, section))


def clear_notebook(path) -> list[str]:
    """Remove what running a notebook left in its file; return what was removed.

    Running a chapter in JupyterLab stores outputs and execution counts in its code
    cells, the values of its ``{eval}`` roles in the markdown cells' metadata
    (``user_expressions``), the kernel's version details (``language_info``) and possibly
    the widgets' state; and running a solution's
    collapsed code cell shows its output, which JupyterLab saves by dropping
    ``outputs_hidden``. The chapters are committed without any of it (the book and
    JupyterLab compute everything). Everything else, such as tags, stays.

    Parameters
    ----------
    path : str or pathlib.Path
        A notebook file; it is rewritten only if something was removed.

    Returns
    -------
    list of str
        What was removed, e.g. ``["cell 4: outputs", "cell 5: user_expressions"]``.

    Raises
    ------
    ValueError
        If ``path`` is not a file, or not a notebook.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    ...     {"cell_type": "code", "id": "a", "execution_count": 1, "metadata": {"tags": ["t"]},
    ...      "outputs": [{"output_type": "stream", "name": "stdout", "text": "1"}],
    ...      "source": "print(1)"},
    ...     {"cell_type": "markdown", "id": "b", "source": "{eval}`x`",
    ...      "metadata": {"user_expressions": [{"expression": "x", "result": {"status": "ok"}}]}},
    ...     {"cell_type": "code", "id": "c", "execution_count": None, "outputs": [],
    ...      "metadata": {"jupyter": {"source_hidden": True}}, "source": "answer = 42"}]}
    >>> path = Path(tempfile.mkdtemp()) / "ran.ipynb"
    >>> _ = path.write_text(json.dumps(nb))
    >>> clear_notebook(path)  # doctest: +NORMALIZE_WHITESPACE
    ['cell 0: outputs', 'cell 0: execution count', 'cell 1: user_expressions',
     'cell 2: shown outputs (hidden again)']
    >>> [c["metadata"] for c in json.loads(path.read_text())["cells"]]
    [{'tags': ['t']}, {}, {'jupyter': {'outputs_hidden': True, 'source_hidden': True}}]
    >>> clear_notebook(path)
    []
    """
    path = _checks.file_path(path, "path")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"path {str(path)!r} is not a notebook (JSON with a list of cells): "
                         f"{err!r}") from None
    removed = []
    for i, cell in enumerate(cells):
        if cell.get("outputs"):
            cell["outputs"] = []
            removed.append(f"cell {i}: outputs")
        if cell.get("execution_count") is not None:
            cell["execution_count"] = None
            removed.append(f"cell {i}: execution count")
        if cell.get("metadata", {}).pop("user_expressions", None) is not None:
            removed.append(f"cell {i}: user_expressions")
        hidden = cell.get("metadata", {}).get("jupyter") or {}
        if hidden.get("source_hidden") and not hidden.get("outputs_hidden"):
            hidden["outputs_hidden"] = True  # running the cell showed its output and saved that
            removed.append(f"cell {i}: shown outputs (hidden again)")
    if nb.get("metadata", {}).pop("widgets", None) is not None:
        removed.append("notebook: widget state")
    language = nb.get("metadata", {}).get("language_info") or {}
    if set(language) - {"name"}:  # the kernel's version details, written by a run
        nb["metadata"]["language_info"] = {"name": language.get("name", "python")}
        removed.append("notebook: language_info details")
    if removed:
        # the layout Jupyter writes: one-space indent, sorted keys, a final newline
        text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False)
        path.write_text(text + "\n", encoding="utf-8")
    return removed


def main(argv=None) -> int:
    """``python -m selfattn.book clear NOTEBOOK...``: :func:`clear_notebook` on each file."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "clear" or len(args) < 2:
        print("usage: python -m selfattn.book clear NOTEBOOK...", file=sys.stderr)
        return 2
    for name in args[1:]:
        removed = clear_notebook(name)
        print(f"{name}: " + (", ".join(removed) if removed else "nothing to clear"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
