"""The book builds from clean with no Sphinx warning, and every chapter is in the table of contents.

What the committed notebooks may contain is checked in tests/test_notebooks.py.
"""

from __future__ import annotations

import re

import pytest


def test_every_chapter_is_in_the_toc(root):
    toc = (root / "_toc.yml").read_text()
    chapters = sorted(p.stem for p in (root / "chapters").glob("*.ipynb"))
    missing = [c for c in chapters if f"chapters/{c}" not in toc]
    assert not missing, f"chapters missing from _toc.yml: {missing}"


@pytest.mark.book
def test_book_builds_from_clean_without_warnings(built_book):
    proc = built_book["proc"]
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines() if re.search(r"\bWARNING:|\bERROR:|Traceback", line)]
    assert proc.returncode == 0 and not warnings, (
        f"jupyter-book build exited {proc.returncode} with {len(warnings)} warning(s):\n"
        + "\n".join(warnings[:40]) + "\n--- tail of the log ---\n" + log[-4000:]
    )
    assert (built_book["html"] / "index.html").exists()
