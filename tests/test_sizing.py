"""Tests of selfattn.sizing against independent counts.

The independent count is the number of parameters of PyTorch modules built with the same
configuration (on the ``meta`` device, so nothing is allocated), and the parameter counts of
the released checkpoints, typed in from the sources cited in the model table.
"""

from __future__ import annotations

import csv

import pytest

from selfattn import sizing

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
    ((768, 0, 1024), ["n_heads", "at least 1"]),
    ((768, 12, 0), ["n", "at least 1"]),
    ((768.0, 12, 16), ["d_model", "whole number"]),
    ((4, 8, 16), ["n_heads=8", "larger than d_model=4"]),
    ((True, 1, 16), ["d_model", "whole number"]),
])
def test_invalid_sizing_choices_raise_value_errors_that_name_the_numbers(args, words):
    with pytest.raises(ValueError) as err:
        sizing.attention_sizing(*args)
    for w in words:
        assert w in str(err.value), f"{w!r} missing from: {err.value}"


def test_attention_matrix_bytes_rejects_unknown_dtype():
    with pytest.raises(ValueError, match="dtype must be one of"):
        sizing.attention_matrix_bytes(12, 16, "int8")


def test_explain_sizing_returns_a_message_instead_of_raising():
    text = sizing.explain_sizing(100, 7, 10)
    assert text.startswith("Not a valid choice") and "d_model=100" in text


# --------------------------------------------------------------------------- #
# the model table
# --------------------------------------------------------------------------- #
def test_every_row_of_the_model_table_has_a_source_and_notes():
    rows = sizing.load_models()
    missing = [r["model"] for r in rows if not r["source"].strip() or not r["notes"].strip()]
    assert not missing, f"rows without a source or notes: {missing}"


def test_every_source_of_the_model_table_is_in_references_bib(root):
    bib = (root / "references.bib").read_text()
    keys = {k for r in sizing.load_models() for k in r["source"].split(";")}
    missing = sorted(k for k in keys if "{" + k + "," not in bib)
    assert not missing, f"cite keys missing from references.bib: {missing}"


def test_model_table_covers_every_model_of_the_article(root):
    text = (root.parent / "shared" / "source-article.txt")
    if not text.exists():
        pytest.skip("source article not available")
    lines = text.read_text().split("List of Popular Self-Attention Models")[1].split("Observations")[0]
    article = [ln.split("|")[0].strip() for ln in lines.splitlines() if ln.count("|") >= 4][1:]
    covered = {r["article_model"] for r in sizing.load_models()}
    assert article and not [m for m in article if m not in covered]


def test_head_dim_times_heads_equals_d_model_except_where_the_notes_explain():
    for r in sizing.load_models():
        if r["d_model"] and r["n_heads"] and r["head_dim"] and r["head_dim"] * r["n_heads"] != r["d_model"]:
            assert r["model"] == "MobileBERT" and "bottleneck" in r["notes"], r["model"]


def test_params_actual_of_gpt2_and_bert_rows_match_pytorch_modules():
    checked = 0
    for r in sizing.load_models():
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


def test_load_models_reads_empty_cells_as_none_and_rejects_text_in_numbers(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("model,d_model,n_heads\nA,768,\n")
    assert sizing.load_models(good) == [{"model": "A", "d_model": 768, "n_heads": None}]
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as fh:
        csv.writer(fh).writerows([["model", "d_model"], ["B", "~768"]])
    with pytest.raises(ValueError, match="line 2: column d_model"):
        sizing.load_models(bad)


def test_compare_with_article_finds_the_known_errors_of_the_article():
    found = {(f["model"], f["what"]) for f in sizing.compare_with_article()}
    assert ("GPT-2 Small", "parameters") in found
    assert ("MobileBERT", "head size") in found
    assert ("Longformer", "merged row") in found
    assert ("GPT-4", "unknown") in found
    # GPT-3's head size of 128 is right: it must not be reported
    assert ("GPT-3 (175B)", "head size") not in found
