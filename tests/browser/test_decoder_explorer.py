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

from _browser import (HEAD_EXPLORER, READ_HEAD_EXPLORER, SCREENSHOTS, check_heatmap_and_bars,
                      open_page, pick)

pytestmark = pytest.mark.browser

TOL = 1e-6
PAGE = "chapters/11_causal_self_attention.html"


@pytest.fixture(scope="module")
def model():
    from selfattn.induction import load_induction

    return load_induction()


@pytest.fixture(scope="module")
def opened(browser, book_url):
    context, page, log = open_page(browser, book_url, PAGE)
    try:
        root = page.locator(HEAD_EXPLORER)
        root.wait_for()
        yield page, root, log
    finally:
        context.close()


def check_shown_weights(root, model, where: str) -> dict:
    """The heatmap and the bars equal attention_record's weights of the head shown."""
    from selfattn.decoder import attention_record

    reading = root.evaluate(READ_HEAD_EXPLORER)
    state = reading["state"]
    ids = [int(t) for t in state["tokens"]]
    expected = attention_record(model, ids).attentions[state["layer"], state["head"]]  # (n, n)
    check_heatmap_and_bars(reading, expected, where, TOL)
    for i, j, _, text in reading["cells"]:
        if j > i:  # masked: blank, so that the causal triangle shows
            assert text == "", f"{where}: masked cell ({i}, {j}) reads {text!r}, expected nothing"
        else:
            assert text and abs(float(text) - expected[i, j]) <= 0.005 + 1e-9, (
                f"{where}: cell ({i}, {j}) reads {text!r}, the weight is {expected[i, j]:.6f}")
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
