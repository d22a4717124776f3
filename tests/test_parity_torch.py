"""Parity of the NumPy core (and of its PyTorch twins) with PyTorch's own attention.

Expected values come from PyTorch: ``torch.nn.functional.scaled_dot_product_attention``
for the outputs, ``torch.nn.MultiheadAttention`` for the multi-head layer, and a
softmax of masked scores computed here, in the test, for the weights (PyTorch's
``scaled_dot_product_attention`` returns only the output).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import selfattn
import selfattn.nn as snn
from selfattn import causal_mask, padding_mask, scaled_dot_product_attention

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def _qkv(shape_lead, n_q, n_k, d_k, d_v, dtype, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(*shape_lead, n_q, d_k)).astype(dtype)  # (..., n_q, d_k)
    k = rng.normal(size=(*shape_lead, n_k, d_k)).astype(dtype)  # (..., n_k, d_k)
    v = rng.normal(size=(*shape_lead, n_k, d_v)).astype(dtype)  # (..., n_k, d_v)
    return q, k, v


def _reference_weights(q, k, mask=None, scale=None):
    """softmax(q @ k^T * scale) with masked scores set to -inf, computed in PyTorch."""
    q, k = torch.from_numpy(q), torch.from_numpy(k)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale  # (..., n_q, n_k)
    if mask is not None:
        scores = scores.masked_fill(~torch.from_numpy(np.asarray(mask)), float("-inf"))
    return torch.softmax(scores, dim=-1).numpy()


def _torch_sdpa(q, k, v, mask=None, scale=None, is_causal=False):
    t = [torch.from_numpy(a) for a in (q, k, v)]
    attn_mask = None if mask is None else torch.from_numpy(np.asarray(mask))  # True = may attend, as ours
    return F.scaled_dot_product_attention(*t, attn_mask=attn_mask, scale=scale, is_causal=is_causal).numpy()


# --------------------------------------------------------------------------- #
# scaled_dot_product_attention vs torch.nn.functional.scaled_dot_product_attention
# --------------------------------------------------------------------------- #
CASES = {
    "single sequence": dict(lead=(), n_q=5, n_k=5, d_k=4, d_v=3),
    "cross lengths": dict(lead=(), n_q=3, n_k=7, d_k=6, d_v=2),
    "batch": dict(lead=(2,), n_q=4, n_k=6, d_k=8, d_v=5),
    "batch and heads": dict(lead=(2, 3), n_q=5, n_k=5, d_k=4, d_v=4),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_sdpa_matches_torch_without_mask(case, dtype):
    q, k, v = _qkv(case["lead"], case["n_q"], case["n_k"], case["d_k"], case["d_v"], dtype)
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.dtype == dtype and w.dtype == dtype
    np.testing.assert_allclose(out, _torch_sdpa(q, k, v), **TOL[dtype])
    np.testing.assert_allclose(w, _reference_weights(q, k), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_sdpa_matches_torch_with_random_boolean_mask(case, dtype):
    q, k, v = _qkv(case["lead"], case["n_q"], case["n_k"], case["d_k"], case["d_v"], dtype, seed=1)
    rng = np.random.default_rng(2)
    mask = rng.random((*case["lead"], case["n_q"], case["n_k"])) < 0.6  # (..., n_q, n_k)
    mask[..., 0] = True  # no fully masked row: torch gives NaN there (tested separately)
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(out, _torch_sdpa(q, k, v, mask=mask), **TOL[dtype])
    np.testing.assert_allclose(w, _reference_weights(q, k, mask=mask), **TOL[dtype])
    assert np.all(w[~mask] == 0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_sdpa_causal_mask_matches_torch_is_causal(dtype):
    q, k, v = _qkv((2, 3), 6, 6, 4, 5, dtype, seed=3)
    out, w = scaled_dot_product_attention(q, k, v, mask=causal_mask(6))
    np.testing.assert_allclose(out, _torch_sdpa(q, k, v, is_causal=True), **TOL[dtype])
    np.testing.assert_allclose(w, _reference_weights(q, k, mask=causal_mask(6)), **TOL[dtype])
    assert np.all(np.triu(w, k=1) == 0.0)  # nothing above the diagonal


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("scale", [0.1, 1.0, 3.0])
def test_sdpa_custom_scale_matches_torch(scale, dtype):
    q, k, v = _qkv((2,), 4, 5, 6, 3, dtype, seed=4)
    out, w = scaled_dot_product_attention(q, k, v, scale=scale)
    np.testing.assert_allclose(out, _torch_sdpa(q, k, v, scale=scale), **TOL[dtype])
    np.testing.assert_allclose(w, _reference_weights(q, k, scale=scale), **TOL[dtype])


def test_sdpa_padding_mask_matches_torch():
    q, k, v = _qkv((3,), 5, 5, 4, 4, np.float64, seed=5)
    mask = padding_mask([5, 3, 1], 5)  # (3, 1, 5)
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(out, _torch_sdpa(q, k, v, mask=mask), **TOL[np.float64])
    np.testing.assert_allclose(w, _reference_weights(q, k, mask=mask), **TOL[np.float64])
    assert np.all(w[1, :, 3:] == 0.0) and np.all(w[2, :, 1:] == 0.0)


def test_sdpa_fully_masked_row_is_zero_as_in_torch_sdpa():
    q, k, v = _qkv((), 3, 4, 2, 2, np.float64, seed=6)
    mask = np.ones((3, 4), dtype=bool)
    mask[1] = False  # query 1 may attend to nothing
    out, w = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(w[1] == 0.0) and np.all(out[1] == 0.0) and np.isfinite(w).all()
    # torch 2.13's F.scaled_dot_product_attention also returns a zero row there
    np.testing.assert_allclose(out, _torch_sdpa(q, k, v, mask=mask), **TOL[np.float64])


def test_mha_fully_masked_row_is_zero_where_torch_multiheadattention_gives_nan():
    layer = selfattn.MultiHeadAttention(4, 2, seed=6)
    x = np.random.default_rng(6).normal(size=(3, 4))
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    out, w = layer(x, mask=mask)
    xt = torch.from_numpy(x)[None]  # (1, n, d_model)
    t_out, t_w = _torch_mha_copy(layer)(xt, xt, xt, attn_mask=torch.from_numpy(~mask),
                                        need_weights=True, average_attn_weights=False)
    assert torch.isnan(t_w[0, :, 1]).all()  # PyTorch's behaviour, for contrast
    assert np.all(w[:, 1] == 0.0) and np.all(out[1] == 0.0)
    keep = [0, 2]
    np.testing.assert_allclose(out[keep], t_out[0, keep].detach().numpy(), **TOL[np.float64])
    np.testing.assert_allclose(w[:, keep], t_w[0][:, keep].detach().numpy(), **TOL[np.float64])


# --------------------------------------------------------------------------- #
# MultiHeadAttention vs torch.nn.MultiheadAttention
# --------------------------------------------------------------------------- #
def _torch_mha_copy(layer, dtype=torch.float64):
    """torch.nn.MultiheadAttention holding ``layer``'s weights.

    PyTorch computes ``x @ W.T`` (column convention): ``in_proj_weight`` is the stack of
    the TRANSPOSES of W_q, W_k, W_v, shape (3 d_model, d_model); ``out_proj.weight`` is W_o.T.
    """
    t = torch.nn.MultiheadAttention(layer.d_model, layer.n_heads, bias=False, batch_first=True, dtype=dtype)
    with torch.no_grad():
        stacked = np.concatenate([layer.W_q.T, layer.W_k.T, layer.W_v.T], axis=0)  # (3 d_model, d_model)
        t.in_proj_weight.copy_(torch.from_numpy(stacked))
        t.out_proj.weight.copy_(torch.from_numpy(layer.W_o.T))
    return t.eval()


@pytest.mark.parametrize("d_model,n_heads", [(8, 1), (8, 2), (12, 3), (16, 4)])
def test_mha_matches_torch_multiheadattention(d_model, n_heads):
    layer = selfattn.MultiHeadAttention(d_model, n_heads, seed=7)
    x = np.random.default_rng(8).normal(size=(2, 5, d_model))  # (B, n, d_model)
    out, w = layer(x)
    t_out, t_w = _torch_mha_copy(layer)(*(torch.from_numpy(x),) * 3, need_weights=True,
                                          average_attn_weights=False)
    assert w.shape == (2, n_heads, 5, 5)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL[np.float64])
    np.testing.assert_allclose(w, t_w.detach().numpy(), **TOL[np.float64])


def test_mha_causal_mask_matches_torch():
    layer = selfattn.MultiHeadAttention(8, 2, seed=9)
    x = np.random.default_rng(10).normal(size=(3, 6, 8))  # (B, n, d_model)
    out, w = layer(x, mask=causal_mask(6))
    # torch.nn.MultiheadAttention's boolean attn_mask has the OPPOSITE polarity to ours
    # (and to F.scaled_dot_product_attention): True there means "may NOT attend".
    xt = torch.from_numpy(x)
    t_out, t_w = _torch_mha_copy(layer)(xt, xt, xt, attn_mask=torch.from_numpy(~causal_mask(6)),
                                        need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL[np.float64])
    np.testing.assert_allclose(w, t_w.detach().numpy(), **TOL[np.float64])


def test_mha_padding_and_causal_masks_match_torch_key_padding_mask():
    layer = selfattn.MultiHeadAttention(8, 4, seed=11)
    x = np.random.default_rng(12).normal(size=(3, 5, 8))  # (B, n, d_model)
    lengths = [5, 2, 4]
    pad = padding_mask(lengths, 5)  # (B, 1, n), True = real key
    xt = torch.from_numpy(x)
    t = _torch_mha_copy(layer)
    # key_padding_mask (B, n) is True where a key is PADDING (opposite polarity again)
    kpm = torch.from_numpy(~pad[:, 0, :])
    out, w = layer(x, mask=pad)
    t_out, t_w = t(xt, xt, xt, key_padding_mask=kpm, need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL[np.float64])
    np.testing.assert_allclose(w, t_w.detach().numpy(), **TOL[np.float64])

    both = pad & causal_mask(5)  # (B, n, n)
    out, w = layer(x, mask=both)
    t_out, t_w = t(xt, xt, xt, key_padding_mask=kpm, attn_mask=torch.from_numpy(~causal_mask(5)),
                   need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL[np.float64])
    np.testing.assert_allclose(w, t_w.detach().numpy(), **TOL[np.float64])


def test_mha_float32_matches_torch_and_stays_float32():
    layer = selfattn.MultiHeadAttention(8, 2, seed=13)
    x = np.random.default_rng(14).normal(size=(2, 4, 8)).astype(np.float32)
    out, w = layer(x)
    assert out.dtype == np.float32 and w.dtype == np.float32
    t = _torch_mha_copy(layer)  # float64 reference
    xt = torch.from_numpy(x.astype(np.float64))
    t_out, t_w = t(xt, xt, xt, need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL[np.float32])
    np.testing.assert_allclose(w, t_w.detach().numpy(), **TOL[np.float32])


def test_self_attention_float32_stays_float32():
    layer = selfattn.SelfAttention(6, 4, 3, seed=15)
    x = np.random.default_rng(16).normal(size=(5, 6))
    out64, w64 = layer(x)
    out32, w32 = layer(x.astype(np.float32))
    assert out32.dtype == np.float32 and w32.dtype == np.float32
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out32, out64, **TOL[np.float32])
    np.testing.assert_allclose(w32, w64, **TOL[np.float32])


def test_self_attention_matches_torch_sdpa_on_its_projections():
    layer = selfattn.SelfAttention(6, 4, 3, seed=17)
    x = np.random.default_rng(18).normal(size=(2, 5, 6))  # (B, n, d_model)
    out, w = layer(x, mask=causal_mask(5))
    q, k, v = x @ layer.W_q, x @ layer.W_k, x @ layer.W_v
    np.testing.assert_allclose(out, _torch_sdpa(q, k, v, is_causal=True), **TOL[np.float64])
    np.testing.assert_allclose(w, _reference_weights(q, k, mask=causal_mask(5)), **TOL[np.float64])


# --------------------------------------------------------------------------- #
# selfattn.nn twins vs the NumPy classes
# --------------------------------------------------------------------------- #
def test_nn_sdpa_matches_torch_sdpa_and_numpy_outputs_and_weights():
    q, k, v = _qkv((2, 2), 4, 6, 3, 5, np.float64, seed=19)
    mask = np.random.default_rng(20).random((2, 2, 4, 6)) < 0.5
    mask[..., 0] = True
    out, w = snn.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)), mask=torch.from_numpy(mask), scale=0.7)
    np.testing.assert_allclose(out.numpy(), _torch_sdpa(q, k, v, mask=mask, scale=0.7), **TOL[np.float64])
    np.testing.assert_allclose(w.numpy(), _reference_weights(q, k, mask=mask, scale=0.7), **TOL[np.float64])
    np_out, np_w = scaled_dot_product_attention(q, k, v, mask=mask, scale=0.7)
    np.testing.assert_allclose(out.numpy(), np_out, **TOL[np.float64])
    np.testing.assert_allclose(w.numpy(), np_w, **TOL[np.float64])


def test_nn_self_attention_from_numpy_matches_numpy():
    np_layer = selfattn.SelfAttention(6, 4, 3, seed=21)
    t_layer = snn.SelfAttention.from_numpy(np_layer)
    x = np.random.default_rng(22).normal(size=(2, 5, 6))
    for mask in (None, causal_mask(5), padding_mask([5, 2], 5)):
        out, w = np_layer(x, mask=mask)
        t_out, t_w = t_layer(torch.from_numpy(x), mask=None if mask is None else torch.from_numpy(mask))
        np.testing.assert_allclose(t_out.detach().numpy(), out, **TOL[np.float64])
        np.testing.assert_allclose(t_w.detach().numpy(), w, **TOL[np.float64])


def test_nn_multihead_from_numpy_matches_numpy():
    np_layer = selfattn.MultiHeadAttention(12, 3, seed=23)
    t_layer = snn.MultiHeadAttention.from_numpy(np_layer)
    x = np.random.default_rng(24).normal(size=(2, 5, 12))
    for mask in (None, causal_mask(5), padding_mask([5, 2], 5)):
        out, w = np_layer(x, mask=mask)
        t_out, t_w = t_layer(torch.from_numpy(x), mask=None if mask is None else torch.from_numpy(mask))
        np.testing.assert_allclose(t_out.detach().numpy(), out, **TOL[np.float64])
        np.testing.assert_allclose(t_w.detach().numpy(), w, **TOL[np.float64])


def test_nn_twins_with_same_seed_start_with_numpy_weights():
    np_sa, t_sa = selfattn.SelfAttention(5, 3, 2, seed=4), snn.SelfAttention(5, 3, 2, seed=4)
    np_mha, t_mha = selfattn.MultiHeadAttention(8, 2, seed=4), snn.MultiHeadAttention(8, 2, seed=4)
    for np_layer, t_layer, names in ((np_sa, t_sa, "W_q W_k W_v"), (np_mha, t_mha, "W_q W_k W_v W_o")):
        for name in names.split():
            np.testing.assert_array_equal(getattr(t_layer, name).detach().numpy(), getattr(np_layer, name))


@pytest.mark.parametrize("kind", ["self", "multi"])
def test_nn_from_numpy_to_numpy_round_trip_is_exact(kind):
    if kind == "self":
        np_layer = selfattn.SelfAttention(5, 3, 4, seed=25)
        back = snn.SelfAttention.from_numpy(np_layer).to_numpy()
        names = ("W_q", "W_k", "W_v")
    else:
        np_layer = selfattn.MultiHeadAttention(8, 4, seed=25)
        back = snn.MultiHeadAttention.from_numpy(np_layer).to_numpy()
        names = ("W_q", "W_k", "W_v", "W_o")
    assert type(back) is type(np_layer)
    for name in names:
        np.testing.assert_array_equal(getattr(back, name), getattr(np_layer, name))
    x = np.random.default_rng(26).normal(size=(4, np_layer.d_model))
    for a, b in zip(back(x), np_layer(x)):
        np.testing.assert_array_equal(a, b)


def test_nn_to_numpy_after_training_step_carries_the_new_weights():
    t_layer = snn.MultiHeadAttention(8, 2, seed=27)
    x = torch.from_numpy(np.random.default_rng(28).normal(size=(3, 8)))
    t_layer(x)[0].pow(2).sum().backward()
    with torch.no_grad():  # one plain gradient-descent step
        for p in t_layer.parameters():
            p -= 0.5 * p.grad
    np_layer = t_layer.to_numpy()
    out, w = np_layer(x.numpy())
    t_out, t_w = t_layer(x)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL[np.float64])
    np.testing.assert_allclose(w, t_w.detach().numpy(), **TOL[np.float64])


@pytest.mark.parametrize("kind", ["self", "multi"])
def test_nn_gradients_flow_to_every_weight_and_are_finite(kind):
    torch.manual_seed(0)
    layer = snn.SelfAttention(8, 4, seed=29) if kind == "self" else snn.MultiHeadAttention(8, 2, seed=29)
    x = torch.randn(2, 5, 8, dtype=torch.float64, requires_grad=True)
    mask = torch.from_numpy(causal_mask(5))
    out, _ = layer(x, mask=mask)
    out.pow(2).sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert torch.isfinite(x.grad).all()


def test_nn_gradients_match_torch_multiheadattention():
    np_layer = selfattn.MultiHeadAttention(8, 2, seed=30)
    ours, ref = snn.MultiHeadAttention.from_numpy(np_layer), _torch_mha_copy(np_layer)
    x = torch.from_numpy(np.random.default_rng(31).normal(size=(2, 4, 8)))
    ours(x, mask=torch.from_numpy(causal_mask(4)))[0].pow(2).sum().backward()
    ref(x, x, x, attn_mask=torch.from_numpy(~causal_mask(4)))[0].pow(2).sum().backward()
    d = np_layer.d_model
    np.testing.assert_allclose(ours.W_q.grad.numpy(), ref.in_proj_weight.grad[:d].numpy().T, **TOL[np.float64])
    np.testing.assert_allclose(ours.W_k.grad.numpy(), ref.in_proj_weight.grad[d:2 * d].numpy().T, **TOL[np.float64])
    np.testing.assert_allclose(ours.W_v.grad.numpy(), ref.in_proj_weight.grad[2 * d:].numpy().T, **TOL[np.float64])
    np.testing.assert_allclose(ours.W_o.grad.numpy(), ref.out_proj.weight.grad.numpy().T, **TOL[np.float64])


def test_nn_fully_masked_row_gives_zeros_and_finite_gradients():
    q = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    mask = torch.tensor([[True, True, False], [False, False, False], [True, True, True]])
    out, w = snn.scaled_dot_product_attention(q, q, q, mask=mask)
    assert torch.equal(w[1], torch.zeros(3, dtype=torch.float64))
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_nn_float32_twin_stays_float32_and_matches_numpy():
    np_layer = selfattn.MultiHeadAttention(8, 2, seed=32)
    t_layer = snn.MultiHeadAttention.from_numpy(np_layer, dtype=torch.float32)
    x = np.random.default_rng(33).normal(size=(4, 8)).astype(np.float32)
    t_out, t_w = t_layer(torch.from_numpy(x))
    assert t_out.dtype == torch.float32 and t_w.dtype == torch.float32
    out, w = np_layer(x)
    np.testing.assert_allclose(t_out.detach().numpy(), out, **TOL[np.float32])
    np.testing.assert_allclose(t_w.detach().numpy(), w, **TOL[np.float32])


def test_nn_sdpa_rejects_a_float_mask():
    # An additive float mask (0 = keep, -inf = hide) read as booleans would flip its meaning.
    q = torch.randn(2, 3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"mask must be boolean"):
        snn.scaled_dot_product_attention(q, q, q, mask=torch.tensor([0.0, float("-inf"), 0.0]))
