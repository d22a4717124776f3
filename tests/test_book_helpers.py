"""selfattn.book.show_source: whole functions without docstrings, marked sections, loud failures."""

from __future__ import annotations

import pytest

from selfattn.book import show_source, source


def attend(q, k):
    """A docstring that the page does not need to show.

    It has several lines.
    """
    # [scores]
    s = q * k  # scores
    if s > 0:
        s = s + 1
    # [end scores]
    return s


def unclosed(x):
    # [math]
    return 2 * x


def twice(x):
    # [math]
    y = 2 * x
    # [end math]
    # [math]
    return y
    # [end math]


def no_docstring(x):
    return x + 1  # a comment stays


class Layer:
    """A class docstring."""

    def forward(self, x):
        """A method docstring."""
        return x @ x  # (n, n)


def test_whole_function_drops_the_docstring_and_the_markers_only():
    assert source(attend) == (
        "def attend(q, k):\n"
        "    s = q * k  # scores\n"
        "    if s > 0:\n"
        "        s = s + 1\n"
        "    return s"
    )


def test_whole_function_without_docstring_is_shown_unchanged():
    assert source(no_docstring) == "def no_docstring(x):\n    return x + 1  # a comment stays"


def test_a_method_is_shown_dedented_from_its_class():
    assert source(Layer.forward) == "def forward(self, x):\n    return x @ x  # (n, n)"


def test_section_is_the_dedented_lines_between_its_markers():
    assert source(attend, "scores") == "s = q * k  # scores\nif s > 0:\n    s = s + 1"


def test_missing_section_names_the_function_and_the_marker():
    with pytest.raises(ValueError) as err:
        source(attend, "softmax")
    message = str(err.value)
    assert "test_book_helpers.attend" in message
    assert "'# [softmax]' is missing" in message
    assert "sections: ['scores']" in message


def test_unclosed_section_names_the_missing_end_marker():
    with pytest.raises(ValueError, match=r"section 'math' in .*unclosed is not closed: "
                                         r"the marker '# \[end math\]' is missing"):
        source(unclosed, "math")


def test_section_marked_twice_is_refused():
    with pytest.raises(ValueError, match=r"section 'math' in .*twice must be marked once"):
        source(twice, "math")


def test_object_without_python_source_is_refused():
    with pytest.raises(ValueError, match=r"obj must be a Python function, method or class "
                                         r"with source code, got <built-in function len>"):
        source(len)


@pytest.mark.parametrize("section", ["", "   ", 3])
def test_section_that_is_not_a_name_is_refused(section):
    with pytest.raises(ValueError, match=r"section must be the name of a marked section"):
        source(attend, section)


def test_show_source_prints_what_source_returns(capsys):
    show_source(attend, "scores")
    assert capsys.readouterr().out == "s = q * k  # scores\nif s > 0:\n    s = s + 1\n"


def empty(x):
    # [math]
    # [end math]
    return x


def test_empty_section_is_refused():
    with pytest.raises(ValueError, match=r"section 'math' in .*empty is empty"):
        source(empty, "math")


def test_a_lambda_or_a_module_is_refused_naming_obj():
    import selfattn.book as book_module

    square = lambda x: x * x  # noqa: E731
    for obj in (square, book_module):
        with pytest.raises(ValueError, match=r"^obj must be a function defined with def, a method or a class"):
            source(obj)
