"""Every page of the built book fits its column, and its figures are shown at full size.

At desktop width (1280 px, as `_browser.open_page` opens every page):

* no visible code input (``div.highlight pre``) or output (``.cell_output pre``) is wider
  than its box: a line cut off at the right edge or reached only by scrolling sideways fails;
* no table is wider than the box that holds it, nor than its own box. A wide table that
  scrolls inside a wrapper fails too: the issue asks for wide tables to be readable, and
  columns hidden behind a horizontal scroll are not;
* every figure image (``img`` in a cell output) is drawn at its natural width (99% allows
  for rounding). Figures are saved at matplotlib's 100 dpi, so the natural width is the width at
  which ``selfattn.plotting.smallest_font_on_page`` measured the text
  (``tests/test_plotting.py``); a figure the page shrinks has smaller text than measured.

At phone width (390 px) the page itself does not scroll sideways.

Elements that are not displayed (a closed solution dropdown) have no width and are skipped:
their content is checked where the same code is shown, and on the phone test.
Failure messages name the page, the element and the overflow in px.
"""

from __future__ import annotations

import pytest

from _browser import book_pages, open_page

pytestmark = pytest.mark.browser

PAGES = book_pages()
IDS = [p["name"] for p in PAGES]
PHONE_WIDTH = 390
MIN_FIGURE_SCALE = 0.99

# The element's own overflow (scrollWidth beyond clientWidth) and, for tables, how far the
# table sticks out of its parent's box (a scrolling wrapper's clientWidth is what shows).
OVERFLOWS = """() => {
  const describe = (el) => {
    const text = (el.innerText || '').trim().split('\\n')[0].slice(0, 70);
    const cls = el.className ? '.' + String(el.className).trim().split(/\\s+/).join('.') : '';
    return `${el.tagName.toLowerCase()}${cls} "${text}"`;
  };
  const shown = (el) => el.clientWidth > 0 && el.getClientRects().length > 0;
  const found = [];
  for (const el of document.querySelectorAll('div.highlight pre, .cell_output pre')) {
    if (!shown(el)) continue;
    const over = el.scrollWidth - el.clientWidth;
    if (over > 1) found.push({what: describe(el), px: over});
  }
  for (const el of document.querySelectorAll('article table')) {
    if (!shown(el)) continue;
    const own = el.scrollWidth - el.clientWidth;
    const parent = el.parentElement;
    const out = Math.ceil(el.getBoundingClientRect().width) - parent.clientWidth;
    const over = Math.max(own, out);
    if (over > 1) found.push({what: describe(el), px: over});
  }
  return found;
}"""

FIGURES = """() => Array.from(document.querySelectorAll('.cell_output img'))
  .filter((img) => img.naturalWidth > 0 && img.getClientRects().length > 0)
  .map((img) => ({src: img.getAttribute('src'), natural: img.naturalWidth,
                  shown: img.getBoundingClientRect().width,
                  alt: (img.getAttribute('alt') || '').slice(0, 60)}))"""

PAGE_SCROLL = """() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
  widest: Array.from(document.querySelectorAll('body *'))
    .map((el) => ({el, right: el.getBoundingClientRect().right}))
    .filter((x) => x.right > window.innerWidth + 1)
    .sort((a, b) => b.right - a.right).slice(0, 3)
    .map((x) => `${x.el.tagName.toLowerCase()}.${String(x.el.className).split(' ')[0]} `
                + `ends at ${Math.round(x.right)} px`)})"""


@pytest.fixture(scope="module")
def desktop(browser, book_url):
    cache: dict[str, dict] = {}

    def measure(page_info):
        name = page_info["name"]
        if name not in cache:
            context, page, _ = open_page(browser, book_url, page_info["html"])
            try:
                cache[name] = {"overflows": page.evaluate(OVERFLOWS),
                               "figures": page.evaluate(FIGURES)}
            finally:
                context.close()
        return cache[name]

    return measure


@pytest.mark.parametrize("page_info", PAGES, ids=IDS)
def test_no_code_or_table_overflows_its_column_at_desktop_width(desktop, page_info):
    found = desktop(page_info)["overflows"]
    assert not found, (f"{page_info['html']} at 1280 px: wider than its column:\n"
                       + "\n".join(f"  {f['what']}: {f['px']} px too wide" for f in found))


@pytest.mark.parametrize("page_info", PAGES, ids=IDS)
def test_every_figure_is_shown_at_its_natural_width(desktop, page_info):
    small = [f for f in desktop(page_info)["figures"]
             if f["shown"] < MIN_FIGURE_SCALE * f["natural"]]
    assert not small, (f"{page_info['html']} at 1280 px: figures shrunk below "
                       f"{MIN_FIGURE_SCALE:.0%} of their natural width (their text is smaller "
                       "than smallest_font_on_page measured):\n"
                       + "\n".join(f"  {f['src']} ({f['alt']}): {f['shown']:.0f} of "
                                   f"{f['natural']} px" for f in small))


@pytest.mark.parametrize("page_info", PAGES, ids=IDS)
def test_page_does_not_scroll_sideways_at_phone_width(browser, book_url, page_info):
    context, page, _ = open_page(browser, book_url, page_info["html"])
    try:
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
        page.wait_for_timeout(300)
        got = page.evaluate(PAGE_SCROLL)
    finally:
        context.close()
    over = got["scroll"] - got["inner"]
    assert over <= 0, (f"{page_info['html']} at {PHONE_WIDTH} px: the page scrolls sideways by "
                       f"{over} px; widest: {', '.join(got['widest'])}")
