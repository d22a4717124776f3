"""The book builds from clean with no Sphinx warning, and every chapter is in the table of contents.

What the committed notebooks may contain is checked in tests/test_notebooks.py.
"""

from __future__ import annotations

import re

import pytest


def test_every_chapter_is_in_the_toc(root):
    toc = (root / "_toc.yml").read_text()
    chapters = sorted(p.stem for p in (root / "chapters").glob("*.ipynb"))
    missing = [c for c in chapters if f"chapters/{c}" not in toc]
    assert not missing, f"chapters missing from _toc.yml: {missing}"


@pytest.mark.book
def test_book_builds_from_clean_without_warnings(built_book):
    proc = built_book["proc"]
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines() if re.search(r"\bWARNING:|\bERROR:|Traceback", line)]
    assert proc.returncode == 0 and not warnings, (
        f"jupyter-book build exited {proc.returncode} with {len(warnings)} warning(s):\n"
        + "\n".join(warnings[:40]) + "\n--- tail of the log ---\n" + log[-4000:]
    )
    assert (built_book["html"] / "index.html").exists()


def inline_values(html: str) -> list[str]:
    """The values that {eval} roles put into the prose of a built page (myst-nb's inline output)."""
    return re.findall(r'<span class="output text_plain">(.*?)</span>', html, flags=re.S)


def test_inline_values_reads_the_numbers_of_the_prose():
    page = ('<p>It gives <span class="output text_plain">0.12</span> to "cat" and '
            '<span class="output text_plain">np.float64(0.3)</span> to "mat".</p>')
    assert inline_values(page) == ["0.12", "np.float64(0.3)"]


@pytest.mark.book
def test_numbers_in_the_prose_are_formatted(built_book):
    """An {eval} of a bare NumPy number reads np.float64(0.25) in the page: format it in the
    expression (an f-string). The build does not warn about it."""
    raw = {page.name: [v for v in inline_values(page.read_text()) if re.match(r"\s*(np\.|array\()", v)]
           for page in sorted((built_book["html"] / "chapters").glob("*.html"))}
    raw = {name: values for name, values in raw.items() if values}
    assert not raw, f"unformatted values in the prose: {raw}"


def solutions_without_their_code(html: str) -> list[str]:
    """Titles of the solution boxes of a built page that hold no code cell (the book's dropdown
    must hold the solution's code, moved there by selfattn/sphinxext/solutions.py)."""
    from bs4 import BeautifulSoup  # the book's theme (pydata-sphinx-theme) depends on it

    page = BeautifulSoup(html, "html.parser")
    return [" ".join(box.find(class_="admonition-title").get_text().split())
            for box in page.select("div.solution") if not box.select("div.cell")]


def test_solutions_without_their_code_finds_an_empty_box():
    cell = '<div class="cell docutils container"><pre>x = 1</pre></div>'
    full = f'<div class="solution dropdown admonition"><p class="admonition-title">Solution to 1</p>{cell}</div>'
    empty = '<div class="solution dropdown admonition"><p class="admonition-title">Solution to 2</p></div>'
    assert solutions_without_their_code(full + empty + cell) == ["Solution to 2"]


@pytest.mark.book
def test_every_solution_dropdown_holds_its_code(built_book):
    empty = {page.name: found for page in sorted((built_book["html"] / "chapters").glob("*.html"))
             if (found := solutions_without_their_code(page.read_text()))}
    assert not empty, f"solutions whose code is outside the dropdown: {empty}"
