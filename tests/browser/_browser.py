"""Helpers of the browser tests: pages of the book, Chromium settings, loading a page."""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from _cdn import HERE, Unroutable, content_type, local_copy
from selfattn.plotting import COLUMN_WIDTH

ROOT = HERE.parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
REQUIRE = os.environ.get("SELFATTN_REQUIRE_BROWSER") == "1"
CHROMIUM = Path(os.environ.get("SELFATTN_CHROMIUM", "/usr/bin/chromium"))
# What headless Chromium needs on this machine (and harmlessly elsewhere): no sandbox as
# root, no GPU, and none of the background connections a closed network refuses.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 60_000  # generous: a shared 2-core machine can be slow; no test asserts on time


def book_pages(root: Path = ROOT) -> list[dict]:
    """Every page of the table of contents: its name, HTML path and source file."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    pages = []
    for name in names:
        name = name.removesuffix(".md").removesuffix(".ipynb")
        source = next((root / f"{name}{ext}" for ext in (".ipynb", ".md") if (root / f"{name}{ext}").exists()), None)
        pages.append({"name": name, "html": f"{name}.html", "source": source})
    return pages


def unavailable(reason: str):
    """Skip (on a learner's machine) or fail (in CI) because the browser tests cannot run."""
    if REQUIRE:
        pytest.fail(f"{reason}. SELFATTN_REQUIRE_BROWSER=1 (set by .ci/run) makes this a failure.",
                    pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 at a free port, in a thread; returns the server."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class PageLog:
    """What went wrong while a page loaded."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    not_ready: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return ([f"console error: {m}" for m in self.console_errors]
                + [f"uncaught exception: {m}" for m in self.page_errors]
                + [f"failed request: {m}" for m in self.failed_requests]
                + [f"HTTP error: {m}" for m in self.bad_responses]
                + [f"request outside the local server and the npm copies: {m}" for m in self.external]
                + [f"not ready: {m}" for m in self.not_ready])


# Resolves once MathJax (if the page loads it) has typeset, and every embedded widget view
# has been rendered by the widget manager into the div it inserts before the view's script.
_READY = """() => {
  if (document.querySelector('script[src*="mathjax"]')) {
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return false;
    if (!window.__selfattnMathWatched) {
      window.__selfattnMathWatched = true;
      MathJax.startup.promise.then(() => { window.__selfattnMathDone = true; });
    }
    if (!window.__selfattnMathDone) return false;
  }
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
  return [...views].every(v => v.previousElementSibling && v.previousElementSibling.childElementCount > 0);
}"""


def open_page(browser, base_url: str, path: str):
    """Open ``path`` of the book in a fresh context; returns (context, page, log)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    log = PageLog()

    def handle(route):
        url = route.request.url
        if url.startswith(base_url):
            return route.continue_()
        try:
            target = local_copy(url)
        except Unroutable as err:
            log.external.append(str(err))
            return route.abort("blockedbyclient")
        return route.fulfill(status=200, path=str(target), headers={
            "Content-Type": content_type(target),
            "Access-Control-Allow-Origin": "*",  # the pages load CDN scripts with crossorigin="anonymous"
        })

    context.route("**/*", handle)
    page = context.new_page()
    page.on("console", lambda msg: log.console_errors.append(f"{msg.text} at {msg.location.get('url')}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda err: log.page_errors.append(str(err)))
    page.on("requestfailed", lambda req: log.failed_requests.append(f"{req.url} ({req.failure})"))
    page.on("response", lambda res: log.bad_responses.append(f"{res.status} {res.url}")
            if res.status >= 400 else None)
    page.goto(base_url + path, wait_until="load")
    try:
        page.wait_for_function(_READY, timeout=TIMEOUT_MS)
    except Exception as err:  # report as a page problem rather than a bare timeout
        log.not_ready.append(f"MathJax or the widgets did not finish rendering: {err}".splitlines()[0])
    page.wait_for_load_state("networkidle")
    return context, page, log


# Facts read from the rendered page.
FACTS = """() => {
  const text = (e) => (e.innerText || e.textContent || '').trim();
  return {
    math: [...document.querySelectorAll('.math')].map(e => ({
      source: text(e).slice(0, 80),
      rendered: e.querySelector('mjx-container') !== null || e.tagName.startsWith('MJX'),
    })),
    mathErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || text(e)),
    images: [...document.images].map(i => ({
      src: i.getAttribute('src'), alt: i.getAttribute('alt'), loaded: i.complete && i.naturalWidth > 0,
    })),
    inputs: [...document.querySelectorAll('div.cell div.cell_input')].map(e => text(e).length),
    outputs: [...document.querySelectorAll('div.cell div.cell_output')].map(e => e.innerHTML.trim().length),
    tracebacks: [...document.querySelectorAll('.cell_output .traceback, .cell_output .stderr, .cell_output .output.error')]
      .map(e => text(e).slice(0, 200)),
    explorers: document.querySelectorAll('div[data-testid="attention-explorer"]').length,
    // ipywidgets controls (sliders, dropdowns, ...) saved in the page: their effect runs in
    // Python (interact, observe), so in the static page they cannot respond.
    kernelControls: (() => {
      const s = document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
      if (!s) return [];
      const passive = ['HTMLModel', 'HTMLMathModel', 'LabelModel', 'ValidModel'];
      return Object.values(JSON.parse(s.textContent).state || {})
        .filter(m => m.model_module === '@jupyter-widgets/controls' && m.state
                     && ('value' in m.state || 'index' in m.state)
                     && !passive.includes(m.model_name))
        .map(m => `${m.model_name} "${m.state.description || ''}"`);
    })(),
    kernelNotices: [...document.querySelectorAll('.needs-kernel')].map(e => ({
      text: text(e).slice(0, 120), binder: e.querySelector('a[href*="mybinder.org"]') !== null,
    })),
  };
}"""


# --------------------------------------------------------------------------- widget pages
#: The book's text column in px (selfattn.plotting.COLUMN_WIDTH at 100 dpi).
COLUMN_PX = round(COLUMN_WIDTH * 100)


def widget_scripts() -> str:
    """The <script> tags the book loads for widgets, from _config.yml (nb_ipywidgets_js)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    tags = []
    for src, attrs in config["sphinx"]["config"]["nb_ipywidgets_js"].items():
        extra = "".join(f' {k}="{html.escape(str(v), quote=True)}"' for k, v in (attrs or {}).items())
        tags.append(f'<script src="{html.escape(src, quote=True)}"{extra}></script>')
    return "\n".join(tags)


def static_page(widget, title: str, width: str = "width") -> str:
    """A page that shows ``widget`` from its saved state alone, as the book's pages do.

    The state is embedded with ``ipywidgets.embed.embed_data`` (the
    ``application/vnd.jupyter.widget-state+json`` script myst-nb writes from the executed
    notebook, every trait included), and the page loads the widget scripts the book loads. The
    widget sits in a column as wide as the book's (``width``), or at most as wide (``max-width``).
    """
    from ipywidgets.embed import embed_data

    data = embed_data(views=[widget], drop_defaults=False)  # the executed notebook saves every trait
    state = json.dumps(data["manager_state"]).replace("</", "<\\/")
    view = json.dumps(data["view_specs"][0])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} (static page, no kernel)</title>
<script type="application/vnd.jupyter.widget-state+json">{state}</script>
{widget_scripts()}
</head>
<body>
<main>
<h1>{html.escape(title)}</h1>
<article style="{width}: {COLUMN_PX}px; margin: 0; padding: 0"><div class="cell_output"><script type="application/vnd.jupyter.widget-view+json">{view}</script></div></article>
</main>
</body>
</html>
"""


def widget_page(tmp_path_factory, widget, title: str, width: str = "width"):
    """Serve :func:`static_page` of ``widget``; yields its URL (use it in a module fixture)."""
    folder = tmp_path_factory.mktemp("widget_page")
    (folder / "index.html").write_text(static_page(widget, title, width), encoding="utf-8")
    server = serve(folder)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- the head explorer
#: selfattn/static/head_explorer.js's DOM contract (see tests/browser/test_head_explorer.py).
HEAD_EXPLORER = 'div[data-testid="head-explorer"]'

#: What the head explorer shows: its state, the heatmap's cells [i, j, value, text], the
#: bars [key index, value], the number of sentences to pick from and the heatmap's width.
READ_HEAD_EXPLORER = """(root) => ({
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


def pick(page, root, testid: str, value: int) -> None:
    """Choose ``value`` in the explorer's picker ``testid`` and wait for its state to change."""
    select = root.locator(f'select[data-testid="{testid}"]')
    if select.input_value() == str(value):
        return
    old = root.get_attribute("data-state")
    select.select_option(str(value))
    page.wait_for_function("([el, old]) => el.getAttribute('data-state') !== old",
                           arg=[root.element_handle(), old])


def check_heatmap_and_bars(reading: dict, expected, where: str, tol: float = 1e-6) -> None:
    """The explorer's heatmap (one cell per entry) and bars (the query's row) equal ``expected``,
    the (n, n) weights of the head its state names, to ``tol``."""
    import numpy as np

    state, n = reading["state"], len(expected)
    grid = np.full((n, n), np.nan)
    for i, j, value, _ in reading["cells"]:
        grid[i, j] = value
    assert len(reading["cells"]) == n * n and not np.isnan(grid).any(), (
        f"{where}: {len(reading['cells'])} cells for {n} tokens, expected {n * n}")
    np.testing.assert_allclose(grid, expected, atol=tol, rtol=0,
                               err_msg=f"{where}: the heatmap is not selfattn's layer "
                                       f"{state['layer']}, head {state['head']}")
    bars = np.full(n, np.nan)
    for j, value in reading["bars"]:
        bars[j] = value
    np.testing.assert_allclose(bars, expected[state["query_index"]], atol=tol, rtol=0,
                               err_msg=f"{where}: the bars are not row {state['query_index']}")
