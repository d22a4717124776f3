"""selfattn.display.table: labelled tables that render as HTML and as aligned text."""

from __future__ import annotations

import numpy as np
import pytest

from selfattn.display import table


def test_table_prints_each_value_rounded_to_the_requested_digits():
    text = repr(table([[0.12345, 2.0]], ["it"], ["cat", "mat"], digits=3))
    # hand-written expectation: 0.12345 -> "0.123", 2.0 -> "2.000"
    assert text.splitlines() == ["      cat    mat", "it  0.123  2.000"]


def test_table_html_has_one_header_cell_per_column_and_one_row_per_label():
    html = table(np.eye(3), ["a", "b", "c"], ["x", "y", "z"])._repr_html_()
    assert html.count("<tr>") == 4  # header + 3 rows
    assert html.count("<th>x</th>") == 1 and html.count("<th>c</th>") == 1
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
    t = table([1.0, 2.0, 3.0], row_labels=["v"])
    assert t.values.shape == (1, 3)


def test_table_never_prints_negative_zero():
    assert "-0.00" not in repr(table([[-0.001, -1e-9]]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(matrix=np.zeros((2, 2, 2))), r"1-D or 2-D, got shape \(2, 2, 2\)"),
        (dict(matrix=np.zeros((2, 3)), row_labels=["a"]), r"1 row labels for a matrix with 2 row"),
        (dict(matrix=np.zeros((2, 3)), col_labels=["a", "b"]), r"2 column labels for a matrix with 3 column"),
        (dict(matrix=[["a", "b"]]), r"must hold numbers"),
        (dict(matrix=[[1.0]], digits=-1), r"digits must be a non-negative integer, got -1"),
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
