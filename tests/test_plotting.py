"""The pictures: values printed in the cells, colour-blind-safe colours, labelled axes and bars,
one palette, and text that stays legible at the size the book's page shows a figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from selfattn.plotting import (  # noqa: E402
    CMAP,
    COLOURS,
    MIN_FONT_SIZE,
    PAGE_WIDTH,
    COLUMN_WIDTH,
    attention_heatmap,
    plot_attention_during_training,
    plot_cost,
    plot_dot_vs_angle,
    plot_head_weights,
    plot_keys_and_queries,
    plot_query_and_keys,
    plot_scaling_sweep,
    plot_training_loss,
    plot_value_before_after,
    plot_weight_matrices,
    smallest_font_on_page,
    subplots,
    token_weights_bar,
)
from selfattn.scale import scaling_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

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



# --------------------------------------------------------------------------- #
# legibility: every figure, at the size the page shows it
# --------------------------------------------------------------------------- #
TEN = [f"word{i}" for i in range(10)]
MEASUREMENTS = {"n": np.array([128, 256, 512]), "numpy_s": [1e-3, 4e-3, 16e-3], "torch_s": [1e-3, 3e-3, 9e-3],
                "plain_peak_bytes": [2e6, 8e6, 32e6], "blockwise_peak_bytes": [1e6, 2e6, 4e6]}
VECTORS = {"keys": [[1.0, 0.2], [0.1, 1.0], [0.9, 0.0]], "nouns": ["cat", "mat", "dog"],
           "queries": [[0.8, 0.1], [0.0, 0.9]], "adjectives": ["tired", "dirty"]}
KINDS = {"animal": ["cat", "dog", "tired"], "object": ["mat", "dirty"]}
RNG = np.random.default_rng(0)


def _figure(ax_or_axes):
    first = np.ravel(ax_or_axes)[0] if not hasattr(ax_or_axes, "figure") else ax_or_axes
    return first.figure


FIGURES = {
    "heatmap 10 x 10": lambda: attention_heatmap(np.full((10, 10), 0.1), TEN),
    "heatmap 10 x 16": lambda: attention_heatmap(np.full((10, 16), 0.06), TEN, TEN + TEN[:6]),
    "five heads of 10 words": lambda: plot_head_weights(RNG.dirichlet(np.ones(10), (5, 10)), TEN),
    "bars of 10 words": lambda: token_weights_bar(np.full(10, 0.1), TEN, query="it"),
    "query and keys": lambda: plot_query_and_keys([2.0, 2.0, 0.5], [[1, 1, 0], [1, 0, 0]], ["cat", "mat"]),
    "dot against angle": lambda: plot_dot_vs_angle(2.9, [1.41, 1.0], marks=[("cat", 45.0, 4.0)]),
    "value before and after": lambda: plot_value_before_after([0.5, 0, 0], [0.4, 0.5, 0.1], ["n", "a", "v"]),
    "scaling sweep": lambda: plot_scaling_sweep(scaling_sweep([1, 16, 256], n_samples=20, scaled=False),
                                                scaling_sweep([1, 16, 256], n_samples=20, scaled=True)),
    "cost": lambda: plot_cost(MEASUREMENTS),
    "training loss": lambda: plot_training_loss(np.geomspace(2.0, 0.01, 150)),
    "attention during training": lambda: plot_attention_during_training(
        {s: (RNG.dirichlet(np.ones(10), 2), RNG.dirichlet(np.ones(10), 2)) for s in (0, 10, 20, 40, 80, 150)},
        [SimpleNamespace(tokens=TEN), SimpleNamespace(tokens=TEN)]),
    "weight matrices": lambda: plot_weight_matrices(
        {n: -RNG.random((8, c)) for n, c in (("a", 2), ("b", 2), ("c", 8))},
        {n: RNG.random((8, c)) for n, c in (("a", 2), ("b", 2), ("c", 8))}, ["a", "b", "c"]),
    "keys and queries": lambda: plot_keys_and_queries(VECTORS, KINDS),
}


def test_smallest_font_on_page_shrinks_with_a_figure_wider_than_the_page():
    # saved with 0.1 inch of padding on each side: 2 * COLUMN_WIDTH - 0.2 saves at twice the column
    for width, expected in ((PAGE_WIDTH, 10.0), (2 * COLUMN_WIDTH - 0.2, 5.0),
                            (4 * COLUMN_WIDTH - 0.2, 2.5)):
        fig = plt.figure(figsize=(width, 2))
        fig.add_axes([0, 0, 1, 1]).set_axis_off()  # content spans the full width
        fig.text(0.5, 0.5, "x", fontsize=10)
        assert smallest_font_on_page(fig) == pytest.approx(expected)


def test_smallest_font_on_page_finds_the_smallest_text():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("title", fontsize=14)
    ax.text(0.5, 0.5, "small", fontsize=7)
    ax.text(0.5, 0.2, "   ", fontsize=3)  # blank text shows nothing, so it does not count
    assert smallest_font_on_page(fig) == 7


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_is_legible_at_the_size_the_page_shows_it(name):
    fig = _figure(FIGURES[name]())
    assert smallest_font_on_page(fig) >= MIN_FONT_SIZE
    assert fig.get_size_inches()[0] <= PAGE_WIDTH


def test_subplots_make_page_wide_figures():
    fig, axes = subplots(2, 3)
    assert tuple(fig.get_size_inches()) == (PAGE_WIDTH, 6.8)
    assert axes.shape == (2, 3)
    with pytest.raises(ValueError, match=r"ncols must be .*got 1.5"):
        subplots(1, 1.5)
    with pytest.raises(ValueError, match=r"height must be a positive number of inches, got -1.0"):
        subplots(1, 1, height=-1)


# --------------------------------------------------------------------------- #
# one palette, in one place
# --------------------------------------------------------------------------- #
def test_no_module_or_chapter_types_a_colour_outside_the_palette():
    hex_colour = re.compile(r"#[0-9A-Fa-f]{6}\b|#[0-9A-Fa-f]{3}\b")
    keywords = "color|colou?rs?|facecolor|edgecolor|markeredgecolor|markerfacecolor|cmap"
    named = re.compile(rf"""\b({keywords})\s*=\s*["'](?!none)[A-Za-z:]+["']""")
    sources = {str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "selfattn").rglob("*.py"))
               if p.name != "plotting.py"}
    for nb in sorted((ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        sources[nb.name] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    typed = [f"{name}: {m.group(0)}" for name, text in sources.items()
             for m in [*hex_colour.finditer(text), *named.finditer(text)]]
    assert typed == []


def test_the_two_series_colours_stay_apart_in_grey():
    # dark navy and gold must differ in lightness, so that they stay apart in every colour vision
    def lightness(colour):
        r, g, b = (int(to_hex(colour)[i:i + 2], 16) / 255 for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    assert lightness(COLOURS["gold"]) - lightness(COLOURS["dark"]) > 0.3


# --------------------------------------------------------------------------- #
# the pictures of each chapter
# --------------------------------------------------------------------------- #
def test_plot_query_and_keys_labels_each_key_with_full_dot_product():
    # the third dimension counts in the label even though only two are drawn: 1*0 + 0*0 + 2*3 = 6
    ax = plot_query_and_keys([1.0, 0.0, 2.0], [[0.0, 1.0, 3.0]], ["x"])
    assert "x  (q·k = 6.00)" in [t.get_text() for t in ax.texts]


def test_plot_query_and_keys_rejects_mismatched_keys():
    with pytest.raises(ValueError, match=r"keys must have shape \(m, 3\) to match the query \(3,\), "
                                         r"got \(1, 2\)"):
        plot_query_and_keys([1.0, 0.0, 2.0], [[0.0, 1.0]], ["x"])
    with pytest.raises(ValueError, match="2 labels for 1 keys"):
        plot_query_and_keys([1.0, 0.0], [[0.0, 1.0]], ["x", "y"])
    with pytest.raises(ValueError, match=r"query contains 1 non-finite value"):
        plot_query_and_keys([np.nan, 0.0], [[0.0, 1.0]], ["x"])
    with pytest.raises(ValueError, match=r"dims \(0, 2\) out of range for vectors of length 2"):
        plot_query_and_keys([1.0, 0.0], [[0.0, 1.0]], ["x"], dims=(0, 2))


def test_plot_dot_vs_angle_draws_cos_curves_scaled_by_lengths():
    ax = plot_dot_vs_angle(2.0, [1.0, 3.0], marks=[("cat", 10.0, 4.0)])
    y1, y3 = ax.lines[0].get_ydata(), ax.lines[1].get_ydata()
    assert y1[0] == pytest.approx(2.0) and y1[-1] == pytest.approx(-2.0)
    assert y1[90] == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(y3, 3 * y1)
    assert [line.get_linestyle() for line in ax.lines[:2]] == ["-", "--"]  # told apart without colour


def test_plot_dot_vs_angle_rejects_negative_or_missing_lengths():
    with pytest.raises(ValueError, match=r"lengths must be >= 0, got \|q\| = 1.0 and \|k\| = \[-1.0\]"):
        plot_dot_vs_angle(1.0, [-1.0])
    with pytest.raises(ValueError, match=r"norm_q must be a finite number, got nan"):
        plot_dot_vs_angle(float("nan"), [1.0])
    with pytest.raises(ValueError, match=r"each of norms_k must be a finite number, got None"):
        plot_dot_vs_angle(1.0, [None])


def test_plot_dot_vs_angle_moves_a_label_by_the_given_offset():
    ax = plot_dot_vs_angle(1.0, [1.0], marks=[("a", 0.0, 1.0), ("b", 90.0, 0.0, (6, -14))])
    offsets = {t.get_text(): t.xyann for t in ax.texts}
    assert offsets == {"a": (6, 6), "b": (6, -14)}


def test_value_before_after_draws_both_vectors_side_by_side_with_their_values():
    ax = plot_value_before_after([0.5, 0.0, 1.0], [0.25, 0.75, 0.1], ["noun", "animate", "action"], word="it")
    heights = [round(p.get_height(), 12) for p in ax.patches]
    assert heights == [0.5, 0.0, 1.0, 0.25, 0.75, 0.1]
    assert [t.get_text() for t in ax.texts] == ["0.50", "0.00", "1.00", "0.25", "0.75", "0.10"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["noun", "animate", "action"]
    hatches = {p.get_hatch() for p in ax.patches[3:]}
    assert hatches == {"//"} and ax.patches[0].get_hatch() is None  # told apart without colour


def test_value_before_after_shows_negative_entries():
    ax = plot_value_before_after([-0.5, 0.2], [0.1, -0.3], ["a", "b"])
    assert ax.get_ylim()[0] < -0.5


def test_value_before_after_rejects_vectors_that_do_not_match_the_names():
    with pytest.raises(ValueError, match=r"value \(2,\) and context \(3,\) must both have one entry per "
                                         r"dimension name, got 3 names"):
        plot_value_before_after([0.5, 0.0], [0.1, 0.2, 0.3], ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"context must be 1-D \(d_v,\), got shape \(1, 2\)"):
        plot_value_before_after([0.5, 0.0], [[0.1, 0.2]], ["a", "b"])


def test_cost_plot_draws_times_in_ms_and_memory_in_mib_on_log_axes():
    ax_t, ax_m = plot_cost(MEASUREMENTS)
    assert ax_t.get_xscale() == ax_t.get_yscale() == ax_m.get_yscale() == "log"
    np.testing.assert_allclose(ax_t.lines[0].get_ydata(), [1.0, 4.0, 16.0])  # seconds -> ms
    np.testing.assert_allclose(ax_m.lines[1].get_ydata(), np.array([1e6, 2e6, 4e6]) / 2**20)
    # the n^2 reference goes through the last point: 16 ms at n = 512, so 1 ms at n = 128
    np.testing.assert_allclose(ax_t.lines[2].get_ydata(), [1.0, 4.0, 16.0])
    assert [line.get_marker() for line in ax_t.lines[:2]] == ["o", "s"]


def test_cost_plot_names_what_is_missing_or_wrong():
    with pytest.raises(ValueError, match=r"measurements lack \['torch_s'\]"):
        plot_cost({k: v for k, v in MEASUREMENTS.items() if k != "torch_s"})
    with pytest.raises(ValueError, match=r"every series must hold one positive value per n"):
        plot_cost({**MEASUREMENTS, "torch_s": [1e-3, 2e-3]})
    with pytest.raises(ValueError, match=r"every series must hold one positive value per n"):
        plot_cost({**MEASUREMENTS, "numpy_s": [0.0, 1e-3, 2e-3]})


def test_training_loss_is_drawn_on_a_log_scale_and_refuses_non_positive_losses():
    ax = plot_training_loss([1.0, 0.1])
    assert ax.get_yscale() == "log" and ax.lines[0].get_ydata().tolist() == [1.0, 0.1]
    with pytest.raises(ValueError, match=r"losses must be positive, one per step"):
        plot_training_loss([1.0, 0.0])
    with pytest.raises(ValueError, match=r"losses contains 1 non-finite value"):
        plot_training_loss([1.0, np.nan])


def test_attention_during_training_shows_one_row_per_step_for_the_chosen_layer():
    watch = [SimpleNamespace(tokens=["the", "cat", "it"]), SimpleNamespace(tokens=["a", "mat", "it"])]
    snapshots = {10: ([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], [[0.0, 1.0, 0.0], [0.0, 0.9, 0.1]]),
                 0: ([[0.3, 0.3, 0.4], [0.3, 0.3, 0.4]], [[0.5, 0.5, 0.0], [0.4, 0.6, 0.0]])}
    ax1, ax2 = plot_attention_during_training(snapshots, watch, layer=2)
    assert [t.get_text() for t in ax1.get_yticklabels()] == ["step 0", "step 10"]  # sorted by step
    np.testing.assert_array_equal(ax2.images[0].get_array(), [[0.4, 0.6, 0.0], [0.0, 0.9, 0.1]])
    (ax,) = plot_attention_during_training(snapshots, watch[:1], layer=1)
    np.testing.assert_array_equal(ax.images[0].get_array(), [[0.3, 0.3, 0.4], [0.2, 0.3, 0.5]])
    with pytest.raises(ValueError, match=r"need layer 1 or 2, .* got layer=3"):
        plot_attention_during_training(snapshots, watch, layer=3)


def test_weight_matrices_share_one_colour_scale_and_print_every_entry():
    before = {"W_q": np.array([[0.5, -2.0]]), "W_v": np.zeros((1, 3))}
    after = {"W_q": np.array([[1.0, 0.0]]), "W_v": np.array([[0.1, 0.2, 0.3]])}
    fig = plot_weight_matrices(before, after, ["W_q", "W_v"])
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in heatmaps] == ["W_q\nbefore (1, 2)", "W_v\nbefore (1, 3)",
                                                    "W_q\nafter (1, 2)", "W_v\nafter (1, 3)"]
    # one scale for all, symmetric around 0 and as wide as the largest |entry|
    assert {ax.images[0].get_clim() for ax in heatmaps} == {(-2.0, 2.0)}
    assert [t.get_text() for t in heatmaps[3].texts] == ["0.1", "0.2", "0.3"]
    with pytest.raises(ValueError, match=r"matrix 'W_k' must exist with the same shape before and after"):
        plot_weight_matrices(before, after, ["W_k"])
    with pytest.raises(ValueError, match=r"matrix 'W_q' must exist with the same shape"):
        plot_weight_matrices(before, {**after, "W_q": np.zeros((2, 2))}, ["W_q"])


def test_keys_and_queries_mark_kinds_by_shape_and_label_every_point():
    ax = plot_keys_and_queries(VECTORS, KINDS)
    assert sorted(t.get_text() for t in ax.texts) == ["cat", "dirty", "dog", "mat", "tired"]
    animal_keys, animal_queries, object_keys, object_queries = ax.collections
    np.testing.assert_array_equal(animal_keys.get_offsets(), [[1.0, 0.2], [0.9, 0.0]])  # cat, dog
    np.testing.assert_array_equal(object_queries.get_offsets(), [[0.0, 0.9]])  # dirty
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["keys: animal nouns", 'queries of "it": animal adjectives',
                      "keys: object nouns", 'queries of "it": object adjectives']


def test_keys_and_queries_need_every_word_in_exactly_one_kind():
    with pytest.raises(ValueError, match=r"word 'dirty' must belong to exactly one of the kinds"):
        plot_keys_and_queries(VECTORS, {"animal": KINDS["animal"], "object": ["mat"]})
    with pytest.raises(ValueError, match=r"word 'cat' must belong to exactly one .* found in \['a', 'b'\]"):
        plot_keys_and_queries(VECTORS, {"a": KINDS["animal"] + KINDS["object"], "b": ["cat"]})
    with pytest.raises(ValueError, match=r"keys must have shape \(3, 2\), one row per word, got \(2, 2\)"):
        plot_keys_and_queries({**VECTORS, "keys": [[1.0, 0.0], [0.0, 1.0]]}, KINDS)


def test_heatmap_and_bars_refuse_non_finite_weights():
    with pytest.raises(ValueError, match=r"weights contains 1 non-finite value"):
        attention_heatmap([[0.5, np.nan]], ["a"], ["b", "c"])
    with pytest.raises(ValueError, match=r"weights contains 1 non-finite value"):
        token_weights_bar([0.5, np.inf], ["a", "b"])


def test_heatmap_without_colour_bar_draws_only_its_own_axes():
    ax = attention_heatmap(W, QUERIES, KEYS, colorbar=False)
    assert ax.figure.axes == [ax]
    ax2 = attention_heatmap(W, QUERIES, KEYS)
    assert len(ax2.figure.axes) == 2  # the heatmap and its colour bar


def test_head_weights_share_one_colour_scale_two_heads_per_row():
    w = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.2, 0.8], [0.4, 0.6]], [[0.5, 0.5], [0.5, 0.5]]])
    fig = plot_head_weights(w, ["a", "b"], ["first", "second", "third"])
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in heatmaps] == ["first", "second", "third"]
    assert {ax.images[0].get_clim() for ax in heatmaps} == {(0.0, 1.0)}  # one scale: the largest weight
    assert [ax.get_subplotspec().rowspan.start for ax in heatmaps] == [0, 0, 1]
    assert [t.get_text() for t in heatmaps[1].texts] == ["0.2", "0.8", "0.4", "0.6"]
    assert len(fig.axes) == 5  # three heads, the empty fourth slot, one shared colour bar


def test_head_weights_leave_masked_cells_blank_and_print_small_nonzero_ones():
    w = np.array([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.02, 0.03, 0.95]]])  # causal: 0 above
    fig = plot_head_weights(w, ["a", "b", "c"])
    ax = next(ax for ax in fig.axes if ax.images)
    # row by row, the masked zeros left out; 0.02 and 0.03 print as 0.0: small, not masked
    assert [t.get_text() for t in ax.texts] == ["1.0", "0.5", "0.5", "0.0", "0.0", "0.9"]


def test_a_plain_heatmap_prints_every_cell_unless_asked():
    w = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert len(attention_heatmap(w, ["a", "b"]).texts) == 4
    assert len(attention_heatmap(w, ["a", "b"], blank_zeros=True).texts) == 3


def test_head_weights_refuse_shapes_that_do_not_match():
    with pytest.raises(ValueError, match=r"weights must be 3-D \(h, n, n\), got shape \(2, 2\)"):
        plot_head_weights(np.eye(2), ["a", "b"])
    with pytest.raises(ValueError, match=r"weights of shape \(1, 2, 2\) need square \(n, n\) heads "
                                         r"with n = 3"):
        plot_head_weights(np.ones((1, 2, 2)) / 2, ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"2 titles for 1 heads"):
        plot_head_weights(np.ones((1, 2, 2)) / 2, ["a", "b"], ["x", "y"])


def test_keys_and_queries_labels_of_crowded_points_do_not_overlap():
    crowd = {"keys": [[0.0, 0.0], [0.01, 0.0], [0.0, 0.01]], "nouns": ["cat", "mat", "dog"],
             "queries": [[1.0, 1.0]], "adjectives": ["tired"]}  # far away: the three keys crowd
    ax = plot_keys_and_queries(crowd, KINDS)
    renderer = ax.figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == 4
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_plots_name_inputs_that_are_not_what_they_draw():
    with pytest.raises(ValueError, match=r"vectors lack \['keys'\]"):
        plot_keys_and_queries({k: v for k, v in VECTORS.items() if k != "keys"}, KINDS)
    with pytest.raises(ValueError, match=r"fig must be a matplotlib Figure, got NoneType"):
        smallest_font_on_page(None)
    with pytest.raises(ValueError, match=r"scaled must be a ScalingSweep from selfattn.scale.scaling_sweep"):
        plot_scaling_sweep(scaling_sweep([1, 4], n_samples=5, scaled=False), None)
    watch = [SimpleNamespace(tokens=["a", "b"])] * 2
    with pytest.raises(ValueError, match=r"the snapshots of steps \[0\] hold fewer rows than the 2 sentences"):
        plot_attention_during_training({0: ([[0.5, 0.5]], [[0.5, 0.5]])}, watch)


# --------------------------------------------------------------------------- the bad-input hunt
W22 = [[0.9, 0.1], [0.5, 0.5]]
HUNT = [
    ("heatmap tokens None", lambda: attention_heatmap(W22, None), "tokens must be a list of labels, got None"),
    ("heatmap tokens int", lambda: attention_heatmap(W22, 3), "tokens must be a list of labels, got 3"),
    ("heatmap key_tokens", lambda: attention_heatmap(W22, ["a", "b"], key_tokens=True),
     "key_tokens must be a list of labels, got True"),
    ("heatmap ax", lambda: attention_heatmap(W22, ["a", "b"], ax=1),
     "ax must be a matplotlib Axes (or None for a new figure), got int"),
    ("heatmap fmt", lambda: attention_heatmap(W22, ["a", "b"], fmt=None),
     "fmt must be a format for one number such as '{:.2f}', got None"),
    ("heatmap fmt spec", lambda: attention_heatmap(W22, ["a", "b"], fmt="{:q}"),
     "fmt must be a format for one number such as '{:.2f}', got '{:q}'"),
    ("heatmap fmt fields", lambda: attention_heatmap(W22, ["a", "b"], fmt="{} {}"),
     "fmt must be a format for one number such as '{:.2f}', got '{} {}'"),
    ("heatmap vmin", lambda: attention_heatmap(W22, ["a", "b"], vmin=None), "vmin must be a finite number, got None"),
    ("heatmap vmax", lambda: attention_heatmap(W22, ["a", "b"], vmax="1"), "vmax must be a finite number, got '1'"),
    ("heatmap vmax below vmin", lambda: attention_heatmap(W22, ["a", "b"], vmin=0.5, vmax=0.2),
     "vmax must be larger than vmin, got vmin=0.5 and vmax=0.2"),
    ("heatmap annotate", lambda: attention_heatmap(W22, ["a", "b"], annotate="no"),
     "annotate must be True or False, got 'no'"),
    ("heatmap colorbar", lambda: attention_heatmap(W22, ["a", "b"], colorbar=0), "colorbar must be True or False, got 0"),
    ("bars tokens", lambda: token_weights_bar([0.2, 0.8], None), "tokens must be a list of labels, got None"),
    ("bars ax", lambda: token_weights_bar([0.2, 0.8], ["a", "b"], ax="left"),
     "ax must be a matplotlib Axes (or None for a new figure), got str"),
    ("bars fmt", lambda: token_weights_bar([0.2, 0.8], ["a", "b"], fmt=1),
     "fmt must be a format for one number such as '{:.2f}', got 1"),
    ("heads tokens", lambda: plot_head_weights([W22], None), "tokens must be a list of labels, got None"),
    ("heads none", lambda: plot_head_weights(np.zeros((0, 2, 2)), ["a", "b"]),
     "the number of heads in weights must be a positive integer, got 0"),
    ("heads titles", lambda: plot_head_weights([W22], ["a", "b"], titles=1), "titles must be a list of labels, got 1"),
    ("heads fmt", lambda: plot_head_weights([W22], ["a", "b"], fmt="{:q}"),
     "fmt must be a format for one number such as '{:.1f}', got '{:q}'"),
    ("query labels", lambda: plot_query_and_keys([2.0, 2.0], [[1.0, 1.0]], None), "labels must be a list of labels, got None"),
    ("query dims None", lambda: plot_query_and_keys([2.0, 2.0], [[1.0, 1.0]], ["a"], dims=None),
     "dims must be two dimensions such as (0, 1), got None"),
    ("query dims three", lambda: plot_query_and_keys([2.0, 2.0], [[1.0, 1.0]], ["a"], dims=(0, 1, 1)),
     "dims must be two dimensions such as (0, 1), got (0, 1, 1)"),
    ("query dims float", lambda: plot_query_and_keys([2.0, 2.0], [[1.0, 1.0]], ["a"], dims=(0.0, 1.0)),
     "each of dims must be a whole number >= 0, got 0.0 (float)"),
    ("query dims negative", lambda: plot_query_and_keys([2.0, 2.0], [[1.0, 1.0]], ["a"], dims=(-1, 0)),
     "each of dims must be a whole number >= 0, got -1"),
    ("query dim_names", lambda: plot_query_and_keys([2.0, 2.0], [[1.0, 1.0]], ["a"], dim_names=("x",)),
     "dim_names must be two axis labels, got ('x',)"),
    ("query ax", lambda: plot_query_and_keys([2.0, 2.0], [[1.0, 1.0]], ["a"], ax=[]),
     "ax must be a matplotlib Axes (or None for a new figure), got list"),
    ("angle norms_k", lambda: plot_dot_vs_angle(1.0, None), "norms_k must be a list of key lengths, got None"),
    ("angle norms_k float", lambda: plot_dot_vs_angle(1.0, 2.0), "norms_k must be a list of key lengths, got 2.0"),
    ("angle marks", lambda: plot_dot_vs_angle(1.0, [1.0], marks=1),
     "marks must be a list of (label, angle_deg, dot) tuples, got 1"),
    ("angle mark short", lambda: plot_dot_vs_angle(1.0, [1.0], marks=[("a", 1.0)]),
     "each of marks must be (label, angle_deg, dot) or (label, angle_deg, dot, (dx, dy)), got ('a', 1.0)"),
    ("angle mark nan", lambda: plot_dot_vs_angle(1.0, [1.0], marks=[("a", float("nan"), 1.0)]),
     "the angle of mark 'a' must be a finite number, got nan"),
    ("angle mark offset", lambda: plot_dot_vs_angle(1.0, [1.0], marks=[("a", 1.0, 1.0, "x")]),
     "the offset of mark 'a' must be a pair of numbers (dx, dy) in points, got 'x'"),
    ("value dims", lambda: plot_value_before_after([0.5, 0.0], [0.4, 0.3], None), "dims must be a list of labels, got None"),
    ("value fmt", lambda: plot_value_before_after([0.5, 0.0], [0.4, 0.3], ["a", "b"], fmt=None),
     "fmt must be a format for one number such as '%.2f', got None"),
    ("value ax", lambda: plot_value_before_after([0.5, 0.0], [0.4, 0.3], ["a", "b"], ax=True),
     "ax must be a matplotlib Axes (or None for a new figure), got bool"),
    ("cost measurements", lambda: plot_cost(None), "measurements must be a dict of series (what cost_measurements "
                                                  "returns), got NoneType"),
    ("cost axes", lambda: plot_cost(COST, axes=[1, 2]), "axes must be 2 matplotlib Axes, got [1, 2]"),
    ("loss ax", lambda: plot_training_loss([1.0, 0.5], ax=1),
     "ax must be a matplotlib Axes (or None for a new figure), got int"),
    ("training snapshots", lambda: plot_attention_during_training(None, WATCH1),
     "snapshots must be a dict of step -> (layer-1 rows, layer-2 rows), got NoneType"),
    ("training snapshot pair", lambda: plot_attention_during_training({0: ([[0.5, 0.5]],)}, WATCH1),
     "snapshots[0] must be a pair (layer-1 rows, layer-2 rows)"),
    ("training layer", lambda: plot_attention_during_training(SNAPS1, WATCH1, layer=2.0),
     "layer must be a positive integer, got 2.0 (float)"),
    ("training watch", lambda: plot_attention_during_training(SNAPS1, ["a b"]),
     "watch[0] is a str, not a coref.Example"),
    ("training axes", lambda: plot_attention_during_training(SNAPS1, WATCH1, axes=[1]),
     "axes must be 1 matplotlib Axes, got [1]"),
    ("matrices before", lambda: plot_weight_matrices(None, {"W": np.eye(2)}, ["W"]),
     "before must be a dict of matrices (name -> 2-D array), got NoneType"),
    ("matrices names", lambda: plot_weight_matrices({"W": np.eye(2)}, {"W": np.eye(2)}, None),
     "names must be a list of matrix names, got None"),
    ("matrices fmt", lambda: plot_weight_matrices({"W": np.eye(2)}, {"W": np.eye(2)}, ["W"], fmt="{:q}"),
     "fmt must be a format for one number such as '{:.1f}', got '{:q}'"),
    ("keys vectors", lambda: plot_keys_and_queries(None, KINDS),
     "vectors must be a dict of keys, nouns, queries and adjectives (what point_layer_vectors returns), got NoneType"),
    ("keys kinds", lambda: plot_keys_and_queries(VECTORS, ["animal"]), "kinds must be a dict of kind -> words, got list"),
    ("keys kinds str", lambda: plot_keys_and_queries(VECTORS, {"animal": "cat dog tired", "object": "mat dirty"}),
     "kinds['animal'] must be a list of labels, got 'cat dog tired'"),
    ("keys ax", lambda: plot_keys_and_queries(VECTORS, KINDS, ax=1),
     "ax must be a matplotlib Axes (or None for a new figure), got int"),
]
COST = {"n": np.array([128, 256]), "numpy_s": [1e-3, 4e-3], "torch_s": [1e-3, 3e-3],
        "plain_peak_bytes": [2e6, 8e6], "blockwise_peak_bytes": [1e6, 2e6]}
WATCH1 = [SimpleNamespace(tokens=["a", "b"])]
SNAPS1 = {0: ([[0.5, 0.5]], [[0.5, 0.5]])}


@pytest.mark.parametrize("call, words", [case[1:] for case in HUNT], ids=[case[0] for case in HUNT])
def test_every_argument_of_the_plots_is_named_when_it_is_wrong(call, words):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value).startswith(words), str(err.value)


def test_smallest_font_works_on_a_figure_made_without_pyplot():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 2))
    ax = fig.add_subplot(xticks=[], yticks=[])  # no tick labels: the title is the only text
    ax.set_title("a title", fontsize=11)
    assert smallest_font_on_page(fig) == 11.0
