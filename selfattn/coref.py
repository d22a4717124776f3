"""A synthetic coreference task built from the running example.

Every sentence has ten words, two nouns (an animal and an object), the
pronoun "it" and an adjective that decides what "it" refers to::

    the cat sat on the mat because it was tired    ->  it = cat
    the cat sat on the mat because it was dirty    ->  it = mat
    the rug was under the dog because it was old   ->  it = rug

Animal adjectives (``tired``, ``hungry``, ...) describe living things and
object adjectives (``dirty``, ``old``, ...) describe things. Half the templates
put the animal first and half the object first, so the position of a noun
says nothing about whether it is the referent.

Held-out split
--------------
A *pair* is a noun with an adjective of its own kind (``cat`` + ``tired``,
``mat`` + ``dirty``). One pair in three is held out: no training sentence
contains that noun together with that adjective. The held-out sentences are
exactly those whose referent and adjective form a held-out pair, so the model
is tested on combinations it has never seen.

>>> from selfattn import coref
>>> train, heldout = coref.split()
>>> len(train), len(heldout)
(1152, 576)
>>> ex = heldout[0]
>>> " ".join(ex.tokens), ex.referent
('the cat sat on the mat because it was tired', 'cat')
>>> any(set(e.tokens) >= {"cat", "tired"} for e in train)
False
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from . import _checks
from .example import tokenize

__all__ = [
    "ANIMALS",
    "OBJECTS",
    "ANIMAL_ADJECTIVES",
    "OBJECT_ADJECTIVES",
    "TEMPLATES",
    "UNK",
    "WORDS",
    "NOUNS",
    "Example",
    "is_heldout_pair",
    "all_examples",
    "split",
    "encode",
    "make_example",
]

ANIMALS = ("cat", "dog", "bird", "fox", "cow", "horse")
OBJECTS = ("mat", "rug", "sofa", "bed", "box", "chair")
ANIMAL_ADJECTIVES = ("tired", "hungry", "sleepy", "scared", "lazy", "angry")
OBJECT_ADJECTIVES = ("dirty", "old", "broken", "dusty", "torn", "wooden")

#: Four templates: two with the animal first, two with the object first.
TEMPLATES = (
    "the {animal} sat on the {object} because it was {adjective}",
    "the {animal} slept on the {object} because it was {adjective}",
    "the {object} was under the {animal} because it was {adjective}",
    "the {object} was near the {animal} because it was {adjective}",
)

#: Token for any word outside the vocabulary. No training sentence contains it,
#: so its embedding stays at its random initial value.
UNK = "<unk>"

_FUNCTION_WORDS = ("the", "sat", "slept", "on", "was", "under", "near", "because", "it")
#: The vocabulary: word -> index of its embedding row.
WORDS: tuple[str, ...] = (UNK, *_FUNCTION_WORDS, *ANIMALS, *OBJECTS, *ANIMAL_ADJECTIVES, *OBJECT_ADJECTIVES)
#: The classes the model predicts: the identity of the referent noun.
NOUNS: tuple[str, ...] = (*ANIMALS, *OBJECTS)
_INDEX = {w: i for i, w in enumerate(WORDS)}


@dataclass(frozen=True)
class Example:
    """One sentence with its answer.

    Attributes
    ----------
    tokens : tuple of str
    it_pos : int
        Position of "it".
    referent : str or None
        The noun "it" refers to (``None`` when the sentence has no single answer).
    referent_pos : int or None
        Position of that noun.
    """

    tokens: tuple
    it_pos: int
    referent: str | None
    referent_pos: int | None

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def is_heldout_pair(noun: str, adjective: str) -> bool:
    """True if the noun and adjective of its own kind never meet in training.

    One pair in three is held out, in a diagonal pattern so that every noun and
    every adjective keeps most of its pairs in training.

    Parameters
    ----------
    noun : str
        One of ``ANIMALS`` or ``OBJECTS``.
    adjective : str
        An adjective of the same kind (``ANIMAL_ADJECTIVES`` or ``OBJECT_ADJECTIVES``).

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If the noun and the adjective are not of the same kind (an animal with
        an animal adjective, or an object with an object adjective).

    Examples
    --------
    >>> from selfattn.coref import is_heldout_pair
    >>> is_heldout_pair("cat", "tired"), is_heldout_pair("cat", "hungry")
    (True, False)
    """
    for nouns, adjectives in ((ANIMALS, ANIMAL_ADJECTIVES), (OBJECTS, OBJECT_ADJECTIVES)):
        if noun in nouns and adjective in adjectives:
            return (nouns.index(noun) + adjectives.index(adjective)) % 3 == 0
    raise ValueError(f"{noun!r} and {adjective!r} are not a noun and an adjective of the same kind")


def make_example(sentence, referent: str | None = None) -> Example:
    """An :class:`Example` for any sentence that contains "it" (unknown words become ``<unk>``).

    Parameters
    ----------
    sentence : str or sequence of str
    referent : str, optional
        The word "it" refers to; its first occurrence gives ``referent_pos``.

    Returns
    -------
    Example

    Raises
    ------
    ValueError
        If the sentence is neither a string nor a list of words, has no "it", or
        ``referent`` is not one of its words.

    Examples
    --------
    >>> from selfattn.coref import make_example
    >>> make_example("The cat sat on the mat because it was tired", "cat").referent_pos
    1
    """
    if isinstance(sentence, str):
        sentence = tokenize(sentence)
    tokens = tuple(t.lower() for t in _checks.words(sentence, "sentence", "a string or a list of words"))
    if "it" not in tokens:
        raise ValueError(f"the sentence needs the word 'it', got {' '.join(tokens)!r}")
    pos = None
    if referent is not None:
        if referent not in tokens:
            raise ValueError(f"referent {referent!r} is not in the sentence {' '.join(tokens)!r}")
        pos = tokens.index(referent)
    return Example(tokens, tokens.index("it"), referent, pos)


def all_examples() -> list[Example]:
    """Every sentence of the task: 4 templates x 6 animals x 6 objects x 12 adjectives = 1728.

    Returns
    -------
    list of Example
        Each with its referent: the animal after an animal adjective, else the object.

    Examples
    --------
    >>> from selfattn.coref import all_examples
    >>> examples = all_examples()
    >>> len(examples), examples[-1].text, examples[-1].referent
    (1728, 'the chair was near the horse because it was wooden', 'chair')
    """
    out = []
    adjectives = ANIMAL_ADJECTIVES + OBJECT_ADJECTIVES
    for template, animal, obj, adjective in product(TEMPLATES, ANIMALS, OBJECTS, adjectives):
        referent = animal if adjective in ANIMAL_ADJECTIVES else obj
        out.append(make_example(template.format(animal=animal, object=obj, adjective=adjective), referent))
    return out


def split() -> tuple[list[Example], list[Example]]:
    """The task's sentences, split in two.

    Returns
    -------
    train, heldout : list of Example
        Held-out sentences pair their referent with a held-out adjective
        (:func:`is_heldout_pair`); the training sentences never do.

    Examples
    --------
    See the module docstring.
    """
    train, heldout = [], []
    for ex in all_examples():
        (heldout if is_heldout_pair(ex.referent, ex.tokens[-1]) else train).append(ex)
    return train, heldout


def encode(tokens) -> list[int]:
    """Vocabulary indices of the words; unknown words map to ``<unk>`` (index 0).

    Parameters
    ----------
    tokens : list or tuple of str
        Words, not a sentence: split one with :func:`selfattn.example.tokenize`.

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        If ``tokens`` is a single string or holds something other than strings.

    Examples
    --------
    >>> from selfattn.coref import encode, WORDS
    >>> [WORDS[i] for i in encode(["the", "unicorn", "it"])]
    ['the', '<unk>', 'it']
    """
    return [_INDEX.get(t.lower(), 0) for t in _checks.words(tokens, "tokens")]
