"""What a transformer costs: parameters, floating-point operations and memory.

Three kinds of questions, one small function each:

* **parameters of a whole model** from its released configuration, one
  function per family, each written like the architecture it counts:
  :func:`gpt2_params` (decoder-only, tied language-model head; GPT-3 too),
  :func:`bert_params` (encoder-only, token types and pooler; RoBERTa,
  DistilBERT, TinyBERT), :func:`longformer_params` (BERT plus projections for
  global attention), :func:`transformer_params` (the encoder-decoder of
  Vaswani et al., shared embeddings), :func:`t5_params` (encoder-decoder with
  a relative position bias, no biases), :func:`albert_params` (factorised
  embeddings, one set of layers shared by all), :func:`mobilebert_params`
  (bottleneck blocks), :func:`vit_params` (image patches and a class token)
  and :func:`xlnet_params` (two-stream relative attention);
* **one attention layer** for a choice of ``d_model``, ``n_heads`` and sequence
  length ``n``: :func:`attention_params`, :func:`attention_flops`,
  :func:`attention_matrix_bytes`, all gathered by :func:`attention_sizing`
  and put in words by :func:`explain_sizing`;
* **the key/value cache** a decoder keeps while it generates:
  :func:`kv_cache_bytes`, for multi-head, grouped-query and multi-query attention
  (the parameters of such a layer: :func:`grouped_attention_params`).

The model table of the chapter (loading it, comparing it with the article)
lives in :mod:`selfattn.models`. Every argument is checked by
:mod:`selfattn._checks`, so a bad size gets the same message here as in the
attention layers.

Counting conventions: a matrix ``W`` of shape ``(a, b)`` has ``a * b``
parameters, its bias ``b``; a layer norm has a scale and a shift, ``2 * d``
(T5's RMS norm has a scale only, ``d``).
One multiply-add counts as 2 floating-point operations (FLOPs).
"""

from __future__ import annotations

from . import _checks

__all__ = [
    "gpt2_params",
    "bert_params",
    "longformer_params",
    "transformer_params",
    "t5_params",
    "albert_params",
    "mobilebert_params",
    "vit_params",
    "xlnet_params",
    "attention_params",
    "attention_flops",
    "block_flops",
    "grouped_attention_params",
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
def _linear(d_in: int, d_out: int, bias: bool = True) -> int:
    """A dense layer ``d_in -> d_out``: its ``(d_in, d_out)`` matrix and, if used, ``d_out`` biases."""
    return d_in * d_out + (d_out if bias else 0)


def _mlp(d: int, f: int, bias: bool = True) -> int:
    """The feed-forward network of a block: two dense layers, ``d -> f -> d``."""
    return _linear(d, f, bias) + _linear(f, d, bias)


def _width(d_ff, d: int) -> int:
    """The MLP width: ``4 * d_model`` unless the configuration says otherwise."""
    return 4 * d if d_ff is None else _checks.positive_int(d_ff, "d_ff")


def _block(d: int, f: int) -> dict:
    """One block of GPT-2, BERT or ViT: attention and MLP with biases, two layer norms (scale, shift)."""
    return {"attention": attention_params(d, 1), "mlp": _mlp(d, f), "layer_norms": 2 * (2 * d)}


def _blocks(d_model, n_layers, d_ff) -> dict:
    """``n_layers`` blocks and one more layer norm (final in GPT-2 and ViT, after the embeddings in BERT)."""
    d = _checks.positive_int(d_model, "d_model")
    L = _checks.positive_int(n_layers, "n_layers")
    parts = {name: L * count for name, count in _block(d, _width(d_ff, d)).items()}
    parts["layer_norms"] += 2 * d
    return parts


def _with_total(parts: dict) -> dict:
    parts["total"] = sum(parts.values())
    return parts


def gpt2_params(vocab_size: int, n_positions: int, d_model: int, n_layers: int,
                d_ff: int | None = None) -> dict:
    """Parameters of a GPT-2-style model, part by part.

    The layout of GPT-2 (Radford et al., 2019): token and learned position
    embeddings; ``n_layers`` blocks of (layer norm, attention with biases, layer
    norm, MLP with biases); a final layer norm. The language-model head reuses
    the token embedding matrix (weight tying), so it adds no parameters.
    GPT-3 (Brown et al., 2020) keeps this layout; its alternating sparse
    attention patterns change which scores are computed, not the matrices.

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

    GPT-3 175B (Table 2.1 of its paper: 96 layers, 12288 wide, 2048 positions):

    >>> gpt2_params(vocab_size=50257, n_positions=2048, d_model=12288, n_layers=96)["total"]
    174604259328
    """
    V = _checks.positive_int(vocab_size, "vocab_size")
    P = _checks.positive_int(n_positions, "n_positions")
    blocks = _blocks(d_model, n_layers, d_ff)
    d = d_model
    return _with_total({"token_embedding": V * d, "position_embedding": P * d, **blocks,
                        "lm_head": 0})  # tied: the token embedding matrix, used again


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
        ``token_embedding``, ``position_embedding``, ``attention``, ``mlp``,
        ``layer_norms``, ``token_type_embedding``, ``pooler`` and ``total``.

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
    V = _checks.positive_int(vocab_size, "vocab_size")
    P = _checks.positive_int(max_positions, "max_positions")
    blocks = _blocks(d_model, n_layers, d_ff)
    d = d_model
    T = _checks.positive_int(type_vocab_size, "type_vocab_size", minimum=0)
    return _with_total({"token_embedding": V * d, "position_embedding": P * d, **blocks,
                        "token_type_embedding": T * d,
                        "pooler": _linear(d, d) if _checks.flag(pooler, "pooler") else 0})


def longformer_params(vocab_size: int, max_positions: int, d_model: int, n_layers: int,
                      d_ff: int | None = None, type_vocab_size: int = 1) -> dict:
    """Parameters of a Longformer encoder (``LongformerModel``), part by part.

    Longformer (Beltagy et al., 2020) starts from RoBERTa: :func:`bert_params`
    with one token type and a longer position table. Most tokens attend only
    within a sliding window, which changes which scores are computed but adds
    no matrix. The few tokens with *global* attention get their own
    ``W_q, W_k, W_v`` (with biases) in every layer: that is the only addition.

    Parameters
    ----------
    vocab_size, max_positions, d_model, n_layers : int
        As in the released configuration (``vocab_size``,
        ``max_position_embeddings``, ``hidden_size``, ``num_hidden_layers``).
    d_ff : int, optional
        ``intermediate_size``; defaults to ``4 * d_model``.
    type_vocab_size : int, default 1
        Number of token-type embeddings (RoBERTa's single one).

    Returns
    -------
    dict
        The parts of :func:`bert_params` (pooler included), ``global_attention``
        and ``total``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number (``type_vocab_size`` may be 0).

    Examples
    --------
    >>> from selfattn.sizing import longformer_params
    >>> parts = longformer_params(50265, 4098, 768, 12)
    >>> parts["global_attention"], parts["total"]
    (21261312, 148659456)
    """
    parts = bert_params(vocab_size, max_positions, d_model, n_layers, d_ff, type_vocab_size)
    del parts["total"]
    parts["global_attention"] = n_layers * 3 * _linear(d_model, d_model)  # W_q, W_k, W_v for global tokens
    return _with_total(parts)


def transformer_params(vocab_size: int, d_model: int, n_layers: int, d_ff: int | None = None) -> dict:
    """Parameters of the Transformer of Vaswani et al. (2017), an encoder-decoder, part by part.

    The encoder stacks ``n_layers`` layers of (self-attention, MLP); the
    decoder stacks ``n_layers`` layers of (masked self-attention,
    *cross-attention*, MLP): in cross-attention the queries come from the
    decoder and the keys and values from the encoder's output, so it holds
    the same four matrices as self-attention. Every sub-layer has biases and is
    followed by a layer norm (post-norm). The positions are sinusoids, computed
    rather than learned. One embedding matrix serves three times: the
    encoder's input, the decoder's input and the layer before the softmax
    (section 3.4 of the paper), for a vocabulary shared by both languages.

    Parameters
    ----------
    vocab_size : int
        Size of the shared vocabulary (about 37000 byte-pair tokens for
        English-German in the paper; the exact number is not published).
    d_model, n_layers : int
        Width and number of layers per stack (``N`` in the paper).
    d_ff : int, optional
        Width of the MLP; defaults to ``4 * d_model`` (2048 for the base model).

    Returns
    -------
    dict
        ``token_embedding``, ``position_embedding`` (0),
        ``encoder_self_attention``, ``decoder_self_attention``,
        ``decoder_cross_attention``, ``mlp`` (both stacks), ``layer_norms``,
        ``output_layer`` (0: tied) and ``total``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number.

    Examples
    --------
    >>> from selfattn.sizing import transformer_params
    >>> transformer_params(37000, 512, 6)["total"]      # base; Table 3 says 65M
    63082496
    >>> transformer_params(37000, 1024, 6)["total"]     # big; Table 3 says 213M
    214245376
    """
    V = _checks.positive_int(vocab_size, "vocab_size")
    d = _checks.positive_int(d_model, "d_model")
    L = _checks.positive_int(n_layers, "n_layers")
    attention = attention_params(d, 1)
    return _with_total({
        "token_embedding": V * d,  # shared: encoder input, decoder input, pre-softmax layer
        "position_embedding": 0,  # sinusoids
        "encoder_self_attention": L * attention,
        "decoder_self_attention": L * attention,
        "decoder_cross_attention": L * attention,  # queries: decoder; keys and values: encoder
        "mlp": 2 * L * _mlp(d, _width(d_ff, d)),
        "layer_norms": (2 * L + 3 * L) * (2 * d),  # after each sub-layer: 2 per encoder layer, 3 per decoder
        "output_layer": 0,  # tied to the token embedding
    })


def t5_params(vocab_size: int, d_model: int, n_heads: int, d_kv: int, n_layers: int, d_ff: int,
              relative_attention_num_buckets: int = 32) -> dict:
    """Parameters of a T5 encoder-decoder (``T5Model``), part by part.

    T5 (Raffel et al., 2020) keeps the encoder-decoder of
    :func:`transformer_params` and changes four things that show in the count:

    * no biases anywhere, and layer norms with a scale only (RMS norm, ``d``
      numbers each), before every sub-layer and once at the end of each stack;
    * the head size is its own setting, ``d_kv``, so ``W_q`` is
      ``(d_model, n_heads * d_kv)``, which need not be square;
    * no position embedding: each stack learns one scalar per head for each of
      ``relative_attention_num_buckets`` buckets of the distance between query
      and key, added to the scores of every layer (a table of
      ``buckets x n_heads``, stored in the stack's first layer);
    * one embedding matrix shared by encoder and decoder. In the released T5
      checkpoints (``tie_word_embeddings`` true) the language-model head reuses
      it, so ``T5ForConditionalGeneration`` holds exactly as many parameters
      as ``T5Model``; T5 v1.1 unties it and adds ``vocab_size * d_model``.

    Parameters
    ----------
    vocab_size, d_model, n_heads, d_kv, n_layers, d_ff : int
        As in the released configuration (``num_layers`` layers in each stack).
    relative_attention_num_buckets : int, default 32
        Number of distance buckets.

    Returns
    -------
    dict
        ``token_embedding``, ``relative_position_bias`` (both stacks),
        ``encoder_self_attention``, ``decoder_self_attention``,
        ``decoder_cross_attention``, ``mlp``, ``layer_norms``, ``lm_head``
        (0: tied) and ``total``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number.

    Examples
    --------
    >>> from selfattn.sizing import t5_params
    >>> t5_params(32128, 512, 8, 64, 6, 2048)["total"]    # t5-small
    60506624
    """
    V = _checks.positive_int(vocab_size, "vocab_size")
    d = _checks.positive_int(d_model, "d_model")
    h = _checks.positive_int(n_heads, "n_heads")
    inner = h * _checks.positive_int(d_kv, "d_kv")
    L = _checks.positive_int(n_layers, "n_layers")
    f = _checks.positive_int(d_ff, "d_ff")
    buckets = _checks.positive_int(relative_attention_num_buckets, "relative_attention_num_buckets")
    attention = 4 * d * inner  # W_q, W_k, W_v (d, h d_kv) and W_o (h d_kv, d), no biases
    return _with_total({
        "token_embedding": V * d,  # shared by encoder, decoder and the LM head
        "relative_position_bias": 2 * buckets * h,  # one table per stack
        "encoder_self_attention": L * attention,
        "decoder_self_attention": L * attention,
        "decoder_cross_attention": L * attention,
        "mlp": 2 * L * _mlp(d, f, bias=False),
        "layer_norms": (2 * L + 1) * d + (3 * L + 1) * d,  # a scale only; one final norm per stack
        "lm_head": 0,  # tied to the token embedding
    })


def albert_params(vocab_size: int, embedding_size: int, max_positions: int, d_model: int, n_layers: int,
                  d_ff: int | None = None, type_vocab_size: int = 2, pooler: bool = True) -> dict:
    """Parameters of an ALBERT encoder (``AlbertModel``), part by part.

    ALBERT (Lan et al., 2020) keeps BERT's block and saves parameters twice:

    * **factorised embeddings**: tokens, positions and token types are
      ``embedding_size`` wide (128), followed by a layer norm and one dense
      layer up to ``d_model``: ``V E + E d`` instead of ``V d``;
    * **shared layers**: all ``n_layers`` layers use one set of matrices, so
      the block is counted once, whatever ``n_layers`` is. The computation
      still runs ``n_layers`` times.

    Parameters
    ----------
    vocab_size, embedding_size, max_positions, d_model, n_layers : int
        As in the released configuration (``vocab_size``, ``embedding_size``,
        ``max_position_embeddings``, ``hidden_size``, ``num_hidden_layers``).
    d_ff : int, optional
        ``intermediate_size``; defaults to ``4 * d_model``.
    type_vocab_size : int, default 2
        Number of token-type embeddings; 0 for none.
    pooler : bool, default True
        Count the pooler (a ``d_model x d_model`` dense layer).

    Returns
    -------
    dict
        ``token_embedding``, ``position_embedding``, ``token_type_embedding``,
        ``embedding_projection``, ``attention`` and ``mlp`` (one shared set),
        ``layer_norms``, ``pooler`` and ``total``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number (``type_vocab_size`` may be 0),
        or ``pooler`` is not ``True`` or ``False``.

    Examples
    --------
    >>> from selfattn.sizing import albert_params
    >>> albert_params(30000, 128, 512, 768, n_layers=12)["total"]
    11683584
    >>> albert_params(30000, 128, 512, 768, n_layers=24)["total"]    # same: shared layers
    11683584
    """
    V = _checks.positive_int(vocab_size, "vocab_size")
    E = _checks.positive_int(embedding_size, "embedding_size")
    P = _checks.positive_int(max_positions, "max_positions")
    d = _checks.positive_int(d_model, "d_model")
    _checks.positive_int(n_layers, "n_layers")  # multiplies nothing: the layers share one set
    T = _checks.positive_int(type_vocab_size, "type_vocab_size", minimum=0)
    block = _block(d, _width(d_ff, d))
    return _with_total({
        "token_embedding": V * E, "position_embedding": P * E, "token_type_embedding": T * E,
        "embedding_projection": _linear(E, d),
        "attention": block["attention"], "mlp": block["mlp"],
        "layer_norms": 2 * E + block["layer_norms"],  # the embeddings' norm, then the shared block's two
        "pooler": _linear(d, d) if _checks.flag(pooler, "pooler") else 0,
    })


def mobilebert_params(vocab_size: int, embedding_size: int, max_positions: int, d_model: int,
                      bottleneck: int, n_layers: int, d_ff: int, n_ffn: int = 4,
                      type_vocab_size: int = 2) -> dict:
    """Parameters of a MobileBERT encoder (``MobileBertModel``, released layout), part by part.

    MobileBERT (Sun et al., 2020) passes ``d_model`` (512) numbers from block
    to block but computes inside a narrow *bottleneck* (128):

    * embeddings ``embedding_size`` (128) wide; each token is concatenated with
      its two neighbours (``3 E``) and projected to ``d_model``;
    * in each layer, a dense layer narrows the input to the bottleneck, and a
      second one, shared by queries and keys, does the same; ``W_q`` and
      ``W_k`` work inside the bottleneck, ``W_v`` reads the full width;
      ``W_o`` stays in the bottleneck;
    * ``n_ffn`` feed-forward networks (4) in a row, each ``bottleneck -> d_ff
      -> bottleneck``, then a dense layer back up to ``d_model``;
    * instead of layer norms, an element-wise scale and shift (``NoNorm``,
      ``2 w`` numbers for width ``w``) after each step. The released pooler
      has no dense layer (``classifier_activation`` false): it adds nothing.

    Parameters
    ----------
    vocab_size, embedding_size, max_positions, d_model : int
        As in the released configuration (``vocab_size``, ``embedding_size``,
        ``max_position_embeddings``, ``hidden_size``).
    bottleneck : int
        ``intra_bottleneck_size`` (= ``true_hidden_size``).
    n_layers, d_ff : int
        ``num_hidden_layers`` and ``intermediate_size``.
    n_ffn : int, default 4
        ``num_feedforward_networks``.
    type_vocab_size : int, default 2
        Number of token-type embeddings; 0 for none.

    Returns
    -------
    dict
        ``token_embedding``, ``embedding_projection``, ``position_embedding``,
        ``token_type_embedding``, ``bottlenecks``, ``attention``, ``mlp``,
        ``norms`` and ``total``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number (``type_vocab_size`` may be 0).

    Examples
    --------
    >>> from selfattn.sizing import mobilebert_params
    >>> mobilebert_params(30522, 128, 512, 512, bottleneck=128, n_layers=24, d_ff=512)["total"]
    24581888
    """
    V = _checks.positive_int(vocab_size, "vocab_size")
    E = _checks.positive_int(embedding_size, "embedding_size")
    P = _checks.positive_int(max_positions, "max_positions")
    d = _checks.positive_int(d_model, "d_model")
    b = _checks.positive_int(bottleneck, "bottleneck")
    L = _checks.positive_int(n_layers, "n_layers")
    f = _checks.positive_int(d_ff, "d_ff")
    k = _checks.positive_int(n_ffn, "n_ffn")
    T = _checks.positive_int(type_vocab_size, "type_vocab_size", minimum=0)
    layer = {
        "bottlenecks": 2 * _linear(d, b) + _linear(b, d),  # in, in for queries and keys, out
        "attention": 3 * _linear(b, b) + _linear(d, b),  # W_q, W_k, W_o in the bottleneck; W_v from d
        "mlp": k * _mlp(b, f),
        "norms": 2 * (2 * b) + 2 * b + k * (2 * b) + 2 * d,  # bottlenecks in, attention, each MLP, out
    }
    return _with_total({
        "token_embedding": V * E,
        "embedding_projection": _linear(3 * E, d),  # a token and its two neighbours, 3E -> d
        "position_embedding": P * d, "token_type_embedding": T * d,
        **{name: L * count for name, count in layer.items()},
    } | {"norms": 2 * d + L * layer["norms"]})  # the embeddings' NoNorm, then the layers'


def vit_params(image_size: int, patch_size: int, d_model: int, n_layers: int, d_ff: int | None = None,
               n_channels: int = 3, pooler: bool = False) -> dict:
    """Parameters of a Vision Transformer encoder (``ViTModel``), part by part.

    ViT (Dosovitskiy et al., 2021) has no vocabulary: it cuts a square image
    into ``(image_size / patch_size)**2`` square patches, flattens each
    (``patch_size**2 * n_channels`` numbers) and projects it to ``d_model``
    with one dense layer (written as a strided convolution). A learned *class
    token* is put in front of the patches; its output is what a classifier
    reads. Each patch and the class token get a learned position embedding.
    The blocks are GPT-2's (pre-norm, biases), with a final layer norm.

    The pooler (a dense layer with tanh on the class token) is off by default:
    ``ViTForImageClassification`` builds ``ViTModel`` without it and adds a
    classifier whose size depends on the task (``d_model x classes``).

    Parameters
    ----------
    image_size, patch_size : int
        Side of the image and of a patch, in pixels; ``patch_size`` must divide
        ``image_size``.
    d_model, n_layers : int
        ``hidden_size`` and ``num_hidden_layers``.
    d_ff : int, optional
        ``intermediate_size``; defaults to ``4 * d_model``.
    n_channels : int, default 3
        Colour channels.
    pooler : bool, default False
        Count the pooler.

    Returns
    -------
    dict
        ``patch_embedding``, ``class_token``, ``position_embedding``,
        ``attention``, ``mlp``, ``layer_norms``, ``pooler`` and ``total``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number, ``patch_size`` does not divide
        ``image_size``, or ``pooler`` is not ``True`` or ``False``.

    Examples
    --------
    >>> from selfattn.sizing import vit_params
    >>> parts = vit_params(224, 16, 768, 12)          # ViT-B/16
    >>> parts["position_embedding"] // 768, parts["total"]
    (197, 85798656)
    """
    side = _checks.patch_grid(image_size, patch_size)
    C = _checks.positive_int(n_channels, "n_channels")
    blocks = _blocks(d_model, n_layers, d_ff)
    d = d_model
    return _with_total({
        "patch_embedding": _linear(C * patch_size * patch_size, d),
        "class_token": d,
        "position_embedding": (side * side + 1) * d,  # the patches and the class token
        **blocks,
        "pooler": _linear(d, d) if _checks.flag(pooler, "pooler") else 0,
    })


def xlnet_params(vocab_size: int, d_model: int, n_heads: int, d_head: int, n_layers: int, d_ff: int) -> dict:
    """Parameters of an XLNet encoder (``XLNetModel``), part by part.

    XLNet (Yang et al., 2019) reads the tokens in a random order and predicts
    each from the ones before it in that order. It runs two streams of
    attention through the same layers: the *content* stream (each token sees
    itself) and the *query* stream (a position sees the others but not its
    own token). Both streams use the same ``W_q, W_k, W_v, W_o``; the query
    stream starts from one learned vector, the mask embedding. Positions
    are relative, as in Transformer-XL: no position table, but in each layer a
    matrix ``W_r`` that projects a sinusoid of the distance, and two biases
    ``u`` and ``v`` (per head) added to the queries. Segments are relative too:
    two learned encodings (same / different segment) and their bias.

    Parameters
    ----------
    vocab_size, d_model, n_heads, d_head, n_layers, d_ff : int
        As in the released configuration (``vocab_size``, ``d_model``,
        ``n_head``, ``d_head``, ``n_layer``, ``d_inner``).

    Returns
    -------
    dict
        ``token_embedding``, ``mask_embedding``, ``attention``,
        ``relative_positions``, ``relative_segments``, ``mlp``,
        ``layer_norms`` and ``total``.

    Raises
    ------
    ValueError
        If a size is not a positive whole number.

    Examples
    --------
    >>> from selfattn.sizing import xlnet_params
    >>> xlnet_params(32000, 768, 12, 64, 12, 3072)["total"]     # xlnet-base-cased
    116718336
    """
    V = _checks.positive_int(vocab_size, "vocab_size")
    d = _checks.positive_int(d_model, "d_model")
    inner = _checks.positive_int(n_heads, "n_heads") * _checks.positive_int(d_head, "d_head")
    L = _checks.positive_int(n_layers, "n_layers")
    f = _checks.positive_int(d_ff, "d_ff")
    return _with_total({
        "token_embedding": V * d,
        "mask_embedding": d,  # where the query stream starts
        "attention": L * 4 * d * inner,  # W_q, W_k, W_v, W_o without biases, used by both streams
        "relative_positions": L * (d * inner + 2 * inner),  # W_r and the biases u, v
        "relative_segments": L * (2 * inner + inner),  # two segment encodings and their bias
        "mlp": L * _mlp(d, f),
        "layer_norms": L * 2 * (2 * d),
    })


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


def grouped_attention_params(d_model: int, n_heads: int, n_kv_heads: int, bias: bool = True) -> int:
    """Parameters of an attention layer whose keys and values have only ``n_kv_heads`` heads.

    Multi-query attention (``n_kv_heads = 1``, Shazeer 2019) and grouped-query
    attention (``1 < n_kv_heads < n_heads``, Ainslie et al. 2023) keep ``n_heads``
    query heads of ``d_head = d_model / n_heads`` columns but give ``W_k`` and
    ``W_v`` only ``n_kv_heads * d_head`` columns, shared by groups of query heads:
    ``2 d^2 + 2 d g d_head`` matrix entries (``+ 2 d + 2 g d_head`` biases).
    With ``n_kv_heads = n_heads`` it is :func:`attention_params`.

    Parameters
    ----------
    d_model, n_heads : int
        Width and number of query heads; ``n_heads`` must divide ``d_model``.
    n_kv_heads : int
        Number of key/value heads; must divide ``n_heads``.
    bias : bool, default True
        Count the biases of the four projections.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If a size is not a positive whole number, a division is not whole or
        ``bias`` is not ``True`` or ``False``.

    Examples
    --------
    >>> from selfattn.sizing import grouped_attention_params
    >>> grouped_attention_params(768, 12, 12) == attention_params(768, 12)
    True
    >>> grouped_attention_params(768, 12, 1, bias=False)   # multi-query
    1277952
    """
    d = _checks.positive_int(d_model, "d_model")
    d_head = _checks.head_size(d, n_heads)
    g = _checks.positive_int(n_kv_heads, "n_kv_heads")
    if n_heads % g:
        raise ValueError(
            f"n_kv_heads={g} must divide n_heads={n_heads}: each key/value head "
            "serves the same number of query heads")
    kv = g * d_head
    biases = 2 * d + 2 * kv if _checks.flag(bias, "bias") else 0
    return 2 * d * d + 2 * d * kv + biases


def block_flops(d_model: int, n_heads: int, n: int, d_ff: int | None = None) -> dict:
    """Forward FLOPs of one Transformer block: the attention layer and its MLP.

    The attention parts are those of :func:`attention_flops`; the MLP's two
    dense layers ``d -> d_ff -> d`` cost ``2 n d d_ff`` each (a multiply-add
    counts 2). Layer norms, biases, the softmax and the activation are left out.

    Parameters
    ----------
    d_model, n_heads, n : int
        Width, number of heads (dividing ``d_model``) and number of tokens.
    d_ff : int, optional
        Width of the MLP; ``4 * d_model`` (GPT-2, BERT) when not given.

    Returns
    -------
    dict
        ``projections``, ``scores``, ``weighted_sum``, ``mlp``, ``total`` and
        ``quadratic_share``, the part of ``total`` in the ``n^2`` terms.

    Raises
    ------
    ValueError
        If a number is not a positive whole number or ``d_model`` is not
        divisible by ``n_heads``.

    Examples
    --------
    >>> from selfattn.sizing import block_flops
    >>> round(block_flops(768, 12, 1024)["quadratic_share"], 3)
    0.182
    """
    parts = attention_flops(d_model, n_heads, n)
    del parts["total"]
    d = _checks.positive_int(d_model, "d_model")
    parts["mlp"] = 2 * (2 * n * d * _width(d_ff, d))  # d -> d_ff -> d
    parts["total"] = sum(parts.values())
    parts["quadratic_share"] = (parts["scores"] + parts["weighted_sum"]) / parts["total"]
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
    forward FLOPs of the layer for 1024 tokens: 8.1 GFLOP
      n^2 terms: 40% of the attention layer, 18% of a block with its MLP
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
        f"forward FLOPs of the layer for {n} tokens: {_human(s['flops'], 'FLOP')}",
        f"  n^2 terms: {s['flops_quadratic_share']:.0%} of the attention layer, "
        f"{block_flops(d, h, n)['quadratic_share']:.0%} of a block with its MLP",
        f"attention matrix ({h} x {n} x {n}, {dtype}): {_human(s['matrix_bytes'], 'B', 1024)}",
    ])


# --------------------------------------------------------------------------- #
# the key/value cache of a decoder
# --------------------------------------------------------------------------- #
__all__ += ["kv_cache_bytes"]


def kv_cache_bytes(n_layers: int, n_kv_heads: int, head_dim: int, n_tokens: int,
                   dtype: str = "float16", batch: int = 1) -> int:
    r"""Bytes of the key/value cache a decoder keeps while it generates.

    A decoder that generates one token at a time keeps, in every layer, the keys
    and the values of every token so far: two tensors of shape
    ``(batch, n_kv_heads, n_tokens, head_dim)`` per layer (the layout of
    ``transformers``' ``DynamicCache``). So

    .. math:: \text{bytes} = 2 \times L \times g \times d_{head} \times n
              \times \text{bytes per number} \times \text{batch}

    with 2 for keys and values, ``L`` layers and ``g`` key/value heads. Multi-head
    attention has ``g = n_heads`` (and ``g d_head = d_model``); grouped-query
    attention divides the cache by ``n_heads / g``, multi-query attention
    (``g = 1``) by ``n_heads``.

    By hand, GPT-2 small (12 layers, 12 heads of 64 numbers) at its full context of
    1024 tokens in float16: ``2 x 12 x 12 x 64 = 18,432`` numbers per token, ``x 2``
    bytes = 36,864 bytes (36 KiB) per token, ``x 1024`` tokens = 37,748,736 bytes,
    exactly 36 MiB; in float32, GPT-2's released dtype, twice that. GPT-3 175B (96
    layers, 96 heads of 128) at 2048 tokens in float16: ``2 x 96 x 96 x 128 x 2048 x 2``
    = 9,663,676,416 bytes, exactly 9 GiB, for one sequence.

    Parameters
    ----------
    n_layers : int
        Number of blocks (``n_layer``, ``num_hidden_layers``).
    n_kv_heads : int
        Number of key/value heads (``num_key_value_heads``; ``n_heads`` without
        grouping, 1 for multi-query attention).
    head_dim : int
        Numbers per head, for keys and values alike.
    n_tokens : int
        Tokens held: prompt and generated tokens so far.
    dtype : {"float16", "bfloat16", "float32", "float64"}, default "float16"
        Data type of the cache (see :data:`DTYPE_BYTES`).
    batch : int, default 1
        Number of sequences generated at once.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If a number is not a positive whole number or ``dtype`` is unknown.

    Examples
    --------
    >>> from selfattn.sizing import kv_cache_bytes
    >>> kv_cache_bytes(n_layers=12, n_kv_heads=12, head_dim=64, n_tokens=1024)   # GPT-2 small
    37748736
    >>> kv_cache_bytes(12, 12, 64, 1024) / 2**20                       # MiB
    36.0
    >>> kv_cache_bytes(12, 1, 64, 1024) / 2**20          # the same with one key/value head
    3.0
    >>> kv_cache_bytes(96, 96, 128, 2048) / 2**30                      # GPT-3, GiB
    9.0
    """
    L = _checks.positive_int(n_layers, "n_layers")
    g = _checks.positive_int(n_kv_heads, "n_kv_heads")
    d_head = _checks.positive_int(head_dim, "head_dim")
    n = _checks.positive_int(n_tokens, "n_tokens")
    b = _checks.positive_int(batch, "batch")
    bytes_per_number = DTYPE_BYTES[_checks.choice(dtype, "dtype", DTYPE_BYTES)]
    return 2 * L * g * d_head * n * bytes_per_number * b  # keys and values, every layer
