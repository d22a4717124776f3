r"""The transformer block, piece by piece, in NumPy: the formula beside each line.

A block wraps multi-head attention (:mod:`selfattn.heads`) in the parts a real model
needs: biases in the four projections, a residual connection around each sub-layer,
layer normalisation, and a position-wise feed-forward layer with the GELU activation.

* :func:`layer_norm`: ``(x - mean) / sqrt(var + eps) * gamma + beta`` over the last axis;
* :func:`gelu`: the exact, erf form ``0.5 x (1 + erf(x / sqrt 2))`` that BERT uses;
* :func:`feed_forward`: ``gelu(x W1 + b1) W2 + b2``;
* :func:`multi_head_attention`: attention with biases, reusing :func:`selfattn.split_heads`,
  :func:`selfattn.merge_heads` and :func:`selfattn.scaled_dot_product_attention`;
* :func:`transformer_block`: post-norm (BERT, the original Transformer) or pre-norm (GPT-2),
  with its matrices and vectors in one :class:`BlockParams`.

Matrices are stored ``(d_in, d_out)`` and applied as ``x @ W``, as everywhere in the
course (``torch.nn.Linear`` stores the transpose, ``(d_out, d_in)``). Every function keeps
the dtype of ``x``: float32 in, float32 out. The PyTorch twin of the block is
:class:`selfattn.nn.TransformerBlock`; the tests compare both with PyTorch's own layers
and with ``transformers``' ``BertLayer``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from . import _checks
from .attention import init_matrix, scaled_dot_product_attention
from .heads import merge_heads, split_heads

__all__ = ["layer_norm", "gelu", "feed_forward", "multi_head_attention", "transformer_block",
           "BlockParams", "BERT_LAYER_NORM_EPS"]

#: BERT's ``layer_norm_eps`` (its config.json); PyTorch's ``nn.LayerNorm`` defaults to 1e-5.
BERT_LAYER_NORM_EPS = 1e-12

# erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0: Press et al., Numerical Recipes
# (2nd ed., section 6.2, erfcc), a Chebyshev fit with relative error below 1.2e-7 for every z.
_ERFC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
         0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def layer_norm(x, gamma, beta, eps=BERT_LAYER_NORM_EPS):
    r"""Layer normalisation over the last axis (Ba et al., 2016).

    .. math:: \operatorname{LN}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}}
              \odot \gamma + \beta

    with :math:`\mu` and :math:`\sigma^2` the mean and the (biased) variance of each row's
    ``d`` numbers. Each token is normalised on its own, unlike batch normalisation.

    Parameters
    ----------
    x : array_like, shape (..., d)
    gamma, beta : array_like, shape (d,)
        The learned scale and shift.
    eps : float, default 1e-12
        Added to the variance; 1e-12 is BERT's ``layer_norm_eps`` (PyTorch's
        ``nn.LayerNorm`` defaults to 1e-5, GPT-2 uses 1e-5).

    Returns
    -------
    numpy.ndarray, shape (..., d), the dtype of ``x``

    Raises
    ------
    ValueError
        If ``x`` has fewer than 2 dimensions or holds NaN or inf, if ``gamma`` or
        ``beta`` is not of length ``d`` (the message gives both shapes), or if ``eps``
        is not a positive number.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.block import layer_norm
    >>> layer_norm(np.array([[1.0, 2.0, 3.0]]), np.ones(3), np.zeros(3)).round(4)
    array([[-1.2247,  0.    ,  1.2247]])
    >>> layer_norm(np.ones((2, 3)), np.ones(4), np.zeros(3))
    Traceback (most recent call last):
    ...
    ValueError: gamma must have shape (d,) with d the last dimension of x = (3,), got (4,)
    """
    x, gamma, beta, eps = _checks.layer_norm_inputs(x, gamma, beta, eps)
    mu = x.mean(axis=-1, keepdims=True)  # (..., 1)       mu = mean_j x_j
    xc = x - mu  # (..., d)                                x - mu
    # sigma^2 = mean_j (x_j - mu)^2
    var = np.mean(xc * xc, axis=-1, keepdims=True)  # (..., 1)
    return xc / np.sqrt(var + x.dtype.type(eps)) * gamma + beta  # (..., d)


def _erfc_nonnegative(z):
    """erfc(z) for z >= 0 (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7), in z's dtype."""
    t = 1 / (1 + z / 2)  # t = 1 / (1 + z/2)
    p = np.full_like(z, _ERFC[-1])
    for c in _ERFC[-2::-1]:  # Horner: P(t) = c0 + t (c1 + t (c2 + ...))
        p *= t
        p += z.dtype.type(c)
    p -= z * z  # -z^2 + P(t)
    np.exp(p, out=p)
    p *= t  # erfc(z) = t exp(-z^2 + P(t))
    return p


def gelu(x):
    r"""The Gaussian error linear unit, exact form (Hendrycks and Gimpel, 2016).

    .. math:: \operatorname{GELU}(x) = x\,\Phi(x)
              = \tfrac12\, x \left(1 + \operatorname{erf}(x/\sqrt2)\right)

    This is BERT's ``hidden_act="gelu"`` and ``torch.nn.functional.gelu``'s default;
    GPT-2 uses the tanh approximation (``approximate="tanh"``), which differs by up to
    about 5e-4. NumPy has no ``erf``, so the error function comes from a Chebyshev fit
    of ``erfc`` (Numerical Recipes, section 6.2) with relative error below 1.2e-7:
    in float64 the result is within 2e-8 of the exact value, in float32 within one
    rounding step of PyTorch's (``tests/test_block.py`` measures both).

    Parameters
    ----------
    x : array_like
        Any shape; float32 stays float32.

    Returns
    -------
    numpy.ndarray, the shape and dtype of ``x``

    Raises
    ------
    ValueError
        If ``x`` holds NaN or inf, or is not a real number array.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.block import gelu
    >>> gelu(np.array([-3.0, -1.0, 0.0, 1.0, 3.0])).round(5)
    array([-0.00405, -0.15866,  0.     ,  0.84134,  2.99595])
    """
    x = _checks.finite_input(x, "x", 0, "(any shape)")
    z = x * x.dtype.type(-1 / math.sqrt(2))  # z = -x / sqrt 2, so 1 + erf(x/sqrt 2) = erfc(z)
    e = _erfc_nonnegative(np.abs(z))  # erfc(|z|)
    e = np.where(z < 0, 2 - e, e)  # erfc(z) = 2 - erfc(-z) for z < 0
    return x.dtype.type(0.5) * x * e  # 0.5 x erfc(-x / sqrt 2)


def feed_forward(x, W1, b1, W2, b2):
    r"""The position-wise feed-forward layer: the same two-layer MLP on every token.

    .. math:: \operatorname{FFN}(x) = \operatorname{GELU}(x W_1 + b_1)\, W_2 + b_2

    Parameters
    ----------
    x : array_like, shape (..., n, d_model)
    W1 : array_like, shape (d_model, d_ff)
    b1 : array_like, shape (d_ff,)
    W2 : array_like, shape (d_ff, d_model)
    b2 : array_like, shape (d_model,)

    Returns
    -------
    numpy.ndarray, shape (..., n, d_model), the dtype of ``x``

    Raises
    ------
    ValueError
        If ``x`` has fewer than 2 dimensions or holds NaN or inf, or a matrix or bias
        has a shape that does not fit (the message names it and gives both shapes).

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.block import feed_forward
    >>> x = np.array([[1.0, -1.0]])
    >>> feed_forward(x, np.eye(2), np.zeros(2), np.eye(2), np.zeros(2)).round(4)
    array([[ 0.8413, -0.1587]])
    >>> feed_forward(x, np.ones((2, 4)), np.zeros(4), np.ones((2, 4)), np.zeros(2))
    Traceback (most recent call last):
    ...
    ValueError: W2 must have shape (d_ff, d_model) = (4, 2) to undo W1 (2, 4), got (2, 4): W1's columns are W2's rows
    """
    x, W1, b1, W2, b2 = _checks.feed_forward_inputs(x, W1, b1, W2, b2)
    hidden = gelu(x @ W1 + b1)  # (..., n, d_ff)    GELU(x W1 + b1)
    return hidden @ W2 + b2  # (..., n, d_model)   ... W2 + b2


def multi_head_attention(x, W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o, n_heads, mask=None):
    r"""Multi-head self-attention with a bias in each projection, as BERT and GPT-2 have.

    .. math:: Q = X W_Q + b_Q,\quad K = X W_K + b_K,\quad V = X W_V + b_V

    .. math:: \operatorname{MHA}(X) = \operatorname{Concat}_i\!\left(
              \operatorname{softmax}\!\left(\frac{Q_i K_i^\top}{\sqrt{d_k}}\right) V_i\right)
              W_O + b_O

    The heads are split with :func:`selfattn.split_heads`, attend with
    :func:`selfattn.scaled_dot_product_attention` and are merged with
    :func:`selfattn.merge_heads`: the same functions as the bias-free
    :class:`selfattn.MultiHeadAttention`.

    Parameters
    ----------
    x : array_like, shape (..., n, d_model)
        One row per token; a batch ``(B, n, d_model)`` works too.
    W_q, W_k, W_v, W_o : array_like, shape (d_model, d_model)
    b_q, b_k, b_v, b_o : array_like, shape (d_model,)
    n_heads : int
        Must divide ``d_model``.
    mask : array_like of bool, optional
        ``True`` where token ``i`` may attend to token ``j`` (the course's convention,
        see the notation page, "Masks"); broadcasts to ``(..., n, n)`` and is shared by
        every head, so :func:`selfattn.padding_mask` ``(B, 1, n)`` works as it is.

    Returns
    -------
    output : numpy.ndarray, shape (..., n, d_model)
    weights : numpy.ndarray, shape (..., h, n, n)
        The attention weights of each head.

    Raises
    ------
    ValueError
        If ``d_model`` is not divisible by ``n_heads``, a matrix or bias has the wrong
        shape, ``x`` holds NaN or inf, or the mask is not boolean or does not broadcast.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.block import multi_head_attention
    >>> I, z = np.eye(4), np.zeros(4)
    >>> out, w = multi_head_attention(np.ones((3, 4)), I, z, I, z, I, z, I, z, n_heads=2)
    >>> out.shape, w.shape
    ((3, 4), (2, 3, 3))
    """
    x, (W_q, W_k, W_v, W_o), (b_q, b_k, b_v, b_o), _ = _checks.attention_parameters(
        x, W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o, n_heads)
    *lead, n, _ = x.shape
    mask = _checks.mask(mask, (*lead, n, n))  # (..., n, n)
    if mask is not None:  # (..., 1, n, n): one mask for every head
        mask = np.broadcast_to(mask, (*lead, n, n))[..., None, :, :]
    q = split_heads(x @ W_q + b_q, n_heads)  # (..., h, n, d_head)   Q = X W_Q + b_Q
    k = split_heads(x @ W_k + b_k, n_heads)  # (..., h, n, d_head)   K = X W_K + b_K
    v = split_heads(x @ W_v + b_v, n_heads)  # (..., h, n, d_head)   V = X W_V + b_V
    # heads (..., h, n, d_head), weights (..., h, n, n): softmax(Q K^T / sqrt(d_k)) V
    heads, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    concat = merge_heads(heads)  # (..., n, d_model)   Concat(head_1, ..., head_h)
    return concat @ W_o + b_o, weights  # (..., n, d_model)   ... W_O + b_O


@dataclass(frozen=True, eq=False)
class BlockParams:
    """The matrices and vectors of one transformer block, by name.

    Attention: ``W_q``, ``W_k``, ``W_v``, ``W_o`` ``(d_model, d_model)`` and their biases
    ``b_q``, ``b_k``, ``b_v``, ``b_o`` ``(d_model,)``; the first layer norm ``ln1_gamma``,
    ``ln1_beta`` ``(d_model,)``; the feed-forward layer ``W1`` ``(d_model, d_ff)``, ``b1``
    ``(d_ff,)``, ``W2`` ``(d_ff, d_model)``, ``b2`` ``(d_model,)``; the second layer norm
    ``ln2_gamma``, ``ln2_beta``. In a post-norm block (BERT) ``ln1`` follows attention's
    residual sum; in a pre-norm block (GPT-2) it comes before attention.

    The shapes are checked when the object is made (a wrong one is named with the shape
    it must have). The arrays are stored as given, not copied.

    Raises
    ------
    ValueError
        If an array has the wrong shape or holds NaN or inf.

    Examples
    --------
    >>> from selfattn.block import BlockParams
    >>> p = BlockParams.random(d_model=8, d_ff=32, seed=0)
    >>> p.W1.shape, p.b1.shape, p.ln2_gamma.shape, p.d_model, p.d_ff
    ((8, 32), (32,), (8,), 8, 32)
    """

    W_q: np.ndarray
    b_q: np.ndarray
    W_k: np.ndarray
    b_k: np.ndarray
    W_v: np.ndarray
    b_v: np.ndarray
    W_o: np.ndarray
    b_o: np.ndarray
    ln1_gamma: np.ndarray
    ln1_beta: np.ndarray
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray
    ln2_gamma: np.ndarray
    ln2_beta: np.ndarray

    def __post_init__(self):
        d_model, d_ff = _checks.block_params(self)
        object.__setattr__(self, "d_model", d_model)
        object.__setattr__(self, "d_ff", d_ff)

    @classmethod
    def random(cls, d_model: int, d_ff: int | None = None, seed: int = 0, dtype=np.float64) -> "BlockParams":
        """Seeded random parameters, for tests and chapters.

        Matrices are uniform in ``[-1/sqrt(d_in), 1/sqrt(d_in)]`` (``torch.nn.Linear``'s
        default), biases in ``[-0.1, 0.1]``, the layer norms' ``gamma`` near 1 and ``beta``
        near 0 (perturbed by up to 0.1, so a test sees them act).

        Parameters
        ----------
        d_model : int
        d_ff : int, optional
            Defaults to ``4 * d_model``.
        seed : int, default 0
        dtype : numpy dtype, default float64

        Returns
        -------
        BlockParams

        Raises
        ------
        ValueError
            If a size is not a positive integer or the seed is not a whole number.

        Examples
        --------
        >>> from selfattn.block import BlockParams
        >>> BlockParams.random(4, seed=1).W2.shape
        (16, 4)
        """
        d_model = _checks.positive_int(d_model, "d_model")
        d_ff = 4 * d_model if d_ff is None else _checks.positive_int(d_ff, "d_ff")
        rng = np.random.default_rng(_checks.seed(seed))
        sizes = {"W_q": (d_model, d_model), "b_q": d_model, "W_k": (d_model, d_model), "b_k": d_model,
                 "W_v": (d_model, d_model), "b_v": d_model, "W_o": (d_model, d_model), "b_o": d_model,
                 "ln1_gamma": d_model, "ln1_beta": d_model, "W1": (d_model, d_ff), "b1": d_ff,
                 "W2": (d_ff, d_model), "b2": d_model, "ln2_gamma": d_model, "ln2_beta": d_model}
        arrays = {}
        for name, size in sizes.items():
            if isinstance(size, tuple):
                arrays[name] = init_matrix(rng, *size)  # (d_in, d_out)
            else:
                arrays[name] = rng.uniform(-0.1, 0.1, size) + (1.0 if name.endswith("gamma") else 0.0)
        return cls(**{k: v.astype(dtype) for k, v in arrays.items()})

    def names(self) -> tuple:
        """The field names in order: ``('W_q', 'b_q', ..., 'ln2_beta')``."""
        return tuple(f.name for f in fields(self))


def transformer_block(x, params: BlockParams, n_heads: int, mask=None,
                      norm: str = "post", eps: float = BERT_LAYER_NORM_EPS):
    r"""One transformer block: attention and feed-forward, each with a residual and a layer norm.

    Post-norm, as in BERT and the original Transformer (``norm="post"``):

    .. math:: h = \operatorname{LN}_1(x + \operatorname{MHA}(x)),\qquad
              \text{out} = \operatorname{LN}_2(h + \operatorname{FFN}(h))

    Pre-norm, as in GPT-2 (``norm="pre"``; GPT-2 adds one more layer norm after the
    last block, which is not part of a block):

    .. math:: h = x + \operatorname{MHA}(\operatorname{LN}_1(x)),\qquad
              \text{out} = h + \operatorname{FFN}(\operatorname{LN}_2(h))

    Parameters
    ----------
    x : array_like, shape (..., n, d_model)
    params : BlockParams
    n_heads : int
        Must divide ``d_model``.
    mask : array_like of bool, optional
        ``True`` = may attend; broadcasts to ``(..., n, n)`` (see :func:`multi_head_attention`).
    norm : {"post", "pre"}, default "post"
    eps : float, default 1e-12
        Of both layer norms (BERT's value; GPT-2 and ``torch.nn`` use 1e-5).

    Returns
    -------
    output : numpy.ndarray, shape (..., n, d_model)
    weights : numpy.ndarray, shape (..., h, n, n)

    Raises
    ------
    ValueError
        If ``params`` is not a :class:`BlockParams` of ``x``'s width, ``norm`` is not
        ``"post"`` or ``"pre"``, or as :func:`multi_head_attention`.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.block import BlockParams, transformer_block
    >>> p = BlockParams.random(d_model=8, seed=0)
    >>> out, w = transformer_block(np.ones((2, 5, 8)), p, n_heads=2)
    >>> out.shape, w.shape
    ((2, 5, 8), (2, 2, 5, 5))
    >>> transformer_block(np.ones((5, 8)), p, n_heads=3)
    Traceback (most recent call last):
    ...
    ValueError: d_model=8 is not divisible by n_heads=3 (8 / 3 = 2.67...); every head must get the same whole number of columns: try d_model=6 or 9, or a number of heads that divides 8
    """
    x, p = _checks.block_params_input(x, params, BlockParams)
    norm = _checks.choice(norm, "norm", ["post", "pre"])
    attn = (p.W_q, p.b_q, p.W_k, p.b_k, p.W_v, p.b_v, p.W_o, p.b_o)
    ffn = (p.W1, p.b1, p.W2, p.b2)
    ln1 = (p.ln1_gamma, p.ln1_beta, eps)
    ln2 = (p.ln2_gamma, p.ln2_beta, eps)
    if norm == "post":
        a, weights = multi_head_attention(x, *attn, n_heads, mask=mask)
        h = layer_norm(x + a, *ln1)  # h = LN1(x + MHA(x))
        out = layer_norm(h + feed_forward(h, *ffn), *ln2)  # LN2(h + FFN(h))
    else:
        a, weights = multi_head_attention(layer_norm(x, *ln1), *attn,
                                          n_heads, mask=mask)  # MHA(LN1(x))
        h = x + a  # h = x + MHA(LN1(x))
        out = h + feed_forward(layer_norm(h, *ln2), *ffn)  # h + FFN(LN2(h))
    return out, weights
