"""Multi-head attention: split the model dimension into heads, attend, merge back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks
from .attention import init_matrix, scaled_dot_product_attention

__all__ = ["split_heads", "merge_heads", "check_divisible", "MultiHeadAttention", "MultiHeadSteps"]


def check_divisible(d_model: int, n_heads: int) -> int:
    """Return the head size ``d_model // n_heads``, or explain why there is none.

    Parameters
    ----------
    d_model : int
        Size of each token's embedding.
    n_heads : int
        Number of heads.

    Returns
    -------
    int
        ``d_head = d_model // n_heads``, the number of columns each head gets.

    Raises
    ------
    ValueError
        If either number is not a positive integer or ``d_model`` is not
        divisible by ``n_heads``; the message names both numbers.

    Examples
    --------
    >>> from selfattn.heads import check_divisible
    >>> check_divisible(768, 12)
    64
    >>> check_divisible(10, 3)
    Traceback (most recent call last):
    ...
    ValueError: d_model=10 is not divisible by n_heads=3 (10 / 3 = 3.33...); every head must get the same whole number of columns: try d_model=9 or 12, or a number of heads that divides 10
    """
    return _checks.head_size(d_model, n_heads)


def split_heads(x, n_heads: int) -> np.ndarray:
    """Split the last axis into ``n_heads`` heads: ``(..., n, d)`` to ``(..., h, n, d/h)``.

    Head ``i`` gets columns ``i*d/h`` to ``(i+1)*d/h``. It is a reshape to
    ``(..., n, h, d/h)`` followed by swapping the token and head axes; reshaping
    straight to ``(..., h, n, d/h)`` would mix tokens across heads.

    Parameters
    ----------
    x : array_like, shape (..., n, d)
    n_heads : int
        Must divide ``d``.

    Returns
    -------
    numpy.ndarray, shape (..., n_heads, n, d // n_heads)

    Raises
    ------
    ValueError
        If ``x`` has fewer than 2 dimensions or holds NaN or inf, or ``d`` is not
        divisible by ``n_heads``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import split_heads
    >>> x = np.arange(12).reshape(3, 4)   # 3 tokens, d = 4
    >>> split_heads(x, 2)[0]              # head 0: the first two columns
    array([[0., 1.],
           [4., 5.],
           [8., 9.]])
    """
    x = _checks.finite_input(x, "x", 2, "(..., n, d)")
    *lead, n, d = x.shape
    d_head = check_divisible(d, n_heads)
    x = x.reshape(*lead, n, n_heads, d_head)  # (..., n, h, d_head)
    return np.swapaxes(x, -3, -2)  # (..., h, n, d_head)


def merge_heads(x) -> np.ndarray:
    """Inverse of :func:`split_heads`: ``(..., h, n, d_head)`` to ``(..., n, h*d_head)``.

    Parameters
    ----------
    x : array_like, shape (..., h, n, d_head)
        One block of columns per head.

    Returns
    -------
    numpy.ndarray, shape (..., n, h * d_head)
        The heads side by side again, head 0's columns first.

    Raises
    ------
    ValueError
        If ``x`` has fewer than 3 dimensions or holds NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import merge_heads, split_heads
    >>> x = np.arange(24.0).reshape(2, 3, 4)
    >>> np.array_equal(merge_heads(split_heads(x, 2)), x)
    True
    """
    x = _checks.finite_input(x, "x", 3, "(..., h, n, d_head)")
    *lead, h, n, d_head = x.shape
    x = np.swapaxes(x, -3, -2)  # (..., n, h, d_head)
    return x.reshape(*lead, n, h * d_head)  # (..., n, d_model)


@dataclass(frozen=True)
class MultiHeadSteps:
    """Every intermediate of one multi-head call.

    q, k, v : (..., h, n, d_head) per-head projections;
    weights : (..., h, n, n); heads : (..., h, n, d_head) per-head outputs;
    concat : (..., n, d_model) merged heads; output : (..., n, d_model) after ``W_o``.
    """

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    weights: np.ndarray
    heads: np.ndarray
    concat: np.ndarray
    output: np.ndarray


class MultiHeadAttention:
    """Multi-head self-attention without biases.

    ``Q = X @ W_q`` is split into ``n_heads`` heads of size
    ``d_head = d_model / n_heads``; each head runs scaled dot-product
    attention; the heads are merged and projected by ``W_o``.

    Parameters
    ----------
    d_model : int
        Size of each token's embedding (and of the output).
    n_heads : int
        Number of heads; must divide ``d_model``.
    seed : int, default 0
        Seed of the random initialisation, uniform in
        ``[-1/sqrt(d_model), 1/sqrt(d_model)]`` as in ``torch.nn.Linear``.

    Attributes
    ----------
    W_q, W_k, W_v, W_o : numpy.ndarray, shape (d_model, d_model)
    d_head : int

    Raises
    ------
    ValueError
        If ``d_model`` is not divisible by ``n_heads`` (the message names both).

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import MultiHeadAttention
    >>> mha = MultiHeadAttention(d_model=8, n_heads=2, seed=0)
    >>> out, w = mha(np.ones((5, 8)))
    >>> out.shape, w.shape
    ((5, 8), (2, 5, 5))
    >>> MultiHeadAttention(d_model=10, n_heads=3)
    Traceback (most recent call last):
    ...
    ValueError: d_model=10 is not divisible by n_heads=3 (10 / 3 = 3.33...); every head must get the same whole number of columns: try d_model=9 or 12, or a number of heads that divides 10
    """

    def __init__(self, d_model: int, n_heads: int, seed: int = 0):
        self.d_head = _checks.head_size(d_model, n_heads)
        self.d_model, self.n_heads = int(d_model), int(n_heads)
        rng = np.random.default_rng(_checks.seed(seed))
        self.W_q = init_matrix(rng, self.d_model, self.d_model)  # (d_model, d_model)
        self.W_k = init_matrix(rng, self.d_model, self.d_model)  # (d_model, d_model)
        self.W_v = init_matrix(rng, self.d_model, self.d_model)  # (d_model, d_model)
        self.W_o = init_matrix(rng, self.d_model, self.d_model)  # (d_model, d_model)

    def steps(self, x, mask=None) -> MultiHeadSteps:
        """Run the layer and return every intermediate (see :class:`MultiHeadSteps`).

        ``mask`` broadcasts to ``(..., n, n)``, the same for every head; the
        head axis is added here, so masks from :func:`~selfattn.causal_mask`
        and :func:`~selfattn.padding_mask` work unchanged.

        Parameters
        ----------
        x : array_like, shape (..., n, d_model)
            Token embeddings. The weights are used in the dtype of ``x``, so
            float32 input stays float32.
        mask : array_like of bool, optional
            ``True`` where token ``i`` may attend to token ``j``.

        Returns
        -------
        MultiHeadSteps
            Per-head ``q``, ``k``, ``v``, ``weights`` and ``heads``, the merged
            ``concat`` and the ``output``.

        Raises
        ------
        ValueError
            If ``x`` has fewer than 2 dimensions, no token, a last dimension other
            than ``d_model`` or holds NaN or inf, or if ``mask`` is not boolean or
            does not broadcast to ``(..., n, n)``.

        Examples
        --------
        >>> import numpy as np
        >>> from selfattn import MultiHeadAttention, causal_mask
        >>> s = MultiHeadAttention(d_model=6, n_heads=3).steps(np.ones((4, 6)), mask=causal_mask(4))
        >>> s.q.shape, s.weights.shape, s.concat.shape
        ((3, 4, 2), (3, 4, 4), (4, 6))
        >>> s.weights[0, 1]
        array([0.5, 0.5, 0. , 0. ])
        """
        x = _checks.layer_input(x, self.d_model)  # (..., n, d_model)
        *lead, n, _ = x.shape
        mask = _checks.mask(mask, (*lead, n, n))  # (..., n, n)
        if mask is not None:  # (..., 1, n, n): one mask for every head
            mask = np.broadcast_to(mask, (*lead, n, n))[..., None, :, :]
        W_q, W_k, W_v, W_o = self._matrices(x.dtype)  # float32 stays float32
        q = split_heads(x @ W_q, self.n_heads)  # (..., h, n, d_head)
        k = split_heads(x @ W_k, self.n_heads)  # (..., h, n, d_head)
        v = split_heads(x @ W_v, self.n_heads)  # (..., h, n, d_head)
        # heads (..., h, n, d_head), weights (..., h, n, n)
        heads, weights = scaled_dot_product_attention(q, k, v, mask=mask)
        concat = merge_heads(heads)  # (..., n, d_model)
        output = concat @ W_o  # (..., n, d_model)
        return MultiHeadSteps(q, k, v, weights, heads, concat, output)

    def _matrices(self, dtype):
        """``W_q``, ``W_k``, ``W_v``, ``W_o`` in ``dtype``."""
        return tuple(getattr(self, n).astype(dtype, copy=False) for n in ("W_q", "W_k", "W_v", "W_o"))

    def __call__(self, x, mask=None):
        """Apply the layer: ``(output, weights)`` of shapes ``(..., n, d_model)`` and ``(..., h, n, n)``.

        Parameters
        ----------
        x, mask
            As in :meth:`steps`.

        Returns
        -------
        output : numpy.ndarray, shape (..., n, d_model)
        weights : numpy.ndarray, shape (..., h, n, n)
            One attention matrix per head.

        Raises
        ------
        ValueError
            As in :meth:`steps`.

        Examples
        --------
        >>> import numpy as np
        >>> from selfattn import MultiHeadAttention, padding_mask
        >>> out, w = MultiHeadAttention(d_model=4, n_heads=2)(np.ones((2, 3, 4)), mask=padding_mask([3, 1], 3))
        >>> out.shape, w.shape
        ((2, 3, 4), (2, 2, 3, 3))
        >>> w[1, 0, 2]
        array([1., 0., 0.])
        """
        s = self.steps(x, mask=mask)
        return s.output, s.weights

    def __repr__(self) -> str:
        return f"MultiHeadAttention(d_model={self.d_model}, n_heads={self.n_heads})"
