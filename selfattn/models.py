"""The model table: popular transformers, each number checked against its release.

``selfattn/data/models.csv`` holds one row per model of the source article's
table, and the two Transformers of Vaswani et al. (2017) that the article
leaves out (their ``article_*`` columns are empty). Every value comes from the
model's released configuration file or its paper (the ``source`` column holds
the cite keys, the ``notes`` the addresses of the files); a value that could
not be checked is left empty, and the ``notes`` column says why. The article's own
numbers sit beside the checked ones in the ``article_*`` columns, so
:func:`compare_with_article` can list where the article is wrong.

:func:`load_models` reads the table; :func:`selfattn.display.record_table`
shows it. The parameter counts themselves (``params_actual``) come from
:mod:`selfattn.sizing`, one function per family (the ``architecture``
column); the tests check each against a ``transformers`` model (or, for the
2017 Transformer, ``torch.nn.Transformer``) built from the same configuration.
Only GPT-4, whose configuration is not published, has none.
"""

from __future__ import annotations

import csv
from pathlib import Path

from . import _checks

__all__ = ["MODELS_CSV", "COLUMNS", "INT_COLUMNS", "load_models", "compare_with_article"]

#: Path of the model table shipped with the package.
MODELS_CSV = Path(__file__).resolve().parent / "data" / "models.csv"

#: The columns of the table and what each holds.
COLUMNS = {
    "model": "name of the model (one released size)",
    "article_model": "the article's name for the row this model belongs to (empty: not in the article)",
    "checkpoint": "the released checkpoint the numbers come from, if there is one",
    "architecture": "layout used to count parameters (transformer, gpt2, gpt3, bert, t5, ...) or unknown",
    "d_model": "width of the embedding (hidden_size, n_embd)",
    "n_heads": "number of attention heads",
    "head_dim": "columns per head (d_model / n_heads, except where the notes explain)",
    "n_layers": "number of blocks",
    "d_ff": "width of the feed-forward layer (intermediate_size, n_inner)",
    "vocab_size": "number of token embeddings",
    "max_positions": "number of position embeddings",
    "type_vocab_size": "number of token-type (segment) embeddings",
    "params_reported": "parameter count in the paper",
    "params_actual": "parameter count of the released configuration (see selfattn.sizing)",
    "article_d_model": "the article's width, as printed",
    "article_n_heads": "the article's number of heads, as printed",
    "article_head_dim": "the article's head size, as printed",
    "article_notes": "the article's remark on the row, as printed",
    "source": "cite keys of references.bib, separated by ';'",
    "notes": "where each number comes from, and what could not be checked",
}

#: Columns read as whole numbers (an empty cell is ``None``); the others stay text.
INT_COLUMNS = ("d_model", "n_heads", "head_dim", "n_layers", "d_ff", "vocab_size", "max_positions",
               "type_vocab_size", "params_reported", "params_actual")

# the columns compare_with_article reads
_COMPARED = ("model", "article_model", "architecture", "head_dim", "params_reported", "params_actual",
             "article_d_model", "article_n_heads", "article_head_dim", "article_notes", "notes")


def _whole_number(cell: str | None, column: str, where: str) -> int | None:
    cell = (cell or "").strip()
    if cell == "":
        return None
    try:
        return int(cell)
    except ValueError:
        raise ValueError(f"{where}: column {column} must be a whole number or empty, got {cell!r}") from None


def load_models(path=None) -> list[dict]:
    """Read the model table: one dict per row, numbers as ``int``, unknown values as ``None``.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        Defaults to :data:`MODELS_CSV`, the table shipped with the package.

    Returns
    -------
    list of dict
        Keys are the CSV columns (see :data:`COLUMNS`); the columns of
        :data:`INT_COLUMNS` are ``int``, or ``None`` where the value is not
        known or not published. The other columns are text.

    Raises
    ------
    ValueError
        If ``path`` is not the path of a UTF-8 text file, or a cell of a
        whole-number column holds anything else (the message names the file,
        the line and the column).

    Examples
    --------
    >>> from selfattn.models import load_models
    >>> rows = {r["model"]: r for r in load_models()}
    >>> rows["GPT-2 Small"]["params_actual"], rows["GPT-4"]["d_model"]
    (124439808, None)
    """
    path = MODELS_CSV if path is None else _checks.file_path(path)
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        try:
            for line, row in enumerate(csv.DictReader(fh), start=2):
                for col in INT_COLUMNS:
                    if col in row:
                        row[col] = _whole_number(row[col], col, f"{path.name} line {line}")
                rows.append(row)
        except UnicodeDecodeError as exc:
            raise ValueError(f"path {str(path)!r} is not a UTF-8 text file (a CSV table): {exc}") from None
    return rows


def _finding(model: str, what: str, article: str, checked: str, evidence: str) -> dict:
    return {"model": model, "what": what, "article": article, "checked": checked, "evidence": evidence}


def compare_with_article(rows=None) -> list[dict]:
    """Where the source article's table disagrees with the checked table, row by row.

    Four kinds of findings, each with the evidence from the row's notes:

    * ``head size``: the article's head size differs from the checked one;
    * ``parameters``: the released weights hold more than 1% more or fewer
      parameters than the reported count the article repeats;
    * ``merged row``: one article row stands for several models;
      rows that are not in the article (empty ``article_model``) are never merged;
    * ``unknown``: the article gives numbers where nothing is published.

    Parameters
    ----------
    rows : list of dict, optional
        Rows as returned by :func:`load_models`; defaults to the shipped table.

    Returns
    -------
    list of dict
        Keys ``model``, ``what``, ``article``, ``checked``, ``evidence``.

    Raises
    ------
    ValueError
        If ``rows`` is not a list of dicts, or a row lacks a column the
        comparison reads or holds a value of the wrong type there (the message
        names the row and the column).

    Examples
    --------
    >>> from selfattn.models import compare_with_article
    >>> [f["model"] for f in compare_with_article() if f["what"] == "head size"]
    ['MobileBERT']
    """
    rows = load_models() if rows is None else rows
    rows = _checks.records(rows, "rows")
    for i, r in enumerate(rows):
        missing = [c for c in _COMPARED if c not in r]
        if missing:
            raise ValueError(f"row {i} ({r.get('model', '?')!r}) lacks the column(s) {missing} "
                             "that the comparison reads")
    _checks.record_types(rows, "rows", ints=[c for c in _COMPARED if c in INT_COLUMNS],
                         texts=[c for c in _COMPARED if c not in INT_COLUMNS])
    by_article: dict[str, list] = {}
    for r in rows:
        by_article.setdefault(r["article_model"], []).append(r)
    found = []
    for r in rows:
        art_hd = (r["article_head_dim"] or "").strip()
        if r["head_dim"] is not None and art_hd.isdigit() and int(art_hd) != r["head_dim"]:
            found.append(_finding(r["model"], "head size", art_hd, str(r["head_dim"]), r["notes"]))
        rep, act = r["params_reported"], r["params_actual"]
        if rep and act and "parameters" in r["article_notes"] and abs(act - rep) > 0.01 * rep:
            found.append(_finding(r["model"], "parameters", r["article_notes"], f"{act:,}", r["notes"]))
        group = by_article[r["article_model"]]
        if r["article_model"] and len(group) > 1 and group[0] is r:
            found.append(_finding(r["article_model"], "merged row",
                                  f"{r['article_d_model']} wide, {r['article_n_heads']} heads",
                                  ", ".join(x["model"] for x in group), r["notes"]))
        if r["architecture"] == "unknown":
            found.append(_finding(r["model"], "unknown", f"{r['article_d_model']} wide",
                                  "not published", r["notes"]))
    return found
