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

__all__ = [
    "softmax",
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "SelfAttention",
    "AttentionSteps",
]


# --------------------------------------------------------------------------- #
# input checks shared by every public function
# --------------------------------------------------------------------------- #
def _as_float_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a float array: float32 and float64 are kept, anything else becomes float64."""
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    """Raise a ValueError naming the first NaN or infinite entry of ``arr``."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf); "
            f"the first is {arr[idx]} at index {idx}"
        )


def _check_ndim(arr: np.ndarray, name: str, min_ndim: int, layout: str) -> None:
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions {layout}, "
            f"got shape {arr.shape}"
        )


def _check_mask(mask, target_shape: tuple, what: str = "scores") -> np.ndarray:
    """Check that ``mask`` is boolean and broadcasts to ``target_shape`` without enlarging it."""
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise ValueError(
            f"mask must be boolean (True = may attend), got dtype {mask.dtype}; "
            "an additive float mask is not accepted, convert it with `mask = additive == 0`"
        )
    try:
        full = np.broadcast_shapes(mask.shape, target_shape)
    except ValueError:
        full = None
    if full != tuple(target_shape):
        raise ValueError(
            f"mask of shape {mask.shape} does not broadcast to the {what} shape "
            f"{tuple(target_shape)}"
        )
    return np.broadcast_to(mask, target_shape)


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
    x = _as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("softmax needs at least one axis, got a scalar (shape ())")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for x of shape {x.shape}")
    if x.shape[axis] == 0:
        raise ValueError(f"softmax over an empty axis: axis {axis} of x with shape {x.shape} has length 0")
    if np.isnan(x).any() or np.isposinf(x).any():
        _check_finite(np.where(np.isneginf(x), 0.0, x), "x")
    if mask is not None:
        mask = _check_mask(mask, x.shape, what="x")
        x = np.where(mask, x, -np.inf).astype(x.dtype, copy=False)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0).astype(x.dtype, copy=False)  # fully masked rows
    e = np.exp(x - m)  # every exponent <= 0: no overflow
    total = np.sum(e, axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


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
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
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
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    lengths = np.asarray(lengths)
    if lengths.ndim != 1:
        raise ValueError(f"lengths must be 1-D (one length per sequence), got shape {lengths.shape}")
    if lengths.size and not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    bad = (lengths < 0) | (lengths > n)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"lengths[{i}] = {int(lengths[i])} is outside [0, n] = [0, {n}]")
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
        If an input has fewer than 2 dimensions, holds NaN or inf, if ``d_k``
        differs between ``q`` and ``k``, if ``k`` and ``v`` have different
        lengths or no rows at all, if the leading (batch) dimensions differ, if the mask does
        not broadcast to the scores, or if ``scale`` is not a finite number.

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
    q = _as_float_array(q, "q")
    k = _as_float_array(k, "k")
    v = _as_float_array(v, "v")
    _check_ndim(q, "q", 2, "(..., n_q, d_k)")
    _check_ndim(k, "k", 2, "(..., n_k, d_k)")
    _check_ndim(v, "v", 2, "(..., n_k, d_v)")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dimension d_k, got q {q.shape} "
            f"(d_k={q.shape[-1]}) and k {k.shape} (d_k={k.shape[-1]})"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of rows n_k (one value per key), "
            f"got k {k.shape} (n_k={k.shape[-2]}) and v {v.shape} (n_k={v.shape[-2]})"
        )
    if k.shape[-2] == 0:
        raise ValueError(f"k and v need at least one row (n_k >= 1) to attend to, got k {k.shape} and v {v.shape}")
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(
            f"q, k and v must have the same leading (batch/head) dimensions, got "
            f"q {q.shape}, k {k.shape}, v {v.shape}"
        )
    for arr, name in ((q, "q"), (k, "k"), (v, "v")):
        _check_finite(arr, name)
    d_k = q.shape[-1]
    if scale is None:
        scale = 1.0 / math.sqrt(d_k)
    elif isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number, got {scale!r}")
    dtype = np.result_type(q, k, v)
    with np.errstate(over="ignore", invalid="ignore"):
        scores = (q @ np.swapaxes(k, -1, -2)) * dtype.type(scale)  # (..., n_q, n_k)
    if not np.isfinite(scores).all():  # finite inputs, but the products overflow the dtype
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(scores))[0])
        raise ValueError(
            f"the scores q @ k^T * scale overflow {dtype} (first at index {idx}); "
            f"largest |q| = {float(np.abs(q).max()):.3g}, largest |k| = {float(np.abs(k).max()):.3g}, "
            f"scale = {float(scale):.3g}: rescale q or k"
        )
    if mask is not None:
        mask = _check_mask(mask, scores.shape)
    weights = softmax(scores, axis=-1, mask=mask)  # (..., n_q, n_k)
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


def _init_weight(rng: np.random.Generator, d_in: int, d_out: int) -> np.ndarray:
    """Uniform(-1/sqrt(d_in), 1/sqrt(d_in)), PyTorch's default for ``nn.Linear``."""
    bound = 1.0 / math.sqrt(d_in)
    return rng.uniform(-bound, bound, size=(d_in, d_out))


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_input(x, d_model: int) -> np.ndarray:
    x = _as_float_array(x, "x")
    _check_ndim(x, "x", 2, "(..., n, d_model)")
    if x.shape[-1] != d_model:
        raise ValueError(
            f"x has last dimension {x.shape[-1]} but the layer expects d_model={d_model} "
            f"(x has shape {x.shape})"
        )
    _check_finite(x, "x")
    return x


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
        self.d_model = _check_positive_int(d_model, "d_model")
        self.d_k = _check_positive_int(d_k, "d_k")
        self.d_v = self.d_k if d_v is None else _check_positive_int(d_v, "d_v")
        rng = np.random.default_rng(seed)
        self.W_q = _init_weight(rng, self.d_model, self.d_k)
        self.W_k = _init_weight(rng, self.d_model, self.d_k)
        self.W_v = _init_weight(rng, self.d_model, self.d_v)

    @classmethod
    def from_weights(cls, W_q, W_k, W_v) -> "SelfAttention":
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
        >>> layer = SelfAttention.from_weights(np.eye(2), np.eye(2), np.eye(2))
        >>> layer.d_model, layer.d_k, layer.d_v
        (2, 2, 2)
        """
        mats = {}
        for name, m in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v)):
            m = _as_float_array(m, name)
            if m.ndim != 2:
                raise ValueError(f"{name} must be 2-D (d_model, d_out), got shape {m.shape}")
            _check_finite(m, name)
            mats[name] = m
        if not (mats["W_q"].shape[0] == mats["W_k"].shape[0] == mats["W_v"].shape[0]):
            raise ValueError(
                "W_q, W_k and W_v must have the same number of rows d_model, got "
                f"{mats['W_q'].shape}, {mats['W_k'].shape}, {mats['W_v'].shape}"
            )
        if mats["W_q"].shape[1] != mats["W_k"].shape[1]:
            raise ValueError(
                f"W_q and W_k must have the same number of columns d_k, got "
                f"{mats['W_q'].shape} and {mats['W_k'].shape}"
            )
        layer = cls.__new__(cls)
        layer.d_model, layer.d_k = mats["W_q"].shape
        layer.d_v = mats["W_v"].shape[1]
        layer.W_q, layer.W_k, layer.W_v = mats["W_q"], mats["W_k"], mats["W_v"]
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
            If ``x`` has fewer than 2 dimensions, a last dimension other than
            ``d_model``, or holds NaN or inf, or if ``mask`` or ``scale`` is
            invalid (see :func:`scaled_dot_product_attention`).

        Examples
        --------
        >>> import numpy as np
        >>> from selfattn import SelfAttention
        >>> layer = SelfAttention.from_weights(np.eye(2), np.eye(2), np.eye(2))
        >>> s = layer.steps(np.array([[1.0, 0.0], [0.0, 1.0]]))
        >>> s.scores
        array([[1., 0.],
               [0., 1.]])
        >>> round(s.scale, 4), s.weights.round(3)[0]
        (0.7071, array([0.67, 0.33]))
        """
        x = _check_input(x, self.d_model)  # (..., n, d_model)
        # the weights follow the input's dtype, so float32 input stays float32
        q = x @ self.W_q.astype(x.dtype, copy=False)  # (..., n, d_k)
        k = x @ self.W_k.astype(x.dtype, copy=False)  # (..., n, d_k)
        v = x @ self.W_v.astype(x.dtype, copy=False)  # (..., n, d_v)
        output, weights = scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
        scores = q @ np.swapaxes(k, -1, -2)  # (..., n, n)
        used_scale = 1.0 / math.sqrt(self.d_k) if scale is None else float(scale)
        return AttentionSteps(x, q, k, v, scores, used_scale, weights, output)

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
        s = self.steps(x, mask=mask, scale=scale)
        return s.output, s.weights

    def __repr__(self) -> str:
        return f"SelfAttention(d_model={self.d_model}, d_k={self.d_k}, d_v={self.d_v})"
