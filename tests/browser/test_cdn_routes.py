"""The CDN router maps npm CDN addresses to local files and refuses everything else.

These tests need no browser: they run on every machine.
"""

from __future__ import annotations

import json
import re

import pytest

from _cdn import HERE, Unroutable, local_copy, split_npm_url, version_satisfies


@pytest.mark.parametrize("installed, requested, ok", [
    ("3.2.2", "3.2.2", True),
    ("3.2.2", "3", True),
    ("3.2.2", "3.2", True),
    ("3.2.2", "4", False),
    ("3.2.1", "3.2.2", False),
    ("0.11.0", "~0.11.*", True),
    ("0.11.5", "~0.11.*", True),
    ("0.12.0", "~0.11.*", False),
    ("0.11.3", "~0.11.2", True),
    ("0.11.1", "~0.11.2", False),
    ("1.0.15", "^1.0.6", True),
    ("2.0.0", "^1.0.6", False),
    ("1.0.5", "^1.0.6", False),
    ("0.2.9", "^0.2.3", True),
    ("0.3.0", "^0.2.3", False),
])
def test_version_satisfies_follows_npm_ranges(installed, requested, ok):
    assert version_satisfies(installed, requested) is ok


def test_split_npm_url_handles_scoped_packages_and_queries():
    assert split_npm_url("https://cdn.jsdelivr.net/npm/mathjax@3.2.2/es5/tex-mml-chtml.js?v=1") == (
        "mathjax", "3.2.2", "es5/tex-mml-chtml.js")
    assert split_npm_url("https://cdn.jsdelivr.net/npm/anywidget@~0.11.*/dist/index.js") == (
        "anywidget", "~0.11.*", "dist/index.js")


@pytest.fixture
def fake_modules(tmp_path):
    pkg = tmp_path / "@scope" / "lib"
    (pkg / "dist").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": "@scope/lib", "version": "1.2.3"}))
    (pkg / "dist" / "a.js").write_text("define([], () => 1);")
    (tmp_path / "secret.txt").write_text("outside")
    return tmp_path


def test_local_copy_finds_the_file_of_the_installed_version(fake_modules):
    got = local_copy("https://cdn.jsdelivr.net/npm/@scope/lib@1.2.3/dist/a.js", fake_modules)
    assert got == (fake_modules / "@scope" / "lib" / "dist" / "a.js").resolve()


@pytest.mark.parametrize("url, reason", [
    ("https://example.com/@scope/lib@1.2.3/dist/a.js", "not an npm CDN"),
    ("https://cdn.jsdelivr.net/npm/@scope/lib/dist/a.js", "pin a version"),
    ("https://cdn.jsdelivr.net/npm/@scope/lib@1.2.4/dist/a.js", "1.2.3 is installed"),
    ("https://cdn.jsdelivr.net/npm/other@1.0.0/index.js", "not in"),
    ("https://cdn.jsdelivr.net/npm/@scope/lib@1.2.3/dist/b.js", "has no file"),
    ("https://cdn.jsdelivr.net/npm/@scope/lib@1.2.3/../../secret.txt", "leaves the package"),
])
def test_local_copy_refuses_what_it_cannot_serve_faithfully(fake_modules, url, reason):
    with pytest.raises(Unroutable, match=re.escape(reason)):
        local_copy(url, fake_modules)


def test_the_book_config_asks_for_the_versions_package_json_pins():
    """The CDN addresses in _config.yml name the versions package.json pins."""
    text = (HERE.parent.parent / "_config.yml").read_text()
    pinned = json.loads((HERE / "package.json").read_text())["dependencies"]
    addresses = re.findall(r"https://cdn\.jsdelivr\.net/npm/[^\s\"']+?(?='|\"|\s|$)", text)
    asked: dict[str, set] = {}
    for url in addresses:
        if url.endswith("/npm/"):
            continue  # the widget manager's CDN base, not a file
        name, version, _ = split_npm_url(url)
        asked.setdefault(name, set()).add(version)
    assert asked, "expected CDN addresses in _config.yml"
    mismatched = {n: (v, pinned.get(n)) for n, v in asked.items() if v != {pinned.get(n)}}
    assert not mismatched, f"CDN addresses in _config.yml ask for versions package.json does not pin: {mismatched}"
