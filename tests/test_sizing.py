"""Tests of selfattn.sizing against independent counts.

The independent count is the number of parameters of PyTorch modules built with the same
configuration (on the ``meta`` device, so nothing is allocated), and the parameter counts of
the released checkpoints, typed in from the sources cited in the model table.
"""

from __future__ import annotations

import numpy as np
import pytest

from selfattn import sizing
from selfattn.heads import check_divisible
from selfattn.models import load_models

torch = pytest.importorskip("torch")
nn = torch.nn
META = torch.device("meta")


# --------------------------------------------------------------------------- #
# independent counts: PyTorch modules with the same configuration
# --------------------------------------------------------------------------- #
def _numel(*modules) -> int:
    """Parameters of the modules, each shared tensor counted once (as in a tied LM head)."""
    seen = {}
    for m in modules:
        for p in m.parameters():
            seen[id(p)] = p.numel()
    return sum(seen.values())


def _block(d, h, f):
    # A GPT-2 block and a BERT layer hold the same tensors as nn.TransformerEncoderLayer:
    # in_proj (W_q, W_k, W_v and biases), out_proj, two layer norms, two linear layers.
    return nn.TransformerEncoderLayer(d, h, dim_feedforward=f, device=META)


def torch_gpt2(V, P, d, L, h, f=None):
    f = 4 * d if f is None else f
    wte, wpe = nn.Embedding(V, d, device=META), nn.Embedding(P, d, device=META)
    blocks = [_block(d, h, f) for _ in range(L)]
    ln_f = nn.LayerNorm(d, device=META)
    lm_head = nn.Linear(d, V, bias=False, device=META)
    lm_head.weight = wte.weight  # weight tying, as in the released GPT-2
    return _numel(wte, wpe, *blocks, ln_f, lm_head)


def torch_bert(V, P, d, L, h, f=None, T=2, pooler=True):
    f = 4 * d if f is None else f
    parts = [nn.Embedding(V, d, device=META), nn.Embedding(P, d, device=META), nn.LayerNorm(d, device=META)]
    if T:
        parts.append(nn.Embedding(T, d, device=META))
    parts += [_block(d, h, f) for _ in range(L)]
    if pooler:
        parts.append(nn.Linear(d, d, device=META))
    return _numel(*parts)


# --------------------------------------------------------------------------- #
# whole models
# --------------------------------------------------------------------------- #
GPT2_SIZES = [  # (d_model, n_layers, n_heads): GPT-2 small, medium, large, XL
    (768, 12, 12), (1024, 24, 16), (1280, 36, 20), (1600, 48, 25),
]


@pytest.mark.parametrize("d, L, h", GPT2_SIZES)
def test_gpt2_params_match_pytorch_modules_of_the_same_config(d, L, h):
    assert sizing.gpt2_params(50257, 1024, d, L)["total"] == torch_gpt2(50257, 1024, d, L, h)


def test_gpt2_small_has_the_parameter_count_of_the_released_checkpoint():
    # 124,439,808: the count of the released openai-community/gpt2 weights (model card: "124M").
    assert sizing.gpt2_params(50257, 1024, 768, 12)["total"] == 124_439_808


def test_gpt2_params_parts_add_up_and_the_tied_head_is_free():
    parts = sizing.gpt2_params(50257, 1024, 768, 12)
    assert parts["lm_head"] == 0
    assert sum(v for k, v in parts.items() if k != "total") == parts["total"]
    # token embedding by hand: 50257 x 768
    assert parts["token_embedding"] == 38_597_376


@pytest.mark.parametrize("V, P, d, L, h, f, T, pooler", [
    (30522, 512, 768, 12, 12, None, 2, True),     # BERT base
    (30522, 512, 1024, 24, 16, None, 2, True),    # BERT large
    (50265, 514, 768, 12, 12, None, 1, True),     # RoBERTa base
    (30522, 512, 768, 6, 12, None, 0, False),     # DistilBERT
    (30522, 512, 312, 4, 12, 1200, 2, True),      # TinyBERT 4L
    (100, 16, 8, 3, 2, 20, 3, False),             # a toy with unusual sizes
])
def test_bert_params_match_pytorch_modules_of_the_same_config(V, P, d, L, h, f, T, pooler):
    ours = sizing.bert_params(V, P, d, L, d_ff=f, type_vocab_size=T, pooler=pooler)["total"]
    assert ours == torch_bert(V, P, d, L, h, f=f, T=T, pooler=pooler)


def test_bert_base_has_the_parameter_count_of_the_released_checkpoint():
    # 109,482,240: BertModel (with pooler) loaded from bert-base-uncased.
    assert sizing.bert_params(30522, 512, 768, 12)["total"] == 109_482_240


# --------------------------------------------------------------------------- #
# one attention layer
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("d, h", [(768, 12), (64, 1), (1600, 25), (12, 3)])
def test_attention_params_match_torch_multihead_attention(d, h):
    mha = nn.MultiheadAttention(d, h, bias=True, device=META)
    assert sizing.attention_params(d, h) == _numel(mha)
    mha_nobias = nn.MultiheadAttention(d, h, bias=False, device=META)
    assert sizing.attention_params(d, h, bias=False) == _numel(mha_nobias)


def test_attention_flops_match_a_hand_count():
    d, h, n = 8, 2, 5
    # Q, K, V, output projections: 4 matmuls (n x d) @ (d x d), 2 FLOPs per multiply-add
    proj = 4 * (n * d * d * 2)
    # per head: scores (n x dh) @ (dh x n) and weights (n x n) @ (n x dh)
    dh = d // h
    quad = h * (n * n * dh * 2) * 2
    f = sizing.attention_flops(d, h, n)
    assert f["projections"] == proj
    assert f["scores"] + f["weighted_sum"] == quad
    assert f["total"] == proj + quad


def test_attention_matrix_bytes_for_16384_tokens_is_12_gib_in_float32():
    assert sizing.attention_matrix_bytes(12, 16384, "float32") == 12 * 16384 * 16384 * 4
    assert sizing.attention_matrix_bytes(12, 16384, "float16", batch=2) == 2 * 12 * 16384 * 16384 * 2


def test_attention_sizing_quadratic_share_grows_with_sequence_length():
    short = sizing.attention_sizing(768, 12, 128)["flops_quadratic_share"]
    long = sizing.attention_sizing(768, 12, 8192)["flops_quadratic_share"]
    assert 0 < short < long < 1


@pytest.mark.parametrize("args, words", [
    ((768, 10, 1024), ["d_model=768", "n_heads=10", "not divisible"]),
    ((768, 0, 1024), ["n_heads", "positive integer, got 0"]),
    ((768, 12, 0), ["n must be", "positive integer, got 0"]),
    ((768.0, 12, 16), ["d_model must be", "768.0"]),
    ((4, 8, 16), ["n_heads=8", "larger than d_model=4"]),
    ((True, 1, 16), ["d_model must be", "True"]),
])
def test_invalid_sizing_choices_raise_value_errors_that_name_the_numbers(args, words):
    with pytest.raises(ValueError) as err:
        sizing.attention_sizing(*args)
    for w in words:
        assert w in str(err.value), f"{w!r} missing from: {err.value}"


@pytest.mark.parametrize("dtype", ["int8", ["x"], None, 4])
def test_attention_matrix_bytes_and_explain_sizing_reject_an_unknown_dtype(dtype):
    with pytest.raises(ValueError, match=r"unknown dtype .*; choose from \['float64', 'float32'"):
        sizing.attention_matrix_bytes(12, 16, dtype)
    with pytest.raises(ValueError, match="unknown dtype"):
        sizing.explain_sizing(768, 12, 16, dtype=dtype)


def test_explain_sizing_explains_an_impossible_head_split_instead_of_raising():
    text = sizing.explain_sizing(100, 7, 10)
    assert text.startswith("Not a valid choice") and "d_model=100" in text
    text = sizing.explain_sizing(64, 128, 10)
    assert text.startswith("Not a valid choice") and "n_heads=128 is larger than d_model=64" in text


@pytest.mark.parametrize("args, name", [((768, 0, 1024), "n_heads"), ((768, 12, 0), "n"),
                                        ((768.0, 12, 16), "d_model"), ((768, True, 16), "n_heads")])
def test_explain_sizing_raises_for_an_argument_that_is_not_a_size(args, name):
    with pytest.raises(ValueError, match=f"^{name} must be"):
        sizing.explain_sizing(*args)


# --------------------------------------------------------------------------- #
# one set of checks: the same messages as the attention layers
# --------------------------------------------------------------------------- #
def test_more_heads_than_columns_is_named_as_such_without_suggesting_a_zero_width():
    with pytest.raises(ValueError) as err:
        sizing.attention_params(4, 8)
    assert "n_heads=8 is larger than d_model=4" in str(err.value)
    assert "d_model=0" not in str(err.value)


@pytest.mark.parametrize("d_model, n_heads", [(768, 10), (4, 8), (100, 7)])
def test_sizing_and_the_attention_heads_refuse_a_split_with_one_message(d_model, n_heads):
    with pytest.raises(ValueError) as ours:
        sizing.attention_params(d_model, n_heads)
    with pytest.raises(ValueError) as heads:
        check_divisible(d_model, n_heads)
    assert str(ours.value) == str(heads.value)


@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, np.array([True])])
def test_bias_and_pooler_must_be_true_or_false(value):
    with pytest.raises(ValueError, match="^bias must be True or False"):
        sizing.attention_params(768, 12, bias=value)
    with pytest.raises(ValueError, match="^pooler must be True or False"):
        sizing.bert_params(30522, 512, 768, 12, pooler=value)


def test_bias_false_and_pooler_false_leave_out_exactly_their_parameters():
    # by hand: 4 biases of 768; a pooler is a 768 x 768 matrix and its 768 biases
    assert sizing.attention_params(768, 12) - sizing.attention_params(768, 12, bias=False) == 4 * 768
    with_pooler = sizing.bert_params(30522, 512, 768, 12)["total"]
    assert with_pooler - sizing.bert_params(30522, 512, 768, 12, pooler=False)["total"] == 768 * 768 + 768


@pytest.mark.parametrize("kwargs, words", [
    (dict(type_vocab_size=-1), ["type_vocab_size must be", ">= 0", "got -1"]),
    (dict(type_vocab_size=2.0), ["type_vocab_size must be", "2.0"]),
    (dict(d_ff=0), ["d_ff must be a positive integer, got 0"]),
    (dict(max_positions=0), ["max_positions must be a positive integer, got 0"]),
    (dict(vocab_size="30522"), ["vocab_size must be", "'30522' (str)"]),
])
def test_bert_params_names_the_size_that_is_wrong(kwargs, words):
    args = dict(vocab_size=30522, max_positions=512, d_model=768, n_layers=12) | kwargs
    with pytest.raises(ValueError) as err:
        sizing.bert_params(**args)
    for w in words:
        assert w in str(err.value), f"{w!r} missing from: {err.value}"


def test_gpt2_params_names_n_positions_as_its_configuration_does():
    with pytest.raises(ValueError, match="^n_positions must be a positive integer, got 0"):
        sizing.gpt2_params(50257, 0, 768, 12)


def test_bert_params_counts_no_token_types_when_there_are_none():
    # by hand: type_vocab_size 0 means no token-type embedding at all (DistilBERT)
    assert sizing.bert_params(30522, 512, 768, 6, type_vocab_size=0)["token_type_embedding"] == 0


# --------------------------------------------------------------------------- #
# the rows of the model table, counted by PyTorch modules
# --------------------------------------------------------------------------- #
def test_params_actual_of_gpt2_and_bert_rows_match_pytorch_modules():
    checked = 0
    for r in load_models():
        if r["params_actual"] is None:
            continue
        args = (r["vocab_size"], r["max_positions"], r["d_model"], r["n_layers"], r["n_heads"])
        if r["architecture"] == "gpt2":
            expected = torch_gpt2(*args, f=r["d_ff"])
        elif r["architecture"] in ("bert", "roberta", "distilbert"):
            T = r["type_vocab_size"] or 0
            expected = torch_bert(*args, f=r["d_ff"], T=T, pooler=r["architecture"] != "distilbert")
        else:
            pytest.fail(f"{r['model']}: params_actual given for an architecture the test cannot build")
        assert r["params_actual"] == expected, r["model"]
        checked += 1
    assert checked >= 10
