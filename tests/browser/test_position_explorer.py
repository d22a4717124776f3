"""The positions explorer in a static HTML page with no kernel: its numbers are selfattn's, offline.

The page is made here, not by the book build (``_browser.static_page``, as for the head explorer): the
widget's state is embedded with ``ipywidgets.embed.embed_data`` (the
``application/vnd.jupyter.widget-state+json`` script that myst-nb writes from the executed
notebook) and the page loads the widget scripts the book loads (``nb_ipywidgets_js`` of
``_config.yml``). ``open_page`` serves every CDN address from the npm copies and records any
other request, so the test also proves that the explorer needs nothing else.

DOM contract (selfattn/static/position_explorer.js): the root
``div[data-testid="position-explorer"]`` carries ``data-state``, a JSON object
{scheme, order, query_index, tokens, shown, shuffles, seed}: ``tokens`` is the sentence in its
original order, ``order[p]`` the index in ``tokens`` of the word shown at position ``p``
(``shown[p] = tokens[order[p]]``), ``query_index`` the query word as an index in ``tokens``;
and ``data-max-change``, the largest change (over the words) of the query word's weight from
the original order, with the same scheme. The scheme switch is
``input[type=radio][data-testid="scheme-<name>"]`` (none, sinusoidal, rope), the buttons are
``button[data-testid="shuffle"]`` and ``button[data-testid="reset"]``, the query picker
``select[data-testid="query-select"]`` (values: indices in ``tokens``). The bars are
``li[data-testid="weight"][data-key-index][data-word-index][data-value]``, one per position
``data-key-index`` of the order shown; the output is ``[data-testid="output"][data-value]``
(a JSON list, the query word's output vector: noun, animate, action) and the one-line
readout ``[data-testid="readout"]``.

Expected numbers come from ``attention_with_positions`` run in this test on the words in the
order the page shows, never from the widget.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from _browser import COLUMN_PX, SCREENSHOTS, open_page, widget_page, widget_scripts
from selfattn.example import SENTENCE, embed, matrices, tokenize
from selfattn.positions import attention_with_positions

pytestmark = pytest.mark.browser

TOL = 1e-6
ROOT_SEL = 'div[data-testid="position-explorer"]'
TOKENS = tokenize(SENTENCE)
N = len(TOKENS)
IT = TOKENS.index("it")
SCHEMES = ("none", "sinusoidal", "rope")
@pytest.fixture(scope="module")
def page_url(browser, tmp_path_factory):
    from selfattn.widgets import PositionExplorer

    yield from widget_page(tmp_path_factory, PositionExplorer(), "Positions explorer", "max-width")


@pytest.fixture
def opened(browser, page_url):
    context, page, log = open_page(browser, page_url, "index.html")
    try:
        yield page, page.locator(ROOT_SEL), log
    finally:
        context.close()


_READ = """(root) => ({
  state: JSON.parse(root.getAttribute('data-state')),
  maxChange: Number(root.getAttribute('data-max-change')),
  bars: [...root.querySelectorAll('[data-testid="weight"]')].map(e => ({
    key: Number(e.dataset.keyIndex), word: Number(e.dataset.wordIndex), value: Number(e.dataset.value),
    label: e.querySelector('.sa-bar-label').textContent})),
  output: JSON.parse(root.querySelector('[data-testid="output"]').getAttribute('data-value')),
  readout: root.querySelector('[data-testid="readout"]').textContent,
})"""


def selfattn_numbers(order, scheme, query):
    """The query word's weights on the words in ``order`` (as shown) and its output, from selfattn."""
    out, w = attention_with_positions(embed([TOKENS[i] for i in order]), *matrices(), scheme)
    p = list(order).index(query)
    return w[p], out[p]


def check_shown(root, where: str) -> dict:
    """The bars and the output equal selfattn's on the order the page shows; returns the reading."""
    r = root.evaluate(_READ)
    state = r["state"]
    order, scheme, query = state["order"], state["scheme"], state["query_index"]
    assert state["tokens"] == TOKENS, f"{where}: tokens {state['tokens']}"
    assert sorted(order) == list(range(N)), f"{where}: {order} is not an order of the {N} words"
    assert state["shown"] == [TOKENS[i] for i in order], f"{where}: shown {state['shown']} for order {order}"
    w_ref, out_ref = selfattn_numbers(order, scheme, query)
    assert [b["key"] for b in r["bars"]] == list(range(N)), f"{where}: one bar per position, in order"
    assert [b["word"] for b in r["bars"]] == order, f"{where}: the bars are not the words in the order shown"
    for b in r["bars"]:
        assert b["label"].startswith(TOKENS[b["word"]]), f"{where}: bar {b['key']} reads {b['label']!r}"
    np.testing.assert_allclose([b["value"] for b in r["bars"]], w_ref, atol=TOL, rtol=0,
                               err_msg=f"{where}: the bars differ from selfattn's ({scheme}, order {order})")
    np.testing.assert_allclose(r["output"], out_ref, atol=TOL, rtol=0,
                               err_msg=f"{where}: the output differs from selfattn's ({scheme}, order {order})")
    r["by_word"] = np.empty(N)
    r["by_word"][order] = [b["value"] for b in r["bars"]]  # the weight on each word of the sentence
    return r


def act(page, root, do):
    """Do something to the page and wait until the explorer's state changed."""
    old = root.get_attribute("data-state")
    do()
    page.wait_for_function("([el, old]) => el.getAttribute('data-state') !== old",
                           arg=[root.element_handle(), old])


def pick_scheme(page, root, scheme):
    if json.loads(root.get_attribute("data-state"))["scheme"] != scheme:
        act(page, root, lambda: root.locator(f'[data-testid="scheme-{scheme}"]').check())


def test_static_page_builder_uses_the_books_widget_scripts():
    scripts = widget_scripts()
    assert "embed-amd.js" in scripts and "require.js" in scripts


def test_position_explorer_shows_selfattns_numbers_without_a_kernel(opened):
    page, root, log = opened
    assert root.count() == 1, "the positions explorer did not render from the saved state"
    r = check_shown(root, "as loaded")
    state = r["state"]
    assert (state["scheme"], state["order"], state["shuffles"]) == ("none", list(range(N)), 0)
    assert TOKENS[state["query_index"]] == "it", "the query word is 'it' by default"
    assert root.locator('[data-testid="scheme-none"]').is_checked()
    assert "Original order" in r["readout"]
    assert not log.problems(), "\n".join(log.problems())


def test_schemes_shuffles_and_query_agree_with_selfattn(opened):
    """Each scheme, three shuffles, another query word, a reset: every step is selfattn's numbers."""
    from selfattn.widgets import shuffled_order

    page, root, log = opened
    original = {}
    for scheme in SCHEMES:
        pick_scheme(page, root, scheme)
        original[scheme] = check_shown(root, f"{scheme}, original order")["by_word"]
    shuffle = root.locator('[data-testid="shuffle"]')
    for k in range(1, 4):
        act(page, root, shuffle.click)
        for scheme in SCHEMES:
            pick_scheme(page, root, scheme)
            r = check_shown(root, f"{scheme}, after {k} shuffles")
            state = r["state"]
            assert state["order"] == shuffled_order(N, 0, k), "the page's shuffle is not the seeded one"
            assert state["order"] != list(range(N)) and state["shuffles"] == k
            change = np.abs(r["by_word"] - original[scheme]).max()
            if scheme == "none":
                # without positions: every word keeps its weight, only the bars moved
                assert change < 1e-12, f"shuffle {k}: without positions the weights of 'it' changed by {change}"
                assert r["maxChange"] < 1e-12 and "exactly the weight" in r["readout"], r["readout"]
            else:
                assert change > 1e-3, f"shuffle {k}: {scheme} left the weights of 'it' unchanged ({change})"
                np.testing.assert_allclose(r["maxChange"], change, atol=TOL, rtol=0)
                assert "the weights change" in r["readout"], r["readout"]
    cat = TOKENS.index("cat")
    act(page, root, lambda: root.locator('[data-testid="query-select"]').select_option(str(cat)))
    for scheme in SCHEMES:
        pick_scheme(page, root, scheme)
        r = check_shown(root, f"{scheme}, query 'cat'")
        assert r["state"]["query_index"] == cat
        assert "“cat”" in r["readout"]
    act(page, root, root.locator('[data-testid="reset"]').click)
    r = check_shown(root, "after reset")
    assert r["state"]["order"] == list(range(N)) and r["state"]["shuffles"] == 0
    act(page, root, shuffle.click)
    assert check_shown(root, "first shuffle after reset")["state"]["order"] == shuffled_order(N, 0, 1)
    assert not log.problems(), "\n".join(log.problems())


def test_controls_are_labelled_and_work_from_the_keyboard(opened):
    page, root, log = opened
    for scheme, label in (("none", "none"), ("sinusoidal", "sinusoidal"), ("rope", "RoPE")):
        names = root.locator(f'[data-testid="scheme-{scheme}"]').evaluate(
            "(el) => [...el.labels].map(l => l.textContent)")
        assert names == [label], f"scheme-{scheme}: labels {names}"
    assert root.locator("fieldset legend").first.inner_text() == "Positions"
    names = root.locator('[data-testid="query-select"]').evaluate("(el) => [...el.labels].map(l => l.textContent)")
    assert names == ["Query word"]
    # the arrow keys move through the schemes, Tab reaches the picker and the buttons, Enter shuffles
    root.locator('[data-testid="scheme-none"]').focus()
    act(page, root, lambda: page.keyboard.press("ArrowRight"))
    assert json.loads(root.get_attribute("data-state"))["scheme"] == "sinusoidal"
    check_shown(root, "after ArrowRight on the schemes")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "query-select"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "shuffle"
    act(page, root, lambda: page.keyboard.press("Enter"))
    r = check_shown(root, "after Enter on shuffle")
    assert r["state"]["shuffles"] == 1
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "reset"
    act(page, root, lambda: page.keyboard.press("Space"))
    assert check_shown(root, "after Space on reset")["state"]["order"] == list(range(N))


@pytest.mark.parametrize("width", [1280, 390])
def test_explorer_fits_the_column_and_a_phone_without_scrolling_sideways(opened, width):
    page, root, log = opened
    page.set_viewport_size({"width": width, "height": 900})
    pick_scheme(page, root, "rope")
    act(page, root, root.locator('[data-testid="shuffle"]').click)  # the longest readout
    sizes = root.evaluate("""(root) => ({
      root: Math.ceil(root.getBoundingClientRect().width), overflow: root.scrollWidth - root.clientWidth,
      page: document.documentElement.scrollWidth - document.documentElement.clientWidth})""")
    assert sizes["root"] <= COLUMN_PX, f"the explorer is {sizes['root']} px wide, the column {COLUMN_PX} px"
    assert sizes["overflow"] <= 1, f"at {width} px the explorer scrolls {sizes['overflow']} px sideways"
    assert sizes["page"] <= 1, f"at {width} px the page scrolls {sizes['page']} px sideways"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    root.screenshot(path=str(SCREENSHOTS / f"position_explorer_{width}.png"))


def test_position_explorer_page_has_no_serious_accessibility_violations(opened):
    from axe_playwright_python.sync_playwright import Axe

    page, root, log = opened
    act(page, root, root.locator('[data-testid="shuffle"]').click)
    results = Axe().run(page)
    serious = [f"{v['impact']}: {v['id']}: {v['help']} ({[n['target'] for n in v['nodes'][:3]]})"
               for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not serious, "\n".join(serious)
