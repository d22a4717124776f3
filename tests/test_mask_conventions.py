"""The mask conventions chapter 5 and the notation page state, pinned in the installed libraries.

``selfattn`` and ``F.scaled_dot_product_attention``: True = may attend.
``nn.MultiheadAttention``: True = blocked. Hugging Face: 1 = keep, 0 = padding, turned into an
additive mask of 0 and ``torch.finfo(dtype).min``.
"""

import numpy as np
import pytest
import torch

from selfattn import padding_mask, scaled_dot_product_attention


@pytest.fixture
def batch():
    rng = np.random.default_rng(5)
    q, k, v = (rng.normal(size=(2, 6, 8)) for _ in range(3))  # (B, n, d)
    return q, k, v, padding_mask([6, 4], 6)  # mask (B, 1, n), True = may attend


def _identity_mha(d):
    mha = torch.nn.MultiheadAttention(d, num_heads=1, bias=False, batch_first=True,
                                      dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.eye(d).repeat(3, 1))
        mha.out_proj.weight.copy_(torch.eye(d))
    return mha


def test_multihead_attention_key_padding_mask_is_the_inverted_course_mask(batch):
    q, k, v, mask = batch
    ours, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    mha = _identity_mha(8)
    t = [torch.from_numpy(a) for a in (q, k, v)]
    inverted, _ = mha(*t, key_padding_mask=torch.from_numpy(~mask[:, 0]))
    np.testing.assert_allclose(inverted.detach().numpy(), ours, atol=1e-12)
    same, _ = mha(*t, key_padding_mask=torch.from_numpy(mask[:, 0].copy()))
    # without ~ it is wrong: the full-length sequence gets NaN, the short one the wrong keys
    assert not np.allclose(same.detach().numpy(), ours, atol=1e-3)


def test_hugging_face_attention_mask_becomes_zero_or_finfo_min():
    from transformers.modeling_attn_mask_utils import _prepare_4d_attention_mask

    keep = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])  # 1 = keep, 0 = padding
    additive = _prepare_4d_attention_mask(keep, torch.float32)  # (B, 1, n_q, n_k)
    assert additive.shape == (2, 1, 4, 4)
    expected = torch.where(keep.bool(), 0.0, torch.finfo(torch.float32).min)
    assert torch.equal(additive[:, 0], expected[:, None, :].expand(2, 4, 4))


def test_hugging_face_additive_mask_gives_the_course_weights(batch):
    from transformers.modeling_attn_mask_utils import _prepare_4d_attention_mask

    q, k, v, mask = batch
    _, ours = scaled_dot_product_attention(q, k, v, mask=mask)
    keep = torch.from_numpy(mask[:, 0].astype(np.int64))  # (B, n)
    additive = _prepare_4d_attention_mask(keep, torch.float64)[:, 0]  # (B, n, n)
    s = torch.from_numpy(q @ k.transpose(0, 2, 1) / np.sqrt(8)) + additive
    np.testing.assert_allclose(torch.softmax(s, dim=-1).numpy(), ours, atol=1e-12)
