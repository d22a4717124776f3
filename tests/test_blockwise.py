"""blockwise_attention must give the output of plain attention, masks included.

Expected values come from PyTorch's scaled_dot_product_attention (independent of selfattn)
and, for the masked cases, from selfattn.scaled_dot_product_attention, which is itself tested
against PyTorch elsewhere. No timings or memory are asserted here: see
``python -m selfattn.bench attention`` for those.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfattn import causal_mask, padding_mask, scaled_dot_product_attention
from selfattn.blockwise import blockwise_attention, online_softmax_steps

torch = pytest.importorskip("torch")


def _qkv(seed, shape_q, n_k=None, d_v=None, dtype=np.float64):
    rng = np.random.default_rng(seed)
    *lead, n_q, d = shape_q
    n_k = n_q if n_k is None else n_k
    d_v = d if d_v is None else d_v
    q = rng.normal(size=(*lead, n_q, d)).astype(dtype)
    k = rng.normal(size=(*lead, n_k, d)).astype(dtype)
    v = rng.normal(size=(*lead, n_k, d_v)).astype(dtype)
    return q, k, v


def _torch_sdpa(q, k, v, mask=None, causal=False, scale=None):
    t = [torch.from_numpy(np.ascontiguousarray(a)) for a in (q, k, v)]
    m = None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))
    return torch.nn.functional.scaled_dot_product_attention(*t, attn_mask=m, is_causal=causal,
                                                            scale=scale).numpy()


@pytest.mark.parametrize("shape, n_k, bq, bk", [
    ((7, 4), None, 3, 2),          # blocks that do not divide n
    ((2, 3, 16, 8), None, 16, 16),  # one block
    ((2, 3, 16, 8), None, 1, 1),   # one token per block
    ((5, 6, 4), 9, 2, 4),          # n_q != n_k
    ((3, 10, 5), None, 64, 64),    # blocks larger than n
])
def test_blockwise_equals_torch_sdpa_without_mask(shape, n_k, bq, bk):
    q, k, v = _qkv(0, shape, n_k=n_k)
    expected = _torch_sdpa(q, k, v)
    np.testing.assert_allclose(blockwise_attention(q, k, v, block_q=bq, block_k=bk), expected, atol=1e-12)


@pytest.mark.parametrize("n, bq, bk", [(9, 4, 3), (16, 4, 4), (16, 5, 7), (1, 1, 1), (12, 12, 2)])
def test_blockwise_causal_equals_torch_is_causal(n, bq, bk):
    q, k, v = _qkv(1, (2, 3, n, 4))
    expected = _torch_sdpa(q, k, v, causal=True)
    got = blockwise_attention(q, k, v, causal=True, block_q=bq, block_k=bk)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_blockwise_with_causal_mask_array_equals_causal_flag():
    q, k, v = _qkv(2, (2, 11, 4))
    a = blockwise_attention(q, k, v, mask=causal_mask(11), block_q=4, block_k=3)
    b = blockwise_attention(q, k, v, causal=True, block_q=4, block_k=3)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_blockwise_padding_mask_equals_plain_attention():
    q, k, v = _qkv(3, (3, 8, 4))
    mask = padding_mask([8, 5, 1], 8)  # (3, 1, 8): broadcast over the queries
    expected = _torch_sdpa(q, k, v, mask=np.broadcast_to(mask, (3, 8, 8)))
    np.testing.assert_allclose(blockwise_attention(q, k, v, mask=mask, block_q=3, block_k=3), expected,
                               atol=1e-12)


def test_fully_masked_rows_give_zero_rows_like_plain_attention():
    q, k, v = _qkv(4, (6, 4))
    mask = np.ones((6, 6), dtype=bool)
    mask[2] = False  # query 2 may attend to nothing
    mask[5, :3] = False
    out = blockwise_attention(q, k, v, mask=mask, block_q=4, block_k=2)
    assert np.all(out[2] == 0.0), "a query with no allowed key must get a zero row, not NaN"
    plain, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(out, plain, atol=1e-12)


def test_padding_to_zero_length_and_causal_together_give_zeros_not_nan():
    q, k, v = _qkv(5, (2, 5, 3))
    mask = padding_mask([0, 5], 5)
    out = blockwise_attention(q, k, v, mask=mask, causal=True, block_q=2, block_k=2)
    assert np.all(out[0] == 0) and np.isfinite(out).all()
    expected = _torch_sdpa(q[1], k[1], v[1], causal=True)
    np.testing.assert_allclose(out[1], expected, atol=1e-12)


def test_large_scores_do_not_overflow():
    q, k, v = _qkv(6, (5, 3))
    q *= 1e3  # scores around 1e6: exp would overflow without the running maximum
    plain, _ = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(blockwise_attention(q, k, v, block_q=2, block_k=2), plain, atol=1e-9)


def test_float32_stays_float32_and_matches_torch():
    q, k, v = _qkv(7, (12, 40, 64), dtype=np.float32)
    out = blockwise_attention(q, k, v, block_q=16, block_k=16)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _torch_sdpa(q, k, v), atol=2e-5)


def test_custom_scale_is_used():
    q, k, v = _qkv(8, (6, 4))
    np.testing.assert_allclose(blockwise_attention(q, k, v, scale=0.1, block_k=4),
                               _torch_sdpa(q, k, v, scale=0.1), atol=1e-12)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n_q=st.integers(1, 12), n_k=st.integers(1, 12), d=st.integers(1, 5), bq=st.integers(1, 13),
       bk=st.integers(1, 13), seed=st.integers(0, 2**16), p_keep=st.floats(0.0, 1.0))
def test_blockwise_equals_plain_attention_for_random_masks_and_blocks(n_q, n_k, d, bq, bk, seed, p_keep):
    q, k, v = _qkv(seed, (2, n_q, d), n_k=n_k)
    mask = np.random.default_rng(seed + 1).random((2, n_q, n_k)) < p_keep
    plain, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    got = blockwise_attention(q, k, v, mask=mask, block_q=bq, block_k=bk)
    np.testing.assert_allclose(got, plain, atol=1e-12)


@pytest.mark.parametrize("kwargs, words", [
    ({"block_q": 0}, "block_q must be a positive integer"),
    ({"block_k": 2.5}, "block_k must be a positive integer, got 2.5"),
    ({"causal": "no"}, "causal must be True or False, got 'no'"),
    ({"causal": 1}, "causal must be True or False"),
    ({"scale": float("nan")}, "scale must be a finite number"),
    ({"mask": np.ones((3, 3), dtype=int)}, "mask must be boolean"),
    ({"mask": np.ones((2, 3), dtype=bool)}, "does not broadcast"),
])
def test_invalid_arguments_raise_value_errors(kwargs, words):
    q, k, v = _qkv(9, (4, 2))
    with pytest.raises(ValueError, match=words):
        blockwise_attention(q, k, v, **kwargs)


def test_mismatched_shapes_raise_value_errors_naming_them():
    q, k, v = _qkv(10, (4, 2))
    with pytest.raises(ValueError, match=r"q \(4, 2\) \(d_k=2\) and k \(4, 3\) \(d_k=3\)"):
        blockwise_attention(q, np.ones((4, 3)), v)
    with pytest.raises(ValueError, match="non-finite"):
        blockwise_attention(q, k, np.full((4, 2), np.nan))


def test_online_softmax_steps_end_with_the_softmax_of_the_row():
    x = [0.5, -1.0, 4.0, 2.0, 3.5]
    steps = online_softmax_steps(x, block=2)
    m, l = steps[-1]["m"], steps[-1]["l"]
    assert m == 4.0
    expected = [math.exp(a) / sum(math.exp(b) for b in x) for a in x]
    np.testing.assert_allclose([math.exp(a - m) / l for a in x], expected, rtol=1e-12)
    assert steps[0]["correction"] == 0.0  # nothing to rescale before the first block
    assert steps[1]["correction"] == pytest.approx(math.exp(0.5 - 4.0))


def test_no_keys_is_rejected_like_the_core_not_answered_with_zeros():
    q = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"k and v need at least one row \(n_k >= 1\).*k \(0, 2\) and v \(0, 4\)"):
        blockwise_attention(q, np.ones((0, 2)), np.ones((0, 4)))


def test_zero_width_queries_and_keys_are_rejected():
    with pytest.raises(ValueError, match=r"need d_k >= 1"):
        blockwise_attention(np.ones((3, 0)), np.ones((3, 0)), np.ones((3, 2)))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("q_row", [[1e200, 1.0], [-1e200, 0.0]], ids=["to +inf", "whole row to -inf"])
def test_scores_that_overflow_raise_instead_of_giving_nan_or_zeros(q_row):
    """Finite inputs whose scores exceed float64 (1e200 * 1e200) must raise, in both functions.

    A row whose maximum overflows to +inf would give NaN; a row whose every score overflows
    to -inf would look fully masked and give zeros. (One -inf among finite scores is the
    right limit, weight 0, and is not an error.)
    """
    q = np.array([q_row, [1.0, 1.0]])
    k = np.array([[1e200, 0.0], [1e200, 1.0]])
    v = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"the scores q @ k\^T \* scale overflow float64 \(first in query row \(0,\)\)"):
        scaled_dot_product_attention(q, k, v)
    with pytest.raises(ValueError, match=r"the scores q @ k\^T \* scale overflow float64"):
        blockwise_attention(q, k, v, block_q=1, block_k=1)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_overflow_in_a_fully_masked_row_is_not_an_error():
    q = np.array([[1e200, 0.0], [1.0, 0.0]])
    k = np.array([[1e200, 0.0], [1.0, 0.0]])
    v = np.ones((2, 1))
    mask = np.array([[False, False], [True, True]])  # row 0 (the overflowing one) attends to nothing
    out = blockwise_attention(q, k, v, mask=mask, block_k=1)
    plain, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_array_equal(out, [[0.0], [1.0]])
    np.testing.assert_array_equal(plain, [[0.0], [1.0]])
