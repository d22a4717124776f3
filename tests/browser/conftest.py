"""Fixtures for the browser tests: Chromium, the built book on 127.0.0.1, CDN routing.

The tests drive Debian's Chromium (``/usr/bin/chromium``, or ``$SELFATTN_CHROMIUM``)
through Playwright; Playwright's own browser download is never used. Every request
that leaves the local server is answered from ``tests/browser/node_modules`` (see
``_cdn.py``) or blocked and reported, so the tests run offline against exactly the
HTML readers get.

Without Chromium, Playwright or the npm copies the tests skip and say why; with
``SELFATTN_REQUIRE_BROWSER=1`` (set by ``.ci/run``) they fail instead.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib (two conftest.py files would clash under
# --doctest-modules otherwise), which does not put this folder on sys.path: the helper
# modules below and the test modules import `_browser` and `_cdn` by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _browser import CHROMIUM, CHROMIUM_FLAGS, FACTS, SCREENSHOTS, open_page, serve, unavailable
from _cdn import HERE, installed_version


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (Debian/Ubuntu: `apt-get install chromium`; "
                    "or point SELFATTN_CHROMIUM at a Chromium binary)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the Python package playwright is not installed (`pip install -r requirements.txt`)")
    return CHROMIUM


@pytest.fixture(scope="session")
def npm_copies() -> Path:
    """The local copies of the CDN scripts, at the versions package.json pins."""
    wanted = json.loads((HERE / "package.json").read_text())["dependencies"]
    wrong = {name: installed_version(name) for name, version in wanted.items()
             if installed_version(name) != version}
    if wrong:
        listed = ", ".join(f"{n}@{wanted[n]} (found {v or 'nothing'})" for n, v in wrong.items())
        unavailable(f"local copies of the CDN scripts are missing: {listed}; "
                    "run `npm ci --prefix tests/browser`")
    return HERE / "node_modules"


@pytest.fixture(scope="session")
def chromium(chromium_executable):
    """Headless Chromium, one per session (Playwright's sync API allows one instance at a time)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(chromium_executable), headless=True,
                                      args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def browser(chromium, npm_copies):
    """Chromium for the book's pages, which need the local copies of the CDN scripts."""
    return chromium


@pytest.fixture(scope="session")
def book_url(browser, request) -> str:
    """Base address of the built book served on 127.0.0.1.

    The browser is checked first, so a machine without one skips before paying for the
    book build. ``SELFATTN_BOOK_HTML=<folder>`` tests an already built book instead of
    building it (handy while writing a test; CI never sets it).
    """
    given = os.environ.get("SELFATTN_BOOK_HTML")
    if given:
        html = Path(given)
    else:
        built_book = request.getfixturevalue("built_book")
        html = built_book["html"]
    if not (html / "index.html").exists():
        if given:
            pytest.fail(f"SELFATTN_BOOK_HTML={given} has no index.html", pytrace=False)
        proc = built_book["proc"]
        pytest.fail(f"the book did not build (exit {proc.returncode}); see test_book.py\n"
                    + (proc.stdout + proc.stderr)[-3000:], pytrace=False)
    server = serve(html)
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def visited(browser, book_url):
    """Load each page once: its log, facts, serious accessibility violations and screenshot."""
    from axe_playwright_python.sync_playwright import Axe

    cache: dict[str, dict] = {}
    axe = Axe()

    def visit(page_info: dict) -> dict:
        name = page_info["name"]
        if name not in cache:
            context, page, log = open_page(browser, book_url, page_info["html"])
            try:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shot = SCREENSHOTS / (name.replace("/", "__") + ".png")
                page.screenshot(path=str(shot), full_page=True)
                page.wait_for_load_state("networkidle")
                facts = page.evaluate(FACTS)
                # Snapshot the problems now: axe's own requests (it re-fetches @imported
                # stylesheets, resolving them against the page) are not the page's.
                problems = log.problems()
                results = axe.run(page)
                violations = [v for v in results.response["violations"]
                              if v.get("impact") in ("serious", "critical")]
            finally:
                context.close()
            cache[name] = {"problems": problems, "facts": facts, "screenshot": shot, "axe": violations}
        return cache[name]

    return visit
