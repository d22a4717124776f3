"""Pictures of attention: a heatmap of all weights and a bar chart of one token's weights.

Both use colour-blind-safe colours (the perceptually uniform ``cividis`` map,
and a single bar colour with the largest bar outlined) and print their values,
so that the figure can be read without relying on colour at all.
"""

from __future__ import annotations

import numpy as np

__all__ = ["attention_heatmap", "token_weights_bar", "CMAP"]

#: Colour map used for every heatmap: readable with all common colour-vision deficiencies.
CMAP = "cividis"


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def attention_heatmap(weights, tokens, key_tokens=None, *, ax=None, title=None, annotate=True,
                      fmt="{:.2f}", vmin=0.0, vmax=None):
    """Heatmap of an ``(n_q, n_k)`` weight matrix, queries on the rows and keys on the columns.

    Parameters
    ----------
    weights : array_like, shape (n_q, n_k)
    tokens : sequence of str, length n_q
        Labels of the rows (the queries).
    key_tokens : sequence of str, length n_k, optional
        Labels of the columns; defaults to ``tokens`` (self-attention).
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    annotate : bool, default True
        Print each value in its cell.
    fmt : str, default ``"{:.2f}"``
    vmin, vmax : float, optional
        Colour range; ``vmax`` defaults to the largest weight (at least 1e-12).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``weights`` is not 2-D or the labels do not match its shape.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import attention_heatmap
    >>> ax = attention_heatmap([[0.9, 0.1], [0.5, 0.5]], ["a", "b"])
    >>> [t.get_text() for t in ax.texts]
    ['0.90', '0.10', '0.50', '0.50']
    """
    w = np.asarray(weights, dtype=float)
    key_tokens = list(tokens) if key_tokens is None else list(key_tokens)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D (n_q, n_k), got shape {w.shape}")
    if w.shape != (len(tokens), len(key_tokens)):
        raise ValueError(
            f"weights of shape {w.shape} do not match {len(tokens)} query labels "
            f"and {len(key_tokens)} key labels"
        )
    n_q, n_k = w.shape
    ax = _axes(ax, (0.55 * n_k + 1.8, 0.45 * n_q + 1.2))
    vmax = max(float(np.max(w)), 1e-12) if vmax is None else vmax
    im = ax.imshow(w, cmap=CMAP, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(n_k), key_tokens, rotation=45, ha="right")
    ax.set_yticks(range(n_q), tokens)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if title:
        ax.set_title(title)
    if annotate:
        mid = vmin + 0.5 * (vmax - vmin)
        for i in range(n_q):
            for j in range(n_k):
                ax.text(j, i, fmt.format(w[i, j]), ha="center", va="center", fontsize=8,
                        color="black" if w[i, j] > mid else "white")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def token_weights_bar(weights, tokens, query=None, *, ax=None, title=None, fmt="{:.2f}"):
    """Bar chart of one query's attention weights over the tokens.

    Parameters
    ----------
    weights : array_like, shape (n,)
        One row of an attention matrix.
    tokens : sequence of str, length n
    query : str, optional
        The attending word, used in the default title.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    fmt : str, default ``"{:.2f}"``

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``weights`` is not 1-D or its length differs from ``len(tokens)``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import token_weights_bar
    >>> ax = token_weights_bar([0.2, 0.8], ["mat", "cat"], query="it")
    >>> ax.get_title()
    'Where "it" looks'
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"weights must be 1-D (one query's row), got shape {w.shape}")
    if len(w) != len(tokens):
        raise ValueError(f"{len(w)} weights but {len(tokens)} tokens")
    ax = _axes(ax, (0.6 * len(w) + 1.5, 2.8))
    top = int(np.argmax(w))
    colors = ["#5D7CA6"] * len(w)  # one hue: no red/green distinction needed
    colors[top] = "#1B2A41"
    bars = ax.bar(range(len(w)), w, color=colors, edgecolor="black", linewidth=[2 if i == top else 0.5 for i in range(len(w))])
    ax.set_xticks(range(len(w)), tokens, rotation=45, ha="right")
    ax.set_ylabel("attention weight")
    ax.set_ylim(0, max(1.0, float(w.max()) * 1.15))
    ax.bar_label(bars, labels=[fmt.format(x) for x in w], fontsize=8, padding=2)
    ax.set_title(title if title is not None else (f'Where "{query}" looks' if query else "Attention weights"))
    return ax
