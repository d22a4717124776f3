"""check_causal_mask: a learner's causal mask (chapter "Causal self-attention"), against the mask
PyTorch applies with ``is_causal=True``, and the mistakes it names.

The right answers are written here with loops over (i, j), apart from the checker's reference
(read off PyTorch's weights) and from selfattn.causal_mask; the reference itself is pinned to
hand-typed masks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selfattn import exercises
from selfattn.exercises import CheckError, _torch_causal_mask, check_causal_mask


def loops(n):
    """The causal mask typed out: query i may read key j exactly when j <= i."""
    m = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(n):
            m[i, j] = j <= i
    return m


def test_the_reference_is_the_hand_typed_lower_triangle():
    assert _torch_causal_mask(1).tolist() == [[True]]
    assert _torch_causal_mask(3).tolist() == [[True, False, False],
                                              [True, True, False],
                                              [True, True, True]]
    for n in (2, 5, 9):
        assert (_torch_causal_mask(n) == loops(n)).all()


@pytest.mark.parametrize("fn", [
    loops,
    lambda n: np.tril(np.ones((n, n), dtype=bool)),
    lambda n: np.tril(np.ones((n, n), dtype=int)),  # 1/0 are accepted
    lambda n: torch.ones(n, n, dtype=torch.bool).tril(),  # a tensor too
    lambda n: np.tril(np.ones((n, n))).tolist(),  # and a list of floats 1.0/0.0
], ids=["loops", "tril-bool", "tril-int", "torch", "list"])
def test_a_right_mask_passes(fn, capsys):
    assert check_causal_mask(fn) is True
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize("wrong, words", [
    (lambda n: ~loops(n), "NOT attend"),
    (lambda n: np.tril(np.ones((n, n), dtype=bool), k=-1), "leaves out the diagonal"),
    (lambda n: np.tril(np.ones((n, n), dtype=bool), k=1), r"key i \+ 1"),
    (lambda n: loops(n).T, "transpose"),
    (lambda n: np.ones((n, n), dtype=bool), "allows everything"),
], ids=["polarity", "strict", "leak", "transpose", "no-mask"])
def test_each_usual_mistake_is_named(wrong, words):
    with pytest.raises(CheckError, match=words):
        check_causal_mask(wrong)


def test_a_mask_right_only_for_small_n_is_caught_at_its_first_wrong_entry():
    def only_five(n):  # right for n = 5, wrong in one entry for n = 9
        m = loops(n)
        if n == 9:
            m[8, 3] = False
        return m

    with pytest.raises(CheckError, match=r"n=9: entry \[8, 3\] \(query 8, key 3\) is False"):
        check_causal_mask(only_five)


def test_a_mask_that_is_wrong_only_for_one_token_is_caught():
    with pytest.raises(CheckError, match="n=1"):
        check_causal_mask(lambda n: loops(n) if n > 1 else np.zeros((1, 1), dtype=bool))


@pytest.mark.parametrize("fn, words", [
    (lambda n: loops(n)[:, :-1], r"shape \(5, 4\), expected \(5, 5\)"),
    (lambda n: np.where(loops(n), 0.0, -np.inf), "additive mask"),
    (lambda n: "lower", r"shape \(\), expected"),
    (lambda n: 1 / 0, "ZeroDivisionError"),
], ids=["shape", "additive", "text", "raises"])
def test_a_malformed_answer_is_named(fn, words):
    with pytest.raises(CheckError, match=words):
        check_causal_mask(fn)


def test_the_function_itself_must_be_passed():
    with pytest.raises(ValueError, match="takes your function itself"):
        check_causal_mask(loops(3))


def test_meta_a_checker_with_a_transposed_reference_fails_the_right_answer(monkeypatch):
    # the checker's verdict really depends on its reference: with a wrong one, a right mask fails
    monkeypatch.setattr(exercises, "_torch_causal_mask", lambda n: loops(n).T)
    with pytest.raises(CheckError):
        check_causal_mask(loops)


def test_meta_the_mistake_messages_never_fire_on_the_right_answer():
    for n in (1, 2, 5, 9):
        for wrong, _ in exercises._mask_mistakes(n):
            if n >= 3:  # from 3 tokens on every usual mistake is a different mask
                assert not (wrong == loops(n)).all()
