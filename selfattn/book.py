"""Helpers for notebooks that are also book pages.

:func:`glue` stores a value for the prose (myst-nb's ``{glue}`` role) when
myst-nb is installed, as in the book build, JupyterLab and Binder; elsewhere
(for example Colab) it does nothing, so the same notebook runs everywhere.
"""

from __future__ import annotations

import numpy as np

__all__ = ["glue"]


class _Text(str):
    """A string whose plain-text display has no quotes, for glued words."""

    def __repr__(self) -> str:
        return str(self)


def glue(name: str, value, display: bool = False):
    """Glue ``value`` under ``name`` for the book; return ``value``.

    NumPy scalars are converted to plain Python numbers first: their repr
    (``np.float64(0.5)``) would otherwise break ``{glue:text}`` formatting.
    Strings are glued so that they show without quotes (``cat``, not ``'cat'``).

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.book import glue
    >>> glue("answer", 42)
    42
    >>> glue("weight", np.float64(0.25))
    0.25
    >>> glue("word", "cat")
    cat
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        value = _Text(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - depends on the environment
        return value
    _glue(name, value, display=display)
    return value
