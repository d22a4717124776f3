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
    with pytest.raises(CheckError, match="None"):
        check_array(None, [1.0])
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
def make_fn(scale_mode="sqrt", dim=-1, transpose_k=True, invert_mask=False, out_transposed=False):
    def fn(q, k, v, mask=None):
        q, k, v = t(q), t(k), t(v)
        d_k = q.shape[-1]
        scores = q @ k.T if transpose_k else q @ k
        if scale_mode == "sqrt":
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
    def fn(q, k, v, mask=None):
        q, k, v = t(q), t(k), t(v)
        m = None if mask is None else torch.as_tensor(mask)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m)
        s = (q @ k.T) / math.sqrt(q.shape[-1])
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
        check_attention(lambda q, k, v, mask=None: q)


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
