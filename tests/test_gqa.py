"""Multi-query and grouped-query attention against PyTorch's own (``enable_gqa=True``).

The reference is ``torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=...,
enable_gqa=True)`` on 4-D input ``(batch, heads, n, d)``. Its documented equivalent
(the docstring of torch 2.13) repeats ``k`` and ``v`` with
``repeat_interleave(query.size(-3) // key.size(-3), -3)``: query head ``i`` reads key/value
head ``i // (h / g)``. Hugging Face's ``repeat_kv`` (transformers
``models/llama/modeling_llama.py``) says it is "the equivalent of
torch.repeat_interleave(x, dim=1, repeats=n_rep)". The attention weights, which PyTorch does
not return, are checked against a loop over the heads written here from the formula.

Meta-tests feed the same checks a wrong grouping (``i % g``: ``np.tile`` / ``Tensor.repeat``
instead of ``repeat_interleave``) and an implementation that drops the mask, and assert that
the checks fail.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import repeat_kv as hf_repeat_kv

import selfattn.nn as snn
from selfattn import scaled_dot_product_attention
from selfattn.attention import grouped_query_attention, repeat_kv

BATCH, HEADS, D_K, D_V = 2, 8, 4, 3
TOL = {np.float64: 1e-12, np.float32: 1e-5}  # float32: measured differences are about 2e-7


def _inputs(n_q, n_k, n_kv, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(BATCH, HEADS, n_q, D_K)).astype(dtype)  # (b, h, n_q, d_k)
    k = rng.normal(size=(BATCH, n_kv, n_k, D_K)).astype(dtype)  # (b, g, n_k, d_k)
    v = rng.normal(size=(BATCH, n_kv, n_k, D_V)).astype(dtype)  # (b, g, n_k, d_v)
    return q, k, v


def _mask(kind, n_q, n_k, seed=1):
    """None, causal (the last query is the last key: query i sits at position n_k - n_q + i,
    as when a decoder reads new tokens against a cache) or a random boolean mask of shape
    (b, h, n_q, n_k) in which every query may attend to at least one key (PyTorch gives NaN
    on a row with none, selfattn gives zeros)."""
    if kind is None:
        return None
    if kind == "causal":
        return np.tril(np.ones((n_q, n_k), dtype=bool), k=n_k - n_q)  # (n_q, n_k)
    m = np.random.default_rng(seed).random((BATCH, HEADS, n_q, n_k)) < 0.5  # (b, h, n_q, n_k)
    m[..., 0] = True
    return m


def torch_reference(q, k, v, mask):
    """PyTorch's output for NumPy inputs."""
    t = [torch.from_numpy(a) for a in (q, k, v)]
    attn_mask = None if mask is None else torch.from_numpy(mask)
    with torch.no_grad():
        return F.scaled_dot_product_attention(*t, attn_mask=attn_mask, enable_gqa=True).numpy()


def loop_reference_weights(q, k, mask):
    """The weights head by head, from the formula: query head i uses key head i // (h / g)."""
    h, g = q.shape[-3], k.shape[-3]
    scores = np.empty(q.shape[:-1] + (k.shape[-2],))  # (b, h, n_q, n_k)
    for i in range(h):
        j = i // (h // g)
        scores[:, i] = q[:, i] @ k[:, j].swapaxes(-1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(np.broadcast_to(mask, scores.shape), scores, -np.inf)
    return torch.softmax(torch.from_numpy(scores), dim=-1).numpy()


def numpy_gqa(q, k, v, mask):
    return grouped_query_attention(q, k, v, mask=mask)


def torch_twin_gqa(q, k, v, mask):
    out, w = snn.grouped_query_attention(*(torch.from_numpy(a) for a in (q, k, v)), mask=mask)
    return out.detach().numpy(), w.detach().numpy()


IMPLEMENTATIONS = {"numpy": numpy_gqa, "torch twin": torch_twin_gqa}


def assert_matches_torch(fn, q, k, v, mask):
    """The check every implementation must pass: output equal to PyTorch's, weights equal to
    the loop's, within the tolerance of the dtype."""
    out, weights = fn(q, k, v, mask)
    tol = TOL[q.dtype.type]
    assert out.shape == (BATCH, HEADS, q.shape[-2], v.shape[-1])
    assert out.dtype == q.dtype
    np.testing.assert_allclose(out, torch_reference(q, k, v, mask), rtol=0, atol=tol)
    np.testing.assert_allclose(weights, loop_reference_weights(q, k, mask), rtol=0, atol=tol)


# --------------------------------------------------------------------------- #
# parity with PyTorch
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mask", [None, "causal", "random"])
@pytest.mark.parametrize("n_q, n_k", [(6, 6), (3, 7)])
@pytest.mark.parametrize("n_kv", [1, 2, 4, 8])  # 1: multi-query; 8 = HEADS: multi-head
def test_grouped_query_attention_matches_torch_enable_gqa(impl, dtype, mask, n_q, n_k, n_kv):
    q, k, v = _inputs(n_q, n_k, n_kv, dtype)
    assert_matches_torch(IMPLEMENTATIONS[impl], q, k, v, _mask(mask, n_q, n_k))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_with_as_many_key_value_heads_as_query_heads_it_is_multi_head_attention(impl):
    q, k, v = _inputs(5, 7, HEADS)
    mask = _mask("causal", 5, 7)
    out, weights = IMPLEMENTATIONS[impl](q, k, v, mask)
    ref_out, ref_weights = scaled_dot_product_attention(q, k, v, mask=mask)  # the existing path
    np.testing.assert_allclose(out, ref_out, rtol=0, atol=1e-15)
    np.testing.assert_allclose(weights, ref_weights, rtol=0, atol=1e-15)
    t = [torch.from_numpy(a) for a in (q, k, v)]
    plain = F.scaled_dot_product_attention(*t, attn_mask=torch.from_numpy(mask))  # no enable_gqa
    np.testing.assert_allclose(out, plain.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_multi_query_heads_all_read_the_one_key_value_head(impl):
    q, k, v = _inputs(4, 6, 1)
    out, _ = IMPLEMENTATIONS[impl](q, k, v, None)
    for i in range(HEADS):  # each head on its own, with the single key/value head
        ref, _ = scaled_dot_product_attention(q[:, i], k[:, 0], v[:, 0])
        np.testing.assert_allclose(out[:, i], ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_query_that_may_attend_to_nothing_gets_zero_weights_as_in_the_existing_function(impl):
    q, k, v = _inputs(3, 5, 2)
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False  # query 1 may attend to no key
    out, weights = IMPLEMENTATIONS[impl](q, k, v, mask)
    assert np.all(weights[:, :, 1] == 0) and np.all(out[:, :, 1] == 0)
    assert np.isfinite(out).all()


def test_the_torch_twin_has_the_gradients_of_torch_sdpa():
    q, k, v = (torch.from_numpy(a).requires_grad_() for a in _inputs(3, 5, 2))
    mask = torch.from_numpy(_mask("causal", 3, 5))
    r = torch.from_numpy(np.random.default_rng(2).normal(size=(BATCH, HEADS, 3, D_V)))
    (snn.grouped_query_attention(q, k, v, mask=mask)[0] * r).sum().backward()
    ours = [a.grad.clone() for a in (q, k, v)]
    for a in (q, k, v):
        a.grad = None
    (F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True) * r).sum().backward()
    for mine, theirs in zip(ours, (q.grad, k.grad, v.grad)):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- #
# repeat_kv
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("n_rep", [1, 3])
def test_repeat_kv_is_hugging_face_repeat_kv_and_repeat_interleave(n_rep):
    x = np.random.default_rng(3).normal(size=(2, 4, 5, 3))  # (b, g, n, d)
    t = torch.from_numpy(x)
    expected = hf_repeat_kv(t, n_rep).numpy()  # transformers' Llama code
    np.testing.assert_array_equal(repeat_kv(x, n_rep), expected)
    np.testing.assert_array_equal(snn.repeat_kv(t, n_rep).numpy(), expected)
    np.testing.assert_array_equal(expected, t.repeat_interleave(n_rep, dim=1).numpy())


def test_repeat_kv_puts_the_copies_of_one_head_next_to_each_other():
    x = np.arange(3.0).reshape(3, 1, 1)  # heads 0, 1, 2
    assert repeat_kv(x, 2)[:, 0, 0].tolist() == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]


# --------------------------------------------------------------------------- #
# meta-tests: the checks above fail on wrong implementations
# --------------------------------------------------------------------------- #
def wrong_grouping_numpy(q, k, v, mask):
    """Query head i reads key head i % g: np.tile instead of np.repeat."""
    r = q.shape[-3] // k.shape[-3]
    return scaled_dot_product_attention(q, np.tile(k, (1, r, 1, 1)), np.tile(v, (1, r, 1, 1)),
                                        mask=mask)


def wrong_grouping_torch(q, k, v, mask):
    """The same mix-up in PyTorch: Tensor.repeat instead of repeat_interleave."""
    r = q.shape[-3] // k.shape[-3]
    t = [torch.from_numpy(a) for a in (q, k, v)]
    out, w = snn.scaled_dot_product_attention(t[0], t[1].repeat(1, r, 1, 1), t[2].repeat(1, r, 1, 1),
                                              mask=mask)
    return out.numpy(), w.numpy()


def mask_ignored(q, k, v, mask):
    return grouped_query_attention(q, k, v)


@pytest.mark.parametrize("wrong", [wrong_grouping_numpy, wrong_grouping_torch])
@pytest.mark.parametrize("n_kv", [2, 4])
def test_meta_the_parity_check_fails_on_the_wrong_grouping(wrong, n_kv):
    q, k, v = _inputs(3, 7, n_kv)
    with pytest.raises(AssertionError):
        assert_matches_torch(wrong, q, k, v, None)


@pytest.mark.parametrize("n_kv", [1, HEADS])
def test_meta_with_one_or_all_key_value_heads_the_two_groupings_agree(n_kv):
    # why the meta-test above needs 1 < g < h: with g = 1 or g = h, i // (h / g) = i % g
    q, k, v = _inputs(3, 7, n_kv)
    assert_matches_torch(wrong_grouping_numpy, q, k, v, None)


@pytest.mark.parametrize("mask", ["causal", "random"])
def test_meta_the_parity_check_fails_when_the_mask_is_ignored(mask):
    q, k, v = _inputs(3, 7, 2)
    with pytest.raises(AssertionError):
        assert_matches_torch(mask_ignored, q, k, v, _mask(mask, 3, 7))


# --------------------------------------------------------------------------- #
# errors: the same message from both twins, naming the argument and the shapes
# --------------------------------------------------------------------------- #
Q, K, V = _inputs(3, 5, 2)  # q (2, 8, 3, 4), k (2, 2, 5, 4), v (2, 2, 5, 3)

BAD = [
    ("heads not a multiple", Q, K[:, :1].repeat(3, axis=1), V[:, :1].repeat(3, axis=1), {},
     "n_heads=8 (q (2, 8, 3, 4)) is not a multiple of n_kv_heads=3 (k (2, 3, 5, 4))"),
    ("d_k mismatch", Q, K[..., :3], V, {},
     "q and k must have the same last dimension d_k, got q (2, 8, 3, 4) (d_k=4) and k (2, 2, 5, 3) "
     "(d_k=3)"),
    ("batch mismatch", Q, K[:1], V[:1], {},
     "q, k and v must have the same leading (batch) dimensions before the head axis, got "
     "q (2, 8, 3, 4), k (1, 2, 5, 4), v (1, 2, 5, 3)"),
    ("n_k mismatch", Q, K, V[:, :, :4], {},
     "k and v must have the same number of rows n_k (one value per key), got k (2, 2, 5, 4) (n_k=5) "
     "and v (2, 2, 4, 3) (n_k=4)"),
    ("k and v heads differ", Q, K, V[:, :1], {},
     "k and v must have the same number of key/value heads n_kv_heads, got k (2, 2, 5, 4) "
     "(n_kv_heads=2) and v (2, 1, 5, 3) (n_kv_heads=1)"),
    ("no key/value head", Q, K[:, :0], V[:, :0], {},
     "q needs at least one head and k, v at least one key/value head, got q (2, 8, 3, 4), "
     "k (2, 0, 5, 4), v (2, 0, 5, 3)"),
    ("no keys", Q, K[:, :, :0], V[:, :, :0], {},
     "k and v need at least one row (n_k >= 1) to attend to, got k (2, 2, 0, 4) and v (2, 2, 0, 3)"),
    ("no head axis", Q[0, 0], K[0, 0], V[0, 0], {},
     "q must have at least 3 dimensions (..., n_heads, n_q, d_k), got shape (3, 4)"),
    ("NaN in k", Q, np.where(np.arange(4) == 1, np.nan, K), V, {},
     "k contains 20 non-finite value(s) (NaN or inf); the first is nan at index (0, 0, 0, 1)"),
    ("mask of the wrong shape", Q, K, V, {"mask": np.ones((3, 3), dtype=bool)},
     "mask of shape (3, 3) does not broadcast to the scores shape (2, 8, 3, 5)"),
    ("additive mask", Q, K, V, {"mask": np.zeros((3, 5))}, "mask must be boolean"),
    ("bad scale", Q, K, V, {"scale": float("nan")}, "scale must be a finite number, got nan"),
]


@pytest.mark.parametrize("impl", ["numpy", "torch twin"])
@pytest.mark.parametrize("name, q, k, v, kwargs, words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gives_one_message_naming_the_argument_and_shapes(impl, name, q, k, v, kwargs,
                                                                    words):
    if impl == "numpy":
        fn, args = grouped_query_attention, (q, k, v)
    else:
        fn, args = snn.grouped_query_attention, tuple(torch.from_numpy(a) for a in (q, k, v))
    with pytest.raises(ValueError, match=re.escape(words)):
        fn(*args, **kwargs)


def test_each_twin_refuses_the_other_kind_of_input_by_name():
    with pytest.raises(ValueError, match=re.escape("q is a torch.Tensor; the NumPy functions take")):
        grouped_query_attention(torch.from_numpy(Q), K, V)
    with pytest.raises(ValueError, match=re.escape("k must be a torch.Tensor, got ndarray")):
        snn.grouped_query_attention(torch.from_numpy(Q), K, torch.from_numpy(V))
    with pytest.raises(ValueError, match=re.escape("q, k and v must have one dtype, got torch.float32")):
        snn.grouped_query_attention(torch.from_numpy(Q).float(), *(torch.from_numpy(a) for a in (K, V)))


def test_repeat_kv_errors_name_the_argument():
    with pytest.raises(ValueError, match=re.escape("x must have at least 3 dimensions "
                                                   "(..., n_kv_heads, n_k, d), got shape (5, 4)")):
        repeat_kv(K[0, 0], 2)
    with pytest.raises(ValueError, match=re.escape("n_rep must be a positive integer, got 0")):
        snn.repeat_kv(torch.from_numpy(K), 0)
    with pytest.raises(ValueError, match=re.escape("n_rep must be a positive integer, got 1.5")):
        repeat_kv(K, 1.5)


# --------------------------------------------------------------------------- #
# the benchmark still runs (tiny sizes; timings are never asserted)
# --------------------------------------------------------------------------- #
def test_attention_benchmark_prints_the_grouped_query_case_with_ratio_and_backend(capsys):
    from selfattn.bench.attention import main

    assert main(["--n", "16", "--repeats", "1", "--skip-big", "--kv-heads", "2"]) == 0
    text = capsys.readouterr().out
    section = text[text.index("4. grouped-query attention"):]
    assert "12 query heads, 2 key/value heads" in section
    assert "torch scaled_dot_product_attention(enable_gqa=True)" in section
    assert "selfattn.attention.grouped_query_attention" in section
    assert re.search(r"PyTorch backend: [A-Z_]+ \(\d+ threads\); ratio selfattn / PyTorch: \d+\.\d\d", section)
