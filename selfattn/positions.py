r"""Where is each word? Position schemes for self-attention, in NumPy.

Self-attention alone cannot see word order (chapter 1). Four ways models give it positions:

* :func:`sinusoidal`: the fixed table of Vaswani et al. (2017), added to the embeddings;
  :func:`sinusoidal_shift` is the fixed linear map that moves every row ``k`` positions on;
* :func:`learned_positions`: a trained table looked up by position (BERT, GPT-2); it has no
  row beyond its last, so longer inputs are refused;
* :func:`rope`: rotary position embedding (Su et al., 2021), applied to queries and keys, in
  both layouts found in the wild (:data:`LAYOUTS`): ``"interleaved"`` rotates the pairs
  ``(x[2i], x[2i+1])``, as the paper and GPT-J do; ``"half"`` rotates the pairs
  ``(x[i], x[i + d/2])``, as GPT-NeoX and the Hugging Face code of Llama do. The two are the
  same rotation of permuted coordinates (:func:`rope_permutation`), and mixing them up gives
  wrong scores without an error;
* :func:`alibi_bias`: ALiBi (Press et al., 2022), a penalty ``-m_h |i - j|`` added to the
  scores of head ``h``, with the slopes :func:`alibi_slopes`.

Positions are whole numbers from 0; every function takes an optional ``positions`` array
(the default is ``0, 1, ..., n - 1``), so a sequence can start later (as a model that
generates with a cache does). The PyTorch twin of :func:`rope` is :func:`selfattn.nn.rope`.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks

__all__ = [
    "BASE",
    "LAYOUTS",
    "sinusoidal",
    "sinusoidal_shift",
    "learned_positions",
    "rope_frequencies",
    "rope_angles",
    "rope",
    "rope_permutation",
    "alibi_slopes",
    "alibi_bias",
    "SCHEMES",
    "TOY_AMPLITUDE",
    "TOY_SLOPE",
    "attention_with_positions",
]

#: The frequency base of the sinusoidal table and of RoPE in the papers (10,000).
BASE = 10000.0

#: The two RoPE layouts: which coordinates form the pairs that rotate together.
LAYOUTS = ("interleaved", "half")


def sinusoidal(n: int, d: int, base: float = BASE,
               positions=None) -> np.ndarray:
    r"""The sinusoidal position table of Vaswani et al. (2017), shape ``(n, d)``.

    .. math:: PE_{p,\,2i} = \sin(p\,\omega_i), \quad PE_{p,\,2i+1} = \cos(p\,\omega_i),
              \quad \omega_i = \text{base}^{-2i/d}

    Parameters
    ----------
    n : int
        Number of positions (rows), at least 1.
    d : int
        Width of the table, even and at least 2 (one sine and one cosine per frequency).
    base : float, default 10000
        The frequency base; the slowest pair turns once in about ``2 pi base`` positions.
    positions : array_like of int, shape (n,), optional
        The positions of the rows (whole numbers >= 0); default ``0, 1, ..., n - 1``.

    Returns
    -------
    numpy.ndarray, shape (n, d), float64
        Row ``p`` is the encoding of position ``positions[p]``; every entry is in [-1, 1].

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer, ``d`` is odd or smaller than 2, ``base`` is not
        a number greater than 1, or ``positions`` is not ``n`` whole numbers >= 0.

    Examples
    --------
    >>> from selfattn.positions import sinusoidal
    >>> sinusoidal(3, 4).round(3)
    array([[ 0.   ,  1.   ,  0.   ,  1.   ],
           [ 0.841,  0.54 ,  0.01 ,  1.   ],
           [ 0.909, -0.416,  0.02 ,  1.   ]])
    """
    n = _checks.positive_int(n, "n")
    pos = _checks.position_indices(positions, n)  # (n,)
    angles = rope_angles(pos, d, base)  # (n, d/2): p * omega_i
    table = np.empty((n, d))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles)
    return table


def sinusoidal_shift(k: int, d: int, base: float = BASE) -> np.ndarray:
    r"""The fixed matrix ``M_k`` with ``sinusoidal(...)[p + k] = sinusoidal(...)[p] @ M_k``.

    It does not depend on ``p``: for each frequency, moving ``k`` positions on rotates the pair
    ``(sin p w, cos p w)`` by the angle ``k w``, whatever ``p`` is. ``M_k`` is block diagonal,
    one 2 x 2 rotation per pair, and ``k`` may be negative (it moves back).

    Parameters
    ----------
    k : int
        The shift, a whole number (negative moves back).
    d : int
        Width of the table, even and at least 2.
    base : float, default 10000

    Returns
    -------
    numpy.ndarray, shape (d, d)

    Raises
    ------
    ValueError
        If ``k`` is not a whole number, or ``d`` or ``base`` is invalid (see :func:`sinusoidal`).

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.positions import sinusoidal, sinusoidal_shift
    >>> pe = sinusoidal(10, 8)
    >>> bool(np.allclose(pe[:7] @ sinusoidal_shift(3, 8), pe[3:]))
    True
    """
    k = _checks.shift(k)
    angles = k * rope_frequencies(d, base)  # (d/2,)
    c, s = np.cos(angles), np.sin(angles)
    m = np.zeros((d, d))
    # (sin a, cos a) @ [[c, -s], [s, c]]
    #   = (sin a c + cos a s, cos a c - sin a s) = (sin(a+b), cos(a+b))
    m[0::2, 0::2] = np.diag(c)
    m[0::2, 1::2] = np.diag(-s)
    m[1::2, 0::2] = np.diag(s)
    m[1::2, 1::2] = np.diag(c)
    return m


def learned_positions(table, positions=None, n: int | None = None) -> np.ndarray:
    """Rows of a learned position table, looked up by position (BERT, GPT-2).

    Parameters
    ----------
    table : array_like, shape (max_positions, d)
        The trained table, one row per position it was trained on.
    positions : array_like of int, shape (n,), optional
        Which rows; default ``0, 1, ..., n - 1``.
    n : int, optional
        Number of positions when ``positions`` is not given.

    Returns
    -------
    numpy.ndarray, shape (n, d)
        A copy of the rows.

    Raises
    ------
    ValueError
        If ``table`` is not a finite 2-D array, neither or both of ``positions`` and ``n`` are
        given, or a position is negative or beyond the table's last row (a learned table has
        no vector for a position it never saw).

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.positions import learned_positions
    >>> table = np.arange(8.0).reshape(4, 2)
    >>> learned_positions(table, n=2)
    array([[0., 1.],
           [2., 3.]])
    >>> learned_positions(table, n=5)
    Traceback (most recent call last):
    ...
    ValueError: positions go up to 4 but the learned table has 4 rows (positions 0 to 3); a learned table has no vector for a position beyond it
    """
    table = _checks.matrix(table, "table", "(max_positions, d)")
    if (positions is None) == (n is None):
        raise ValueError("pass either positions (an array of whole numbers) or n (a count), not "
                         f"{'both' if n is not None else 'neither'}")
    if positions is None:
        n = _checks.positive_int(n, "n")
    else:
        n = len(_checks.as_array(positions, "positions").reshape(-1))
        if n == 0:
            raise ValueError("positions must hold at least one position, got an empty array")
    pos = _checks.position_indices(positions, n)
    top = int(pos.max())
    if top >= table.shape[0]:
        raise ValueError(f"positions go up to {top} but the learned table has {table.shape[0]} rows "
                         f"(positions 0 to {table.shape[0] - 1}); a learned table has no vector for a "
                         "position beyond it")
    return table[pos]


def rope_frequencies(d: int, base: float = BASE) -> np.ndarray:
    r"""The ``d / 2`` angular frequencies ``w_i = base^(-2i/d)``, from 1 down (radians per position).

    Examples
    --------
    >>> from selfattn.positions import rope_frequencies
    >>> rope_frequencies(4)
    array([1.  , 0.01])
    """
    d = _checks.even_dim(d, "d")
    base = _checks.frequency_base(base)
    return base ** (-np.arange(0, d, 2) / d)  # (d/2,)


def rope_angles(positions, d: int, base: float = BASE) -> np.ndarray:
    """The rotation angles ``positions[p] * w_i``, shape ``(n, d / 2)``.

    Examples
    --------
    >>> from selfattn.positions import rope_angles
    >>> rope_angles([0, 1, 2], 4)
    array([[0.  , 0.  ],
           [1.  , 0.01],
           [2.  , 0.02]])
    """
    freqs = rope_frequencies(d, base)
    pos = _checks.position_indices(positions, None)
    return pos[:, None] * freqs[None, :]  # (n, d/2)


def rope(x, positions=None, base: float = BASE,
         layout: str = "interleaved") -> np.ndarray:
    r"""Rotary position embedding: rotate each pair of coordinates of ``x`` by its position's angle.

    Row ``p`` of ``x`` (a query or a key) has its pair ``i`` rotated by the angle
    ``positions[p] * w_i`` with ``w_i = base^(-2i/d)``. Which coordinates form pair ``i``
    depends on the layout:

    ``"interleaved"`` (the paper, GPT-J, Meta's Llama code in complex numbers)
        ``(x[2i], x[2i + 1])``;
    ``"half"`` (GPT-NeoX, the Hugging Face code of Llama and most models on the Hub)
        ``(x[i], x[i + d/2])``.

    Because a rotation keeps dot products and two rotations compose by adding angles,
    ``rope(q, [m]) . rope(k, [n])`` depends on ``m - n`` only.

    Parameters
    ----------
    x : array_like, shape (..., n, d)
        Queries or keys (after their projection), ``d`` even.
    positions : array_like of int, shape (n,), optional
        Position of each row; default ``0, 1, ..., n - 1``.
    base : float, default 10000
    layout : {"interleaved", "half"}, default "interleaved"

    Returns
    -------
    numpy.ndarray, shape (..., n, d)
        A new array of the dtype of ``x`` (float32 stays float32); every row keeps its length.

    Raises
    ------
    ValueError
        If ``x`` is a tensor (use :func:`selfattn.nn.rope`), not finite, has fewer than 2
        dimensions or an odd last dimension; if ``positions`` is not ``n`` whole numbers
        >= 0; if ``base`` is not greater than 1 or ``layout`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.positions import rope
    >>> q = np.array([[1.0, 0.0, 0.0, 0.0]])
    >>> rope(q, positions=[1]).round(3)  # pair (0, 1) turns by 1 radian
    array([[0.54 , 0.841, 0.   , 0.   ]])
    >>> rope(q, positions=[1], layout="half").round(3)  # pair (0, 2) turns by 1 radian
    array([[0.54 , 0.   , 0.841, 0.   ]])
    """
    x, pos, layout = _checks.rope_inputs(x, positions, layout)
    d = x.shape[-1]
    angles = rope_angles(pos, d, base)  # (n, d/2)
    cos = np.cos(angles).astype(x.dtype)  # float32 stays float32
    sin = np.sin(angles).astype(x.dtype)
    if layout == "interleaved":  # the pairs (x[2i], x[2i+1])
        a, b = x[..., 0::2], x[..., 1::2]  # (..., n, d/2) each
    else:  # the pairs (x[i], x[i + d/2])
        a, b = x[..., : d // 2], x[..., d // 2 :]
    ra, rb = a * cos - b * sin, a * sin + b * cos  # each pair turned
    out = np.empty(x.shape, dtype=x.dtype)  # (..., n, d)
    if layout == "interleaved":
        out[..., 0::2], out[..., 1::2] = ra, rb
    else:
        out[..., : d // 2], out[..., d // 2 :] = ra, rb
    return out


def rope_permutation(d: int) -> np.ndarray:
    """The order of coordinates that turns the interleaved layout into the half layout.

    With ``perm = rope_permutation(d)``, ``rope(x, layout="interleaved")[..., perm]`` equals
    ``rope(x[..., perm], layout="half")``: coordinates ``0, 2, 4, ...`` go first, then
    ``1, 3, 5, ...``. Converting Meta's Llama weights to the Hugging Face layout permutes the
    rows of ``W_q`` and ``W_k`` this way.

    Examples
    --------
    >>> from selfattn.positions import rope_permutation
    >>> rope_permutation(6)
    array([0, 2, 4, 1, 3, 5])
    """
    d = _checks.even_dim(d, "d")
    return np.concatenate([np.arange(0, d, 2), np.arange(1, d, 2)])


def alibi_slopes(n_heads: int) -> np.ndarray:
    r"""The ALiBi slope of each head (Press et al., 2022): a geometric sequence.

    For ``n_heads`` a power of two the slopes are ``2^(-8/h), 2^(-16/h), ..., 2^(-8)``; otherwise
    a rule not in the paper: the slopes of the largest power of two below ``n_heads``, then every other
    slope of twice that many, as in the authors' code and BLOOM.

    Examples
    --------
    >>> from selfattn.positions import alibi_slopes
    >>> alibi_slopes(4) * 2**8  # 2^(-2), 2^(-4), 2^(-6), 2^(-8), times 256
    array([64., 16.,  4.,  1.])
    >>> alibi_slopes(6) * 2**8  # the 4 slopes of 4 heads, then 2 of the 8 slopes of 8 heads
    array([ 64.,  16.,   4.,   1., 128.,  32.])
    """
    h = _checks.positive_int(n_heads, "n_heads")

    def power_of_two(m):
        return 2.0 ** (-8.0 * np.arange(1, m + 1) / m)

    if h & (h - 1) == 0:
        slopes = power_of_two(h)
    else:
        low = 2 ** int(math.floor(math.log2(h)))
        slopes = np.concatenate([power_of_two(low), power_of_two(2 * low)[0::2][: h - low]])
    return slopes


def alibi_bias(n_heads: int, n_q: int, n_k: int | None = None,
               q_positions=None, k_positions=None) -> np.ndarray:
    r"""The ALiBi bias ``-m_h |i - j|`` to add to the scores, shape ``(n_heads, n_q, n_k)``.

    Query ``i`` and key ``j`` at distance ``|i - j|`` lose ``m_h`` per position of distance in
    head ``h`` (slopes from :func:`alibi_slopes`). Added to the scaled scores before the
    softmax; no vector is added to the embeddings. The paper's models are causal, where only
    ``j <= i`` is seen and the penalty is ``m_h (i - j)``; for ``j > i`` (an encoder) the same
    penalty on ``|i - j|`` is used.

    Parameters
    ----------
    n_heads : int
    n_q : int
        Number of queries.
    n_k : int, optional
        Number of keys; default ``n_q``.
    q_positions, k_positions : array_like of int, optional
        Positions of the queries and keys; default ``0, 1, ...``.

    Returns
    -------
    numpy.ndarray, shape (n_heads, n_q, n_k)

    Examples
    --------
    >>> from selfattn.positions import alibi_bias
    >>> alibi_bias(1, 3)[0] / alibi_slopes(1)  # minus the distance, in slopes
    array([[-0., -1., -2.],
           [-1., -0., -1.],
           [-2., -1., -0.]])
    """
    slopes = alibi_slopes(n_heads)
    n_q = _checks.positive_int(n_q, "n_q")
    n_k = n_q if n_k is None else _checks.positive_int(n_k, "n_k")
    qp = _checks.position_indices(q_positions, n_q, "q_positions")
    kp = _checks.position_indices(k_positions, n_k, "k_positions")
    distance = np.abs(qp[:, None] - kp[None, :]).astype(float)  # (n_q, n_k)
    return -slopes[:, None, None] * distance[None]  # (h, n_q, n_k)


# --------------------------------------------------------------------------- #
# one attention layer with positions: the running example of the chapter and its explorer
# --------------------------------------------------------------------------- #
#: The position schemes :func:`attention_with_positions` knows.
SCHEMES = ("none", "sinusoidal", "learned", "rope", "alibi")

#: How much of the sinusoidal (or learned) table the toy adds to its embeddings. The toy's
#: features are 0 to 1 and the table's entries -1 to 1: at half height the words stay recognisable.
TOY_AMPLITUDE = 0.5

#: The ALiBi slope the toy uses: the first head of an 8-head model, 2^(-1).
TOY_SLOPE = 0.5


def _even_width(a: np.ndarray, axis: int) -> np.ndarray:
    """``a`` with one zero column (``axis=-1``) or row (``axis=0``) appended when that side is odd."""
    if a.shape[axis] % 2 == 0:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (0, 1)
    return np.pad(a, pad)


def attention_with_positions(x, W_q, W_k, W_v, scheme: str = "none", *, positions=None,
                             amplitude: float = TOY_AMPLITUDE, table=None, slope: float = TOY_SLOPE,
                             base: float = BASE, layout: str = "interleaved"):
    r"""One self-attention layer given positions by ``scheme``; returns ``(output, weights)``.

    ``"none"``
        :func:`selfattn.scaled_dot_product_attention` on ``x W_Q, x W_K, x W_V``: blind to order.
    ``"sinusoidal"``, ``"learned"``
        ``x + amplitude * P`` enters the projections, ``P`` the rows of :func:`sinusoidal` or of
        ``table`` (:func:`learned_positions`) at ``positions``. An odd ``d_model`` gets one
        zero feature first (and the matrices a zero row), since the table is built in pairs.
    ``"rope"``
        :func:`rope` turns the queries and keys (not the values) by their positions; an odd
        ``d_k`` gets one zero coordinate first (the toy's ``d_k = 3`` becomes 4), which changes
        no dot product; every scheme scales the scores by ``1/sqrt(d_k)`` of ``W_Q``.
    ``"alibi"``
        ``-slope |i - j|`` is added to the scaled scores (:func:`alibi_bias`).

    Parameters
    ----------
    x : array_like, shape (n, d_model)
    W_q, W_k, W_v : array_like, shapes (d_model, d_k), (d_model, d_k), (d_model, d_v)
    scheme : {"none", "sinusoidal", "learned", "rope", "alibi"}
    positions : array_like of int, shape (n,), optional
        Default ``0, ..., n - 1``.
    amplitude : float, default :data:`TOY_AMPLITUDE`
    table : array_like, shape (max_positions, d_model (rounded up to even)), optional
        The learned table; needed by ``"learned"`` only.
    slope : float, default :data:`TOY_SLOPE`
    base : float, default 10000
    layout : {"interleaved", "half"}, default "interleaved"

    Returns
    -------
    output : numpy.ndarray, shape (n, d_v)
    weights : numpy.ndarray, shape (n, n)

    Raises
    ------
    ValueError
        If ``scheme`` is unknown, ``"learned"`` comes without a table (or with one too short or
        of the wrong width), or any argument fails the checks of the functions it is passed to.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.example import embed, matrices, tokenize
    >>> from selfattn.positions import attention_with_positions
    >>> words = tokenize("The cat sat on the mat because it was tired")
    >>> swapped = tokenize("The mat sat on the cat because it was tired")
    >>> it = words.index("it")
    >>> for scheme in ("none", "rope"):
    ...     out, _ = attention_with_positions(embed(words), *matrices(), scheme)
    ...     out2, _ = attention_with_positions(embed(swapped), *matrices(), scheme)
    ...     print(scheme, bool(np.allclose(out[it], out2[it])))
    none True
    rope False
    """
    from .attention import scaled_dot_product_attention, softmax

    x = _checks.matrix(x, "x", "(n, d_model)")
    W_q, W_k, W_v = _checks.projection_matrices(W_q, W_k, W_v)
    if W_q.shape[0] != x.shape[1]:
        raise ValueError(f"x has d_model = {x.shape[1]} columns but W_q {W_q.shape} has {W_q.shape[0]} rows")
    scheme = _checks.choice(scheme, "scheme", SCHEMES)
    n = x.shape[0]
    pos = _checks.position_indices(positions, n)
    if scheme in ("sinusoidal", "learned"):
        amplitude = _checks.finite_number(amplitude, "amplitude")
        x, W_q, W_k, W_v = _even_width(x, -1), *(_even_width(W, 0) for W in (W_q, W_k, W_v))
        if scheme == "sinusoidal":
            p = sinusoidal(n, x.shape[1], base, positions=pos)
        elif table is None:
            raise ValueError('scheme "learned" needs table=, the learned table (max_positions, d_model)')
        else:
            p = learned_positions(table, positions=pos)
            if p.shape[1] != x.shape[1]:
                raise ValueError(f"table has {p.shape[1]} columns but the embeddings have "
                                 f"{x.shape[1]} (d_model, rounded up to even)")
        x = x + amplitude * p  # (n, d_model): each word moved by its position's vector
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    if scheme == "rope":
        q = rope(_even_width(q, -1), pos, base, layout)  # (n, d_k): turned by position
        k = rope(_even_width(k, -1), pos, base, layout)
    scale = 1.0 / np.sqrt(W_q.shape[1])  # 1/sqrt(d_k): the zero column RoPE may add counts for nothing
    if scheme != "alibi":
        return scaled_dot_product_attention(q, k, v, scale=scale)
    slope = _checks.finite_number(slope, "slope")
    distance = np.abs(pos[:, None] - pos[None, :])  # (n, n)
    scores = q @ k.T * scale - slope * distance  # (n, n)
    weights = softmax(scores)
    return weights @ v, weights
