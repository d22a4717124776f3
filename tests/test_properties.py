"""Properties of attention that hold for every input, checked with hypothesis.

Every test is derandomized (the same examples on every run, no database), and
the example counts are modest so that the file runs in a few seconds.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from selfattn import (
    MultiHeadAttention,
    SelfAttention,
    merge_heads,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)

BIG = float(np.float32(1e30))  # 1e30 as float32 rounds it (1.0000000150e30); both dtypes hold it
FAST = settings(derandomize=True, deadline=None, max_examples=40, database=None)

finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
sizes = st.integers(1, 6)


@st.composite
def qkv(draw, lead=st.sampled_from([(), (2,), (2, 3)])):
    """q, k, v with shared leading dimensions and random n_q, n_k, d_k, d_v."""
    lead = draw(lead)
    n_q, n_k, d_k, d_v = (draw(sizes) for _ in range(4))
    q = draw(arrays(np.float64, (*lead, n_q, d_k), elements=finite))
    k = draw(arrays(np.float64, (*lead, n_k, d_k), elements=finite))
    v = draw(arrays(np.float64, (*lead, n_k, d_v), elements=finite))
    return q, k, v


@st.composite
def tokens_and_permutation(draw, d_model):
    n = draw(st.integers(2, 7))
    x = draw(arrays(np.float64, (n, d_model), elements=finite))
    perm = np.array(draw(st.permutations(range(n))))
    return x, perm


# --------------------------------------------------------------------------- #
# weights are a probability distribution
# --------------------------------------------------------------------------- #
@FAST
@given(qkv())
def test_attention_weights_are_non_negative_and_rows_sum_to_one(qkv):
    q, k, v = qkv
    out, w = scaled_dot_product_attention(q, k, v)
    assert w.shape == (*q.shape[:-1], k.shape[-2])
    assert np.all(w >= 0.0)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    # the output is a convex combination of value rows: inside their range
    vmin, vmax = v.min(axis=-2, keepdims=True), v.max(axis=-2, keepdims=True)
    assert np.all(out >= vmin - 1e-9) and np.all(out <= vmax + 1e-9)


@FAST
@given(arrays(np.float64, st.tuples(sizes, sizes), elements=st.floats(-1e3, 1e3)))
def test_softmax_rows_sum_to_one_on_any_axis(x):
    for axis in (0, 1, -1):
        w = softmax(x, axis=axis)
        assert np.all(w >= 0.0)
        np.testing.assert_allclose(w.sum(axis=axis), 1.0, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- #
# permutation equivariance
# --------------------------------------------------------------------------- #
@FAST
@given(tokens_and_permutation(d_model=4), st.integers(0, 3))
def test_permuting_tokens_permutes_self_attention_output_rows(data, seed):
    x, perm = data
    layer = SelfAttention(d_model=4, d_k=3, d_v=2, seed=seed)
    out, w = layer(x)
    out_p, w_p = layer(x[perm])
    np.testing.assert_allclose(out_p, out[perm], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w_p, w[perm][:, perm], rtol=1e-10, atol=1e-12)


@FAST
@given(tokens_and_permutation(d_model=6), st.sampled_from([1, 2, 3, 6]))
def test_permuting_tokens_permutes_multi_head_output_rows(data, n_heads):
    x, perm = data
    layer = MultiHeadAttention(d_model=6, n_heads=n_heads, seed=n_heads)
    out, w = layer(x)
    out_p, w_p = layer(x[perm])
    np.testing.assert_allclose(out_p, out[perm], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w_p, w[:, perm][:, :, perm], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- #
# softmax
# --------------------------------------------------------------------------- #
@FAST
@given(
    arrays(np.float64, st.tuples(sizes, sizes), elements=st.floats(-100.0, 100.0)),
    st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6),
)
def test_softmax_is_unchanged_by_adding_a_constant_to_a_row(x, shifts):
    c = np.array(shifts[: x.shape[0]])[:, None]  # (n_rows, 1): one constant per row
    np.testing.assert_allclose(softmax(x + c), softmax(x), rtol=1e-9, atol=1e-12)


@settings(derandomize=True, deadline=None, max_examples=60, database=None)
@given(
    st.sampled_from([np.float64, np.float32]),
    st.integers(1, 8).flatmap(lambda n: st.lists(st.floats(-BIG, BIG, width=32), min_size=n, max_size=n)),
)
def test_softmax_is_finite_and_correct_for_scores_up_to_1e30(dtype, values):
    x = np.array(values, dtype=dtype)
    w = softmax(x)
    assert w.dtype == dtype
    assert np.isfinite(w).all() and np.all(w >= 0)
    # independent reference: PyTorch's softmax, in float64
    ref = torch.softmax(torch.from_numpy(x.astype(np.float64)), dim=-1).numpy()
    np.testing.assert_allclose(w, ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7)
    assert w[np.argmax(x)] == w.max()


def test_softmax_extreme_scores_by_hand():
    # e^(1e30 - 1e30) = 1 and e^(-2e30) = 0: the largest score takes all the weight
    for dtype in (np.float64, np.float32):
        np.testing.assert_array_equal(softmax(np.array([1e30, -1e30], dtype=dtype)), [1.0, 0.0])
        np.testing.assert_array_equal(softmax(np.array([-1e30, -1e30], dtype=dtype)), [0.5, 0.5])
        np.testing.assert_array_equal(softmax(np.array([1e30, 1e30, -1e30], dtype=dtype)), [0.5, 0.5, 0.0])


# --------------------------------------------------------------------------- #
# masks
# --------------------------------------------------------------------------- #
@FAST
@given(qkv(), st.data())
def test_masked_positions_get_weight_zero(qkv, data):
    q, k, v = qkv
    shape = (*q.shape[:-1], k.shape[-2])
    mask = data.draw(arrays(np.bool_, shape))
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(w[~mask] == 0.0)
    some = mask.any(axis=-1)
    np.testing.assert_allclose(w.sum(axis=-1)[some], 1.0, rtol=0, atol=1e-12)
    # fully masked rows: zeros, never NaN
    assert np.isfinite(w).all() and np.isfinite(out).all()
    assert np.all(w[~some] == 0.0) and np.all(out[~some] == 0.0)


@FAST
@given(arrays(np.float64, st.tuples(sizes, sizes), elements=finite), st.data())
def test_masking_equals_dropping_the_masked_keys(x, data):
    # independent route: softmax over only the allowed entries, computed row by row
    mask = data.draw(arrays(np.bool_, x.shape))
    w = softmax(x, mask=mask)
    for i in range(x.shape[0]):
        allowed = x[i][mask[i]]
        if allowed.size:
            e = np.exp(allowed - allowed.max())
            np.testing.assert_allclose(w[i][mask[i]], e / e.sum(), rtol=1e-12, atol=1e-15)
        else:
            assert np.all(w[i] == 0.0)


@FAST
@given(arrays(np.float64, st.tuples(sizes, sizes), elements=finite))
def test_fully_masked_rows_are_zeros_not_nan(x):
    mask = np.ones(x.shape, dtype=bool)
    mask[0] = False  # the first row may attend to nothing
    w = softmax(x, mask=mask)
    assert np.isfinite(w).all()
    assert np.all(w[0] == 0.0)
    neg = np.where(mask, x, -np.inf)  # the same row written with -inf scores instead of a mask
    np.testing.assert_array_equal(softmax(neg), w)


# --------------------------------------------------------------------------- #
# heads
# --------------------------------------------------------------------------- #
@FAST
@given(
    st.sampled_from([(), (2,), (2, 3)]),
    st.integers(1, 5),
    st.sampled_from([(1, 4), (2, 4), (4, 4), (3, 6), (2, 6), (4, 8)]),
    st.data(),
)
def test_merge_heads_inverts_split_heads(lead, n, h_d, data):
    n_heads, d = h_d
    x = data.draw(arrays(np.float64, (*lead, n, d), elements=finite))
    parts = split_heads(x, n_heads)
    assert parts.shape == (*lead, n_heads, n, d // n_heads)
    np.testing.assert_array_equal(merge_heads(parts), x)
    # head i holds columns i*d_head .. (i+1)*d_head of every token
    d_head = d // n_heads
    for i in range(n_heads):
        np.testing.assert_array_equal(parts[..., i, :, :], x[..., i * d_head:(i + 1) * d_head])
