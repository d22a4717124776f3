"""The decoder's head explorer on the book's chapter 11 page: selfattn's weights, no kernel.

Chapter 11 shows ``HeadExplorer(texts, encoder=partial(attention_record, load_induction()))``
on a few held-out copying sequences. myst-nb saves the widget's state into the page, so the
explorer works in the static book. This test opens the built page (``book_url``: the book
built from clean, or ``SELFATTN_BOOK_HTML``), goes through every sequence, layer and head
with the pickers, and compares what the page shows with ``attention_record`` of the shipped
model (and the masked cells, above the diagonal, are blank), computed here on the token ids the page shows (``data-state.tokens``), never read
from the widget.

DOM contract: that of the head explorer (tests/browser/test_head_explorer.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from _browser import SCREENSHOTS, open_page

pytestmark = pytest.mark.browser

TOL = 1e-6
PAGE = "chapters/11_causal_self_attention.html"
ROOT_SEL = 'div[data-testid="head-explorer"]'

_READ = """(root) => ({
  state: JSON.parse(root.getAttribute('data-state')),
  n_sentences: root.querySelectorAll('select[data-testid="sentence-select"] option').length,
  cells: [...root.querySelectorAll('[data-testid="cell"]')].map(e => [
    Number(e.dataset.i), Number(e.dataset.j), Number(e.dataset.value), e.textContent]),
  bars: [...root.querySelectorAll('[data-testid="weight"]')].map(e => [
    Number(e.dataset.keyIndex), Number(e.dataset.value)]),
  width: {table: Math.ceil(root.querySelector('table.sa-heatmap').getBoundingClientRect().width),
          box: root.querySelector('table.sa-heatmap').parentElement.clientWidth,
          scroll: root.scrollWidth - root.clientWidth},
})"""


@pytest.fixture(scope="module")
def model():
    from selfattn.induction import load_induction

    return load_induction()


@pytest.fixture(scope="module")
def opened(browser, book_url):
    context, page, log = open_page(browser, book_url, PAGE)
    try:
        root = page.locator(ROOT_SEL)
        root.wait_for()
        yield page, root, log
    finally:
        context.close()


def pick(page, root, testid: str, value: int):
    old = root.get_attribute("data-state")
    if root.locator(f'select[data-testid="{testid}"]').input_value() == str(value):
        return
    root.locator(f'select[data-testid="{testid}"]').select_option(str(value))
    page.wait_for_function("([el, old]) => el.getAttribute('data-state') !== old",
                           arg=[root.element_handle(), old])


def check_shown_weights(root, model, where: str) -> dict:
    """The heatmap and the bars equal attention_record's weights of the head shown."""
    from selfattn.decoder import attention_record

    reading = root.evaluate(_READ)
    state = reading["state"]
    ids = [int(t) for t in state["tokens"]]
    expected = attention_record(model, ids).attentions[state["layer"], state["head"]]  # (n, n)
    n = len(ids)
    grid = np.full((n, n), np.nan)
    for i, j, value, _ in reading["cells"]:
        grid[i, j] = value
    assert len(reading["cells"]) == n * n and not np.isnan(grid).any(), (
        f"{where}: {len(reading['cells'])} cells for {n} tokens")
    np.testing.assert_allclose(grid, expected, atol=TOL, rtol=0,
                               err_msg=f"{where}: the heatmap is not selfattn's layer "
                                       f"{state['layer']}, head {state['head']}")
    for i, j, _, text in reading["cells"]:
        if j > i:  # masked: blank, so that the causal triangle shows
            assert text == "", f"{where}: masked cell ({i}, {j}) reads {text!r}, expected nothing"
        else:
            assert text and abs(float(text) - expected[i, j]) <= 0.005 + 1e-9, (
                f"{where}: cell ({i}, {j}) reads {text!r}, the weight is {expected[i, j]:.6f}")
    bars = np.full(n, np.nan)
    for j, value in reading["bars"]:
        bars[j] = value
    np.testing.assert_allclose(bars, expected[state["query_index"]], atol=TOL, rtol=0,
                               err_msg=f"{where}: the bars are not row {state['query_index']}")
    width = reading["width"]
    assert width["table"] - width["box"] <= 1 and width["scroll"] <= 1, (
        f"{where}: the heatmap is {width['table']} px wide in a {width['box']} px box")
    return reading


def test_the_chapter_explorer_shows_the_shipped_models_weights_for_every_head(opened, model):
    page, root, log = opened
    assert root.count() == 1, "chapter 11 should show one head explorer"
    reading = check_shown_weights(root, model, "as loaded")
    n_sentences, seen = reading["n_sentences"], []
    assert n_sentences >= 2, f"only {n_sentences} sequence(s) to pick from"
    for s in range(n_sentences):
        pick(page, root, "sentence-select", s)
        for layer in range(model.n_layers):
            pick(page, root, "layer-select", layer)
            for head in range(model.n_heads):
                pick(page, root, "head-select", head)
                state = check_shown_weights(root, model, f"sequence {s}, layer {layer}, "
                                                         f"head {head}")["state"]
                seen.append((state["sentence_index"], state["layer"], state["head"]))
    assert len(set(seen)) == n_sentences * model.n_layers * model.n_heads
    pick(page, root, "query-select", 3)
    check_shown_weights(root, model, "query 3 of the last sequence")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    root.screenshot(path=str(SCREENSHOTS / "ch11_head_explorer.png"))
    assert not log.problems(), "\n".join(log.problems())


def test_the_check_rejects_weights_of_another_model(opened, model):
    """The comparison can fail: the same page against a model with its heads swapped."""
    from selfattn.decoder import Decoder

    page, root, log = opened
    params = dict(model.params)
    for name in ("W_q", "W_k"):  # swap layer 1's two heads' queries and keys
        w = params[f"layers.1.{name}"].copy()
        d = model.d_head
        params[f"layers.1.{name}"] = np.concatenate([w[:, d:2 * d], w[:, :d], w[:, 2 * d:]], axis=1)
    swapped = Decoder(params, model.n_heads, model.base)
    pick(page, root, "layer-select", 1)
    pick(page, root, "head-select", 0)
    with pytest.raises(AssertionError, match="heatmap is not selfattn's layer 1, head 0"):
        check_shown_weights(root, swapped, "swapped heads")
