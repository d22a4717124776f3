r"""Memory-efficient attention: an online softmax over blocks of keys.

Plain attention stores the whole ``(n, n)`` weight matrix of every head. For
16,384 tokens and 12 heads in float32 that is 12 GiB. This module computes the
same output while holding only one ``(block_q, block_k)`` tile of scores per head
at a time: the idea of the *online normalizer* for softmax
(Milakov & Gimelshein, 2018), used for attention by Rabe & Staats (2021) and
by FlashAttention (Dao et al., 2022), which does the same tiling inside a GPU
kernel.

For one query row the algorithm keeps three running quantities while it walks
over blocks of keys ``j``:

* ``m``: the largest score seen so far;
* ``l``: the sum of ``exp(score - m)`` over the keys seen so far;
* ``acc``: the sum of ``exp(score - m) * v`` over the keys seen so far.

When a new block raises the maximum from ``m`` to ``m_new``, the old sums are
rescaled by ``exp(m - m_new)``, so they stay as if computed with ``m_new`` all
along. After the last block, ``acc / l`` is exactly
``softmax(scores) @ v``. A query whose keys are all masked keeps ``l = 0`` and
gets a zero output row, as in :func:`selfattn.scaled_dot_product_attention`.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks

__all__ = ["blockwise_attention", "online_softmax_steps"]


def blockwise_attention(q, k, v, mask=None, scale=None,
                        causal: bool = False, block_q: int = 1024,
                        block_k: int = 1024) -> np.ndarray:
    r"""Scaled dot-product attention computed tile by tile, without the ``(n_q, n_k)`` matrix.

    Returns the same output as :func:`selfattn.scaled_dot_product_attention`
    (up to rounding) but never stores more than one
    ``(..., block_q, block_k)`` tile of scores.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
    k : array_like, shape (..., n_k, d_k)
    v : array_like, shape (..., n_k, d_v)
    mask : array_like of bool, optional
        ``True`` where query ``i`` may attend to key ``j``; must broadcast to
        ``(..., n_q, n_k)``. It is read one tile at a time through a broadcast
        view, so a ``(n_q, n_k)`` mask is never copied per head.
    scale : float, optional
        Multiplies the scores; defaults to ``1 / sqrt(d_k)``.
    causal : bool, default False
        Let query ``i`` attend only to keys ``0..i`` (combined with ``mask`` by
        "and"). Tiles entirely above the diagonal are skipped, not computed.
    block_q, block_k : int, default 1024
        Tile sizes. Memory grows with ``block_q * block_k``; the result does not
        depend on them.

    Returns
    -------
    numpy.ndarray, shape (..., n_q, d_v)
        Same dtype as the inputs (float32 stays float32).

    Raises
    ------
    ValueError
        For the same invalid inputs as :func:`selfattn.scaled_dot_product_attention`,
        and if a block size is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import scaled_dot_product_attention
    >>> from selfattn.blockwise import blockwise_attention
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(3, 2, 10, 4))
    >>> plain, _ = scaled_dot_product_attention(q, k, v)
    >>> np.allclose(blockwise_attention(q, k, v, block_q=3, block_k=4), plain)
    True
    """
    q, k, v, mask, scale = _checks.attention_inputs(q, k, v, mask, scale)
    causal = _checks.flag(causal, "causal")
    block_q = _checks.positive_int(block_q, "block_q")
    block_k = _checks.positive_int(block_k, "block_k")
    *lead, n_q, d_k = q.shape
    n_k, d_v = v.shape[-2], v.shape[-1]
    dt = q.dtype
    if mask is not None:
        mask = np.broadcast_to(mask, (*lead, n_q, n_k))  # a view, no copy
    kT = np.swapaxes(k, -1, -2)  # (..., d_k, n_k), a view
    out = np.empty((*lead, n_q, d_v), dtype=dt)  # (..., n_q, d_v)

    for i0 in range(0, n_q, block_q):
        i1 = min(i0 + block_q, n_q)
        q_blk = q[..., i0:i1, :] * dt.type(scale)  # (..., bq, d_k)
        m = np.full((*lead, i1 - i0, 1), -np.inf, dt)  # running max
        l = np.zeros((*lead, i1 - i0, 1), dt)  # running sum of exp
        acc = np.zeros((*lead, i1 - i0, d_v), dt)  # running sum of exp * v
        for j0 in range(0, n_k, block_k):
            if causal and j0 > i1 - 1:
                break  # every later tile lies above the diagonal
            j1 = min(j0 + block_k, n_k)
            s = q_blk @ kT[..., :, j0:j1]  # (..., bq, bk) scaled scores
            allowed = None
            if mask is not None:
                allowed = mask[..., i0:i1, j0:j1]  # (..., bq, bk)
            if causal and j1 - 1 > i0:  # the tile crosses the diagonal
                # (bq, bk): query i may see key j when j <= i
                tri = np.arange(i0, i1)[:, None] >= np.arange(j0, j1)
                allowed = tri if allowed is None else allowed & tri
            if allowed is not None:
                np.copyto(s, -np.inf, where=~allowed)
            s_max = s.max(axis=-1, keepdims=True)  # (..., bq, 1)
            _checks.scores_overflow(s_max, allowed)
            m_new = np.maximum(m, s_max)  # (..., bq, 1)
            # a row that has seen no key yet keeps m = -inf: subtract 0
            m_safe = np.where(np.isfinite(m_new), m_new, 0).astype(dt)
            s -= m_safe
            np.exp(s, out=s)  # p = exp(s - m_new); masked entries are 0
            correction = np.exp(m - m_safe)  # rescales the old sums
            l *= correction
            l += s.sum(axis=-1, keepdims=True)
            acc *= correction
            acc += s @ v[..., j0:j1, :]  # (..., bq, d_v)
            m = m_new
        # (..., bq, d_v); a query with no key to attend to gets zeros
        out[..., i0:i1, :] = acc / np.where(l > 0, l, 1)
    return out


def online_softmax_steps(scores, block: int) -> list[dict]:
    """The running maximum and sum of the online softmax of one row, block by block (for teaching).

    Parameters
    ----------
    scores : array_like, shape (n,)
        One row of scores.
    block : int
        Number of scores read per step.

    Returns
    -------
    list of dict
        One dict per block with ``block`` (the scores read), ``m`` (running
        max), ``correction`` (``exp(m_old - m)``, by which the old sum is
        multiplied) and ``l`` (running sum of ``exp(score - m)``). After the
        last step, ``exp(scores - m) / l`` is the softmax of the row.

    Raises
    ------
    ValueError
        If ``scores`` is not 1-D, is empty, holds NaN or inf, or ``block`` is not a positive integer.

    Examples
    --------
    >>> from selfattn.blockwise import online_softmax_steps
    >>> steps = online_softmax_steps([1.0, 3.0, 2.0, 0.0], block=2)
    >>> [(s["m"], round(s["l"], 4)) for s in steps]
    [(3.0, 1.1353), (3.0, 1.553)]
    """
    x = _checks.vector(scores, "scores")  # (n,): one row, at least one entry, finite
    block = _checks.positive_int(block, "block")
    m, l, steps = -math.inf, 0.0, []
    for j0 in range(0, len(x), block):
        b = x[j0:j0 + block]
        m_new = max(m, float(b.max()))
        correction = math.exp(m - m_new) if math.isfinite(m) else 0.0
        l = l * correction + float(np.exp(b - m_new).sum())
        steps.append({"block": b.tolist(), "m": m_new, "correction": correction, "l": l})
        m = m_new
    return steps
