"""The pictures: values printed in the cells, colour-blind-safe colours, labelled axes and bars."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from selfattn.plotting import CMAP, attention_heatmap, token_weights_bar  # noqa: E402

# perceptually uniform maps designed to be read with colour-vision deficiencies
COLOUR_BLIND_SAFE = {"cividis", "viridis"}
W = np.array([[0.7, 0.2, 0.1], [0.25, 0.5, 0.25]])
QUERIES, KEYS = ["it", "was"], ["cat", "sat", "mat"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_heatmap_prints_every_value_in_its_cell():
    ax = attention_heatmap(W, QUERIES, KEYS)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert cells == {(0, 0): "0.70", (0, 1): "0.20", (0, 2): "0.10",
                     (1, 0): "0.25", (1, 1): "0.50", (1, 2): "0.25"}


def test_heatmap_uses_a_colour_blind_safe_colour_map():
    ax = attention_heatmap(W, QUERIES, KEYS)
    assert CMAP in COLOUR_BLIND_SAFE
    assert ax.images[0].get_cmap().name in COLOUR_BLIND_SAFE


def test_heatmap_labels_queries_on_rows_and_keys_on_columns():
    ax = attention_heatmap(W, QUERIES, KEYS, title="weights")
    assert [t.get_text() for t in ax.get_yticklabels()] == QUERIES
    assert [t.get_text() for t in ax.get_xticklabels()] == KEYS
    assert "query" in ax.get_ylabel() and "key" in ax.get_xlabel()
    assert ax.get_title() == "weights"
    np.testing.assert_array_equal(ax.images[0].get_array(), W)


def test_heatmap_text_stays_readable_on_dark_and_light_cells():
    ax = attention_heatmap(W, QUERIES, KEYS)
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours["0.70"] == "black" and colours["0.10"] == "white"  # cividis: light high, dark low


def test_heatmap_of_self_attention_uses_the_tokens_on_both_axes():
    ax = attention_heatmap(np.eye(3), KEYS, annotate=False)
    assert [t.get_text() for t in ax.get_xticklabels()] == KEYS == [t.get_text() for t in ax.get_yticklabels()]
    assert len(ax.texts) == 0


def test_heatmap_rejects_labels_that_do_not_match():
    with pytest.raises(ValueError, match=r"weights of shape \(2, 3\) do not match 2 query labels and 2 key labels"):
        attention_heatmap(W, QUERIES, KEYS[:2])
    with pytest.raises(ValueError, match=r"weights must be 2-D \(n_q, n_k\), got shape \(3,\)"):
        attention_heatmap(W[0], QUERIES)


def test_bar_chart_labels_every_bar_with_its_token_and_value():
    ax = token_weights_bar(W[0], KEYS, query="it")
    assert [t.get_text() for t in ax.get_xticklabels()] == KEYS
    assert [t.get_text() for t in ax.texts] == ["0.70", "0.20", "0.10"]
    assert [round(p.get_height(), 12) for p in ax.patches] == [0.7, 0.2, 0.1]
    assert ax.get_title() == 'Where "it" looks'
    assert ax.get_ylabel() == "attention weight"


def test_bar_chart_marks_the_largest_weight_without_relying_on_hue():
    ax = token_weights_bar([0.1, 0.6, 0.3], KEYS)
    widths = [p.get_linewidth() for p in ax.patches]
    assert widths.index(max(widths)) == 1 and widths.count(max(widths)) == 1
    assert ax.get_title() == "Attention weights"


def test_bar_chart_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"3 weights but 2 tokens"):
        token_weights_bar(W[0], KEYS[:2])
    with pytest.raises(ValueError, match=r"weights must be 1-D \(one query's row\), got shape \(2, 3\)"):
        token_weights_bar(W, KEYS)
