"""selfattn.block (and its twins in selfattn.nn) against PyTorch and transformers.

Expected values come from independent code: ``torch.nn.LayerNorm``, ``torch.nn.functional.gelu``
(exact) and ``math.erf``, a ``Linear-GELU-Linear`` stack, ``torch.nn.MultiheadAttention`` with
biases, ``transformers``' ``BertLayer`` (post-norm, as BERT) and ``torch.nn.TransformerEncoderLayer``
(``norm_first=False`` and ``True``), each loaded with the same random matrices.

Every comparison is also fed wrong implementations (a missing residual, the tanh GELU, attention
without its biases, heads split by a reshape without the transpose) and must reject each: the
checks are seen to fail (``test_*_rejects_*``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertLayer

import selfattn.block as blk
import selfattn.nn as snn
from selfattn import padding_mask
from selfattn.block import (
    BlockParams,
    feed_forward,
    gelu,
    layer_norm,
    multi_head_attention,
    transformer_block,
)

D, H, F_, N, B = 16, 4, 48, 7, 3  # d_model, heads, d_ff, tokens, batch
LENGTHS = [7, 4, 1]  # a padded batch: the last sentence is one token long
TOL64 = 1e-10  # float64 against float64: only rounding differs
T = torch.from_numpy


def _x(seed=1, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=(B, N, D)).astype(dtype)  # (B, n, d)


def _params(seed=0):
    return BlockParams.random(D, F_, seed=seed)


def _real(lengths=LENGTHS):
    """(B, n) True where a token is real (not padding)."""
    return padding_mask(lengths, N)[:, 0, :]


# --------------------------------------------------------------------------- #
# wrong implementations, each fed to the comparisons below
# --------------------------------------------------------------------------- #
def tanh_gelu(x):
    """GPT-2's approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): not BERT's GELU."""
    x = np.asarray(x)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def split_heads_without_transpose(x, n_heads):
    """Reshape straight to (..., h, n, d_head): mixes tokens across heads."""
    *lead, n, d = x.shape
    return np.reshape(x, (*lead, n_heads, n, d // n_heads))


def attention_without_biases(x, W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o, n_heads, mask=None):
    z = np.zeros_like(b_q)
    return multi_head_attention(x, W_q, z, W_k, z, W_v, z, W_o, z, n_heads, mask=mask)


def block_without_residuals(x, params, n_heads, mask=None, norm="post", eps=blk.BERT_LAYER_NORM_EPS):
    """transformer_block with the residual connections left out: h = LN(MHA(x)), ..."""
    p = params
    attn = (p.W_q, p.b_q, p.W_k, p.b_k, p.W_v, p.b_v, p.W_o, p.b_o)
    ffn = (p.W1, p.b1, p.W2, p.b2)
    if norm == "post":
        a, w = multi_head_attention(x, *attn, n_heads, mask=mask)
        h = layer_norm(a, p.ln1_gamma, p.ln1_beta, eps)
        return layer_norm(feed_forward(h, *ffn), p.ln2_gamma, p.ln2_beta, eps), w
    a, w = multi_head_attention(layer_norm(x, p.ln1_gamma, p.ln1_beta, eps), *attn, n_heads, mask=mask)
    return feed_forward(layer_norm(a, p.ln2_gamma, p.ln2_beta, eps), *ffn), w


# name: (what to patch in selfattn.block, or None, the block function to run)
MUTANTS = {
    "missing residual": (None, block_without_residuals),
    "tanh GELU": (("gelu", tanh_gelu), transformer_block),
    "missing bias": (("multi_head_attention", attention_without_biases), transformer_block),
    "wrong head split": (("split_heads", split_heads_without_transpose), transformer_block),
}


# --------------------------------------------------------------------------- #
# layer_norm vs torch.nn.LayerNorm
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("eps", [1e-12, 1e-5])
@pytest.mark.parametrize("dtype, tol", [(np.float64, TOL64), (np.float32, 2e-6)])
def test_layer_norm_equals_torch_layer_norm(eps, dtype, tol):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(B, N, D)) * 3 + 2).astype(dtype)
    gamma, beta = rng.normal(size=D).astype(dtype), rng.normal(size=D).astype(dtype)
    ln = torch.nn.LayerNorm(D, eps=eps, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        ln.weight.copy_(T(gamma))
        ln.bias.copy_(T(beta))
        expected = ln(T(x)).numpy()
    got = layer_norm(x, gamma, beta, eps)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol)


def test_layer_norm_rows_have_mean_beta_and_spread_gamma():
    # by hand: with gamma = 1, beta = 0 each row has mean 0 and (biased) variance 1
    y = layer_norm(np.array([[1.0, 2.0, 3.0, 6.0]]), np.ones(4), np.zeros(4))
    assert abs(y.mean()) < 1e-12 and abs(y.var() - 1) < 1e-9


# --------------------------------------------------------------------------- #
# gelu vs math.erf and torch.nn.functional.gelu
# --------------------------------------------------------------------------- #
WIDE = np.linspace(-30, 30, 600_001)  # step 1e-4


def _exact_gelu(x):
    return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])


def test_gelu_float64_is_within_2e_8_of_the_erf_formula_on_a_wide_range():
    xs = WIDE[::7]
    assert np.max(np.abs(gelu(xs) - _exact_gelu(xs))) <= 2e-8  # measured: 1.4e-8


def test_erfc_fit_has_relative_error_below_1_2e_7_where_erfc_is_representable():
    z = np.linspace(0, 26, 26_001)  # erfc(26) ~ 1e-296, still a normal float64
    exact = np.array([math.erfc(v) for v in z])
    assert np.max(np.abs(blk._erfc_nonnegative(z) - exact) / exact) < 1.2e-7  # Numerical Recipes' bound


def test_gelu_float32_is_within_5e_7_of_torch_float64_gelu_and_as_close_as_torch_float32():
    xs = np.linspace(-8, 8, 160_001, dtype=np.float32)
    got = gelu(xs)
    assert got.dtype == np.float32
    exact = F.gelu(T(xs.astype(np.float64))).numpy()  # PyTorch's erf in float64: exact to ~1e-16
    ours = np.max(np.abs(got - exact))
    torch32 = np.max(np.abs(F.gelu(T(xs)).numpy() - exact))
    # measured: ours 3.8e-7 (x = 4.89). PyTorch's own float32 GELU depends on the CPU kernel it
    # picks: 1.07e-6 (x = 3.48) on one machine, 3.75e-7 on another. So ours is held to its own
    # bound, and to within one float32 step (at |x| = 4 to 8: 4.8e-7) of PyTorch's error.
    step = float(np.spacing(np.float32(4.0)))  # 4.8e-7
    assert ours <= 5e-7 and ours <= torch32 + step


def test_gelu_comparison_rejects_the_tanh_approximation():
    xs = np.linspace(-8, 8, 16_001)
    exact = F.gelu(T(xs)).numpy()
    assert np.max(np.abs(gelu(xs) - exact)) < 1e-7
    assert np.max(np.abs(tanh_gelu(xs) - exact)) > 1e-4  # it is about 4.7e-4 off near |x| = 2.2
    assert np.max(np.abs(F.gelu(T(xs), approximate="tanh").numpy() - tanh_gelu(xs))) < 1e-12


# --------------------------------------------------------------------------- #
# feed_forward vs Linear-GELU-Linear
# --------------------------------------------------------------------------- #
def _torch_ffn(p: BlockParams):
    ffn = torch.nn.Sequential(torch.nn.Linear(D, F_), torch.nn.GELU(), torch.nn.Linear(F_, D)).double()
    with torch.no_grad():
        ffn[0].weight.copy_(T(p.W1.T))  # nn.Linear stores (d_out, d_in)
        ffn[0].bias.copy_(T(p.b1))
        ffn[2].weight.copy_(T(p.W2.T))
        ffn[2].bias.copy_(T(p.b2))
    return ffn


def test_feed_forward_equals_linear_gelu_linear():
    p, x = _params(), _x()
    with torch.no_grad():
        expected = _torch_ffn(p)(T(x)).numpy()
    np.testing.assert_allclose(feed_forward(x, p.W1, p.b1, p.W2, p.b2), expected, rtol=0, atol=1e-7)
    # the NumPy GELU's 1.4e-8 is the only difference; with torch's own GELU it is rounding only
    np.testing.assert_allclose(snn.feed_forward(T(x), *(T(a) for a in (p.W1, p.b1, p.W2, p.b2))).numpy(),
                               expected, rtol=0, atol=TOL64)


# --------------------------------------------------------------------------- #
# multi_head_attention vs torch.nn.MultiheadAttention (biases, padding)
# --------------------------------------------------------------------------- #
def _torch_mha(p: BlockParams):
    mha = torch.nn.MultiheadAttention(D, H, bias=True, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(T(np.concatenate([p.W_q.T, p.W_k.T, p.W_v.T])))  # (3d, d)
        mha.in_proj_bias.copy_(T(np.concatenate([p.b_q, p.b_k, p.b_v])))
        mha.out_proj.weight.copy_(T(p.W_o.T))
        mha.out_proj.bias.copy_(T(p.b_o))
    return mha


def _mha_errors(impl=None):
    """Largest differences of (output, weights) from torch.nn.MultiheadAttention on a padded batch."""
    impl = impl or blk.multi_head_attention
    p, x = _params(), _x()
    real = _real()
    with torch.no_grad():  # key_padding_mask: True = ignore (the opposite of ours)
        out_t, w_t = _torch_mha(p)(T(x), T(x), T(x), key_padding_mask=T(~real), average_attn_weights=False)
    out, w = impl(x, p.W_q, p.b_q, p.W_k, p.b_k, p.W_v, p.b_v, p.W_o, p.b_o, H, mask=real[:, None, :])
    return np.max(np.abs(out - out_t.numpy())), np.max(np.abs(w - w_t.numpy()))


def test_multi_head_attention_with_biases_and_padding_equals_torch():
    p = _params()
    out, w = multi_head_attention(_x(), p.W_q, p.b_q, p.W_k, p.b_k, p.W_v, p.b_v, p.W_o, p.b_o, H)
    assert out.shape == (B, N, D) and w.shape == (B, H, N, N)
    assert max(_mha_errors()) < TOL64


def test_multi_head_attention_comparison_rejects_missing_biases_and_a_wrong_head_split(monkeypatch):
    assert max(_mha_errors(attention_without_biases)) > 1e-3
    monkeypatch.setattr(blk, "split_heads", split_heads_without_transpose)
    assert max(_mha_errors()) > 1e-3


def test_the_key_bias_alone_changes_nothing_since_softmax_ignores_a_shift_per_row():
    # q . (k_j + b_k) = q . k_j + q . b_k: the same number added to every score of a row
    p, x = _params(), _x()
    z = np.zeros(D)
    with_bk = multi_head_attention(x, p.W_q, p.b_q, p.W_k, p.b_k, p.W_v, p.b_v, p.W_o, p.b_o, H)
    without = multi_head_attention(x, p.W_q, p.b_q, p.W_k, z, p.W_v, p.b_v, p.W_o, p.b_o, H)
    np.testing.assert_allclose(with_bk[0], without[0], atol=1e-12)
    np.testing.assert_allclose(with_bk[1], without[1], atol=1e-12)


# --------------------------------------------------------------------------- #
# transformer_block vs BertLayer (post-norm) and nn.TransformerEncoderLayer (post and pre)
# --------------------------------------------------------------------------- #
def _bert_layer(p: BlockParams):
    config = BertConfig(hidden_size=D, num_attention_heads=H, intermediate_size=F_, hidden_act="gelu",
                        layer_norm_eps=1e-12, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        attn_implementation="eager")
    layer = BertLayer(config).double().eval()
    pairs = {"attention.self.query": ("W_q", "b_q"), "attention.self.key": ("W_k", "b_k"),
             "attention.self.value": ("W_v", "b_v"), "attention.output.dense": ("W_o", "b_o"),
             "intermediate.dense": ("W1", "b1"), "output.dense": ("W2", "b2"),
             "attention.output.LayerNorm": ("ln1_gamma", "ln1_beta"), "output.LayerNorm": ("ln2_gamma", "ln2_beta")}
    state = {}
    for module, (w, b) in pairs.items():
        W = getattr(p, w)
        state[module + ".weight"] = T(W.T.copy() if W.ndim == 2 else W)  # Linear: (d_out, d_in)
        state[module + ".bias"] = T(getattr(p, b))
    layer.load_state_dict(state)
    return layer


def _bert_errors(impl=None):
    """Largest differences of (output, weights) from BertLayer on a padded batch (real tokens only)."""
    impl = impl or blk.transformer_block
    p, x = _params(), _x()
    real = _real()
    additive = torch.zeros(B, 1, 1, N, dtype=torch.float64)  # Hugging Face: 0 or a large negative, added
    additive[T(~real)[:, None, None, :]] = torch.finfo(torch.float64).min
    with torch.no_grad():
        out_t, w_t = _bert_layer(p)(T(x), attention_mask=additive, output_attentions=True)[:2]
    out, w = impl(x, p, H, mask=real[:, None, :], norm="post")
    return np.max(np.abs((out - out_t.numpy())[real])), np.max(np.abs(w - w_t.numpy()))


def _torch_encoder_layer(p: BlockParams, norm_first: bool, eps: float):
    layer = torch.nn.TransformerEncoderLayer(D, H, dim_feedforward=F_, dropout=0.0, activation="gelu",
                                             layer_norm_eps=eps, batch_first=True, norm_first=norm_first,
                                             dtype=torch.float64)
    layer.train()  # training mode (dropout 0): PyTorch's "fast path" would zero the padded rows
    mha = _torch_mha(p)
    with torch.no_grad():
        layer.self_attn.load_state_dict(mha.state_dict())
        layer.linear1.load_state_dict(_torch_ffn(p)[0].state_dict())
        layer.linear2.load_state_dict(_torch_ffn(p)[2].state_dict())
        for ln, g, b in ((layer.norm1, p.ln1_gamma, p.ln1_beta), (layer.norm2, p.ln2_gamma, p.ln2_beta)):
            ln.weight.copy_(T(g))
            ln.bias.copy_(T(b))
    return layer


def _encoder_layer_error(norm: str, impl=None) -> float:
    impl = impl or blk.transformer_block
    p, x, eps = _params(), _x(), 1e-5
    real = _real()
    with torch.no_grad():
        expected = _torch_encoder_layer(p, norm == "pre", eps)(T(x), src_key_padding_mask=T(~real)).numpy()
    out, _ = impl(x, p, H, mask=real[:, None, :], norm=norm, eps=eps)
    return np.max(np.abs((out - expected)[real]))


def test_post_norm_block_equals_transformers_bert_layer():
    out_err, w_err = _bert_errors()
    assert out_err < 1e-7 and w_err < 1e-7  # the NumPy GELU's 1.4e-8, carried through W2 and a layer norm


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_block_equals_torch_transformer_encoder_layer(norm):
    assert _encoder_layer_error(norm) < 1e-7


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_block_comparisons_reject_each_wrong_implementation(mutant, monkeypatch):
    patch, impl = MUTANTS[mutant]
    if patch:
        monkeypatch.setattr(blk, *patch)
    assert max(_bert_errors(impl)) > 1e-5, f"BertLayer comparison passed the {mutant}"
    for norm in ("post", "pre"):
        assert _encoder_layer_error(norm, impl) > 1e-5, f"{norm}-norm comparison passed the {mutant}"


def test_pre_and_post_norm_blocks_differ():
    p, x = _params(), _x()
    assert np.max(np.abs(transformer_block(x, p, H, norm="pre")[0] - transformer_block(x, p, H)[0])) > 0.1


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_transformer_block_twin_equals_the_numpy_block(norm):
    p, x = _params(), _x()
    mask = _real()[:, None, :]
    module = snn.TransformerBlock.from_numpy(p, n_heads=H, norm=norm)
    with torch.no_grad():
        out_t, w_t = module(T(x), mask=T(mask))
    out, w = transformer_block(x, p, H, mask=mask, norm=norm)
    assert np.max(np.abs(out - out_t.numpy())) < 1e-7 and np.max(np.abs(w - w_t.numpy())) < 1e-7
    assert np.array_equal(module.to_numpy().W2, p.W2)


def test_float32_input_stays_float32():
    p = BlockParams.random(D, F_, seed=0, dtype=np.float32)
    out, w = transformer_block(_x(dtype=np.float32), p, H)
    assert out.dtype == w.dtype == np.float32


def test_a_padded_batch_gives_each_sentence_what_it_gives_alone():
    p, x = _params(), _x()
    out, w = transformer_block(x, p, H, mask=padding_mask(LENGTHS, N))
    alone, w_alone = transformer_block(x[1, :4], p, H)
    np.testing.assert_allclose(out[1, :4], alone, atol=1e-12)
    np.testing.assert_allclose(w[1, :, :4, :4], w_alone, atol=1e-12)
    assert not w[1, :, :, 4:].any()  # no weight on padding


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
def _p(**changes):
    p = _params()
    return {n: getattr(p, n) for n in p.names()} | changes


@pytest.mark.parametrize("call, words", [
    (lambda: layer_norm(np.ones((2, 4)), np.ones(3), np.zeros(4)),
     "gamma must have shape (d,) with d the last dimension of x = (4,), got (3,)"),
    (lambda: layer_norm(np.ones((2, 4)), np.ones(4), np.zeros(5)),
     "beta must have shape (d,) with d the last dimension of x = (4,), got (5,)"),
    (lambda: layer_norm(np.ones((2, 4)), np.ones(4), np.zeros(4), eps=0),
     "eps must be a small positive number such as 1e-12 (BERT) or 1e-5 (PyTorch), got 0.0"),
    (lambda: layer_norm(np.array([[1.0, np.nan]]), np.ones(2), np.zeros(2)),
     "x contains 1 non-finite value(s) (NaN or inf); the first is nan at index (0, 1)"),
    (lambda: gelu(np.array([1.0, np.inf])), "x contains 1 non-finite value(s)"),
    (lambda: gelu(torch.ones(2)), "x is a torch.Tensor; the NumPy functions take arrays"),
    (lambda: feed_forward(np.ones((2, 4)), np.ones((3, 8)), np.zeros(8), np.ones((8, 4)), np.zeros(4)),
     "W1 must have shape (d_model, d_ff) with d_model = 4 (the last dimension of x, shape (2, 4)), got (3, 8)"),
    (lambda: feed_forward(np.ones((2, 4)), np.ones((4, 8)), np.zeros(8), np.ones((4, 8)), np.zeros(4)),
     "W2 must have shape (d_ff, d_model) = (8, 4) to undo W1 (4, 8), got (4, 8)"),
    (lambda: feed_forward(np.ones((2, 4)), np.ones((4, 8)), np.zeros(4), np.ones((8, 4)), np.zeros(4)),
     "b1 must have shape (d_ff,), one per column of W1 = (8,), got (4,)"),
    (lambda: multi_head_attention(np.ones((3, 6)), *[np.eye(6), np.zeros(6)] * 4, n_heads=4),
     "d_model=6 is not divisible by n_heads=4"),
    (lambda: multi_head_attention(np.ones((3, 4)), np.eye(4), np.zeros(3), *[np.eye(4), np.zeros(4)] * 3,
                                  n_heads=2),
     "b_q must have shape (d_model,) = (4,), got (3,)"),
    (lambda: multi_head_attention(np.ones((3, 4)), *[np.eye(4), np.zeros(4)] * 4, n_heads=2,
                                  mask=np.ones((3, 2), bool)),
     "mask of shape (3, 2) does not broadcast to the scores shape (3, 3)"),
    (lambda: transformer_block(np.ones((3, D)), _params(), H, norm="middle"),
     "unknown norm 'middle'; choose from ['post', 'pre']"),
    (lambda: transformer_block(np.ones((3, 8)), _params(), H),
     f"x has last dimension 8 but params are for d_model={D} (x has shape (3, 8))"),
    (lambda: transformer_block(np.ones((3, D)), {"W_q": 1}, H), "params must be a selfattn.block.BlockParams"),
    (lambda: transformer_block(np.ones((0, D)), _params(), H), "x must hold at least one token"),
    (lambda: BlockParams(**_p(ln1_gamma=np.ones(D + 1))),
     f"ln1_gamma must have shape (d_model,) = ({D},) (d_model = {D} from W_q, d_ff = {F_} from W1), got ({D + 1},)"),
    (lambda: BlockParams(**_p(W2=np.ones((D, F_)))),
     f"W2 must have shape (d_ff, d_model) = ({F_}, {D}) (d_model = {D} from W_q, d_ff = {F_} from W1), "
     f"got ({D}, {F_})"),
    (lambda: BlockParams(**_p(W_q=np.ones((D, D + 1)))), f"W_q must be a square (d_model, d_model) matrix"),
    (lambda: BlockParams(**_p(b2=np.full(D, np.nan))), "b2 contains 16 non-finite value(s)"),
    (lambda: snn.TransformerBlock(_params(), n_heads=5), f"d_model={D} is not divisible by n_heads=5"),
])
def test_block_errors_name_the_argument_and_its_shape(call, words):
    with pytest.raises(ValueError) as err:
        call()
    assert words in str(err.value), str(err.value)
