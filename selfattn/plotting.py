"""Every picture of the course, with one palette and one set of figure sizes.

The palette lives here and nowhere else: :data:`CMAP` for every heatmap (the
perceptually uniform ``cividis``, readable with every common colour-vision
deficiency) and :data:`COLOURS` for lines, bars and points (a dark navy and a
gold, told apart in every colour vision, plus a mid blue and a grey). Series
that must be told apart also differ in marker or line style, and heatmaps and
bar charts print their values, so no figure relies on colour alone.

Figures are at most :data:`PAGE_WIDTH` inches wide, the width at which the
book's page column shows a figure without shrinking it, and no text is smaller
than :data:`MIN_FONT_SIZE` points; :func:`smallest_font_on_page` measures it.

Pictures by chapter: :func:`attention_heatmap` and :func:`token_weights_bar`
(all chapters), :func:`plot_query_and_keys` (Query), :func:`plot_dot_vs_angle`
(Key), :func:`plot_value_before_after` (Value), :func:`plot_scaling_sweep`
(Scaled dot-product attention), :func:`plot_head_weights` (Multi-head attention),
:func:`plot_width_and_heads` and :func:`plot_cost` (Sizing and cost), :func:`plot_training_loss`, :func:`plot_attention_during_training`,
:func:`plot_weight_matrices` and :func:`plot_keys_and_queries` (Learned weight
matrices). :func:`subplots` makes a page-wide figure for pictures that share one.
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks

__all__ = [
    "CMAP",
    "COLOURS",
    "PAGE_WIDTH",
    "COLUMN_WIDTH",
    "MIN_FONT_SIZE",
    "subplots",
    "smallest_font_on_page",
    "attention_heatmap",
    "token_weights_bar",
    "plot_head_weights",
    "plot_query_and_keys",
    "plot_dot_vs_angle",
    "plot_value_before_after",
    "plot_scaling_sweep",
    "plot_cost",
    "plot_training_loss",
    "plot_attention_during_training",
    "plot_weight_matrices",
    "plot_keys_and_queries",
]

# --------------------------------------------------------------------------- #
# the palette and the sizes: the only place that names a colour or a size
# --------------------------------------------------------------------------- #
#: Colour map of every heatmap: readable with all common colour-vision deficiencies.
CMAP = "cividis"

#: The named colours. ``dark`` and ``gold`` are the pair for two series; ``mid`` is a
#: lighter blue for bars beside ``dark``; ``grey`` draws reference lines and axes;
#: ``ink`` and ``paper`` are text on light and on dark cells.
COLOURS = {
    "dark": "#1B2A41",
    "mid": "#5D7CA6",
    "gold": "#B8860B",
    "grey": "#808080",
    "ink": "black",
    "paper": "white",
}

#: Width in inches of the book's page column at desktop width: 688 pixels at 1280 px
#: (tests/browser/test_layout.py measures it), at matplotlib's 100 dpi. A saved figure
#: wider than this is shrunk to fit, and its text with it.
COLUMN_WIDTH = 6.88

#: Width in inches of the figures made here. The inline backend saves a figure with
#: ``bbox_inches="tight"`` and ``pad_inches=0.1``: 6.6 inches of figure and 0.2 of padding
#: fit the column whole.
PAGE_WIDTH = 6.6

#: Smallest legible text, in points, at the size the page shows the figure.
MIN_FONT_SIZE = 9

#: Font size of values printed in cells and on bars, and of point labels.
_VALUE_FONT = 9

#: Heights in inches of the figures the functions below make when no axes are given.
_HEIGHT = {"row": 3.4, "plane": 4.6, "curve": 3.6, "grid": 6.8}


def subplots(nrows: int = 1, ncols: int = 1, *, height: float | None = None, **kwargs):
    """A figure as wide as the page, with ``nrows`` x ``ncols`` axes.

    Parameters
    ----------
    nrows, ncols : int, default 1
    height : float, optional
        Height in inches; defaults to 3.4 inches per row.
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots` (``sharey``, ``width_ratios``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : matplotlib.axes.Axes or numpy.ndarray of them

    Raises
    ------
    ValueError
        If ``nrows`` or ``ncols`` is not a positive whole number, or ``height`` is
        not a positive number.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import PAGE_WIDTH, subplots
    >>> fig, axes = subplots(1, 2)
    >>> axes.shape, tuple(fig.get_size_inches()) == (PAGE_WIDTH, 3.4)
    ((2,), True)
    """
    import matplotlib.pyplot as plt

    nrows = _checks.positive_int(nrows, "nrows")
    ncols = _checks.positive_int(ncols, "ncols")
    height = _HEIGHT["row"] * nrows if height is None else _checks.finite_number(height, "height")
    if height <= 0:
        raise ValueError(f"height must be a positive number of inches, got {height}")
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH, height), **kwargs)


def _axes(ax, width: float, height: float):
    """``ax``, or the axes of a new figure at most :data:`PAGE_WIDTH` wide."""
    import matplotlib.pyplot as plt

    if _checks.axes(ax, "ax") is None:
        _, ax = plt.subplots(figsize=(min(width, PAGE_WIDTH), height), layout="constrained")
    return ax


def smallest_font_on_page(fig) -> float:
    """The smallest text in ``fig``, in points, at the size the book's page shows it.

    The page shows a figure at its saved width (the tight box around everything
    drawn, plus the ``savefig.pad_inches`` padding on each side) or, if that is
    wider than :data:`COLUMN_WIDTH`, shrunk to it; every text shrinks with it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    float
        ``inf`` if the figure has no visible text.

    Raises
    ------
    ValueError
        If ``fig`` is not a matplotlib Figure.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from selfattn.plotting import smallest_font_on_page
    >>> fig, ax = plt.subplots(figsize=(6, 3))
    >>> _ = ax.set_title("a title", fontsize=12)
    >>> _ = ax.set_xticks([0, 1], ["a", "b"], fontsize=9)
    >>> _ = ax.set_yticks([0, 1], ["c", "d"], fontsize=10)
    >>> smallest_font_on_page(fig)   # fits the page: the tick labels "a" and "b"
    9.0
    >>> fig.set_size_inches(18, 3)
    >>> smallest_font_on_page(fig) < 5   # shrunk to fit the page
    True
    """
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not hasattr(fig.canvas, "get_renderer"):  # a Figure made without pyplot: draw it with Agg
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    import matplotlib

    pad = matplotlib.rcParams["savefig.pad_inches"]
    pad = pad if isinstance(pad, (int, float)) else 0.1  # "layout" pads as little as 0.1
    # inches, as bbox_inches="tight" saves it: the tight box and the padding on both sides
    saved_width = fig.get_tightbbox(renderer).width + 2 * pad
    shrink = min(1.0, COLUMN_WIDTH / saved_width)
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_window_extent(renderer).width > 0]
    return float(min(sizes, default=math.inf) * shrink)


def _array(x, name: str, ndim: int, layout: str) -> np.ndarray:
    """``x`` as a finite float array with ``ndim`` dimensions, or a ValueError naming it."""
    a = _checks.float_array(x, name)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {a.shape}")
    _checks.finite(a, name)
    return a


def _cell_text(ax, i: int, j: int, value: float, text: str, mid: float) -> None:
    """Print ``text`` in cell ``(i, j)`` of a heatmap: ink on light cells, paper on dark ones."""
    colour = COLOURS["ink"] if value > mid else COLOURS["paper"]
    ax.text(j, i, text, ha="center", va="center", fontsize=_VALUE_FONT, color=colour)


# --------------------------------------------------------------------------- #
# weights: every chapter
# --------------------------------------------------------------------------- #
def attention_heatmap(weights, tokens, key_tokens=None, *, ax=None, title=None, annotate=True,
                      fmt="{:.2f}", vmin=0.0, vmax=None, colorbar=True, blank_zeros=False):
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
    colorbar : bool, default True
        Draw a colour bar beside the heatmap (leave it out for a 0/1 mask, whose
        printed values say everything, or when panels share one bar).
    blank_zeros : bool, default False
        Print nothing in cells whose weight is exactly 0 (masked keys), so that a
        causal mask shows as a blank triangle instead of a crowd of zeros.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``weights`` is not 2-D or holds NaN or inf, the labels are not a list or do not
        match its shape, ``ax`` is not an Axes, ``fmt`` does not format a number,
        ``annotate``, ``colorbar`` or ``blank_zeros`` is not a bool, or ``vmin``/``vmax`` is not a
        finite number (``vmax`` above ``vmin``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import attention_heatmap
    >>> ax = attention_heatmap([[0.9, 0.1], [0.5, 0.5]], ["a", "b"])
    >>> [t.get_text() for t in ax.texts]
    ['0.90', '0.10', '0.50', '0.50']
    """
    w = _array(weights, "weights", 2, "(n_q, n_k)")
    tokens = _checks.labels(tokens, "tokens")
    key_tokens = tokens if key_tokens is None else _checks.labels(key_tokens, "key_tokens")
    fmt, annotate = _checks.format_string(fmt, "fmt"), _checks.flag(annotate, "annotate")
    blank_zeros = _checks.flag(blank_zeros, "blank_zeros")
    vmin, vmax = _checks.value_range(vmin, vmax)
    if w.shape != (len(tokens), len(key_tokens)):
        raise ValueError(
            f"weights of shape {w.shape} do not match {len(tokens)} query labels "
            f"and {len(key_tokens)} key labels"
        )
    n_q, n_k = w.shape
    ax = _axes(ax, 0.55 * n_k + 1.8, 0.45 * n_q + 1.2)
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
        for (i, j), value in np.ndenumerate(w):
            if not (blank_zeros and value == 0.0):
                _cell_text(ax, i, j, value, fmt.format(value), mid)
    if _checks.flag(colorbar, "colorbar"):
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_head_weights(weights, tokens, titles=None, *, fmt="{:.1f}"):
    """One heatmap per head, two heads per row, on one shared colour scale.

    One scale for all heads, so that an even spread (``1/n`` everywhere) looks
    the same in every head and a sharp head stands out. Each cell prints its weight,
    except a weight of exactly 0 (a key the mask hides, such as a decoder's future
    tokens), which prints nothing, so that the mask shows as a blank triangle.

    Parameters
    ----------
    weights : array_like, shape (h, n, n)
        The attention weights of each head.
    tokens : sequence of str, length n
    titles : sequence of str, length h, optional
        Defaults to ``head 0``, ``head 1``, ...
    fmt : str, default ``"{:.1f}"``

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``weights`` is not 3-D, holds NaN or inf, has no head or is not square per
        head, the tokens or titles are not lists or do not match it, or ``fmt`` does
        not format a number.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import plot_head_weights
    >>> fig = plot_head_weights([[[1.0, 0.0], [0.5, 0.5]]] * 3, ["a", "b"])
    >>> [ax.get_title() for ax in fig.axes if ax.images]
    ['head 0', 'head 1', 'head 2']
    """
    w = _array(weights, "weights", 3, "(h, n, n)")
    h, n_q, n_k = w.shape
    _checks.positive_int(h, "the number of heads in weights")
    tokens, fmt = _checks.labels(tokens, "tokens"), _checks.format_string(fmt, "fmt", "{:.1f}")
    titles = [f"head {i}" for i in range(h)] if titles is None else _checks.labels(titles, "titles")
    if n_q != n_k or n_k != len(tokens):
        raise ValueError(f"weights of shape {w.shape} need square (n, n) heads with n = {len(tokens)}, "
                         f"one row and one column per token")
    if len(titles) != h:
        raise ValueError(f"{len(titles)} titles for {h} heads")
    nrows = (h + 1) // 2
    fig, axes = subplots(nrows, 2, height=3.8 * nrows, sharey=True, squeeze=False)
    vmax = max(float(w.max()), 1e-12)
    for i, ax in enumerate(axes.flat):
        if i >= h:
            ax.set_axis_off()
            continue
        attention_heatmap(w[i], tokens, ax=ax, title=titles[i], fmt=fmt, vmax=vmax, colorbar=False,
                          blank_zeros=True)
        if i % 2:
            ax.set_ylabel("")
    fig.colorbar(axes.flat[0].images[0], ax=axes, shrink=0.5, label="attention weight")
    return fig


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
        If ``weights`` is not 1-D or holds NaN or inf, ``tokens`` is not a list of its
        length, ``ax`` is not an Axes, or ``fmt`` does not format a number.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import token_weights_bar
    >>> ax = token_weights_bar([0.2, 0.8], ["mat", "cat"], query="it")
    >>> ax.get_title()
    'Where "it" looks'
    """
    w = _array(weights, "weights", 1, "(one query's row)")
    tokens, fmt = _checks.labels(tokens, "tokens"), _checks.format_string(fmt, "fmt")
    if len(w) != len(tokens):
        raise ValueError(f"{len(w)} weights but {len(tokens)} tokens")
    ax = _axes(ax, 0.6 * len(w) + 1.5, 2.8)
    top = int(np.argmax(w))
    colours = [COLOURS["mid"]] * len(w)  # one hue: no red/green distinction needed
    colours[top] = COLOURS["dark"]
    widths = [2 if i == top else 0.5 for i in range(len(w))]
    bars = ax.bar(range(len(w)), w, color=colours, edgecolor=COLOURS["ink"], linewidth=widths)
    ax.set_xticks(range(len(w)), tokens, rotation=45, ha="right")
    ax.set_ylabel("attention weight")
    ax.set_ylim(0, max(1.0, float(w.max()) * 1.15))
    ax.bar_label(bars, labels=[fmt.format(x) for x in w], fontsize=_VALUE_FONT, padding=2)
    default = f'Where "{query}" looks' if query else "Attention weights"
    ax.set_title(title if title is not None else default)
    return ax


# --------------------------------------------------------------------------- #
# chapters "Query" and "Key": the dot product as a match
# --------------------------------------------------------------------------- #
def plot_query_and_keys(query, keys, labels, *, dims=(0, 1), dim_names=("dim 0", "dim 1"),
                        query_label="query", ax=None, title=None):
    """Draw a query and some keys as arrows in a plane of two of their dimensions.

    The query is a thick dark arrow; each key is a thinner gold arrow labelled with
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
        If the shapes do not fit together, a vector holds NaN or inf, ``labels`` is
        not a list, ``dims`` is not two whole numbers in range, ``dim_names`` not two
        labels, or ``ax`` not an Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import plot_query_and_keys
    >>> ax = plot_query_and_keys([2.0, 2.0], [[1.0, 1.0], [1.0, 0.0]], ["cat", "mat"])
    >>> sorted(t.get_text() for t in ax.texts if t.get_text())
    ['cat  (q·k = 4.00)', 'mat  (q·k = 2.00)', 'query']
    """
    q = _array(query, "query", 1, "(d_k,)")
    K = _array(keys, "keys", 2, "(m, d_k)")
    if K.shape[1] != q.shape[0]:
        raise ValueError(f"keys must have shape (m, {q.shape[0]}) to match the query {q.shape}, "
                         f"got {K.shape}")
    labels = _checks.labels(labels, "labels")
    dim_names = _checks.pair(dim_names, "dim_names", "two axis labels")
    if len(labels) != K.shape[0]:
        raise ValueError(f"{len(labels)} labels for {K.shape[0]} keys")
    i, j = (_checks.positive_int(d, "each of dims", minimum=0)
            for d in _checks.pair(dims, "dims", "two dimensions such as (0, 1)"))
    if not (0 <= i < q.shape[0] and 0 <= j < q.shape[0]):
        raise ValueError(f"dims {dims} out of range for vectors of length {q.shape[0]}")
    ax = _axes(ax, 5.0, _HEIGHT["plane"])
    pts = np.vstack([q[[i, j]], K[:, [i, j]], np.zeros(2)])
    lim_lo = min(0.0, float(pts.min())) - 0.4
    lim_hi = float(pts.max()) + 0.6
    # the query first, thick and dark; the keys on top, so a key along the query stays visible
    ax.annotate("", xy=(q[i], q[j]), xytext=(0, 0), zorder=1,
                arrowprops=dict(arrowstyle="-|>", color=COLOURS["dark"], lw=5, alpha=0.45))
    ax.text(q[i] + 0.05, q[j] + 0.08, query_label, fontsize=10, fontweight="bold")
    for key, lab in zip(K, labels):
        ax.annotate("", xy=(key[i], key[j]), xytext=(0, 0), zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color=COLOURS["gold"], lw=1.8))
        ax.text(key[i] + 0.06, key[j] - 0.12, f"{lab}  (q·k = {float(q @ key):.2f})", fontsize=_VALUE_FONT)
    ax.set_xlim(lim_lo, lim_hi)
    ax.set_ylim(lim_lo, lim_hi)
    ax.set_aspect("equal")
    ax.axhline(0, color=COLOURS["grey"], lw=0.5)
    ax.axvline(0, color=COLOURS["grey"], lw=0.5)
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
        If a length is not a finite number or is negative, ``norms_k`` is not a list,
        a mark is not ``(label, angle_deg, dot[, (dx, dy)])`` with finite numbers, or
        ``ax`` is not an Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import plot_dot_vs_angle
    >>> ax = plot_dot_vs_angle(2.0, [0.5, 1.0])
    >>> len(ax.lines), round(float(ax.lines[1].get_ydata()[0]), 3)
    (3, 2.0)
    """
    norm_q = _checks.finite_number(norm_q, "norm_q")
    norms_k = [_checks.finite_number(n, "each of norms_k")
               for n in _checks.sequence(norms_k, "norms_k", "key lengths")]
    marks = [] if marks is None else _checks.point_marks(marks)
    if norm_q < 0 or any(n < 0 for n in norms_k):
        raise ValueError(f"lengths must be >= 0, got |q| = {norm_q} and |k| = {norms_k}")
    ax = _axes(ax, 5.5, _HEIGHT["curve"])
    theta = np.linspace(0.0, 180.0, 181)
    styles = ["-", "--", ":", "-."]
    for n, style in zip(norms_k, styles * (len(norms_k) // len(styles) + 1)):
        ax.plot(theta, norm_q * n * np.cos(np.radians(theta)), style, color=COLOURS["dark"],
                label=f"|k| = {n:g}")
    ax.axhline(0, color=COLOURS["grey"], lw=0.5)
    for label, angle, dot, offset in marks:
        ax.plot([angle], [dot], "o", color=COLOURS["gold"], markeredgecolor=COLOURS["ink"])
        ax.annotate(label, (angle, dot), textcoords="offset points", xytext=offset, fontsize=_VALUE_FONT)
    ax.set_xlabel("angle θ between q and k (degrees)")
    ax.set_ylabel("q · k")
    ax.set_xticks([0, 45, 90, 135, 180])
    ax.legend(title=f"|q| = {norm_q:.2f}", fontsize=_VALUE_FONT, title_fontsize=_VALUE_FONT)
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------- #
# chapter "Value": what a word carries, and what it gathers
# --------------------------------------------------------------------------- #
def plot_value_before_after(value, context, dims, *, word=None, ax=None, fmt="%.2f"):
    """Bars of a word's value vector (before) beside its context vector (after).

    The value is drawn in mid blue with a black edge, the context vector in dark
    blue with hatching, so the two are told apart without colour.

    Parameters
    ----------
    value : array_like, shape (d_v,)
        What the word passes on when others attend to it (a row of ``V``).
    context : array_like, shape (d_v,)
        What the word gathers: its row of the output ``A V``.
    dims : sequence of str, length d_v
        Names of the value dimensions.
    word : str, optional
        The word, for the title.
    ax : matplotlib.axes.Axes, optional
    fmt : str, default ``"%.2f"``
        Format of the values printed on the bars.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``value`` or ``context`` is not 1-D or holds NaN or inf, ``dims`` is not a
        list of their length, ``fmt`` does not format a number (``%`` style), or ``ax``
        is not an Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import plot_value_before_after
    >>> ax = plot_value_before_after([0.5, 0.0], [0.4, 0.3], ["noun", "animate"], word="it")
    >>> [t.get_text() for t in ax.texts]
    ['0.50', '0.00', '0.40', '0.30']
    >>> print(ax.get_title())
    "it": what it carries,
    then what it gathers
    """
    before = _array(value, "value", 1, "(d_v,)")
    after = _array(context, "context", 1, "(d_v,)")
    dims, fmt = _checks.labels(dims, "dims"), _checks.format_string(fmt, "fmt", "%.2f")
    if not len(before) == len(after) == len(dims):
        raise ValueError(f"value {before.shape} and context {after.shape} must both have one entry "
                         f"per dimension name, got {len(dims)} names")
    ax = _axes(ax, 5.5, _HEIGHT["curve"])
    x = np.arange(len(dims))  # (d_v,)
    bars_before = ax.bar(x - 0.2, before, 0.4, label="value (before)", color=COLOURS["mid"],
                         edgecolor=COLOURS["ink"])
    bars_after = ax.bar(x + 0.2, after, 0.4, label="context vector (after)", color=COLOURS["dark"],
                        hatch="//", edgecolor=COLOURS["paper"])
    ax.bar_label(bars_before, fmt=fmt, fontsize=_VALUE_FONT)
    ax.bar_label(bars_after, fmt=fmt, fontsize=_VALUE_FONT)
    ax.set_xticks(x, dims)
    low = min(0.0, float(before.min()), float(after.min()))
    ax.set_ylim(1.15 * low, 1.15 * max(1.0, float(before.max()), float(after.max())))
    ax.axhline(0, color=COLOURS["grey"], lw=0.5)
    ax.set_title(f'"{word}": what it carries,\nthen what it gathers' if word else "Value and context vector")
    ax.legend(fontsize=_VALUE_FONT)
    return ax


# --------------------------------------------------------------------------- #
# chapter "Scaled dot-product attention": why divide by sqrt(d_k)
# --------------------------------------------------------------------------- #
def plot_scaling_sweep(unscaled, scaled, axes=None):
    """Four panels across ``d_k``: score variance, largest weight, entropy, gradient norm.

    Unscaled results are drawn as solid dark lines with circles, scaled ones as
    dashed gold lines with squares, so the two are told apart without colour.

    Parameters
    ----------
    unscaled, scaled : selfattn.scale.ScalingSweep
        Results of :func:`selfattn.scale.scaling_sweep` with ``scaled=False`` and
        ``scaled=True`` over the same ``d_k``.
    axes : sequence of 4 matplotlib Axes, optional
        Defaults to a new page-wide 2 x 2 grid.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes, shape (4,)

    Raises
    ------
    ValueError
        If a sweep is not a ``ScalingSweep``, the two cover different ``d_k`` or are
        given in the wrong order, or ``axes`` is not 4 Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.scale import scaling_sweep
    >>> from selfattn.plotting import plot_scaling_sweep
    >>> axes = plot_scaling_sweep(scaling_sweep([1, 16], n_samples=50, scaled=False),
    ...                           scaling_sweep([1, 16], n_samples=50, scaled=True))
    >>> [ax.get_ylabel() for ax in axes]
    ['variance of the scores', 'mean largest weight', 'mean entropy (nats)', 'median ‖∂a/∂s‖']
    """
    fields = ("d_k", "scaled", "n_keys", "score_variance", "max_weight", "entropy", "grad_norm")
    for name, sweep in (("unscaled", unscaled), ("scaled", scaled)):
        if not all(hasattr(sweep, f) for f in fields):
            raise ValueError(f"{name} must be a ScalingSweep from selfattn.scale.scaling_sweep, "
                             f"got {type(sweep).__name__}")
    if unscaled.scaled or not scaled.scaled:
        raise ValueError("pass the unscaled sweep first and the scaled sweep second")
    if not np.array_equal(unscaled.d_k, scaled.d_k):
        raise ValueError(f"the sweeps cover different d_k: {unscaled.d_k} and {scaled.d_k}")
    if axes is None:
        _, axes = subplots(2, 2, height=_HEIGHT["grid"])
    axes = _checks.axes_list(axes, "axes", 4)
    styles = {False: dict(color=COLOURS["dark"], marker="o", ls="-", label="q·k (no scale)"),
              True: dict(color=COLOURS["gold"], marker="s", ls="--", label="q·k / √d_k")}
    d = unscaled.d_k
    n = unscaled.n_keys
    panels = [
        ("score_variance", "variance of the scores", "Variance grows like d_k", "log",
         ("d_k (theory)", d)),
        ("max_weight", "mean largest weight", "Largest weight", "linear",
         (f"uniform (1/{n})", np.full(len(d), 1 / n))),
        ("entropy", "mean entropy (nats)", "Entropy of the weights", "linear",
         (f"uniform (ln {n})", np.full(len(d), math.log(n)))),
        ("grad_norm", "median ‖∂a/∂s‖", "Gradient (Frobenius norm)", "log", None),
    ]
    for ax, (field, ylabel, title, yscale, reference) in zip(axes, panels):
        for sw in (unscaled, scaled):
            ax.plot(d, getattr(sw, field), **styles[sw.scaled])
        if reference is not None:
            ax.plot(d, reference[1], color=COLOURS["grey"], lw=0.8, ls=":", label=reference[0])
        ax.set(xscale="log", yscale=yscale, xlabel="d_k", ylabel=ylabel)
        ax.set_title(title, fontsize=10)
        if yscale == "linear":
            ax.set_ylim(bottom=0)
        ax.legend(fontsize=_VALUE_FONT)
    return axes


# --------------------------------------------------------------------------- #
# chapter "Sizing and cost": time and memory against n
# --------------------------------------------------------------------------- #
def plot_cost(measurements, axes=None):
    """Time and peak memory of one attention call against the sequence length ``n``.

    Log-log axes, so that growth like ``n^2`` is a straight line (drawn dotted
    through the last point for reference). NumPy is dark with circles, PyTorch
    gold with squares, blockwise attention mid blue with triangles.

    Parameters
    ----------
    measurements : dict of numpy.ndarray
        As :func:`selfattn.bench.attention.cost_measurements` returns: ``n``,
        ``numpy_s``, ``torch_s``, ``plain_peak_bytes``, ``blockwise_peak_bytes``.
    axes : pair of matplotlib Axes, optional
        Defaults to a new page-wide figure with two panels.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes, shape (2,)

    Raises
    ------
    ValueError
        If ``measurements`` is not a dict, a key is missing, a series is not positive
        and finite, the series differ in length, or ``axes`` is not 2 Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from selfattn.plotting import plot_cost
    >>> n = np.array([128, 256])
    >>> ax_time, ax_memory = plot_cost({"n": n, "numpy_s": [1e-3, 4e-3], "torch_s": [1e-3, 3e-3],
    ...                                 "plain_peak_bytes": [2e6, 8e6], "blockwise_peak_bytes": [1e6, 2e6]})
    >>> ax_time.get_ylabel(), ax_memory.get_ylabel()
    ('time per call (ms)', 'peak memory (MiB)')
    """
    from matplotlib.ticker import NullLocator

    keys = ("n", "numpy_s", "torch_s", "plain_peak_bytes", "blockwise_peak_bytes")
    _checks.mapping(measurements, "measurements", "series (what cost_measurements returns)")
    missing = [key for key in keys if key not in measurements]
    if missing:
        raise ValueError(f"measurements lack {missing}; pass what cost_measurements returns")
    m = {key: _array(measurements[key], key, 1, "(one value per n,)") for key in keys}
    if len({len(v) for v in m.values()}) != 1 or min(float(v.min()) for v in m.values()) <= 0:
        raise ValueError(f"every series must hold one positive value per n, got lengths "
                         f"{ {key: len(v) for key, v in m.items()} }")
    if axes is None:
        _, axes = subplots(1, 2)
    ax_t, ax_m = _checks.axes_list(axes, "axes", 2)
    ns = m["n"]

    def like_n2(y):  # a line growing like n^2 through the last point
        return y[-1] * (ns / ns[-1]) ** 2

    ms, mib = m["numpy_s"] * 1e3, m["plain_peak_bytes"] / 2**20
    reference = dict(ls=":", color=COLOURS["grey"], label="grows like $n^2$")
    ax_t.loglog(ns, ms, "o-", color=COLOURS["dark"], label="selfattn (NumPy)")
    ax_t.loglog(ns, m["torch_s"] * 1e3, "s--", color=COLOURS["gold"], label="PyTorch")
    ax_t.loglog(ns, like_n2(ms), **reference)
    ax_t.set(xlabel="sequence length n", ylabel="time per call (ms)", title="Time (fastest run)")
    ax_m.loglog(ns, mib, "o-", color=COLOURS["dark"], label="plain attention")
    ax_m.loglog(ns, m["blockwise_peak_bytes"] / 2**20, "^-.", color=COLOURS["mid"], label="blockwise")
    ax_m.loglog(ns, like_n2(mib), **reference)
    ax_m.set(xlabel="sequence length n", ylabel="peak memory (MiB)", title="Memory of one call")
    for ax in (ax_t, ax_m):
        ax.xaxis.set_minor_locator(NullLocator())  # only the measured n, labelled in full
        ax.set_xticks(ns, [f"{n:g}" for n in ns])
        ax.legend(fontsize=_VALUE_FONT)
    return np.array([ax_t, ax_m])


# --------------------------------------------------------------------------- #
# chapter "Learned weight matrices": training and what it learned
# --------------------------------------------------------------------------- #
def plot_training_loss(losses, *, ax=None, title="Cross-entropy on the training mini-batches"):
    """The loss at each training step, on a log scale.

    Parameters
    ----------
    losses : array_like, shape (steps,)
        Positive losses, one per step (``TrainingResult.losses``).
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``losses`` is not 1-D, is empty, or holds a value that is not positive and
        finite, or ``ax`` is not an Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import plot_training_loss
    >>> ax = plot_training_loss([2.0, 0.5, 0.1])
    >>> ax.get_yscale(), ax.lines[0].get_ydata().tolist()
    ('log', [2.0, 0.5, 0.1])
    """
    y = _array(losses, "losses", 1, "(steps,)")
    if y.size == 0 or float(y.min()) <= 0:
        raise ValueError(f"losses must be positive, one per step, got {y.size} values with minimum "
                         f"{y.min() if y.size else None}")
    ax = _axes(ax, 6.0, 2.8)
    ax.semilogy(y, color=COLOURS["dark"])
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (log scale)")
    ax.set_title(title)
    return ax


def plot_attention_during_training(snapshots, watch, *, layer: int = 2, axes=None):
    """Small multiples: one heatmap per watched sentence, one row per recorded step.

    Parameters
    ----------
    snapshots : dict
        ``TrainingResult.snapshots``: ``{step: (w1_it, w2_it)}``.
    watch : list of Example
        The sentences the snapshots were recorded for.
    layer : {1, 2}
    axes : sequence of matplotlib Axes, optional (one per sentence)
        Defaults to a new page-wide figure, the sentences one above the other.

    Returns
    -------
    list of matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``snapshots`` is not a dict of pairs, ``watch`` not a list of examples,
        ``layer`` is not 1 or 2, there are no snapshots or no sentences, a snapshot has
        fewer rows than there are sentences, or ``axes`` is not one Axes per sentence.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from types import SimpleNamespace
    >>> from selfattn.plotting import plot_attention_during_training
    >>> watch = [SimpleNamespace(tokens=["the", "cat", "it"])]
    >>> snapshots = {0: ([[0.3, 0.3, 0.4]], [[0.5, 0.5, 0.0]]), 10: ([[0.1, 0.1, 0.8]], [[0.0, 1.0, 0.0]])}
    >>> (ax,) = plot_attention_during_training(snapshots, watch)
    >>> [t.get_text() for t in ax.get_yticklabels()], [t.get_text() for t in ax.texts][3:]
    (['step 0', 'step 10'], ['0.00', '1.00', '0.00'])
    """
    _checks.mapping(snapshots, "snapshots", "step -> (layer-1 rows, layer-2 rows)")
    watch = _checks.examples(watch, "watch", needs=("tokens",))
    layer = _checks.positive_int(layer, "layer")
    if layer not in (1, 2) or not snapshots or not watch:
        raise ValueError(f"need layer 1 or 2, at least one snapshot and one sentence, got layer={layer}, "
                         f"{len(snapshots)} snapshots, {len(watch)} sentences")
    steps = sorted(snapshots)
    for s in steps:
        _checks.pair(snapshots[s], f"snapshots[{s}]", "a pair (layer-1 rows, layer-2 rows)")
    short = [s for s in steps if len(snapshots[s][layer - 1]) < len(watch)]
    if short:
        raise ValueError(f"the snapshots of steps {short} hold fewer rows than the {len(watch)} sentences "
                         f"watched; pass the watch list the snapshots were recorded for")
    if axes is None:
        _, axes = subplots(len(watch), 1, height=len(watch) * (0.42 * len(steps) + 1.9))
    axes = _checks.axes_list(axes, "axes", len(watch))
    for i, (ex, ax) in enumerate(zip(watch, axes)):
        rows = np.stack([np.asarray(snapshots[s][layer - 1][i]) for s in steps])  # (n_steps, n)
        attention_heatmap(rows, [f"step {s}" for s in steps], list(ex.tokens), ax=ax, vmax=1.0,
                          title=f'"it" in: ...{" ".join(ex.tokens[-4:])}')
        ax.set_ylabel("training step")
        ax.set_xlabel("word")
    return list(axes)


def plot_weight_matrices(before: dict, after: dict, names, *, fmt: str = "{:.1f}"):
    """Heatmaps of weight matrices, before (top row) and after (bottom row) training.

    Panels are as wide as their matrices have columns, on one colour scale
    symmetric around 0, with every entry printed.

    Parameters
    ----------
    before, after : dict of name -> ndarray (2-D)
        For example ``TrainingResult.initial`` and ``CorefModel.matrices()``.
    names : sequence of str
        The matrices to show, in order.
    fmt : str, default ``"{:.1f}"``

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``before`` or ``after`` is not a dict, ``names`` is not a list or is empty,
        a name is missing, a matrix is not 2-D and finite or changed shape, or ``fmt``
        does not format a number.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from selfattn.plotting import plot_weight_matrices
    >>> fig = plot_weight_matrices({"W": np.zeros((2, 2))}, {"W": np.eye(2)}, ["W"])
    >>> [t.get_text() for t in fig.axes[1].texts]
    ['1.0', '0.0', '0.0', '1.0']
    """
    before = _checks.mapping(before, "before", "matrices (name -> 2-D array)")
    after = _checks.mapping(after, "after", "matrices (name -> 2-D array)")
    names, fmt = _checks.sequence(names, "names", "matrix names"), _checks.format_string(fmt, "fmt", "{:.1f}")
    if not names:
        raise ValueError("names must list at least one matrix, got none")
    for name in names:
        if name not in before or name not in after or np.shape(before[name]) != np.shape(after[name]):
            raise ValueError(f"matrix {name!r} must exist with the same shape before and after training")
    mats = {label: {n: _array(m[n], n, 2, "(rows, columns)") for n in names}
            for label, m in (("before", before), ("after", after))}
    widths = [mats["before"][n].shape[1] for n in names]
    fig, axes = subplots(2, len(names), height=7.0, squeeze=False, width_ratios=widths)
    lim = max(float(np.abs(m).max()) for by_name in mats.values() for m in by_name.values()) or 1.0
    for row, label in enumerate(("before", "after")):
        for col, name in enumerate(names):
            ax, m = axes[row, col], mats[label][name]
            im = ax.imshow(m, cmap=CMAP, vmin=-lim, vmax=lim, aspect="auto")
            for (i, j), value in np.ndenumerate(m):
                _cell_text(ax, i, j, value, fmt.format(value), 0.0)
            ax.set_title(f"{name}\n{label} {m.shape}", fontsize=10)
            ax.set_xticks(range(m.shape[1]))
            ax.set_yticks(range(m.shape[0]))
            ax.set_xlabel("output")
            if col == 0:
                ax.set_ylabel("input (row)")
    fig.colorbar(im, ax=axes, shrink=0.6)
    return fig


#: Where a point's label may go, in points from the point, tried in this order.
_LABEL_OFFSETS = [(4, 3, "left"), (4, -12, "left"), (-4, 3, "right"), (-4, -12, "right"),
                  (4, 12, "left"), (-4, 12, "right"), (4, -21, "left"), (-4, -21, "right")]


def _label_points(ax, words, points) -> None:
    """Label each point with its word, moving a label around its point until it overlaps no other."""
    renderer = ax.figure.canvas.get_renderer()
    ax.figure.draw_without_rendering()  # final axes limits and layout, so that label boxes are right
    placed = []
    for word, point in zip(words, points):
        for dx, dy, ha in _LABEL_OFFSETS:
            label = ax.annotate(word, tuple(point), xytext=(dx, dy), textcoords="offset points",
                                ha=ha, fontsize=_VALUE_FONT)
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
            label.remove()
        else:  # every place is taken: keep the first one
            label = ax.annotate(word, tuple(point), xytext=_LABEL_OFFSETS[0][:2], textcoords="offset points",
                                fontsize=_VALUE_FONT)
            box = label.get_window_extent(renderer)
        placed.append(box)


def plot_keys_and_queries(vectors, kinds, *, ax=None, title='Layer-2 keys of the nouns and queries of "it"'):
    """Scatter the keys of the nouns and the queries of "it" in their 2-D space.

    Keys are filled markers, queries hollow ones; each kind (for example animals
    and objects) has its own colour and marker shape, and every point is labelled
    with its word.

    Parameters
    ----------
    vectors : dict
        As :func:`selfattn.training.point_layer_vectors` returns: ``keys``
        ``(m, 2)`` with their ``nouns``, ``queries`` ``(p, 2)`` with their ``adjectives``.
    kinds : dict of str -> sequence of str
        At most two kinds, each with its words (nouns and adjectives); every noun
        and adjective must belong to exactly one.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``vectors`` or ``kinds`` is not a dict (of lists of words), a vector set is
        not ``(count, 2)`` and finite, the labels do not match it, there are more than
        two kinds, a word has no kind or several, or ``ax`` is not an Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import plot_keys_and_queries
    >>> vectors = {"keys": [[1.0, 0.0], [0.0, 1.0]], "nouns": ["cat", "mat"],
    ...            "queries": [[0.9, 0.1]], "adjectives": ["tired"]}
    >>> ax = plot_keys_and_queries(vectors, {"animal": ["cat", "tired"], "object": ["mat"]})
    >>> sorted(t.get_text() for t in ax.texts)
    ['cat', 'mat', 'tired']
    """
    _checks.mapping(vectors, "vectors",
                    "keys, nouns, queries and adjectives (what point_layer_vectors returns)")
    kinds = {kind: _checks.labels(members, f"kinds[{kind!r}]")  # words, not one string read letter by letter
             for kind, members in _checks.mapping(kinds, "kinds", "kind -> words").items()}
    missing = [key for key in ("keys", "nouns", "queries", "adjectives") if key not in vectors]
    if missing:
        raise ValueError(f"vectors lack {missing}; pass what selfattn.training.point_layer_vectors returns")
    keys = _array(vectors["keys"], "keys", 2, "(nouns, 2)")
    queries = _array(vectors["queries"], "queries", 2, "(adjectives, 2)")
    words = {"keys": list(vectors["nouns"]), "queries": list(vectors["adjectives"])}
    for name, points in (("keys", keys), ("queries", queries)):
        if points.shape[1] != 2 or len(words[name]) != len(points):
            raise ValueError(f"{name} must have shape ({len(words[name])}, 2), one row per word, "
                             f"got {points.shape}")
    if not 1 <= len(kinds) <= 2:
        raise ValueError(f"kinds must hold one or two kinds, got {len(kinds)}: {list(kinds)}")
    kind_of = {}
    for word in words["keys"] + words["queries"]:
        owners = [kind for kind, members in kinds.items() if word in members]
        if len(owners) != 1:
            raise ValueError(f"word {word!r} must belong to exactly one of the kinds {list(kinds)}, "
                             f"found in {owners}")
        kind_of[word] = owners[0]
    ax = _axes(ax, 6.5, 5.5)
    looks = zip(kinds, (COLOURS["dark"], COLOURS["gold"]), (("o", "^"), ("s", "v")))
    for kind, colour, (key_marker, query_marker) in looks:
        k = keys[[kind_of[w] == kind for w in words["keys"]]]
        q = queries[[kind_of[w] == kind for w in words["queries"]]]
        ax.scatter(*k.T, marker=key_marker, s=60, color=colour, edgecolor=COLOURS["ink"],
                   label=f"keys: {kind} nouns")
        ax.scatter(*q.T, marker=query_marker, s=60, color=COLOURS["paper"], edgecolor=colour,
                   linewidth=2, label=f'queries of "it": {kind} adjectives')
    _label_points(ax, words["keys"] + words["queries"], np.vstack([keys, queries]))
    ax.axhline(0, color=COLOURS["grey"], linewidth=0.5)
    ax.axvline(0, color=COLOURS["grey"], linewidth=0.5)
    ax.set_xlabel("dimension 1")
    ax.set_ylabel("dimension 2")
    ax.legend(fontsize=_VALUE_FONT, loc="best")
    ax.set_title(title)
    return ax


# --------------------------------------------------------------------------- #
# ---- ch7 ---- chapter "Sizing and cost": the model table
# --------------------------------------------------------------------------- #
def plot_width_and_heads(rows, *, ax=None):
    """Width ``d_model`` against number of heads for the models of the table.

    One point per distinct ``(d_model, n_heads)``, labelled with its head size;
    heads of 64 are dark circles, other sizes gold triangles, and a dotted line
    marks ``n_heads = d_model / 64``. Both axes are logarithmic (base 2). Rows
    without a width or a number of heads (GPT-4) are left out.

    Parameters
    ----------
    rows : list of dict
        As :func:`selfattn.models.load_models` returns: ``d_model``,
        ``n_heads`` and ``head_dim`` (int or None).
    ax : matplotlib Axes, optional
        Defaults to a new page-wide figure.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``rows`` is not a list of such dicts, none has both sizes, or ``ax``
        is not an Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.models import load_models
    >>> from selfattn.plotting import plot_width_and_heads
    >>> ax = plot_width_and_heads(load_models())
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('width d_model', 'number of heads')
    """
    rows = _checks.records(rows, "rows")
    points = {}
    for r in rows:
        d, h, hd = r.get("d_model"), r.get("n_heads"), r.get("head_dim")
        if d is not None and h is not None:
            points[(int(d), int(h))] = None if hd is None else int(hd)
    if not points:
        raise ValueError("rows hold no model with both d_model and n_heads; "
                         "pass what load_models returns")
    ax = _axes(ax, PAGE_WIDTH, _HEIGHT["plane"])
    ds = np.array([d for d, _ in points])
    line = np.geomspace(ds.min(), ds.max(), 50)
    ax.plot(line, line / 64, ":", color=COLOURS["grey"], label="head size 64: heads = d_model / 64")
    for is64, marker, colour, label in ((True, "o", "dark", "head size 64"),
                                        (False, "^", "gold", "other head size")):
        xy = [(d, h) for (d, h), hd in points.items() if (hd == 64) == is64]
        if xy:
            x, y = zip(*xy)
            ax.plot(x, y, marker, ls="none", color=COLOURS[colour], markersize=8, label=label)
    for (d, h), hd in points.items():
        ax.annotate("?" if hd is None else str(hd), (d, h), xytext=(6, -12),
                    textcoords="offset points", fontsize=_VALUE_FONT)
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    for axis, top in ((ax.xaxis, ds.max()), (ax.yaxis, max(h for _, h in points))):
        ticks = [2**k for k in range(1, 15) if 2 ** (k - 1) <= top]
        axis.set_ticks(ticks, [str(t) for t in ticks])
        axis.set_minor_locator(NullLocator())
    ax.set_xlim(ds.min() / 1.3, ds.max() * 1.3)
    ax.set_ylim(min(h for _, h in points) / 1.5, max(h for _, h in points) * 1.5)
    ax.set(xlabel="width d_model", ylabel="number of heads",
           title="Wider models have more heads (label: head size)")
    ax.legend(fontsize=_VALUE_FONT, loc="upper left")
    return ax


__all__.append("plot_width_and_heads")


# --------------------------------------------------------------------------- #
# chapter "Where is each word? Positions"
# --------------------------------------------------------------------------- #
def plot_position_map(values, *, ax=None, title=None, xlabel="column", ylabel="position",
                      vmin=None, vmax=None, colorbar_label=None):
    """Heatmap of a large matrix indexed by position: a position table or a similarity map.

    Too many cells to print their values, so a colour bar reads them; row 0 is at the top, as
    in a table. Used for the sinusoidal table ``(n, d)`` and for the cosine similarity of
    position vectors ``(n, n)``.

    Parameters
    ----------
    values : array_like, shape (n_rows, n_cols)
    ax : matplotlib.axes.Axes, optional
        Defaults to a new page-wide figure.
    title : str, optional
    xlabel, ylabel : str, default "column" and "position"
    vmin, vmax : float, optional
        Colour range; defaults to the smallest and largest value.
    colorbar_label : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``values`` is not 2-D or holds NaN or inf, ``ax`` is not an Axes, or ``vmin`` /
        ``vmax`` is not a finite number (``vmax`` above ``vmin``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import plot_position_map
    >>> ax = plot_position_map([[0.0, 1.0], [1.0, -1.0]], title="a table")
    >>> ax.images[0].get_array().shape, ax.get_ylabel()
    ((2, 2), 'position')
    """
    v = _array(values, "values", 2, "(n_rows, n_cols)")
    lo = float(v.min()) if vmin is None else vmin
    hi = float(v.max()) if vmax is None else vmax
    if hi <= lo and vmin is None and vmax is None:
        hi = lo + 1e-12  # a constant matrix: any range shows it
    lo, hi = _checks.value_range(lo, hi)
    ax = _axes(ax, PAGE_WIDTH, _HEIGHT["row"])
    im = ax.imshow(v, cmap=CMAP, vmin=lo, vmax=hi, aspect="auto", interpolation="nearest")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    bar = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if colorbar_label:
        bar.set_label(colorbar_label)
    return ax


#: Line styles of the series of :func:`plot_score_by_distance`, so that no series relies on colour.
_SERIES_STYLES = (("dark", "-"), ("gold", "--"), ("mid", "-."), ("grey", ":"))


def plot_score_by_distance(distances, scores, labels, *, ax=None, title=None,
                           ylabel="score", xlabel="distance m - n (positions)"):
    """One line per series: a score (or bias) against the distance between two positions.

    Parameters
    ----------
    distances : array_like, shape (n,)
    scores : array_like, shape (s, n)
        One row per series.
    labels : sequence of str, length s
        The legend entry of each series (at most 4 series, each in its own colour and line style).
    ax : matplotlib.axes.Axes, optional
    title, ylabel, xlabel : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``distances`` is not 1-D, ``scores`` is not 2-D with one column per distance, either
        holds NaN or inf, the labels are not a list of one string per series, there are more
        than 4 series, or ``ax`` is not an Axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from selfattn.plotting import plot_score_by_distance
    >>> ax = plot_score_by_distance([0, 1, 2], [[3.0, 2.0, 1.0]], ["q . k"])
    >>> line = ax.lines[1]  # ax.lines[0] is the zero line
    >>> line.get_ydata().tolist(), ax.get_legend().get_texts()[0].get_text()
    ([3.0, 2.0, 1.0], 'q . k')
    """
    x = _array(distances, "distances", 1, "(n,)")
    y = _array(scores, "scores", 2, "(s, n): one row per series")
    labels = _checks.labels(labels, "labels")
    if y.shape[1] != x.shape[0]:
        raise ValueError(f"scores of shape {y.shape} need one column per distance ({x.shape[0]})")
    if len(labels) != y.shape[0]:
        raise ValueError(f"{len(labels)} labels for {y.shape[0]} series (rows of scores)")
    if y.shape[0] > len(_SERIES_STYLES):
        raise ValueError(f"at most {len(_SERIES_STYLES)} series can be told apart, got {y.shape[0]}")
    ax = _axes(ax, PAGE_WIDTH, _HEIGHT["curve"])
    ax.axhline(0.0, color=COLOURS["grey"], lw=0.8)
    for row, label, (colour, style) in zip(y, labels, _SERIES_STYLES):
        ax.plot(x, row, style, color=COLOURS[colour], label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=_VALUE_FONT)
    return ax


__all__ += ["plot_position_map", "plot_score_by_distance"]
