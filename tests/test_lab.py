"""`make lab` serves the repository root and opens the first chapter, so the chapters' links work.

The command comes from the Makefile itself (`make -s lab-command` prints what `make lab` runs),
so these tests start JupyterLab exactly as a learner does, plus a free port on 127.0.0.1, no
browser and a token.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import secrets
import shlex
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
import yaml

LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")  # [text](target "title")


def lab_command(root: Path, env: dict | None = None) -> list[str]:
    """The command `make lab` runs, as the Makefile prints it."""
    out = subprocess.run(["make", "-s", "--no-print-directory", "lab-command"], cwd=root, env=env,
                         capture_output=True, text=True, check=True)
    return shlex.split(out.stdout)


def first_chapter(root: Path) -> str:
    """The first chapter of _toc.yml, as a path from the repository root."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part.get("chapters", [])]
    return next(f for f in files if f.startswith("chapters/")) + ".ipynb"


def local_links(notebook: dict) -> list[str]:
    """Targets of the markdown links of ``notebook`` that point at files, not at the web."""
    targets = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            targets += LINK.findall("".join(cell["source"]))
    return [unquote(t.split("#")[0]) for t in targets
            if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def resolve(page: str, target: str) -> str | None:
    """Where a relative link ``target`` on ``page`` leads, from the server root; None above it."""
    path = posixpath.normpath(posixpath.join(posixpath.dirname(page), target))
    return None if path == ".." or path.startswith("../") else path


def test_resolve_follows_parent_links_and_refuses_to_leave_the_root():
    assert resolve("chapters/02_query.ipynb", "../notation.md") == "notation.md"
    assert resolve("02_query.ipynb", "../notation.md") is None  # a server rooted at chapters/
    assert local_links({"cells": [{"cell_type": "markdown", "source": [
        "See the [notation page](../notation.md#shapes), [PyTorch](https://pytorch.org) ",
        "and [above](#goals)."]}]}) == ["../notation.md"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> tuple[int, dict]:
    """Status and headers of a GET, without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


@contextmanager
def running_lab(root: Path, tmp_path: Path):
    """JupyterLab started with the Makefile's command; yields (base URL, token)."""
    command = lab_command(root)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    log = open(tmp_path / "lab.log", "w+")
    proc = subprocess.Popen(
        command + ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _get(f"{base}/api/status", token)[0] == 200:
                    break
            except OSError:
                pass
            log.seek(0)
            assert proc.poll() is None, (
                f"`{shlex.join(command)}` exited {proc.returncode}:\n{log.read()[-3000:]}")
            assert time.monotonic() < deadline, f"JupyterLab did not answer in 90 s:\n{log.read()[-3000:]}"
            time.sleep(0.3)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_make_lab_serves_the_repository_root_and_opens_the_first_chapter(root, tmp_path):
    chapter = first_chapter(root)
    links = {}
    for nb_path in sorted((root / "chapters").glob("*.ipynb")):
        page = nb_path.relative_to(root).as_posix()
        for target in local_links(json.loads(nb_path.read_text())):
            links[f"{page}: {target}"] = resolve(page, target)
    assert any(link.endswith("notation.md") for link in links), "expected links to the notation page"

    problems = []
    with running_lab(root, tmp_path) as (base, token):
        status, headers = _get(f"{base}/", token)
        opened = urlsplit(headers.get("Location", "")).path
        if status not in (301, 302) or opened != f"/lab/tree/{chapter}":
            problems.append(f"/ should open the first chapter, /lab/tree/{chapter}; it leads to {opened!r}")
        for url in (f"/lab/tree/{chapter}", f"/api/contents/{chapter}?content=0", "/files/notation.md"):
            status = _get(base + quote(url, safe="/?="), token)[0]
            if status != 200:
                problems.append(f"{url}: {status}")
        for link, path in links.items():
            status = (_get(f"{base}/api/contents/{quote(path)}?content=0", token)[0] if path
                      else "above the root")
            if status != 200:
                problems.append(f"link {link}: {status}")
    assert not problems, "`make lab` does not serve the course as its links expect:\n" + "\n".join(problems)


def _fake_id(tmp_path: Path, uid: int) -> dict:
    """An environment whose `id -u` prints ``uid``."""
    bin_dir = tmp_path / f"uid{uid}"
    bin_dir.mkdir()
    fake = bin_dir / "id"
    fake.write_text(f"#!/bin/sh\necho {uid}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_make_lab_allows_root_only_when_run_as_root(root, tmp_path):
    as_root = lab_command(root, env=_fake_id(tmp_path, 0))
    as_user = lab_command(root, env=_fake_id(tmp_path, 1000))
    assert "--allow-root" in as_root, f"as root, `make lab` must pass --allow-root: {as_root}"
    assert "--allow-root" not in as_user, f"--allow-root only for root: {as_user}"
