"""selfattn.display: labelled matrices and lists of records, rendered as HTML and as aligned text.

Every expected rendering is written out by hand in the test.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from selfattn.display import Table, record_table, table


def test_table_prints_each_value_rounded_to_the_requested_digits():
    text = repr(table([[0.12345, 2.0]], ["it"], ["cat", "mat"], digits=3))
    # hand-written expectation: 0.12345 -> "0.123", 2.0 -> "2.000"
    assert text.splitlines() == ["      cat    mat", "it  0.123  2.000"]


def test_table_html_has_one_header_cell_per_column_and_one_row_per_label():
    html = table(np.eye(3), ["a", "b", "c"], ["x", "y", "z"])._repr_html_()
    assert html.count("<tr>") == 4  # header + 3 rows
    assert html.count("<th>x</th>") == 1  # numbers: right-aligned like the table
    assert html.count('<th style="text-align:left">c</th>') == 1  # a row label: left-aligned
    assert html.count("<td>1.00</td>") == 3 and html.count("<td>0.00</td>") == 6


def test_table_escapes_labels_in_html():
    html = table([[1.0]], ["<it>"], ["a&b"], caption="<q>")._repr_html_()
    assert "&lt;it&gt;" in html and "a&amp;b" in html and "&lt;q&gt;" in html
    assert "<it>" not in html


def test_table_highlights_the_largest_entry_of_each_row():
    t = table([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], ["it", "cat"], ["a", "b", "c"], highlight_max=True)
    html = t._repr_html_()
    assert html.count("<b>") == 2
    assert "<td><b>0.70</b></td>" in html and "<td><b>0.50</b></td>" in html
    assert repr(t).splitlines()[1].split() == ["it", "0.10", "0.70*", "0.20"]


def test_table_shows_a_vector_as_one_row():
    assert repr(table([1.0, 2.0, 3.0], row_labels=["v"])).splitlines() == [
        "      0     1     2",
        "v  1.00  2.00  3.00",
    ]


def test_table_never_prints_negative_zero():
    assert "-0.00" not in repr(table([[-0.001, -1e-9]]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(matrix=np.zeros((2, 2, 2))), r"1-D or 2-D, got shape \(2, 2, 2\)"),
        (dict(matrix=np.zeros((2, 3)), row_labels=["a"]), r"row_labels has 1 label for a matrix with 2 row"),
        (dict(matrix=np.zeros((2, 3)), col_labels=["a", "b"]), r"col_labels has 2 labels for a matrix with 3 column"),
        (dict(matrix=[["a", "b"]]), r"must hold numbers"),
        (dict(matrix=[[1.0]], digits=-1), r"^digits must be .*got -1"),
        (dict(matrix=[[1.0]], digits=True), r"^digits must be .*got True"),
        (dict(matrix=[[1.0]], digits=1.5), r"^digits must be .*got 1.5"),
        (dict(matrix=[[1 + 2j]]), r"^matrix must be real, got dtype complex128"),
        (dict(matrix=[[True, False]]), r"^matrix must hold numbers, got dtype bool"),
        (dict(matrix=[[1.0]], highlight_max="no"), r"^highlight_max must be True or False, got 'no'"),
        (dict(matrix=[[1.0]], row_labels=5), r"^row_labels must be a list of labels, one per row, got 5"),
        (dict(matrix=[[1.0]], col_labels="a"),
         r"^col_labels must be a list of labels, one per column, got 'a'"),
    ],
)
def test_table_rejects_bad_input_with_a_message_naming_it(kwargs, message):
    with pytest.raises(ValueError, match=message):
        table(**kwargs)


def test_table_highlights_every_tied_maximum_but_not_a_constant_row():
    t = table([[0.15, 0.1, 0.15], [0.1, 0.1, 0.1]], ["cat", "the"], ["sat", "on", "was"], highlight_max=True)
    html = t._repr_html_()
    assert html.count("<td><b>0.15</b></td>") == 2  # "sat" and "was" tie for "cat"
    assert "<b>0.10</b>" not in html  # "the" spreads its attention evenly: nothing stands out
    assert "*" not in repr(t).splitlines()[2]


def test_table_shows_a_torch_tensor_like_the_array_it_holds():
    torch = pytest.importorskip("torch")
    t = table(torch.tensor([[0.5, 1.25]], requires_grad=True), ["it"], ["cat", "mat"])
    assert repr(t).splitlines() == ["     cat   mat", "it  0.50  1.25"]


def test_table_shows_nan_and_inf_as_they_are():
    # a chapter shows what the naive softmax returns: the NaN must be visible, not refused
    assert repr(table([[np.nan, np.inf]])).splitlines()[1].split() == ["0", "nan", "inf"]


# --------------------------------------------------------------------------- #
# a list of records
# --------------------------------------------------------------------------- #
def test_record_table_aligns_text_left_and_numbers_right():
    text = repr(record_table([{"model": "A", "d": 1}, {"model": "BB", "d": 22}]))
    assert text.splitlines() == ["model   d", "A       1", "BB     22"]


def test_record_table_shows_unknown_values_as_a_question_mark_and_separates_thousands():
    rows = [{"model": "GPT-2", "params": 124439808, "heads": 12},
            {"model": "GPT-4", "params": None, "heads": None}]
    assert repr(record_table(rows)).splitlines() == [
        "model       params  heads",
        "GPT-2  124,439,808     12",
        "GPT-4            ?      ?",
    ]


def test_record_table_separates_thousands_of_numpy_integers_too():
    assert repr(record_table([{"n": np.int64(16384)}])).splitlines() == ["     n", "16,384"]


def test_record_table_right_aligns_a_column_of_floats():
    text = repr(record_table([{"step": 1, "m": 0.5}, {"step": 2, "m": 12.25}]))
    assert text.splitlines() == ["step      m", "   1    0.5", "   2  12.25"]


def test_record_table_shows_the_chosen_columns_in_the_chosen_order_with_a_caption():
    rows = [{"a": "x", "b": "y", "c": "z"}]
    assert repr(record_table(rows, ["c", "a"], caption="Two")).splitlines() == ["Two", "c  a", "z  x"]


def test_record_table_default_columns_are_every_key_in_order_of_first_appearance():
    rows = [{"a": 1}, {"b": 2, "a": 3}]
    assert repr(record_table(rows)).splitlines() == ["a  b", "1  ?", "3  2"]


def test_record_table_html_escapes_cells_and_aligns_text_left():
    html = record_table([{"name": "<b>", "n": 3}])._repr_html_()
    assert '<td style="text-align:left">&lt;b&gt;</td>' in html and "<td>3</td>" in html
    assert '<th style="text-align:left">name</th><th>n</th>' in html
    assert "<b>" not in html


@pytest.mark.parametrize("records, columns, message", [
    ({"model": "A"}, None, r"^records must be a list of dicts, got dict"),
    ("models.csv", None, r"^records must be a list of dicts, got str"),
    ([{"model": "A"}, ["B", 1]], None, r"item 1 is a list"),
    ([{"model": "A"}], ["modle"], r"\['modle'\] are in none of the records; their keys are \['model'\]"),
    ([{"model": "A"}], "model", r"^columns must be a list of keys"),
])
def test_record_table_rejects_bad_input_with_a_message_naming_it(records, columns, message):
    with pytest.raises(ValueError, match=message):
        record_table(records, columns)


@pytest.mark.parametrize("kwargs, words", [
    (dict(matrix=np.zeros((2, 3)), row_labels=["a"]), "row_labels has 1 label for a matrix with 2 row(s)"),
    (dict(matrix=np.zeros((2, 3)), col_labels=["a", "b"]), "col_labels has 2 labels for a matrix with 3 column(s)"),
])
def test_label_counts_that_do_not_match_name_the_argument(kwargs, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        table(**kwargs)


def test_unknown_columns_are_named_as_the_columns_argument():
    with pytest.raises(ValueError, match=r"^columns \['b'\] are in none of the records"):
        record_table([{"a": 1}], columns=["b"])


@pytest.mark.parametrize("kwargs, words", [
    (dict(header=None), "header must be a list of column headings (str), got None"),
    (dict(header="ab"), "header must be a list of column headings (str), got 'ab'"),
    (dict(header=[1]), "header must hold str, got 1 (int)"),
    (dict(rows=None), "rows must be a list of rows, each a list of str, got None"),
    (dict(rows=[[1]]), "rows[0] must hold str, got 1 (int)"),
    (dict(rows=[["1", "2"]]), "rows[0] has 2 cells but the header has 1 column(s)"),
    (dict(right=[]), "right must hold one True or False per column (1), got []"),
    (dict(right=["yes"]), "right must hold one True or False per column (1), got ['yes']"),
    (dict(labels="no"), "labels must be True or False"),
    (dict(marked=[(0, 5)]), "marked must hold (row, column) cells of the table, got (0, 5)"),
    (dict(marked=1), "marked must hold (row, column) cells of the table, got 1"),
])
def test_table_built_by_hand_is_checked_when_made_not_when_shown(kwargs, words):
    args = dict(header=["a"], rows=[["1"]], right=[True]) | kwargs
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        Table(**args)
