"""The attention explorer: drag embedding values and watch the attention weights change.

One widget, configured per chapter. It shows a query-word picker, sliders for the
embedding values of a few words, a heatmap of all attention weights (values printed,
cividis colours) and a bar list of the chosen query word's weights.

Where it computes
-----------------
The view is an `anywidget <https://anywidget.dev>`_ whose JavaScript
(``selfattn/static/explorer.js``) recomputes ``Q = X W_q``, ``K``, ``V``, the scores
and the stable masked softmax in the browser, in float64, exactly as
:func:`selfattn.scaled_dot_product_attention` does. The widget state is saved in the
executed notebook, so in the HTML book the explorer keeps responding with no kernel.

With a kernel (JupyterLab, Binder), Python holds the same state in traitlets and
recomputes :attr:`AttentionExplorer.weights` with ``selfattn`` on every change, so
code (and the tests) can drive the widget without a browser. Pass your own
``attention`` function and Python uses it instead; the view then shows the weights
your function returns (mode ``"python"``), or a readable message if it fails.
Your own function needs a kernel: on a static page the explorer says so, shows
``selfattn``'s weights computed in the browser instead, and shows the message your
function produced when the page was built, if any.

Examples
--------
Chapter "Query" (only the embedding sliders):

>>> from selfattn.widgets import AttentionExplorer
>>> explorer = AttentionExplorer()          # the running example, query "it"
>>> explorer.tokens[explorer.query_index], explorer.words
('it', [7, 1, 5])
>>> round(explorer.weight("it", "cat"), 3)
0.403

Dragging the slider "cat: animate" down to 0 is the same as:

>>> explorer.set_value("cat", "animate", 0.0)
>>> round(explorer.weight("it", "cat"), 3)
0.175

Chapter "Scaled dot-product attention" (scale slider and mask as well):

>>> explorer = AttentionExplorer(query="cat", controls=("embedding", "scale", "mask"))
>>> round(explorer.scale, 4)                # 1 / sqrt(d_k) with d_k = 3
0.5774
>>> explorer.mask = "causal"                # "cat" now sees only "The" and itself
>>> [round(w, 3) for w in explorer.weights[1][:3]]
[0.5, 0.5, 0.0]

An exercise: plug in your own attention function.

>>> import numpy as np
>>> def my_attention(q, k, v, mask=None, scale=None):
...     scores = q @ k.T / np.sqrt(k.shape[-1])
...     w = np.exp(scores) / np.exp(scores).sum(axis=0)   # oops: the wrong axis
...     return w @ v, w
>>> explorer = AttentionExplorer(attention=my_attention)
>>> explorer.mode
'python'
>>> print(explorer.error)  # doctest: +NORMALIZE_WHITESPACE
Your attention function returned weights whose rows do not sum to 1: row 0 ("The")
sums to 0.8533. Softmax must normalise over the keys (the last axis), so that each
query's weights sum to 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import anywidget
import numpy as np
import traitlets

from . import _checks
from .attention import SelfAttention, causal_mask, scaled_dot_product_attention
from .example import FEATURES, SENTENCE, embed, tokenize
from .example import matrices as example_matrices

__all__ = ["AttentionExplorer", "CONTROLS", "view_source"]

#: The controls a chapter can switch on.
CONTROLS = ("embedding", "scale", "mask")
#: The masks the explorer offers.
MASKS = ("none", "causal")

_STATIC = Path(__file__).parent / "static"


def view_source(name: str) -> str:
    """The ES module of a view: ``static/common.js`` (what the views share), then ``static/<name>``.

    anywidget loads ``_esm`` from a string, where a relative ``import`` has nothing to resolve
    against; putting the shared file first gives every view one copy of the shared functions.
    The node tests run this same text.

    Examples
    --------
    >>> from selfattn.widgets import view_source
    >>> src = view_source("explorer.js")
    >>> "export function matmul" in src and "export default { render }" in src
    True
    """
    return "".join((_STATIC / f).read_text(encoding="utf-8") for f in ("common.js", name))


def _matrix(a) -> list:
    """A float matrix as a list of lists of Python floats (what the traitlets sync)."""
    return [[float(x) for x in row] for row in np.asarray(a, dtype=np.float64)]


def _as_list(value) -> list:
    """``value`` as a list: a string or a single (non-iterable) value becomes a list of one."""
    return [value] if isinstance(value, str) or not isinstance(value, Iterable) else list(value)


def _returned_array(a, what: str) -> np.ndarray:
    """What a learner's function returned, as a float64 array (a torch tensor is detached first)."""
    if _checks.is_tensor(a):
        a = a.detach().cpu().numpy()  # the view shows numbers: a tensor that requires grad is fine
    return _checks.float_array(a, what).astype(np.float64, copy=False)


def _changed_in_place(name: str, before: np.ndarray, after: np.ndarray) -> str:
    """A message if the learner's function wrote into its argument ``name``, else ""."""
    if before.shape == after.shape and np.array_equal(before, after):
        return ""
    where = ""
    if before.shape == after.shape:
        idx = tuple(int(i) for i in np.argwhere(before != after)[0])
        where = f" (entry {idx} was {before[idx]}, is now {after[idx]})"
    fix = ("read the mask, e.g. `np.where(mask, scores, -np.inf)`, and never assign into it"
           if name == "mask" else f"`{name} = {name} * scale`, not `{name} *= scale` or `{name}[...] = ...`")
    return (f"Your attention function changed its argument {name} in place{where}, so the caller's {name} "
            f"changes too. Leave the inputs as they are and build new arrays instead: {fix}.")


class AttentionExplorer(anywidget.AnyWidget):
    """Interactive attention on a sentence: pick a query word, drag embedding values.

    Parameters
    ----------
    sentence : str or list of str, optional
        The words; default the running example "The cat sat on the mat because it
        was tired". Every word must be in :data:`selfattn.example.VOCAB`.
    query : str or int, default "it"
        The query word whose weights the bar list shows (a word of the sentence,
        or its position).
    words : sequence of str or int, optional
        The words that get embedding sliders (one slider per feature of
        :data:`selfattn.example.FEATURES`); default the query word, "cat" and
        "mat" (those of them that are in the sentence).
    controls : sequence of {"embedding", "scale", "mask"}, default ("embedding",)
        Which controls to show: the embedding sliders, a slider for the score
        multiplier (with a reset to ``1/sqrt(d_k)``), and the choice of mask
        (none or causal).
    attention : callable, optional
        Your own ``fn(q, k, v, mask=None, scale=None) -> (output, weights)``, used
        in Python instead of :func:`selfattn.scaled_dot_product_attention`.
        It gets copies of ``q``, ``k``, ``v`` (NumPy arrays) and of the boolean
        mask, and may return NumPy arrays, lists or torch tensors (a tensor that
        requires grad is fine). The view then shows the weights it returns; if it
        raises anything, returns something that is not two arrays of the right
        shapes, returns rows that do not sum to 1, or changes its inputs in place,
        nothing is raised into the notebook: :attr:`error` explains why.
    matrices : tuple of array_like, optional
        ``(W_q, W_k, W_v)`` of shapes ``(5, d_k)``, ``(5, d_k)``, ``(5, d_v)``;
        default the hand-set matrices of :mod:`selfattn.example`.
    scale : float, optional
        Initial score multiplier, any finite number; default ``1/sqrt(d_k)``.
    mask : {"none", "causal"}, default "none"

    Attributes
    ----------
    tokens : list of str
    X : list of list of float, shape (n, 5)
        The embeddings; a slider sets one entry.
    W_q, W_k, W_v : list of list of float
    query_index : int
    scale, default_scale : float
    mask : str
    weights : list of list of float, shape (n, n)
        Recomputed in Python on every change (empty if your function failed).
    error : str
        Why your function's result cannot be shown ("" if all is well).
    note : str
        How far your function's weights are from ``selfattn``'s ("" if they agree).
    mode : {"browser", "python"}
        Whose weights the view shows: its own, computed in the browser, or
        Python's (when you passed ``attention``).

    Raises
    ------
    ValueError
        If ``sentence`` is neither a string nor a list of words (or has no word),
        a word is not in the vocabulary, the query or a slider word is not in
        the sentence (or its position is not a whole number inside it), a
        control or mask is unknown, ``attention`` is not callable, the scale is
        not a finite number, or ``matrices`` is not three finite matrices of
        agreeing shapes with ``d_k >= 1``.
    """

    _esm = view_source("explorer.js")
    _css = (_STATIC / "explorer.css").read_text(encoding="utf-8")

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    features = traitlets.List(traitlets.Unicode()).tag(sync=True)
    X = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    W_q = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    W_k = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    W_v = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    query_index = traitlets.Int(0).tag(sync=True)
    words = traitlets.List(traitlets.Int()).tag(sync=True)
    controls = traitlets.List(traitlets.Unicode()).tag(sync=True)
    scale = traitlets.Float(1.0).tag(sync=True)
    default_scale = traitlets.Float(1.0).tag(sync=True)
    scale_max = traitlets.Float(3.0).tag(sync=True)
    mask = traitlets.Unicode("none").tag(sync=True)
    slider_min = traitlets.Float(-2.0).tag(sync=True)
    slider_max = traitlets.Float(2.0).tag(sync=True)
    slider_step = traitlets.Float(0.05).tag(sync=True)
    mode = traitlets.Unicode("browser").tag(sync=True)
    weights = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)

    def __init__(self, sentence=None, query="it", words=None, controls=("embedding",), attention=None,
                 *, matrices=None, scale=None, mask="none"):
        if sentence is None or isinstance(sentence, str):
            tokens = tokenize(SENTENCE if sentence is None else sentence)
        else:
            tokens = list(_checks.words(sentence, "sentence", "a string or a list of words"))
        X = embed(tokens)  # (n, d_model); raises ValueError naming unknown words
        if matrices is None:
            matrices = example_matrices()
        elif not isinstance(matrices, (tuple, list)) or len(matrices) != 3:
            got = f" of length {len(matrices)}" if isinstance(matrices, (tuple, list)) else ""
            raise ValueError(f"matrices must be a tuple of three matrices (W_q, W_k, W_v), "
                             f"got {type(matrices).__name__}{got}")
        layer = SelfAttention.from_matrices(*matrices)  # refuses d_k = 0, so the scale below exists
        if layer.d_model != X.shape[1]:
            raise ValueError(
                f"the matrices must have d_model = {X.shape[1]} rows (one per feature), "
                f"got W_q {layer.W_q.shape}, W_k {layer.W_k.shape}, W_v {layer.W_v.shape}"
            )
        query_index = self._position(query, tokens, "query")
        if words is None:
            words = [query_index] + [tokens.index(w) for w in ("cat", "mat")
                                     if w in tokens and tokens.index(w) != query_index]
        words = list(dict.fromkeys(self._position(w, tokens, "words") for w in _as_list(words)))
        controls = [_checks.choice(c, "control", CONTROLS) for c in _as_list(controls)]
        mask = _checks.choice(mask, "mask", MASKS)
        if attention is not None and not callable(attention):
            raise ValueError(f"attention must be a function fn(q, k, v, mask=None, scale=None), "
                             f"got {type(attention).__name__}")
        default_scale = _checks.scale(None, layer.d_k)
        scale = _checks.scale(scale, layer.d_k)
        self._attention = attention
        self._ready = False  # no recomputation while __init__ sets the traits one by one
        super().__init__(
            tokens=list(tokens), features=list(FEATURES), X=_matrix(X),
            W_q=_matrix(layer.W_q), W_k=_matrix(layer.W_k), W_v=_matrix(layer.W_v),
            query_index=query_index, words=words, controls=list(dict.fromkeys(controls)),
            scale=scale, default_scale=default_scale,
            scale_max=max(3.0, 2 * scale), mask=mask,
            mode="browser" if attention is None else "python",
        )
        self._ready = True
        self._recompute()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _position(word, tokens, what) -> int:
        """Index of ``word`` (a word or a position) in ``tokens``; ValueError naming it otherwise."""
        if isinstance(word, str):
            lower = [t.lower() for t in tokens]
            if word in tokens:
                return tokens.index(word)
            if word.lower() in lower:
                return lower.index(word.lower())
            raise ValueError(f"{what}: the word {word!r} is not in the sentence {tokens}")
        i = _checks.positive_int(word, f"{what} (a word of the sentence or its position)", minimum=0)
        if i >= len(tokens):
            raise ValueError(f"{what}: position {i} is outside the sentence of {len(tokens)} words {tokens}")
        return i

    @property
    def embedding(self) -> np.ndarray:
        """The current embeddings as an array of shape ``(n, d_model)``."""
        return np.array(self.X, dtype=np.float64)

    def set_value(self, word, feature, value: float) -> None:
        """Set one embedding value, exactly as dragging its slider does.

        Parameters
        ----------
        word : str or int
            A word of the sentence, or its position (0 is the first word).
        feature : str or int
            A name from :data:`selfattn.example.FEATURES`, or its index (a whole
            number: ``1.9`` and ``True`` are refused, not read as 1).
        value : float
            The new embedding value; any finite number.

        Raises
        ------
        ValueError
            If the word is not in the sentence, the feature is unknown or its
            index is not a whole number from 0 to ``len(FEATURES) - 1``, or
            ``value`` is not a finite number.

        Examples
        --------
        >>> from selfattn.widgets import AttentionExplorer
        >>> explorer = AttentionExplorer()
        >>> explorer.set_value("cat", 1, 0.5)       # feature 1 is "animate"
        >>> explorer.X[1]
        [1.0, 0.5, 0.0, 0.0, 0.0]
        >>> explorer.set_value("cat", 1.9, 0.5)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: feature (a name or its index) must be a whole number..., got 1.9 (float)
        """
        i = self._position(word, self.tokens, "word")
        if isinstance(feature, str):
            f = self.features.index(_checks.choice(feature, "feature", self.features))
        else:
            f = _checks.positive_int(feature, "feature (a name or its index)", minimum=0)
            f = _checks.choice(f, "feature index", range(len(self.features)))
        value = _checks.finite_number(value, "value")
        X = [row[:] for row in self.X]  # a new list, so that traitlets sees the change
        X[i][f] = value
        self.X = X

    def weight(self, query, key) -> float:
        """The weight of ``query`` on ``key`` as the widget has it.

        Parameters
        ----------
        query, key : str or int
            Words of the sentence, or their positions.

        Returns
        -------
        float
            Row ``query``, column ``key`` of :attr:`weights`.

        Raises
        ------
        ValueError
            If a word is not in the sentence or a position is outside it.
        IndexError
            If :attr:`weights` is empty (your function failed; see :attr:`error`).

        Examples
        --------
        >>> from selfattn.widgets import AttentionExplorer
        >>> round(AttentionExplorer().weight("it", 1), 3)   # position 1 is "cat"
        0.403
        """
        i = self._position(query, self.tokens, "query")
        j = self._position(key, self.tokens, "key")
        return self.weights[i][j]

    # ------------------------------------------------------------------ validation of synced values
    @traitlets.validate("mask")
    def _valid_mask(self, proposal):
        try:
            return _checks.choice(proposal["value"], "mask", MASKS)
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None

    @traitlets.validate("query_index")
    def _valid_query(self, proposal):
        try:
            i = _checks.positive_int(proposal["value"], "query_index", minimum=0)
            return _checks.choice(i, "query_index", range(len(self.tokens)))
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None

    # ------------------------------------------------------------------ recomputation
    @traitlets.observe("X", "W_q", "W_k", "W_v", "scale", "mask")
    def _on_change(self, change):
        if getattr(self, "_ready", False):
            self._recompute()

    def _recompute(self) -> None:
        X = np.asarray(self.X, dtype=np.float64)  # (n, d_model)
        W_q, W_k, W_v = (np.asarray(m, dtype=np.float64) for m in (self.W_q, self.W_k, self.W_v))
        weights, error, note = [], "", ""
        try:
            q, k, v = X @ W_q, X @ W_k, X @ W_v  # (n, d_k), (n, d_k), (n, d_v)
            mask = causal_mask(len(X)) if self.mask == "causal" else None
            out_ref, w_ref = scaled_dot_product_attention(q, k, v, mask=mask, scale=self.scale)  # (n, n)
        except ValueError as exc:
            error = f"These values cannot be used: {exc}"
        else:
            if self._attention is None:
                weights = w_ref.tolist()
            else:
                w, error = self._run_learner(q, k, v, mask, out_ref.shape)
                if not error:
                    weights = w.tolist()
                    note = self._compare(w, w_ref)
        with self.hold_sync():
            self.weights = weights
            self.error = error
            self.note = note

    def _run_learner(self, q, k, v, mask, out_shape):
        """Call the learner's function; return (weights, "") or (None, a readable message).

        Nothing the function does escapes into the notebook: whatever it raises, returns or
        writes into its inputs becomes the message. It gets copies of q, k, v and the mask, so
        a write into them is seen by comparing them with the originals afterwards.
        """
        n = len(q)
        args = {"q": q.copy(), "k": k.copy(), "v": v.copy(), "mask": None if mask is None else mask.copy()}
        try:
            result = self._attention(args["q"], args["k"], args["v"], mask=args["mask"], scale=self.scale)
        except Exception as exc:  # the learner's code may raise anything: show it, never crash
            return None, f"Your attention function raised {type(exc).__name__}: {exc}"
        for name, original in (("q", q), ("k", k), ("v", v), ("mask", mask)):
            if original is not None and (message := _changed_in_place(name, original, args[name])):
                return None, message
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return None, (f"Your attention function must return (output, weights), "
                          f"got {type(result).__name__}" + (f" of length {len(result)}"
                                                            if isinstance(result, (tuple, list)) else ""))
        try:
            output = _returned_array(result[0], "output")
            w = _returned_array(result[1], "weights")
        except Exception as exc:  # anything, e.g. a RuntimeError from an object's __array__
            return None, (f"Your attention function returned something that cannot be read as an array "
                          f"of numbers ({type(exc).__name__}: {exc})")
        if w.shape != (n, n):
            return None, (f"Your attention function returned weights of shape {w.shape}; expected {(n, n)}: "
                          f"one row per query word and one column per key word.")
        if output.shape != out_shape:
            return None, (f"Your attention function returned an output of shape {output.shape}; "
                          f"expected {out_shape}: one row per word, d_v = {out_shape[1]} columns.")
        if not np.isfinite(w).all():
            i, j = (int(a) for a in np.argwhere(~np.isfinite(w))[0])
            return None, (f"Your attention function returned a non-finite weight {w[i, j]} at row {i} "
                          f"({self.tokens[i]!r}), column {j} ({self.tokens[j]!r}).")
        if (w < -1e-12).any():
            i, j = (int(a) for a in np.argwhere(w < -1e-12)[0])
            return None, (f"Your attention function returned a negative weight {w[i, j]:.4g} at row {i} "
                          f"({self.tokens[i]!r}), column {j} ({self.tokens[j]!r}); "
                          f"weights are never negative.")
        sums = w.sum(axis=-1)  # (n,)
        bad = np.abs(sums - 1.0) > 1e-6
        if bad.any():
            i = int(np.argmax(bad))
            return None, (f"Your attention function returned weights whose rows do not sum to 1: row {i} "
                          f"(\"{self.tokens[i]}\") sums to {sums[i]:.4f}. Softmax must normalise over "
                          f"the keys (the last axis), so that each query's weights sum to 1.")
        if mask is not None:
            leak = (~mask) & (np.abs(w) > 1e-9)
            if leak.any():
                i, j = (int(a) for a in np.argwhere(leak)[0])
                return None, (f"The mask forbids \"{self.tokens[i]}\" (row {i}) to attend to the later word "
                              f"\"{self.tokens[j]}\" (column {j}), but your weight there is {w[i, j]:.4g}.")
        return w, ""

    def _compare(self, w, w_ref) -> str:
        diff = np.abs(w - w_ref)  # (n, n)
        if diff.max() <= 1e-6:
            return ""
        i, j = (int(a) for a in np.unravel_index(np.argmax(diff), diff.shape))
        return (f"Your weights differ from selfattn's by up to {diff[i, j]:.4f} (query \"{self.tokens[i]}\", "
                f"key \"{self.tokens[j]}\": yours {w[i, j]:.4f}, selfattn's {w_ref[i, j]:.4f}).")


# ====================================================================================== #
# The head explorer: every head of a pretrained model (all-MiniLM-L6-v2) on a few sentences
# ====================================================================================== #

#: The sentences the head explorer precomputes: the seed's pair, its street pair and a
#: Winograd pair (Levesque et al., 2012). In each pair one word changes who "it" is.
HEAD_EXPLORER_SENTENCES = (
    "The cat sat on the mat because it was tired.",
    "The cat sat on the mat because it was dirty.",
    "The animal didn't cross the street because it was too tired.",
    "The animal didn't cross the street because it was too wide.",
    "The trophy didn't fit in the suitcase because it was too big.",
    "The trophy didn't fit in the suitcase because it was too small.",
)
#: The longest sentence the head explorer shows, in tokens with [CLS] and [SEP] (its heatmap
#: has one column per token; every sentence adds 6 x 12 x n^2 float32 numbers to the page).
HEAD_EXPLORER_MAX_TOKENS = 40

__all__ += ["HeadExplorer", "HEAD_EXPLORER_SENTENCES", "HEAD_EXPLORER_MAX_TOKENS"]


def _default_query(tokens) -> int:
    """Position of the first "it" in ``tokens``, else the first word after [CLS] (explorer.js: defaultQuery)."""
    return tokens.index("it") if "it" in tokens else min(1, len(tokens) - 1)


class HeadExplorer(anywidget.AnyWidget):
    """Every attention head of all-MiniLM-L6-v2: pick a sentence, a layer and a head.

    The weights of all 6 x 12 heads are computed in Python by
    :func:`selfattn.pretrained.load_minilm` for each sentence and stored in the widget as
    float32 bytes, exactly as the encoder returns them, so the view (``selfattn/static/
    head_explorer.js``) shows them in the static HTML book without a kernel. With a kernel,
    the learner can type a sentence: Python runs the encoder on it and adds it to the choices.

    Layers and heads are numbered from 0, as in ``encoding.attentions[layer, head]``:
    layers 0 to 5, heads 0 to 11.

    Parameters
    ----------
    sentences : str or list of str, optional
        The sentences to precompute; default :data:`HEAD_EXPLORER_SENTENCES`.
    encoder : selfattn.pretrained.Encoder or callable, optional
        Default ``load_minilm()``. Any other model works if calling it on a sentence returns
        an object with ``tokens`` (list of str) and ``attentions`` ``(n_layers, n_heads, n, n)``.

    Attributes
    ----------
    sentences : list of str
    token_lists : list of list of str
        Each sentence's WordPiece tokens, ``[CLS]`` first and ``[SEP]`` last.
    attention_data : list of bytes
        Each sentence's ``attentions`` ``(n_layers, n_heads, n, n)`` as little-endian
        float32 in C order.
    sentence_index, layer, head, query_index : int
        What the view shows: the heatmap of ``(sentence_index, layer, head)`` and the
        row of token ``query_index`` as bars.
    error : str
        Why the last typed sentence was not added ("" if it was).

    Raises
    ------
    ValueError
        If a sentence is not a str, is empty, or is longer than
        :data:`HEAD_EXPLORER_MAX_TOKENS` tokens (the encoder's own limit is 512).

    Examples
    --------
    >>> from selfattn.widgets import HeadExplorer
    >>> ex = HeadExplorer(["The cat sat on the mat because it was tired."])
    >>> ex.tokens[:3], ex.tokens[ex.query_index]
    (['[CLS]', 'the', 'cat'], 'it')
    >>> ex.select(0, layer=2, head=5)
    >>> w = ex.weights(0, 2, 5)               # (n, n); each row sums to 1
    >>> w.shape, round(float(w[8].sum()), 5)
    ((13, 13), 1.0)
    >>> ex.select(0, layer=6, head=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: layer must be a whole number from 0 to 5 (layers are numbered from 0), got 6 (int)
    """

    _esm = view_source("head_explorer.js")
    _css = ((_STATIC / "explorer.css").read_text(encoding="utf-8")
            + (_STATIC / "head_explorer.css").read_text(encoding="utf-8"))

    sentences = traitlets.List(traitlets.Unicode()).tag(sync=True)
    token_lists = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    attention_data = traitlets.List(traitlets.Bytes()).tag(sync=True)
    n_layers = traitlets.Int(6).tag(sync=True)
    n_heads = traitlets.Int(12).tag(sync=True)
    max_tokens = traitlets.Int(HEAD_EXPLORER_MAX_TOKENS).tag(sync=True)
    sentence_index = traitlets.Int(0).tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    query_index = traitlets.Int(0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, sentences=None, encoder=None):
        if encoder is None:
            from .pretrained import load_minilm

            encoder = load_minilm()
        items = _checks.texts(list(HEAD_EXPLORER_SENTENCES) if sentences is None else sentences)
        self._encoder = encoder
        self._attentions = []  # one float32 (L, h, n, n) per sentence
        computed = [self._compute(s) for s in items]
        L, h = computed[0][1].shape[:2]
        self._attentions = [a for _, a in computed]
        super().__init__(
            sentences=list(items), token_lists=[t for t, _ in computed],
            attention_data=[a.tobytes() for a in self._attentions], n_layers=L, n_heads=h,
            sentence_index=0, layer=0, head=0, query_index=_default_query(computed[0][0]),
        )
        self.on_msg(self._on_message)

    # ------------------------------------------------------------------ computing
    def _compute(self, sentence):
        """(tokens, attentions as little-endian float32 (L, h, n, n)) of one sentence, checked."""
        if hasattr(self._encoder, "tokenize"):  # MiniLM: count the tokens before running the model
            (enc,) = self._encoder.tokenize(sentence)  # the encoder's errors: not a str, empty, > 512 tokens
            _checks.shown_token_count(len(enc.ids), HEAD_EXPLORER_MAX_TOKENS, sentence)
            result = self._encoder(sentence)
        else:  # any model whose call returns .tokens and .attentions (the induction decoder)
            result = self._encoder(sentence)
            _checks.shown_token_count(len(result.tokens), HEAD_EXPLORER_MAX_TOKENS, sentence)
        a = np.ascontiguousarray(result.attentions, dtype="<f4")  # (L, h, n, n)
        return list(result.tokens), a

    def add_sentence(self, sentence: str) -> int:
        """Run the encoder on ``sentence``, add it to the choices and show it.

        Parameters
        ----------
        sentence : str

        Returns
        -------
        int
            Its index in :attr:`sentences` (a sentence already there is shown, not added twice).

        Raises
        ------
        ValueError
            If ``sentence`` is not a str, is empty, or has more than
            :data:`HEAD_EXPLORER_MAX_TOKENS` tokens.
        """
        tokens, a = self._compute(sentence)
        if sentence in self.sentences:
            i = self.sentences.index(sentence)
        else:
            self._attentions.append(a)
            with self.hold_sync():
                self.sentences = [*self.sentences, sentence]
                self.token_lists = [*self.token_lists, tokens]
                self.attention_data = [*self.attention_data, a.tobytes()]
            i = len(self.sentences) - 1
        self.select(i, self.layer, self.head)
        return i

    def _on_message(self, widget, content, buffers):
        """The view's text box: {"event": "add_sentence", "text": ...}; errors go to ``error``."""
        if not isinstance(content, dict) or content.get("event") != "add_sentence":
            return
        try:
            self.add_sentence(content.get("text"))
        except ValueError as exc:
            self.error = str(exc)
        else:
            self.error = ""
        self.send({"event": "add_sentence_done", "error": self.error})  # the view clears its "running" note

    # ------------------------------------------------------------------ the Python-side API
    @property
    def tokens(self) -> list:
        """The tokens of the sentence shown."""
        return list(self.token_lists[self.sentence_index])

    def _sentence(self, sentence) -> int:
        if isinstance(sentence, str):
            if sentence not in self.sentences:
                raise ValueError(f"the sentence {sentence!r} is not one of the explorer's {self.sentences}; "
                                 "add it first with add_sentence()")
            return self.sentences.index(sentence)
        return _checks.index_below(sentence, "sentence (its text or its index)", len(self.sentences))

    def weights(self, sentence_index, layer, head) -> np.ndarray:
        """The weights of one head on one sentence, as the view shows them.

        Parameters
        ----------
        sentence_index : int or str
            Index in :attr:`sentences`, or the sentence itself.
        layer : int
            0 to ``n_layers - 1``.
        head : int
            0 to ``n_heads - 1``.

        Returns
        -------
        numpy.ndarray of float32, shape (n, n)
            Row ``i`` is how much token ``i`` attends to each token: ``attentions[layer, head]``.

        Raises
        ------
        ValueError
            If the sentence, layer or head is not one of the explorer's.
        """
        s = self._sentence(sentence_index)
        layer = _checks.index_below(layer, "layer", self.n_layers, " (layers are numbered from 0)")
        head = _checks.index_below(head, "head", self.n_heads, " (heads are numbered from 0)")
        return self._attentions[s][layer, head].copy()

    def select(self, sentence, layer, head, query=None) -> None:
        """Show one head on one sentence, as picking them in the view does.

        Parameters
        ----------
        sentence : int or str
            Index in :attr:`sentences`, or the sentence itself.
        layer, head : int
            Numbered from 0.
        query : str or int, optional
            The token whose row the bars show (a token or its position); default the
            first "it" of the sentence, else its first word.

        Raises
        ------
        ValueError
            If the sentence, layer, head or query is not one of the explorer's.
        """
        s = self._sentence(sentence)
        self.weights(s, layer, head)  # checks layer and head
        tokens = self.token_lists[s]
        if query is None:
            q = _default_query(tokens)
        elif isinstance(query, str):
            if query not in tokens:
                raise ValueError(f"query: the token {query!r} is not in the sentence's tokens {tokens}")
            q = tokens.index(query)
        else:
            q = _checks.index_below(query, "query (a token or its position)", len(tokens))
        with self.hold_sync():
            self.sentence_index, self.layer, self.head, self.query_index = s, int(layer), int(head), q

    # ------------------------------------------------------------------ validation of synced values
    def _valid(self, proposal, name, count):
        try:
            return _checks.index_below(proposal["value"], name, count)
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        return self._valid(proposal, "layer", self.n_layers)

    @traitlets.validate("head")
    def _valid_head(self, proposal):
        return self._valid(proposal, "head", self.n_heads)

    @traitlets.validate("sentence_index")
    def _valid_sentence(self, proposal):
        return self._valid(proposal, "sentence_index", max(1, len(self.sentences)))

    @traitlets.validate("query_index")
    def _valid_query_index(self, proposal):
        n = len(self.token_lists[self.sentence_index]) if self.token_lists else 1
        return self._valid(proposal, "query_index", n)

    @traitlets.observe("sentence_index")
    def _on_sentence(self, change):
        # a query position outside the new sentence moves to its default ("it")
        if self.token_lists and self.query_index >= len(self.token_lists[change["new"]]):
            self.query_index = _default_query(self.token_lists[change["new"]])


# ====================================================================================== #
# The positions explorer: shuffle the running sentence with and without positions
# ====================================================================================== #

#: The schemes the positions explorer offers (of :data:`selfattn.positions.SCHEMES`).
POSITION_EXPLORER_SCHEMES = ("none", "sinusoidal", "rope")

__all__ += ["PositionExplorer", "POSITION_EXPLORER_SCHEMES", "shuffled_order"]


def _mulberry32(seed: int):
    """The mulberry32 generator of position_explorer.js, bit for bit: floats in [0, 1)."""
    mask = 0xFFFFFFFF
    state = seed & mask

    def imul(a, b):  # Math.imul: the low 32 bits of the product
        return (a * b) & mask

    def random() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & mask
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & mask
        return ((t ^ (t >> 14)) & mask) / 4294967296

    return random


def shuffled_order(n: int, seed: int, count: int) -> list:
    """The word order after ``count`` clicks on the explorer's shuffle button, as its JavaScript does.

    Every shuffle draws a Fisher-Yates permutation of ``0 .. n-1`` from one mulberry32 stream
    seeded with ``seed``, drawn again while it equals the order before it (so a click always
    changes the order). The same seed gives the same sequence of orders in Python and in the page.

    Parameters
    ----------
    n : int
        Number of words, at least 1.
    seed : int
        A whole number >= 0.
    count : int
        Number of shuffles, >= 0 (0 gives ``0, 1, ..., n - 1``).

    Returns
    -------
    list of int
        ``order[p]`` is the index, in the original sentence, of the word shown at position ``p``.

    Examples
    --------
    >>> from selfattn.widgets import shuffled_order
    >>> shuffled_order(4, seed=0, count=0)
    [0, 1, 2, 3]
    >>> sorted(shuffled_order(4, seed=0, count=3))
    [0, 1, 2, 3]
    >>> shuffled_order(10, 7, 2) == shuffled_order(10, 7, 2)
    True
    """
    n = _checks.positive_int(n, "n")
    random = _mulberry32(_checks.seed(seed))
    count = _checks.positive_int(count, "count", minimum=0)
    order = list(range(n))
    for _ in range(count):
        while True:
            nxt = list(range(n))
            for i in range(n - 1, 0, -1):
                j = int(random() * (i + 1))  # Math.floor of a number >= 0
                nxt[i], nxt[j] = nxt[j], nxt[i]
            if n < 2 or nxt != order:
                break
        order = nxt
    return order


class PositionExplorer(anywidget.AnyWidget):
    """Shuffle a sentence with no positions, sinusoidal positions or RoPE: does the attention change?

    The view (``selfattn/static/position_explorer.js``) shows the words in their current order,
    a switch of the position scheme, a shuffle button (seeded: the n-th shuffle of a seed is
    always the same order) and a reset, the weights of one query word on every word as bars,
    the query word's output vector, and one line that says whether shuffling changed the
    weights. It computes everything in the browser, exactly as
    :func:`selfattn.positions.attention_with_positions` does on the words in the order shown
    (word ``p`` of the order at position ``p``), so it works in the static HTML book with no
    kernel. With a kernel the same state lives here in traitlets, and :meth:`attention` gives
    what ``selfattn`` computes for it.

    Parameters
    ----------
    sentence : str or list of str, optional
        Default the running example "The cat sat on the mat because it was tired"; at least
        two words, each in :data:`selfattn.example.VOCAB`.
    query : str or int, default "it"
        The word whose weights the bars show (a word of the sentence or its index).
    scheme : {"none", "sinusoidal", "rope"}, default "none"
    seed : int, default 0
        Seed of the shuffles.
    amplitude : float, default :data:`selfattn.positions.TOY_AMPLITUDE`
        How much of the sinusoidal table is added to the embeddings.
    base : float, default 10000
        The frequency base of the sinusoidal table and of RoPE.
    layout : {"interleaved", "half"}, default "interleaved"
        The RoPE layout.
    matrices : tuple of array_like, optional
        ``(W_q, W_k, W_v)``; default the hand-set matrices of :mod:`selfattn.example`.

    Attributes
    ----------
    tokens : list of str
        The sentence in its original order.
    order : list of int
        ``order[p]`` is the index in :attr:`tokens` of the word shown at position ``p``.
    shuffles : int
        Shuffles since the last reset (the order is ``shuffled_order(n, seed, shuffles)``
        unless it was set directly).
    query_index : int
        The query word, as an index in :attr:`tokens` (it keeps its word when the order changes).
    scheme, rope_layout : str
        The scheme, and the RoPE layout (the parameter ``layout``).
    amplitude, base : float
    X, W_q, W_k, W_v : list of list of float
        The embeddings (original order) and the matrices the view computes with.

    Raises
    ------
    ValueError
        If the sentence has fewer than two words or an unknown word, the query is not in it,
        the scheme or layout is unknown, the seed is not a whole number >= 0, the amplitude is
        not finite, the base is not greater than 1, or the matrices do not fit the embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.widgets import PositionExplorer
    >>> ex = PositionExplorer()
    >>> ex.shown_tokens[ex.query_position], ex.scheme
    ('it', 'none')
    >>> w, out = ex.query_numbers()        # the bars and the output the view shows
    >>> before = dict(zip(ex.order, w))    # the weight of "it" on each word
    >>> ex.shuffle()                       # the same as clicking "Shuffle the words"
    >>> ex.order != list(range(10))
    True
    >>> w, out2 = ex.query_numbers()
    >>> bool(np.allclose([before[i] for i in ex.order], w) and np.allclose(out, out2))
    True
    >>> ex.scheme = "rope"                 # with positions the same order changes the weights
    >>> w_rope, _ = ex.query_numbers()
    >>> bool(np.allclose([before[i] for i in ex.order], w_rope))
    False
    >>> ex.reset()
    >>> ex.order == list(range(10)), ex.shuffles
    (True, 0)
    """

    _esm = view_source("position_explorer.js")
    _css = ((_STATIC / "explorer.css").read_text(encoding="utf-8")
            + (_STATIC / "position_explorer.css").read_text(encoding="utf-8"))

    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    value_dims = traitlets.List(traitlets.Unicode()).tag(sync=True)
    X = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    W_q = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    W_k = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    W_v = traitlets.List(traitlets.List(traitlets.Float())).tag(sync=True)
    schemes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    scheme = traitlets.Unicode("none").tag(sync=True)
    amplitude = traitlets.Float(0.5).tag(sync=True)
    base = traitlets.Float(10000.0).tag(sync=True)
    # not "layout": that name is every widget's Layout (ipywidgets), which the page resolves as a widget
    rope_layout = traitlets.Unicode("interleaved").tag(sync=True)
    seed = traitlets.Int(0).tag(sync=True)
    shuffles = traitlets.Int(0).tag(sync=True)
    order = traitlets.List(traitlets.Int()).tag(sync=True)
    query_index = traitlets.Int(0).tag(sync=True)

    def __init__(self, sentence=None, query="it", scheme="none", *, seed=0, amplitude=None,
                 base=None, layout="interleaved", matrices=None):
        from .example import V_DIMS
        from .positions import BASE, LAYOUTS, TOY_AMPLITUDE

        if sentence is None or isinstance(sentence, str):
            tokens = tokenize(SENTENCE if sentence is None else sentence)
        else:
            tokens = list(_checks.words(sentence, "sentence", "a string or a list of words"))
        X = embed(tokens)  # (n, d_model); raises ValueError naming unknown words
        _checks.shuffle_words(len(tokens))
        own = matrices is not None
        if matrices is None:
            matrices = example_matrices()
        elif not isinstance(matrices, (tuple, list)) or len(matrices) != 3:
            got = f" of length {len(matrices)}" if isinstance(matrices, (tuple, list)) else ""
            raise ValueError(f"matrices must be a tuple of three matrices (W_q, W_k, W_v), "
                             f"got {type(matrices).__name__}{got}")
        layer = SelfAttention.from_matrices(*matrices)
        if layer.d_model != X.shape[1]:
            raise ValueError(f"the matrices must have d_model = {X.shape[1]} rows (one per feature), "
                             f"got W_q {layer.W_q.shape}, W_k {layer.W_k.shape}, W_v {layer.W_v.shape}")
        query_index = AttentionExplorer._position(query, tokens, "query")
        scheme = _checks.choice(scheme, "scheme", POSITION_EXPLORER_SCHEMES)
        layout = _checks.choice(layout, "layout", LAYOUTS)
        seed = _checks.seed(seed)
        amplitude = _checks.finite_number(TOY_AMPLITUDE if amplitude is None else amplitude, "amplitude")
        base = _checks.frequency_base(BASE if base is None else base)
        d_v = layer.W_v.shape[1]
        dims = list(V_DIMS) if not own else [f"v{c}" for c in range(d_v)]
        super().__init__(
            tokens=list(tokens), value_dims=dims, X=_matrix(X),
            W_q=_matrix(layer.W_q), W_k=_matrix(layer.W_k), W_v=_matrix(layer.W_v),
            schemes=list(POSITION_EXPLORER_SCHEMES), scheme=scheme, amplitude=amplitude, base=base,
            rope_layout=layout, seed=seed, shuffles=0, order=list(range(len(tokens))), query_index=query_index,
        )

    # ------------------------------------------------------------------ the buttons
    def shuffle(self) -> None:
        """Shuffle the words, as the button "Shuffle the words" does (the next order of the seed)."""
        count = self.shuffles + 1
        with self.hold_sync():
            self.order = shuffled_order(len(self.tokens), self.seed, count)
            self.shuffles = count

    def reset(self) -> None:
        """Back to the original order, as the button "Reset order" does."""
        with self.hold_sync():
            self.order = list(range(len(self.tokens)))
            self.shuffles = 0

    # ------------------------------------------------------------------ what selfattn computes
    @property
    def shown_tokens(self) -> list:
        """The words in the order shown."""
        return [self.tokens[i] for i in self.order]

    @property
    def query_position(self) -> int:
        """Where the query word stands in the order shown (its position)."""
        return self.order.index(self.query_index)

    def attention(self):
        """``attention_with_positions`` on the words in the order shown; returns ``(output, weights)``.

        Returns
        -------
        output : numpy.ndarray, shape (n, d_v)
        weights : numpy.ndarray, shape (n, n)
            Row and column ``p`` belong to the word shown at position ``p``.
        """
        from .positions import attention_with_positions

        X = np.asarray(self.X, dtype=np.float64)[self.order]  # (n, d_model), in the order shown
        W_q, W_k, W_v = (np.asarray(m, dtype=np.float64) for m in (self.W_q, self.W_k, self.W_v))
        return attention_with_positions(X, W_q, W_k, W_v, self.scheme, amplitude=self.amplitude,
                                        base=self.base, layout=self.rope_layout)

    def query_numbers(self):
        """The numbers the view shows: the query word's weights (in the order shown) and its output.

        Returns
        -------
        weights : numpy.ndarray, shape (n,)
            The bars: ``weights[p]`` is the weight on the word shown at position ``p``.
        output : numpy.ndarray, shape (d_v,)
        """
        output, weights = self.attention()
        p = self.query_position
        return weights[p], output[p]

    # ------------------------------------------------------------------ validation of synced values
    def _checked(self, check, *args):
        try:
            return check(*args)
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None

    @traitlets.validate("scheme")
    def _valid_scheme(self, proposal):
        return self._checked(_checks.choice, proposal["value"], "scheme", POSITION_EXPLORER_SCHEMES)

    @traitlets.validate("rope_layout")
    def _valid_layout(self, proposal):
        return self._checked(_checks.choice, proposal["value"], "layout", ("interleaved", "half"))

    @traitlets.validate("order")
    def _valid_order(self, proposal):
        return self._checked(_checks.word_order, proposal["value"], len(self.tokens))

    @traitlets.validate("query_index")
    def _valid_query_index(self, proposal):
        return self._checked(_checks.index_below, proposal["value"], "query_index", max(1, len(self.tokens)))

    @traitlets.validate("shuffles")
    def _valid_shuffles(self, proposal):
        return self._checked(_checks.positive_int, proposal["value"], "shuffles", 0)

    @traitlets.validate("seed")
    def _valid_seed(self, proposal):
        return self._checked(_checks.seed, proposal["value"])

    @traitlets.validate("amplitude")
    def _valid_amplitude(self, proposal):
        return self._checked(_checks.finite_number, proposal["value"], "amplitude")

    @traitlets.validate("base")
    def _valid_base(self, proposal):
        return self._checked(_checks.frequency_base, proposal["value"])
