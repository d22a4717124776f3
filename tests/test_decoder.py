"""selfattn.decoder against a PyTorch decoder written here; its causal mask, KV cache and errors.

Every expected value comes from outside the module: a tiny attention-only pre-norm decoder
written in this file with ``torch.nn.functional.scaled_dot_product_attention(is_causal=True)``
and the RoPE of ``transformers``' Llama (``apply_rotary_pos_emb``, ``rotate_half``), the
equivalence of two code paths (with and without the cache), and byte counts done by hand.

Each comparison is a helper that returns True or False. The "rejects a broken ..." tests feed
it a broken decoder made from the real one through one small seam (the mask function, the
rotate-then-cache function ``_keys_values``, or a subclass of :class:`KVCache`: a cache that
stores keys before their rotation, puts the new token one position off, or stores the new
token twice) and assert that it says False, and that it says True for the real code.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:  # the reference decoder; the tests of the mask, the cache and the errors need NumPy only
    import torch
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb, rotate_half
except ImportError:  # pragma: no cover
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="the reference needs torch and transformers")

from selfattn import decoder
from selfattn.decoder import (
    LAYER_NORM_EPS,
    LAYOUT,
    AttentionRecord,
    Decoder,
    KVCache,
    attention_record,
    decode_step,
    forward,
    generate,
    parameter_shapes,
)
from selfattn.positions import rope

FAST = settings(derandomize=True, deadline=None, max_examples=25, database=None)
TOL = 1e-10


def esc(text: str) -> str:
    return re.escape(text)


def random_params(vocab_size=16, d_model=8, n_layers=2, seed=0, scale=0.5):
    """Random weights of every shape in parameter_shapes (LayerNorm gains near 1)."""
    rng = np.random.default_rng(seed)
    params = {name: scale * rng.normal(size=shp)
              for name, shp in parameter_shapes(vocab_size, d_model, n_layers).items()}
    for name in params:
        if name.endswith("gamma"):
            params[name] = 1.0 + params[name]
    params["embedding"] = 2 * params["embedding"]  # tokens well apart
    return params


def random_model(vocab_size=16, d_model=8, n_layers=2, n_heads=2, seed=0, base=10000.0):
    return Decoder(random_params(vocab_size, d_model, n_layers, seed), n_heads, base)


@pytest.fixture(scope="module")
def model():
    return random_model(vocab_size=16, d_model=16, n_layers=2, n_heads=2, seed=1)


# --------------------------------------------------------------------------- #
# the reference: a tiny attention-only pre-norm decoder in PyTorch, written here
# --------------------------------------------------------------------------- #
def torch_decoder(params, ids, n_heads, base=10000.0, ablate=()):
    """Logits (B, n, vocab), weights [(B, H, n, n)] and rotated keys / values per layer.

    The attention is PyTorch's SDPA with ``is_causal=True``; RoPE is Llama's from
    ``transformers`` (``cos``, ``sin`` built as ``LlamaRotaryEmbedding`` does: the
    frequencies ``base^(-2i/d_head)`` written twice, pairs ``(x[i], x[i + d/2])``).
    """
    P = {name: torch.from_numpy(np.asarray(a, dtype=np.float64)) for name, a in params.items()}
    ids = torch.as_tensor(np.atleast_2d(ids))  # (B, n)
    x = P["embedding"][ids]  # (B, n, d)
    B, n, d = x.shape
    d_head = d // n_heads
    inv_freq = 1.0 / base ** (torch.arange(0, d_head, 2, dtype=torch.float64) / d_head)
    freqs = torch.arange(n, dtype=torch.float64)[:, None] * inv_freq[None, :]  # (n, d_head/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (n, d_head)
    cos, sin = emb.cos()[None].expand(B, n, d_head), emb.sin()[None].expand(B, n, d_head)
    n_layers = sum(1 for name in params if name.endswith(".W_q"))
    weights, kv = [], []
    for layer in range(n_layers):
        p = lambda name: P[f"layers.{layer}.{name}"]  # noqa: E731
        h = torch.nn.functional.layer_norm(x, (d,), p("ln.gamma"), p("ln.beta"), LAYER_NORM_EPS)
        q, k, v = ((h @ p(w)).view(B, n, n_heads, d_head).transpose(1, 2)
                   for w in ("W_q", "W_k", "W_v"))  # (B, H, n, d_head)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        scores = q @ k.transpose(-2, -1) / d_head ** 0.5  # (B, H, n, n), for the weights
        future = torch.ones(n, n, dtype=torch.bool).triu(1)
        weights.append(torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1))
        kv.append((k, v))
        for lay, head in ablate:
            if lay == layer:
                out[:, head] = 0.0
        x = x + out.transpose(1, 2).reshape(B, n, d) @ p("W_o")
    h = torch.nn.functional.layer_norm(x, (d,), P["ln_f.gamma"], P["ln_f.beta"], LAYER_NORM_EPS)
    return h @ P["unembedding"], weights, kv


@needs_torch
def test_the_reference_rope_is_the_half_layout_of_the_paper():
    """rotate_half pairs x[i] with x[i + d/2]: (a, b) -> (a cos - b sin, a sin + b cos)."""
    x = torch.tensor([[[[1.0, 2.0, 3.0, 4.0]]]], dtype=torch.float64)  # (1, 1, 1, 4)
    assert rotate_half(x).flatten().tolist() == [-3.0, -4.0, 1.0, 2.0]
    angle = torch.tensor([[[0.3, 0.3 * 1e-2, 0.3, 0.3 * 1e-2]]], dtype=torch.float64)
    got, _ = apply_rotary_pos_emb(x, x, angle.cos(), angle.sin())
    c, s = np.cos([0.3, 0.003]), np.sin([0.3, 0.003])
    by_hand = [1 * c[0] - 3 * s[0], 2 * c[1] - 4 * s[1], 1 * s[0] + 3 * c[0], 2 * s[1] + 4 * c[1]]
    np.testing.assert_allclose(got.flatten().numpy(), by_hand, rtol=0, atol=1e-15)
    assert LAYOUT == "half"


def matches_torch(model: Decoder, ids, ablate=(), forward_=forward) -> bool:
    """forward's logits and weights equal the PyTorch reference's to 1e-10."""
    logits, weights = forward_(model, ids, ablate=ablate)
    ref_logits, ref_weights, _ = torch_decoder(model.params, ids, model.n_heads, model.base, ablate)
    batch = np.ndim(ids) == 2
    ref_logits = ref_logits.numpy() if batch else ref_logits[0].numpy()
    ok = logits.shape == ref_logits.shape and np.allclose(logits, ref_logits, rtol=0, atol=TOL)
    for w, rw in zip(weights, ref_weights, strict=True):
        rw = rw.numpy() if batch else rw[0].numpy()
        ok = ok and w.shape == rw.shape and np.allclose(w, rw, rtol=0, atol=TOL)
    return bool(ok)


@pytest.mark.parametrize("vocab_size, d_model, n_layers, n_heads, n, base", [
    (16, 8, 2, 2, 7, 10000.0),
    (64, 64, 2, 2, 33, 10000.0),  # the recipe's sizes
    (11, 12, 3, 3, 5, 500.0),
    (5, 4, 1, 1, 1, 10000.0),  # one token, one head
    (9, 16, 1, 4, 12, 1e6),
])
@needs_torch
def test_forward_equals_the_pytorch_decoder(vocab_size, d_model, n_layers, n_heads, n, base):
    m = random_model(vocab_size, d_model, n_layers, n_heads, seed=n, base=base)
    ids = np.random.default_rng(n).integers(0, vocab_size, size=n)
    assert matches_torch(m, ids)


@needs_torch
def test_forward_on_a_batch_equals_the_pytorch_decoder(model):
    ids = np.random.default_rng(3).integers(0, model.vocab_size, size=(3, 10))
    assert matches_torch(model, ids)
    logits, weights = forward(model, ids)
    assert logits.shape == (3, 10, 16) and weights[0].shape == (3, 2, 10, 10)


@pytest.mark.parametrize("ablate", [[(0, 0)], [(1, 1)], [(0, 1), (1, 0)], [(1, 0), (1, 1)]])
@needs_torch
def test_ablation_equals_zeroing_the_heads_output_in_pytorch(model, ablate):
    ids = np.random.default_rng(4).integers(0, model.vocab_size, size=9)
    assert matches_torch(model, ids, ablate=ablate)
    ignores_ablation = lambda m, ids_, ablate: forward(m, ids_)  # noqa: E731
    assert not matches_torch(model, ids, ablate=ablate, forward_=ignores_ablation)


def test_ablation_keeps_the_weights_and_the_models_weights(model):
    ids = [1, 2, 3, 1, 2]
    before = {k: a.copy() for k, a in model.params.items()}
    w_ablated = forward(model, ids, ablate=[(0, 0), (0, 1)])[1]
    w = forward(model, ids)[1]
    np.testing.assert_array_equal(w_ablated[0], w[0])  # layer 0's weights come before its output
    assert all(np.array_equal(before[k], model.params[k]) for k in before)


def test_decoder_copies_the_weights_as_float64():
    params = {k: a.astype(np.float32) for k, a in random_params().items()}
    m = Decoder(params, 2)
    assert all(a.dtype == np.float64 for a in m.params.values())
    params["embedding"][:] = 0.0
    assert np.abs(m.params["embedding"]).sum() > 0  # a copy, not a view
    assert repr(m) == "Decoder(vocab_size=16, d_model=8, n_layers=2, n_heads=2)"


def layout_interleaved(monkeypatch):
    monkeypatch.setattr(decoder, "LAYOUT", "interleaved")


def keys_off_by_one(monkeypatch):
    def keys_values(model, layer, k, v, positions, cache=None):
        return rope(k, positions + 1, model.base, decoder.LAYOUT), v  # the queries stay at p

    monkeypatch.setattr(decoder, "_keys_values", keys_values)


def no_causal_mask(monkeypatch):
    monkeypatch.setattr(decoder, "causal_mask", lambda n: np.ones((n, n), dtype=bool))


def no_layer_norm(monkeypatch):
    monkeypatch.setattr(decoder, "layer_norm", lambda x, gamma, beta, eps: x * gamma + beta)


def no_rope(monkeypatch):
    monkeypatch.setattr(decoder, "rope", lambda x, pos, base, layout: x)


@pytest.mark.parametrize("broken", [layout_interleaved, keys_off_by_one, no_causal_mask,
                                    no_layer_norm, no_rope], ids=lambda f: f.__name__)
@needs_torch
def test_the_pytorch_comparison_rejects_a_broken_decoder(model, monkeypatch, broken):
    ids = np.random.default_rng(5).integers(0, model.vocab_size, size=8)
    assert matches_torch(model, ids)
    broken(monkeypatch)
    assert not matches_torch(model, ids)


@needs_torch
def test_a_shift_of_every_position_is_invisible_so_the_off_by_one_variant_shifts_keys_only(
        model, monkeypatch):
    """RoPE scores depend on m - n only: queries and keys both one position on change nothing
    (so that is no broken variant); the keys alone one position on change the logits."""
    ids = [3, 1, 4, 1, 5, 9]
    real = decoder.rope
    monkeypatch.setattr(decoder, "rope",
                        lambda x, pos, base, layout: real(x, pos + 1, base, layout))
    assert matches_torch(model, ids)
    monkeypatch.undo()
    keys_off_by_one(monkeypatch)
    assert not matches_torch(model, ids)


# --------------------------------------------------------------------------- #
# the causal mask: a later token never changes an earlier logit
# --------------------------------------------------------------------------- #
def earlier_logits_ignore_later_tokens(model: Decoder, ids, i: int, new_token: int) -> bool:
    """Changing token i leaves the logits (and weights) at positions 0..i-1 as they were."""
    logits, weights = forward(model, ids)
    changed = np.array(ids).copy()
    changed[i] = new_token
    logits2, weights2 = forward(model, changed)
    ok = np.allclose(logits[:i], logits2[:i], rtol=0, atol=1e-12)
    return bool(ok and all(np.allclose(w[:, :i], w2[:, :i], rtol=0, atol=1e-12)
                           for w, w2 in zip(weights, weights2, strict=True)))


@FAST
@given(st.data())
def test_changing_a_later_token_never_changes_earlier_logits(data):
    m = random_model(seed=data.draw(st.integers(0, 3)))
    n = data.draw(st.integers(2, 12))
    ids = data.draw(st.lists(st.integers(0, m.vocab_size - 1), min_size=n, max_size=n))
    i = data.draw(st.integers(1, n - 1))
    new = data.draw(st.integers(0, m.vocab_size - 1))
    assert earlier_logits_ignore_later_tokens(m, ids, i, new)


def test_the_causal_property_rejects_a_decoder_without_the_mask(model, monkeypatch):
    ids = [3, 1, 4, 1, 5, 9, 2, 6]
    assert earlier_logits_ignore_later_tokens(model, ids, 4, 7)
    no_causal_mask(monkeypatch)
    assert not earlier_logits_ignore_later_tokens(model, ids, 4, 7)


def test_weights_are_zero_above_the_diagonal_and_rows_sum_to_one(model):
    _, weights = forward(model, [2, 7, 1, 8, 2, 8])
    for w in weights:
        assert np.all(np.triu(w, k=1) == 0.0)
        np.testing.assert_allclose(w.sum(-1), 1.0, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- #
# the KV cache: the same tokens and logits as running everything again
# --------------------------------------------------------------------------- #
def cache_agrees(model: Decoder, prompt, n_new: int, cache=True) -> bool:
    """generate with the cache gives the tokens and logits of generate without it."""
    tokens, logits = generate(model, prompt, n_new, cache=cache)
    tokens_slow, logits_slow = generate(model, prompt, n_new, cache=False)
    return bool(np.array_equal(tokens, tokens_slow)
                and np.allclose(logits, logits_slow, rtol=0, atol=TOL))


def steps_agree(model: Decoder, ids, cache=None) -> bool:
    """decode_step token by token gives at each position the logits of forward on the whole."""
    cache = KVCache(model.n_layers) if cache is None else cache
    stepped = np.concatenate([decode_step(model, [t], cache) for t in ids])  # (n, vocab)
    return bool(np.allclose(stepped, forward(model, ids)[0], rtol=0, atol=TOL))


def test_generate_with_and_without_the_cache_gives_the_same_tokens_and_logits(model):
    for seed, (n, n_new) in enumerate([(1, 12), (5, 20), (16, 40)]):
        prompt = np.random.default_rng(seed).integers(0, model.vocab_size, size=n)
        assert cache_agrees(model, prompt, n_new)


def test_the_recipes_model_with_and_without_the_cache_agree_over_long_generation():
    m = random_model(vocab_size=64, d_model=64, n_layers=2, n_heads=2, seed=7)
    assert cache_agrees(m, np.arange(16) * 3 % 64, 100)


def test_decode_step_token_by_token_equals_forward(model):
    ids = np.random.default_rng(8).integers(0, model.vocab_size, size=20)
    assert steps_agree(model, ids)


def test_decode_step_in_chunks_equals_forward(model):
    ids = np.random.default_rng(9).integers(0, model.vocab_size, size=15)
    cache = KVCache(model.n_layers)
    chunks = [decode_step(model, ids[a:b], cache) for a, b in [(0, 4), (4, 5), (5, 11), (11, 15)]]
    np.testing.assert_allclose(np.concatenate(chunks), forward(model, ids)[0], rtol=0, atol=TOL)


@needs_torch
def test_the_cache_holds_the_rotated_keys_and_the_values_of_the_pytorch_decoder(model):
    ids = [4, 8, 15, 14, 2, 3]
    cache = KVCache(model.n_layers)
    decode_step(model, ids[:2], cache)
    decode_step(model, ids[2:], cache)
    _, _, kv = torch_decoder(model.params, ids, model.n_heads, model.base)
    for layer, (k, v) in enumerate(kv):
        np.testing.assert_allclose(cache.keys[layer], k[0].numpy(), rtol=0, atol=TOL)
        np.testing.assert_allclose(cache.values[layer], v[0].numpy(), rtol=0, atol=TOL)


def test_generate_fills_a_given_cache_with_all_but_the_last_token(model):
    cache = KVCache(model.n_layers)
    tokens, logits = generate(model, [1, 2, 3], 4, cache=cache)
    assert tokens.shape == (7,) and logits.shape == (4, 16) and len(cache) == 6
    assert tokens.dtype == np.int64 and tokens[:3].tolist() == [1, 2, 3]
    assert tokens[3:].tolist() == np.argmax(logits, axis=-1).tolist()  # greedy


def test_generate_of_zero_tokens_returns_the_prompt(model):
    for cache in (True, False):
        tokens, logits = generate(model, [5, 6], 0, cache=cache)
        assert tokens.tolist() == [5, 6] and logits.shape == (0, 16)


def test_generated_tokens_are_the_argmax_of_forward_on_the_sequence_so_far(model):
    tokens, logits = generate(model, [9, 3], 6)
    for j in range(6):
        row = forward(model, tokens[:2 + j])[0][-1]
        np.testing.assert_allclose(logits[j], row, rtol=0, atol=TOL)
        assert tokens[2 + j] == np.argmax(row)


@needs_torch
def test_generate_equals_greedy_decoding_with_the_pytorch_decoder(model):
    tokens_ref = [2, 11, 5]
    for _ in range(8):  # the reference runs the whole sequence at every step
        logits_ref = torch_decoder(model.params, tokens_ref, model.n_heads)[0][0, -1]
        tokens_ref.append(int(torch.argmax(logits_ref)))
    for cache in (True, False):
        tokens, logits = generate(model, [2, 11, 5], 8, cache=cache)
        assert tokens.tolist() == tokens_ref
        np.testing.assert_allclose(logits[-1], logits_ref.numpy(), rtol=0, atol=TOL)


@FAST
@given(st.data())
def test_cache_and_recompute_agree_on_any_model_and_prompt(data):
    n_heads, d_head = data.draw(st.sampled_from([(1, 2), (2, 4), (4, 2), (3, 4)]))
    m = random_model(vocab_size=12, d_model=n_heads * d_head, n_layers=data.draw(st.integers(1, 3)),
                     n_heads=n_heads, seed=data.draw(st.integers(0, 5)))
    prompt = data.draw(st.lists(st.integers(0, 11), min_size=1, max_size=8))
    assert cache_agrees(m, prompt, data.draw(st.integers(1, 12)))


@needs_torch
def test_the_shipped_induction_model_generates_the_repeat_by_copying_with_and_without_cache():
    """Greedy generation continues a repeat the model has begun: the tokens come from the data."""
    induction = pytest.importorskip("selfattn.induction")
    m = induction.load_induction()
    rng = np.random.default_rng(1)
    copied = total = 0
    for _ in range(20):
        seq = rng.integers(0, m.vocab_size, size=int(rng.integers(5, 13)))
        filler = rng.integers(0, m.vocab_size, size=int(rng.integers(0, 8)))
        prompt = np.concatenate([filler, seq, seq[:2]])  # the repeat has begun
        tokens, logits = generate(m, prompt, len(seq) - 2)
        tokens_slow, logits_slow = generate(m, prompt, len(seq) - 2, cache=False)
        assert np.array_equal(tokens, tokens_slow)
        np.testing.assert_allclose(logits, logits_slow, rtol=0, atol=TOL)
        copied += int((tokens[len(prompt):] == seq[2:]).sum())
        total += len(seq) - 2
    assert copied / total >= 0.95, (copied, total)


# broken caches, each made from the real code through one seam ----------------
def cached_before_rotation(model, layer, k, v, positions, cache=None):
    """Caches the raw keys, then rotates every key at the newest token's position."""
    if cache is None:
        return rope(k, positions, model.base, decoder.LAYOUT), v
    k, v = cache.update(layer, k, v)  # not rotated yet
    return rope(k, np.full(k.shape[-2], positions[-1]), model.base, decoder.LAYOUT), v


def cached_before_rotation_rotated_at_own_positions(model, layer, k, v, positions, cache=None):
    """Caches the raw keys and rotates every key at its own position: slower, but right."""
    if cache is None:
        return rope(k, positions, model.base, decoder.LAYOUT), v
    k, v = cache.update(layer, k, v)
    return rope(k, np.arange(k.shape[-2]), model.base, decoder.LAYOUT), v


class OffByOneCache(KVCache):
    """Reports one token more than it holds once filled: new tokens go one position too far."""

    def __len__(self):
        n = super().__len__()
        return n + 1 if n else 0  # (shifting every position, the prefill too, RoPE would not see)


class TwiceUpdatedCache(KVCache):
    """Appends the new tokens' keys and values twice."""

    def update(self, layer, k, v):
        super().update(layer, k, v)
        return super().update(layer, k, v)


def test_the_cache_checks_accept_keys_rotated_later_at_their_own_positions(model, monkeypatch):
    monkeypatch.setattr(decoder, "_keys_values", cached_before_rotation_rotated_at_own_positions)
    assert cache_agrees(model, [1, 2, 3, 4], 10)
    assert steps_agree(model, [7, 1, 7, 2, 7, 3])


def test_the_cache_checks_reject_keys_cached_before_rotation(model, monkeypatch):
    assert cache_agrees(model, [1, 2, 3, 4], 10) and steps_agree(model, [7, 1, 7, 2, 7, 3])
    monkeypatch.setattr(decoder, "_keys_values", cached_before_rotation)
    assert not cache_agrees(model, [1, 2, 3, 4], 10)
    assert not steps_agree(model, [7, 1, 7, 2, 7, 3])
    if torch is not None:
        assert matches_torch(model, [7, 1, 7, 2, 7, 3])  # the seam leaves forward as it was


@pytest.mark.parametrize("broken", [OffByOneCache, TwiceUpdatedCache], ids=lambda c: c.__name__)
def test_the_cache_checks_reject_a_broken_cache(model, broken):
    assert cache_agrees(model, [1, 2, 3, 4], 10, cache=KVCache(model.n_layers))
    assert steps_agree(model, [7, 1, 7, 2, 7, 3], KVCache(model.n_layers))
    assert not cache_agrees(model, [1, 2, 3, 4], 10, cache=broken(model.n_layers))
    assert not steps_agree(model, [7, 1, 7, 2, 7, 3], broken(model.n_layers))


# --------------------------------------------------------------------------- #
# what the cache costs: 2 x layers x heads x d_head x tokens x 8 bytes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("vocab_size, d_model, n_layers, n_heads, n, n_new", [
    (64, 64, 2, 2, 16, 9),  # the recipe: 2 x 2 x 2 x 32 x 24 x 8
    (16, 12, 3, 3, 5, 1),
    (16, 8, 1, 4, 1, 6),
])
def test_cache_bytes_are_two_times_layers_heads_head_size_tokens_and_eight(
        vocab_size, d_model, n_layers, n_heads, n, n_new):
    m = random_model(vocab_size, d_model, n_layers, n_heads, seed=2)
    cache = KVCache(n_layers)
    generate(m, list(range(n)), n_new, cache=cache)
    tokens = n + n_new - 1  # the last generated token is never run
    d_head = d_model // n_heads
    assert len(cache) == tokens
    assert cache.nbytes == 2 * n_layers * n_heads * d_head * tokens * 8


def test_the_recipes_cache_after_1040_tokens_by_hand():
    m = random_model(vocab_size=64, d_model=64, n_layers=2, n_heads=2, seed=3)
    cache = KVCache(2)
    decode_step(m, np.arange(1040) % 64, cache)
    assert cache.nbytes == 2 * 2 * 2 * 32 * 1040 * 8 == 2_129_920
    assert repr(cache) == "KVCache(n_layers=2, tokens=1040, nbytes=2129920)"


def test_an_empty_cache_holds_no_bytes():
    cache = KVCache(3)
    assert len(cache) == 0 and cache.nbytes == 0 and cache.n_layers == 3


def test_update_copies_the_callers_arrays():
    cache = KVCache(1)
    k = np.ones((2, 3, 4))
    cache.update(0, k, k)
    k[:] = 5.0
    assert np.all(cache.keys[0] == 1.0) and np.all(cache.values[0] == 1.0)


# --------------------------------------------------------------------------- #
# attention_record: what HeadExplorer reads
# --------------------------------------------------------------------------- #
@needs_torch
def test_attention_record_holds_the_names_and_every_heads_weights(model):
    names = [chr(ord("a") + i) for i in range(16)]
    record = attention_record(model, "b c d b c", names=names)
    assert isinstance(record, AttentionRecord)
    assert record.tokens == ["b", "c", "d", "b", "c"] and record.ids.tolist() == [1, 2, 3, 1, 2]
    ref_logits, ref_weights, _ = torch_decoder(model.params, [1, 2, 3, 1, 2], model.n_heads)
    np.testing.assert_allclose(record.attentions, torch.stack(ref_weights)[:, 0].numpy(),
                               rtol=0, atol=TOL)
    np.testing.assert_allclose(record.logits, ref_logits[0].numpy(), rtol=0, atol=TOL)
    assert record.attentions.shape == (2, 2, 5, 5)


def test_attention_record_reads_ids_and_digits_without_names(model):
    assert attention_record(model, [3, 0, 15]).tokens == ["3", "0", "15"]
    assert attention_record(model, " 3  0 15 ").ids.tolist() == [3, 0, 15]


@needs_torch
def test_head_explorer_shows_the_decoders_heads(model):
    from functools import partial

    pytest.importorskip("anywidget")
    from selfattn.widgets import HeadExplorer

    names = [f"t{i}" for i in range(16)]
    ex = HeadExplorer(["t1 t2 t3 t1 t2", "t5 t6"], encoder=partial(attention_record, model,
                                                                    names=names))
    assert (ex.n_layers, ex.n_heads) == (2, 2)
    assert ex.token_lists == [["t1", "t2", "t3", "t1", "t2"], ["t5", "t6"]]
    ref = torch_decoder(model.params, [1, 2, 3, 1, 2], model.n_heads)[1][1][0, 1].numpy()
    np.testing.assert_allclose(ex.weights(0, 1, 1), ref, rtol=0, atol=1e-6)  # float32 there
    with pytest.raises(ValueError, match=esc("ids holds 'cat', which is not a token name")):
        ex.add_sentence("t1 cat")


# --------------------------------------------------------------------------- #
# errors: every check of the decoder's section of _checks, by its message
# --------------------------------------------------------------------------- #
def _without(params, name):
    return {k: a for k, a in params.items() if k != name}


def _with(params, name, value):
    return {**params, name: value}


P = random_params()
P_NAN = _with(P, "layers.1.W_v", np.where(np.eye(8, dtype=bool), np.nan, 0.0))


@pytest.mark.parametrize("params, n_heads, words", [
    ([1, 2], 2, "params must be a dict of weight arrays keyed by name, got list"),
    (_without(P, "embedding"), 2, "params lacks 'embedding' (vocab_size, d_model), which gives "
                                  "the model's sizes"),
    (_with(P, "embedding", np.ones(8)), 2, "params['embedding'] must have shape (vocab_size, "
                                           "d_model), got (8,)"),
    (_with(P, "embedding", np.ones((0, 8))), 2, "params['embedding'] must have shape (vocab_size, "
                                                "d_model), got (0, 8)"),
    ({"embedding": P["embedding"]}, 2, "params has no layer: expected 'layers.0.W_q' and the rest "
                                       "of parameter_shapes()"),
    (_without(P, "layers.1.W_o"), 2, "params does not match a decoder of 2 layer(s): missing "
                                     "['layers.1.W_o'], unexpected []"),
    (_with(P, "bias", np.ones(8)), 2, "params does not match a decoder of 2 layer(s): missing [], "
                                      "unexpected ['bias']"),
    (_with(P, "layers.0.W_k", np.ones((8, 4))), 2, "params['layers.0.W_k'] has shape (8, 4), "
                                                   "expected (8, 8)"),
    (_with(P, "unembedding", np.ones((16, 8))), 2, "params['unembedding'] has shape (16, 8), "
                                                   "expected (8, 16)"),
    (P_NAN, 2, "params['layers.1.W_v'] contains 8 non-finite value(s) (NaN or inf); the first "
               "is nan at index (0, 0)"),
    (_with(P, "ln_f.beta", np.array(["a"] * 8)), 2, "params['ln_f.beta'] must hold numbers, "
                                                    "got dtype <U1"),
    (P, 0, "n_heads must be a positive integer, got 0"),
    (P, 2.0, "n_heads must be a positive integer, got 2.0 (float)"),
    (P, 3, "n_heads=3 must divide d_model=8 into heads of even size (RoPE rotates pairs of "
           "coordinates)"),
    (P, 8, "n_heads=8 must divide d_model=8 into heads of even size"),
])
def test_decoder_names_the_bad_weight_or_head_count(params, n_heads, words):
    with pytest.raises(ValueError, match="^" + esc(words)):
        Decoder(params, n_heads)


@pytest.mark.parametrize("base, words", [
    (1.0, "base must be greater than 1 (the frequencies are base^(-2i/d), 10000 in the papers), "
          "got 1.0"),
    (float("nan"), "base must be a finite number"),
])
def test_decoder_names_a_bad_base(base, words):
    with pytest.raises(ValueError, match="^" + esc(words)):
        Decoder(P, 2, base)


@pytest.mark.parametrize("args, words", [
    ((0, 8, 1), "vocab_size must be a positive integer, got 0"),
    ((16, 8.0, 1), "d_model must be a positive integer, got 8.0 (float)"),
    ((16, 8, True), "n_layers must be a positive integer, got True (bool)"),
])
def test_parameter_shapes_names_a_bad_size(args, words):
    with pytest.raises(ValueError, match="^" + esc(words)):
        parameter_shapes(*args)


IDS_ERRORS = [
    *([(torch.tensor([1, 2]), "ids is a torch.Tensor; the NumPy decoder takes arrays or lists: "
                              "pass ids.numpy()")] if torch is not None else []),
    ([], "ids must be a non-empty array of token ids of shape (n,) or (B, n), got shape (0,)"),
    (np.zeros((2, 0), dtype=int), "ids must be a non-empty array of token ids of shape (n,) or "
                                  "(B, n), got shape (2, 0)"),
    (np.zeros((1, 2, 3), dtype=int), "ids must be a non-empty array of token ids of shape (n,) or "
                                     "(B, n), got shape (1, 2, 3)"),
    (3, "ids must be a non-empty array of token ids of shape (n,) or (B, n), got shape ()"),
    ([[1, 2], [3]], "ids cannot be made into an array"),
    ([True, False], "ids must hold whole-number token ids, got dtype bool"),
    (["a", "b"], "ids must hold whole-number token ids, got dtype <U1"),
    ([1 + 0j], "ids must hold whole-number token ids, got dtype complex128"),
    ([1.0, 2.5], "ids must hold whole-number token ids, got 2.5"),
    ([1.0, np.nan], "ids contains 1 non-finite value(s) (NaN or inf); the first is nan at index "
                    "(1,)"),
    ([3, 16], "ids must be token ids from 0 to 15 (vocab_size=16), got values from 3 to 16"),
    ([-1, 2], "ids must be token ids from 0 to 15 (vocab_size=16), got values from -1 to 2"),
    ([1.0, 1e20], "ids must be token ids from 0 to 15 (vocab_size=16), got values from 1.0 to "
                  "1e+20"),  # checked before the cast to int64, which would wrap it around
]


@pytest.mark.parametrize("ids, words", IDS_ERRORS)
def test_forward_names_bad_ids(model, ids, words):
    with pytest.raises(ValueError, match="^" + esc(words)):
        forward(model, ids)


def test_float_ids_holding_whole_numbers_are_accepted(model):
    np.testing.assert_array_equal(forward(model, [1.0, 2.0])[0], forward(model, [1, 2])[0])


@pytest.mark.parametrize("ablate, words", [
    (3, "ablate must be a list of (layer, head) pairs such as [(1, 0)], got 3"),
    ("10", "ablate must be a list of (layer, head) pairs such as [(1, 0)], got '10'"),
    ([1, 0], "ablate must be a list of (layer, head) pairs such as [(1, 0)], got item 1"),
    ([(1, 0, 0)], "ablate must be a list of (layer, head) pairs such as [(1, 0)], got item "
                  "(1, 0, 0)"),
    ([(True, 0)], "ablate must be a list of (layer, head) pairs such as [(1, 0)], got item "
                  "(True, 0)"),
    ([(0.0, 1)], "ablate must be a list of (layer, head) pairs such as [(1, 0)], got item "
                 "(0.0, 1)"),
    ([(2, 0)], "ablate names head (2, 0) but the model has layers 0 to 1 and heads 0 to 1"),
    ([(0, -1)], "ablate names head (0, -1) but the model has layers 0 to 1 and heads 0 to 1"),
])
def test_forward_names_a_bad_head_to_ablate(model, ablate, words):
    with pytest.raises(ValueError, match="^" + esc(words)):
        forward(model, [1, 2], ablate=ablate)


@pytest.mark.parametrize("call", [
    lambda m: forward({"embedding": 1}, [1]),
    lambda m: decode_step(m.params, [1], KVCache(2)),
    lambda m: generate("gpt2", [1], 2),
    lambda m: attention_record(None, [1]),
], ids=["forward", "decode_step", "generate", "attention_record"])
def test_every_function_names_a_model_that_is_not_a_decoder(model, call):
    words = "model must be a selfattn.decoder.Decoder, got "
    with pytest.raises(ValueError, match="^" + esc(words)):
        call(model)


@pytest.mark.parametrize("ids, words", [
    ([[1, 2]], "ids must be a non-empty array of token ids of shape (n,), got shape (1, 2)"),
    ([], "ids must be a non-empty array of token ids of shape (n,), got shape (0,)"),
    ([16], "ids must be token ids from 0 to 15 (vocab_size=16), got values from 16 to 16"),
])
def test_decode_step_names_bad_ids(model, ids, words):
    with pytest.raises(ValueError, match="^" + esc(words)):
        decode_step(model, ids, KVCache(2))


def test_decode_step_names_a_bad_cache(model):
    with pytest.raises(ValueError, match="^" + esc("cache must be a selfattn.decoder.KVCache, got "
                                                   "builtins.dict")):
        decode_step(model, [1], {})
    with pytest.raises(ValueError, match="^" + esc("cache has 3 layer(s) but the model has 2: make "
                                                   "it with KVCache(2)")):
        decode_step(model, [1], KVCache(3))
    other = random_model(vocab_size=16, d_model=8, n_layers=2, n_heads=2)  # d_head 4, not 8
    cache = KVCache(2)
    decode_step(other, [1, 2], cache)
    with pytest.raises(ValueError, match="^" + esc(
            "cache holds keys of shape (2, 2, 4) but the model's are (2, tokens, 8) (n_heads, "
            "tokens, d_head): the cache belongs to another model; make a new one with "
            "KVCache(2)")):
        decode_step(model, [1], cache)


@pytest.mark.parametrize("kwargs, words", [
    (dict(prompt=[]), "prompt must be a non-empty array of token ids of shape (n,), got shape "
                      "(0,)"),
    (dict(prompt=[[1, 2]]), "prompt must be a non-empty array of token ids of shape (n,), got "
                            "shape (1, 2)"),
    (dict(prompt=[99]), "prompt must be token ids from 0 to 15 (vocab_size=16), got values from "
                        "99 to 99"),
    (dict(n_new=-1), "n_new must be a whole number >= 0, got -1"),
    (dict(n_new=2.0), "n_new must be a whole number >= 0, got 2.0 (float)"),
    (dict(cache=None), "cache must be True, False or an empty selfattn.decoder.KVCache, got "
                       "builtins.NoneType"),
    (dict(cache=1), "cache must be True, False or an empty selfattn.decoder.KVCache, got "
                    "builtins.int"),
    (dict(cache=KVCache(1)), "cache has 1 layer(s) but the model has 2: make it with "
                             "KVCache(2)"),
])
def test_generate_names_a_bad_argument(model, kwargs, words):
    args = dict(prompt=[1, 2], n_new=3, cache=True) | kwargs
    with pytest.raises(ValueError, match="^" + esc(words)):
        generate(model, args["prompt"], args["n_new"], cache=args["cache"])


def test_generate_refuses_a_cache_that_holds_another_sequence(model):
    cache = KVCache(2)
    decode_step(model, [1, 2, 3], cache)
    with pytest.raises(ValueError, match="^" + esc("cache must be empty when generation starts (it "
                                                   "holds 3 tokens from another sequence); pass "
                                                   "cache=True for a new one")):
        generate(model, [4], 2, cache=cache)


def test_kv_cache_names_a_bad_layer_count():
    with pytest.raises(ValueError, match="^" + esc("n_layers must be a positive integer, got 0")):
        KVCache(0)


K3 = np.ones((2, 3, 4))


@pytest.mark.parametrize("layer, k, v, words", [
    (2, K3, K3, "layer must be a whole number from 0 to 1 (the cache has 2 layer(s)), got 2"),
    (-1, K3, K3, "layer must be a whole number from 0 to 1 (the cache has 2 layer(s)), got -1"),
    (True, K3, K3, "layer must be a whole number from 0 to 1 (the cache has 2 layer(s)), got True"),
    (0.0, K3, K3, "layer must be a whole number from 0 to 1 (the cache has 2 layer(s)), got 0.0"),
    (0, np.ones((3, 4)), np.ones((3, 4)), "k and v must be the new tokens' keys and values, one "
                                          "shape (n_heads, t, d_head) with t >= 1, got k (3, 4) "
                                          "and v (3, 4)"),
    (0, K3, np.ones((2, 3, 5)), "k and v must be the new tokens' keys and values, one shape "
                                "(n_heads, t, d_head) with t >= 1, got k (2, 3, 4) and v "
                                "(2, 3, 5)"),
    (0, np.ones((2, 0, 4)), np.ones((2, 0, 4)), "k and v must be the new tokens' keys and values, "
                                                "one shape (n_heads, t, d_head) with t >= 1, got "
                                                "k (2, 0, 4) and v (2, 0, 4)"),
    (0, K3 * np.inf, K3, "k contains 24 non-finite value(s) (NaN or inf); the first is inf at "
                         "index (0, 0, 0)"),
    (0, K3, np.full((2, 3, 4), np.nan), "v contains 24 non-finite value(s) (NaN or inf); the "
                                        "first is nan at index (0, 0, 0)"),
    *([(0, torch.ones(2, 3, 4), K3, "k is a torch.Tensor; the NumPy functions take arrays")]
      if torch is not None else []),
    (0, K3, [["a"]], "v must hold numbers, got dtype <U1"),
])
def test_kv_cache_update_names_a_bad_layer_or_shape(layer, k, v, words):
    with pytest.raises(ValueError, match="^" + esc(words)):
        KVCache(2).update(layer, k, v)


def test_kv_cache_update_refuses_keys_of_other_heads_than_it_holds():
    cache = KVCache(1)
    cache.update(0, K3, K3)
    with pytest.raises(ValueError, match="^" + esc("k has shape (3, 1, 4) but layer 0 of the cache "
                                                   "holds keys of shape (2, 3, 4): the heads and "
                                                   "head size must stay the same")):
        cache.update(0, np.ones((3, 1, 4)), np.ones((3, 1, 4)))


@pytest.mark.parametrize("names, words", [
    ("abcd", "names must be a list of 16 token names (one per token id), got 'abcd'"),
    (5, "names must be a list of 16 token names (one per token id), got 5"),
    (["a"] * 3, "names must hold one name per token id: 16 names, got 3"),
    ([f"t{i}" for i in range(15)] + ["t 15"], "names[15] must be a non-empty str without spaces "
                                              "(a text is split on spaces), got 't 15'"),
    ([f"t{i}" for i in range(15)] + [""], "names[15] must be a non-empty str without spaces"),
    ([f"t{i}" for i in range(15)] + [15], "names[15] must be a non-empty str without spaces (a "
                                          "text is split on spaces), got 15"),
    ([f"t{i}" for i in range(14)] + ["t1", "t2"], "names must be distinct (a text must give one "
                                                  "token id per word), got ['t1', 't2'] more than "
                                                  "once"),
])
def test_attention_record_names_bad_token_names(model, names, words):
    with pytest.raises(ValueError, match="^" + esc(words)):
        attention_record(model, [1], names=names)


@pytest.mark.parametrize("text, words", [
    ("   ", "ids is an empty text: give at least one token name"),
    ("t1 cat t2", "ids holds 'cat', which is not a token name (names are 't0' to 't15', 16 of "
                  "them)"),
])
def test_attention_record_names_a_word_that_is_not_a_token(model, text, words):
    with pytest.raises(ValueError, match="^" + esc(words)):
        attention_record(model, text, names=[f"t{i}" for i in range(16)])


def test_attention_record_without_names_reads_only_ids_in_digits(model):
    with pytest.raises(ValueError, match="^" + esc("ids holds 'x', which is not a token name "
                                                   "(names are '0' to '15', 16 of them)")):
        attention_record(model, "1 x")
    with pytest.raises(ValueError, match="^" + esc("ids must be token ids from 0 to 15")):
        attention_record(model, [20])


# --------------------------------------------------------------------------- #
# the benchmark prints (tiny sizes; timings are never asserted)
# --------------------------------------------------------------------------- #
def test_generation_benchmark_prints_times_per_token_and_ratios(capsys):
    from selfattn.bench.__main__ import main

    assert main(["generation", "--prompt", "4", "--lengths", "3,6", "--repeats", "1",
                 "--d-model", "8", "--vocab", "16"]) == 0
    out = capsys.readouterr().out
    for words in ("greedy generation", "prompt of 4 tokens", "d_model 8", "vocab 16",
                  "with cache", "without cache", "ratio without / with", "same tokens",
                  "cache bytes", "load average"):
        assert words in out, out
    rows = [line for line in out.splitlines() if re.match(r"^\s+[36]\s", line)]
    assert len(rows) == 2, out
    assert ("OPENBLAS_CORETYPE" in out) == bool(os.environ.get("OPENBLAS_CORETYPE"))


@pytest.mark.parametrize("argv, words", [
    (["--lengths", "0"], "need --lengths of positive whole numbers"),
    (["--lengths", "a"], "need --lengths of positive whole numbers"),
    (["--prompt", "0"], "need --prompt >= 1"),
    (["--repeats", "0"], "need --repeats >= 1"),
])
def test_generation_benchmark_refuses_bad_sizes(capsys, argv, words):
    from selfattn.bench import generation

    with pytest.raises(SystemExit):
        generation.main(argv)
    assert words in capsys.readouterr().err
