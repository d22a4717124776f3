"""Sphinx extensions used by the book's build (listed in ``_config.yml``), and the tool that writes
the repository address; not used by the chapters.

* :mod:`selfattn.sphinxext.book_fixes`: fixes in the generated HTML that the browser tests found;
* :mod:`selfattn.sphinxext.needs_kernel`: the ``{needs-kernel}`` notice with a Binder link;
* :mod:`selfattn.sphinxext.repository`: the repository address, set once in _config.yml, written
  into the chapters' install cells and README.md (``make repository``).
"""
