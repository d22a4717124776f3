"""Tests of the exercise checks: right answers pass, each typical wrong answer is rejected with its diagnosis.

Right and wrong answers are built here with PyTorch or by hand, never with selfattn,
so the checks are compared against an independent source.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from selfattn.exercises import (
    CheckError,
    check_array,
    check_attention,
    check_context_vector,
    check_dot_product,
    check_query,
    check_scores,
    check_weights,
)


# --------------------------------------------------------------------------- #
# independent reference: PyTorch
# --------------------------------------------------------------------------- #
def t(x):
    return torch.as_tensor(np.asarray(x), dtype=torch.float64)


def torch_weights(q, k, mask=None, scale=None, dim=-1, transpose_k=True, swap=False):
    """Attention weights computed with torch, optionally with a deliberate mistake."""
    q, k = t(q), t(k)
    d_k = q.shape[-1]
    if swap:
        scores = k @ q.T
    elif transpose_k:
        scores = q @ k.T
    else:
        scores = q @ k
    scores = scores * (1.0 / math.sqrt(d_k) if scale is None else scale)
    if mask is not None:
        scores = scores.masked_fill(~torch.as_tensor(mask), float("-inf"))
    return torch.softmax(scores, dim=dim).numpy()


@pytest.fixture
def qk():
    g = torch.Generator().manual_seed(7)
    q = torch.randn(4, 4, generator=g, dtype=torch.float64).numpy()
    k = torch.randn(4, 4, generator=g, dtype=torch.float64).numpy()
    return q, k


def causal(n):
    return torch.tril(torch.ones(n, n, dtype=torch.bool)).numpy()


# --------------------------------------------------------------------------- #
# check_array
# --------------------------------------------------------------------------- #
def test_check_array_accepts_equal_values_and_prints_correct(capsys):
    assert check_array([[1.0, 2.0]], np.array([[1.0, 2.0]])) is True
    assert capsys.readouterr().out.startswith("Correct: ")


def test_check_array_names_both_shapes():
    with pytest.raises(CheckError, match=r"shape \(2, 3\), expected shape \(3, 2\)"):
        check_array(np.zeros((2, 3)), np.zeros((3, 2)))


def test_check_array_reports_nan_and_its_index():
    with pytest.raises(CheckError, match=r"NaN.*index \(1,\)"):
        check_array([1.0, float("nan")], [1.0, 2.0])


def test_check_array_names_first_differing_entry_with_values_and_difference():
    with pytest.raises(CheckError) as err:
        check_array([[1.0, 2.0], [3.0, 4.5]], [[1.0, 2.0], [3.0, 4.0]], name="X")
    msg = str(err.value)
    assert "X" in msg and "(1, 1)" in msg and "4.5" in msg and "expected 4" in msg and "0.5" in msg


def test_check_array_rejects_non_numbers_and_none():
    with pytest.raises(CheckError, match="your answer is None: did you forget to `return` it"):
        check_array(None, [1.0])
    with pytest.raises(CheckError, match="your weights are None"):
        check_weights(None, np.eye(2), np.eye(2))
    with pytest.raises(CheckError, match="numbers"):
        check_array(["a"], [1.0])


def test_check_array_accepts_torch_tensor():
    assert check_array(torch.tensor([1.0, 2.0]), [1.0, 2.0])


def test_check_error_is_an_assertion_error():
    assert issubclass(CheckError, AssertionError)


# --------------------------------------------------------------------------- #
# check_scores
# --------------------------------------------------------------------------- #
def test_check_scores_accepts_hand_computed_scores():
    q = np.array([[1.0, 0.0], [0.0, 2.0]])
    k = np.array([[1.0, 1.0], [3.0, 0.0], [0.0, -1.0]])
    # by hand: row 0 = [1, 3, 0]; row 1 = [2, 0, -2]
    assert check_scores([[1.0, 3.0, 0.0], [2.0, 0.0, -2.0]], q, k)
    assert check_scores([[0.5, 1.5, 0.0], [1.0, 0.0, -1.0]], q, k, scale=0.5)


def test_check_scores_diagnoses_transpose_for_rectangular_scores():
    q = np.array([[1.0, 0.0], [0.0, 2.0]])
    k = np.array([[1.0, 1.0], [3.0, 0.0], [0.0, -1.0]])
    with pytest.raises(CheckError, match="transpose of the scores: rows must be queries"):
        check_scores(t(k) @ t(q).T, q, k)


def test_check_scores_diagnoses_q_and_k_swapped_for_square_scores(qk):
    q, k = qk
    with pytest.raises(CheckError, match="transpose of the scores: rows must be queries"):
        check_scores((t(k) @ t(q).T).numpy(), q, k)


def test_check_scores_diagnoses_missing_scale(qk):
    q, k = qk
    with pytest.raises(CheckError, match="without the scale"):
        check_scores((t(q) @ t(k).T).numpy(), q, k, scale=0.5)


def test_check_scores_reports_first_difference(qk):
    q, k = qk
    wrong = (t(q) @ t(k).T).numpy()
    wrong[2, 1] += 1.0
    with pytest.raises(CheckError, match=r"index \(2, 1\).*difference 1"):
        check_scores(wrong, q, k)


# --------------------------------------------------------------------------- #
# check_weights: right answer and every typical wrong answer
# --------------------------------------------------------------------------- #
def test_check_weights_accepts_torch_reference(qk, capsys):
    q, k = qk
    assert check_weights(torch_weights(q, k), q, k)
    assert capsys.readouterr().out.startswith("Correct: ")


def test_check_weights_accepts_torch_reference_with_causal_mask(qk):
    q, k = qk
    assert check_weights(torch_weights(q, k, mask=causal(4)), q, k, mask=causal(4))


def test_check_weights_accepts_torch_sdpa_weights(qk):
    q, k = qk
    # torch's own fused function, recovered through an identity value matrix
    w = torch.nn.functional.scaled_dot_product_attention(t(q)[None], t(k)[None], torch.eye(4, dtype=torch.float64)[None])[0]
    assert check_weights(w, q, k)


def test_check_weights_diagnoses_forgotten_scale(qk):
    q, k = qk
    with pytest.raises(CheckError, match="forgot the scale"):
        check_weights(torch_weights(q, k, scale=1.0), q, k)


def test_check_weights_diagnoses_forgotten_scale_with_mask(qk):
    q, k = qk
    with pytest.raises(CheckError, match="forgot the scale"):
        check_weights(torch_weights(q, k, mask=causal(4), scale=1.0), q, k, mask=causal(4))


def test_check_weights_diagnoses_dividing_by_d_k_instead_of_its_root(qk):
    q, k = qk
    with pytest.raises(CheckError, match=r"divided the scores by d_k = 4.*sqrt\(d_k\) = 2"):
        check_weights(torch_weights(q, k, scale=1 / 4), q, k)


def test_check_weights_diagnoses_softmax_over_wrong_axis_and_names_bad_row(qk):
    q, k = qk
    with pytest.raises(CheckError) as err:
        check_weights(torch_weights(q, k, dim=0), q, k)
    msg = str(err.value)
    assert msg.startswith("row 0 of your weights sums to")
    assert "wrong axis" in msg and "columns sum to one" in msg


def test_check_weights_diagnoses_k_not_transposed(qk):
    q, k = qk
    with pytest.raises(CheckError, match="K is not transposed"):
        check_weights(torch_weights(q, k, transpose_k=False), q, k)


def test_check_weights_diagnoses_q_and_k_swapped(qk):
    q, k = qk
    with pytest.raises(CheckError, match=r"k @ q\.T"):
        check_weights(torch_weights(q, k, swap=True), q, k)


def test_check_weights_diagnoses_wrong_mask_polarity(qk):
    q, k = qk
    # keep only the strictly upper triangle plus the last row's... use a mask whose inverse has no empty row
    mask = np.array([[True, False, True, False],
                     [False, True, False, True],
                     [True, True, False, False],
                     [False, False, True, True]])
    with pytest.raises(CheckError, match="wrong polarity"):
        check_weights(torch_weights(q, k, mask=~mask), q, k, mask=mask)


def test_check_weights_diagnoses_wrong_causal_mask_polarity_after_row_sum(qk):
    q, k = qk
    # ~causal leaves row 3 with nothing to attend to; a careful learner gets zeros there
    wrong = np.nan_to_num(torch_weights(q, k, mask=~causal(4)), nan=0.0)
    with pytest.raises(CheckError) as err:
        check_weights(wrong, q, k, mask=causal(4))
    msg = str(err.value)
    assert "row 3 of your weights sums to 0" in msg and "wrong polarity" in msg


def test_check_weights_diagnoses_ignored_mask(qk):
    q, k = qk
    with pytest.raises(CheckError, match="ignored the mask"):
        check_weights(torch_weights(q, k), q, k, mask=causal(4))


def test_check_weights_rejects_negative_values(qk):
    q, k = qk
    with pytest.raises(CheckError, match="negative"):
        check_weights((t(q) @ t(k).T).numpy() / 2, q, k)


def test_check_weights_names_first_bad_row_and_its_sum(qk):
    q, k = qk
    w = torch_weights(q, k)
    w[2] *= 2
    with pytest.raises(CheckError, match="row 2 of your weights sums to 2"):
        check_weights(w, q, k)


def test_check_weights_reports_nan(qk):
    q, k = qk
    w = torch_weights(q, k)
    w[1, 1] = np.nan
    with pytest.raises(CheckError, match="NaN"):
        check_weights(w, q, k)


def test_check_weights_names_both_shapes():
    q = np.ones((2, 3))
    k = np.ones((5, 3))
    with pytest.raises(CheckError, match=r"shape \(5, 2\), expected shape \(2, 5\)"):
        check_weights(np.full((5, 2), 0.5), q, k)


def test_check_weights_reports_generic_difference_when_no_diagnosis_fits(qk):
    q, k = qk
    w = torch_weights(q, k)
    w[0, 0] += 0.01
    w[0, 1] -= 0.01  # row still sums to one
    with pytest.raises(CheckError, match=r"index \(0, 0\)"):
        check_weights(w, q, k)


# --------------------------------------------------------------------------- #
# check_attention: learner functions with each typical bug, written in torch
# --------------------------------------------------------------------------- #
def make_fn(scale_mode="sqrt", dim=-1, transpose_k=True, invert_mask=False, out_transposed=False,
            use_scale="multiply"):
    """A learner's attention function in torch; each argument but the defaults plants one bug."""
    def fn(q, k, v, mask=None, scale=None):
        q, k, v = t(q), t(k), t(v)
        d_k = q.shape[-1]
        scores = q @ k.T if transpose_k else q @ k
        if scale is not None and use_scale == "multiply":
            scores = scores * scale
        elif scale is not None and use_scale == "divide":
            scores = scores / scale
        elif scale_mode == "sqrt":
            scores = scores / math.sqrt(d_k)
        elif scale_mode == "d_k":
            scores = scores / d_k
        if mask is not None:
            m = torch.as_tensor(mask)
            scores = scores.masked_fill(m if invert_mask else ~m, -1e9)
        w = torch.softmax(scores, dim=dim)
        out = (w.T @ v) if out_transposed else (w @ v)
        return out, w
    return fn


def test_check_attention_accepts_correct_torch_function(capsys):
    assert check_attention(make_fn())
    assert capsys.readouterr().out.startswith("Correct: ")


def test_check_attention_accepts_torch_sdpa():
    def fn(q, k, v, mask=None, scale=None):
        q, k, v = t(q), t(k), t(v)
        m = None if mask is None else torch.as_tensor(mask)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=scale)
        s = (q @ k.T) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
        if m is not None:
            s = s.masked_fill(~m, float("-inf"))
        return out, torch.softmax(s, dim=-1)
    assert check_attention(fn)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(scale_mode="none"), r"case 1 .*forgot the scale"),
        (dict(scale_mode="d_k"), r"case 1 .*divided the scores by d_k"),
        (dict(dim=0), r"case 1 .*wrong axis"),
        (dict(transpose_k=False), r"case 1 .*K is not transposed"),
        (dict(invert_mask=True), r"case 2 .*causal mask.*wrong polarity"),
        (dict(out_transposed=True), r"case 1 .*weights are right.*weights\.T @ v"),
        (dict(use_scale="ignore"), r"case 4 .*scale=0\.3.*ignored the scale argument.*scale = 0\.3"),
        (dict(use_scale="divide"), r"case 4 .*divided the scores by scale = 0\.3.*multiply"),
    ],
)
def test_check_attention_rejects_typical_bug_and_names_case(kwargs, expected):
    with pytest.raises(CheckError, match=expected):
        check_attention(make_fn(**kwargs))


def test_check_attention_reports_exception_with_transpose_hint():
    def fn(q, k, v, mask=None):
        return np.ones((1, 1)) @ np.ones((2, 2)), None
    with pytest.raises(CheckError, match="raised ValueError.*forget the transpose"):
        check_attention(fn)


def test_check_attention_rejects_non_pair_return():
    with pytest.raises(CheckError, match=r"pair \(output, weights\)"):
        check_attention(lambda q, k, v, mask=None, scale=None: q)


def test_check_attention_accepts_output_and_weights_as_a_list():
    fn = make_fn()
    assert check_attention(lambda q, k, v, mask=None, scale=None: list(fn(q, k, v, mask=mask, scale=scale)))


def test_check_attention_says_a_function_without_scale_argument_must_take_one():
    fn = make_fn()
    with pytest.raises(CheckError, match=r"case 4 .*TypeError.*must take a scale argument"):
        check_attention(lambda q, k, v, mask=None: fn(q, k, v, mask=mask))


def test_check_attention_passes_the_scale_it_names_in_its_case():
    seen = []

    def fn(q, k, v, mask=None, scale=None):
        seen.append(scale)
        return make_fn()(q, k, v, mask=mask, scale=scale)
    check_attention(fn)
    assert 0.3 in seen and any(s is None for s in seen)


def test_check_attention_rejects_a_result_instead_of_a_function():
    with pytest.raises(ValueError, match="takes your function itself"):
        check_attention((np.zeros((2, 2)), np.eye(2)))


# --------------------------------------------------------------------------- #
# smaller checks
# --------------------------------------------------------------------------- #
def test_check_context_vector_accepts_hand_computed_sum():
    v = [[1.0, 0.0], [3.0, 2.0]]
    # 0.25 * [1, 0] + 0.75 * [3, 2] = [2.5, 1.5]
    assert check_context_vector([2.5, 1.5], [0.25, 0.75], v)


def test_check_context_vector_diagnoses_plain_sum_and_mean():
    v = [[1.0, 0.0], [3.0, 2.0]]
    with pytest.raises(CheckError, match="plain sum"):
        check_context_vector([4.0, 2.0], [0.25, 0.75], v)
    with pytest.raises(CheckError, match="plain mean"):
        check_context_vector([2.0, 1.0], [0.25, 0.75], v)


def test_check_query_accepts_hand_product_and_rejects_elementwise():
    x = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])
    assert check_query([[1.0, 2.0, 4.0]], x, W)  # by hand
    with pytest.raises(CheckError, match="element-wise"):
        check_query([[1.0, 2.0]], x, W)
    with pytest.raises(CheckError, match=r"index \(0, 2\)"):
        check_query([[1.0, 2.0, 3.0]], x, W)


def test_check_dot_product_accepts_number_and_diagnoses_mistakes():
    assert check_dot_product(11.0, [1.0, 2.0], [3.0, 4.0])  # 1*3 + 2*4
    with pytest.raises(CheckError, match="element-wise"):
        check_dot_product([3.0, 8.0], [1.0, 2.0], [3.0, 4.0])
    with pytest.raises(CheckError, match="cosine"):
        check_dot_product(11.0 / (math.sqrt(5) * 5.0), [1.0, 2.0], [3.0, 4.0])
    with pytest.raises(CheckError, match="expected 11"):
        check_dot_product(10.0, [1.0, 2.0], [3.0, 4.0])


def test_check_weights_diagnoses_wrong_axis_for_a_single_query():
    # one query against three keys: softmax over axis 0 makes every entry 1 (by hand: e^x / e^x)
    q = np.array([[1.0, 0.0]])
    k = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    with pytest.raises(CheckError) as err:
        check_weights(np.ones((1, 3)), q, k)
    assert "row 0 of your weights sums to 3" in str(err.value) and "wrong axis" in str(err.value)
    assert check_weights(torch_weights(q, k), q, k)


# --------------------------------------------------------------------------- #
# the scale argument of check_weights and check_scores
# --------------------------------------------------------------------------- #
def test_check_weights_accepts_a_given_scale_and_diagnoses_ignoring_it(qk):
    q, k = qk  # d_k = 4: the default scale is 0.5
    assert check_weights(torch_weights(q, k, scale=0.3), q, k, scale=0.3)
    with pytest.raises(CheckError, match="ignored the scale argument"):
        check_weights(torch_weights(q, k), q, k, scale=0.3)
    with pytest.raises(CheckError, match="divided the scores by scale"):
        check_weights(torch_weights(q, k, scale=1 / 0.3), q, k, scale=0.3)


def test_check_scores_diagnoses_dividing_by_the_scale(qk):
    q, k = qk
    with pytest.raises(CheckError, match="divided by the scale 0.5: multiply"):
        check_scores((t(q) @ t(k).T).numpy() / 0.5, q, k, scale=0.5)


# --------------------------------------------------------------------------- #
# masks: boolean only; an additive 0 / -inf mask is refused with the core's message
# --------------------------------------------------------------------------- #
def test_check_weights_refuses_an_additive_mask_with_the_message_of_the_core(qk):
    q, k = qk
    additive = np.where(causal(4), 0.0, -np.inf)
    right = torch_weights(q, k, mask=causal(4))
    with pytest.raises(ValueError, match="additive float mask") as checker:
        check_weights(right, q, k, mask=additive)
    # the flipped answer (what reading 0 as False, -inf as True gives) must not pass either
    with pytest.raises(ValueError, match="additive float mask"):
        check_weights(torch_weights(q, k, mask=~causal(4)), q, k, mask=additive)
    from selfattn import scaled_dot_product_attention
    with pytest.raises(ValueError) as core:
        scaled_dot_product_attention(q, k, np.eye(4), mask=additive)
    assert str(checker.value) == str(core.value)


def test_check_weights_refuses_an_additive_torch_mask(qk):
    q, k = qk
    additive = torch.zeros(4, 4).masked_fill(~torch.as_tensor(causal(4)), float("-inf"))
    with pytest.raises(ValueError, match="additive float mask"):
        check_weights(torch_weights(q, k, mask=causal(4)), q, k, mask=additive)


def test_check_weights_accepts_a_torch_bool_mask_and_a_key_mask_that_broadcasts(qk):
    q, k = qk
    keys = np.array([True, True, False, True])  # (n_k,): the same keys for every query
    assert check_weights(torch_weights(q, k, mask=causal(4)), q, k, mask=torch.as_tensor(causal(4)))
    assert check_weights(torch_weights(q, k, mask=np.tile(keys, (4, 1))), q, k, mask=keys)


def test_check_weights_refuses_a_mask_that_does_not_fit_the_scores(qk):
    q, k = qk
    with pytest.raises(ValueError, match=r"mask of shape \(3, 3\) does not broadcast.*\(4, 4\)"):
        check_weights(torch_weights(q, k), q, k, mask=np.ones((3, 3), dtype=bool))


# --------------------------------------------------------------------------- #
# reasonable shapes are accepted, real shape mistakes are not
# --------------------------------------------------------------------------- #
def test_check_weights_accepts_one_query_as_a_row_or_a_vector():
    q = np.array([1.0, 0.0])  # one query, (d_k,)
    k = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    e = np.exp(np.array([1.0, 0.0, 2.0]) / math.sqrt(2))  # by hand: the scores are q . k_j
    w = e / e.sum()  # (3,)
    assert check_weights(w, q, k)
    assert check_weights(w[None, :], q, k)
    assert check_weights(w, q[None, :], k)
    with pytest.raises(CheckError, match=r"shape \(3, 1\), expected shape \(1, 3\)"):
        check_weights(w[:, None], q, k)


def test_check_query_accepts_a_row_for_one_word_and_a_vector_for_a_one_row_x():
    x = np.array([1.0, 2.0])  # one word, (d_model,)
    W = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])
    assert check_query([[1.0, 2.0, 4.0]], x, W)  # (1, d_k) for a 1-D x
    assert check_query([1.0, 2.0, 4.0], x[None, :], W)  # (d_k,) for x of shape (1, d_model)
    with pytest.raises(CheckError, match=r"shape \(3, 1\)"):
        check_query([[1.0], [2.0], [4.0]], x, W)  # a column is not a row


def test_check_dot_product_accepts_one_number_in_a_list_or_array():
    assert check_dot_product([11.0], [1.0, 2.0], [3.0, 4.0])
    assert check_dot_product(np.array([[11.0]]), [1.0, 2.0], [3.0, 4.0])
    assert check_dot_product(torch.tensor(11.0), [1.0, 2.0], [3.0, 4.0])
    assert check_dot_product(11, [1.0, 2.0], [3.0, 4.0])


def test_check_context_vector_accepts_a_row_and_a_one_row_weights_matrix():
    v = [[1.0, 0.0], [3.0, 2.0]]
    assert check_context_vector([[2.5, 1.5]], [0.25, 0.75], v)
    assert check_context_vector([2.5, 1.5], [[0.25, 0.75]], v)


# --------------------------------------------------------------------------- #
# answers that are not real numbers
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("answer", [True, np.bool_(True), [True], torch.tensor(True)])
def test_a_bool_is_not_accepted_as_the_number_one(answer):
    with pytest.raises(CheckError, match="True and False are not numbers"):
        check_dot_product(answer, [1.0, 0.0], [1.0, 0.0])
    with pytest.raises(CheckError, match="True and False are not numbers"):
        check_array(answer, 1)


@pytest.mark.parametrize("answer", [11 + 0j, np.array([11 + 0j]), torch.tensor([11.0 + 0j])])
def test_a_complex_answer_is_rejected_not_warned(answer, recwarn):
    with pytest.raises(CheckError, match="must be real"):
        check_dot_product(answer, [1.0, 2.0], [3.0, 4.0])
    assert not [w for w in recwarn if issubclass(w.category, np.exceptions.ComplexWarning)]


def test_complex_weights_are_rejected(qk):
    q, k = qk
    with pytest.raises(CheckError, match="your weights must be real"):
        check_weights(torch_weights(q, k).astype(complex), q, k)


@pytest.mark.parametrize("answer", ["11", object(), [[1.0, 2.0], [3.0]]])
def test_text_objects_and_ragged_lists_are_rejected(answer):
    with pytest.raises(CheckError, match="your dot product"):
        check_dot_product(answer, [1.0, 2.0], [3.0, 4.0])


# --------------------------------------------------------------------------- #
# misuse of a checker: ValueError from selfattn._checks, the core's messages
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(q=np.ones((2, 3)), k=np.ones((2, 4))), r"same last dimension d_k.*q \(2, 3\).*k \(2, 4\)"),
        (dict(q=np.array([[1.0, np.nan]]), k=np.ones((2, 2))), r"q contains 1 non-finite"),
        (dict(q=np.ones((2, 2)), k=np.ones(2)), r"k must be 2-D \(n_k, d_k\), got shape \(2,\)"),
        (dict(q=np.ones((2, 2)), k=np.ones((0, 2))), r"k must have at least one row"),
        (dict(q=np.ones((2, 2)), k=np.ones((2, 2)), scale=float("inf")), "scale must be a finite number"),
        (dict(q=np.ones((2, 2)), k=np.ones((2, 2)), scale=True), "scale must be a finite number"),
        (dict(q=np.ones((2, 2)), k=np.ones((2, 2)), scale="0.5"), "scale must be a finite number"),
        (dict(q=np.ones((1, 2, 2)), k=np.ones((1, 2, 2))), r"q must be 2-D \(n_q, d_k\).*\(1, 2, 2\)"),
        (dict(q=np.ones((2, 2)), k=np.ones((2, 2)), rtol=-1.0), "rtol must be at least 0"),
        (dict(q=np.ones((2, 2)), k=np.ones((2, 2)), atol=float("nan")), "atol must be a finite number"),
    ],
)
def test_check_weights_rejects_bad_arguments_with_a_value_error(kwargs, expected):
    with pytest.raises(ValueError, match=expected):
        check_weights(np.full((2, 2), 0.5), **kwargs)


def test_check_scores_uses_the_same_argument_checks_as_the_core():
    from selfattn import scaled_dot_product_attention
    q, k = np.ones((2, 3)), np.ones((2, 4))
    with pytest.raises(ValueError) as checker:
        check_scores(np.ones((2, 2)), q, k)
    with pytest.raises(ValueError) as core:
        scaled_dot_product_attention(q, k, k)
    assert str(checker.value) == str(core.value)


def test_smaller_checks_reject_bad_arguments_with_a_value_error():
    with pytest.raises(ValueError, match="two vectors of the same length"):
        check_dot_product(1.0, [1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="a must be one vector"):
        check_dot_product(1.0, [[1.0, 2.0]], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="same d_model"):
        check_query([1.0], np.ones((1, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="W_q must be 2-D"):
        check_query([1.0], np.ones((1, 2)), np.ones(2))
    with pytest.raises(ValueError, match="same n"):
        check_context_vector([1.0], [0.5, 0.5], [[1.0]])
    with pytest.raises(ValueError, match="expected must hold numbers"):
        check_array(1.0, True)
    with pytest.raises(ValueError, match="expected contains 1 non-finite"):
        check_array([1.0], [np.nan])


def test_checks_accept_torch_tensors_for_their_own_arguments(qk):
    q, k = qk
    assert check_weights(torch_weights(q, k), t(q), t(k))
    assert check_scores((t(q) @ t(k).T), t(q), t(k))
    assert check_array(np.array([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True))


# --------------------------------------------------------------------------- the bad-input hunt
@pytest.mark.parametrize("name", [None, 1, True, b"mine", ["a"], ""])
def test_check_array_refuses_a_name_that_is_not_text(name):
    with pytest.raises(ValueError, match=r"^name must be a non-empty str"):
        check_array([1.0], [1.0], name=name)


def test_check_scores_refuses_a_scale_whose_scores_overflow_instead_of_passing_any_answer():
    q = np.array([[1.0, 0.0], [0.0, 2.0]]); k = np.array([[1.0, 1.0], [3.0, 0.0]])
    with pytest.raises(ValueError, match=r"^q @ k.T \* scale is not finite \(NaN or inf\): the expected scores overflow"):
        check_scores(q @ k.T, q, k, scale=1e308)  # the unscaled scores must not pass as "correct"


def test_check_weights_refuses_a_scale_whose_scores_overflow():
    q = np.array([[1.0, 0.0], [0.0, 1.0]]); k = np.array([[2.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match=r"^q @ k.T \* scale is not finite \(NaN or inf\): the expected scores overflow"):
        check_weights(np.full((2, 2), 0.5), q, k, scale=1e308)


def test_check_weights_with_a_tiny_scale_diagnoses_the_answer_instead_of_crashing():
    q = np.array([[1.0, 0.0], [0.0, 1.0]]); k = np.array([[2.0, 0.0], [1.0, 1.0]])
    wrong = torch_weights(q, k)  # the default scale 1/sqrt(d_k), not the one given
    with pytest.raises(CheckError, match=r"you ignored the scale argument"):
        check_weights(wrong, q, k, scale=1e-320)


def test_check_weights_refuses_a_ragged_mask_naming_it():
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"^mask cannot be made into an array"):
        check_weights(np.full((2, 2), 0.5), q, q, mask=[[True, False], [True]])


def test_a_mistake_whose_scores_overflow_is_never_the_diagnosis():
    q = np.array([[1.0, 0.0], [0.0, 2.0]]); k = np.array([[1.0, 1.0], [3.0, 0.0]])
    with pytest.raises(CheckError) as err:  # raw / scale overflows: it must not "match" every answer
        check_scores(np.ones((2, 2)), q, k, scale=1e-320)
    assert "divided by the scale" not in str(err.value) and "differ from the expected values" in str(err.value)
