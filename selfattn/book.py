"""Helpers for notebooks that are also book pages.

:func:`glue` stores a value for the prose (myst-nb's ``{glue}`` role) when
myst-nb is installed, as in the book build, JupyterLab and Binder; elsewhere
(for example Colab) it does nothing, so the same notebook runs everywhere.

:func:`show_source` prints the code of a ``selfattn`` function under the
formula it implements: the whole function without its docstring, or one
section marked in the code with ``# [name]`` and ``# [end name]``. It fails
with a ``ValueError`` when the section is gone, so a chapter can never show a
stale or empty slice of code.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap

import numpy as np

from . import _checks

__all__ = ["glue", "source", "show_source"]


class _Text(str):
    """A string whose plain-text display has no quotes, for glued words."""

    def __repr__(self) -> str:
        return str(self)


def glue(name: str, value, display: bool = False):
    """Glue ``value`` under ``name`` for the book; return ``value``.

    NumPy scalars are converted to plain Python numbers first: their repr
    (``np.float64(0.5)``) would otherwise break ``{glue:text}`` formatting.
    Strings are glued so that they show without quotes (``cat``, not ``'cat'``).

    Raises
    ------
    ValueError
        If ``name`` is not a non-empty str (the prose could not find the value) or
        ``display`` is not ``True`` or ``False``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.book import glue
    >>> glue("answer", 42)
    42
    >>> glue("weight", np.float64(0.25))
    0.25
    >>> glue("word", "cat")
    cat
    """
    name, display = _checks.string(name, "name"), _checks.flag(display, "display")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        value = _Text(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - depends on the environment
        return value
    _glue(name, value, display=display)
    return value


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
