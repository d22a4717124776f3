"""Shared fixtures: the repository root and the book built once per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _jupyter_book() -> str:
    exe = BIN / "jupyter-book"
    return str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_book() -> dict:
    """Build the book from clean, exactly as the README says, with warnings as errors.

    Returns the process result and the path of the HTML folder. The build runs once
    per session; the book test and the browser tests share it.
    """
    jb = _jupyter_book()
    subprocess.run([jb, "clean", "--all", str(ROOT)], check=True, capture_output=True, text=True)
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    proc = subprocess.run(
        [jb, "build", str(ROOT), "--all", "-W", "-n", "--keep-going"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    return {"proc": proc, "html": ROOT / "_build" / "html"}
