"""The committed chapters: nothing left from a run, and prose that JupyterLab renders as the book does.

The notebooks are read three ways: the book build (Jupyter Book 1, myst-nb), JupyterLab and
Binder (jupyterlab-myst), and nbval. These checks pin the forms that work in all of them (see
the README, "For contributors"); tests/browser/test_lab.py checks the result in JupyterLab.
"""

from __future__ import annotations

import json
import re
import subprocess

HIDDEN = {"source_hidden": True, "outputs_hidden": True}


def committed_notebooks(root) -> list[str]:
    out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout (e.g. an sdist): fall back to the files on disk
        return sorted(p.relative_to(root).as_posix() for p in (root / "chapters").rglob("*.ipynb"))
    return [p for p in out.stdout.split() if p]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def leftovers_of_a_run(nb: dict) -> list[str]:
    """What running a notebook leaves in it: outputs, execution counts, the values of {eval}
    roles that JupyterLab stores in markdown cells (``user_expressions``), saved widget state."""
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("outputs"):
            found.append(f"cell {i}: outputs")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i}: execution count")
        if "user_expressions" in cell.get("metadata", {}):
            found.append(f"cell {i}: user_expressions (evaluated {{eval}} roles)")
    if "widgets" in nb.get("metadata", {}):
        found.append("notebook: saved widget state")
    return found


def test_leftovers_of_a_run_finds_outputs_counts_expressions_and_widget_state():
    ran = {"metadata": {"widgets": {}}, "cells": [
        {"cell_type": "code", "outputs": [{"output_type": "stream", "text": "1"}],
         "execution_count": 1, "source": "print(1)", "metadata": {}},
        {"cell_type": "code", "outputs": [], "execution_count": 2, "source": "x = 1", "metadata": {}},
        {"cell_type": "markdown", "source": "{eval}`x`", "metadata": {"user_expressions": [
            {"expression": "x", "result": {"status": "ok", "data": {"text/plain": "1"}}}]}},
    ]}
    clean = {"metadata": {}, "cells": [
        {"cell_type": "code", "outputs": [], "execution_count": None, "source": "x = 1", "metadata": {}},
        {"cell_type": "markdown", "source": "{eval}`x`", "metadata": {}},
    ]}
    assert leftovers_of_a_run(ran) == [
        "cell 0: outputs", "cell 0: execution count", "cell 1: execution count",
        "cell 2: user_expressions (evaluated {eval} roles)", "notebook: saved widget state"]
    assert leftovers_of_a_run(clean) == []


def test_committed_notebooks_carry_nothing_from_a_run(root):
    notebooks = committed_notebooks(root)
    assert notebooks, "expected at least one committed notebook under chapters/"
    dirty = {p: leftovers_of_a_run(json.loads((root / p).read_text())) for p in notebooks}
    dirty = {p: found for p, found in dirty.items() if found}
    assert not dirty, (
        "notebooks must be committed as they were before any run (the book and JupyterLab compute "
        "everything); clear them with `.venv/bin/python -m selfattn.book clear chapters/*.ipynb`: "
        f"{dirty}")


def test_clear_notebook_leaves_what_the_checks_accept(tmp_path):
    """A notebook saved from JupyterLab after Run All, cleared: nothing from the run is left, and
    the solution's code is hidden again (JupyterLab drops outputs_hidden when the cell runs)."""
    from selfattn.book import clear_notebook

    ran = {"nbformat": 4, "nbformat_minor": 5,
           "metadata": {"language_info": {"name": "python", "version": "3.11.2"}, "widgets": {}},
           "cells": [
               _md(EXERCISE + SOLVED) | {"id": "a", "metadata": {"user_expressions": []}},
               _code("x = 1") | {"id": "b", "execution_count": 7, "metadata": {"jupyter": {"source_hidden": True}},
                                 "outputs": [{"output_type": "stream", "name": "stdout", "text": "1"}]}]}
    path = tmp_path / "ran.ipynb"
    path.write_text(json.dumps(ran))
    assert leftovers_of_a_run(ran) and solution_faults(ran["cells"])  # the fixture is dirty
    clear_notebook(path)
    cleared = json.loads(path.read_text())
    assert leftovers_of_a_run(cleared) == []
    assert solution_faults(cleared["cells"]) == []
    assert cleared["metadata"] == {"language_info": {"name": "python"}}


# Markup that jupyterlab-myst cannot render (it would show as raw text, a bare key, an error box
# or an equation number the book does not show), with the form to use instead.
UNRENDERED = {
    r"\{glue": "{eval}`expression` (an f-string formats a number)",
    r"\{cite(:\w+)?\}": "a link to the source, e.g. [Vaswani et al. (2017)](https://arxiv.org/abs/1706.03762)",
    r"\{(ref|numref|doc)\}": "a Markdown link, e.g. [notation page](../notation.md#row-vectors)",
    r"\{needs-kernel\}": "an admonition with `:class: warning needs-kernel`",
    r"\{solution-(start|end)\}": "a {solution} directive followed by its hidden code cells",
    r"(?m)^\s*\$\$": "\\begin{equation*} ... \\end{equation*} (JupyterLab numbers $$ blocks)",
    r"\[\]\(": "a link with its text: [Key](03_key.ipynb)",
}


def unrendered_markup(markdown: str) -> list[str]:
    """Each piece of ``markdown`` that JupyterLab would not render, with what to write instead."""
    return [f"{re.search(pattern, markdown).group(0)!r}: use {instead}"
            for pattern, instead in UNRENDERED.items() if re.search(pattern, markdown)]


def test_unrendered_markup_names_each_form_and_its_replacement():
    bad = ("Its score is {glue:text}`s:.2f` {cite:p}`vaswani2017attention`, see {ref}`x`.\n"
           "```{needs-kernel}\n```\n```{solution-start} ex\n```\n$$\nx\n$$\nand [](03_key.ipynb)")
    found = unrendered_markup(bad)
    assert len(found) == len(UNRENDERED)
    assert found[0].startswith("'{glue': use {eval}")
    good = ('Its score is {eval}`f"{s:.2f}"` ([Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)),'
            " see [notation](../notation.md#row-vectors).\n\\begin{equation*}\nx\n\\end{equation*}")
    assert unrendered_markup(good) == []


def _chapters(root) -> list:
    return sorted((root / "chapters").glob("*.ipynb"))


def test_chapter_prose_renders_in_jupyterlab_as_in_the_book(root):
    found = {}
    for path in _chapters(root):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "markdown" and (bad := unrendered_markup(_source(cell))):
                found[f"{path.name} cell {i}"] = bad
    assert not found, f"markup that JupyterLab shows raw: {found}"


SOLUTION = re.compile(r"(`{3,}|:{3,})\{solution\}\s+(\S+)\n(.*?)\n\1\s*$", re.S)


def solution_faults(cells: list[dict]) -> list[str]:
    """What breaks the solution form: a markdown cell that ends with a ``{solution}`` directive
    (``:class: dropdown``, an explanation in its body), then the solution's code cells, each with
    ``"jupyter": {"source_hidden": true, "outputs_hidden": true}``. No other code cell is hidden,
    and every exercise has a solution."""
    faults, hidden_ok, solved = [], set(), set()
    for i, cell in enumerate(cells):
        source = _source(cell)
        if cell["cell_type"] != "markdown" or "{solution}" not in source:
            continue
        match = SOLUTION.search(source)
        if not match:
            faults.append(f"cell {i}: the {{solution}} directive must close the cell")
            continue
        solved.add(match.group(2))
        body = match.group(3)
        if not re.search(r"(?m)^:class:.*\bdropdown\b", body):
            faults.append(f"cell {i}: solution {match.group(2)} lacks `:class: dropdown`")
        if not re.sub(r"(?m)^:\w+:.*$", "", body).strip():
            faults.append(f"cell {i}: solution {match.group(2)} has no explanation in its body")
        j = i + 1
        while j < len(cells) and cells[j]["cell_type"] == "code":
            hidden_ok.add(j)
            if (cells[j].get("metadata", {}).get("jupyter") or {}) != HIDDEN:
                faults.append(f"cell {j}: code of solution {match.group(2)} is not hidden in JupyterLab "
                              f"(cell metadata \"jupyter\": {json.dumps(HIDDEN)})")
            j += 1
        if j == i + 1:
            faults.append(f"cell {i}: solution {match.group(2)} is not followed by its code cells")
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and i not in hidden_ok and cell.get("metadata", {}).get("jupyter"):
            faults.append(f"cell {i}: hidden in JupyterLab but not the code of a solution")
    for label in re.findall(r"(?m)^:label:\s*(\S+)", "\n".join(
            _source(c) for c in cells if c["cell_type"] == "markdown" and "{exercise}" in _source(c))):
        if label not in solved:
            faults.append(f"exercise {label} has no solution")
    return faults


def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text, hidden=True):
    return {"cell_type": "code", "metadata": {"jupyter": dict(HIDDEN)} if hidden else {},
            "source": text, "outputs": [], "execution_count": None}


EXERCISE = "````{exercise} Do it\n:label: ex1\n\nDo it.\n````\n\n"
SOLVED = "````{solution} ex1\n:class: dropdown\n\nBecause.\n````"


def test_solution_faults_accepts_the_form_and_names_each_break():
    assert solution_faults([_md(EXERCISE + SOLVED), _code("x = 1"), _code("y = 2")]) == []
    assert solution_faults([_md(EXERCISE + SOLVED), _code("x = 1", hidden=False)]) == [
        'cell 1: code of solution ex1 is not hidden in JupyterLab (cell metadata "jupyter": '
        '{"source_hidden": true, "outputs_hidden": true})']
    assert solution_faults([_md(EXERCISE + SOLVED.replace(":class: dropdown\n", "")), _code("x")]) == [
        "cell 0: solution ex1 lacks `:class: dropdown`"]
    assert solution_faults([_md(EXERCISE + SOLVED.replace("Because.", "")), _code("x")]) == [
        "cell 0: solution ex1 has no explanation in its body"]
    assert solution_faults([_md(EXERCISE + SOLVED + "\n\nMore text."), _code("x")]) == [
        "cell 0: the {solution} directive must close the cell",
        "cell 1: hidden in JupyterLab but not the code of a solution", "exercise ex1 has no solution"]
    assert solution_faults([_md(EXERCISE + SOLVED), _md("Next.")]) == [
        "cell 0: solution ex1 is not followed by its code cells"]
    assert solution_faults([_md(EXERCISE), _code("x")]) == [
        "cell 1: hidden in JupyterLab but not the code of a solution", "exercise ex1 has no solution"]


def test_every_cell_that_shows_a_figure_describes_it_in_alt_text(root):
    """A figure's alt text is what a screen reader says; without it Sphinx writes the file name."""
    missing = [f"{path.name} cell {cell['id']}" for path in _chapters(root)
               for cell in json.loads(path.read_text())["cells"]
               if cell["cell_type"] == "code" and "plt.show()" in _source(cell)
               and len(cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")) < 40]
    assert not missing, f"cells that show a figure without mystnb.image.alt metadata: {missing}"


def test_every_solution_is_a_closed_dropdown_with_its_code_hidden_in_jupyterlab(root):
    found = {path.name: faults for path in _chapters(root)
             if (faults := solution_faults(json.loads(path.read_text())["cells"]))}
    assert not found, f"solutions that JupyterLab or the book would show open: {found}"


# The book's code column at desktop width (1280 px) is 684 px wide with 16 px padding each
# side; a 14 px monospace character is 8.4 px wide, so 77 characters show whole. Code inside
# an exercise box has 619 px (69 characters), inside an opened solution 662 px (74).
# tests/browser/test_layout.py measures the real page; one character is left spare here for
# fonts a little wider than DejaVu Sans Mono.
CODE_COLUMNS = 76
BOX_COLUMNS = {"exercise": 68, "solution": 73}
HIDDEN_INPUT = {"remove-input", "remove-cell"}
CODE_DIRECTIVES = {"{code-block}", "{code}", "{sourcecode}", "{code-cell}"}
OPEN = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*(\{[\w-]+\})?\s*([\w+-]*)")


def _fenced_code(markdown: str) -> list[tuple[str, int]]:
    """The lines of the plain code blocks (```python ... ```) in a markdown cell, each with
    the width of the box around it: an ``{exercise}``'s, a ``{solution}``'s or the page's."""
    code, stack = [], []  # stack of (fence, directive or "code")
    for line in markdown.splitlines():
        if stack and stack[-1][1] == "code":
            if line.strip() == stack[-1][0]:
                stack.pop()
                continue
            boxes = [BOX_COLUMNS[d.strip("{}")] for _, d in stack if d.strip("{}") in BOX_COLUMNS]
            code.append((line, min(boxes, default=CODE_COLUMNS)))
            continue
        if stack and line.strip() == stack[-1][0]:
            stack.pop()
        elif m := OPEN.match(line):
            directive = m.group(2) or "code"
            stack.append((m.group(1), "code" if directive in CODE_DIRECTIVES else directive))
    return code


def long_code_lines(cells: list[dict]) -> dict[int, list[str]]:
    """Code lines too long for the page column, by cell index.

    Code cells are held to :data:`CODE_COLUMNS`, except those tagged ``remove-input`` or
    ``remove-cell``, which the page does not show, and folded ones (a solution's code), which
    open in a box. Code blocks written in the markdown of an exercise or a solution box, and
    folded code cells, are held to the box's narrower width (:data:`BOX_COLUMNS`).
    """
    long = {}
    for i, cell in enumerate(cells):
        source = _source(cell)
        if cell["cell_type"] == "code":
            metadata = cell.get("metadata", {})
            tags = set(metadata.get("tags", []))
            if HIDDEN_INPUT & tags:
                continue
            # a solution's code, folded (source_hidden or hide-input), opens inside a box
            folded = metadata.get("jupyter", {}).get("source_hidden") or "hide-input" in tags
            limit = BOX_COLUMNS["solution"] if folded else CODE_COLUMNS
            lines = [(line, limit) for line in source.splitlines()]
        elif cell["cell_type"] == "markdown":
            lines = _fenced_code(source)
        else:
            continue
        if too_long := [line for line, limit in lines if len(line) > limit]:
            long[i] = too_long
    return long


def test_long_code_lines_finds_shown_lines_over_the_limit_only():
    short, long = "x = 1", "y = " + "1 + " * 20 + "1"
    fits_a_box = "b = " + "3" * (BOX_COLUMNS["exercise"] - 4)
    fits_a_solution = "c = " + "3" * (BOX_COLUMNS["solution"] - 4)
    cells = [{"cell_type": "code", "source": [short + "\n", long], "metadata": {}},
             {"cell_type": "markdown", "source": long, "metadata": {}},
             {"cell_type": "code", "source": long, "metadata": {"tags": ["remove-input"]}},
             {"cell_type": "code", "source": "z = " + "2" * 72, "metadata": {}},
             {"cell_type": "code", "source": "z = " + "2" * 72,
              "metadata": {"jupyter": {"source_hidden": True}}},
             {"cell_type": "markdown", "metadata": {},
              "source": f"```{{exercise}} E\n:label: e\n\n```python\n{fits_a_box}\n"
                        f"{fits_a_box}4\n```\n```"},
             {"cell_type": "markdown", "metadata": {},
              "source": f"Text\n\n```python\n{fits_a_box}4\n```\n"},
             {"cell_type": "markdown", "metadata": {},
              "source": f"````{{exercise}} E\n```python\nx\n```\n````\n\n{long}\n\n"
                        f"````{{solution}} e\n```\n{fits_a_box}4\n{long}\n```\n````"},
             {"cell_type": "markdown", "metadata": {},
              "source": f"````{{solution}} e\n```{{code-block}} python\n{fits_a_solution}\n"
                        f"{fits_a_solution}4\n```\n````"}]
    assert len(long) > CODE_COLUMNS and len("z = " + "2" * 72) == CODE_COLUMNS
    assert long_code_lines(cells) == {0: [long], 4: ["z = " + "2" * 72],
                                      5: [fits_a_box + "4"], 7: [long],
                                      8: [fits_a_solution + "4"]}


def test_notebook_code_lines_fit_the_page_column(root):
    long = {f"{path.name} cell {i}": lines for path in _chapters(root)
            for i, lines in long_code_lines(json.loads(path.read_text())["cells"]).items()}
    assert not long, f"shown code lines over {CODE_COLUMNS} characters: {long}"


# --------------------------------------------------------------------------- shown package code
SHOWN = re.compile(r"show_source\(([\w.]+)")


def shown_sources(cells: list[dict]) -> list[str]:
    """The expressions a chapter passes to ``show_source`` (``rope``, ``MultiHeadAttention.steps``)."""
    return [m.group(1) for cell in cells if cell["cell_type"] == "code"
            for m in SHOWN.finditer(_source(cell))]


def imported_names(cells: list[dict]) -> dict:
    """The names the chapter's import statements bind, imported here (nothing else is run)."""
    import ast

    namespace: dict = {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse(_source(cell))
        except SyntaxError:  # IPython magics
            continue
        imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        exec(compile(ast.Module(body=imports, type_ignores=[]), "<imports>", "exec"), namespace)
    return namespace


def long_source_lines(obj) -> list[str]:
    """The lines of ``selfattn.book.source(obj)`` (what ``show_source`` prints) over the column."""
    from selfattn.book import source

    return [line for line in source(obj).splitlines() if len(line) > CODE_COLUMNS]


def test_long_source_lines_sees_a_function_wider_than_the_column():
    def wide(x):
        return x + 1  # .................................................................

    def narrow(x):
        return x + 1

    assert long_source_lines(wide) and not long_source_lines(narrow)


def test_package_code_shown_in_a_chapter_fits_the_page_column(root):
    """``show_source(f)`` prints ``f``'s code as a cell output, which wraps instead of scrolling:
    a line over the column breaks in the middle of an expression."""
    long = {}
    for path in _chapters(root):
        cells = json.loads(path.read_text())["cells"]
        names = imported_names(cells)
        for expr in shown_sources(cells):
            lines = long_source_lines(eval(expr, dict(names)))  # noqa: S307 (the chapter's own names)
            if lines:
                long[f"{path.name}: show_source({expr})"] = lines
    assert not long, f"package code shown over {CODE_COLUMNS} characters: {long}"
