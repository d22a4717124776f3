"""Chapter 5's PyTorch checker: a right attention passes, the usual mistakes fail.

The right answer here is written in PyTorch (independent of ``selfattn``); the wrong
ones are the mistakes chapter 5 lists.
"""

import math

import numpy as np
import pytest
import torch

from selfattn.exercises import CheckError, check_attention_torch


def torch_attention(q, k, v, mask=None, scale=None):
    q, k, v = (torch.from_numpy(a) for a in (q, k, v))
    s = q @ k.T * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if mask is not None:
        s = s.masked_fill(~torch.from_numpy(mask), float("-inf"))
    w = torch.softmax(s, dim=-1)
    return w @ v, w


def test_check_attention_torch_accepts_attention_written_in_torch():
    assert check_attention_torch(torch_attention) is True


def test_check_attention_torch_accepts_float32_answers():
    def f32(q, k, v, mask=None, scale=None):
        out, w = torch_attention(q, k, v, mask=mask, scale=scale)
        return out.float(), w.float()
    assert check_attention_torch(f32) is True


def _forgot_scale(q, k, v, mask=None, scale=None):
    return torch_attention(q, k, v, mask=mask, scale=1.0)


def _flipped_mask(q, k, v, mask=None, scale=None):
    return torch_attention(q, k, v, mask=None if mask is None else ~mask, scale=scale)


def _ignores_scale(q, k, v, mask=None, scale=None):
    return torch_attention(q, k, v, mask=mask)


def _weights_transposed_output(q, k, v, mask=None, scale=None):
    out, w = torch_attention(q, k, v, mask=mask, scale=scale)
    return w.T @ torch.from_numpy(v), w


@pytest.mark.parametrize("wrong", [_forgot_scale, _flipped_mask, _ignores_scale,
                                   _weights_transposed_output])
def test_check_attention_torch_rejects_usual_mistakes(wrong):
    with pytest.raises(CheckError, match="against PyTorch"):
        check_attention_torch(wrong)


def test_check_attention_torch_rejects_a_result_that_is_not_a_pair():
    with pytest.raises(CheckError, match="pair"):
        check_attention_torch(lambda q, k, v, mask=None, scale=None: np.zeros(3))


def test_check_attention_torch_refuses_a_non_function():
    with pytest.raises(ValueError, match="function itself"):
        check_attention_torch(3)
