"""The pictures of the chapter "Where is each word? Positions": plot_position_map and
plot_score_by_distance draw what they are given, legibly, and refuse bad input by name."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from selfattn.plotting import (CMAP, MIN_FONT_SIZE, PAGE_WIDTH, plot_position_map,  # noqa: E402
                               plot_score_by_distance, smallest_font_on_page)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_the_position_map_shows_the_matrix_as_given_with_row_zero_on_top():
    values = np.arange(12.0).reshape(3, 4)
    ax = plot_position_map(values, title="t", xlabel="x", ylabel="y", colorbar_label="c")
    im = ax.images[0]
    np.testing.assert_array_equal(im.get_array(), values)
    assert im.get_cmap().name == CMAP
    assert im.get_clim() == (0.0, 11.0)
    assert ax.yaxis_inverted()  # imshow: row 0 at the top, as in a table
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("t", "x", "y")
    assert ax.figure.axes[-1].get_ylabel() == "c"  # the colour bar's label


def test_the_position_map_takes_a_colour_range_and_a_constant_matrix():
    ax = plot_position_map(np.zeros((2, 2)) + 0.5, vmin=-1.0, vmax=1.0)
    assert ax.images[0].get_clim() == (-1.0, 1.0)
    plot_position_map(np.ones((2, 3)))  # no range given, all equal: still drawn


def test_the_position_map_is_page_wide_and_legible():
    ax = plot_position_map(np.random.default_rng(0).normal(size=(128, 64)), title="a table")
    fig = ax.figure
    assert fig.get_size_inches()[0] <= PAGE_WIDTH
    assert smallest_font_on_page(fig) >= MIN_FONT_SIZE


@pytest.mark.parametrize("values, words", [
    (np.ones(3), "2-D"),
    (np.array([[1.0, np.nan]]), "NaN|finite"),
])
def test_the_position_map_refuses_bad_values_by_name(values, words):
    with pytest.raises(ValueError, match=words):
        plot_position_map(values)


def test_the_position_map_refuses_an_inverted_range():
    with pytest.raises(ValueError, match="vmax"):
        plot_position_map(np.ones((2, 2)), vmin=1.0, vmax=0.0)


def test_the_score_plot_draws_one_line_per_series_with_its_label_and_style():
    d = np.arange(5)
    scores = np.stack([d * 1.0, -d * 2.0, d ** 2.0])
    ax = plot_score_by_distance(d, scores, ["a", "b", "c"], title="t", ylabel="s")
    lines = ax.lines[1:]  # ax.lines[0] is the zero line
    assert [ln.get_label() for ln in lines] == ["a", "b", "c"]
    for ln, row in zip(lines, scores):
        np.testing.assert_array_equal(ln.get_xdata(), d)
        np.testing.assert_array_equal(ln.get_ydata(), row)
    assert len({ln.get_linestyle() for ln in lines}) == 3  # told apart without colour
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert (ax.get_title(), ax.get_ylabel()) == ("t", "s")


def test_the_score_plot_is_page_wide_and_legible():
    ax = plot_score_by_distance(np.arange(200), np.random.default_rng(1).normal(size=(2, 200)),
                                ["random q = k", "all ones"])
    assert ax.figure.get_size_inches()[0] <= PAGE_WIDTH
    assert smallest_font_on_page(ax.figure) >= MIN_FONT_SIZE


@pytest.mark.parametrize("distances, scores, labels, words", [
    (np.arange(3), np.ones((1, 4)), ["a"], "one column per distance"),
    (np.arange(3), np.ones((2, 3)), ["a"], "1 labels for 2 series"),
    (np.arange(3), np.ones((5, 3)), list("abcde"), "at most 4 series"),
    (np.ones((2, 2)), np.ones((1, 2)), ["a"], "distances must be 1-D"),
    (np.arange(3), np.ones(3), ["a"], "scores must be 2-D"),
    (np.arange(3), np.ones((1, 3)), "a", "labels"),
])
def test_the_score_plot_refuses_bad_input_by_name(distances, scores, labels, words):
    with pytest.raises(ValueError, match=words):
        plot_score_by_distance(distances, scores, labels)
