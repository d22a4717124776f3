"""Helpers for notebooks that are also book pages.

:func:`glue` stores a value for the prose (myst-nb's ``{glue}`` role) when
myst-nb is installed, as in the book build, JupyterLab and Binder; elsewhere
(for example Colab) it does nothing, so the same notebook runs everywhere.
"""

from __future__ import annotations

__all__ = ["glue"]


def glue(name: str, value, display: bool = False):
    """Glue ``value`` under ``name`` for the book; return ``value`` unchanged.

    Examples
    --------
    >>> from selfattn.book import glue
    >>> glue("answer", 42)
    42
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - depends on the environment
        return value
    _glue(name, value, display=display)
    return value
