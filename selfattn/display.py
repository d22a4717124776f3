"""Small labelled tables for notebooks: every intermediate of attention, readable at a glance.

pandas is not a dependency of the course, so :func:`table` builds the table
itself. The result renders as an HTML table in JupyterLab and in the book, and
as aligned plain text everywhere else (a terminal, a doctest, ``print``).
"""

from __future__ import annotations

import html

import numpy as np

__all__ = ["Table", "table"]


def _fmt(x: float, digits: int) -> str:
    s = f"{x:.{digits}f}"
    if s.startswith("-") and float(s) == 0.0:  # "-0.00" reads like a sign error
        s = s[1:]
    return s


class Table:
    """A matrix with row and column labels; built by :func:`table`.

    Attributes
    ----------
    values : numpy.ndarray, shape (n_rows, n_cols)
    row_labels, col_labels : list of str
    digits : int
    caption : str or None
    highlight_max : bool
    """

    def __init__(self, values, row_labels, col_labels, digits, caption, highlight_max):
        self.values = values
        self.row_labels = row_labels
        self.col_labels = col_labels
        self.digits = digits
        self.caption = caption
        self.highlight_max = highlight_max

    def _cells(self) -> list[list[str]]:
        return [[_fmt(x, self.digits) for x in row] for row in self.values]

    def _row_max(self) -> list[set]:
        """Column indices of each row's largest entry (ties included; none if the row is constant)."""
        tops = []
        for row in self.values:
            at_max = np.isclose(row, row.max(), rtol=0.0, atol=1e-12)
            tops.append(set() if at_max.all() else {int(j) for j in np.flatnonzero(at_max)})
        return tops

    def __repr__(self) -> str:
        cells = self._cells()
        if self.highlight_max:  # mark the largest entry of each row with "*"
            for r, top in zip(cells, self._row_max()):
                for j in top:
                    r[j] += "*"
        header = [""] + self.col_labels
        body = [[lab] + r for lab, r in zip(self.row_labels, cells)]
        widths = [max(len(row[c]) for row in [header] + body) for c in range(len(header))]
        lines = [self.caption] if self.caption else []
        def line(row):  # labels left-aligned, numbers right-aligned
            return "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])])

        lines.append(line(header).rstrip())
        lines += [line(row).rstrip() for row in body]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        cells = self._cells()
        top = self._row_max() if self.highlight_max else [set()] * len(cells)
        out = ['<table class="selfattn-table" style="text-align:right">']
        if self.caption:
            out.append(f"<caption>{e(self.caption)}</caption>")
        out.append("<thead><tr><th></th>" + "".join(f"<th>{e(c)}</th>" for c in self.col_labels)
                   + "</tr></thead><tbody>")
        for lab, row, j_top in zip(self.row_labels, cells, top):
            tds = "".join(f"<td><b>{c}</b></td>" if j in j_top else f"<td>{c}</td>"
                          for j, c in enumerate(row))
            out.append(f"<tr><th>{e(lab)}</th>{tds}</tr>")
        out.append("</tbody></table>")
        return "".join(out)


def table(matrix, row_labels=None, col_labels=None, digits: int = 2, caption: str | None = None,
          highlight_max: bool = False) -> Table:
    """Show a matrix (or one vector) as a table with named rows and columns.

    Parameters
    ----------
    matrix : array_like, shape (n_rows, n_cols) or (n_cols,)
        A 1-D input is shown as a single row.
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
        If ``matrix`` is not 1-D or 2-D, holds no numbers, if the number of
        labels does not match its shape, or if ``digits`` is negative.

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
    ValueError: 2 row labels for a matrix with 1 row(s) (shape (1, 2))
    """
    m = np.asarray(matrix)
    if m.dtype == np.bool_ or not np.issubdtype(m.dtype, np.number):
        raise ValueError(f"matrix must hold numbers, got dtype {m.dtype}")
    m = m.astype(float)
    if m.ndim == 1:
        m = m[None, :]  # (1, n_cols)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 1-D or 2-D, got shape {m.shape}")
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise ValueError(f"digits must be a non-negative integer, got {digits!r}")
    n_rows, n_cols = m.shape
    rows = [str(i) for i in range(n_rows)] if row_labels is None else [str(r) for r in row_labels]
    cols = [str(j) for j in range(n_cols)] if col_labels is None else [str(c) for c in col_labels]
    if len(rows) != n_rows:
        raise ValueError(f"{len(rows)} row labels for a matrix with {n_rows} row(s) (shape {m.shape})")
    if len(cols) != n_cols:
        raise ValueError(f"{len(cols)} column labels for a matrix with {n_cols} column(s) (shape {m.shape})")
    return Table(m, rows, cols, int(digits), caption, bool(highlight_max))
