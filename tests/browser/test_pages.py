"""Every page of the built book, loaded in headless Chromium from 127.0.0.1.

Each page is loaded once (cached for the session); the tests below then check what a
reader would see: no errors, rendered math, alt text, code and outputs, accessibility.
A full-page screenshot of every page goes to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json

import pytest

from _browser import book_pages

pytestmark = pytest.mark.browser

PAGES = book_pages()
NOTEBOOK_PAGES = [p for p in PAGES if p["source"] is not None and p["source"].suffix == ".ipynb"]

def _ids(pages):
    return [p["name"] for p in pages]


@pytest.mark.parametrize("page_info", PAGES, ids=_ids(PAGES))
def test_page_loads_without_console_errors_or_failed_requests(visited, page_info):
    problems = visited(page_info)["problems"]
    assert not problems, f"{page_info['html']}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page_info", PAGES, ids=_ids(PAGES))
def test_every_formula_is_typeset_by_mathjax(visited, page_info):
    facts = visited(page_info)["facts"]
    untypeset = [m["source"] for m in facts["math"] if not m["rendered"]]
    assert not untypeset, f"{page_info['html']}: math left as source: {untypeset[:5]}"
    assert not facts["mathErrors"], f"{page_info['html']}: MathJax errors: {facts['mathErrors'][:5]}"


@pytest.mark.parametrize("page_info", PAGES, ids=_ids(PAGES))
def test_every_image_has_alt_text_and_loads(visited, page_info):
    images = visited(page_info)["facts"]["images"]
    # Sphinx writes the image's path as its alt text when the notebook gives none
    no_alt = [i["src"] for i in images if not (i["alt"] or "").strip()
              or i["alt"].rsplit("/", 1)[-1] == i["src"].rsplit("/", 1)[-1]]
    broken = [i["src"] for i in images if not i["loaded"]]
    assert not no_alt, f"{page_info['html']}: images without alt text: {no_alt}"
    assert not broken, f"{page_info['html']}: images that did not load: {broken}"


def expected_cells(executed_notebook: dict) -> tuple[int, int]:
    """(code inputs, code outputs) a reader should see, from the executed notebook.

    Cells tagged remove-cell show nothing, remove-input hides the code, remove-output the
    output. Outputs that only glue a value for the prose (myst-nb's scrapbook records)
    are not displayed.
    """
    inputs = outputs = 0
    for cell in executed_notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "remove-cell" in tags:
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "remove-input" not in tags and source.strip():
            inputs += 1
        shown = [o for o in cell.get("outputs", []) if "scrapbook" not in o.get("metadata", {})]
        if shown and "remove-output" not in tags:
            outputs += 1
    return inputs, outputs


def test_expected_cells_counts_inputs_and_shown_outputs():
    nb = {"cells": [
        {"cell_type": "markdown", "source": "# t", "metadata": {}},
        {"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": []},
        {"cell_type": "code", "source": "x", "metadata": {},
         "outputs": [{"output_type": "execute_result", "data": {"text/plain": "1"}, "metadata": {}}]},
        {"cell_type": "code", "source": "glue('a', 1)", "metadata": {},
         "outputs": [{"output_type": "display_data", "data": {}, "metadata": {"scrapbook": {"name": "a"}}}]},
        {"cell_type": "code", "source": "plot()", "metadata": {"tags": ["remove-input"]},
         "outputs": [{"output_type": "display_data", "data": {"image/png": ""}, "metadata": {}}]},
        {"cell_type": "code", "source": "secret()", "metadata": {"tags": ["remove-cell"]},
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}]},
    ]}
    assert expected_cells(nb) == (3, 2)


@pytest.mark.parametrize("page_info", NOTEBOOK_PAGES, ids=_ids(NOTEBOOK_PAGES))
def test_code_cells_and_their_outputs_are_on_the_page(visited, page_info, built_book):
    executed = built_book["html"].parent / "jupyter_execute" / f"{page_info['name']}.ipynb"
    assert executed.exists(), f"no executed notebook at {executed}"
    want_inputs, want_outputs = expected_cells(json.loads(executed.read_text()))
    facts = visited(page_info)["facts"]
    shown_inputs = [n for n in facts["inputs"] if n > 0]
    shown_outputs = [n for n in facts["outputs"] if n > 0]
    assert want_inputs > 0, f"{page_info['name']}: the chapter has no visible code"
    assert len(shown_inputs) == want_inputs, (
        f"{page_info['html']}: {len(shown_inputs)} code cells shown, {want_inputs} expected")
    assert len(shown_outputs) >= want_outputs, (
        f"{page_info['html']}: {len(shown_outputs)} outputs shown, {want_outputs} expected")
    assert not facts["tracebacks"], f"{page_info['html']}: errors or warnings in outputs: {facts['tracebacks']}"


@pytest.mark.parametrize("page_info", PAGES, ids=_ids(PAGES))
def test_controls_that_need_a_kernel_are_announced_with_a_live_launch(visited, page_info):
    """Python-side widget controls do nothing in the static page: the page must say so and
    link to Binder (a needs-kernel notice, selfattn/sphinxext/needs_kernel.py)."""
    facts = visited(page_info)["facts"]
    if not facts["kernelControls"]:
        return
    notices = [n for n in facts["kernelNotices"] if n["binder"]]
    assert notices, (
        f"{page_info['html']} shows controls that need a Python kernel "
        f"({', '.join(facts['kernelControls'][:5])}) but no needs-kernel notice with a Binder link; "
        "put an admonition of class needs-kernel (`:class: warning needs-kernel`, see the README) "
        "right above the widget")


@pytest.mark.parametrize("page_info", PAGES, ids=_ids(PAGES))
def test_no_serious_or_critical_accessibility_violations(visited, page_info):
    violations = visited(page_info)["axe"]
    report = [
        f"{v['impact']}: {v['id']}: {v['help']} ({len(v['nodes'])} element(s), e.g. "
        f"{[n['target'] for n in v['nodes'][:3]]})"
        for v in violations
    ]
    assert not report, f"{page_info['html']} (axe-core):\n" + "\n".join(report)


@pytest.mark.parametrize("page_info", PAGES, ids=_ids(PAGES))
def test_a_screenshot_of_the_page_is_saved(visited, page_info):
    shot = visited(page_info)["screenshot"]
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot at {shot}"
