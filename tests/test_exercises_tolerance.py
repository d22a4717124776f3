"""The tolerance of the exercise checks follows the precision of the answer.

The contract (module docstring of ``selfattn.exercises``) is written here as literals, so the
tests never read it from the code under test. An entry passes when

    float64 answer:  |answer - expected| <= 1e-6 + 1e-9 * max|expected|
    float32 answer:  |answer - expected| <= 1e-6 + 1e-5 * max|expected|
    integers:        exactly equal

Boundary tests move one entry 0.8 of the bound away (must pass) and 1.2 of the bound away
(must fail), for both dtypes. Right answers come from PyTorch in float32 or float64, or by hand.
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

F64 = dict(rtol=1e-9, atol=1e-6)
F32 = dict(rtol=1e-5, atol=1e-6)
MSG64 = r"tolerance for a float64 answer: \|difference\| <= 1e-06 \+ 1e-09 \* max\|expected\|"
MSG32 = r"tolerance for a float32 answer: \|difference\| <= 1e-06 \+ 1e-05 \* max\|expected\|"


def bound(expected, rtol, atol):
    return atol + rtol * float(np.abs(np.asarray(expected)).max())


def as_float32_numpy(a):
    return np.asarray(a, dtype=np.float32)


def as_float32_torch(a):
    return torch.tensor(np.asarray(a), dtype=torch.float32)


FLOAT32 = pytest.mark.parametrize("to32", [as_float32_numpy, as_float32_torch], ids=["numpy", "torch"])


def make_qk(n=4, d_k=4, seed=7):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, d_k, generator=g, dtype=torch.float64)
    k = torch.randn(n, d_k, generator=g, dtype=torch.float64)
    return q.numpy(), k.numpy()


def torch_weights(q, k, dtype=torch.float64, scale=None, dim=-1, swap=False):
    """Weights computed by torch in ``dtype`` from q and k cast to it (a float32 learner casts first)."""
    q, k = torch.as_tensor(q).to(dtype), torch.as_tensor(k).to(dtype)
    s = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (k @ q.T if swap else q @ k.T) * s
    return torch.softmax(scores, dim=dim)


def shifted(w, delta, row=0):
    """``w`` (float64) with +delta on entry (row, 0) and -delta on (row, 1): the row sum stays."""
    w = np.array(w, dtype=np.float64)
    w[row, 0] += delta
    w[row, 1] -= delta
    return w


# --------------------------------------------------------------------------- #
# check_array at the boundary, both dtypes
# --------------------------------------------------------------------------- #
EXPECTED = np.array([0.25, -0.5, 2.0])


def test_check_array_float64_passes_just_inside_and_fails_just_outside_the_tolerance():
    b = bound(EXPECTED, **F64)
    assert check_array(EXPECTED + [0.0, 0.8 * b, 0.0], EXPECTED)
    with pytest.raises(CheckError, match=MSG64):
        check_array(EXPECTED + [0.0, 1.2 * b, 0.0], EXPECTED)


@FLOAT32
def test_check_array_float32_passes_just_inside_and_fails_just_outside_the_tolerance(to32):
    b = bound(EXPECTED, **F32)
    assert check_array(to32(EXPECTED + [0.0, 0.8 * b, 0.0]), EXPECTED)
    with pytest.raises(CheckError, match=MSG32):
        check_array(to32(EXPECTED + [0.0, 1.2 * b, 0.0]), EXPECTED)


def test_check_array_uses_the_float32_tolerance_when_the_expected_values_are_float32():
    b = bound(EXPECTED, **F32)
    assert check_array(EXPECTED + [0.0, 0.8 * b, 0.0], EXPECTED.astype(np.float32))
    with pytest.raises(CheckError, match=r"tolerance for float32 expected values"):
        check_array(EXPECTED + [0.0, 1.2 * b, 0.0], EXPECTED.astype(np.float32))


def test_check_array_measures_the_tolerance_against_the_largest_expected_entry():
    # float32 rounding errors grow with the numbers summed, not with the result: an entry
    # near 0 in an array whose entries reach 20 may be off by up to 1e-6 + 1e-5 * 20
    expected = np.array([20.0, 1e-7])
    assert check_array(np.array([20.0, 1e-7 + 1.5e-4], dtype=np.float32), expected)
    with pytest.raises(CheckError, match=r"index \(1,\)"):
        check_array(np.array([20.0, 1e-7 + 2.5e-4], dtype=np.float32), expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_array_rejects_an_error_of_1e_3(dtype):
    expected = np.array([[0.1, 0.2], [0.3, 0.4]])
    with pytest.raises(CheckError, match=r"index \(1, 0\).*difference 0\.001"):
        check_array((expected + [[0.0, 0.0], [1e-3, 0.0]]).astype(dtype), expected)


def test_check_array_accepts_answers_rounded_to_6_decimals():
    expected = np.array([1 / 3, 2 / 3, 1e3 / 7, -5 / 7])
    # by hand: 0.333333, 0.666667, 142.857143, -0.714286
    assert check_array([0.333333, 0.666667, 142.857143, -0.714286], expected)
    assert check_array(np.float32(expected).round(6), expected)


def test_check_array_compares_integers_exactly():
    assert check_array(406_286_336, 406_286_336)
    with pytest.raises(CheckError, match="integers are compared exactly"):
        check_array(406_286_337, 406_286_336)
    with pytest.raises(CheckError, match=MSG64):
        check_array(406_286_337.0, 406_286_336)  # a float is checked as a float64: still 1 too many


def test_check_array_uses_the_tolerance_passed_and_says_so():
    assert check_array(0.3, 0.3, rtol=0, atol=0)
    with pytest.raises(CheckError, match=r"tolerance you passed: \|difference\| <= 0 \+ 0 \*"):
        check_array(0.1 + 0.2, 0.3, rtol=0, atol=0)  # 0.30000000000000004
    assert check_array(0.31, 0.3, atol=0.02)


def test_check_array_hints_at_float32_when_a_float64_answer_is_right_only_to_float32_precision():
    expected = np.array([100.0000031])
    answer = expected.astype(np.float32).astype(np.float64)  # off by about 3e-6
    with pytest.raises(CheckError, match=r"right to float32 precision"):
        check_array(answer, expected)
    assert check_array(expected.astype(np.float32), expected)


@pytest.mark.parametrize("answer", [np.float16([0.25]), torch.tensor([0.25], dtype=torch.float16),
                                    torch.tensor([0.25], dtype=torch.bfloat16)], ids=["np16", "t16", "bf16"])
def test_half_precision_answers_are_refused_with_the_reason(answer):
    with pytest.raises(CheckError, match="half precision.*float32 or float64"):
        check_array(answer, [0.25])


# --------------------------------------------------------------------------- #
# check_weights: float32 right answers pass, float32 mistakes fail, boundary
# --------------------------------------------------------------------------- #
def test_check_weights_float64_passes_just_inside_and_fails_just_outside_the_tolerance():
    q, k = make_qk()
    w = torch_weights(q, k).numpy()
    b = bound(w, **F64)
    assert check_weights(shifted(w, 0.8 * b), q, k)
    with pytest.raises(CheckError, match=r"index \(0, 0\).*" + MSG64):
        check_weights(shifted(w, 1.2 * b), q, k)


@FLOAT32
def test_check_weights_float32_passes_just_inside_and_fails_just_outside_the_tolerance(to32):
    q, k = make_qk()
    w = torch_weights(q, k).numpy()
    b = bound(w, **F32)
    assert check_weights(to32(shifted(w, 0.8 * b)), q, k)
    with pytest.raises(CheckError, match=r"index \(0, 0\).*" + MSG32):
        check_weights(to32(shifted(w, 1.2 * b)), q, k)


@pytest.mark.parametrize("to", [lambda w: w, lambda w: w.numpy(), lambda w: w.tolist()],
                         ids=["tensor", "numpy", "list"])
def test_check_weights_accepts_weights_computed_in_float32(to):
    q, k = make_qk(n=6, d_k=8, seed=3)
    assert check_weights(to(torch_weights(q, k, dtype=torch.float32)), q, k)
    assert check_weights(to(torch_weights(q, k, dtype=torch.float32)), q.astype(np.float32), k.astype(np.float32))


def test_check_weights_accepts_torch_sdpa_in_float32():
    q, k = make_qk()
    q32, k32 = torch.tensor(q, dtype=torch.float32), torch.tensor(k, dtype=torch.float32)
    w = torch.nn.functional.scaled_dot_product_attention(q32[None], k32[None], torch.eye(4)[None])[0]
    assert w.dtype == torch.float32 and check_weights(w, q, k)


def test_check_weights_accepts_weights_rounded_to_6_decimals_even_for_16_keys():
    # 16 entries rounded by up to 5e-7 each: a row may sum to 1 +- 8e-6
    q, k = make_qk(n=16, d_k=4, seed=11)
    w = torch_weights(q, k)
    assert check_weights(np.round(w.numpy(), 6), q, k)
    assert check_weights(np.round(w.numpy(), 6).tolist(), q, k)
    assert check_weights(torch.round(w.float(), decimals=6), q, k)


@pytest.mark.parametrize(
    "wrong, expected",
    [
        (dict(scale=1.0), "forgot the scale"),
        (dict(dim=0), "wrong axis"),
        (dict(swap=True), r"k @ q\.T"),
    ],
)
def test_check_weights_diagnoses_typical_mistakes_in_float32(wrong, expected):
    q, k = make_qk()
    with pytest.raises(CheckError, match=expected):
        check_weights(torch_weights(q, k, dtype=torch.float32, **wrong), q, k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_weights_rejects_an_error_of_1e_3(dtype):
    q, k = make_qk()
    w = torch_weights(q, k).numpy()
    with pytest.raises(CheckError, match=r"index \(0, 0\).*difference 0\.001"):
        check_weights(shifted(w, 1e-3).astype(dtype), q, k)


# --------------------------------------------------------------------------- #
# check_scores
# --------------------------------------------------------------------------- #
@FLOAT32
def test_check_scores_float32_passes_just_inside_and_fails_just_outside_the_tolerance(to32):
    q, k = make_qk()
    s = (torch.as_tensor(q) @ torch.as_tensor(k).T).numpy()
    b = bound(s, **F32)
    inside, outside = s.copy(), s.copy()
    inside[1, 2] += 0.8 * b
    outside[1, 2] += 1.2 * b
    assert check_scores(to32(inside), q, k)
    with pytest.raises(CheckError, match=r"index \(1, 2\).*" + MSG32):
        check_scores(to32(outside), q, k)


def test_check_scores_float64_passes_just_inside_and_fails_just_outside_the_tolerance():
    q, k = make_qk()
    s = (torch.as_tensor(q) @ torch.as_tensor(k).T).numpy() * 0.5
    b = bound(s, **F64)
    inside, outside = s.copy(), s.copy()
    inside[3, 0] -= 0.8 * b
    outside[3, 0] -= 1.2 * b
    assert check_scores(inside, q, k, scale=0.5)
    with pytest.raises(CheckError, match=r"index \(3, 0\).*" + MSG64):
        check_scores(outside, q, k, scale=0.5)


def test_check_scores_accepts_float32_and_rounded_scores_and_rejects_k_q_transposed_in_float32():
    q, k = make_qk(n=5, d_k=3, seed=5)
    q32, k32 = torch.tensor(q, dtype=torch.float32), torch.tensor(k, dtype=torch.float32)
    assert check_scores(q32 @ k32.T, q, k)
    assert check_scores(np.round(q @ k.T, 6), q, k)
    with pytest.raises(CheckError, match="transpose of the scores"):
        check_scores(k32 @ q32.T, q, k)


# --------------------------------------------------------------------------- #
# check_attention with float32 and rounded learner functions
# --------------------------------------------------------------------------- #
def learner(dtype=torch.float32, decimals=None, out_error=0.0, weight_error=0.0):
    """A correct attention function computing in ``dtype``, optionally rounded or off by an error."""
    def fn(q, k, v, mask=None, scale=None):
        q, k, v = (torch.tensor(a, dtype=dtype) for a in (q, k, v))
        s = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
        scores = q @ k.T * s
        if mask is not None:
            scores = scores.masked_fill(~torch.as_tensor(mask), float("-inf"))
        w = torch.softmax(scores, dim=-1)
        out = w @ v
        w, out = w.clone(), out.clone()
        w[0, 0] += weight_error
        w[0, 1] -= weight_error
        out[0, 0] += out_error
        if decimals is not None:
            w, out = torch.round(w, decimals=decimals), torch.round(out, decimals=decimals)
        return out, w
    return fn


def test_check_attention_accepts_a_correct_float32_function():
    assert check_attention(learner(torch.float32))


def test_check_attention_accepts_answers_rounded_to_6_decimals():
    assert check_attention(learner(torch.float64, decimals=6))
    assert check_attention(learner(torch.float32, decimals=6))


@pytest.mark.parametrize("dtype, message", [(torch.float64, MSG64), (torch.float32, MSG32)])
def test_check_attention_rejects_an_output_error_of_1e_3_and_names_the_tolerance(dtype, message):
    with pytest.raises(CheckError, match=r"case 1 .*weights are right but your output differs.*" + message):
        check_attention(learner(dtype, out_error=1e-3))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_check_attention_rejects_a_weight_error_of_1e_3(dtype):
    with pytest.raises(CheckError, match=r"case 1 .*your weights differ.*index \(0, 0\)"):
        check_attention(learner(dtype, weight_error=1e-3))


# --------------------------------------------------------------------------- #
# the smaller checks
# --------------------------------------------------------------------------- #
def test_check_dot_product_float32_and_rounded_pass_an_error_of_1e_3_fails():
    a, b = [0.1, 0.2, 0.3], [0.4, 0.5, 0.6]  # by hand: 0.04 + 0.10 + 0.18 = 0.32
    assert check_dot_product(np.float32(0.32), a, b)
    assert check_dot_product(torch.tensor(a) @ torch.tensor(b), a, b)
    assert check_dot_product(round(0.32000000000000006, 6), a, b)
    for dtype in (np.float64, np.float32):
        with pytest.raises(CheckError, match="expected 0.32"):
            check_dot_product(dtype(0.321), a, b)


def test_check_dot_product_boundary_for_both_dtypes():
    a, b = [1.0, 2.0], [3.0, 4.0]  # 11
    for dtype, tol, message in ((np.float64, F64, MSG64), (np.float32, F32, MSG32)):
        bnd = bound(11.0, **tol)
        assert check_dot_product(dtype(11.0 + 0.8 * bnd), a, b)
        with pytest.raises(CheckError, match=message):
            check_dot_product(dtype(11.0 + 1.2 * bnd), a, b)


def test_check_query_and_context_vector_accept_float32_and_reject_an_error_of_1e_3():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    W = np.array([[0.5, -0.25, 1.5], [1.0, 0.75, -0.5]])
    Q = x @ W  # by hand: [[-1.05, -0.975, 1.05], [1.7, 0.025, 2.65]]
    assert check_query(torch.tensor(x, dtype=torch.float32) @ torch.tensor(W, dtype=torch.float32), x, W)
    with pytest.raises(CheckError, match=r"index \(0, 1\).*" + MSG32):
        check_query((Q + [[0.0, 1e-3, 0.0], [0.0, 0.0, 0.0]]).astype(np.float32), x, W)
    w, v = [0.2, 0.8], [[1.0, -2.0], [0.5, 4.0]]  # by hand: [0.6, 2.8]
    assert check_context_vector(np.float32([0.6, 2.8]), w, v)
    with pytest.raises(CheckError, match=r"index \(1,\).*" + MSG64):
        check_context_vector([0.6, 2.801], w, v)


def test_check_weights_accepts_a_tiny_weight_answered_a_rounding_error_below_zero():
    # a weight of about 3e-9 (scores 0 and 19.6 / sqrt(1)), answered as -5e-7: within 1e-6 of it
    q, k = np.array([[1.0]]), np.array([[0.0], [19.6]])
    w = torch_weights(q, k).numpy()  # [[3.1e-9, 1 - 3.1e-9]]
    assert check_weights(w - [[5e-7, -5e-7]], q, k)
    with pytest.raises(CheckError, match="negative value"):
        check_weights(w - [[2e-6, -2e-6]], q, k)
