"""The size of the key/value cache, and of a grouped-query layer, against real ``transformers`` objects.

Independent counts, none computed by ``selfattn.sizing``:

* the bytes (``element_size() * numel()``, or ``.nbytes``) of the keys and values held by
  the ``DynamicCache`` that a real model returns (``LlamaModel``, ``GPT2Model``, built from
  a small configuration, offline, random weights) after reading a prompt and generating;
* for the sizes of the model table (GPT-2, GPT-3 at their context lengths), a
  ``DynamicCache`` filled with ``update(key, value, layer_idx)`` by tensors on PyTorch's
  ``meta`` device (shapes and dtypes, no memory), of the shape ``transformers`` uses:
  ``(batch, num_heads, seq_len, head_dim)``: in ``models/gpt2/modeling_gpt2.py``
  ``key_states.view(shape_kv).transpose(1, 2)`` with ``shape_kv = (*key_states.shape[:-1],
  -1, self.head_dim)``, and ``DynamicLayer.update`` concatenates along ``dim=-2``;
* the parameters of ``transformers``' ``LlamaAttention`` for ``grouped_attention_params``.

Meta-tests: a cache formula without the factor 2 (keys only), and one that counts every query
head instead of the key/value heads, fail the same checks; so does the multi-head count
``attention_params`` for a grouped layer.
"""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache, GPT2Config, GPT2Model, LlamaConfig, LlamaModel
from transformers.models.llama.modeling_llama import LlamaAttention

from selfattn import sizing
from selfattn.models import load_models

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
                "float64": torch.float64}


def cache_bytes(cache) -> int:
    """Bytes of every key and value tensor a transformers cache holds."""
    return sum(t.element_size() * t.numel() for layer in cache.layers for t in (layer.keys, layer.values))


def _llama(n_heads, n_kv_heads, n_layers=3, head_dim=4, dtype=torch.float32):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=n_heads * head_dim, intermediate_size=64,
                         num_hidden_layers=n_layers, num_attention_heads=n_heads,
                         num_key_value_heads=n_kv_heads, max_position_embeddings=64)
    return LlamaModel(config).to(dtype).eval()


def _gpt2(n_heads=4, n_layers=3, head_dim=8):
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50, n_positions=64, n_embd=n_heads * head_dim, n_layer=n_layers,
                        n_head=n_heads)
    return GPT2Model(config).eval()


def generate_cache(model, batch, n_prompt, n_new):
    """Read a prompt, then feed ``n_new`` tokens one at a time; return the model's cache."""
    ids = torch.randint(0, 50, (batch, n_prompt), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
        for _ in range(n_new):
            nxt = out.last_hidden_state[:, -1:, 0].gt(0).long()  # (batch, 1): some next token, 0 or 1
            out = model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True)
    return out.past_key_values


# (label, model, n_layers, n_heads, n_kv_heads, head_dim, dtype, batch, n_prompt, n_new)
REAL_CACHES = [
    ("Llama MHA", lambda: _llama(8, 8), 3, 8, 8, 4, "float32", 2, 7, 0),
    ("Llama GQA", lambda: _llama(8, 2), 3, 8, 2, 4, "float32", 2, 7, 3),
    ("Llama MQA", lambda: _llama(8, 1), 3, 8, 1, 4, "float32", 1, 5, 4),
    ("Llama GQA float16", lambda: _llama(8, 4, dtype=torch.float16), 3, 8, 4, 4, "float16", 3, 6, 2),
    ("Llama GQA bfloat16", lambda: _llama(6, 3, n_layers=2, dtype=torch.bfloat16), 2, 6, 3, 4,
     "bfloat16", 1, 9, 1),
    ("GPT-2 MHA", lambda: _gpt2(), 3, 4, 4, 8, "float32", 2, 10, 2),
]


def assert_count_matches_real_caches(count):
    """``count(n_layers, n_heads, n_kv_heads, head_dim, n_tokens, dtype, batch)`` must give the
    bytes of each real model's cache."""
    for label, build, L, h, g, d_head, dtype, batch, n_prompt, n_new in REAL_CACHES:
        cache = generate_cache(build(), batch, n_prompt, n_new)
        layer = cache.layers[0]
        # the shape convention the formula assumes, read off the real cache
        assert tuple(layer.keys.shape) == (batch, g, n_prompt + n_new, d_head), label
        assert layer.keys.dtype == TORCH_DTYPES[dtype], label
        assert len(cache.layers) == L, label
        assert count(L, h, g, d_head, n_prompt + n_new, dtype, batch) == cache_bytes(cache), label


def selfattn_count(L, h, g, d_head, n, dtype, batch):
    return sizing.kv_cache_bytes(L, g, d_head, n, dtype=dtype, batch=batch)


def test_kv_cache_bytes_is_the_size_of_the_cache_a_real_model_keeps():
    assert_count_matches_real_caches(selfattn_count)


def test_the_nbytes_of_numpy_copies_agree_with_the_element_count():
    # a second, NumPy, count of one real cache (float32: NumPy has no bfloat16)
    cache = generate_cache(_llama(8, 2), 2, 7, 3)
    nbytes = sum(t.numpy().nbytes for layer in cache.layers for t in (layer.keys, layer.values))
    assert nbytes == cache_bytes(cache) == sizing.kv_cache_bytes(3, 2, 4, 10, dtype="float32", batch=2)


def _table_rows():
    rows = {r["model"]: r for r in load_models()}
    return [rows[name] for name in ("GPT-2 Small", "GPT-2 Medium", "GPT-2 Large", "GPT-2 XL",
                                    "GPT-3 (175B)")]


def meta_cache(n_layers, n_kv_heads, head_dim, n_tokens, dtype, batch=1, steps=1):
    """A DynamicCache filled as a model fills it, on the meta device: ``steps`` updates per layer."""
    cache = DynamicCache()
    sizes = [n_tokens // steps] * steps
    sizes[-1] += n_tokens - sum(sizes)
    for n in sizes:  # the prompt, then the following tokens
        for layer_idx in range(n_layers):
            kv = torch.empty(batch, n_kv_heads, n, head_dim, dtype=TORCH_DTYPES[dtype], device="meta")
            cache.update(kv, kv.clone(), layer_idx)
    return cache


@pytest.mark.parametrize("row", _table_rows(), ids=lambda r: r["model"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_kv_cache_bytes_of_the_table_rows_at_their_context_length(row, dtype):
    L, h, d_head, n = row["n_layers"], row["n_heads"], row["head_dim"], row["max_positions"]
    cache = meta_cache(L, h, d_head, n, dtype, steps=2)
    assert cache.get_seq_length() == n
    assert sizing.kv_cache_bytes(L, h, d_head, n, dtype=dtype) == cache_bytes(cache)


def test_the_hand_computed_numbers_of_the_docstring():
    # GPT-2 small, 1024 tokens, float16: 2 * 12 * 12 * 64 * 1024 * 2 = 37,748,736 = 36 MiB
    assert sizing.kv_cache_bytes(12, 12, 64, 1024) == 2 * 12 * 12 * 64 * 1024 * 2 == 36 * 2**20
    # GPT-3 175B, 2048 tokens, float16: 2 * 96 * 96 * 128 * 2048 * 2 = 9 GiB
    assert sizing.kv_cache_bytes(96, 96, 128, 2048) == 9_663_676_416 == 9 * 2**30
    assert sizing.kv_cache_bytes(12, 12, 64, 1024, dtype="float32", batch=4) == 4 * 72 * 2**20


def test_grouping_divides_the_cache_by_the_query_heads_per_key_value_head():
    mha = sizing.kv_cache_bytes(32, 32, 128, 4096)
    assert sizing.kv_cache_bytes(32, 8, 128, 4096) * 4 == mha
    assert sizing.kv_cache_bytes(32, 1, 128, 4096) * 32 == mha


@pytest.mark.parametrize("call, words", [
    (lambda: sizing.kv_cache_bytes(0, 12, 64, 1024), "n_layers must be a positive integer, got 0"),
    (lambda: sizing.kv_cache_bytes(12, 1.5, 64, 1024), "n_kv_heads must be a positive integer, got 1.5"),
    (lambda: sizing.kv_cache_bytes(12, 12, 64, -1), "n_tokens must be a positive integer, got -1"),
    (lambda: sizing.kv_cache_bytes(12, 12, True, 8), "head_dim must be a positive integer, got True"),
    (lambda: sizing.kv_cache_bytes(12, 12, 64, 8, batch=0), "batch must be a positive integer, got 0"),
    (lambda: sizing.kv_cache_bytes(12, 12, 64, 8, dtype="int8"), "unknown dtype 'int8'; choose from"),
])
def test_kv_cache_bytes_refuses_bad_sizes_by_name(call, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        call()


# --------------------------------------------------------------------------- #
# grouped_attention_params against transformers' LlamaAttention
# --------------------------------------------------------------------------- #
def llama_attention_params(d_model, n_heads, n_kv_heads, bias):
    config = LlamaConfig(hidden_size=d_model, num_attention_heads=n_heads, num_key_value_heads=n_kv_heads,
                         attention_bias=bias)
    with torch.device("meta"):
        layer = LlamaAttention(config, layer_idx=0)
    return sum(p.numel() for p in layer.parameters())


GROUPED = [(64, 8, 8), (64, 8, 2), (64, 8, 1), (768, 12, 4), (4096, 32, 8)]


def assert_params_match_llama(count):
    for d, h, g in GROUPED:
        for bias in (False, True):
            assert count(d, h, g, bias=bias) == llama_attention_params(d, h, g, bias), (d, h, g, bias)


def test_grouped_attention_params_is_the_size_of_llama_attention():
    assert_params_match_llama(sizing.grouped_attention_params)


# --------------------------------------------------------------------------- #
# meta-tests: the checks fail on wrong formulas
# --------------------------------------------------------------------------- #
def keys_only(n_layers, n_kv_heads, head_dim, n_tokens, dtype="float16", batch=1):
    """Wrong: forgets the values (no factor 2)."""
    return n_layers * n_kv_heads * head_dim * n_tokens * sizing.DTYPE_BYTES[dtype] * batch


WRONG_COUNTS = {
    "no factor 2": lambda L, h, g, d_head, n, dtype, batch: keys_only(L, g, d_head, n, dtype, batch),
    "query heads, not key/value heads": lambda L, h, g, d_head, n, dtype, batch:
        sizing.kv_cache_bytes(L, h, d_head, n, dtype=dtype, batch=batch),
}


@pytest.mark.parametrize("wrong", WRONG_COUNTS)
def test_meta_a_wrong_cache_formula_fails_against_the_real_caches(wrong):
    with pytest.raises(AssertionError):
        assert_count_matches_real_caches(WRONG_COUNTS[wrong])


def test_meta_a_formula_without_the_factor_2_fails_on_the_table_rows():
    row = _table_rows()[0]
    cache = meta_cache(row["n_layers"], row["n_heads"], row["head_dim"], row["max_positions"], "float16")
    assert keys_only(row["n_layers"], row["n_heads"], row["head_dim"], row["max_positions"]) != \
        cache_bytes(cache)


def test_meta_the_multi_head_count_fails_for_a_grouped_layer():
    with pytest.raises(AssertionError):
        assert_params_match_llama(lambda d, h, g, bias: sizing.attention_params(d, h, bias=bias))
