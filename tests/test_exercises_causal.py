"""check_causal_mask: a learner's causal mask of a cached step (chapter "Causal self-attention"),
``my_causal_mask(n_new, n_keys)``, against the mask PyTorch applies with
``attn_mask=causal_lower_right(n_new, n_keys)``, and the mistakes it names.

The right answers are written here with loops over (r, j), apart from the checker's reference
(read off PyTorch's weights); the reference itself is pinned to hand-typed masks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selfattn import exercises
from selfattn.exercises import CheckError, _torch_causal_mask, check_causal_mask


def loops(n_new, n_keys):
    """The mask typed out: new query r is the token at position n_keys - n_new + r, and it may
    read key j exactly when j <= that position."""
    m = np.zeros((n_new, n_keys), dtype=bool)
    for r in range(n_new):
        for j in range(n_keys):
            m[r, j] = j <= n_keys - n_new + r
    return m


def top_left(n_new, n_keys):
    return np.tril(np.ones((n_new, n_keys), dtype=bool))


def test_the_reference_is_the_hand_typed_bottom_right_triangle():
    assert _torch_causal_mask(1, 1).tolist() == [[True]]
    assert _torch_causal_mask(3, 3).tolist() == [[True, False, False],
                                                 [True, True, False],
                                                 [True, True, True]]
    assert _torch_causal_mask(2, 4).tolist() == [[True, True, True, False],
                                                 [True, True, True, True]]
    assert _torch_causal_mask(1, 6).tolist() == [[True] * 6]
    for size in ((5, 5), (2, 2), (3, 8), (2, 9)):
        assert (_torch_causal_mask(*size) == loops(*size)).all()


def test_is_causal_true_is_the_top_left_triangle_on_a_cached_step():
    # the trap the exercise is about: is_causal=True lets one new token see key 0 only
    zeros_q, zeros_k = torch.zeros(1, 1, 2), torch.zeros(1, 6, 2)
    w = torch.nn.functional.scaled_dot_product_attention(
        zeros_q, zeros_k, torch.eye(6)[None], is_causal=True)  # (1, 1, 6)
    assert (w[0] > 0).tolist() == [[True, False, False, False, False, False]]


@pytest.mark.parametrize("fn", [
    loops,
    lambda n_new, n_keys: np.arange(n_keys) <= np.arange(n_keys - n_new, n_keys)[:, None],
    lambda n_new, n_keys: np.tril(np.ones((n_new, n_keys), dtype=bool), k=n_keys - n_new),
    lambda n_new, n_keys: loops(n_new, n_keys).astype(int),  # 1/0 are accepted
    lambda n_new, n_keys: torch.ones(n_new, n_keys, dtype=torch.bool).tril(n_keys - n_new),
    lambda n_new, n_keys: loops(n_new, n_keys).astype(float).tolist(),  # a list of 1.0/0.0
], ids=["loops", "positions", "tril-offset", "int", "torch", "list"])
def test_a_right_mask_passes(fn, capsys):
    assert check_causal_mask(fn) is True
    out = capsys.readouterr().out
    assert out.startswith("Correct: ") and "(1, 6)" in out


@pytest.mark.parametrize("wrong, words", [
    (top_left, r"n_new=1, n_keys=6: your mask is the top-left triangle .*is_causal=True"),
    (lambda a, b: ~loops(a, b), "n_new=5, n_keys=5: .*NOT attend"),
    (lambda a, b: np.tril(np.ones((a, b), dtype=bool), k=b - a - 1),
     "n_new=5, n_keys=5: your mask leaves out the diagonal"),
    (lambda a, b: np.tril(np.ones((a, b), dtype=bool), k=b - a + 1),
     r"n_new=5, n_keys=5: .*key p \+ 1"),
    (lambda a, b: loops(a, b).T if a == b else loops(a, b), "n_new=5, n_keys=5: .*transpose"),
    (lambda a, b: np.ones((a, b), dtype=bool), "n_new=5, n_keys=5: .*allows everything"),
], ids=["top-left", "polarity", "strict", "leak", "transpose", "no-mask"])
def test_each_usual_mistake_is_named(wrong, words):
    with pytest.raises(CheckError, match=words):
        check_causal_mask(wrong)


@pytest.mark.parametrize("wrong, words", [
    (lambda a, b: ~loops(a, b) if a != b else loops(a, b), "NOT attend"),
    (lambda a, b: np.tril(np.ones((a, b), dtype=bool), k=b - a - 1) if a != b else loops(a, b),
     "leaves out the diagonal"),
    (lambda a, b: np.tril(np.ones((a, b), dtype=bool), k=b - a + 1) if a != b else loops(a, b),
     r"key p \+ 1"),
], ids=["polarity", "strict", "leak"])
def test_a_mistake_made_only_on_cached_steps_is_named_there(wrong, words):
    # right on every square size, wrong on the first cached size where it differs
    with pytest.raises(CheckError, match=r"n_new=[13], n_keys=[68]: .*" + words):
        check_causal_mask(wrong)


def test_a_mask_wrong_in_one_entry_is_caught_at_its_first_wrong_entry():
    def one_off(n_new, n_keys):  # right except in one entry of the (3, 8) step
        m = loops(n_new, n_keys)
        if (n_new, n_keys) == (3, 8):
            m[1, 2] = False
        return m

    with pytest.raises(CheckError, match=r"n_new=3, n_keys=8: entry \[1, 2\] \(new query 1, "
                                         r"the token at position 6; key 2\) is False, "
                                         r"expected True"):
        check_causal_mask(one_off)


def test_a_mask_that_is_wrong_only_for_one_token_is_caught():
    with pytest.raises(CheckError, match="n_new=1, n_keys=1"):
        check_causal_mask(lambda a, b: loops(a, b) if b > 1 else np.zeros((1, 1), dtype=bool))


@pytest.mark.parametrize("fn, words", [
    (lambda a, b: loops(a, b)[:, :-1],
     r"n_new=5, n_keys=5: .*shape \(5, 4\), expected \(5, 5\)"),
    (lambda a, b: loops(a, b).T if a != b else loops(a, b),
     r"n_new=1, n_keys=6: .*shape \(6, 1\).*transpose"),
    (lambda a, b: loops(b, b), r"n_new=1, n_keys=6: .*shape \(6, 6\).*last n_new rows"),
    (lambda a, b: np.where(loops(a, b), 0.0, -np.inf), "additive mask"),
    (lambda a, b: "lower", r"shape \(\), expected"),
    (lambda a, b: 1 / 0, "ZeroDivisionError"),
], ids=["shape", "transposed-shape", "all-rows", "additive", "text", "raises"])
def test_a_malformed_answer_is_named(fn, words):
    with pytest.raises(CheckError, match=words):
        check_causal_mask(fn)


@pytest.mark.parametrize("fn", [
    lambda n: np.tril(np.ones((n, n), dtype=bool)),  # the square exercise's answer
    lambda: None,
    lambda a, b, c: None,
], ids=["one", "none", "three"])
def test_a_function_of_other_arguments_than_n_new_and_n_keys_is_refused(fn):
    with pytest.raises(CheckError, match=r"must take \(n_new, n_keys\)"):
        check_causal_mask(fn)


def test_the_function_itself_must_be_passed():
    with pytest.raises(ValueError, match="takes your function itself"):
        check_causal_mask(loops(3, 3))


def test_meta_a_checker_with_a_top_left_reference_fails_the_right_answer(monkeypatch):
    # the checker's verdict really depends on its reference: with a wrong one, a right mask fails
    monkeypatch.setattr(exercises, "_torch_causal_mask", top_left)
    with pytest.raises(CheckError, match="n_new=1, n_keys=6"):
        check_causal_mask(loops)


def test_meta_the_mistake_messages_never_fire_on_the_right_answer():
    for size in exercises._MASK_SIZES:
        for wrong, _ in exercises._mask_mistakes(*size):
            assert not (wrong == loops(*size)).all()


@pytest.mark.parametrize("size, n_named", [((5, 5), 5), ((3, 8), 5)])
def test_meta_every_named_mistake_is_a_different_mask_on_the_first_sizes(size, n_named):
    masks = [m.tobytes() for m, _ in exercises._mask_mistakes(*size)]
    assert len(masks) == n_named and len(set(masks)) == n_named
