"""Small Sphinx fixes for the built book (listed in _config.yml under sphinx.extra_extensions).

Each fix removes a defect the browser tests (tests/browser) found in the pages readers get.

* Duplicate inline scripts. sphinx-thebe adds its configuration script
  (``const THEBE_JS_URL = ...``) after the HTML builder has started, so Sphinx keeps it
  twice (once with file name ``None``, once with ``""``), and the second ``const``
  throws "Identifier 'THEBE_JS_URL' has already been declared" on every page. We keep
  the first copy of each identical script.
* Bibliography entries. docutils marks the reference list ``role="list"`` and each entry
  ``role="doc-biblioentry"``, a role ARIA 1.2 deprecates; axe reports the list as having
  no list items (critical). ``role="listitem"`` is what the deprecation note asks for.
* ipywidgets controls typeset their labels with MathJax 2's ``MathJax.Hub.Queue``; the book
  loads MathJax 3, which has no ``Hub``, so every labelled slider threw "Cannot read
  properties of undefined (reading 'Queue')". We give MathJax 3 a ``Hub.Queue`` that
  typesets with its own API.
* ipywidgets sliders draw their handle as ``div[role=slider]`` with no accessible name
  (axe: aria-input-field-name, serious); the widget's visible label is right next to it.
  Once widgets render, each nameless handle gets its slider's label as ``aria-label``.
"""

from __future__ import annotations


def _script_key(js) -> tuple:
    attributes = getattr(js, "attributes", {}) or {}
    filename = getattr(js, "filename", js) or ""  # None and "" both mean an inline script
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def dedupe_scripts(app, pagename, templatename, context, doctree):
    files = context.get("script_files")
    if not files:
        return
    seen, kept = set(), []
    for js in files:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def bibliography_roles(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


MATHJAX2_SHIM = """document.addEventListener("DOMContentLoaded", function () {
  var M = window.MathJax;
  if (M && !M.Hub) {
    M.Hub = {Queue: function (job) {
      var el = job && job[2];
      if (el && M.typesetPromise) { M.typesetPromise([el]); }
    }};
  }
});"""


SLIDER_NAMES = """document.addEventListener("DOMContentLoaded", function () {
  if (!document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]')) return;
  function name() {
    document.querySelectorAll(".widget-slider").forEach(function (w) {
      var label = w.querySelector(".widget-label");
      var text = label && label.textContent.trim();
      if (!text) return;
      w.querySelectorAll('[role="slider"]:not([aria-label])').forEach(function (h) {
        h.setAttribute("aria-label", text);
      });
    });
  }
  new MutationObserver(name).observe(document.body, {childList: true, subtree: true});
  name();
});"""


def _static_path(app):
    """The book's CSS lives in selfattn/static (selfattn-book.css: the display tables' padding)."""
    from pathlib import Path

    app.config.html_static_path.append(str(Path(__file__).resolve().parent.parent / "static"))


def setup(app):
    app.connect("builder-inited", _static_path)
    app.add_css_file("selfattn-book.css")
    app.add_js_file(None, body=MATHJAX2_SHIM)
    app.add_js_file(None, body=SLIDER_NAMES)
    app.connect("html-page-context", dedupe_scripts, priority=900)
    app.connect("html-page-context", bibliography_roles, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
