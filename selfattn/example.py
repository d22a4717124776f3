"""The course's running example: "The cat sat on the mat because it was tired".

A tiny, hand-built world small enough to read every number. Each word is a
vector of five named features; three small hand-set matrices turn those
features into queries, keys and values so that "it" attends most to "cat".

Nothing here is learned. The chapter "What is a learned weight matrix?"
replaces the hand-set matrices with trained ones.

Features of an embedding (``d_model = 5``):

``noun``      the word names a thing;
``animate``   the thing is alive (or the word describes living things);
``pronoun``   the word stands for a noun mentioned elsewhere;
``verb``      the word is an action or a state;
``function``  a small grammatical word (articles, prepositions, conjunctions).

Query and key dimensions (``d_k = 3``), what a query *looks for* and what a key *offers*:
``noun``, ``animate``, ``action``. Value dimensions (``d_v = 3``), what a word
passes on: ``noun``, ``animate``, ``action``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks
from .attention import SelfAttention

__all__ = [
    "SENTENCE",
    "FEATURES",
    "QK_DIMS",
    "V_DIMS",
    "VOCAB",
    "tokenize",
    "embed",
    "matrices",
    "layer",
    "RunningExample",
    "running_example",
]

SENTENCE = "The cat sat on the mat because it was tired"
FEATURES = ("noun", "animate", "pronoun", "verb", "function")
QK_DIMS = ("noun", "animate", "action")
V_DIMS = ("noun", "animate", "action")

#: Embedding of each known (lower-case) word, in the order of ``FEATURES``.
VOCAB: dict[str, tuple[float, ...]] = {
    # function words
    "the": (0.0, 0.0, 0.0, 0.0, 1.0),
    "a": (0.0, 0.0, 0.0, 0.0, 1.0),
    "on": (0.0, 0.0, 0.0, 0.0, 1.0),
    "under": (0.0, 0.0, 0.0, 0.0, 1.0),
    "because": (0.0, 0.0, 0.0, 0.0, 1.0),
    "and": (0.0, 0.0, 0.0, 0.0, 1.0),
    "very": (0.0, 0.0, 0.0, 0.0, 1.0),
    # animals (animate nouns)
    "cat": (1.0, 1.0, 0.0, 0.0, 0.0),
    "dog": (1.0, 1.0, 0.0, 0.0, 0.0),
    "bird": (1.0, 1.0, 0.0, 0.0, 0.0),
    # objects (inanimate nouns)
    "mat": (1.0, 0.0, 0.0, 0.0, 0.0),
    "rug": (1.0, 0.0, 0.0, 0.0, 0.0),
    "sofa": (1.0, 0.0, 0.0, 0.0, 0.0),
    # pronoun
    "it": (0.5, 0.0, 1.0, 0.0, 0.0),
    # verbs
    "sat": (0.0, 0.3, 0.0, 1.0, 0.0),
    "slept": (0.0, 0.3, 0.0, 1.0, 0.0),
    "was": (0.0, 0.0, 0.0, 1.0, 0.5),
    # adjectives: "tired" describes living things, "dirty" and "old" describe things
    "tired": (0.0, 0.8, 0.0, 0.3, 0.0),
    "hungry": (0.0, 0.8, 0.0, 0.3, 0.0),
    "dirty": (0.3, 0.0, 0.0, 0.3, 0.0),
    "old": (0.3, 0.0, 0.0, 0.3, 0.0),
}

# Rows: the five features; columns: what the word's query looks for.
_W_Q = np.array(
    [
        # noun animate action
        [0.0, 0.0, 1.0],  # noun: a noun looks for what it does (verbs)
        [0.0, 0.0, 0.0],  # animate
        [2.0, 2.0, 0.0],  # pronoun: looks for a noun, preferably a living one
        [1.0, 0.0, 0.0],  # verb: looks for a noun (its subject)
        [0.0, 0.0, 0.0],  # function: looks for nothing in particular
    ]
)
# Rows: the five features; columns: what the word's key offers.
_W_K = np.array(
    [
        [1.0, 0.0, 0.0],  # noun: "I am a noun"
        [0.0, 1.0, 0.0],  # animate: "I am alive"
        [0.0, 0.0, 0.0],  # pronoun: offers nothing of its own
        [0.0, 0.0, 1.0],  # verb: "I am an action"
        [0.0, 0.0, 0.0],  # function
    ]
)
# Rows: the five features; columns: what the word passes on when attended to.
_W_V = np.array(
    [
        [1.0, 0.0, 0.0],  # noun
        [0.0, 1.0, 0.0],  # animate
        [0.0, 0.0, 0.0],  # pronoun
        [0.0, 0.0, 1.0],  # verb
        [0.0, 0.0, 0.0],  # function
    ]
)


def tokenize(sentence: str) -> list[str]:
    """Split a sentence on spaces and strip punctuation at the ends of words.

    Parameters
    ----------
    sentence : str

    Returns
    -------
    list of str
        The words, in order, case kept.

    Raises
    ------
    ValueError
        If ``sentence`` is not a string.

    Examples
    --------
    >>> from selfattn.example import tokenize
    >>> tokenize("The cat sat on the mat.")
    ['The', 'cat', 'sat', 'on', 'the', 'mat']
    """
    if not isinstance(sentence, str):
        raise ValueError(f"sentence must be a str, got {sentence!r} ({type(sentence).__name__})")
    return [w.strip(".,;!?") for w in sentence.split() if w.strip(".,;!?")]


def embed(tokens) -> np.ndarray:
    """Embedding matrix ``X`` of shape ``(n, d_model)`` for a list of words or a sentence.

    Parameters
    ----------
    tokens : str or sequence of str
        A sentence (split with :func:`tokenize`) or its words. Lookup ignores case.

    Returns
    -------
    numpy.ndarray, shape (n, 5)
        One row per word, columns in the order of :data:`FEATURES`.

    Raises
    ------
    ValueError
        If ``tokens`` is neither a string nor a list or tuple of strings, is empty, or
        holds a word that is not in :data:`VOCAB` (the message lists the known words).

    Examples
    --------
    >>> from selfattn.example import embed
    >>> embed("The cat").shape
    (2, 5)
    >>> embed(["cat", "unicorn"])
    Traceback (most recent call last):
    ...
    ValueError: unknown word(s) ['unicorn']; known words: a, and, because, bird, cat, dirty, dog, hungry, it, mat, old, on, rug, sat, slept, sofa, the, tired, under, very, was
    """
    if isinstance(tokens, str):
        tokens = tokenize(tokens)
    tokens = _checks.words(tokens, "tokens", "a sentence (str) or a list of words")
    unknown = [t for t in tokens if t.lower() not in VOCAB]
    if unknown:
        raise ValueError(f"unknown word(s) {unknown}; known words: {', '.join(sorted(VOCAB))}")
    if not tokens:
        raise ValueError("tokens (the words of the sentence) need at least one word, got none")
    return np.array([VOCAB[t.lower()] for t in tokens], dtype=np.float64)  # (n, d_model)


def matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies of the three hand-set weight matrices (not attention weights).

    Returns
    -------
    tuple of numpy.ndarray
        ``(W_q, W_k, W_v)``, each of shape ``(5, 3)``: rows are :data:`FEATURES`,
        columns :data:`QK_DIMS` (queries, keys) or :data:`V_DIMS` (values).

    Examples
    --------
    >>> from selfattn.example import matrices
    >>> W_q, W_k, W_v = matrices()
    >>> W_q.shape
    (5, 3)
    >>> W_q[2].tolist()   # the pronoun row: looks for a noun that is alive
    [2.0, 2.0, 0.0]
    """
    return _W_Q.copy(), _W_K.copy(), _W_V.copy()


def layer() -> SelfAttention:
    """A :class:`~selfattn.SelfAttention` holding the hand-set matrices.

    Returns
    -------
    SelfAttention
        With ``d_model = 5``, ``d_k = d_v = 3``.

    Examples
    --------
    >>> from selfattn.example import layer
    >>> layer()
    SelfAttention(d_model=5, d_k=3, d_v=3)
    """
    return SelfAttention.from_matrices(*matrices())


@dataclass(frozen=True)
class RunningExample:
    """The running example, ready to use: ``tokens``, ``X`` and the three matrices."""

    tokens: list
    X: np.ndarray
    W_q: np.ndarray
    W_k: np.ndarray
    W_v: np.ndarray

    def index(self, word: str) -> int:
        """Position of the first occurrence of ``word`` (case-sensitive).

        Raises
        ------
        ValueError
            If ``word`` is not in the sentence (the message lists its words).
        """
        if word not in self.tokens:
            raise ValueError(f"word {word!r} is not in the sentence; its words: {self.tokens}")
        return self.tokens.index(word)


def running_example(sentence: str = SENTENCE) -> RunningExample:
    """Tokens, embeddings and hand-set matrices for ``sentence`` (default: the running example).

    Parameters
    ----------
    sentence : str, default :data:`SENTENCE`

    Returns
    -------
    RunningExample
        ``tokens``, ``X`` of shape ``(n, 5)`` and copies of ``W_q``, ``W_k``, ``W_v``.

    Raises
    ------
    ValueError
        If ``sentence`` is not a string, or a word is not in :data:`VOCAB`.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import scaled_dot_product_attention
    >>> from selfattn.example import running_example
    >>> ex = running_example()
    >>> ex.X.shape, ex.W_q.shape
    ((10, 5), (5, 3))
    >>> out, w = scaled_dot_product_attention(ex.X @ ex.W_q, ex.X @ ex.W_k, ex.X @ ex.W_v)
    >>> ex.tokens[int(np.argmax(w[ex.index("it")]))]
    'cat'
    """
    tokens = tokenize(sentence)
    return RunningExample(tokens, embed(tokens), *matrices())
