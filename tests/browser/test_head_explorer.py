"""The head explorer in a static HTML page with no kernel: its numbers are selfattn's, offline.

The page is made here, not by the book build: the widget's state is embedded with
``ipywidgets.embed.embed_data`` (the same ``application/vnd.jupyter.widget-state+json``
script, buffers base64-encoded, that myst-nb writes from the executed notebook) and the
page loads exactly the widget scripts the book loads, read from ``_config.yml``
(``nb_ipywidgets_js``). ``open_page`` serves every CDN address from the npm copies and
records any other request, so the test also proves the explorer needs nothing else.

DOM contract (selfattn/static/head_explorer.js): the root
``div[data-testid="head-explorer"]`` carries ``data-state``, a JSON object
{sentence_index, layer, head, query_index, tokens}; the pickers are
``select[data-testid=sentence-select|layer-select|head-select|query-select]``; the heatmap
cells are ``td[data-testid="cell"][data-i][data-j][data-value]`` and the bars of the
query row ``li[data-testid="weight"][data-key-index][data-value]``.

Expected weights come from ``load_minilm()(sentence).attentions[layer, head]``, computed
in this test, not from the widget.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from _browser import (COLUMN_PX, HEAD_EXPLORER, READ_HEAD_EXPLORER, check_heatmap_and_bars, open_page,
                      pick, widget_page, widget_scripts)
from selfattn.widgets import HEAD_EXPLORER_SENTENCES

pytestmark = pytest.mark.browser

TOL = 1e-6
ROOT_SEL = HEAD_EXPLORER
#: The sentences on the test page: the explorer's own (the seed's pairs, a Winograd pair).
SENTENCES = list(HEAD_EXPLORER_SENTENCES)
STREET = SENTENCES.index("The animal didn't cross the street because it was too wide.")
@pytest.fixture(scope="module")
def encoder():
    pytest.importorskip("safetensors")
    from selfattn.pretrained import load_minilm

    try:
        return load_minilm()
    except ModuleNotFoundError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def page_url(browser, encoder, tmp_path_factory):
    from selfattn.widgets import HeadExplorer

    yield from widget_page(tmp_path_factory, HeadExplorer(SENTENCES, encoder=encoder), "Head explorer")


@pytest.fixture
def opened(browser, page_url):
    context, page, log = open_page(browser, page_url, "index.html")
    try:
        yield page, page.locator(ROOT_SEL), log
    finally:
        context.close()


def check_shown_numbers(root, encoder, where: str) -> dict:
    """The heatmap and the bars equal selfattn's weights of the head the pickers show."""
    reading = root.evaluate(READ_HEAD_EXPLORER)
    state = reading["state"]
    sentence = SENTENCES[state["sentence_index"]]
    expected_run = encoder(sentence)
    assert state["tokens"] == expected_run.tokens, f"{where}: tokens {state['tokens']} != {expected_run.tokens}"
    expected = expected_run.attentions[state["layer"], state["head"]].astype(np.float64)  # (n, n)
    check_heatmap_and_bars(reading, expected, where, TOL)
    for i, j, _, text in reading["cells"]:
        assert text == f"{expected[i, j]:.2f}" or abs(float(text) - expected[i, j]) <= 0.005 + 1e-9, (
            f"{where}: cell ({i}, {j}) reads {text!r}, the weight is {expected[i, j]:.6f}")
    return state


def test_static_page_builder_uses_the_books_widget_scripts():
    scripts = widget_scripts()
    assert "embed-amd.js" in scripts and "require.js" in scripts
    assert "data-jupyter-widgets-cdn-only" in scripts


def test_head_explorer_shows_selfattns_weights_without_a_kernel(opened, encoder):
    page, root, log = opened
    assert root.count() == 1, "the head explorer did not render from the saved state"
    state = check_shown_numbers(root, encoder, "as loaded")
    assert (state["sentence_index"], state["layer"], state["head"]) == (0, 0, 0)
    assert state["tokens"][state["query_index"]] == "it", "the query token is 'it' by default"
    # no kernel: no text box that cannot work, and a note that says what needs one
    assert root.locator('[data-testid="sentence-input"]').count() == 0
    assert "kernel" in root.locator('[data-testid="kernel-note"]').inner_text().lower()
    assert not log.problems(), "\n".join(log.problems())


def test_picking_a_sentence_layer_and_head_shows_that_heads_weights(opened, encoder):
    page, root, log = opened
    pick(page, root, "sentence-select", STREET)
    pick(page, root, "layer-select", 3)
    pick(page, root, "head-select", 7)
    state = check_shown_numbers(root, encoder, f"sentence {STREET}, layer 3, head 7")
    assert (state["sentence_index"], state["layer"], state["head"]) == (STREET, 3, 7)
    assert state["tokens"][state["query_index"]] == "it"
    pick(page, root, "query-select", 2)  # "animal"
    state = check_shown_numbers(root, encoder, "query 2")
    assert state["query_index"] == 2
    pick(page, root, "layer-select", 5)
    pick(page, root, "head-select", 11)
    check_shown_numbers(root, encoder, f"sentence {STREET}, layer 5, head 11")
    assert not log.problems(), "\n".join(log.problems())


def test_pickers_are_labelled_and_work_from_the_keyboard(opened, encoder):
    page, root, log = opened
    for testid, label in (("sentence-select", "Sentence"), ("layer-select", "Layer"),
                          ("head-select", "Head"), ("query-select", "Query token")):
        control = root.locator(f'select[data-testid="{testid}"]')
        names = control.evaluate("(el) => [...el.labels].map(l => l.textContent)")
        assert names and names[0].startswith(label), f"{testid}: labels {names}"
    head = root.locator('select[data-testid="head-select"]')
    head.focus()
    old = root.get_attribute("data-state")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("([el, old]) => el.getAttribute('data-state') !== old",
                           arg=[root.element_handle(), old])
    state = check_shown_numbers(root, encoder, "after ArrowDown on the head picker")
    assert state["head"] == 1
    page.keyboard.press("Shift+Tab")  # back to the layer picker
    assert page.evaluate("document.activeElement.dataset.testid") == "layer-select"


def test_every_sentences_heatmap_fits_the_books_column(opened):
    page, root, log = opened
    for s in range(len(SENTENCES)):
        if s:
            pick(page, root, "sentence-select", s)
        widths = root.evaluate("""(root) => {
          const t = root.querySelector('table.sa-heatmap');
          return {table: Math.ceil(t.getBoundingClientRect().width), box: t.parentElement.clientWidth,
                  root: root.scrollWidth - root.clientWidth};
        }""")
        assert widths["table"] - widths["box"] <= 1 and widths["root"] <= 1, (
            f"sentence {s}: the heatmap is {widths['table']} px wide in a {widths['box']} px box "
            f"(the explorer scrolls {widths['root']} px) in a {COLUMN_PX} px column")


def test_head_explorer_page_has_no_serious_accessibility_violations(opened):
    from axe_playwright_python.sync_playwright import Axe

    page, root, log = opened
    results = Axe().run(page)
    serious = [f"{v['impact']}: {v['id']}: {v['help']} ({[n['target'] for n in v['nodes'][:3]]})"
               for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not serious, "\n".join(serious)


# --------------------------------------------------------------------------- with a kernel (JupyterLab)
_NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "head-explorer", "metadata": {},
               "outputs": [], "source": ["from selfattn.widgets import HeadExplorer\n",
                                         f"HeadExplorer([{SENTENCES[0]!r}])"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def lab_page(chromium, encoder, tmp_path_factory):
    """JupyterLab running a one-cell notebook that shows the head explorer (a temporary copy)."""
    from _lab import lab_server, run_notebook, shut_down_kernel

    root = tmp_path_factory.mktemp("head-explorer-lab")
    (root / "head_explorer.ipynb").write_text(json.dumps(_NOTEBOOK), encoding="utf-8")
    server = lab_server(root)
    try:
        context, page, log = run_notebook(chromium, server, "head_explorer.ipynb", timeout_ms=180_000)
        try:
            page.locator(ROOT_SEL).wait_for()
            yield page, page.locator(ROOT_SEL), log
        finally:
            shut_down_kernel(page)
            context.close()
    finally:
        server.stop()


def test_with_a_kernel_a_typed_sentence_is_run_in_python_and_shown(lab_page, encoder):
    page, root, log = lab_page
    typed = "The dog chased the ball because it was fast."
    text_box = root.locator('input[data-testid="sentence-input"]')
    assert text_box.count() == 1, "with a kernel the explorer offers a text box"
    assert root.locator('[data-testid="kernel-note"]').count() == 0
    # an empty sentence: the encoder's message, nothing added
    text_box.fill("   ")
    text_box.press("Enter")
    error = root.locator('[data-testid="error"]')
    error.wait_for()
    assert "empty" in error.inner_text()
    assert root.locator('select[data-testid="sentence-select"] option').count() == 1
    # a real sentence: Python runs the encoder, adds it and shows it; the numbers are its weights
    text_box.fill(typed)
    root.locator('button[data-testid="add-sentence"]').click()
    page.wait_for_function("(el) => JSON.parse(el.getAttribute('data-state')).sentence_index === 1",
                           arg=root.element_handle())
    assert root.locator('[data-testid="error"]').count() == 0
    pick(page, root, "layer-select", 4)
    pick(page, root, "head-select", 2)
    reading = root.evaluate(READ_HEAD_EXPLORER)
    state = reading["state"]
    run = encoder(typed)
    assert state["tokens"] == run.tokens and state["tokens"][state["query_index"]] == "it"
    expected = run.attentions[4, 2]  # (n, n)
    grid = np.full(expected.shape, np.nan)
    for i, j, value, _ in reading["cells"]:
        grid[i, j] = value
    np.testing.assert_allclose(grid, expected, atol=TOL, rtol=0, err_msg="the typed sentence's layer 4, head 2")
    assert not log["exceptions"], log["exceptions"]
    assert not log["external"], f"requests that left 127.0.0.1: {log['external']}"
