"""The dot product as a match score: its length and angle parts.

Used by the chapters "Query" and "Key". A query ``q`` and a key ``k`` match by
their dot product

.. math:: q \\cdot k = \\lVert q \\rVert \\, \\lVert k \\rVert \\cos\\theta ,

so a key scores high when it points the way the query points (small angle
``theta``) and when it is long. The pictures of both readings are
:func:`selfattn.plotting.plot_query_and_keys` and
:func:`selfattn.plotting.plot_dot_vs_angle`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _checks

__all__ = ["DotParts", "dot_parts"]


@dataclass(frozen=True)
class DotParts:
    """The dot product of two vectors and its parts.

    Attributes
    ----------
    dot : float
        ``q @ k``.
    norm_q, norm_k : float
        The lengths ``|q|`` and ``|k|``.
    cos : float or None
        ``cos(theta)``; ``None`` if a vector is zero (no direction, no angle).
    angle_deg : float or None
        ``theta`` in degrees, between 0 and 180; ``None`` if a vector is zero.
    """

    dot: float
    norm_q: float
    norm_k: float
    cos: float | None
    angle_deg: float | None


def dot_parts(q, k) -> DotParts:
    """Split ``q . k`` into lengths and angle: ``q . k = |q| |k| cos(theta)``.

    Parameters
    ----------
    q, k : array_like, shape (d_k,)

    Returns
    -------
    DotParts

    Raises
    ------
    ValueError
        If ``q`` or ``k`` is not a 1-D vector of real numbers, is empty, holds
        NaN or inf, if their lengths differ (the message names both shapes), or if
        ``q . k`` overflows float64.

    Examples
    --------
    >>> from selfattn.dotproduct import dot_parts
    >>> p = dot_parts([1.0, 1.0], [2.0, 0.0])
    >>> p.dot, round(p.norm_q, 4), p.norm_k, round(p.cos, 4), round(p.angle_deg, 1)
    (2.0, 1.4142, 2.0, 0.7071, 45.0)
    >>> dot_parts([0.0, 0.0], [1.0, 0.0]).angle_deg is None
    True
    >>> dot_parts([1.0, 0.0, 0.0], [1.0, 0.0])
    Traceback (most recent call last):
    ...
    ValueError: q and k must have the same length d_k, got q (3,) and k (2,)
    """
    q = _checks.vector(q, "q")  # (d_k,)
    k = _checks.vector(k, "k")  # (d_k,)
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same length d_k, got q {q.shape} and k {k.shape}")
    with np.errstate(over="ignore"):  # an overflow is reported just below, in words
        dot = float(q @ k)
    _checks.finite_result(dot, "q . k", f"it overflows float64 (largest |q_i| = {np.abs(q).max():.3g}, "
                          f"largest |k_i| = {np.abs(k).max():.3g}); rescale q or k")
    nq, nk = math.hypot(*q), math.hypot(*k)  # lengths without overflow in the squares
    if nq == 0.0 or nk == 0.0:
        return DotParts(dot, nq, nk, None, None)
    cos = max(-1.0, min(1.0, dot / nq / nk))  # clip rounding errors before acos
    return DotParts(dot, nq, nk, cos, math.degrees(math.acos(cos)))
