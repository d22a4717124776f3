"""The experiments behind "why divide by sqrt(d_k)": checked against hand computations and PyTorch."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch

from selfattn import softmax
from selfattn.scale import (
    D_KS,
    dot_product_samples,
    dot_product_variance,
    entropy,
    expected_dot_product_variance,
    naive_softmax,
    scaling_sweep,
    softmax_jacobian,
)


# --------------------------------------------------------------------------- #
# variance of q . k
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("d_k, scale_q, scale_k", [(1, 1.0, 1.0), (2, 1.0, 1.0), (3, 2.0, 1.0), (2, 0.5, 3.0)])
def test_expected_variance_matches_exact_enumeration(d_k, scale_q, scale_k):
    # Entries of q and k are +-scale with probability 1/2 each (mean 0, variance scale**2).
    # Enumerate all 4**d_k equally likely (q, k) pairs and compute Var(q . k) exactly by hand.
    signs = list(itertools.product([-1.0, 1.0], repeat=d_k))
    dots = [scale_q * scale_k * sum(a * b for a, b in zip(qs, ks)) for qs in signs for ks in signs]
    mean = sum(dots) / len(dots)
    exact = sum((x - mean) ** 2 for x in dots) / len(dots)
    assert expected_dot_product_variance(d_k, scale_q**2, scale_k**2) == pytest.approx(exact)


def test_measured_variance_is_the_sample_variance_of_the_dot_products():
    d_k, n = 5, 50
    rng = np.random.default_rng([7, d_k])  # the documented seeding
    q = rng.standard_normal((n, d_k))
    k = rng.standard_normal((n, d_k))
    dots = [sum(float(q[s, i] * k[s, i]) for i in range(d_k)) for s in range(n)]  # loop, by hand
    mean = sum(dots) / n
    by_hand = sum((x - mean) ** 2 for x in dots) / n
    assert dot_product_samples(d_k, n_samples=n, seed=7) == pytest.approx(np.array(dots))
    assert dot_product_variance(d_k, n_samples=n, seed=7) == pytest.approx(by_hand)


@pytest.mark.parametrize("d_k", D_KS)
def test_measured_variance_of_q_dot_k_grows_like_d_k(d_k):
    n = 20_000
    # Var(q.k) = d_k and Var((q.k)^2) = 2 d_k^2 + 6 d_k for standard normals:
    # allow 5 standard errors of the sample variance.
    tol = 5 * math.sqrt((2 * d_k**2 + 6 * d_k) / n)
    assert abs(dot_product_variance(d_k, n_samples=n) - d_k) < tol


def test_samples_are_reproducible_and_seed_dependent():
    a = dot_product_samples(16, n_samples=10, seed=3)
    assert np.array_equal(a, dot_product_samples(16, n_samples=10, seed=3))
    assert not np.array_equal(a, dot_product_samples(16, n_samples=10, seed=4))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_bad_d_k_is_rejected_with_its_value(bad):
    with pytest.raises(ValueError, match="d_k"):
        dot_product_samples(bad)
    with pytest.raises(ValueError, match="d_k"):
        expected_dot_product_variance(bad)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), True, "1", None])
def test_a_variance_that_is_not_a_finite_number_at_least_zero_is_rejected(bad):
    with pytest.raises(ValueError, match="^var_q"):
        expected_dot_product_variance(4, var_q=bad)
    with pytest.raises(ValueError, match="^var_k"):
        expected_dot_product_variance(4, var_k=bad)


@pytest.mark.parametrize("bad", [None, True, -1, 1.5, "0"])
def test_a_seed_must_be_a_whole_number_at_least_zero(bad):
    # None would draw new vectors on every run, True would be read as the seed 1
    with pytest.raises(ValueError, match="^seed must be"):
        dot_product_samples(4, n_samples=3, seed=bad)
    with pytest.raises(ValueError, match="^seed must be"):
        scaling_sweep([4], n_samples=3, seed=bad)


# --------------------------------------------------------------------------- #
# softmax Jacobian and entropy
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_softmax_jacobian_matches_torch_autograd(seed):
    s = np.random.default_rng(seed).normal(scale=3.0, size=6)
    expected = torch.autograd.functional.jacobian(
        lambda t: torch.softmax(t, dim=-1), torch.from_numpy(s)
    ).numpy()
    np.testing.assert_allclose(softmax_jacobian(softmax(s)), expected, atol=1e-12)


def test_softmax_jacobian_works_on_a_batch_of_rows():
    s = np.random.default_rng(5).normal(size=(3, 4))
    expected = np.stack([
        torch.autograd.functional.jacobian(lambda t: torch.softmax(t, dim=-1), torch.from_numpy(row)).numpy()
        for row in s
    ])
    jac = softmax_jacobian(softmax(s))
    assert jac.shape == (3, 4, 4)
    np.testing.assert_allclose(jac, expected, atol=1e-12)


def test_softmax_jacobian_of_two_equal_weights_is_a_quarter():
    # By hand: w = (1/2, 1/2): w_i (1 - w_i) = 1/4 on the diagonal, -w_i w_j = -1/4 off it.
    np.testing.assert_array_equal(softmax_jacobian([0.5, 0.5]), [[0.25, -0.25], [-0.25, 0.25]])


def test_softmax_jacobian_vanishes_for_one_hot_weights():
    assert not softmax_jacobian([0.0, 1.0, 0.0]).any()


@pytest.mark.parametrize("w, message", [
    ([0.5, np.nan], r"^w contains 1 non-finite"),
    (0.5, r"^w must have at least 1 dimensions"),
    ([0.5 + 0j, 0.5], r"^w must be real"),
    (["a", "b"], r"^w must hold numbers"),
])
def test_softmax_jacobian_rejects_bad_weights_naming_w(w, message):
    with pytest.raises(ValueError, match=message):
        softmax_jacobian(w)


def test_softmax_jacobian_refuses_a_tensor_with_the_fix():
    with pytest.raises(ValueError, match=r"^w is a torch.Tensor.*w.detach\(\).numpy\(\)"):
        softmax_jacobian(torch.tensor([0.5, 0.5]))


def test_entropy_of_uniform_weights_is_log_n_and_of_one_hot_is_zero():
    assert float(entropy(np.full(8, 1 / 8))) == pytest.approx(math.log(8))
    assert float(entropy([0.0, 1.0, 0.0])) == 0.0
    # by hand: -(0.5 ln 0.5 + 0.25 ln 0.25 * 2) = 1.5 ln 2
    assert float(entropy([0.5, 0.25, 0.25])) == pytest.approx(1.5 * math.log(2))


@pytest.mark.parametrize("w, kwargs, message", [
    ([1.5, -0.5], {}, r"^w must be non-negative"),
    ([0.5, np.inf], {}, r"^w contains 1 non-finite"),
    (1.0, {}, r"^w must have at least 1 dimensions"),
    ([0.5, 0.5], dict(axis=1), r"^axis 1 is out of range for w of shape \(2,\)"),
    ([0.5, 0.5], dict(axis=None), r"^axis must be one whole number, got None"),
    ([0.5, 0.5], dict(axis=0.0), r"^axis must be one whole number, got 0.0"),
])
def test_entropy_rejects_bad_input_naming_it(w, kwargs, message):
    with pytest.raises(ValueError, match=message):
        entropy(w, **kwargs)


def test_entropy_sums_over_the_axis_it_is_given():
    # by hand: column 0 is (1/2, 1/2) -> ln 2; column 1 is (1, 0) -> 0
    np.testing.assert_allclose(entropy([[0.5, 1.0], [0.5, 0.0]], axis=0), [math.log(2), 0.0])


# --------------------------------------------------------------------------- #
# naive softmax overflows; selfattn.softmax does not
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("big", [1000.0, 1e30])
def test_naive_softmax_overflows_where_stable_softmax_does_not(big):
    x = np.array([big, 0.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        naive = naive_softmax(x)
    assert np.isnan(naive[0])
    assert any("overflow" in str(w.message) for w in caught)
    np.testing.assert_array_equal(softmax(x), [1.0, 0.0])


@pytest.mark.parametrize("x, axis, message", [
    ([1.0, np.nan], -1, r"^x contains 1 non-finite"),
    ([1.0, 2.0], 1, r"^axis 1 is out of range for x of shape \(2,\)"),
    ([1.0, 2.0], "last", r"^axis must be one whole number"),
    (3.0, -1, r"scalar"),
])
def test_naive_softmax_rejects_bad_input_naming_it(x, axis, message):
    with pytest.raises(ValueError, match=message):
        naive_softmax(x, axis=axis)


def test_naive_softmax_agrees_with_torch_on_small_scores():
    x = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, 0.0]])
    np.testing.assert_allclose(naive_softmax(x), torch.softmax(torch.from_numpy(x), dim=-1).numpy())


# --------------------------------------------------------------------------- #
# the sweep
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def sweeps():
    kwargs = dict(d_ks=(1, 16, 256, 1024), n_keys=10, n_samples=300, seed=0)
    return scaling_sweep(scaled=False, **kwargs), scaling_sweep(scaled=True, **kwargs)


def test_unscaled_scores_have_variance_near_d_k_and_scaled_near_one(sweeps):
    raw, fixed = sweeps
    np.testing.assert_allclose(raw.score_variance / raw.d_k, 1.0, rtol=0.15)
    np.testing.assert_allclose(fixed.score_variance, 1.0, rtol=0.15)


def test_unscaled_softmax_saturates_as_d_k_grows(sweeps):
    raw, _ = sweeps
    assert np.all(np.diff(raw.max_weight) > 0)
    assert np.all(np.diff(raw.entropy) < 0)
    assert raw.max_weight[-1] > 0.9
    assert raw.entropy[-1] < 0.2 * math.log(raw.n_keys)


def test_scaled_softmax_does_not_saturate(sweeps):
    _, fixed = sweeps
    assert np.all(fixed.max_weight < 0.5)
    assert np.all(fixed.entropy > 0.75 * math.log(fixed.n_keys))


def test_unscaled_gradients_vanish_and_scaled_ones_do_not(sweeps):
    raw, fixed = sweeps
    assert raw.grad_norm[-1] < 1e-3 * raw.grad_norm[0]
    assert fixed.grad_norm.min() > 0.5 * fixed.grad_norm.max()


def test_sweeps_with_and_without_scale_agree_at_d_k_one(sweeps):
    # 1/sqrt(1) = 1: the same seeded vectors give the same numbers.
    raw, fixed = sweeps
    assert raw.max_weight[0] == fixed.max_weight[0]


def test_sweep_rejects_a_single_key_and_an_empty_list():
    with pytest.raises(ValueError, match="n_keys"):
        scaling_sweep([4], n_keys=1)
    with pytest.raises(ValueError, match="d_ks"):
        scaling_sweep([])


@pytest.mark.parametrize("kwargs, message", [
    (dict(d_ks=64), r"^d_ks must be a list of key sizes"),
    (dict(d_ks="64"), r"^d_ks must be a list of key sizes"),
    (dict(d_ks=[4, 0]), r"^each d_k must be"),
    (dict(d_ks=[4], scaled="no"), r"^scaled must be True or False, got 'no'"),
    (dict(d_ks=[4], scaled=0), r"^scaled must be True or False, got 0"),
    (dict(d_ks=[4], n_samples=0), r"^n_samples must be"),
])
def test_sweep_rejects_bad_arguments_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        scaling_sweep(n_samples=kwargs.pop("n_samples", 5), **kwargs)


@pytest.mark.parametrize("fn", [softmax_jacobian, entropy])
@pytest.mark.parametrize("w", [[2.0, -1.0], [1e200, 0.0], [0.5, 1.5]], ids=["negative", "huge", "above one"])
def test_weight_functions_refuse_values_outside_zero_to_one(fn, w):
    with pytest.raises(ValueError, match=r"^w must be non-negative and at most 1"):
        fn(w)


def test_expected_variance_refuses_variances_whose_product_overflows():
    with pytest.raises(ValueError, match=r"^d_k \* var_q \* var_k is not finite"):
        expected_dot_product_variance(4, var_q=1e308, var_k=1e308)


def test_a_variance_needs_at_least_two_samples():
    with pytest.raises(ValueError, match=r"^n_samples must be a whole number >= 2, got 1"):
        dot_product_variance(4, n_samples=1)
