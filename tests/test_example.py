"""The running example: with the hand-set matrices, "it" attends most to "cat".

The expected numbers are worked out by hand below, from the tables in
``selfattn/example.py``, not computed with the package.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfattn import SelfAttention
from selfattn.example import FEATURES, SENTENCE, VOCAB, embed, layer, running_example, tokenize, matrices

TOKENS = ["The", "cat", "sat", "on", "the", "mat", "because", "it", "was", "tired"]

# The query of "it". Its embedding is 0.5 * noun + 1 * pronoun; the noun row of W_q is
# (0, 0, 1) and the pronoun row is (2, 2, 0), so q_it = (0, 0, 0.5) + (2, 2, 0) = (2, 2, 0.5).
Q_IT = (2.0, 2.0, 0.5)

# The key of each word (W_k copies noun -> 1st, animate -> 2nd, verb -> 3rd dimension)
# and its dot product with q_it = (2, 2, 0.5):
KEYS = {
    "The": (0.0, 0.0, 0.0),      # 0
    "cat": (1.0, 1.0, 0.0),      # 2 + 2           = 4
    "sat": (0.0, 0.3, 1.0),      # 0.6 + 0.5       = 1.1
    "on": (0.0, 0.0, 0.0),       # 0
    "the": (0.0, 0.0, 0.0),      # 0
    "mat": (1.0, 0.0, 0.0),      # 2
    "because": (0.0, 0.0, 0.0),  # 0
    "it": (0.5, 0.0, 0.0),       # 1
    "was": (0.0, 0.0, 1.0),      # 0.5
    "tired": (0.0, 0.8, 0.3),    # 1.6 + 0.15      = 1.75
}
SCORES_IT = [0.0, 4.0, 1.1, 0.0, 0.0, 2.0, 0.0, 1.0, 0.5, 1.75]


def _hand_softmax(scores, scale):
    e = [math.exp(s * scale) for s in scores]
    return [x / sum(e) for x in e]


def test_tokens_of_the_running_example():
    ex = running_example()
    assert ex.tokens == TOKENS == tokenize(SENTENCE)
    assert ex.X.shape == (10, len(FEATURES))
    assert ex.index("it") == 7 and ex.index("cat") == 1


def test_query_and_keys_of_it_match_the_hand_computation():
    ex = running_example()
    steps = layer().steps(ex.X)
    np.testing.assert_allclose(steps.q[ex.index("it")], Q_IT, atol=1e-15)
    np.testing.assert_allclose(steps.k, [KEYS[t] for t in TOKENS], atol=1e-15)


def test_raw_scores_of_it_match_the_hand_dot_products():
    ex = running_example()
    steps = layer().steps(ex.X)
    np.testing.assert_allclose(steps.scores[ex.index("it")], SCORES_IT, atol=1e-12)
    assert steps.scale == pytest.approx(1 / math.sqrt(3))


def test_weights_of_it_match_a_hand_softmax_and_peak_at_cat():
    ex = running_example()
    out, w = layer()(ex.X)
    expected = _hand_softmax(SCORES_IT, 1 / math.sqrt(3))
    np.testing.assert_allclose(w[ex.index("it")], expected, rtol=1e-12)
    assert TOKENS[int(np.argmax(w[ex.index("it")]))] == "cat"
    # "cat" wins clearly: by a factor e^((4 - 2) / sqrt 3) ~ 3.2 over the runner-up "mat"
    row = w[ex.index("it")]
    assert row[1] / row[5] == pytest.approx(math.exp(2 / math.sqrt(3)))
    assert row[1] > 0.4


def test_output_of_it_is_the_hand_weighted_sum_of_values():
    ex = running_example()
    out, w = layer()(ex.X)
    # W_v copies noun, animate and verb into the three value dimensions
    values = [(VOCAB[t.lower()][0], VOCAB[t.lower()][1], VOCAB[t.lower()][3]) for t in TOKENS]
    expected = np.sum([a * np.array(v) for a, v in zip(_hand_softmax(SCORES_IT, 1 / math.sqrt(3)), values)], axis=0)
    np.testing.assert_allclose(out[ex.index("it")], expected, rtol=1e-12)


def test_it_prefers_the_animate_noun_in_other_sentences():
    for sentence, winner in [("The dog sat on the rug because it was tired", "dog"),
                             ("The bird slept on the sofa because it was hungry", "bird")]:
        ex = running_example(sentence)
        _, w = layer()(ex.X)
        assert ex.tokens[int(np.argmax(w[ex.index("it")]))] == winner


def test_layer_holds_copies_of_the_hand_set_matrices():
    w_q, w_k, w_v = matrices()
    assert w_q.shape == w_k.shape == w_v.shape == (5, 3)
    lay = layer()
    assert isinstance(lay, SelfAttention)
    np.testing.assert_array_equal(lay.W_q, w_q)
    w_q[0, 0] = 99.0  # editing a copy does not change the module's matrices
    assert matrices()[0][0, 0] == 0.0


def test_embed_is_case_insensitive_and_strips_punctuation():
    np.testing.assert_array_equal(embed("The cat."), embed(["the", "cat"]))
    np.testing.assert_array_equal(embed(["CAT"])[0], [1.0, 1.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("bad", [None, 3, b"the cat"])
def test_tokenize_refuses_a_sentence_that_is_not_text(bad):
    with pytest.raises(ValueError, match=r"sentence must be a str, got"):
        tokenize(bad)


@pytest.mark.parametrize("bad, message", [
    (None, r"tokens must be a sentence \(str\) or a list of words, got None"),
    (7, r"tokens must be a sentence \(str\) or a list of words, got 7"),
    (["cat", 3], r"tokens must hold words \(str\), got 3 \(int\)"),
    ([], r"need at least one word, got none"),
    ("", r"need at least one word, got none"),
])
def test_embed_refuses_what_is_not_a_list_of_words(bad, message):
    with pytest.raises(ValueError, match=message):
        embed(bad)


def test_index_of_a_missing_word_lists_the_words_of_the_sentence():
    ex = running_example("The cat sat")
    with pytest.raises(ValueError, match=r"word 'dog' is not in the sentence; "
                                         r"its words: \['The', 'cat', 'sat'\]"):
        ex.index("dog")
    assert ex.index("sat") == 2


@pytest.mark.parametrize("call", [lambda: embed([]), lambda: running_example(""), lambda: running_example(" ... ")],
                         ids=["embed", "running_example", "only punctuation"])
def test_a_sentence_without_words_is_refused_naming_the_sentence(call):
    with pytest.raises(ValueError, match=r"^tokens \(the words of the sentence\) need at least one word, got none"):
        call()
