"""What a transformer costs: parameters, floating-point operations and memory.

Three kinds of questions, one small function each:

* **parameters of a whole model** from its released configuration:
  :func:`gpt2_params` (decoder-only, GPT-2 layout, tied language-model head)
  and :func:`bert_params` (encoder-only, BERT layout, with token types and pooler);
* **one attention layer** for a choice of ``d_model``, ``n_heads`` and sequence
  length ``n``: :func:`attention_params`, :func:`attention_flops`,
  :func:`attention_matrix_bytes`, all gathered by :func:`attention_sizing`;
* **the model table** of the chapter: :func:`load_models` reads
  ``selfattn/data/models.csv`` (one row per model of the source article's table,
  each value checked against a released configuration file or the paper).

Counting conventions: a matrix ``W`` of shape ``(a, b)`` has ``a * b``
parameters, its bias ``b``; a layer norm has a scale and a shift, ``2 * d``.
One multiply-add counts as 2 floating-point operations (FLOPs).
"""

from __future__ import annotations

import csv
import numbers
from pathlib import Path

__all__ = [
    "gpt2_params",
    "bert_params",
    "attention_params",
    "attention_flops",
    "attention_matrix_bytes",
    "attention_sizing",
    "explain_sizing",
    "load_models",
    "compare_with_article",
    "RecordTable",
    "MODELS_CSV",
    "DTYPE_BYTES",
]

#: Path of the model table shipped with the package.
MODELS_CSV = Path(__file__).resolve().parent / "data" / "models.csv"

#: Bytes per number for the data types the explorer accepts.
DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}

_INT_COLUMNS = ("d_model", "n_heads", "head_dim", "n_layers", "d_ff", "vocab_size", "max_positions",
                "type_vocab_size",
                "params_reported", "params_actual")


# --------------------------------------------------------------------------- #
# checks with friendly messages
# --------------------------------------------------------------------------- #
def _positive_int(value, name: str, allow_zero: bool = False) -> int:
    """Return ``value`` as an int or raise a ValueError that says what was wrong."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
    value = int(value)
    low = 0 if allow_zero else 1
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return value


def _head_dim(d_model: int, n_heads: int) -> int:
    if d_model % n_heads:
        below = d_model // n_heads * n_heads
        raise ValueError(
            f"d_model={d_model} is not divisible by n_heads={n_heads}: each head would get "
            f"{d_model / n_heads:.2f} columns, but a head needs a whole number. "
            f"Try d_model={below} or {below + n_heads}, or a number of heads that divides {d_model}."
        )
    return d_model // n_heads


# --------------------------------------------------------------------------- #
# whole models
# --------------------------------------------------------------------------- #
def gpt2_params(vocab_size: int, n_positions: int, d_model: int, n_layers: int,
                d_ff: int | None = None) -> dict:
    """Parameters of a GPT-2-style model, part by part.

    The layout of GPT-2 (Radford et al., 2019): token and learned position
    embeddings; ``n_layers`` blocks of (layer norm, attention with biases, layer
    norm, MLP with biases); a final layer norm. The language-model head reuses
    the token embedding matrix (weight tying), so it adds no parameters.

    Parameters
    ----------
    vocab_size, n_positions, d_model, n_layers : int
        As in the released configuration (``vocab_size``, ``n_positions``,
        ``n_embd``, ``n_layer``).
    d_ff : int, optional
        Width of the MLP; defaults to ``4 * d_model`` (GPT-2's ``n_inner=null``).

    Returns
    -------
    dict
        ``token_embedding``, ``position_embedding``, ``attention`` (all layers),
        ``mlp`` (all layers), ``layer_norms`` (all, final one included),
        ``lm_head`` (0: tied) and ``total``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number.

    Examples
    --------
    >>> from selfattn.sizing import gpt2_params
    >>> gpt2_params(vocab_size=50257, n_positions=1024, d_model=768, n_layers=12)["total"]
    124439808
    """
    V = _positive_int(vocab_size, "vocab_size")
    P = _positive_int(n_positions, "n_positions")
    d = _positive_int(d_model, "d_model")
    L = _positive_int(n_layers, "n_layers")
    f = 4 * d if d_ff is None else _positive_int(d_ff, "d_ff")
    parts = {
        "token_embedding": V * d,
        "position_embedding": P * d,
        "attention": L * attention_params(d, 1),
        "mlp": L * (d * f + f + f * d + d),
        "layer_norms": L * 2 * (2 * d) + 2 * d,
        "lm_head": 0,
    }
    parts["total"] = sum(parts.values())
    return parts


def bert_params(vocab_size: int, max_positions: int, d_model: int, n_layers: int,
                d_ff: int | None = None, type_vocab_size: int = 2, pooler: bool = True) -> dict:
    """Parameters of a BERT-style encoder, part by part.

    The layout of BERT (Devlin et al., 2019) as released (``BertModel``):
    token, position and token-type embeddings followed by a layer norm;
    ``n_layers`` post-norm blocks of (attention with biases, layer norm, MLP
    with biases, layer norm); a pooler (``d_model x d_model`` dense layer on the
    first token). RoBERTa uses the same layout with one token type;
    DistilBERT has no token types and no pooler.

    Parameters
    ----------
    vocab_size, max_positions, d_model, n_layers : int
        As in the released configuration (``vocab_size``, ``max_position_embeddings``,
        ``hidden_size``, ``num_hidden_layers``).
    d_ff : int, optional
        ``intermediate_size``; defaults to ``4 * d_model``.
    type_vocab_size : int, default 2
        Number of segment (token-type) embeddings; 0 for none.
    pooler : bool, default True
        Count the pooler.

    Returns
    -------
    dict
        ``token_embedding``, ``position_embedding``, ``token_type_embedding``,
        ``attention``, ``mlp``, ``layer_norms``, ``pooler`` and ``total``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number (``type_vocab_size`` may be 0).

    Examples
    --------
    >>> from selfattn.sizing import bert_params
    >>> bert_params(vocab_size=30522, max_positions=512, d_model=768, n_layers=12)["total"]
    109482240
    """
    V = _positive_int(vocab_size, "vocab_size")
    P = _positive_int(max_positions, "max_positions")
    d = _positive_int(d_model, "d_model")
    L = _positive_int(n_layers, "n_layers")
    T = _positive_int(type_vocab_size, "type_vocab_size", allow_zero=True)
    f = 4 * d if d_ff is None else _positive_int(d_ff, "d_ff")
    parts = {
        "token_embedding": V * d,
        "position_embedding": P * d,
        "token_type_embedding": T * d,
        "attention": L * attention_params(d, 1),
        "mlp": L * (d * f + f + f * d + d),
        "layer_norms": 2 * d + L * 2 * (2 * d),
        "pooler": d * d + d if pooler else 0,
    }
    parts["total"] = sum(parts.values())
    return parts


# --------------------------------------------------------------------------- #
# one attention layer
# --------------------------------------------------------------------------- #
def attention_params(d_model: int, n_heads: int, bias: bool = True) -> int:
    """Parameters of one multi-head attention layer: ``W_q, W_k, W_v, W_o`` and their biases.

    The count is ``4 * d_model**2 (+ 4 * d_model)``, the same for any number of
    heads: splitting into heads cuts the columns into groups, it adds no weights.

    Raises
    ------
    ValueError
        If ``d_model`` is not divisible by ``n_heads``.

    Examples
    --------
    >>> from selfattn.sizing import attention_params
    >>> attention_params(768, 12)
    2362368
    >>> attention_params(768, 1) == attention_params(768, 12)
    True
    """
    d = _positive_int(d_model, "d_model")
    _head_dim(d, _positive_int(n_heads, "n_heads"))
    return 4 * d * d + (4 * d if bias else 0)


def attention_flops(d_model: int, n_heads: int, n: int) -> dict:
    """Floating-point operations of one attention layer on one sequence of ``n`` tokens.

    Counting a multiply-add as 2 FLOPs: the projections ``Q, K, V`` and the
    output projection cost ``2 n d^2`` each; the scores ``Q K^T`` and the
    weighted sum ``A V`` cost ``2 n^2 d`` each (summed over the heads, each
    head works on ``d_head = d / h`` columns). Softmax and scaling are about
    ``5 n^2 h`` more and are left out, as usual.

    Returns
    -------
    dict
        ``projections`` (``8 n d^2``), ``scores`` and ``weighted_sum``
        (``2 n^2 d`` each) and ``total``.

    Raises
    ------
    ValueError
        If a number is not a positive whole number or ``d_model`` is not
        divisible by ``n_heads``.

    Examples
    --------
    >>> from selfattn.sizing import attention_flops
    >>> f = attention_flops(768, 12, 1024)
    >>> f["projections"], f["scores"]
    (4831838208, 1610612736)
    """
    d = _positive_int(d_model, "d_model")
    _head_dim(d, _positive_int(n_heads, "n_heads"))
    n = _positive_int(n, "n")
    parts = {"projections": 4 * 2 * n * d * d, "scores": 2 * n * n * d, "weighted_sum": 2 * n * n * d}
    parts["total"] = sum(parts.values())
    return parts


def attention_matrix_bytes(n_heads: int, n: int, dtype: str = "float32", batch: int = 1) -> int:
    """Bytes of the attention weights ``(batch, h, n, n)`` when they are stored whole.

    Raises
    ------
    ValueError
        If a number is not a positive whole number or ``dtype`` is unknown.

    Examples
    --------
    >>> from selfattn.sizing import attention_matrix_bytes
    >>> attention_matrix_bytes(12, 16384) / 2**30   # GiB, float32
    12.0
    """
    h = _positive_int(n_heads, "n_heads")
    n = _positive_int(n, "n")
    b = _positive_int(batch, "batch")
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype must be one of {sorted(DTYPE_BYTES)}, got {dtype!r}")
    return b * h * n * n * DTYPE_BYTES[dtype]


def attention_sizing(d_model: int, n_heads: int, n: int, dtype: str = "float32") -> dict:
    """Everything the sizing explorer shows for one attention layer.

    Returns
    -------
    dict
        ``head_dim``, ``params``, ``flops`` (total), ``flops_quadratic_share``
        (the part of the FLOPs that grows with ``n^2``), ``matrix_bytes``.

    Raises
    ------
    ValueError
        With a message a learner can act on, for any invalid choice.

    Examples
    --------
    >>> from selfattn.sizing import attention_sizing
    >>> s = attention_sizing(768, 12, 1024)
    >>> s["head_dim"], s["params"], s["matrix_bytes"]
    (64, 2362368, 50331648)
    """
    d = _positive_int(d_model, "d_model")
    h = _positive_int(n_heads, "n_heads")
    if h > d:
        raise ValueError(f"n_heads={h} is larger than d_model={d}: a head needs at least one column")
    head_dim = _head_dim(d, h)
    flops = attention_flops(d, h, n)
    quadratic = flops["scores"] + flops["weighted_sum"]
    return {
        "head_dim": head_dim,
        "params": attention_params(d, h),
        "flops": flops["total"],
        "flops_quadratic_share": quadratic / flops["total"],
        "matrix_bytes": attention_matrix_bytes(h, n, dtype),
    }


def _human(x: float, unit: str, base: int = 1000) -> str:
    prefixes = ["", "K", "M", "G", "T", "P"] if base == 1000 else ["", "Ki", "Mi", "Gi", "Ti", "Pi"]
    i = 0
    while abs(x) >= base and i < len(prefixes) - 1:
        x /= base
        i += 1
    return f"{x:,.1f} {prefixes[i]}{unit}" if i else f"{x:,.0f} {unit}"


def explain_sizing(d_model, n_heads, n, dtype: str = "float32") -> str:
    """A short text for the sizing explorer; invalid choices get an explanation, not a traceback.

    Examples
    --------
    >>> from selfattn.sizing import explain_sizing
    >>> print(explain_sizing(768, 12, 1024))
    head size d_head = 768 / 12 = 64
    parameters of one attention layer: 2,362,368
    FLOPs for 1024 tokens: 8.1 GFLOP (40% from the n^2 terms)
    attention matrix (12 x 1024 x 1024, float32): 48.0 MiB
    >>> print(explain_sizing(768, 10, 1024))
    Not a valid choice: d_model=768 is not divisible by n_heads=10: each head would get 76.80 columns, but a head needs a whole number. Try d_model=760 or 770, or a number of heads that divides 768.
    """
    try:
        s = attention_sizing(d_model, n_heads, n, dtype)
    except ValueError as err:
        return f"Not a valid choice: {err}"
    return "\n".join([
        f"head size d_head = {d_model} / {n_heads} = {s['head_dim']}",
        f"parameters of one attention layer: {s['params']:,}",
        f"FLOPs for {n} tokens: {_human(s['flops'], 'FLOP')} "
        f"({s['flops_quadratic_share']:.0%} from the n^2 terms)",
        f"attention matrix ({n_heads} x {n} x {n}, {dtype}): {_human(s['matrix_bytes'], 'B', 1024)}",
    ])


# --------------------------------------------------------------------------- #
# the model table
# --------------------------------------------------------------------------- #
def load_models(path=None) -> list[dict]:
    """Read the model table: one dict per row, numbers as ``int``, unknown values as ``None``.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        Defaults to :data:`MODELS_CSV`, the table shipped with the package.

    Returns
    -------
    list of dict
        Keys are the CSV columns; ``d_model``, ``n_heads``, ``head_dim``,
        ``n_layers``, ``vocab_size``, ``max_positions``, ``params_reported`` and
        ``params_actual`` are ``int`` or ``None`` (not known or not published).

    Raises
    ------
    ValueError
        If a numeric cell holds something other than a whole number.

    Examples
    --------
    >>> from selfattn.sizing import load_models
    >>> rows = {r["model"]: r for r in load_models()}
    >>> rows["GPT-2 Small"]["params_actual"], rows["GPT-4"]["d_model"]
    (124439808, None)
    """
    path = MODELS_CSV if path is None else Path(path)
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            for col in _INT_COLUMNS:
                if col not in row:
                    continue
                cell = (row[col] or "").strip()
                if cell == "":
                    row[col] = None
                    continue
                try:
                    row[col] = int(cell)
                except ValueError:
                    raise ValueError(f"{path.name} line {line}: column {col} must be a whole number "
                                     f"or empty, got {cell!r}") from None
            rows.append(row)
    return rows


def compare_with_article(rows=None) -> list[dict]:
    """Where the source article's table disagrees with the checked table, row by row.

    Four kinds of findings, each with the evidence from the row's notes:

    * ``head size``: the article's head size differs from the checked one;
    * ``parameters``: the released weights hold more than 1% more or fewer
      parameters than the reported count the article repeats;
    * ``merged row``: one article row stands for several models;
    * ``unknown``: the article gives numbers where nothing is published.

    Parameters
    ----------
    rows : list of dict, optional
        Rows as returned by :func:`load_models`; defaults to the shipped table.

    Returns
    -------
    list of dict
        Keys ``model``, ``what``, ``article``, ``checked``, ``evidence``.

    Examples
    --------
    >>> from selfattn.sizing import compare_with_article
    >>> [f["model"] for f in compare_with_article() if f["what"] == "head size"]
    ['MobileBERT']
    """
    rows = load_models() if rows is None else rows
    found = []
    by_article: dict[str, list] = {}
    for r in rows:
        by_article.setdefault(r["article_model"], []).append(r)
    for r in rows:
        art_hd = (r.get("article_head_dim") or "").strip()
        if r["head_dim"] is not None and art_hd.isdigit() and int(art_hd) != r["head_dim"]:
            found.append({"model": r["model"], "what": "head size", "article": art_hd,
                          "checked": str(r["head_dim"]), "evidence": r["notes"]})
        rep, act = r["params_reported"], r["params_actual"]
        if rep and act and "parameters" in r["article_notes"] and abs(act - rep) > 0.01 * rep:
            found.append({"model": r["model"], "what": "parameters", "article": r["article_notes"],
                          "checked": f"{act:,}", "evidence": r["notes"]})
        if len(by_article[r["article_model"]]) > 1 and by_article[r["article_model"]][0] is r:
            names = ", ".join(x["model"] for x in by_article[r["article_model"]])
            found.append({"model": r["article_model"], "what": "merged row",
                          "article": f"{r['article_d_model']} wide, {r['article_n_heads']} heads",
                          "checked": names, "evidence": r["notes"]})
        if r["architecture"] == "unknown":
            found.append({"model": r["model"], "what": "unknown",
                          "article": f"{r['article_d_model']} wide", "checked": "not published",
                          "evidence": r["notes"]})
    return found


class RecordTable:
    """A list of dicts shown as a table: HTML in notebooks and the book, aligned text elsewhere.

    Examples
    --------
    >>> from selfattn.sizing import RecordTable
    >>> RecordTable([{"model": "A", "d": 1}, {"model": "BB", "d": 22}])
    model   d
    A       1
    BB     22
    """

    def __init__(self, records, columns=None):
        self.records = list(records)
        self.columns = list(columns) if columns is not None else (
            list(self.records[0]) if self.records else [])

    @staticmethod
    def _cell(value) -> str:
        if value is None:
            return "?"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}" if abs(value) >= 10_000 else str(value)
        return str(value)

    def __repr__(self) -> str:
        cells = [[self._cell(r.get(c)) for c in self.columns] for r in self.records]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(self.columns)]
        numeric = [all(row[i].replace(",", "").replace("?", "0").isdigit() for row in cells)
                   for i in range(len(self.columns))]

        def fmt(values):
            return "  ".join(v.rjust(w) if num else v.ljust(w)
                             for v, w, num in zip(values, widths, numeric)).rstrip()

        return "\n".join([fmt(self.columns)] + [fmt(row) for row in cells])

    def _repr_html_(self) -> str:
        from html import escape

        head = "".join(f"<th>{escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(self._cell(r.get(c)))}</td>" for c in self.columns)
                       + "</tr>" for r in self.records)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
