"""selfattn.positions against the rotary and ALiBi code of ``transformers``, and its PyTorch twin.

References: Llama's and GPT-NeoX's ``apply_rotary_pos_emb`` with the cos/sin of their
``RotaryEmbedding`` modules (half layout), GPT-J's ``apply_rotary_pos_emb`` with its
``create_sinusoidal_positions`` (interleaved layout), BLOOM's ``build_alibi_tensor``. Those modules
compute cos/sin in float32, hence tolerances of a few 1e-5 on positions below 64; every broken
variant below misses by more than 0.01.

As in ``test_positions.py``, each comparison is a helper returning True or False, and the suite
checks that it rejects broken implementations (off by one position, base 1000, the other layout,
turning backwards) as well as accepting the real one.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import selfattn.nn as snn
from selfattn.positions import BASE, alibi_bias, alibi_slopes, rope

transformers = pytest.importorskip("transformers")
from transformers import GPTNeoXConfig, LlamaConfig  # noqa: E402
from transformers.models.bloom.modeling_bloom import build_alibi_tensor  # noqa: E402
from transformers.models.gpt_neox import modeling_gpt_neox as neox  # noqa: E402
from transformers.models.gptj import modeling_gptj as gptj  # noqa: E402
from transformers.models.llama import modeling_llama as llama  # noqa: E402

HF_TOL = dict(rtol=0, atol=3e-5)  # float32 cos/sin inside transformers
CASES = [((1, 1, 1, 2), [1]), ((2, 3, 5, 8), [0, 1, 2, 3, 4]), ((1, 2, 6, 16), [7, 0, 31, 2, 2, 63]),
         ((2, 1, 4, 64), [60, 3, 17, 9])]


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)  # (B, H, n, d)


# --------------------------------------------------------------------------- #
# references from transformers
# --------------------------------------------------------------------------- #
def rope_llama(x, positions, base=BASE):
    """Llama's rotary code: cos/sin from LlamaRotaryEmbedding, then apply_rotary_pos_emb on (B, H, n, d)."""
    b, h, n, d = x.shape
    config = LlamaConfig(hidden_size=h * d, num_attention_heads=h, head_dim=d, rope_theta=base,
                         max_position_embeddings=128)
    t = torch.from_numpy(x)
    cos, sin = llama.LlamaRotaryEmbedding(config)(t, torch.tensor([positions]))  # (1, n, d) each
    q_embed, _ = llama.apply_rotary_pos_emb(t, t, cos, sin)  # unsqueeze_dim=1: cos is (1, 1, n, d)
    return q_embed.numpy()


def rope_neox(x, positions, base=BASE):
    """GPT-NeoX's rotary code with the whole head rotated (rotary_pct 1)."""
    b, h, n, d = x.shape
    config = GPTNeoXConfig(hidden_size=h * d, num_attention_heads=h, rotary_pct=1.0, rotary_emb_base=base,
                           max_position_embeddings=128)
    t = torch.from_numpy(x)
    cos, sin = neox.GPTNeoXRotaryEmbedding(config)(t, torch.tensor([positions]))
    q_embed, _ = neox.apply_rotary_pos_emb(t, t, cos, sin)
    return q_embed.numpy()


def rope_gptj(x, positions):
    """GPT-J's rotary code: the table of create_sinusoidal_positions (sin | cos, base 10000), looked up by
    position, repeat_interleave'd onto the pairs, and rotate_every_two; GPT-J's layout is (B, n, H, d)."""
    d = x.shape[-1]
    sincos = gptj.create_sinusoidal_positions(128, d)[torch.tensor(positions)][None]  # (1, n, d)
    sin, cos = torch.split(sincos, d // 2, dim=-1)  # (1, n, d/2) each
    t = torch.from_numpy(x).permute(0, 2, 1, 3)  # (B, n, H, d)
    return gptj.apply_rotary_pos_emb(t, sin, cos).permute(0, 2, 1, 3).numpy()  # back to (B, H, n, d)


def half_matches(reference, fn) -> bool:
    for (shape, pos), base in zip(CASES + CASES[1:3], [BASE] * len(CASES) + [500000.0, 100.0]):
        x = _x(shape)
        if not np.allclose(fn(x, pos, base, layout="half"), reference(x, pos, base), **HF_TOL):
            return False
    return True


def interleaved_matches_gptj(fn) -> bool:
    for shape, pos in CASES:
        x = _x(shape, seed=1)
        if not np.allclose(fn(x, pos, BASE, layout="interleaved"), rope_gptj(x, pos), **HF_TOL):
            return False
    return True


def test_rope_half_layout_equals_llama():
    assert half_matches(rope_llama, rope)


def test_rope_half_layout_equals_gpt_neox():
    assert half_matches(rope_neox, rope)


def test_rope_interleaved_layout_equals_gpt_j():
    assert interleaved_matches_gptj(rope)


def test_llama_and_gpt_j_disagree_so_the_layout_matters():
    x, pos = _x((1, 2, 5, 8)), [0, 1, 2, 3, 4]
    assert np.abs(rope_llama(x, pos) - rope_gptj(x, pos)).max() > 0.1


# --------------------------------------------------------------------------- #
# ALiBi against BLOOM
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("h", [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 112])  # BLOOM-176B has 112 heads
def test_alibi_slopes_equal_bloom(h):
    bias = build_alibi_tensor(torch.ones(1, 4, dtype=torch.long), h, torch.float32)  # (h, 1, 4): slope * j
    np.testing.assert_allclose(alibi_slopes(h), bias[:, 0, 1].double().numpy(), rtol=1e-6)


def _causal_softmax(scores):
    n = scores.shape[-1]
    mask = torch.ones(n, n, dtype=torch.bool).triu(1)  # True above the diagonal: the future
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)


@pytest.mark.parametrize("h, n", [(1, 5), (4, 9), (6, 7)])
def test_alibi_bias_gives_bloom_weights_on_causal_rows(h, n):
    """BLOOM adds +m j (key position) instead of -m (i - j): per row they differ by the constant m i,
    which the softmax ignores, so under a causal mask the weights are the same."""
    scores = torch.from_numpy(np.random.default_rng(h).normal(size=(h, n, n)))
    bloom = build_alibi_tensor(torch.ones(1, n, dtype=torch.long), h, torch.float32).double()  # (h, 1, n)
    ours = torch.from_numpy(alibi_bias(h, n))  # (h, n, n)
    w_bloom, w_ours = _causal_softmax(scores + bloom), _causal_softmax(scores + ours)
    np.testing.assert_allclose(w_ours.numpy(), w_bloom.numpy(), rtol=1e-5, atol=1e-7)
    # without the mask (an encoder) the two are different biases: BLOOM's favours later keys
    full_bloom, full_ours = torch.softmax(scores + bloom, -1), torch.softmax(scores + ours, -1)
    assert (full_bloom - full_ours).abs().max() > 1e-3


# --------------------------------------------------------------------------- #
# the PyTorch twin
# --------------------------------------------------------------------------- #
def twin_matches_numpy(fn) -> bool:
    """``fn`` on tensors equals the NumPy rope, both layouts, float64 and float32, batched."""
    for dtype, tol in [(np.float64, 1e-12), (np.float32, 2e-6)]:
        for layout in ("interleaved", "half"):
            for shape, pos in CASES:
                x = _x(shape, seed=2).astype(dtype)
                got = fn(torch.from_numpy(x), pos, BASE, layout=layout)
                if got.dtype != torch.from_numpy(x).dtype or got.shape != x.shape:
                    return False
                if not np.allclose(got.numpy(), rope(x, pos, BASE, layout), rtol=0, atol=tol):
                    return False
    return True


def test_torch_rope_equals_numpy_rope():
    assert twin_matches_numpy(snn.rope)


def test_torch_rope_half_layout_equals_llama():
    def torch_rope(x, positions, base, layout):
        return snn.rope(torch.from_numpy(x), positions, base, layout).numpy()

    assert half_matches(rope_llama, torch_rope)


def test_torch_rope_keeps_the_default_positions_and_layout_of_numpy():
    x = _x((3, 7, 6), seed=3)
    np.testing.assert_allclose(snn.rope(torch.from_numpy(x)).numpy(), rope(x), rtol=0, atol=1e-12)


def test_torch_rope_takes_a_positions_tensor():
    x = _x((2, 4, 8), seed=4)
    got = snn.rope(torch.from_numpy(x), torch.tensor([5, 0, 2, 9]), layout="half")
    np.testing.assert_allclose(got.numpy(), rope(x, [5, 0, 2, 9], layout="half"), rtol=0, atol=1e-12)


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_torch_rope_passes_gradcheck(layout):
    x = torch.from_numpy(_x((1, 2, 3, 6), seed=5)).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: snn.rope(t, [4, 0, 11], layout=layout), (x,))


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_gradients_flow_through_rope_into_the_scores(layout):
    """The gradient of a score reaches both vectors, and it is the rotated other vector."""
    q = torch.from_numpy(_x((1, 4), seed=6)).requires_grad_()
    k = torch.from_numpy(_x((1, 4), seed=7)).requires_grad_()
    score = (snn.rope(q, [3], layout=layout) * snn.rope(k, [1], layout=layout)).sum()
    score.backward()
    # d score / d q = R_3^T R_1 k = R_(-2) k, i.e. k turned back by two positions: check it by
    # turning the gradient forward two positions again
    turned = rope(q.grad.numpy(), [2], layout=layout)
    np.testing.assert_allclose(turned, k.detach().numpy(), rtol=0, atol=1e-12)
    assert torch.isfinite(k.grad).all() and k.grad.abs().sum() > 0


# --------------------------------------------------------------------------- #
# the comparisons reject broken implementations
# --------------------------------------------------------------------------- #
def _pos(x, p):
    return np.arange(np.shape(x)[-2]) if p is None else np.asarray(p)


def rope_off_by_one(x, positions=None, base=BASE, layout="interleaved"):
    return rope(x, _pos(x, positions) + 1, base, layout)


def rope_base_1000(x, positions=None, base=BASE, layout="interleaved"):
    return rope(x, positions, base / 10, layout)


def rope_other_layout(x, positions=None, base=BASE, layout="interleaved"):
    return rope(x, positions, base, "half" if layout == "interleaved" else "interleaved")


def rope_backwards(x, positions=None, base=BASE, layout="interleaved"):
    """Turns by minus the angle, as rotate_half / rotate_every_two with the minus on the wrong half:
    (a, b) -> (a cos + b sin, -a sin + b cos)."""
    x = np.asarray(x)
    d = x.shape[-1]
    a = slice(0, None, 2) if layout == "interleaved" else slice(0, d // 2)
    b = slice(1, None, 2) if layout == "interleaved" else slice(d // 2, None)
    angles = _pos(x, positions)[:, None] * base ** (-np.arange(0, d, 2) / d)  # (n, d/2)
    c, s = np.cos(angles), np.sin(angles)
    out = np.empty_like(x)
    out[..., a], out[..., b] = x[..., a] * c + x[..., b] * s, -x[..., a] * s + x[..., b] * c
    return out


BROKEN = [rope_off_by_one, rope_base_1000, rope_other_layout, rope_backwards]


@pytest.mark.parametrize("broken", BROKEN, ids=lambda f: f.__name__)
@pytest.mark.parametrize("reference", [rope_llama, rope_neox], ids=["llama", "neox"])
def test_half_layout_references_reject_a_broken_rope(reference, broken):
    assert half_matches(reference, rope)
    assert not half_matches(reference, broken)


@pytest.mark.parametrize("broken", BROKEN, ids=lambda f: f.__name__)
def test_gpt_j_reference_rejects_a_broken_rope(broken):
    assert interleaved_matches_gptj(rope)
    assert not interleaved_matches_gptj(broken)


def twin_cat_instead_of_stack(x, positions=None, base=BASE, layout="interleaved"):
    """Puts the turned pairs back as halves even in the interleaved layout."""
    d = x.shape[-1]
    full = snn.rope(x, positions, base, layout)
    if layout == "interleaved":
        return torch.cat([full[..., 0::2], full[..., 1::2]], dim=-1)
    return full[..., list(range(d))]


def twin_first_position_only(x, positions=None, base=BASE, layout="interleaved"):
    """Ignores positions beyond the first: every row turned as the first one."""
    n = x.shape[-2]
    p = _pos(x, positions)
    return snn.rope(x, np.full(n, p[0]), base, layout)


def twin_returns_float64(x, positions=None, base=BASE, layout="interleaved"):
    return snn.rope(x.double(), positions, base, layout)


@pytest.mark.parametrize("broken", [twin_cat_instead_of_stack, twin_first_position_only, twin_returns_float64],
                         ids=lambda f: f.__name__)
def test_twin_comparison_rejects_a_broken_twin(broken):
    assert twin_matches_numpy(snn.rope)
    assert not twin_matches_numpy(broken)


# --------------------------------------------------------------------------- #
# the twin's errors: same checks, same messages
# --------------------------------------------------------------------------- #
T = torch.ones(3, 4)
TORCH_ERRORS = {
    "array to torch rope": (lambda: snn.rope(np.ones((3, 4))), "x must be a torch.Tensor, got ndarray"),
    "odd d": (lambda: snn.rope(torch.ones(3, 5)), "last dimension of x must be even, got shape (3, 5) (d=5)"),
    "negative position": (lambda: snn.rope(T, [0, -1, 2]), "positions must be >= 0"),
    "1.5 as a position": (lambda: snn.rope(T, torch.tensor([0.0, 1.5, 2.0])), "positions must hold whole numbers"),
    "wrong number of positions": (lambda: snn.rope(T, [0, 1]), "positions must hold one position per row: 3"),
    "unknown layout": (lambda: snn.rope(T, layout="neox"), "unknown layout 'neox'"),
    "base 1": (lambda: snn.rope(T, base=1.0), "base must be greater than 1"),
    "NaN input": (lambda: snn.rope(torch.tensor([[float("nan"), 0.0]])), "x contains 1 non-finite value(s)"),
    "integer tensor": (lambda: snn.rope(torch.ones(3, 4, dtype=torch.long)), "x must be a floating-point tensor"),
}


@pytest.mark.parametrize("call, fragment", TORCH_ERRORS.values(), ids=TORCH_ERRORS.keys())
def test_torch_rope_bad_input_gives_the_numpy_message(call, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call()


def test_torch_and_numpy_rope_raise_the_same_message():
    for bad in ([0, -1, 2], [0, 1], [0, 2.5, 1]):
        with pytest.raises(ValueError) as numpy_error:
            rope(np.ones((3, 4)), bad)
        with pytest.raises(ValueError) as torch_error:
            snn.rope(T, bad)
        assert str(numpy_error.value) == str(torch_error.value)
