"""The capstone checker: a correct multi-head attention passes, each typical mistake is named.

The layers below are written here, head by head with explicit loops, independently of
``selfattn.exercises._mha_numpy``; the checker's reference is torch.nn.MultiheadAttention.
"""
from __future__ import annotations

import numpy as np
import pytest

from selfattn.exercises import CheckError, check_multi_head_attention


def _softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def make_mha(scale="head", polarity="may attend", split="columns", out_proj=True):
    def mha(x, W_q, W_k, W_v, W_o, n_heads, key_padding_mask=None, causal=False):
        n, d = x.shape
        d_h = d // n_heads
        Q, K, V = x @ W_q, x @ W_k, x @ W_v
        allowed = np.ones((n, n), dtype=bool)
        if key_padding_mask is not None:
            allowed &= np.asarray(key_padding_mask)[None, :]
        if causal:
            allowed &= np.arange(n)[None, :] <= np.arange(n)[:, None]
        if polarity == "blocked" and (key_padding_mask is not None or causal):
            allowed = ~allowed
        outs = []
        for i in range(n_heads):
            if split == "columns":
                cols = slice(i * d_h, (i + 1) * d_h)
                q, k, v = Q[:, cols], K[:, cols], V[:, cols]
            else:  # reshape (h, n, d_h) without the transpose
                q, k, v = (M.reshape(n_heads, n, d_h)[i] for M in (Q, K, V))
            factor = {"head": d_h ** -0.5, "model": d ** -0.5, "none": 1.0}[scale]
            s = np.where(allowed, q @ k.T * factor, -np.inf)
            outs.append(_softmax(s) @ v)
        o = (np.concatenate(outs, axis=1) if split == "columns"
             else np.stack(outs).reshape(n, d))
        return o @ W_o if out_proj else o
    return mha


def test_correct_layer_passes(capsys):
    assert check_multi_head_attention(make_mha()) is True
    assert capsys.readouterr().out.startswith("Correct:")


def test_pair_output_is_accepted():
    good = make_mha()
    assert check_multi_head_attention(lambda *a, **kw: (good(*a, **kw), None))


@pytest.mark.parametrize("flags, words", [
    ({"scale": "none"}, "do not divide the scores"),
    ({"scale": "model"}, "sqrt(d_model)"),
    ({"polarity": "blocked"}, "wrong polarity"),
    ({"split": "reshape"}, "reshape(n_heads, n, d_head) alone"),
    ({"out_proj": False}, "output projection"),
])
def test_each_typical_mistake_is_named(flags, words):
    with pytest.raises(CheckError) as err:
        check_multi_head_attention(make_mha(**flags))
    assert words in str(err.value), str(err.value)


def test_other_wrong_answer_gets_the_comparison():
    good = make_mha()
    with pytest.raises(CheckError, match="against torch.nn.MultiheadAttention"):
        check_multi_head_attention(lambda *a, **kw: good(*a, **kw) + 0.01)


def test_raising_function_is_reported():
    def broken(*a, **kw):
        raise RuntimeError("boom")
    with pytest.raises(CheckError, match="raised RuntimeError: boom"):
        check_multi_head_attention(broken)


def test_not_callable():
    with pytest.raises(ValueError, match="your function itself"):
        check_multi_head_attention(np.zeros(3))


def test_fully_masked_rows_point_at_the_polarity():
    good = make_mha()

    def causal_upside_down(x, *a, key_padding_mask=None, causal=False):
        out = good(x, *a, key_padding_mask=key_padding_mask, causal=False)
        if causal:  # the last row attends to nothing: NaN
            out = out.copy()
            out[-1] = np.nan
        return out
    with pytest.raises(CheckError, match="polarity"):
        check_multi_head_attention(causal_upside_down)
