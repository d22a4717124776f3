r"""Why scaled dot-product attention divides by ``sqrt(d_k)``: the experiments.

The chapter "Scaled dot-product attention" measures, rather than asserts,
three facts about the scores ``s_j = q . k_j`` when the entries of ``q`` and
``k_j`` are independent with mean 0 and variance 1:

1. the variance of ``q . k`` grows like ``d_k`` (:func:`dot_product_variance`,
   checked against :func:`expected_dot_product_variance`);
2. without the scale, the softmax of such scores saturates as ``d_k`` grows:
   one weight tends to 1 and the entropy to 0 (:func:`entropy`);
3. a saturated softmax has a Jacobian close to zero, so almost no gradient
   flows back to the scores (:func:`softmax_jacobian`).

:func:`scaling_sweep` runs all three for a list of ``d_k`` with and without
the scale; :func:`selfattn.plotting.plot_scaling_sweep` draws the result.
:func:`naive_softmax` is the textbook formula without the max-subtraction
trick, kept only to show how it overflows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _checks
from .attention import softmax

__all__ = [
    "expected_dot_product_variance",
    "dot_product_samples",
    "dot_product_variance",
    "naive_softmax",
    "softmax_jacobian",
    "entropy",
    "ScalingSweep",
    "scaling_sweep",
    "D_KS",
]

#: The key sizes the chapter sweeps over.
D_KS = (1, 4, 16, 64, 256, 1024)


def expected_dot_product_variance(d_k: int, var_q: float = 1.0, var_k: float = 1.0) -> float:
    r"""Variance of ``q . k`` when all ``2 d_k`` entries are independent with mean 0.

    .. math:: \operatorname{Var}(q \cdot k) = \sum_{i=1}^{d_k} \operatorname{Var}(q_i k_i)
              = d_k \, \sigma_q^2 \sigma_k^2

    Each product ``q_i k_i`` has mean 0 and variance ``E[q_i^2] E[k_i^2]``;
    the ``d_k`` products are independent, so their variances add up.

    Parameters
    ----------
    d_k : int
        Length of the vectors, at least 1.
    var_q, var_k : float, default 1.0
        Variance of each entry of ``q`` and of ``k``; non-negative.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``d_k`` is not a positive integer, a variance is negative or not finite,
        or their product overflows float64.

    Examples
    --------
    >>> from selfattn.scale import expected_dot_product_variance
    >>> expected_dot_product_variance(64)
    64.0
    >>> expected_dot_product_variance(4, var_q=0.5, var_k=2.0)
    4.0
    """
    d_k = _checks.positive_int(d_k, "d_k")
    var_q = _checks.non_negative_number(var_q, "var_q")
    var_k = _checks.non_negative_number(var_k, "var_k")
    variance = d_k * var_q * var_k
    _checks.finite_result(variance, "d_k * var_q * var_k", "the variances are too large for float64")
    return variance


def dot_product_samples(d_k: int, n_samples: int = 20_000, seed: int = 0) -> np.ndarray:
    """Draw ``n_samples`` dot products ``q . k`` of independent standard-normal vectors.

    Parameters
    ----------
    d_k : int
        Length of ``q`` and ``k``.
    n_samples : int, default 20000
        Number of independent pairs ``(q, k)``.
    seed : int, default 0
        Seed; the generator is ``numpy.random.default_rng([seed, d_k])``, so
        each ``d_k`` gets its own stream whatever list it is part of.

    Returns
    -------
    numpy.ndarray, shape (n_samples,)

    Raises
    ------
    ValueError
        If ``d_k`` or ``n_samples`` is not a positive integer, or ``seed`` is
        not a whole number >= 0.

    Examples
    --------
    >>> from selfattn.scale import dot_product_samples
    >>> dot_product_samples(8, n_samples=3).shape
    (3,)
    """
    d_k = _checks.positive_int(d_k, "d_k")
    n_samples = _checks.positive_int(n_samples, "n_samples")
    rng = np.random.default_rng([_checks.seed(seed), d_k])
    q = rng.standard_normal((n_samples, d_k))  # (n_samples, d_k)
    k = rng.standard_normal((n_samples, d_k))  # (n_samples, d_k)
    return np.einsum("sd,sd->s", q, k)  # (n_samples,)


def dot_product_variance(d_k: int, n_samples: int = 20_000, seed: int = 0) -> float:
    """Measured variance of ``q . k`` for standard-normal ``q`` and ``k`` of length ``d_k``.

    The population variance is ``d_k`` (:func:`expected_dot_product_variance`);
    with the default 20,000 samples the measurement is within a few percent.

    Parameters
    ----------
    d_k, n_samples, seed : int
        As in :func:`dot_product_samples`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As :func:`dot_product_samples`, and if ``n_samples`` is below 2 (one sample
        has no variance).

    Examples
    --------
    >>> from selfattn.scale import dot_product_variance
    >>> round(dot_product_variance(16) / 16, 1)
    1.0
    """
    n_samples = _checks.positive_int(n_samples, "n_samples", minimum=2)  # one sample has no spread
    return float(np.var(dot_product_samples(d_k, n_samples=n_samples, seed=seed)))


def naive_softmax(x, axis: int = -1) -> np.ndarray:
    r"""The textbook softmax ``exp(x) / sum(exp(x))``, **without** subtracting the maximum.

    Only for showing what goes wrong: ``exp(1000)`` overflows to ``inf`` in
    float64 (anything above about 709.78 does), and ``inf / inf`` is NaN.
    Use :func:`selfattn.softmax` for real work.

    Parameters
    ----------
    x : array_like, shape (..., n)
        Scores; ``-inf`` (a masked score) is allowed, NaN and ``+inf`` are not.
    axis : int, default -1
        The axis whose weights sum to 1.

    Returns
    -------
    numpy.ndarray, same shape as ``x``
        NaN where ``exp`` overflowed: that is the point.

    Raises
    ------
    ValueError
        If ``x`` does not hold real numbers, is a scalar, holds NaN or ``+inf``,
        or ``axis`` is not an axis of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.scale import naive_softmax
    >>> naive_softmax(np.array([1.0, 2.0, 3.0])).round(4)
    array([0.09  , 0.2447, 0.6652])
    >>> with np.errstate(over="ignore", invalid="ignore"):
    ...     naive_softmax(np.array([1000.0, 0.0]))
    array([nan,  0.])
    """
    x = _checks.softmax_input(x, axis)
    e = np.exp(x)  # may overflow to inf: that is the point
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_jacobian(w) -> np.ndarray:
    r"""Jacobian of the softmax with respect to its input, from the softmax output.

    For ``w = softmax(s)`` over the last axis,

    .. math:: \frac{\partial w_i}{\partial s_j} = w_i (\delta_{ij} - w_j),
              \qquad J = \operatorname{diag}(w) - w w^\top .

    ``J`` is zero when ``w`` is one-hot (a saturated softmax) and largest
    when ``w`` is uniform.

    Parameters
    ----------
    w : array_like, shape (..., n)
        Softmax outputs (each row non-negative, summing to 1).

    Returns
    -------
    numpy.ndarray, shape (..., n, n)
        ``J[..., i, j] = d w_i / d s_j``.

    Raises
    ------
    ValueError
        If ``w`` does not hold real numbers, is a scalar, holds NaN or inf, or a
        value below 0 or above 1 (it is not softmax output).

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.scale import softmax_jacobian
    >>> softmax_jacobian(np.array([0.5, 0.5]))
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    >>> softmax_jacobian(np.array([1.0, 0.0]))
    array([[0., 0.],
           [0., 0.]])
    """
    w = _checks.float_array(w, "w")
    _checks.ndim(w, "w", 1, "(..., n)")
    _checks.probabilities(w, "w")  # finite, from 0 to 1
    eye = np.eye(w.shape[-1], dtype=w.dtype)  # (n, n)
    diag = w[..., :, None] * eye  # (..., n, n)
    return diag - w[..., :, None] * w[..., None, :]  # (..., n, n)


def entropy(w, axis: int = -1) -> np.ndarray:
    r"""Shannon entropy ``-sum w log w`` in nats, with ``0 log 0 = 0``.

    ``log(n)`` for uniform weights over ``n`` positions, 0 for one-hot weights.

    Parameters
    ----------
    w : array_like, shape (..., n)
        Attention weights: non-negative, finite.
    axis : int, default -1
        The axis the weights are spread over.

    Returns
    -------
    numpy.ndarray, shape of ``w`` without ``axis``

    Raises
    ------
    ValueError
        If ``w`` does not hold real numbers, is a scalar, holds NaN, inf or a
        number below 0 or above 1, or ``axis`` is not an axis of ``w``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.scale import entropy
    >>> round(float(entropy(np.array([0.25, 0.25, 0.25, 0.25]))), 4), round(float(np.log(4)), 4)
    (1.3863, 1.3863)
    >>> float(entropy(np.array([1.0, 0.0])))
    0.0
    """
    w = _checks.float_array(w, "w")
    _checks.ndim(w, "w", 1, "(..., n)")
    axis = _checks.axis(axis, w, "w")
    _checks.probabilities(w, "w")  # finite, from 0 to 1
    logw = np.log(w, out=np.zeros_like(w), where=w > 0)
    return -np.sum(w * logw, axis=axis) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclass(frozen=True)
class ScalingSweep:
    """Results of :func:`scaling_sweep`; every array has one entry per ``d_k``.

    Attributes
    ----------
    d_k : (m,) int array of key sizes
    scaled : bool, whether the scores were multiplied by ``1/sqrt(d_k)``
    n_keys : int, number of keys each query attends over
    score_variance : (m,) variance of the scores fed to the softmax
    max_weight : (m,) mean over samples of the largest attention weight
    entropy : (m,) mean entropy of the weights, in nats (``log(n_keys)`` is uniform)
    grad_norm : (m,) median Frobenius norm of the softmax Jacobian
    """

    d_k: np.ndarray
    scaled: bool
    n_keys: int
    score_variance: np.ndarray
    max_weight: np.ndarray
    entropy: np.ndarray
    grad_norm: np.ndarray


def scaling_sweep(d_ks=D_KS, n_keys: int = 10, n_samples: int = 400, scaled: bool = True,
                  seed: int = 0) -> ScalingSweep:
    """Attend with random queries and keys for each ``d_k``; measure saturation and gradients.

    For each ``d_k``: ``n_samples`` queries ``q`` and, for each, ``n_keys``
    keys, all entries standard normal (seeded with ``[seed, d_k]``, so the
    scaled and the unscaled sweep see the same vectors). The scores
    ``K q`` are multiplied by ``1/sqrt(d_k)`` if ``scaled``, then
    ``w = softmax(scores)``.

    Parameters
    ----------
    d_ks : sequence of int, default ``D_KS``
    n_keys : int, default 10
        Sentence length: how many keys each query attends over (at least 2).
    n_samples : int, default 400
    scaled : bool, default True
    seed : int, default 0

    Returns
    -------
    ScalingSweep

    Raises
    ------
    ValueError
        If ``d_ks`` is not a non-empty list of positive whole numbers,
        ``n_keys < 2``, ``n_samples`` is not a positive whole number,
        ``scaled`` is not ``True`` or ``False``, or ``seed`` is not a whole
        number >= 0.

    Examples
    --------
    >>> from selfattn.scale import scaling_sweep
    >>> raw = scaling_sweep([1, 256], n_samples=200, scaled=False)
    >>> bool(raw.max_weight[1] > raw.max_weight[0])
    True
    >>> fixed = scaling_sweep([1, 256], n_samples=200, scaled=True)
    >>> [round(float(v), 1) for v in fixed.score_variance]
    [1.0, 1.0]
    """
    d_ks = _checks.sequence(d_ks, "d_ks", "key sizes such as [1, 16, 256]")
    d_ks = [_checks.positive_int(d, "each d_k") for d in d_ks]
    if not d_ks:
        raise ValueError("d_ks must hold at least one key size, got none")
    n_keys = _checks.positive_int(n_keys, "n_keys", minimum=2)  # one key alone cannot saturate
    n_samples = _checks.positive_int(n_samples, "n_samples")
    seed, scaled = _checks.seed(seed), _checks.flag(scaled, "scaled")
    var, top, ent, grad = [], [], [], []
    for d_k in d_ks:
        rng = np.random.default_rng([seed, d_k])
        q = rng.standard_normal((n_samples, 1, d_k))  # (S, 1, d_k)
        k = rng.standard_normal((n_samples, n_keys, d_k))  # (S, n_keys, d_k)
        scores = np.einsum("sqd,skd->sk", q, k)  # (S, n_keys)
        if scaled:
            scores = scores / math.sqrt(d_k)
        w = softmax(scores, axis=-1)  # (S, n_keys)
        jac = softmax_jacobian(w)  # (S, n_keys, n_keys)
        var.append(np.var(scores))
        top.append(np.mean(w.max(axis=-1)))
        ent.append(np.mean(entropy(w)))
        grad.append(np.median(np.linalg.norm(jac, axis=(-2, -1))))
    return ScalingSweep(np.array(d_ks), bool(scaled), n_keys, np.array(var), np.array(top),
                        np.array(ent), np.array(grad))
