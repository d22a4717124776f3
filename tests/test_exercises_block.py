"""check_block_forward_torch: a learner's post-norm block against transformers' BertLayer
(chapter "Self-attention in a real model"), and the mistakes it names."""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfattn.block import feed_forward, layer_norm, multi_head_attention, transformer_block
from selfattn.exercises import (CheckError, _block_cases, _torch_bert_layer,
                                check_block_forward_torch)


def right(x, p, h):
    """The block typed out from the pieces, as the chapter's solution does."""
    a, _ = multi_head_attention(x, p.W_q, p.b_q, p.W_k, p.b_k, p.W_v, p.b_v, p.W_o, p.b_o, h)
    hid = layer_norm(x + a, p.ln1_gamma, p.ln1_beta)
    return layer_norm(hid + feed_forward(hid, p.W1, p.b1, p.W2, p.b2), p.ln2_gamma, p.ln2_beta)


def _mha(x, p, h, bias=True):
    z = np.zeros_like(p.b_q)
    b = (p.b_q, p.b_k, p.b_v, p.b_o) if bias else (z, z, z, z)
    return multi_head_attention(x, p.W_q, b[0], p.W_k, b[1], p.W_v, b[2], p.W_o, b[3], h)[0]


def _tanh_ffn(x, p):
    a = x @ p.W1 + p.b1
    g = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))
    return g @ p.W2 + p.b2


def _ln1(u, p):
    return layer_norm(u, p.ln1_gamma, p.ln1_beta)


def _ln2(u, p):
    return layer_norm(u, p.ln2_gamma, p.ln2_beta)


def no_attn_residual(x, p, h):
    hid = _ln1(_mha(x, p, h), p)
    return _ln2(hid + feed_forward(hid, p.W1, p.b1, p.W2, p.b2), p)


def no_ffn_residual(x, p, h):
    hid = _ln1(x + _mha(x, p, h), p)
    return _ln2(feed_forward(hid, p.W1, p.b1, p.W2, p.b2), p)


def tanh_gelu(x, p, h):
    hid = _ln1(x + _mha(x, p, h), p)
    return _ln2(hid + _tanh_ffn(hid, p), p)


def no_attn_bias(x, p, h):
    hid = _ln1(x + _mha(x, p, h, bias=False), p)
    return _ln2(hid + feed_forward(hid, p.W1, p.b1, p.W2, p.b2), p)


def no_ffn_bias(x, p, h):
    hid = _ln1(x + _mha(x, p, h), p)
    return _ln2(hid + feed_forward(hid, p.W1, 0 * p.b1, p.W2, 0 * p.b2), p)


def pre_norm(x, p, h):
    return transformer_block(x, p, h, norm="pre")


def wrong_head_split(x, p, h):
    """Heads cut by reshape alone: no named mistake, the generic difference must catch it."""
    n, d = x.shape

    def split(m):
        return m.reshape(h, n, d // h)

    q, k, v = (split(x @ W + b) for W, b in ((p.W_q, p.b_q), (p.W_k, p.b_k), (p.W_v, p.b_v)))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(d // h)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    a = (w @ v).reshape(n, d) @ p.W_o + p.b_o
    hid = _ln1(x + a, p)
    return _ln2(hid + feed_forward(hid, p.W1, p.b1, p.W2, p.b2), p)


def test_the_reference_is_bertlayer_and_agrees_with_selfattn_block():
    for _, x, p, h in _block_cases():
        ref = _torch_bert_layer(x, p, h)
        assert ref.shape == x.shape
        # selfattn.block.gelu is within 2e-8 of the exact erf form in float64
        assert np.abs(ref - transformer_block(x, p, h)[0]).max() < 1e-7


def test_a_right_block_passes(capsys):
    assert check_block_forward_torch(right)
    assert "all 3 cases" in capsys.readouterr().out
    assert check_block_forward_torch(lambda x, p, h: transformer_block(x, p, h))  # a pair
    assert check_block_forward_torch(lambda x, p, h: right(x, p, h).astype(np.float32))


@pytest.mark.parametrize("wrong, says", [
    (no_attn_residual, "attention's residual connection is missing"),
    (no_ffn_residual, "feed-forward layer's residual connection is missing"),
    (tanh_gelu, "tanh approximation"),
    (no_attn_bias, "attention projections have no biases"),
    (no_ffn_bias, "feed-forward layer has no biases"),
    (pre_norm, "pre-norm block"),
    (wrong_head_split, "against transformers' BertLayer: your output differs"),
])
def test_a_wrong_block_fails_and_names_the_mistake(wrong, says):
    with pytest.raises(CheckError, match="5 tokens, d_model=8, 2 heads, d_ff=32") as err:
        check_block_forward_torch(wrong)
    assert says in str(err.value)


@pytest.mark.parametrize("answer, says", [
    (lambda x, p, h: None, "did you forget to `return` it"),
    (lambda x, p, h: x[:, :4], r"shape \(5, 4\), expected shape \(5, 8\)"),
    (lambda x, p, h: x / 0, "NaN"),
    (lambda x, p, h: 1 / 0, "raised ZeroDivisionError"),
])
def test_an_answer_that_is_not_an_output_is_named(answer, says):
    with pytest.raises(CheckError, match=says):
        with np.errstate(all="ignore"):
            check_block_forward_torch(answer)


def test_the_function_itself_is_needed():
    with pytest.raises(ValueError, match=r"takes your function itself.*got a ndarray"):
        check_block_forward_torch(np.zeros(3))
