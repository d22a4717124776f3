r"""A GPT-style decoder in NumPy: causal self-attention, RoPE, greedy generation and a KV cache.

The model is attention-only (no feed-forward layers), pre-norm, with rotary positions:

.. math::

    x^{(0)} = E[\text{ids}], \qquad
    x^{(l+1)} = x^{(l)} + \operatorname{MHA}_l\bigl(\operatorname{LN}_l(x^{(l)})\bigr), \qquad
    \text{logits} = \operatorname{LN}_f(x^{(L)})\, W_U .

In each layer, every head ``h`` takes its block of columns of ``q = LN(x) W_q``,
``k = LN(x) W_k`` and ``v = LN(x) W_v``, rotates its queries and keys by their positions
(:func:`selfattn.positions.rope`, layout ``"half"``), and attends under the causal mask
(:func:`selfattn.causal_mask`): token ``i`` sees tokens ``0..i`` only. The heads' outputs,
side by side, go through ``W_o`` and are added to the residual stream. There are no biases.

Generation (:func:`generate`) is greedy: feed the tokens, take the most likely next token,
append it, repeat. Without a cache every step runs the whole sequence again. With a
:class:`KVCache` a step computes the query, key and value of the new token only, at
position ``len(cache)``, and reads the keys and values of the earlier tokens from the cache.
That is exact because of the causal mask: a token's key and value depend on the tokens up to
it alone, so they never change once computed. The keys are cached *after* their rotation, at
their own positions.

:func:`attention_record` gives one sequence's tokens and every head's weights in the form
:class:`selfattn.widgets.HeadExplorer` reads, so the explorer shows the decoder's heads.

The weights come from :func:`selfattn.induction.load_induction` (a model trained in PyTorch
to copy in context) or from any dict of arrays of the shapes :func:`parameter_shapes` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks
from .attention import causal_mask, scaled_dot_product_attention
from .block import layer_norm
from .heads import merge_heads, split_heads
from .positions import BASE, rope

__all__ = [
    "LAYOUT",
    "LAYER_NORM_EPS",
    "parameter_shapes",
    "Decoder",
    "forward",
    "KVCache",
    "decode_step",
    "generate",
    "AttentionRecord",
    "attention_record",
]

#: The RoPE layout of the decoder: pairs ``(x[i], x[i + d/2])`` in each head (GPT-NeoX, and
#: the Hugging Face code of Llama).
LAYOUT = "half"
#: The epsilon of every LayerNorm of the decoder (PyTorch's default, and GPT-2's).
LAYER_NORM_EPS = 1e-5


def parameter_shapes(vocab_size: int, d_model: int, n_layers: int) -> dict:
    """The name and shape of every weight of the decoder.

    Parameters
    ----------
    vocab_size, d_model, n_layers : int
        Positive sizes.

    Returns
    -------
    dict of str to tuple
        ``"embedding"`` (vocab_size, d_model); for each layer ``l``, ``"layers.<l>.ln.gamma"``
        and ``"layers.<l>.ln.beta"`` (d_model,) and ``"layers.<l>.W_q"``, ``W_k``, ``W_v``,
        ``W_o`` (d_model, d_model), applied as ``x @ W``; ``"ln_f.gamma"``, ``"ln_f.beta"``
        (d_model,); ``"unembedding"`` (d_model, vocab_size).

    Raises
    ------
    ValueError
        If a size is not a positive integer.

    Examples
    --------
    >>> from selfattn.decoder import parameter_shapes
    >>> shapes = parameter_shapes(vocab_size=64, d_model=8, n_layers=1)
    >>> shapes["embedding"], shapes["layers.0.W_q"], shapes["unembedding"]
    ((64, 8), (8, 8), (8, 64))
    >>> len(shapes)  # the embedding, 6 per layer, the final LayerNorm's 2, the unembedding
    10
    """
    v = _checks.positive_int(vocab_size, "vocab_size")
    d = _checks.positive_int(d_model, "d_model")
    n_layers = _checks.positive_int(n_layers, "n_layers")
    shapes = {"embedding": (v, d)}
    for layer in range(n_layers):
        p = f"layers.{layer}."
        shapes.update({p + "ln.gamma": (d,), p + "ln.beta": (d,)})
        shapes.update({p + name: (d, d) for name in ("W_q", "W_k", "W_v", "W_o")})
    shapes.update({"ln_f.gamma": (d,), "ln_f.beta": (d,), "unembedding": (d, v)})
    return shapes


@dataclass(frozen=True, eq=False)
class Decoder:
    """The weights of an attention-only decoder and its number of heads.

    Parameters
    ----------
    params : dict of str to array_like
        Every weight named in :func:`parameter_shapes`, as float arrays (copied to float64).
    n_heads : int
        Heads per layer; must divide ``d_model``, and ``d_model / n_heads`` must be even (RoPE
        rotates pairs).
    base : float, default 10000
        The RoPE frequency base.

    Raises
    ------
    ValueError
        If a weight is missing, unexpected, of the wrong shape or not finite, or ``n_heads``
        does not fit ``d_model``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.decoder import Decoder, parameter_shapes
    >>> rng = np.random.default_rng(0)
    >>> params = {k: rng.normal(size=s) for k, s in parameter_shapes(16, 8, 2).items()}
    >>> model = Decoder(params, n_heads=2)
    >>> model.vocab_size, model.d_model, model.n_layers, model.d_head
    (16, 8, 2, 4)
    """

    params: dict
    n_heads: int
    base: float = BASE

    def __post_init__(self):
        params, n_heads = _checks.decoder_params(self.params, self.n_heads, parameter_shapes)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "n_heads", n_heads)
        object.__setattr__(self, "base", _checks.frequency_base(self.base))

    @property
    def vocab_size(self) -> int:
        return self.params["embedding"].shape[0]

    @property
    def d_model(self) -> int:
        return self.params["embedding"].shape[1]

    @property
    def n_layers(self) -> int:
        return sum(1 for name in self.params if name.endswith(".W_q"))

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    def __repr__(self) -> str:
        return (f"Decoder(vocab_size={self.vocab_size}, d_model={self.d_model}, "
                f"n_layers={self.n_layers}, n_heads={self.n_heads})")


def _keys_values(model: Decoder, layer: int, k, v, positions,
                 cache=None):
    """The keys and values the new queries attend to.

    Each new key is rotated once, at its own position, *then* cached;
    cached keys are used as they are. Returns (..., H, n_keys, d_head)
    twice.
    """
    k = rope(k, positions, model.base, LAYOUT)  # turned by its position
    if cache is None:
        return k, v
    return cache.update(layer, k, v)  # earlier tokens' and the new ones


def _attention_layer(model: Decoder, layer: int, x, positions,
                     cache=None, ablate=()):
    """One pre-norm layer, ``x + MHA(LN(x))``, and its weights."""
    p = {name: model.params[f"layers.{layer}.{name}"]
         for name in ("ln.gamma", "ln.beta", "W_q", "W_k", "W_v", "W_o")}
    h = layer_norm(x, p["ln.gamma"], p["ln.beta"], LAYER_NORM_EPS)
    q = split_heads(h @ p["W_q"], model.n_heads)  # (..., H, t, d_head)
    k = split_heads(h @ p["W_k"], model.n_heads)
    v = split_heads(h @ p["W_v"], model.n_heads)
    q = rope(q, positions, model.base, LAYOUT)  # turned by its position
    k, v = _keys_values(model, layer, k, v, positions, cache)
    if cache is None:  # (t, t): token i sees keys 0..i
        mask = causal_mask(len(positions))
    else:  # (t, n_keys): the new token at position p sees keys 0..p
        mask = np.arange(k.shape[-2]) <= positions[:, None]
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    for head in (hd for lay, hd in ablate if lay == layer):
        out[..., head, :, :] = 0.0  # ablation: this head writes nothing
    return x + merge_heads(out) @ p["W_o"], w  # (..., t, d), weights


def _readout(model: Decoder, x):
    """``LN_f(x) @ W_U``: one score per vocabulary entry at every position."""
    h = layer_norm(x, model.params["ln_f.gamma"], model.params["ln_f.beta"], LAYER_NORM_EPS)
    return h @ model.params["unembedding"]  # (..., t, vocab)


def forward(model: Decoder, ids, ablate=()):
    """Next-token logits at every position and the attention weights of every head.

    Parameters
    ----------
    model : Decoder
    ids : array_like of int, shape (n,) or (B, n)
        Token ids from 0 to ``model.vocab_size - 1``, one sequence or a batch of equal length.
    ablate : iterable of (layer, head), optional
        Heads whose output is set to zero (their weights are still returned).

    Returns
    -------
    logits : numpy.ndarray, shape (..., n, vocab_size)
        Row ``i`` scores the token that follows ``ids[..., i]``.
    weights : list of numpy.ndarray, one per layer, shape (..., n_heads, n, n)
        Row ``i`` of head ``h`` is where token ``i`` looks; zero above the diagonal.

    Raises
    ------
    ValueError
        If ``model`` is not a :class:`Decoder`, ``ids`` is not a non-empty array of whole
        numbers from 0 to ``vocab_size - 1`` of shape (n,) or (B, n), or ``ablate`` names a
        head the model does not have.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.decoder import Decoder, forward, parameter_shapes
    >>> rng = np.random.default_rng(0)
    >>> model = Decoder({k: rng.normal(size=s) for k, s in parameter_shapes(16, 8, 2).items()}, 2)
    >>> logits, weights = forward(model, [3, 1, 4, 1, 5])
    >>> logits.shape, len(weights), weights[0].shape
    ((5, 16), 2, (2, 5, 5))
    >>> float(weights[1][0, 0, 1])  # the first token cannot see the second
    0.0
    """
    _checks.instance(model, Decoder, "model", "a selfattn.decoder.Decoder")
    ids = _checks.decoder_ids(ids, model.vocab_size)  # (..., n)
    ablate = _checks.heads_to_ablate(ablate, model.n_layers, model.n_heads)
    x = model.params["embedding"][ids]  # (..., n, d)
    positions = np.arange(ids.shape[-1])  # (n,)
    weights = []
    for layer in range(model.n_layers):
        x, w = _attention_layer(model, layer, x, positions, ablate=ablate)
        weights.append(w)  # (..., H, n, n)
    return _readout(model, x), weights


class KVCache:
    """The keys and values of the tokens seen so far, one pair of arrays per layer.

    ``keys[l]`` and ``values[l]`` have shape (n_heads, len(cache), d_head); the keys are
    stored after RoPE has rotated them at their own positions, so a later step uses them as
    they are. ``len(cache)`` is the number of tokens stored, which is also the position of the
    next token.

    Parameters
    ----------
    n_layers : int

    Attributes
    ----------
    keys, values : list of numpy.ndarray or None
        One entry per layer, ``None`` until the first :meth:`update`.
    nbytes : int
        Bytes held: 2 x layers x heads x d_head x tokens x bytes per number.

    Raises
    ------
    ValueError
        If ``n_layers`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.decoder import KVCache
    >>> cache = KVCache(n_layers=1)
    >>> k, v = cache.update(0, np.ones((2, 3, 4)), np.zeros((2, 3, 4)))  # 3 tokens, 2 heads
    >>> k, v = cache.update(0, np.ones((2, 1, 4)), np.zeros((2, 1, 4)))  # one more
    >>> len(cache), k.shape, cache.nbytes  # 2 x 1 layer x 2 heads x 4 x 4 tokens x 8 bytes
    (4, (2, 4, 4), 512)
    """

    def __init__(self, n_layers: int):
        n_layers = _checks.positive_int(n_layers, "n_layers")
        self.keys = [None] * n_layers
        self.values = [None] * n_layers

    @property
    def n_layers(self) -> int:
        return len(self.keys)

    def __len__(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[-2]

    def update(self, layer: int, k, v):
        """Append the new tokens' keys ``k`` and values ``v`` to ``layer``'s and return them all.

        Parameters
        ----------
        layer : int
            From 0 to ``n_layers - 1``.
        k, v : array_like, shape (n_heads, t, d_head)
            The new tokens' keys (already rotated) and values; copied as float64.

        Returns
        -------
        keys, values : numpy.ndarray, shape (n_heads, len + t, d_head)
            Every token's keys and values in ``layer``, the earlier ones first.

        Raises
        ------
        ValueError
            If ``layer`` is not one of the cache's layers, or ``k`` and ``v`` are not finite
            arrays of one shape (n_heads, t, d_head) matching what the cache already holds.
        """
        layer, k, v = _checks.cache_update(self, layer, k, v)
        if self.keys[layer] is None:
            self.keys[layer], self.values[layer] = k, v  # (H, t, d_head), copies
        else:
            self.keys[layer] = np.concatenate([self.keys[layer], k], axis=-2)  # (H, len + t, ·)
            self.values[layer] = np.concatenate([self.values[layer], v], axis=-2)
        return self.keys[layer], self.values[layer]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.keys + self.values if a is not None)

    def __repr__(self) -> str:
        return f"KVCache(n_layers={self.n_layers}, tokens={len(self)}, nbytes={self.nbytes})"


def decode_step(model: Decoder, ids, cache: KVCache):
    """Run new tokens through the model, reading and extending the cache.

    The new tokens sit at positions ``len(cache), len(cache) + 1, ...``: their queries and
    keys are rotated there, their keys and values appended to the cache, and each new token
    attends to every cached token and to the new ones up to itself.

    Parameters
    ----------
    model : Decoder
    ids : array_like of int, shape (t,)
        The new tokens: the whole prompt at first, then one token per step.
    cache : KVCache
        Holds the earlier tokens (empty at first); updated in place.

    Returns
    -------
    numpy.ndarray, shape (t, vocab_size)
        The next-token logits at the new positions.

    Raises
    ------
    ValueError
        If ``ids`` is not a non-empty 1-D array of token ids, or ``cache`` is not a
        :class:`KVCache` with one entry per layer of the model (and, once filled, the
        model's heads and head size).

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.decoder import Decoder, KVCache, decode_step, forward, parameter_shapes
    >>> rng = np.random.default_rng(0)
    >>> model = Decoder({k: rng.normal(size=s) for k, s in parameter_shapes(16, 8, 2).items()}, 2)
    >>> cache = KVCache(model.n_layers)
    >>> first = decode_step(model, [3, 1, 4], cache)
    >>> last = decode_step(model, [1], cache)
    >>> len(cache), bool(np.allclose(last[-1], forward(model, [3, 1, 4, 1])[0][-1]))
    (4, True)
    """
    _checks.instance(model, Decoder, "model", "a selfattn.decoder.Decoder")
    ids = _checks.decoder_ids(ids, model.vocab_size, batch=False)  # (t,)
    cache = _checks.kv_cache(cache, model.n_layers, KVCache, model.n_heads, model.d_head)
    start = len(cache)  # the position of the first new token
    positions = np.arange(start, start + len(ids))  # (t,)
    x = model.params["embedding"][ids]  # (t, d)
    for layer in range(model.n_layers):
        x, _ = _attention_layer(model, layer, x, positions, cache=cache)
    return _readout(model, x)  # (t, vocab)


def generate(model: Decoder, prompt, n_new: int, cache=True):
    """Greedy generation: append the most likely next token, ``n_new`` times.

    Parameters
    ----------
    model : Decoder
    prompt : array_like of int, shape (n,)
        At least one token id. There is no maximum length: RoPE has no table to run out of.
    n_new : int
        Tokens to generate (0 returns the prompt).
    cache : bool or KVCache, default True
        ``True`` keeps a :class:`KVCache`: the prompt is run once, then each step computes the
        new token alone. ``False`` runs the whole sequence again at every step. An empty
        :class:`KVCache` (or an instance of a subclass) is filled and used as the cache;
        afterwards it holds every token but the last one generated (which no step has read).

    Returns
    -------
    tokens : numpy.ndarray of int64, shape (n + n_new,)
        The prompt followed by the generated tokens.
    logits : numpy.ndarray, shape (n_new, vocab_size)
        Row ``j`` is the score vector from which token ``n + j`` was chosen (ties go to the
        smallest id, as ``numpy.argmax`` breaks them).

    Raises
    ------
    ValueError
        If ``prompt`` is not a non-empty 1-D array of token ids, ``n_new`` is not a whole
        number >= 0, or ``cache`` is not ``True``, ``False`` or an empty :class:`KVCache`
        with one entry per layer.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.decoder import Decoder, generate, parameter_shapes
    >>> rng = np.random.default_rng(0)
    >>> model = Decoder({k: rng.normal(size=s) for k, s in parameter_shapes(16, 8, 2).items()}, 2)
    >>> tokens, logits = generate(model, [3, 1, 4], n_new=5)
    >>> tokens_slow, logits_slow = generate(model, [3, 1, 4], n_new=5, cache=False)
    >>> tokens.shape, bool((tokens == tokens_slow).all()), bool(np.allclose(logits, logits_slow))
    ((8,), True, True)
    """
    _checks.instance(model, Decoder, "model", "a selfattn.decoder.Decoder")
    tokens = list(_checks.decoder_ids(prompt, model.vocab_size, name="prompt", batch=False))
    n_new = _checks.positive_int(n_new, "n_new", minimum=0)
    cache = _checks.generation_cache(cache, model.n_layers, KVCache)
    chosen_from = []  # the logits each new token was chosen from
    for step in range(n_new):
        if cache is None:
            logits = forward(model, tokens)[0][-1]  # the whole sequence again
        elif step == 0:
            logits = decode_step(model, tokens, cache)[-1]  # the prompt, once (prefill)
        else:
            logits = decode_step(model, tokens[-1:], cache)[-1]  # the newest token alone
        chosen_from.append(logits)
        tokens.append(int(np.argmax(logits)))  # greedy
    logits_out = np.array(chosen_from, dtype=np.float64).reshape(n_new, model.vocab_size)
    return np.array(tokens, dtype=np.int64), logits_out


@dataclass(frozen=True, eq=False)
class AttentionRecord:
    """One sequence run through the decoder: its tokens, every head's weights, its logits.

    The form :class:`selfattn.widgets.HeadExplorer` reads (``.tokens`` and ``.attentions``).

    Attributes
    ----------
    tokens : list of str
        The name of each token.
    ids : numpy.ndarray of int64, shape (n,)
    attentions : numpy.ndarray, shape (n_layers, n_heads, n, n)
        ``attentions[l, h, i, j]``: the weight token ``i`` puts on token ``j`` in head ``h`` of
        layer ``l`` (0 for ``j > i``).
    logits : numpy.ndarray, shape (n, vocab_size)
        Row ``i`` scores the token that follows token ``i``.
    """

    tokens: list
    ids: np.ndarray
    attentions: np.ndarray
    logits: np.ndarray


def attention_record(model: Decoder, ids, names=None) -> AttentionRecord:
    """Run one sequence and keep its tokens' names and every head's weights.

    With ``functools.partial(attention_record, model, names=names)`` as its ``encoder``,
    :class:`selfattn.widgets.HeadExplorer` shows the decoder's heads on typed sequences.

    Parameters
    ----------
    model : Decoder
    ids : str or array_like of int, shape (n,)
        Token ids, or a text of token names separated by spaces (each one of ``names``, or a
        token id written in digits when ``names`` is None).
    names : sequence of str, optional
        ``names[i]`` is the name of token ``i``, one distinct name without spaces per token of
        the vocabulary; default the ids in digits, ``"0"``, ``"1"``, ...

    Returns
    -------
    AttentionRecord
        ``tokens`` (list of str), ``ids`` (n,), ``attentions`` (n_layers, n_heads, n, n) and
        ``logits`` (n, vocab_size).

    Raises
    ------
    ValueError
        If ``names`` is not one distinct name without spaces per token of the vocabulary, a
        word of the text is not a token name, or ``ids`` is not a non-empty 1-D array of token
        ids.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.decoder import Decoder, attention_record, parameter_shapes
    >>> rng = np.random.default_rng(0)
    >>> model = Decoder({k: rng.normal(size=s) for k, s in parameter_shapes(4, 8, 2).items()}, 2)
    >>> record = attention_record(model, "a b c a b", names=["a", "b", "c", "d"])
    >>> record.tokens, record.ids.tolist(), record.attentions.shape
    (['a', 'b', 'c', 'a', 'b'], [0, 1, 2, 0, 1], (2, 2, 5, 5))
    >>> attention_record(model, [3, 0]).tokens
    ['3', '0']
    """
    _checks.instance(model, Decoder, "model", "a selfattn.decoder.Decoder")
    names = _checks.token_names(names, model.vocab_size)
    if isinstance(ids, str):
        ids = _checks.named_tokens(ids, names)  # "a b c" -> [0, 1, 2]
    ids = _checks.decoder_ids(ids, model.vocab_size, batch=False)  # (n,)
    logits, weights = forward(model, ids)
    attentions = np.stack(weights)  # (L, H, n, n)
    return AttentionRecord([names[i] for i in ids], ids, attentions, logits)
