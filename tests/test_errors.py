"""Every bad input gives a ValueError whose message names the offending shapes or numbers.

Documented behaviour for NaN and infinity (module docstring of ``selfattn.attention``):
inputs holding NaN or inf are rejected with a ValueError that names the argument and
the index of the first bad entry; the one exception is ``softmax``, which accepts
``-inf`` scores and gives them weight 0 (the usual way to write "masked").
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import selfattn.nn as snn
from selfattn import (
    MultiHeadAttention,
    SelfAttention,
    causal_mask,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
    split_heads,
)
from selfattn.example import embed
from selfattn.heads import check_divisible

rng = np.random.default_rng(0)
Q = rng.normal(size=(4, 3))  # (n_q, d_k)
K = rng.normal(size=(5, 3))  # (n_k, d_k)
V = rng.normal(size=(5, 2))  # (n_k, d_v)


def esc(text: str) -> str:
    return re.escape(text)


# --------------------------------------------------------------------------- #
# scaled_dot_product_attention
# --------------------------------------------------------------------------- #
def test_mismatched_d_k_between_q_and_k_names_both_shapes():
    with pytest.raises(ValueError, match=esc("q and k must have the same last dimension d_k, got q (4, 3) (d_k=3) and k (5, 2) (d_k=2)")):
        scaled_dot_product_attention(Q, K[:, :2], V)


def test_mismatched_lengths_of_k_and_v_names_both_shapes():
    with pytest.raises(ValueError, match=esc("got k (5, 3) (n_k=5) and v (4, 2) (n_k=4)")):
        scaled_dot_product_attention(Q, K, V[:4])


def test_no_keys_at_all_is_rejected_with_the_shapes():
    with pytest.raises(ValueError, match=esc("k and v need at least one row (n_k >= 1) to attend to, got k (0, 3) and v (0, 2)")):
        scaled_dot_product_attention(Q, K[:0], V[:0])
    with pytest.raises(ValueError, match=esc("x must hold at least one token (n >= 1), got shape (0, 3)")):
        SelfAttention(d_model=3, d_k=2)(np.zeros((0, 3)))  # the layer names its own argument


def test_different_leading_dimensions_name_all_shapes():
    with pytest.raises(ValueError, match=esc("same leading (batch/head) dimensions, got q (2, 4, 3), k (3, 5, 3), v (3, 5, 2)")):
        scaled_dot_product_attention(np.stack([Q] * 2), np.stack([K] * 3), np.stack([V] * 3))


@pytest.mark.parametrize("name,pos", [("q", 0), ("k", 1), ("v", 2)])
def test_too_few_dimensions_names_the_argument_and_its_shape(name, pos):
    args = [Q, K, V]
    args[pos] = args[pos][0]  # drop to 1-D
    with pytest.raises(ValueError, match=rf"{name} must have at least 2 dimensions .* got shape \({args[pos].shape[0]},\)"):
        scaled_dot_product_attention(*args)


def test_mask_that_does_not_broadcast_names_both_shapes():
    with pytest.raises(ValueError, match=esc("mask of shape (4, 4) does not broadcast to the scores shape (4, 5)")):
        scaled_dot_product_attention(Q, K, V, mask=np.ones((4, 4), dtype=bool))


def test_mask_with_more_dimensions_than_the_scores_is_rejected():
    with pytest.raises(ValueError, match=esc("mask of shape (2, 4, 5) does not broadcast to the scores shape (4, 5)")):
        scaled_dot_product_attention(Q, K, V, mask=np.ones((2, 4, 5), dtype=bool))


@pytest.mark.parametrize("mask", [np.ones((4, 5)), np.zeros((4, 5), dtype=int), np.where(np.ones((4, 5)), 0.0, -np.inf)])
def test_non_boolean_mask_is_rejected_with_its_dtype(mask):
    with pytest.raises(ValueError, match=rf"mask must be boolean \(True = may attend\), got dtype {mask.dtype}"):
        scaled_dot_product_attention(Q, K, V, mask=mask)


@pytest.mark.parametrize("name,pos", [("q", 0), ("k", 1), ("v", 2)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_input_names_the_argument_and_the_index(name, pos, bad):
    args = [Q.copy(), K.copy(), V.copy()]
    args[pos][2, 1] = bad
    with pytest.raises(ValueError, match=rf"^{name} contains 1 non-finite value\(s\) \(NaN or inf\); the first is {bad} at index \(2, 1\)$"):
        scaled_dot_product_attention(*args)


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), "0.5", True, [0.5], np.array([0.5])])
def test_bad_scale_is_rejected_and_named(scale):
    with pytest.raises(ValueError, match=r"scale must be a finite number, got "):
        scaled_dot_product_attention(Q, K, V, scale=scale)


def test_scores_that_overflow_are_reported_with_the_row_and_the_fix():
    big = np.full((2, 2), 1e20, dtype=np.float32)  # finite, but 1e20 * 1e20 overflows float32
    with pytest.raises(ValueError, match=r"the scores q @ k\^T \* scale overflow float32 \(first in query row \(0,\)\): they are too large for the dtype; rescale q or k, or pass a smaller scale"):
        scaled_dot_product_attention(big, big, big)


def test_non_numeric_and_complex_inputs_are_rejected():
    with pytest.raises(ValueError, match=r"q must hold numbers, got dtype bool"):
        scaled_dot_product_attention(Q > 0, K, V)
    with pytest.raises(ValueError, match=r"k must be real, got dtype complex128"):
        scaled_dot_product_attention(Q, K + 0j, V)


# --------------------------------------------------------------------------- #
# softmax
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_softmax_rejects_nan_and_plus_inf_by_index(bad):
    x = np.zeros((2, 3))
    x[1, 2] = bad
    with pytest.raises(ValueError, match=rf"x contains 1 non-finite value\(s\) \(NaN or inf\); the first is {bad} at index \(1, 2\)"):
        softmax(x)


def test_softmax_accepts_minus_inf_as_masked():
    w = softmax(np.array([[0.0, -np.inf, 0.0], [-np.inf, -np.inf, -np.inf]]))
    np.testing.assert_array_equal(w, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])


def test_softmax_rejects_a_scalar_and_an_axis_out_of_range():
    with pytest.raises(ValueError, match=esc("softmax needs at least one axis, got a scalar (shape ())")):
        softmax(1.0)
    with pytest.raises(ValueError, match=esc("axis 2 is out of range for x of shape (2, 3)")):
        softmax(np.zeros((2, 3)), axis=2)


def test_softmax_over_an_empty_axis_names_the_axis_and_shape():
    with pytest.raises(ValueError, match=esc("softmax over an empty axis: axis -1 of x with shape (2, 0) has length 0")):
        softmax(np.zeros((2, 0)))


def test_softmax_mask_errors_name_x():
    with pytest.raises(ValueError, match=esc("mask of shape (3,) does not broadcast to the x shape (2, 2)")):
        softmax(np.zeros((2, 2)), mask=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="mask must be boolean"):
        softmax(np.zeros((2, 2)), mask=np.ones((2, 2)))


# --------------------------------------------------------------------------- #
# masks
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("n", [0, -1, 2.0, True, "3"])
def test_causal_mask_needs_a_positive_integer(n):
    with pytest.raises(ValueError, match=rf"n must be a positive integer, got {re.escape(repr(n))}"):
        causal_mask(n)


@pytest.mark.parametrize(
    "lengths,n,message",
    [
        ([2, 4], 3, "lengths[1] = 4 is outside [0, n] = [0, 3]"),
        ([-1, 2], 3, "lengths[0] = -1 is outside [0, n] = [0, 3]"),
        ([[1, 2]], 3, "lengths must be 1-D (one length per sequence), got shape (1, 2)"),
        ([1.5, 2.0], 3, "lengths must be integers, got dtype float64"),
        ([1, 2], 0, "n must be a positive integer, got 0"),
    ],
)
def test_padding_mask_rejects_bad_lengths(lengths, n, message):
    with pytest.raises(ValueError, match=esc(message)):
        padding_mask(lengths, n)


# --------------------------------------------------------------------------- #
# heads
# --------------------------------------------------------------------------- #
def test_d_model_not_divisible_by_n_heads_names_both_numbers():
    with pytest.raises(ValueError, match=r"d_model=10 is not divisible by n_heads=3"):
        MultiHeadAttention(d_model=10, n_heads=3)
    with pytest.raises(ValueError, match=r"d_model=768 is not divisible by n_heads=7"):
        check_divisible(768, 7)


def test_split_heads_names_the_size_that_does_not_divide():
    with pytest.raises(ValueError, match=r"d_model=6 is not divisible by n_heads=4"):
        split_heads(np.zeros((2, 6)), 4)


@pytest.mark.parametrize("n_heads", [0, -2, 1.5, True])
def test_n_heads_must_be_a_positive_integer(n_heads):
    with pytest.raises(ValueError, match=rf"n_heads must be a positive integer, got {re.escape(repr(n_heads))}"):
        MultiHeadAttention(d_model=8, n_heads=n_heads)


def test_split_and_merge_heads_name_the_shape_with_too_few_dimensions():
    with pytest.raises(ValueError, match=esc("x must have at least 2 dimensions (..., n, d), got shape (6,)")):
        split_heads(np.zeros(6), 2)
    with pytest.raises(ValueError, match=esc("x must have at least 3 dimensions (..., h, n, d_head), got shape (4, 6)")):
        merge_heads(np.zeros((4, 6)))


def test_multi_head_rejects_wrong_d_model_and_a_mask_that_does_not_broadcast():
    mha = MultiHeadAttention(d_model=8, n_heads=2)
    with pytest.raises(ValueError, match=esc("x has last dimension 6 but the layer expects d_model=8 (x has shape (3, 6))")):
        mha(np.zeros((3, 6)))
    with pytest.raises(ValueError, match=esc("mask of shape (4, 4) does not broadcast to the scores shape (3, 3)")):
        mha(np.zeros((3, 8)), mask=np.ones((4, 4), dtype=bool))
    with pytest.raises(ValueError, match=esc("x must have at least 2 dimensions (..., n, d_model), got shape (8,)")):
        mha(np.zeros(8))


# --------------------------------------------------------------------------- #
# SelfAttention
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("kwargs,name", [(dict(d_model=0, d_k=2), "d_model"), (dict(d_model=4, d_k=-1), "d_k"),
                                         (dict(d_model=4, d_k=2, d_v=2.5), "d_v")])
def test_self_attention_sizes_must_be_positive_integers(kwargs, name):
    with pytest.raises(ValueError, match=rf"{name} must be a positive integer"):
        SelfAttention(**kwargs)


def test_self_attention_names_the_wrong_input_size_and_nan_position():
    layer = SelfAttention(d_model=4, d_k=3)
    with pytest.raises(ValueError, match=esc("x has last dimension 5 but the layer expects d_model=4 (x has shape (2, 5))")):
        layer(np.zeros((2, 5)))
    x = np.zeros((3, 4))
    x[2, 3] = np.nan
    with pytest.raises(ValueError, match=esc("x contains 1 non-finite value(s) (NaN or inf); the first is nan at index (2, 3)")):
        layer(x)


def test_self_attention_from_matrices_names_mismatched_matrices():
    with pytest.raises(ValueError, match=esc("W_q, W_k and W_v must have the same number of rows d_model, got (4, 2), (4, 2), (5, 2)")):
        SelfAttention.from_matrices(np.ones((4, 2)), np.ones((4, 2)), np.ones((5, 2)))
    with pytest.raises(ValueError, match=esc("W_q and W_k must have the same number of columns d_k, got (4, 2) and (4, 3)")):
        SelfAttention.from_matrices(np.ones((4, 2)), np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=esc("W_v must be 2-D (d_model, d_out), got shape (4,)")):
        SelfAttention.from_matrices(np.ones((4, 2)), np.ones((4, 2)), np.ones(4))
    w_k = np.ones((4, 2))
    w_k[3, 1] = np.inf
    with pytest.raises(ValueError, match=esc("W_k contains 1 non-finite value(s) (NaN or inf); the first is inf at index (3, 1)")):
        SelfAttention.from_matrices(np.ones((4, 2)), w_k, np.ones((4, 2)))


# --------------------------------------------------------------------------- #
# selfattn.nn
# --------------------------------------------------------------------------- #
def test_nn_attention_names_mismatched_shapes():
    q, k, v = (torch.from_numpy(a) for a in (Q, K, V))
    with pytest.raises(ValueError, match=esc("q and k must have the same last dimension d_k, got q (4, 3) (d_k=3) and k (5, 2) (d_k=2)")):
        snn.scaled_dot_product_attention(q, k[:, :2], v)
    with pytest.raises(ValueError, match=esc("k and v must have the same number of rows n_k (one value per key), got k (5, 3) (n_k=5) and v (4, 2) (n_k=4)")):
        snn.scaled_dot_product_attention(q, k, v[:4])
    with pytest.raises(ValueError, match=r"mask must be boolean \(True = may attend\), got dtype torch.float64"):
        snn.scaled_dot_product_attention(q, k, v, mask=torch.zeros(4, 5, dtype=torch.float64))


def test_nn_layers_name_the_wrong_input_size():
    with pytest.raises(ValueError, match=esc("x has last dimension 5 but the layer expects d_model=4")):
        snn.SelfAttention(4, 2)(torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=esc("x has last dimension 6 but the layer expects d_model=8")):
        snn.MultiHeadAttention(8, 2)(torch.zeros(3, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"d_model=8 is not divisible by n_heads=3"):
        snn.MultiHeadAttention(8, 3)


# --------------------------------------------------------------------------- #
# example
# --------------------------------------------------------------------------- #
def test_embed_names_the_unknown_word_and_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown word\(s\) \['unicorn'\]; known words: a, and, because, .*cat"):
        embed("The unicorn sat")
    with pytest.raises(ValueError, match=r"need at least one word, got none"):
        embed([])
