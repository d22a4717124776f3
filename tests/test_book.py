"""The book builds from clean with no Sphinx warning, and notebooks are committed without outputs."""

from __future__ import annotations

import json
import re
import subprocess

import pytest


def _committed_notebooks(root):
    out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout (e.g. an sdist): fall back to the files on disk
        return sorted(p.relative_to(root).as_posix() for p in (root / "chapters").rglob("*.ipynb"))
    return [p for p in out.stdout.split() if p]


def cells_with_outputs(nb: dict) -> list[int]:
    """Indices of code cells that carry outputs or an execution count."""
    return [
        i for i, c in enumerate(nb.get("cells", []))
        if c.get("cell_type") == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]


def test_cells_with_outputs_detects_a_dirty_notebook():
    dirty = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": "1"}],
                        "execution_count": 1, "source": "print(1)"}]}
    clean = {"cells": [{"cell_type": "code", "outputs": [], "execution_count": None, "source": "x = 1"}]}
    assert cells_with_outputs(dirty) == [0]
    assert cells_with_outputs(clean) == []


def test_committed_notebooks_have_no_outputs(root):
    notebooks = _committed_notebooks(root)
    assert notebooks, "expected at least one committed notebook under chapters/"
    dirty = {p: cells_with_outputs(json.loads((root / p).read_text())) for p in notebooks}
    dirty = {p: cells for p, cells in dirty.items() if cells}
    assert not dirty, (
        "notebooks must be committed without outputs (the book executes them); "
        f"clear them with `jupyter nbconvert --clear-output --inplace`: {dirty}"
    )


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
