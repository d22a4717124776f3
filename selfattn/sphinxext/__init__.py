"""Sphinx extensions used by the book's build (listed in ``_config.yml``), not by the chapters.

* :mod:`selfattn.sphinxext.book_fixes`: fixes in the generated HTML that the browser tests found;
* :mod:`selfattn.sphinxext.needs_kernel`: the ``{needs-kernel}`` notice with a Binder link.
"""
