"""Scaled dot-product attention in NumPy, one concept per function.

Conventions used across the course (see the notation page of the book):

* row vectors: a sequence of ``n`` token embeddings is a matrix ``X`` of shape
  ``(n, d_model)`` and a projection is ``Q = X @ W_q``;
* float64 by default; float32 inputs are accepted and stay float32;
* a boolean mask is ``True`` where a query **may attend** to a key (PyTorch's
  convention for ``torch.nn.functional.scaled_dot_product_attention``).

Inputs that contain NaN or infinity are rejected with a ``ValueError`` that
names the argument and the first bad position. The one exception is
``softmax``, which accepts ``-inf`` scores and treats them as masked positions
(weight exactly 0), because that is what ``-inf`` means in attention code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _checks

__all__ = [
    "softmax",
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "SelfAttention",
    "AttentionSteps",
    "init_matrix",
]


# --------------------------------------------------------------------------- #
# softmax
# --------------------------------------------------------------------------- #
def softmax(x, axis: int = -1, mask=None) -> np.ndarray:
    r"""Numerically stable softmax, optionally restricted to the positions a mask allows.

    .. math:: \operatorname{softmax}(x)_j = \frac{e^{x_j - m}}{\sum_i e^{x_i - m}},
              \quad m = \max_i x_i

    Subtracting the row maximum ``m`` changes nothing mathematically and keeps
    every exponent at most 0, so scores as large as ``1e30`` give finite,
    correct results.

    Parameters
    ----------
    x : array_like
        Scores. Integer input is converted to float64; float32 stays float32.
        ``-inf`` entries get weight 0. NaN and ``+inf`` are rejected.
    axis : int, default -1
        The axis along which the weights sum to one.
    mask : array_like of bool, optional
        ``True`` where a position may receive weight. It must broadcast to
        ``x.shape``. A slice in which every position is masked gets all-zero
        weights (never NaN): there is nothing to attend to.

    Returns
    -------
    numpy.ndarray
        Same shape and float dtype as ``x``; non-negative, and each slice
        along ``axis`` sums to 1 (or is all zeros if fully masked).

    Raises
    ------
    ValueError
        If ``x`` holds NaN or ``+inf``, if ``axis`` is out of range or has
        length 0, or if the mask is not boolean or does not broadcast to ``x.shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import softmax
    >>> softmax(np.array([1.0, 2.0, 3.0])).round(4)
    array([0.09  , 0.2447, 0.6652])
    >>> softmax(np.array([1e30, 0.0]))
    array([1., 0.])
    >>> softmax(np.array([[1.0, 2.0], [3.0, 4.0]]), mask=np.array([[True, False], [False, False]]))
    array([[1., 0.],
           [0., 0.]])
    """
    x = _checks.softmax_input(x, axis)  # a copy: _softmax works in place
    mask = _checks.mask(mask, x.shape, what="x")
    kept = ~np.isneginf(x)  # a score of -inf means "masked"
    return _softmax(x, axis=axis, mask=kept if mask is None else mask & kept)


def _softmax(scores, axis=-1, mask=None):
    """Softmax of float scores **in place**; masked positions get weight 0."""
    if mask is not None:
        np.copyto(scores, -np.inf, where=~mask)  # masked: weight exactly 0
    m = scores.max(axis=axis, keepdims=True)  # the row maxima (..., 1)
    _checks.scores_overflow(m, mask, axis)
    m[~np.isfinite(m)] = 0  # rows with nothing to attend to stay all zero
    scores -= m  # every exponent <= 0: no overflow
    np.exp(scores, out=scores)
    total = scores.sum(axis=axis, keepdims=True)
    total[total == 0] = 1
    scores /= total
    return scores


# --------------------------------------------------------------------------- #
# masks
# --------------------------------------------------------------------------- #
def causal_mask(n: int) -> np.ndarray:
    """Boolean mask that lets token ``i`` attend only to tokens ``0..i``.

    Parameters
    ----------
    n : int
        Sequence length, at least 1.

    Returns
    -------
    numpy.ndarray of bool, shape (n, n)
        ``True`` on and below the diagonal (may attend), ``False`` above it.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer.

    Examples
    --------
    >>> from selfattn import causal_mask
    >>> causal_mask(3)
    array([[ True, False, False],
           [ True,  True, False],
           [ True,  True,  True]])
    """
    n = _checks.positive_int(n, "n")
    return np.tril(np.ones((n, n), dtype=bool))


def padding_mask(lengths, n: int) -> np.ndarray:
    """Boolean mask that hides the padding at the end of each sequence in a batch.

    Parameters
    ----------
    lengths : array_like of int, shape (batch,)
        The real (unpadded) length of each sequence, each between 0 and ``n``.
    n : int
        The padded length shared by the batch.

    Returns
    -------
    numpy.ndarray of bool, shape (batch, 1, n)
        ``True`` for real key positions. The middle axis of size 1 broadcasts
        over the queries, so the mask applies to scores of shape
        ``(batch, n, n)``; ``MultiHeadAttention`` adds the head axis itself.

    Raises
    ------
    ValueError
        If ``lengths`` is not a 1-D list of integers in ``[0, n]``.

    Examples
    --------
    >>> from selfattn import padding_mask
    >>> padding_mask([2, 3], 3)
    array([[[ True,  True, False]],
    <BLANKLINE>
           [[ True,  True,  True]]])
    """
    n = _checks.positive_int(n, "n")
    lengths = _checks.lengths(lengths, n)  # (batch,)
    return (np.arange(n)[None, :] < lengths[:, None])[:, None, :]  # (batch, 1, n)


# --------------------------------------------------------------------------- #
# scaled dot-product attention
# --------------------------------------------------------------------------- #
def scaled_dot_product_attention(q, k, v, mask=None, scale=None):
    r"""Scaled dot-product attention, returning the output and the weights.

    .. math:: \operatorname{Attention}(Q, K, V) =
              \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
        Queries, one row per query token.
    k : array_like, shape (..., n_k, d_k)
        Keys, one row per key token.
    v : array_like, shape (..., n_k, d_v)
        Values, one row per key token.
    mask : array_like of bool, optional
        ``True`` where query ``i`` may attend to key ``j``; must broadcast to
        ``(..., n_q, n_k)``. A query that may attend to nothing gets all-zero
        weights and a zero output row.
    scale : float, optional
        Multiplies the scores; defaults to ``1 / sqrt(d_k)``.

    Returns
    -------
    output : numpy.ndarray, shape (..., n_q, d_v)
        Each row is the weighted sum of the value rows.
    weights : numpy.ndarray, shape (..., n_q, n_k)
        Attention weights; each row sums to 1 (0 if fully masked).

    Raises
    ------
    ValueError
        If an input is a torch tensor (use :mod:`selfattn.nn`), has fewer than
        2 dimensions or holds NaN or inf, if ``d_k`` differs between ``q`` and
        ``k``, if ``k`` and ``v`` have different lengths or no rows at all, if the
        leading (batch) dimensions differ, if the mask does not broadcast to the
        scores, or if ``scale`` is not a finite number.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import scaled_dot_product_attention
    >>> q = np.array([[1.0, 0.0]])
    >>> k = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> v = np.array([[10.0], [20.0]])
    >>> out, w = scaled_dot_product_attention(q, k, v)
    >>> w.round(4)
    array([[0.6698, 0.3302]])
    >>> out.round(3)
    array([[13.302]])
    """
    q, k, v, mask, scale = _checks.attention_inputs(q, k, v, mask, scale)
    scores = (q * scale) @ np.swapaxes(k, -1, -2)  # (..., n_q, n_k)
    weights = _softmax(scores, mask=mask)  # (..., n_q, n_k)
    output = weights @ v  # (..., n_q, d_v)
    return output, weights


# --------------------------------------------------------------------------- #
# a single-head self-attention layer
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class AttentionSteps:
    """Every intermediate of one self-attention call, for teaching.

    Attributes
    ----------
    x : (..., n, d_model) input embeddings
    q, k : (..., n, d_k) queries and keys
    v : (..., n, d_v) values
    scores : (..., n, n) raw dot products ``q @ k.T`` (before scaling)
    scale : float, the factor applied to the scores (``1/sqrt(d_k)``)
    weights : (..., n, n) attention weights after the (masked) softmax
    output : (..., n, d_v) the weighted sums of values
    """

    x: np.ndarray
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scores: np.ndarray
    scale: float
    weights: np.ndarray
    output: np.ndarray


def init_matrix(rng: np.random.Generator, d_in: int, d_out: int) -> np.ndarray:
    """A ``(d_in, d_out)`` matrix, uniform in ``[-1/sqrt(d_in), 1/sqrt(d_in)]`` (``torch.nn.Linear``'s default).

    Raises
    ------
    ValueError
        If ``rng`` is not a NumPy random generator, or ``d_in`` or ``d_out`` is not a
        positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.attention import init_matrix
    >>> W = init_matrix(np.random.default_rng(0), 4, 2)
    >>> W.shape, bool(np.abs(W).max() <= 0.5)
    ((4, 2), True)
    """
    rng = _checks.generator(rng)
    d_in, d_out = _checks.positive_int(d_in, "d_in"), _checks.positive_int(d_out, "d_out")
    bound = 1.0 / math.sqrt(d_in)
    return rng.uniform(-bound, bound, size=(d_in, d_out))


class SelfAttention:
    """One head of self-attention with learned projections ``W_q``, ``W_k``, ``W_v``.

    ``Q = X @ W_q``, ``K = X @ W_k``, ``V = X @ W_v``, then
    :func:`scaled_dot_product_attention`.

    Parameters
    ----------
    d_model : int
        Size of each input embedding.
    d_k : int
        Size of queries and keys.
    d_v : int, optional
        Size of values (and of the output); defaults to ``d_k``.
    seed : int, default 0
        Seed of the random initialisation, uniform in
        ``[-1/sqrt(d_model), 1/sqrt(d_model)]`` as in ``torch.nn.Linear``.

    Attributes
    ----------
    W_q, W_k : numpy.ndarray, shape (d_model, d_k)
    W_v : numpy.ndarray, shape (d_model, d_v)

    Raises
    ------
    ValueError
        If a size is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import SelfAttention
    >>> layer = SelfAttention(d_model=4, d_k=3, seed=0)
    >>> layer.W_q.shape, layer.W_v.shape
    ((4, 3), (4, 3))
    >>> x = np.ones((5, 4))
    >>> out, w = layer(x)
    >>> out.shape, w.shape
    ((5, 3), (5, 5))
    >>> steps = layer.steps(x)
    >>> steps.q.shape, steps.scores.shape
    ((5, 3), (5, 5))
    """

    def __init__(self, d_model: int, d_k: int, d_v: int | None = None, seed: int = 0):
        self.d_model = _checks.positive_int(d_model, "d_model")
        self.d_k = _checks.positive_int(d_k, "d_k")
        self.d_v = self.d_k if d_v is None else _checks.positive_int(d_v, "d_v")
        rng = np.random.default_rng(_checks.seed(seed))
        self.W_q = init_matrix(rng, self.d_model, self.d_k)  # (d_model, d_k)
        self.W_k = init_matrix(rng, self.d_model, self.d_k)  # (d_model, d_k)
        self.W_v = init_matrix(rng, self.d_model, self.d_v)  # (d_model, d_v)

    @classmethod
    def from_matrices(cls, W_q, W_k, W_v) -> "SelfAttention":
        """Build a layer from given matrices (e.g. hand-built or trained ones).

        Parameters
        ----------
        W_q, W_k : array_like, shape (d_model, d_k)
            Query and key projections.
        W_v : array_like, shape (d_model, d_v)
            Value projection.

        Returns
        -------
        SelfAttention
            A layer holding float copies of the matrices (float32 stays float32).

        Raises
        ------
        ValueError
            If the matrices are not 2-D, do not share ``d_model`` or if ``W_q``
            and ``W_k`` differ in ``d_k``.

        Examples
        --------
        >>> import numpy as np
        >>> from selfattn import SelfAttention
        >>> layer = SelfAttention.from_matrices(np.eye(2), np.eye(2), np.eye(2))
        >>> layer.d_model, layer.d_k, layer.d_v
        (2, 2, 2)
        """
        layer = cls.__new__(cls)
        layer.W_q, layer.W_k, layer.W_v = _checks.projection_matrices(W_q, W_k, W_v)  # copies
        layer.d_model, layer.d_k = layer.W_q.shape
        layer.d_v = layer.W_v.shape[1]
        return layer

    def steps(self, x, mask=None, scale=None) -> AttentionSteps:
        """Run the layer and return every intermediate (see :class:`AttentionSteps`).

        Parameters
        ----------
        x : array_like, shape (..., n, d_model)
            Token embeddings, one row per token. The weights are used in the
            dtype of ``x``, so float32 input stays float32.
        mask : array_like of bool, optional
            ``True`` where token ``i`` may attend to token ``j``; must broadcast
            to ``(..., n, n)``.
        scale : float, optional
            Multiplies the scores; defaults to ``1 / sqrt(d_k)``.

        Returns
        -------
        AttentionSteps
            ``x``, ``q``, ``k``, ``v``, the raw ``scores`` (before scaling), the
            ``scale`` used, the ``weights`` and the ``output``.

        Raises
        ------
        ValueError
            If ``x`` has fewer than 2 dimensions, no token (``n = 0``), a last
            dimension other than ``d_model``, or holds NaN or inf, or if ``mask``
            or ``scale`` is invalid (see :func:`scaled_dot_product_attention`).

        Examples
        --------
        >>> import numpy as np
        >>> from selfattn import SelfAttention
        >>> layer = SelfAttention.from_matrices(np.eye(2), np.eye(2), np.eye(2))
        >>> s = layer.steps(np.array([[1.0, 0.0], [0.0, 1.0]]))
        >>> s.scores
        array([[1., 0.],
               [0., 1.]])
        >>> round(s.scale, 4), s.weights.round(3)[0]
        (0.7071, array([0.67, 0.33]))
        """
        x = _checks.layer_input(x, self.d_model)  # (..., n, d_model)
        q, k, v = self._project(x)  # (..., n, d_k), (..., n, d_k), (..., n, d_v)
        output, weights = scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
        scores = q @ np.swapaxes(k, -1, -2)  # (..., n, n) raw scores, before scaling
        used_scale = _checks.scale(scale, self.d_k)
        return AttentionSteps(x, q, k, v, scores, used_scale, weights, output)

    def _project(self, x):
        """``x`` checked, then ``Q = X W_q``, ``K = X W_k``, ``V = X W_v`` (in the dtype of ``x``)."""
        x = _checks.layer_input(x, self.d_model)  # (..., n, d_model)
        W_q, W_k, W_v = (W.astype(x.dtype, copy=False) for W in (self.W_q, self.W_k, self.W_v))
        return x @ W_q, x @ W_k, x @ W_v

    def __call__(self, x, mask=None, scale=None):
        """Apply the layer: ``(output, weights)`` of shapes ``(..., n, d_v)`` and ``(..., n, n)``.

        Parameters
        ----------
        x, mask, scale
            As in :meth:`steps`.

        Returns
        -------
        output : numpy.ndarray, shape (..., n, d_v)
        weights : numpy.ndarray, shape (..., n, n)

        Raises
        ------
        ValueError
            As in :meth:`steps`.

        Examples
        --------
        >>> import numpy as np
        >>> from selfattn import SelfAttention
        >>> out, w = SelfAttention(d_model=4, d_k=2, d_v=3)(np.ones((2, 5, 4), dtype=np.float32))
        >>> out.shape, w.shape, out.dtype
        ((2, 5, 3), (2, 5, 5), dtype('float32'))
        """
        q, k, v = self._project(x)  # (..., n, d_k), (..., n, d_k), (..., n, d_v)
        return scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)

    def __repr__(self) -> str:
        return f"SelfAttention(d_model={self.d_model}, d_k={self.d_k}, d_v={self.d_v})"


# --------------------------------------------------------------------------- #
# multi-query and grouped-query attention
# --------------------------------------------------------------------------- #
__all__ += ["repeat_kv", "grouped_query_attention"]


def repeat_kv(x, n_rep: int) -> np.ndarray:
    """Repeat each key/value head ``n_rep`` times: ``(..., g, n, d)`` to ``(..., g * n_rep, n, d)``.

    Head ``j`` of the result is head ``j // n_rep`` of ``x``: the copies of one head
    sit next to each other (``0, 0, 1, 1``, not ``0, 1, 0, 1``). This is
    ``torch.repeat_interleave(x, n_rep, dim=-3)`` and Hugging Face's ``repeat_kv``
    (``transformers/models/llama/modeling_llama.py``).

    Parameters
    ----------
    x : array_like, shape (..., n_kv_heads, n, d)
        Keys or values, one block of rows per key/value head.
    n_rep : int
        How many query heads share each key/value head, at least 1.

    Returns
    -------
    numpy.ndarray, shape (..., n_kv_heads * n_rep, n, d)
        A new array (``n_rep = 1`` returns ``x`` itself, as a float array).

    Raises
    ------
    ValueError
        If ``x`` is a torch tensor, does not hold real numbers or has fewer than 3
        dimensions, or if ``n_rep`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.attention import repeat_kv
    >>> k = np.array([[[1.0]], [[2.0]]])         # (2 heads, 1 row, d = 1)
    >>> repeat_kv(k, 2)[:, 0, 0]                  # heads 0, 0, 1, 1
    array([1., 1., 2., 2.])
    """
    x, n_rep = _checks.kv_heads_input(x, n_rep)  # (..., g, n, d)
    return np.repeat(x, n_rep, axis=-3)  # (..., g * n_rep, n, d)


def grouped_query_attention(q, k, v, mask=None, scale=None):
    r"""Grouped-query attention: groups of query heads share one key/value head.

    With ``h`` query heads and ``g`` key/value heads (``g`` divides ``h``), query
    head ``i`` uses key/value head ``j(i) = floor(i / (h / g))``:

    .. math:: \operatorname{head}_i = \operatorname{softmax}\!\left(
              \frac{Q_i K_{j(i)}^\top}{\sqrt{d_k}}\right) V_{j(i)},
              \qquad j(i) = \left\lfloor \frac{i}{h / g} \right\rfloor

    so heads ``0 .. h/g - 1`` share key/value head 0, and so on. ``g = 1`` is
    multi-query attention (Shazeer 2019, https://arxiv.org/abs/1911.02150);
    ``g = h`` is ordinary multi-head attention; in between is grouped-query
    attention (Ainslie et al. 2023, https://arxiv.org/abs/2305.13245). This is the
    grouping of ``torch.nn.functional.scaled_dot_product_attention(...,
    enable_gqa=True)``, which repeats ``k`` and ``v`` with ``repeat_interleave``
    along the head axis, and of Hugging Face's ``repeat_kv``
    (``transformers/models/llama/modeling_llama.py``). Here the key/value heads are
    repeated (:func:`repeat_kv`) and :func:`scaled_dot_product_attention` does the
    rest. What the grouping saves is memory: the keys and values a decoder keeps
    (its cache, :func:`selfattn.sizing.kv_cache_bytes`) hold ``g`` heads, not ``h``;
    the copy made here only keeps the code close to the formula.

    Parameters
    ----------
    q : array_like, shape (..., n_heads, n_q, d_k)
        Queries, one block of rows per query head.
    k : array_like, shape (..., n_kv_heads, n_k, d_k)
        Keys; ``n_heads`` must be a multiple of ``n_kv_heads``.
    v : array_like, shape (..., n_kv_heads, n_k, d_v)
        Values, one row per key.
    mask : array_like of bool, optional
        ``True`` where query ``i`` may attend to key ``j``, as in
        :func:`scaled_dot_product_attention`; must broadcast to
        ``(..., n_heads, n_q, n_k)`` (an ``(n_q, n_k)`` mask applies to every head).
        A query that may attend to nothing gets zero weights and a zero output row.
    scale : float, optional
        Multiplies the scores; defaults to ``1 / sqrt(d_k)``.

    Returns
    -------
    output : numpy.ndarray, shape (..., n_heads, n_q, d_v)
    weights : numpy.ndarray, shape (..., n_heads, n_q, n_k)
        One matrix of attention weights per query head.

    Raises
    ------
    ValueError
        If an input is a torch tensor, has fewer than 3 dimensions or holds NaN or
        inf; if ``d_k`` differs between ``q`` and ``k``, ``k`` and ``v`` differ in
        rows or heads, the leading (batch) dimensions differ, or ``n_heads`` is not
        a multiple of ``n_kv_heads`` (each message gives the shapes); or if the mask
        or the scale is invalid (see :func:`scaled_dot_product_attention`).

    Examples
    --------
    Four query heads, two key/value heads: heads 0 and 1 read key/value head 0.

    >>> import numpy as np
    >>> from selfattn.attention import grouped_query_attention
    >>> q = np.ones((4, 1, 2))                       # (n_heads, n_q, d_k)
    >>> k = np.zeros((2, 3, 2))                      # (n_kv_heads, n_k, d_k)
    >>> v = np.stack([np.full((3, 1), 10.0), np.full((3, 1), 20.0)])  # (2, 3, 1)
    >>> out, w = grouped_query_attention(q, k, v)
    >>> out[:, 0, 0]
    array([10., 10., 20., 20.])
    >>> w.shape
    (4, 1, 3)
    """
    q, k, v, n_rep = _checks.grouped_attention_inputs(q, k, v)
    k = repeat_kv(k, n_rep)  # (..., h, n_k, d_k): head i reads i // n_rep
    v = repeat_kv(v, n_rep)  # (..., h, n_k, d_v)
    return scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
