"""The ``needs-kernel`` directive: a notice for controls that only work with a live kernel.

Widgets whose effect runs in Python (``ipywidgets.interact``, a learner's own function
in the attention explorer) do nothing in the static HTML book. Put a notice in a markdown
cell right above such a widget, as an admonition of class ``needs-kernel`` (which
JupyterLab's MyST renderer shows as well)::

    :::{admonition} This part needs a live Python kernel
    :class: warning needs-kernel
    The controls below run Python code ...
    :::

or as the ``{needs-kernel}`` directive (standard text; the book only). In the book, every
such notice ends with a link to this page's notebook on Binder, built
from the book's ``repository`` and ``launch_buttons`` settings in _config.yml. Optional
content is added below the standard text. The browser tests
(tests/browser/test_pages.py) require such a notice on every page with Python-side
controls.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from .repository import Repository, check_address
from .repository import binder_url as repository_binder_url


def binder_url(theme_options: dict, notebook: str) -> str | None:
    """Binder address that opens ``notebook`` (a path relative to the book) in JupyterLab.

    ``theme_options`` are the ones Jupyter Book derives from ``repository:`` and
    ``launch_buttons:`` in _config.yml, so this link and the launch buttons follow the same
    setting (see :mod:`selfattn.sphinxext.repository`). ``None`` when there is no Binder to
    link to (no GitHub repository, or no ``binderhub_url``).

    Examples
    --------
    >>> binder_url({"repository_url": "https://github.com/o/r", "repository_branch": "main",
    ...             "path_to_docs": "", "launch_buttons": {"binderhub_url": "https://mybinder.org"}},
    ...            "chapters/06_x.ipynb")
    'https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/chapters/06_x.ipynb'
    >>> binder_url({"repository_url": "https://gitlab.com/o/r"}, "chapters/06_x.ipynb") is None
    True
    """
    launch = theme_options.get("launch_buttons") or {}
    hub = (launch.get("binderhub_url") or "").rstrip("/")
    try:
        url, branch = check_address(theme_options.get("repository_url"),
                                    theme_options.get("repository_branch") or "main")
    except ValueError:
        return None
    if not hub:
        return None
    repo = Repository(url, branch, path_to_book=theme_options.get("path_to_docs") or "",
                      binderhub_url=hub,
                      notebook_interface=launch.get("notebook_interface") or "jupyterlab")
    return repository_binder_url(repo, notebook)


def _launch_paragraph(env, docname: str) -> nodes.paragraph:
    """"Open this chapter in Binder ..." with the page's own Binder address (or the JupyterLab hint)."""
    source = env.doc2path(docname, base=False)
    notebook = PurePosixPath(str(source)).with_suffix(".ipynb").as_posix()
    url = binder_url(env.config.html_theme_options or {}, notebook)
    para = nodes.paragraph(classes=["needs-kernel-launch"])
    if url:
        para += nodes.reference("", "Open this chapter in Binder", refuri=url)
        para += nodes.Text(" (or run the notebook in JupyterLab) to use them.")
    else:
        para += nodes.Text("Run the notebook in JupyterLab to use them.")
    return para


class NeedsKernel(SphinxDirective):
    has_content = True

    def run(self):
        notice = nodes.admonition(classes=["warning", "needs-kernel"])
        notice += nodes.title(text="This part needs a live Python kernel")
        notice += nodes.paragraph(text="The controls below run Python code, so in this static page "
                                       "they do not respond.")
        if self.content:
            self.state.nested_parse(self.content, self.content_offset, notice)
        return [notice]


def add_launch_links(app, doctree, docname) -> None:
    """Every notice of class ``needs-kernel`` ends with the Binder link of its page.

    Chapters write the notice as a plain MyST admonition with ``:class: warning needs-kernel``
    (JupyterLab renders it too), or with the ``{needs-kernel}`` directive; both get the link here.
    """
    for notice in doctree.findall(nodes.admonition):
        if "needs-kernel" in notice["classes"] and not any(
                "needs-kernel-launch" in p["classes"] for p in notice.findall(nodes.paragraph)):
            notice += _launch_paragraph(app.env, docname)


def setup(app):
    app.add_directive("needs-kernel", NeedsKernel)
    app.connect("doctree-resolved", add_launch_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
