"""What a transformer costs: parameters, floating-point operations and memory.

Two kinds of questions, one small function each:

* **parameters of a whole model** from its released configuration:
  :func:`gpt2_params` (decoder-only, GPT-2 layout, tied language-model head)
  and :func:`bert_params` (encoder-only, BERT layout, with token types and pooler);
* **one attention layer** for a choice of ``d_model``, ``n_heads`` and sequence
  length ``n``: :func:`attention_params`, :func:`attention_flops`,
  :func:`attention_matrix_bytes`, all gathered by :func:`attention_sizing`
  and put in words by :func:`explain_sizing`.

The model table of the chapter (loading it, comparing it with the article)
lives in :mod:`selfattn.models`. Every argument is checked by
:mod:`selfattn._checks`, so a bad size gets the same message here as in the
attention layers.

Counting conventions: a matrix ``W`` of shape ``(a, b)`` has ``a * b``
parameters, its bias ``b``; a layer norm has a scale and a shift, ``2 * d``.
One multiply-add counts as 2 floating-point operations (FLOPs).
"""

from __future__ import annotations

from . import _checks

__all__ = [
    "gpt2_params",
    "bert_params",
    "attention_params",
    "attention_flops",
    "attention_matrix_bytes",
    "attention_sizing",
    "explain_sizing",
    "DTYPE_BYTES",
]

#: Bytes per number for the data types the explorer accepts.
DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}


# --------------------------------------------------------------------------- #
# whole models
# --------------------------------------------------------------------------- #
def _embeddings_and_blocks(vocab_size, positions: tuple, d_model, n_layers, d_ff) -> dict:
    """The parts GPT-2 and BERT share: embeddings, ``n_layers`` blocks and one more layer norm.

    A block holds attention with biases, an MLP with biases and two layer norms;
    the extra layer norm is GPT-2's final one and BERT's after the embeddings.
    ``positions`` is ``(number, argument name)``: the configurations name it differently.
    """
    V = _checks.positive_int(vocab_size, "vocab_size")
    P = _checks.positive_int(*positions)
    d = _checks.positive_int(d_model, "d_model")
    L = _checks.positive_int(n_layers, "n_layers")
    f = 4 * d if d_ff is None else _checks.positive_int(d_ff, "d_ff")
    return {
        "token_embedding": V * d,
        "position_embedding": P * d,
        "attention": L * attention_params(d, 1),
        "mlp": L * (d * f + f + f * d + d),
        "layer_norms": L * 2 * (2 * d) + 2 * d,
    }


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
    parts = _embeddings_and_blocks(vocab_size, (n_positions, "n_positions"), d_model, n_layers, d_ff)
    parts["lm_head"] = 0  # tied: the token embedding matrix, used again
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
        If a size is not a positive whole number (``type_vocab_size`` may be 0),
        or ``pooler`` is not ``True`` or ``False``.

    Examples
    --------
    >>> from selfattn.sizing import bert_params
    >>> bert_params(vocab_size=30522, max_positions=512, d_model=768, n_layers=12)["total"]
    109482240
    """
    parts = _embeddings_and_blocks(vocab_size, (max_positions, "max_positions"), d_model, n_layers, d_ff)
    d = _checks.positive_int(d_model, "d_model")
    T = _checks.positive_int(type_vocab_size, "type_vocab_size", minimum=0)
    parts["token_type_embedding"] = T * d
    parts["pooler"] = d * d + d if _checks.flag(pooler, "pooler") else 0
    parts["total"] = sum(parts.values())
    return parts


# --------------------------------------------------------------------------- #
# one attention layer
# --------------------------------------------------------------------------- #
def attention_params(d_model: int, n_heads: int, bias: bool = True) -> int:
    """Parameters of one multi-head attention layer: ``W_q, W_k, W_v, W_o`` and their biases.

    The count is ``4 * d_model**2 (+ 4 * d_model)``, the same for any number of
    heads: splitting into heads cuts the columns into groups, it adds no weights.

    Parameters
    ----------
    d_model : int
        Width of the layer.
    n_heads : int
        Number of heads; must divide ``d_model``.
    bias : bool, default True
        Count the biases of the four projections.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If a size is not a positive whole number, ``d_model`` is not divisible
        by ``n_heads`` (or smaller than it), or ``bias`` is not ``True`` or ``False``.

    Examples
    --------
    >>> from selfattn.sizing import attention_params
    >>> attention_params(768, 12)
    2362368
    >>> attention_params(768, 1) == attention_params(768, 12)
    True
    """
    d = _checks.positive_int(d_model, "d_model")
    _checks.head_size(d, n_heads)  # the split must be possible, even though it adds nothing
    return 4 * d * d + (4 * d if _checks.flag(bias, "bias") else 0)


def attention_flops(d_model: int, n_heads: int, n: int) -> dict:
    """Floating-point operations of one attention layer on one sequence of ``n`` tokens.

    Counting a multiply-add as 2 FLOPs: the projections ``Q, K, V`` and the
    output projection cost ``2 n d^2`` each; the scores ``Q K^T`` and the
    weighted sum ``A V`` cost ``2 n^2 d`` each (summed over the heads, each
    head works on ``d_head = d / h`` columns). The scale and the softmax add
    about ``5 n^2 h`` more and are left out, as usual.

    Parameters
    ----------
    d_model, n_heads : int
        Width and number of heads; ``n_heads`` must divide ``d_model``.
    n : int
        Number of tokens.

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
    d = _checks.positive_int(d_model, "d_model")
    _checks.head_size(d, n_heads)
    n = _checks.positive_int(n, "n")
    parts = {"projections": 4 * 2 * n * d * d, "scores": 2 * n * n * d, "weighted_sum": 2 * n * n * d}
    parts["total"] = sum(parts.values())
    return parts


def attention_matrix_bytes(n_heads: int, n: int, dtype: str = "float32", batch: int = 1) -> int:
    """Bytes of the attention weights ``(batch, h, n, n)`` when they are stored whole.

    Parameters
    ----------
    n_heads, n : int
        Number of heads and of tokens.
    dtype : {"float32", "float64", "float16", "bfloat16"}, default "float32"
        Data type of the weights (see :data:`DTYPE_BYTES`).
    batch : int, default 1
        Number of sequences.

    Returns
    -------
    int

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
    h = _checks.positive_int(n_heads, "n_heads")
    n = _checks.positive_int(n, "n")
    b = _checks.positive_int(batch, "batch")
    return b * h * n * n * DTYPE_BYTES[_checks.choice(dtype, "dtype", DTYPE_BYTES)]


def attention_sizing(d_model: int, n_heads: int, n: int, dtype: str = "float32") -> dict:
    """Everything the sizing explorer shows for one attention layer.

    Parameters
    ----------
    d_model, n_heads, n : int
        Width, number of heads (dividing ``d_model``) and number of tokens.
    dtype : {"float32", "float64", "float16", "bfloat16"}, default "float32"
        Data type of the stored attention weights.

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
    flops = attention_flops(d_model, n_heads, n)
    quadratic = flops["scores"] + flops["weighted_sum"]
    return {
        "head_dim": _checks.head_size(d_model, n_heads),
        "params": attention_params(d_model, n_heads),
        "flops": flops["total"],
        "flops_quadratic_share": quadratic / flops["total"],
        "matrix_bytes": attention_matrix_bytes(n_heads, n, dtype),
    }


def _human(x: float, unit: str, base: int = 1000) -> str:
    prefixes = ["", "K", "M", "G", "T", "P"] if base == 1000 else ["", "Ki", "Mi", "Gi", "Ti", "Pi"]
    i = 0
    while abs(x) >= base and i < len(prefixes) - 1:
        x /= base
        i += 1
    return f"{x:,.1f} {prefixes[i]}{unit}" if i else f"{x:,.0f} {unit}"


def explain_sizing(d_model, n_heads, n, dtype: str = "float32") -> str:
    """A short text for the sizing explorer: the numbers, or why the heads cannot share the width.

    A head split that the sizes forbid (``n_heads`` does not divide
    ``d_model``, or exceeds it) is a choice a learner makes with the sliders:
    it gets an explanation instead of a traceback. An argument that is not a
    size at all, or not a known dtype, is a mistake in the call and raises.

    Parameters
    ----------
    d_model, n_heads, n : int
        Width, number of heads and number of tokens.
    dtype : {"float32", "float64", "float16", "bfloat16"}, default "float32"
        Data type of the stored attention weights.

    Returns
    -------
    str
        Four lines of numbers, or one line starting ``Not a valid choice:``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number or ``dtype`` is unknown.

    Examples
    --------
    >>> from selfattn.sizing import explain_sizing
    >>> print(explain_sizing(768, 12, 1024))
    head size d_head = 768 / 12 = 64
    parameters of one attention layer: 2,362,368
    FLOPs for 1024 tokens: 8.1 GFLOP (40% from the n^2 terms)
    attention matrix (12 x 1024 x 1024, float32): 48.0 MiB
    >>> print(explain_sizing(768, 10, 1024))  # doctest: +NORMALIZE_WHITESPACE
    Not a valid choice: d_model=768 is not divisible by n_heads=10 (768 / 10 = 76.80...);
    every head must get the same whole number of columns: try d_model=760 or 770,
    or a number of heads that divides 768
    """
    d = _checks.positive_int(d_model, "d_model")
    h = _checks.positive_int(n_heads, "n_heads")
    n = _checks.positive_int(n, "n")
    _checks.choice(dtype, "dtype", DTYPE_BYTES)
    try:
        _checks.head_size(d, h)
    except ValueError as err:
        return f"Not a valid choice: {err}"
    s = attention_sizing(d, h, n, dtype)
    return "\n".join([
        f"head size d_head = {d} / {h} = {s['head_dim']}",
        f"parameters of one attention layer: {s['params']:,}",
        f"FLOPs for {n} tokens: {_human(s['flops'], 'FLOP')} "
        f"({s['flops_quadratic_share']:.0%} from the n^2 terms)",
        f"attention matrix ({h} x {n} x {n}, {dtype}): {_human(s['matrix_bytes'], 'B', 1024)}",
    ])
