"""Map the CDN addresses the built book loads to local copies installed from npm.

The pages load require.js, the widget manager, anywidget and MathJax from
``https://cdn.jsdelivr.net/npm/<package>@<version>/<file>``. jsDelivr serves the
files of the npm package at that version unchanged, so the same file under
``tests/browser/node_modules/<package>/<file>`` is byte for byte what readers get,
provided the installed version satisfies the requested one. This module does that
mapping and refuses everything else, so a test never silently uses the network.
"""

from __future__ import annotations

import json
import mimetypes
import re
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"

#: CDN prefixes that serve npm packages as ``<prefix><name>@<version>/<path>``.
NPM_CDNS = ("https://cdn.jsdelivr.net/npm/", "https://unpkg.com/")

CONTENT_TYPES = {
    ".js": "application/javascript",
    ".mjs": "application/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".svg": "image/svg+xml",
}


class Unroutable(Exception):
    """A request the tests cannot serve locally (and must therefore not make)."""


def _parse(version: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"installed version {version!r} is not MAJOR.MINOR.PATCH")
    return int(m[1]), int(m[2]), int(m[3])


def version_satisfies(installed: str, requested: str) -> bool:
    """Whether the installed npm version is one the CDN could serve for ``requested``.

    Understands the forms that appear in the book's addresses: an exact version
    (``3.2.2``), a partial one (``3``, ``3.2``, ``3.2.*``), a tilde range
    (``~0.11.*``, ``~0.11.0``) and a caret range (``^1.0.6``).

    Examples
    --------
    >>> version_satisfies("0.11.0", "~0.11.*")
    True
    >>> version_satisfies("0.12.0", "~0.11.*")
    False
    >>> version_satisfies("3.2.2", "3")
    True
    """
    have = _parse(installed)
    req = requested.strip()
    op = ""
    if req and req[0] in "~^":
        op, req = req[0], req[1:]
    parts = [p for p in req.split(".") if p not in ("*", "x", "X", "")]
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
        raise ValueError(f"cannot read the version range {requested!r}")
    nums = [int(p) for p in parts]
    if op == "":  # exact or partial: the given components must match
        return have[: len(nums)] == tuple(nums)
    if op == "~":  # ~X.Y.Z: same X.Y and patch >= Z; ~X.Y, ~X.Y.*: same X.Y
        if len(nums) == 3:
            return have[:2] == tuple(nums[:2]) and have[2] >= nums[2]
        return have[: len(nums)] == tuple(nums)
    # ^X.Y.Z: same left-most non-zero component, and not older
    nums += [0] * (3 - len(nums))
    first = next((i for i, n in enumerate(nums) if n != 0), 2)
    return have[: first + 1] == tuple(nums[: first + 1]) and have >= tuple(nums)


def split_npm_url(url: str) -> tuple[str, str, str]:
    """Split a CDN address into (package name, requested version, file path).

    Examples
    --------
    >>> split_npm_url("https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.15/dist/embed-amd.js")
    ('@jupyter-widgets/html-manager', '1.0.15', 'dist/embed-amd.js')
    """
    clean = urlsplit(url)._replace(query="", fragment="").geturl()
    prefix = next((p for p in NPM_CDNS if clean.startswith(p)), None)
    if prefix is None:
        raise Unroutable(f"{url}: not an npm CDN address ({', '.join(NPM_CDNS)})")
    rest = clean[len(prefix):]
    m = re.fullmatch(r"((?:@[^/@]+/)?[^/@]+)@([^/]+)/(.+)", rest)
    if not m:
        raise Unroutable(f"{url}: expected <package>@<version>/<file>; pin a version in the address")
    return m[1], m[2], m[3]


def installed_version(name: str, node_modules: Path = NODE_MODULES) -> str | None:
    manifest = node_modules / name / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text())["version"]


def local_copy(url: str, node_modules: Path = NODE_MODULES) -> Path:
    """The file under ``node_modules`` that the CDN would serve for ``url``.

    Raises :class:`Unroutable` with the reason when there is none: a host that is not
    an npm CDN, a package that is not installed, a version that does not match, or a
    file the package does not have.
    """
    name, requested, path = split_npm_url(url)
    have = installed_version(name, node_modules)
    if have is None:
        raise Unroutable(f"{url}: npm package {name!r} is not in {node_modules} "
                         "(add it to tests/browser/package.json and run `npm ci --prefix tests/browser`)")
    if not version_satisfies(have, requested):
        raise Unroutable(f"{url}: the page asks for {name}@{requested} but {have} is installed "
                         "(make tests/browser/package.json and _config.yml agree)")
    package_dir = (node_modules / name).resolve()
    target = (package_dir / path).resolve()
    if package_dir not in target.parents:
        raise Unroutable(f"{url}: path leaves the package folder")
    if not target.is_file():
        raise Unroutable(f"{url}: {name}@{have} has no file {path!r}")
    return target


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
