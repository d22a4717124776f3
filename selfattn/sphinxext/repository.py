"""The course's repository address: one setting, and the places that follow it.

The address lives in ONE place, the ``repository:`` block of ``_config.yml`` (``url`` and
``branch``). Jupyter Book turns it into the launch buttons (Binder, Colab) of every chapter
page, and the ``{needs-kernel}`` notice builds its Binder link from the same settings
(:func:`binder_url`). Two places cannot read ``_config.yml`` when they are used, so this
tool writes them:

* the install cell at the top of every chapter (Colab runs a notebook on its own, without
  the repository), which installs ``selfattn`` from the address and branch, and, when that
  fails, says in one sentence what to do instead of showing pip's error;
* the block of links between the ``repository links`` markers in ``README.md``.

After changing the setting, run ``make repository`` (``python -m selfattn.sphinxext.repository``);
``--check`` only lists the places that disagree, and exits 1 if there is one
(tests/test_repository.py does the same).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

GITHUB = re.compile(r"https://github\.com/[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
BRANCH = re.compile(r"[A-Za-z0-9._/-]+")
# The first line of the install cell: how the tool finds it in a chapter.
INSTALL_MARKER = "# Colab or any Python without the course package: install it (no-op elsewhere)."
README_BEGIN = "<!-- repository links: written by `make repository` from _config.yml; edit there -->"
README_END = "<!-- end of repository links -->"

INSTALL_CELL = '''\
{marker}
# Written by `make repository` from `repository:` in _config.yml: edit there.
try:
    import selfattn
except ImportError:
    import subprocess, sys
    repo = "{url}"
    branch = "{branch}"
    package = f"selfattn[plot,widgets] @ git+{{repo}}@{{branch}}"
    pip = [sys.executable, "-m", "pip", "install", "-q", package]
    if subprocess.run(pip, capture_output=True).returncode != 0:
        class InstallFailed(Exception):
            def _render_traceback_(self):  # IPython shows the sentence alone
                return [str(self)]
        raise InstallFailed(
            f"Could not install the course package from {{repo}} (branch "
            f"{{branch}}): install it from the repository this notebook came "
            "from by running %pip install "
            '"selfattn[plot,widgets] @ git+https://github.com/OWNER/NAME" in '
            "a new cell, then run this cell again (whoever publishes that "
            "repository fixes it for everyone by setting repository.url in "
            "its _config.yml and running make repository)."
        )
    import selfattn'''

README_BLOCK = """\
{begin}
- Repository: <{url}> (branch `{branch}`)
- Chapter 1 live: [in Binder]({binder}) or [in Colab]({colab})
- The book, once published (see "Publishing the book"): <{pages}>
{end}"""


@dataclass(frozen=True)
class Repository:
    """The ``repository:`` and ``launch_buttons:`` settings of ``_config.yml`` that links use."""

    url: str
    branch: str
    path_to_book: str = ""
    binderhub_url: str = "https://mybinder.org"
    colab_url: str = "https://colab.research.google.com"
    notebook_interface: str = "jupyterlab"

    @property
    def owner_name(self) -> str:
        """``owner/name`` of the GitHub repository."""
        return self.url.removeprefix("https://github.com/")

    def notebook_path(self, notebook: str) -> str:
        """Path of ``notebook`` (relative to the book) inside the repository."""
        return (PurePosixPath(self.path_to_book or ".") / notebook).as_posix().removeprefix("./")


def check_address(url: object, branch: object) -> tuple[str, str]:
    """Return ``(url, branch)`` if they name a public GitHub repository and a branch.

    Binder's ``gh`` provider and Colab's ``/github/`` pages both need a github.com address.

    Parameters
    ----------
    url : str
        ``repository.url`` of ``_config.yml``, e.g. ``https://github.com/owner/name``.
    branch : str
        ``repository.branch``.

    Returns
    -------
    tuple of str
        The address without a trailing slash, and the branch.

    Raises
    ------
    ValueError
        If ``url`` is not ``https://github.com/OWNER/NAME`` or ``branch`` is not a branch name.

    Examples
    --------
    >>> check_address("https://github.com/ada/attention-course/", "main")
    ('https://github.com/ada/attention-course', 'main')
    >>> check_address("git@github.com:ada/attention-course.git", "main")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: repository.url in _config.yml must be https://github.com/OWNER/NAME ..., got 'git@...'
    """
    text = url.rstrip("/") if isinstance(url, str) else url
    if not isinstance(text, str) or not GITHUB.fullmatch(text) or text.endswith(".git"):
        raise ValueError("repository.url in _config.yml must be https://github.com/OWNER/NAME "
                         f"(a public GitHub repository), got {url!r}")
    if not isinstance(branch, str) or not BRANCH.fullmatch(branch):
        raise ValueError(f"repository.branch in _config.yml must be a branch name, got {branch!r}")
    return text, branch


def read_config(root: Path) -> Repository:
    """The repository settings of ``root/_config.yml``.

    Parameters
    ----------
    root : pathlib.Path
        The book's folder.

    Returns
    -------
    Repository
        ``repository.url`` and ``branch`` (``main`` if unset), ``path_to_book``, and the
        Binder and Colab addresses of ``launch_buttons``.

    Raises
    ------
    ValueError
        If ``repository.url`` or ``repository.branch`` is missing or unusable (see :func:`check_address`).

    Examples
    --------
    >>> import tempfile
    >>> config = "repository:\\n  url: https://github.com/ada/course\\n"
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "_config.yml").write_text(config)
    ...     read_config(Path(tmp))
    Repository(url='https://github.com/ada/course', branch='main', path_to_book='', \
binderhub_url='https://mybinder.org', colab_url='https://colab.research.google.com', \
notebook_interface='jupyterlab')
    """
    config = yaml.safe_load((Path(root) / "_config.yml").read_text()) or {}
    repo = config.get("repository") or {}
    launch = config.get("launch_buttons") or {}
    url, branch = check_address(repo.get("url"), repo.get("branch") or "main")
    defaults = Repository(url, branch)
    return Repository(
        url, branch, path_to_book=repo.get("path_to_book") or "",
        binderhub_url=(launch.get("binderhub_url") or defaults.binderhub_url).rstrip("/"),
        colab_url=(launch.get("colab_url") or defaults.colab_url).rstrip("/"),
        notebook_interface=launch.get("notebook_interface") or defaults.notebook_interface,
    )


def binder_url(repo: Repository, notebook: str) -> str:
    """Binder address that opens ``notebook`` of ``repo``, as the book's launch button does.

    Parameters
    ----------
    repo : Repository
        The settings (see :func:`read_config`).
    notebook : str
        Path of the notebook relative to the book, e.g. ``chapters/01_x.ipynb``.

    Returns
    -------
    str
        ``{binderhub_url}/v2/gh/{owner}/{name}/{branch}?urlpath=lab/tree/{path}``.

    Examples
    --------
    >>> binder_url(Repository("https://github.com/o/r", "main"), "chapters/06_x.ipynb")
    'https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/chapters/06_x.ipynb'
    """
    ui = "lab/tree" if repo.notebook_interface == "jupyterlab" else "tree"
    return (f"{repo.binderhub_url}/v2/gh/{repo.owner_name}/{repo.branch}"
            f"?urlpath={ui}/{repo.notebook_path(notebook)}")


def colab_url(repo: Repository, notebook: str) -> str:
    """Colab address that opens ``notebook`` of ``repo``, as the book's launch button does.

    Parameters
    ----------
    repo : Repository
        The settings (see :func:`read_config`).
    notebook : str
        Path of the notebook relative to the book.

    Returns
    -------
    str
        ``{colab_url}/github/{owner}/{name}/blob/{branch}/{path}``.

    Examples
    --------
    >>> colab_url(Repository("https://github.com/o/r", "main"), "chapters/01_x.ipynb")
    'https://colab.research.google.com/github/o/r/blob/main/chapters/01_x.ipynb'
    """
    return f"{repo.colab_url}/github/{repo.owner_name}/blob/{repo.branch}/{repo.notebook_path(notebook)}"


def pages_url(repo: Repository) -> str:
    """Where GitHub Pages publishes the book of ``repo``.

    Parameters
    ----------
    repo : Repository
        The settings (see :func:`read_config`).

    Returns
    -------
    str
        ``https://{owner}.github.io/{name}/``, or ``https://{owner}.github.io/`` for a
        repository named ``{owner}.github.io``.

    Examples
    --------
    >>> pages_url(Repository("https://github.com/Ada/course", "main"))
    'https://ada.github.io/course/'
    >>> pages_url(Repository("https://github.com/ada/ada.github.io", "main"))
    'https://ada.github.io/'
    """
    owner, name = repo.owner_name.split("/")
    if name.lower() == f"{owner.lower()}.github.io":
        return f"https://{name.lower()}/"
    return f"https://{owner.lower()}.github.io/{name}/"


def install_cell(repo: Repository) -> str:
    """Source of the install cell that opens every chapter.

    Plain Python (no ``%pip`` magic), so that it runs in any kernel. When ``selfattn`` is
    missing, it pip-installs it from ``repo`` at its branch; when that fails, it raises an
    exception that Jupyter shows as one sentence saying what to do.

    Parameters
    ----------
    repo : Repository
        The settings (see :func:`read_config`).

    Returns
    -------
    str
        The cell's source; its lines stay within 80 characters for an address of up to 69.

    Examples
    --------
    >>> src = install_cell(Repository("https://github.com/ada/course", "dev"))
    >>> print(src.splitlines()[6:8])
    ['    repo = "https://github.com/ada/course"', '    branch = "dev"']
    """
    return INSTALL_CELL.format(marker=INSTALL_MARKER, url=repo.url, branch=repo.branch)


def chapters(root: Path) -> list[str]:
    """The chapter notebooks, in the order of ``_toc.yml``.

    Parameters
    ----------
    root : pathlib.Path
        The book's folder.

    Returns
    -------
    list of str
        Paths relative to ``root``, e.g. ``chapters/01_self_attention_in_one_picture.ipynb``.
    """
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text())
    files = [entry["file"] for part in toc.get("parts", []) for entry in part.get("chapters", [])]
    return [f"{f}.ipynb" for f in files if (Path(root) / f"{f}.ipynb").exists()]


def readme_block(repo: Repository, first_chapter: str) -> str:
    """The links block of README.md, markers included.

    Parameters
    ----------
    repo : Repository
        The settings (see :func:`read_config`).
    first_chapter : str
        Path of the chapter the Binder and Colab links open.

    Returns
    -------
    str
        The repository, chapter 1 in Binder and in Colab, and the book's Pages address.

    Examples
    --------
    >>> print(readme_block(Repository("https://github.com/o/r", "main"), "chapters/01.ipynb"))
    ... # doctest: +NORMALIZE_WHITESPACE
    <!-- repository links: written by `make repository` from _config.yml; edit there -->
    - Repository: <https://github.com/o/r> (branch `main`)
    - Chapter 1 live: [in Binder](https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/chapters/01.ipynb)
      or [in Colab](https://colab.research.google.com/github/o/r/blob/main/chapters/01.ipynb)
    - The book, once published (see "Publishing the book"): <https://o.github.io/r/>
    <!-- end of repository links -->
    """
    return README_BLOCK.format(begin=README_BEGIN, end=README_END, url=repo.url, branch=repo.branch,
                               binder=binder_url(repo, first_chapter), colab=colab_url(repo, first_chapter),
                               pages=pages_url(repo))


def _install_cell_index(nb: dict, notebook: str) -> int:
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and "".join(cell.get("source", "")).startswith(INSTALL_MARKER):
            return i
    raise ValueError(f"{notebook} has no install cell (a code cell starting {INSTALL_MARKER!r}); "
                     "copy it from another chapter, then run `make repository`")


def _rewritten(place: str, text: str, repo: Repository, first_chapter: str) -> str:
    """``text`` of the file ``place`` with its derived part written from ``repo``."""
    if place.endswith(".ipynb"):
        nb = json.loads(text)
        nb["cells"][_install_cell_index(nb, place)]["source"] = install_cell(repo).splitlines(keepends=True)
        return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"  # nbformat's layout
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(f"{place} needs the lines {README_BEGIN!r} and {README_END!r} "
                         "around its repository links")
    return text[:begin] + readme_block(repo, first_chapter) + text[end + len(README_END):]


def stale_places(root: Path) -> list[str]:
    """The files that do not follow the ``repository:`` setting yet.

    Parameters
    ----------
    root : pathlib.Path
        The book's folder.

    Returns
    -------
    list of str
        Paths relative to ``root``; empty when every place follows the setting.

    Raises
    ------
    ValueError
        If the setting is unusable, a chapter has no install cell or README.md lacks the markers.
    """
    root = Path(root)
    repo, notebooks = read_config(root), chapters(root)
    return [place for place in notebooks + ["README.md"]
            if _rewritten(place, text := (root / place).read_text(), repo, notebooks[0]) != text]


def propagate(root: Path) -> list[str]:
    """Rewrite every place that follows the setting: the install cells and README.md's links.

    Each file is read, rewritten and written back at once, so that an edit made to a
    notebook's other cells just before is kept: only the install cell's source changes, in
    nbformat's own layout (one-space indent), so the diff shows that cell alone.

    Parameters
    ----------
    root : pathlib.Path
        The book's folder.

    Returns
    -------
    list of str
        The files changed, relative to ``root``.

    Raises
    ------
    ValueError
        As :func:`stale_places`; nothing is written when the setting is unusable.
    """
    root = Path(root)
    repo, notebooks = read_config(root), chapters(root)
    written = []
    for place in notebooks + ["README.md"]:
        text = (root / place).read_text()
        new = _rewritten(place, text, repo, notebooks[0])
        if new != text:
            (root / place).write_text(new)
            written.append(place)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m selfattn.sphinxext.repository [--check] [--root DIR]`` (``make repository``).

    Returns
    -------
    int
        0 when done (or, with ``--check``, when every place follows the setting), 1 when
        ``--check`` finds a stale place, 2 when the setting is unusable (the message says why).
    """
    parser = argparse.ArgumentParser(
        prog="python -m selfattn.sphinxext.repository",
        description="Write the repository address of _config.yml into the chapters' install "
                    "cells and README.md.")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the book's folder (default: here)")
    parser.add_argument("--check", action="store_true", help="only list the places that disagree")
    args = parser.parse_args(argv)
    try:
        repo = read_config(args.root)
        places = stale_places(args.root) if args.check else propagate(args.root)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        for place in places:
            print(f"{place}: does not follow repository.url/branch of _config.yml ({repo.url}, "
                  f"{repo.branch}); run `make repository`")
        return 1 if places else 0
    print(f"{repo.url} (branch {repo.branch}): "
          + (f"rewrote {', '.join(places)}" if places else "every place already follows it"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
