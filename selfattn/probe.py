r"""What the heads of a pretrained model do: statistics of their attention weights.

Chapter "Self-attention in a real model" puts sentences through all-MiniLM-L6-v2
(:func:`selfattn.pretrained.load_minilm`) and measures, for every head of every layer,
how its weights are spread. For one sentence of ``n`` tokens and one head with weights
:math:`A` ``(n, n)`` (row :math:`i` is how token :math:`i` attends; 0-based):

.. math::

    \text{previous} = \frac{1}{n-1}\sum_{i=1}^{n-1} A_{i,\,i-1}, \qquad
    \text{next} = \frac{1}{n-1}\sum_{i=0}^{n-2} A_{i,\,i+1}, \qquad
    \text{self} = \frac{1}{n}\sum_{i=0}^{n-1} A_{i,i},

.. math::

    \text{cls} = \frac{1}{n}\sum_{i}\sum_{j:\,t_j=\texttt{[CLS]}} A_{ij}, \qquad
    \text{sep} = \frac{1}{n}\sum_{i}\sum_{j:\,t_j=\texttt{[SEP]}} A_{ij}, \qquad
    \text{entropy} = \frac{1}{n}\sum_{i} \Big(-\sum_j A_{ij} \ln A_{ij}\Big)

(every row counts, the ``[CLS]`` and ``[SEP]`` rows included; :math:`0 \ln 0 = 0`). The
entropy is in nats: 0 when a row puts all its weight on one token, :math:`\ln n` when it
spreads evenly over all ``n``. Over several sentences, :func:`mean_head_statistics`
averages the per-sentence values, each sentence counting once.

:func:`preference` gives, for every head, how much more weight one token puts on token
``a`` than on token ``b``; :func:`top_heads` ranks heads by any such ``(L, h)`` map.
:data:`SENTENCES` is the set of sentences the chapter measures. Functions only describe
weights: what a head *does* for the model needs an experiment (the chapter's caveat).
"""

from __future__ import annotations

import numpy as np

from . import _checks

__all__ = ["SENTENCES", "STATISTICS", "head_statistics", "mean_head_statistics", "preference",
           "top_heads"]

#: The measures of :func:`head_statistics`, in the order the chapter shows them.
STATISTICS = ("previous", "next", "self", "cls", "sep", "entropy")

#: Two dozen plain English sentences of different lengths and forms (statements, questions,
#: a list, a quotation, numbers), written for the chapter; none is the seed's sentence.
SENTENCES = (
    "The dog chased the ball across the garden.",
    "She opened the window because the room was hot.",
    "A small boat drifted slowly towards the harbour.",
    "Why did the train stop in the middle of the bridge?",
    "My brother bought three apples, two pears and a melon.",
    "The teacher asked the students to read the first chapter.",
    "It rained all night, so the river rose above its banks.",
    "He said that the meeting would start at nine o'clock.",
    "The old library keeps its rarest books in a locked room.",
    "After dinner we walked along the beach and watched the stars.",
    "Can you tell me where the nearest station is?",
    "The recipe needs flour, sugar, butter and two eggs.",
    "When the alarm rang, everyone left the building calmly.",
    "The company hired twenty engineers last year.",
    "Birds sing loudly in the early morning.",
    "The doctor told her patient to rest for a week.",
    "I forgot my umbrella, and now my coat is soaking wet.",
    "The museum was closed on Monday, so we came back on Tuesday.",
    "Plants need light, water and air to grow.",
    "The children built a tall tower out of wooden blocks.",
    "Nobody knew who had left the door open.",
    "The price of coffee went up again this month.",
    "\"Wait for me,\" she shouted from the top of the stairs.",
    "The bridge was repaired after the storm damaged it.",
)


def head_statistics(attentions, tokens) -> dict:
    r"""Six measures of every head's weights on one sentence (see the module's formulas).

    Parameters
    ----------
    attentions : array_like, shape (n_layers, n_heads, n, n)
        Attention weights, each row summing to 1 (``encoder(sentence).attentions``).
    tokens : list of str, length n
        The sentence's tokens; ``[CLS]`` and ``[SEP]`` are found by name (a sentence
        without them gets 0 for ``cls`` and ``sep``).

    Returns
    -------
    dict of str to numpy.ndarray, shape (n_layers, n_heads)
        ``"previous"``, ``"next"``, ``"self"``, ``"cls"``, ``"sep"`` (mean weights, 0 to 1) and
        ``"entropy"`` (mean entropy of a row, in nats, 0 to ln n).

    Raises
    ------
    ValueError
        If ``attentions`` is not 4-D and square per head, holds NaN or inf, has rows that
        are not weights (negative, or not summing to 1), or does not match ``tokens``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.probe import head_statistics
    >>> a = np.zeros((1, 2, 3, 3))
    >>> a[0, 0] = np.eye(3)                      # head 0: every token on itself
    >>> a[0, 1] = [[1, 0, 0], [1, 0, 0], [0, 1, 0]]  # head 1: the previous token
    >>> s = head_statistics(a, ["[CLS]", "hi", "[SEP]"])
    >>> s["previous"], s["self"].round(3), s["cls"].round(3)
    (array([[0., 1.]]), array([[1.   , 0.333]]), array([[0.333, 0.667]]))
    >>> s["next"]                                # no head looks one token ahead
    array([[0., 0.]])
    """
    a, tokens = _checks.head_attentions(attentions, tokens)  # (L, h, n, n)
    n = a.shape[-1]
    i = np.arange(1, n)
    cls = np.array([t == "[CLS]" for t in tokens])  # (n,)
    sep = np.array([t == "[SEP]" for t in tokens])  # (n,)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 ln 0 = 0
        plogp = np.where(a > 0, a * np.log(a), 0.0)  # (L, h, n, n)
    return {  # each (L, h): a mean over the rows i
        # mean_i A[i, i-1], i >= 1
        "previous": a[..., i, i - 1].mean(axis=-1),
        # mean_i A[i, i+1], i <= n-2
        "next": a[..., i - 1, i].mean(axis=-1),
        # mean_i A[i, i]
        "self": np.diagonal(a, axis1=-2, axis2=-1).mean(axis=-1),
        # mean_i sum_{j = [CLS]} A[i, j]
        "cls": a[..., cls].sum(axis=-1).mean(axis=-1),
        # mean_i sum_{j = [SEP]} A[i, j]
        "sep": a[..., sep].sum(axis=-1).mean(axis=-1),
        # mean_i -sum_j A[i, j] ln A[i, j], in nats
        "entropy": (-plogp.sum(axis=-1)).mean(axis=-1),
    }


def mean_head_statistics(encoder, sentences=SENTENCES) -> dict:
    """:func:`head_statistics` averaged over sentences, each sentence counting once.

    Parameters
    ----------
    encoder : callable
        ``encoder(sentence)`` returns an object with ``attentions`` ``(L, h, n, n)`` and
        ``tokens`` (such as :func:`selfattn.pretrained.load_minilm`'s encoder).
    sentences : list of str, default :data:`SENTENCES`

    Returns
    -------
    dict of str to numpy.ndarray, shape (n_layers, n_heads)
        The keys of :data:`STATISTICS`.

    Raises
    ------
    ValueError
        If ``sentences`` is empty or not a list of str, or as :func:`head_statistics`.

    Examples
    --------
    >>> from selfattn.pretrained import load_minilm
    >>> from selfattn.probe import mean_head_statistics
    >>> s = mean_head_statistics(load_minilm(), ["A cat.", "Two dogs ran."])
    >>> s["entropy"].shape
    (6, 12)
    """
    sentences = _checks.non_empty(_checks.strings(sentences, "sentences", "a list of sentences"),
                                  "sentences", "sentence")
    if not callable(encoder):
        raise ValueError(f"encoder must be callable, as load_minilm() is, got a {type(encoder).__name__}")
    runs = []
    for s in sentences:
        enc = encoder(s)
        runs.append(head_statistics(enc.attentions, enc.tokens))
    return {k: np.mean([r[k] for r in runs], axis=0) for k in STATISTICS}  # (L, h) each


def preference(attentions, tokens, query: str, a: str, b: str) -> np.ndarray:
    r"""For every head, the weight token ``query`` puts on ``a`` minus the weight it puts on ``b``.

    .. math:: \Delta_{l,h} = A^{(l,h)}_{q,a} - A^{(l,h)}_{q,b}

    Parameters
    ----------
    attentions : array_like, shape (n_layers, n_heads, n, n)
    tokens : list of str, length n
    query, a, b : str
        Tokens that each appear once in ``tokens`` (lower case, as the tokenizer writes them).

    Returns
    -------
    numpy.ndarray, shape (n_layers, n_heads)
        From -1 to 1: positive where the head prefers ``a``.

    Raises
    ------
    ValueError
        If a token is missing or appears more than once (the message lists the tokens), or as
        :func:`head_statistics`.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.probe import preference
    >>> a = np.array([[[[1, 0, 0], [0.7, 0.1, 0.2], [0, 0, 1]]]])   # (1, 1, 3, 3)
    >>> preference(a, ["x", "it", "y"], "it", "x", "y").round(2)
    array([[0.5]])
    """
    w, tokens = _checks.head_attentions(attentions, tokens)
    q, i, j = (_checks.token_position(tokens, t, name) for t, name in ((query, "query"), (a, "a"), (b, "b")))
    return w[:, :, q, i] - w[:, :, q, j]  # (L, h)   A[q, a] - A[q, b]


def top_heads(values, k: int = 5) -> list:
    """The ``k`` heads with the largest values, as ``(layer, head, value)``, largest first.

    Ties keep the order layer by layer, head by head (0-based), so equal values are listed
    in reading order.

    Parameters
    ----------
    values : array_like, shape (n_layers, n_heads)
    k : int, default 5
        At most the number of heads.

    Returns
    -------
    list of (int, int, float)

    Raises
    ------
    ValueError
        If ``values`` is not 2-D or holds NaN or inf, or ``k`` is not a whole number from 1
        to the number of heads.

    Examples
    --------
    >>> from selfattn.probe import top_heads
    >>> top_heads([[0.1, 0.5], [0.5, -0.2]], k=2)
    [(0, 1, 0.5), (1, 0, 0.5)]
    """
    v = _checks.finite_input(values, "values", 2, "(n_layers, n_heads)")
    if v.ndim != 2:
        raise ValueError(f"values must have shape (n_layers, n_heads), got {v.shape}")
    k = _checks.positive_int(k, "k")
    if k > v.size:
        raise ValueError(f"k={k} is more than the {v.size} heads in values of shape {v.shape}")
    order = np.argsort(-v, axis=None, kind="stable")[:k]  # flat indices, largest first
    return [(int(l), int(h), float(v[l, h])) for l, h in zip(*np.unravel_index(order, v.shape))]
