"""The dot product as a match score: its length and angle parts, and two pictures.

Used by the chapters "Query" and "Key". A query ``q`` and a key ``k`` match by
their dot product

.. math:: q \\cdot k = \\lVert q \\rVert \\, \\lVert k \\rVert \\cos\\theta ,

so a key scores high when it points the way the query points (small angle
``theta``) and when it is long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DotParts", "dot_parts", "plot_query_and_keys", "plot_dot_vs_angle"]


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


def _vector(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one vector (1-D), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf: {arr}")
    return arr


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
        If ``q`` or ``k`` is not 1-D, holds NaN or inf, or if their lengths
        differ (the message names both shapes).

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
    q = _vector(q, "q")
    k = _vector(k, "k")
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same length d_k, got q {q.shape} and k {k.shape}")
    dot = float(q @ k)
    nq, nk = float(np.linalg.norm(q)), float(np.linalg.norm(k))
    if nq == 0.0 or nk == 0.0:
        return DotParts(dot, nq, nk, None, None)
    cos = max(-1.0, min(1.0, dot / (nq * nk)))  # clip rounding errors before acos
    return DotParts(dot, nq, nk, cos, math.degrees(math.acos(cos)))


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_query_and_keys(query, keys, labels, *, dims=(0, 1), dim_names=("dim 0", "dim 1"),
                        query_label="query", ax=None, title=None):
    """Draw a query and some keys as arrows in a plane of two of their dimensions.

    The query is a thick dark arrow; each key is a thinner arrow labelled with
    its word and its dot product with the query (computed in all ``d_k``
    dimensions, not only the two drawn).

    Parameters
    ----------
    query : array_like, shape (d_k,)
    keys : array_like, shape (m, d_k)
    labels : sequence of str, length m
    dims : pair of int, default (0, 1)
        The two dimensions to draw.
    dim_names : pair of str
        Axis labels.
    query_label : str
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If the shapes do not fit together or ``dims`` is out of range.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.dotproduct import plot_query_and_keys
    >>> ax = plot_query_and_keys([2.0, 2.0], [[1.0, 1.0], [1.0, 0.0]], ["cat", "mat"])
    >>> sorted(t.get_text() for t in ax.texts if t.get_text())
    ['cat  (q·k = 4.00)', 'mat  (q·k = 2.00)', 'query']
    """
    q = _vector(query, "query")
    K = np.asarray(keys, dtype=np.float64)
    if K.ndim != 2 or K.shape[1] != q.shape[0]:
        raise ValueError(f"keys must have shape (m, {q.shape[0]}) to match the query {q.shape}, got {K.shape}")
    if len(labels) != K.shape[0]:
        raise ValueError(f"{len(labels)} labels for {K.shape[0]} keys")
    i, j = dims
    if not (0 <= i < q.shape[0] and 0 <= j < q.shape[0]):
        raise ValueError(f"dims {dims} out of range for vectors of length {q.shape[0]}")
    ax = _axes(ax, (5.0, 4.6))
    pts = np.vstack([q[[i, j]], K[:, [i, j]], np.zeros(2)])
    lim_lo = min(0.0, float(pts.min())) - 0.4
    lim_hi = float(pts.max()) + 0.6
    # the query first, thick and dark; the keys on top, so a key along the query stays visible
    ax.annotate("", xy=(q[i], q[j]), xytext=(0, 0),
                arrowprops=dict(arrowstyle="-|>", color="#1B2A41", lw=5, alpha=0.45), zorder=1)
    ax.text(q[i] + 0.05, q[j] + 0.08, query_label, fontsize=10, fontweight="bold")
    for key, lab in zip(K, labels):
        ax.annotate("", xy=(key[i], key[j]), xytext=(0, 0),
                    arrowprops=dict(arrowstyle="-|>", color="#B8860B", lw=1.8), zorder=2)
        ax.text(key[i] + 0.06, key[j] - 0.12, f"{lab}  (q·k = {float(q @ key):.2f})", fontsize=9)
    ax.set_xlim(lim_lo, lim_hi)
    ax.set_ylim(lim_lo, lim_hi)
    ax.set_aspect("equal")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlabel(dim_names[0])
    ax.set_ylabel(dim_names[1])
    if title:
        ax.set_title(title)
    return ax


def plot_dot_vs_angle(norm_q, norms_k, *, ax=None, marks=None, title=None):
    """Plot ``|q| |k| cos(theta)`` against the angle, one curve per key length.

    Parameters
    ----------
    norm_q : float
        Length of the query.
    norms_k : sequence of float
        Key lengths, one curve each (drawn with different line styles, so
        colour is not needed to tell them apart).
    ax : matplotlib.axes.Axes, optional
    marks : sequence of (str, float, float) or (str, float, float, (dx, dy)), optional
        Points ``(label, angle_deg, dot)`` to mark, e.g. real query-key pairs;
        an optional fourth item moves the label by ``(dx, dy)`` points
        (default ``(6, 6)``).
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If a length is negative.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.dotproduct import plot_dot_vs_angle
    >>> ax = plot_dot_vs_angle(2.0, [0.5, 1.0])
    >>> len(ax.lines), round(float(ax.lines[1].get_ydata()[0]), 3)
    (3, 2.0)
    """
    if norm_q < 0 or any(n < 0 for n in norms_k):
        raise ValueError(f"lengths must be >= 0, got |q| = {norm_q} and |k| = {list(norms_k)}")
    ax = _axes(ax, (5.5, 3.6))
    theta = np.linspace(0.0, 180.0, 181)
    styles = ["-", "--", ":", "-."]
    for n, style in zip(norms_k, styles * (len(norms_k) // len(styles) + 1)):
        ax.plot(theta, norm_q * n * np.cos(np.radians(theta)), style, color="#1B2A41",
                label=f"|k| = {n:g}")
    ax.axhline(0, color="grey", lw=0.5)
    for mark in marks or []:
        label, angle, dot = mark[:3]
        offset = mark[3] if len(mark) > 3 else (6, 6)
        ax.plot([angle], [dot], "o", color="#B8860B", markeredgecolor="black")
        ax.annotate(label, (angle, dot), textcoords="offset points", xytext=offset, fontsize=9)
    ax.set_xlabel("angle θ between q and k (degrees)")
    ax.set_ylabel("q · k")
    ax.set_xticks([0, 45, 90, 135, 180])
    ax.legend(title=f"|q| = {norm_q:.2f}", fontsize=8)
    if title:
        ax.set_title(title)
    return ax
