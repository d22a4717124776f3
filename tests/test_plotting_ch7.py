"""The figure chapter 7 draws from the model table (selfattn.plotting.plot_width_and_heads)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from selfattn.models import load_models  # noqa: E402
from selfattn.plotting import (MIN_FONT_SIZE, PAGE_WIDTH, plot_width_and_heads,  # noqa: E402
                               smallest_font_on_page)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_width_and_heads_is_legible_at_the_size_the_page_shows_it():
    fig = plot_width_and_heads(load_models()).figure
    assert smallest_font_on_page(fig) >= MIN_FONT_SIZE
    assert fig.get_size_inches()[0] <= PAGE_WIDTH


def test_width_and_heads_draws_one_labelled_point_per_distinct_size():
    rows = [{"d_model": 768, "n_heads": 12, "head_dim": 64},
            {"d_model": 768, "n_heads": 12, "head_dim": 64},  # same point twice
            {"d_model": 512, "n_heads": 4, "head_dim": 32},
            {"d_model": None, "n_heads": None, "head_dim": None}]  # GPT-4: left out
    ax = plot_width_and_heads(rows)
    points = sorted((float(x), float(y)) for line in ax.get_lines()[1:]
                    for x, y in zip(line.get_xdata(), line.get_ydata()))
    assert points == [(512.0, 4.0), (768.0, 12.0)]
    assert sorted(t.get_text() for t in ax.texts) == ["32", "64"]


def test_width_and_heads_refuses_rows_without_sizes():
    with pytest.raises(ValueError, match="no model with both d_model and n_heads"):
        plot_width_and_heads([{"d_model": None, "n_heads": None, "head_dim": None}])
    with pytest.raises(ValueError, match="rows must be a list of dicts"):
        plot_width_and_heads("GPT-2")
