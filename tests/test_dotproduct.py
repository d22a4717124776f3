"""Tests of selfattn.dotproduct: the dot product split into lengths and angle (hand-computed values).

The pictures (plot_query_and_keys, plot_dot_vs_angle) are tested in test_plotting.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfattn.dotproduct import dot_parts


def test_dot_parts_of_perpendicular_vectors_is_zero_at_90_degrees():
    p = dot_parts([3.0, 0.0], [0.0, 5.0])
    assert p.dot == 0.0 and p.norm_q == 3.0 and p.norm_k == 5.0
    assert p.cos == 0.0 and p.angle_deg == pytest.approx(90.0)


def test_dot_parts_of_opposite_vectors_is_180_degrees():
    p = dot_parts([1.0, 2.0], [-2.0, -4.0])
    assert p.dot == pytest.approx(-10.0)  # -2 - 8
    assert p.angle_deg == pytest.approx(180.0)


def test_dot_parts_reassemble_the_dot_product():
    # |q| = sqrt(8.25), |k| = sqrt(2), q.k = 4 for "it" and "cat" in the running example
    p = dot_parts([2.0, 2.0, 0.5], [1.0, 1.0, 0.0])
    assert p.dot == 4.0
    assert p.norm_q == pytest.approx(math.sqrt(8.25))
    assert p.norm_k == pytest.approx(math.sqrt(2.0))
    assert p.norm_q * p.norm_k * p.cos == pytest.approx(4.0)
    assert p.cos == pytest.approx(4.0 / math.sqrt(16.5))


def test_dot_parts_of_parallel_vectors_clips_cos_to_one():
    p = dot_parts([0.1, 0.2, 0.3], [0.2, 0.4, 0.6])
    assert p.cos <= 1.0 and p.angle_deg == pytest.approx(0.0, abs=1e-6)


def test_dot_parts_has_no_angle_for_zero_vector():
    p = dot_parts([0.0, 0.0, 0.0], [1.0, 0.0, 0.0])
    assert p.dot == 0.0 and p.cos is None and p.angle_deg is None


@pytest.mark.parametrize("q, k, msg", [
    ([1.0, 2.0], [1.0, 2.0, 3.0], r"q \(2,\) and k \(3,\)"),
    ([[1.0, 2.0]], [1.0, 2.0], r"1-D\), got shape \(1, 2\)"),
    ([1.0, float("nan")], [1.0, 2.0], "NaN"),
    ([1.0, 2.0], [1.0, float("inf")], r"^k contains 1 non-finite"),
    ([True, False], [1.0, 0.0], r"^q must hold numbers, got dtype bool"),
    ([1.0, 2.0], [1 + 1j, 0.0], r"^k must be real"),
    (["a", "b"], [1.0, 0.0], r"^q must hold numbers"),
    ([], [], r"^q must have at least one entry"),
    (2.0, [1.0], r"^q must be one vector \(1-D\), got shape \(\)"),
])
def test_dot_parts_rejects_bad_input_naming_shapes(q, k, msg):
    with pytest.raises(ValueError, match=msg):
        dot_parts(q, k)


def test_dot_parts_of_float32_vectors_is_computed_in_float64():
    # by hand, in Python floats (float64): three products of the float32 number nearest 0.1
    x = float(np.float32(0.1))
    p = dot_parts(np.full(3, 0.1, dtype=np.float32), np.full(3, 0.1, dtype=np.float32))
    assert p.dot == pytest.approx(x * x * 3, rel=1e-15)
    assert p.norm_q == pytest.approx(math.sqrt(3 * x * x), rel=1e-15)


def test_dot_parts_of_long_but_representable_vectors_keeps_lengths_and_angle():
    # |q| = 1e200 and |k| = 1e-200 are ordinary float64 numbers; q . k = 1 by hand
    p = dot_parts([1e200, 0.0], [1e-200, 0.0])
    assert p.norm_q == 1e200 and p.norm_k == 1e-200 and p.dot == pytest.approx(1.0)
    assert p.cos == pytest.approx(1.0) and p.angle_deg == pytest.approx(0.0)


@pytest.mark.parametrize("q, k", [([1e200, 1e200], [1e200, 0.0]), ([1e300, 0.0], [-1e300, 1.0])])
def test_dot_parts_refuses_vectors_whose_dot_product_overflows(q, k):
    with pytest.raises(ValueError, match=r"^q \. k is not finite \(NaN or inf\): it overflows float64 .*rescale q or k"):
        dot_parts(q, k)
