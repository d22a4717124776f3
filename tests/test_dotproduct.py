"""Tests of selfattn.dotproduct: the dot product split into lengths and angle (hand-computed values)."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from selfattn.dotproduct import dot_parts, plot_dot_vs_angle, plot_query_and_keys  # noqa: E402


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
])
def test_dot_parts_rejects_bad_input_naming_shapes(q, k, msg):
    with pytest.raises(ValueError, match=msg):
        dot_parts(q, k)


def test_plot_query_and_keys_labels_each_key_with_full_dot_product():
    # the third dimension counts in the label even though only two are drawn: 1*0 + 0*0 + 2*3 = 6
    ax = plot_query_and_keys([1.0, 0.0, 2.0], [[0.0, 1.0, 3.0]], ["x"])
    assert "x  (q·k = 6.00)" in [t.get_text() for t in ax.texts]


def test_plot_query_and_keys_rejects_mismatched_keys():
    with pytest.raises(ValueError, match=r"shape \(m, 3\)"):
        plot_query_and_keys([1.0, 0.0, 2.0], [[0.0, 1.0]], ["x"])
    with pytest.raises(ValueError, match="2 labels for 1 keys"):
        plot_query_and_keys([1.0, 0.0], [[0.0, 1.0]], ["x", "y"])


def test_plot_dot_vs_angle_draws_cos_curves_scaled_by_lengths():
    ax = plot_dot_vs_angle(2.0, [1.0, 3.0], marks=[("cat", 10.0, 4.0)])
    y1, y3 = ax.lines[0].get_ydata(), ax.lines[1].get_ydata()
    assert y1[0] == pytest.approx(2.0) and y1[-1] == pytest.approx(-2.0) and y1[90] == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(y3, 3 * y1)


def test_plot_dot_vs_angle_rejects_negative_length():
    with pytest.raises(ValueError, match="lengths must be >= 0"):
        plot_dot_vs_angle(1.0, [-1.0])


def test_plot_dot_vs_angle_moves_a_label_by_the_given_offset():
    ax = plot_dot_vs_angle(1.0, [1.0], marks=[("a", 0.0, 1.0), ("b", 90.0, 0.0, (6, -14))])
    offsets = {t.get_text(): t.xyann for t in ax.texts}
    assert offsets == {"a": (6, 6), "b": (6, -14)}
