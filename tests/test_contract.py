"""One contract for every code path: the NumPy core, blockwise attention and the PyTorch twins.

Each bad input below is given to ``selfattn.scaled_dot_product_attention``,
``selfattn.blockwise.blockwise_attention`` and ``selfattn.nn.scaled_dot_product_attention``
(as tensors); all three must raise a ValueError with the same message, which names the
argument. The expected words are written here by hand, not taken from the code.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import selfattn.nn as snn
import selfattn.heads as selfattn_heads
from selfattn import (MultiHeadAttention, SelfAttention, causal_mask, padding_mask, scaled_dot_product_attention,
                      softmax)
from selfattn.blockwise import blockwise_attention, online_softmax_steps

rng = np.random.default_rng(0)
Q = rng.normal(size=(2, 4, 3))  # (b, n_q, d_k)
K = rng.normal(size=(2, 5, 3))  # (b, n_k, d_k)
V = rng.normal(size=(2, 5, 2))  # (b, n_k, d_v)


def _nan_at(a, idx):
    a = a.copy()
    a[idx] = np.nan
    return a


# (name, q, k, v, kwargs, words every path must say)
BAD = [
    ("NaN in q", _nan_at(Q, (1, 2, 0)), K, V, {}, "q contains 1 non-finite value(s) (NaN or inf); the first is nan at index (1, 2, 0)"),
    ("inf in k", Q, np.where(np.arange(3) == 2, np.inf, K), V, {}, "k contains 10 non-finite value(s) (NaN or inf); the first is inf at index (0, 0, 2)"),
    ("inf in v", Q, K, V * np.inf, {}, "v contains 20 non-finite value(s)"),
    ("no keys", Q, K[:, :0], V[:, :0], {}, "k and v need at least one row (n_k >= 1) to attend to, got k (2, 0, 3) and v (2, 0, 2)"),
    ("d_k = 0", Q[..., :0], K[..., :0], V, {}, "q and k need d_k >= 1"),
    ("1-D q", Q[0, 0], K[0], V[0], {}, "q must have at least 2 dimensions (..., n_q, d_k), got shape (3,)"),
    ("d_k differs", Q, K[..., :2], V, {}, "q and k must have the same last dimension d_k, got q (2, 4, 3) (d_k=3) and k (2, 5, 2) (d_k=2)"),
    ("n_k differs", Q, K, V[:, :4], {}, "k and v must have the same number of rows n_k"),
    ("batch differs", Q, K[:1], V[:1], {}, "q, k and v must have the same leading (batch/head) dimensions"),
    ("mask not bool", Q, K, V, {"mask": np.zeros((4, 5))}, "mask must be boolean (True = may attend), got dtype"),
    ("mask enlarges", Q, K, V, {"mask": np.ones((3, 2, 4, 5), bool)}, "mask of shape (3, 2, 4, 5) does not broadcast to the scores shape (2, 4, 5)"),
    ("scale NaN", Q, K, V, {"scale": float("nan")}, "scale must be a finite number, got nan"),
    ("scale bool", Q, K, V, {"scale": True}, "scale must be a finite number, got True"),
    ("overflow", Q * 1e200, K * 1e200, V, {}, "the scores q @ k^T * scale overflow"),
]


def _torch(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _paths(q, k, v, kwargs):
    t_kwargs = {key: (_torch(val) if isinstance(val, np.ndarray) else val) for key, val in kwargs.items()}
    return {
        "numpy": lambda: scaled_dot_product_attention(q, k, v, **kwargs),
        "blockwise": lambda: blockwise_attention(q, k, v, block_q=2, block_k=2, **kwargs),
        "torch": lambda: snn.scaled_dot_product_attention(_torch(q), _torch(k), _torch(v), **t_kwargs),
    }


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("name, q, k, v, kwargs, words", BAD, ids=[b[0] for b in BAD])
def test_every_path_rejects_the_same_bad_input_with_the_same_message(name, q, k, v, kwargs, words):
    messages = {}
    for path, call in _paths(q, k, v, kwargs).items():
        with pytest.raises(ValueError) as info:
            call()
        messages[path] = str(info.value).replace("torch.float64", "float64")
    for path, message in messages.items():
        assert words in message, f"{path}: {message!r}"
    assert messages["numpy"] == messages["blockwise"] == messages["torch"]


def test_every_path_gives_the_same_answer_on_good_input_with_mask_and_scale():
    mask = rng.random((2, 4, 5)) < 0.6
    mask[0, 1] = False  # one query that may attend to nothing: zeros everywhere
    expected_w = np.exp(Q @ K.swapaxes(-1, -2) * 0.3)  # hand-written softmax, independent of selfattn
    expected_w = np.where(mask, expected_w, 0)
    sums = expected_w.sum(-1, keepdims=True)
    expected_w = np.divide(expected_w, sums, out=np.zeros_like(expected_w), where=sums > 0)
    out, w = scaled_dot_product_attention(Q, K, V, mask=mask, scale=0.3)
    np.testing.assert_allclose(w, expected_w, atol=1e-12)
    np.testing.assert_allclose(out, expected_w @ V, atol=1e-12)
    np.testing.assert_allclose(blockwise_attention(Q, K, V, mask=mask, scale=0.3, block_q=3, block_k=2),
                               expected_w @ V, atol=1e-12)
    t_out, t_w = snn.scaled_dot_product_attention(_torch(Q), _torch(K), _torch(V), mask=_torch(mask), scale=0.3)
    np.testing.assert_allclose(t_w.numpy(), expected_w, atol=1e-12)
    np.testing.assert_allclose(t_out.numpy(), expected_w @ V, atol=1e-12)


# --------------------------------------------------------------------------- #
# the PyTorch twins: what used to crash or go silently wrong
# --------------------------------------------------------------------------- #
def test_nn_refuses_numpy_arrays_with_the_conversion_to_use():
    with pytest.raises(ValueError, match=re.escape("q must be a torch.Tensor, got ndarray; convert it with torch.as_tensor(q)")):
        snn.scaled_dot_product_attention(Q, _torch(K), _torch(V))
    with pytest.raises(ValueError, match=re.escape("x must be a torch.Tensor, got ndarray")):
        snn.SelfAttention(3, 2)(Q)


def test_nn_layer_names_the_dtype_mismatch_and_the_fix():
    x = torch.zeros(4, 3, dtype=torch.float32)
    with pytest.raises(ValueError, match=re.escape("x has dtype torch.float32 but the layer's matrices are torch.float64: "
                                                   "convert with x.to(torch.float64), or build the layer with dtype=torch.float32")):
        snn.SelfAttention(3, 2)(x)


@pytest.mark.parametrize("layer", [snn.SelfAttention(3, 2), snn.MultiHeadAttention(4, 2)], ids=["self", "multi-head"])
def test_nn_layers_reject_one_dimensional_input_with_its_shape(layer):
    with pytest.raises(ValueError, match=re.escape("x must have at least 2 dimensions (..., n, d_model), got shape")):
        layer(torch.zeros(layer.d_model, dtype=torch.float64))


@pytest.mark.parametrize("layer", [snn.SelfAttention(4, 2), snn.MultiHeadAttention(4, 2)], ids=["self", "multi-head"])
def test_nn_layers_reject_a_mask_that_would_enlarge_the_output(layer):
    x = torch.zeros(3, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=re.escape("mask of shape (2, 3, 3) does not broadcast to the scores shape (3, 3)")):
        layer(x, mask=torch.ones(2, 3, 3, dtype=torch.bool))


def test_nn_layers_reject_nan_input_naming_the_position():
    x = torch.zeros(3, 4, dtype=torch.float64)
    x[2, 1] = float("nan")
    with pytest.raises(ValueError, match=re.escape("x contains 1 non-finite value(s) (NaN or inf); the first is nan at index (2, 1)")):
        snn.MultiHeadAttention(4, 2)(x)


def test_nn_multihead_accepts_a_key_mask_of_shape_n_like_the_numpy_twin():
    np_layer = MultiHeadAttention(4, 2, seed=1)
    t_layer = snn.MultiHeadAttention.from_numpy(np_layer)
    x = rng.normal(size=(3, 4))
    keys = np.array([True, False, True])
    out_np, w_np = np_layer(x, mask=keys)
    out_t, w_t = t_layer(_torch(x), mask=_torch(keys))
    assert w_np.shape == tuple(w_t.shape) == (2, 3, 3)
    assert np.all(w_np[..., 1] == 0) and np.all(w_t.detach().numpy()[..., 1] == 0)  # key 1 hidden from every query
    np.testing.assert_allclose(out_t.detach().numpy(), out_np, atol=1e-12)


def test_nn_from_numpy_refuses_something_that_is_not_a_numpy_layer():
    with pytest.raises(ValueError, match="layer must be a NumPy selfattn.SelfAttention"):
        snn.SelfAttention.from_numpy(snn.SelfAttention(3, 2))


# --------------------------------------------------------------------------- #
# the NumPy core: sizes, seeds, axes
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("mats", [(np.ones((3, 0)), np.ones((3, 0)), np.ones((3, 2))),
                                  (np.ones((3, 2)), np.ones((3, 2)), np.ones((3, 0))),
                                  (np.ones((0, 2)), np.ones((0, 2)), np.ones((0, 2)))], ids=["d_k=0", "d_v=0", "d_model=0"])
def test_from_matrices_rejects_zero_width_matrices(mats):
    with pytest.raises(ValueError, match=r"W_[qv] must have at least one row and one column"):
        SelfAttention.from_matrices(*mats)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_from_matrices_copies_the_callers_matrices(dtype):
    W = np.eye(2, dtype=dtype)
    layer = SelfAttention.from_matrices(W, W, W)
    W[0, 0] = 99.0
    assert layer.W_q[0, 0] == 1.0 and layer.W_v[0, 0] == 1.0
    assert not np.shares_memory(layer.W_q, W)


@pytest.mark.parametrize("make", [lambda s: SelfAttention(3, 2, seed=s), lambda s: MultiHeadAttention(4, 2, seed=s),
                                  lambda s: snn.SelfAttention(3, 2, seed=s)], ids=["numpy", "multi-head", "torch"])
@pytest.mark.parametrize("seed, words", [(None, "seed must be a whole number such as 0, got None"),
                                         (True, "seed must be a whole number >= 0, got True (bool)"),
                                         (-1, "seed must be a whole number >= 0, got -1"),
                                         (1.5, "seed must be a whole number >= 0, got 1.5")])
def test_seeds_must_be_whole_numbers_so_every_run_repeats(make, seed, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        make(seed)


def test_d_k_zero_layer_is_refused_before_any_division():
    with pytest.raises(ValueError, match="d_k must be a positive integer, got 0"):
        SelfAttention(d_model=3, d_k=0)
    with pytest.raises(ValueError, match="d_k must be a positive integer, got 0"):
        snn.SelfAttention(d_model=3, d_k=0)


@pytest.mark.parametrize("axis", [None, 1.0, "last", True])
def test_softmax_axis_must_be_one_whole_number(axis):
    with pytest.raises(ValueError, match=re.escape(f"axis must be one whole number (the axis whose weights sum to 1), got {axis!r}")):
        softmax(np.ones(3), axis=axis)


def test_softmax_leaves_the_callers_array_alone():
    x = np.array([1.0, 2.0, 3.0])
    softmax(x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_a_masked_attention_never_changes_the_callers_mask_or_inputs():
    mask = causal_mask(4)
    q = rng.normal(size=(4, 3))
    before = (mask.copy(), q.copy())
    scaled_dot_product_attention(q, q, q, mask=mask)
    np.testing.assert_array_equal(mask, before[0])
    np.testing.assert_array_equal(q, before[1])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_reads_minus_inf_as_masked_along_any_axis_never_as_overflow(axis):
    x = np.array([[-np.inf, -np.inf], [-np.inf, 0.0]])
    w = softmax(x, axis=axis)
    # by hand: along either axis, the slice with one finite entry puts all its weight there,
    # and the slice of -inf only gets zeros
    expected = np.array([[0.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(w, expected)


# --------------------------------------------------------------------------- #
# the bad-input hunt: each case below failed (another exception type, a message that did
# not name the argument, or a silent result) before the check that now catches it
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("which", ["q", "k", "v"])
@pytest.mark.parametrize("fn", [scaled_dot_product_attention, blockwise_attention], ids=["numpy", "blockwise"])
def test_numpy_paths_refuse_a_torch_tensor_naming_the_argument_and_the_fix(fn, which):
    args = {"q": Q, "k": K, "v": V}
    args[which] = _torch(args[which])
    with pytest.raises(ValueError, match=rf"^{which} is a torch.Tensor; the NumPy functions take arrays: "
                                         rf"pass {which}.detach\(\).numpy\(\), or use the twin in selfattn.nn"):
        fn(**args)
    with pytest.raises(ValueError, match=r"^q is a torch.Tensor"):  # all three tensors: the first is named
        fn(_torch(Q), _torch(K), _torch(V))


@pytest.mark.parametrize("which", ["q", "k", "v"])
def test_torch_twin_refuses_numpy_arrays_naming_the_argument(which):
    args = {"q": _torch(Q), "k": _torch(K), "v": _torch(V)}
    args[which] = np.asarray(args[which])
    with pytest.raises(ValueError, match=rf"^{which} must be a torch.Tensor, got ndarray; convert it with "
                                         rf"torch.as_tensor\({which}\)"):
        snn.scaled_dot_product_attention(**args)
    with pytest.raises(ValueError, match=r"^q must be a torch.Tensor, got ndarray"):  # all three arrays
        snn.scaled_dot_product_attention(Q, K, V)


RAGGED = [[True, False], [True]]


@pytest.mark.parametrize("call", [
    lambda m: softmax(np.ones((2, 2)), mask=m),
    lambda m: scaled_dot_product_attention(Q[0, :2], K[0, :2], V[0, :2], mask=m),
    lambda m: blockwise_attention(Q[0, :2], K[0, :2], V[0, :2], mask=m),
    lambda m: snn.scaled_dot_product_attention(_torch(Q[0, :2]), _torch(K[0, :2]), _torch(V[0, :2]), mask=m),
    lambda m: SelfAttention(3, 2)(Q[0, :2], mask=m),
    lambda m: MultiHeadAttention(4, 2)(np.ones((2, 4)), mask=m),
    lambda m: snn.MultiHeadAttention(4, 2)(torch.ones(2, 4, dtype=torch.float64), mask=m),
], ids=["softmax", "numpy", "blockwise", "torch", "layer", "multi-head", "torch multi-head"])
def test_a_ragged_mask_is_refused_naming_the_mask(call):
    with pytest.raises(ValueError, match=r"^mask cannot be made into an array: .*inhomogeneous"):
        call(RAGGED)


@pytest.mark.parametrize("call", [
    lambda: SelfAttention(4, 2)(np.zeros((0, 4))),
    lambda: SelfAttention(4, 2).steps(np.zeros((2, 0, 4))),
    lambda: MultiHeadAttention(4, 2)(np.zeros((0, 4))),
    lambda: snn.SelfAttention(4, 2)(torch.zeros(0, 4, dtype=torch.float64)),
    lambda: snn.MultiHeadAttention(4, 2)(torch.zeros(3, 0, 4, dtype=torch.float64)),
], ids=["layer", "steps", "multi-head", "torch layer", "torch multi-head"])
def test_layers_refuse_an_input_without_tokens_naming_x(call):
    with pytest.raises(ValueError, match=r"^x must hold at least one token \(n >= 1\), got shape \((\d, )?0, 4\)"):
        call()


@pytest.mark.parametrize("kwargs, words", [
    (dict(rng=None), "rng must be a NumPy random generator such as np.random.default_rng(0), got NoneType"),
    (dict(rng=0), "rng must be a NumPy random generator such as np.random.default_rng(0), got int"),
    (dict(d_in=0), "d_in must be a positive integer, got 0"),
    (dict(d_in=True), "d_in must be a positive integer, got True (bool)"),
    (dict(d_in=2.0), "d_in must be a positive integer, got 2.0 (float)"),
    (dict(d_out=0), "d_out must be a positive integer, got 0"),
    (dict(d_out=-1), "d_out must be a positive integer, got -1"),
])
def test_init_matrix_checks_its_arguments(kwargs, words):
    from selfattn.attention import init_matrix

    args = dict(rng=np.random.default_rng(0), d_in=3, d_out=2) | kwargs
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        init_matrix(**args)


@pytest.mark.parametrize("call", [
    lambda x: selfattn_heads.split_heads(x, 2),
    lambda x: selfattn_heads.merge_heads(x.reshape(2, 2, 2)),
    lambda x: snn.split_heads(_torch(x), 2),
    lambda x: snn.merge_heads(_torch(x.reshape(2, 2, 2))),
], ids=["split", "merge", "torch split", "torch merge"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_split_and_merge_heads_refuse_nan_and_inf_like_the_core(call, bad):
    x = np.arange(8.0).reshape(2, 4)
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"^x contains 1 non-finite value\(s\)"):
        call(x)


@pytest.mark.parametrize("cls", [snn.SelfAttention, snn.MultiHeadAttention])
@pytest.mark.parametrize("dtype", [None, "float64", np.float64, torch.int64, torch.bool, torch.complex128])
def test_torch_layers_refuse_a_dtype_that_is_not_a_floating_point_torch_dtype(cls, dtype):
    with pytest.raises(ValueError, match=r"^dtype must be a floating-point torch dtype such as torch.float64"):
        cls(4, 2, dtype=dtype)


def test_torch_layers_accept_float32_matrices_and_inputs():
    out, w = snn.SelfAttention(4, 2, dtype=torch.float32)(torch.ones(3, 4))
    assert out.dtype == w.dtype == torch.float32


def test_nn_self_attention_from_numpy_refuses_a_multi_head_layer_by_name():
    with pytest.raises(ValueError, match=r"^layer must be a NumPy selfattn.SelfAttention .* got selfattn.heads.MultiHeadAttention"):
        snn.SelfAttention.from_numpy(MultiHeadAttention(4, 2))


def test_padding_mask_refuses_ragged_lengths_naming_them():
    with pytest.raises(ValueError, match=r"^lengths cannot be made into an array"):
        padding_mask([[1, 2], [1]], 3)


def test_online_softmax_steps_refuses_an_empty_row():
    with pytest.raises(ValueError, match=re.escape("scores must have at least one entry, got shape (0,)")):
        online_softmax_steps([], block=2)
