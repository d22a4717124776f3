"""Tables for notebooks: labelled matrices and lists of records, readable at a glance.

pandas is not a dependency of the course, so this module builds its tables
itself. Two ways in, one renderer:

* :func:`table` shows a matrix (every intermediate of attention) with named
  rows and columns;
* :func:`record_table` shows a list of dicts (the model table, parameter
  counts, the steps of an online softmax), one row per dict.

Both return a :class:`Table`, which renders as an HTML table in JupyterLab and
in the book, and as aligned plain text everywhere else (a terminal, a
doctest, ``print``).
"""

from __future__ import annotations

import html
import numbers

import numpy as np

from . import _checks

__all__ = ["Table", "table", "record_table"]


class Table:
    """Rows of cells under a header, rendered as HTML or as aligned text.

    Built by :func:`table` and :func:`record_table`; every cell is already a
    string, so the two renderings show the same characters.

    Attributes
    ----------
    header : list of str
        One heading per column.
    rows : list of list of str
        The cells, row by row.
    right : list of bool
        Per column: right-aligned (numbers) or left-aligned (text, labels).
    labels : bool
        The first column holds row labels (HTML header cells).
    marked : set of (int, int)
        ``(row, column)`` of cells shown in bold (``*`` in plain text).
    caption : str or None
        A title shown above the table.

    Raises
    ------
    ValueError
        If ``header`` is not a list of str, a row is not a list of str with one
        cell per heading, ``right`` is not one bool per column, ``labels`` is not
        a bool, or a marked cell is not a ``(row, column)`` cell of the table.
    """

    def __init__(self, header, rows, right, *, labels=False, marked=(), caption=None):
        self.header, self.rows, self.right, self.marked = _checks.table_cells(header, rows, right, marked)
        self.labels = _checks.flag(labels, "labels")
        self.caption = None if caption is None else str(caption)

    def __repr__(self) -> str:
        shown = [[c + "*" if (i, j) in self.marked else c for j, c in enumerate(row)]
                 for i, row in enumerate(self.rows)]
        widths = [max(len(r[j]) for r in [self.header] + shown) for j in range(len(self.header))]

        def line(cells):
            return "  ".join(c.rjust(w) if right else c.ljust(w)
                             for c, w, right in zip(cells, widths, self.right)).rstrip()

        lines = [self.caption] if self.caption else []
        return "\n".join(lines + [line(self.header)] + [line(r) for r in shown])

    def _repr_html_(self) -> str:
        def cell(tag, text, j, bold=False):
            style = "" if self.right[j] else ' style="text-align:left"'
            text = f"<b>{html.escape(text)}</b>" if bold else html.escape(text)
            return f"<{tag}{style}>{text}</{tag}>"

        out = ['<table class="selfattn-table" style="text-align:right">']
        if self.caption:
            out.append(f"<caption>{html.escape(self.caption)}</caption>")
        out.append("<thead><tr>" + "".join(cell("th", h, j) for j, h in enumerate(self.header))
                   + "</tr></thead><tbody>")
        for i, row in enumerate(self.rows):
            cells = (cell("th" if j == 0 and self.labels else "td", c, j, (i, j) in self.marked)
                     for j, c in enumerate(row))
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        return "".join(out)


# --------------------------------------------------------------------------- #
# a labelled matrix
# --------------------------------------------------------------------------- #
def _fmt(x: float, digits: int) -> str:
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0.0:  # "-0.00" reads like a sign error
        s = s[1:]
    return s


def _labels(labels, name: str, n: int, what: str, shape: tuple) -> list[str]:
    """``labels`` as strings, one per row (or column); ``0, 1, ...`` by default."""
    if labels is None:
        return [str(i) for i in range(n)]
    labels = _checks.sequence(labels, name, f"labels, one per {what}")
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} label{'' if len(labels) == 1 else 's'} for a matrix "
                         f"with {n} {what}(s) (shape {shape})")
    return [str(lab) for lab in labels]


def _row_max(values: np.ndarray) -> set:
    """``(row, column)`` of each row's largest entry (ties included; none if the row is constant)."""
    top = set()
    for i, row in enumerate(values):
        at_max = np.isclose(row, row.max(), rtol=0.0, atol=1e-12)
        if not at_max.all():
            top |= {(i, int(j) + 1) for j in np.flatnonzero(at_max)}  # + 1: column 0 holds the labels
    return top


def table(matrix, row_labels=None, col_labels=None, digits: int = 2, caption: str | None = None,
          highlight_max: bool = False) -> Table:
    """Show a matrix (or one vector) as a table with named rows and columns.

    Parameters
    ----------
    matrix : array_like or torch.Tensor, shape (n_rows, n_cols) or (n_cols,)
        A 1-D input is shown as a single row. NaN and inf are shown as they are.
    row_labels : sequence, optional
        One label per row (e.g. the tokens); defaults to ``0, 1, ...``.
    col_labels : sequence, optional
        One label per column (e.g. feature names or tokens); defaults to ``0, 1, ...``.
    digits : int, default 2
        Digits after the decimal point.
    caption : str, optional
        A title shown above the table.
    highlight_max : bool, default False
        Bold the largest entry of each row (marked ``*`` in plain text). Ties are all
        marked; a row whose entries are all equal has no largest entry and is not marked.

    Returns
    -------
    Table
        Renders as HTML in notebooks and in the book, as aligned text otherwise.

    Raises
    ------
    ValueError
        If ``matrix`` is not 1-D or 2-D or does not hold real numbers, if the
        number of labels does not match its shape, if ``digits`` is not a
        whole number >= 0, or if ``highlight_max`` is not ``True`` or ``False``.

    Examples
    --------
    >>> from selfattn.display import table
    >>> table([[1, 0.5], [0.25, 2]], ["cat", "it"], ["noun", "animate"])
         noun  animate
    cat  1.00     0.50
    it   0.25     2.00
    >>> table([[0.1, 0.9], [0.5, 0.5]], ["it", "the"], ["mat", "cat"], digits=1, highlight_max=True)
         mat   cat
    it   0.1  0.9*
    the  0.5   0.5
    >>> table([[1.0, 2.0]], ["a", "b"])
    Traceback (most recent call last):
    ...
    ValueError: row_labels has 2 labels for a matrix with 1 row(s) (shape (1, 2))
    """
    if _checks.is_tensor(matrix):
        matrix = matrix.detach().cpu().numpy()
    m = _checks.float_array(matrix, "matrix")
    if m.ndim == 1:
        m = m[None, :]  # (1, n_cols)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 1-D or 2-D, got shape {m.shape}")
    digits = _checks.positive_int(digits, "digits", minimum=0)
    rows = _labels(row_labels, "row_labels", m.shape[0], "row", m.shape)
    cols = _labels(col_labels, "col_labels", m.shape[1], "column", m.shape)
    marked = _row_max(m) if _checks.flag(highlight_max, "highlight_max") and m.size else set()
    cells = [[lab] + [_fmt(x, digits) for x in row] for lab, row in zip(rows, m)]
    return Table([""] + cols, cells, [False] + [True] * len(cols), labels=True, marked=marked,
                 caption=caption)


# --------------------------------------------------------------------------- #
# a list of records
# --------------------------------------------------------------------------- #
def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _cell(value) -> str:
    """``None`` as ``?`` (not known); whole numbers of 10,000 and more with thousands separators."""
    if value is None:
        return "?"
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def record_table(records, columns=None, caption: str | None = None) -> Table:
    """Show a list of dicts as a table: one row per dict, one column per key.

    Parameters
    ----------
    records : iterable of dict
        The rows, e.g. :func:`selfattn.models.load_models`.
    columns : sequence of str, optional
        Which keys to show, in this order; defaults to every key, in the order
        they first appear. A record without one of them shows ``?`` there.
    caption : str, optional
        A title shown above the table.

    Returns
    -------
    Table
        Renders as HTML in notebooks and in the book, as aligned text otherwise.
        ``None`` is shown as ``?``; whole numbers from 10,000 up get thousands
        separators; a column of numbers is right-aligned.

    Raises
    ------
    ValueError
        If ``records`` is not a list of dicts, or a column is in none of them
        (a misspelt key would otherwise show a column of ``?``).

    Examples
    --------
    >>> from selfattn.display import record_table
    >>> record_table([{"model": "A", "d": 1}, {"model": "BB", "d": 22}])
    model   d
    A       1
    BB     22
    >>> record_table([{"model": "A", "params": 124439808}, {"model": "B", "params": None}], caption="Sizes")
    Sizes
    model       params
    A      124,439,808
    B                ?
    """
    records = _checks.records(records, "records")
    keys = list(dict.fromkeys(k for r in records for k in r))
    columns = keys if columns is None else _checks.sequence(columns, "columns", "keys")
    unknown = [c for c in columns if c not in keys]
    if records and unknown:
        raise ValueError(f"columns {unknown} are in none of the records; their keys are {keys}")
    right = [any(_is_number(r.get(c)) for r in records)
             and all(_is_number(r.get(c)) or r.get(c) is None for r in records) for c in columns]
    cells = [[_cell(r.get(c)) for c in columns] for r in records]
    return Table([str(c) for c in columns], cells, right, caption=caption)
