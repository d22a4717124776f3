"""The repository address lives in one place, `repository:` in _config.yml; every other place follows it.

The places: the launch buttons and the {needs-kernel} Binder links (Jupyter Book reads the setting
at build time), the install cell that opens every chapter and the links block of README.md (both
written by `make repository`, i.e. `python -m selfattn.sphinxext.repository`). The expected values
here come from reading _config.yml directly and from running the install cells, never from the
tool's own templates.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from selfattn.sphinxext.repository import check_address

NEW_URL, NEW_BRANCH = "https://github.com/ada-publishes/attention-course", "course"
# Addresses that launch or install the course: each must name the configured repository.
LAUNCH = re.compile(r"mybinder\.org/v2/gh/([^/\s]+/[^/\s]+)/([^/?\s)]+)"
                    r"|colab\.research\.google\.com/github/([^/\s]+/[^/\s]+)/blob/([^/\s]+)/"
                    r"|git\+https://github\.com/([^/\s@\"\\]+/[^/\s@\"\\]+)")
PLACEHOLDER = "OWNER/NAME"  # "your repository", in the README and the install cell's advice
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "_build", "node_modules", ".pytest_cache",
                                     ".hypothesis", "*.egg-info", "test-artifacts", "__pycache__",
                                     ".ipynb_checkpoints")


def setting(root: Path) -> tuple[str, str]:
    """``repository.url`` (without a trailing slash) and ``repository.branch`` of _config.yml."""
    repo = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def chapters(root: Path) -> list[Path]:
    return sorted((root / "chapters").glob("*.ipynb"))


def first_code_cell(path: Path) -> dict:
    return next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")


# What each install cell does when `selfattn` is missing: run in a fresh Python where the import
# fails and pip fails, recording the pip command and what the learner sees.
PROBE = r'''
import json, subprocess, sys
sys.modules["selfattn"] = None  # `import selfattn` raises ImportError
calls = []
quiet = []
def failing_pip(cmd, **kwargs):
    calls.append([str(c) for c in cmd])
    quiet.append(bool(kwargs.get("capture_output")) or None not in (kwargs.get("stdout"), kwargs.get("stderr")))
    return subprocess.CompletedProcess(cmd, 1, b"", b"ERROR: pip's own error")
subprocess.run = failing_pip
results = []
for source in json.load(sys.stdin):
    calls.clear()
    quiet.clear()
    try:
        exec(compile(source, "<install cell>", "exec"), {})
        results.append({"calls": list(calls), "quiet": all(quiet), "error": None})
    except BaseException as err:
        render = getattr(err, "_render_traceback_", None)
        results.append({"calls": list(calls), "quiet": all(quiet), "error": type(err).__name__,
                        "message": str(err), "shown": render() if render else None})
print(json.dumps(results))
'''


def install_cells_when_selfattn_is_missing(root: Path) -> dict[str, dict]:
    sources = ["".join(first_code_cell(p)["source"]) for p in chapters(root)]
    out = subprocess.run([sys.executable, "-c", PROBE], input=json.dumps(sources), capture_output=True,
                         text=True, check=True)
    return dict(zip((p.name for p in chapters(root)), json.loads(out.stdout)))


def readme_addresses(root: Path) -> list[tuple[str, str | None]]:
    """(owner/name, branch or None) of every launch or install address in README.md."""
    found = []
    for m in LAUNCH.finditer((root / "README.md").read_text()):
        binder, binder_branch, colab, colab_branch, pip = m.groups()
        found.append((binder or colab or pip, binder_branch or colab_branch))
    return found


def theme_options(root: Path) -> dict:
    """The HTML theme options Jupyter Book derives from _config.yml (what the launch buttons use)."""
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(user_yaml=root / "_config.yml", cli_config={"latex_individualpages": False},
                                 sourcedir=root)
    return config["html_theme_options"]


def follows(root: Path, url: str, branch: str) -> list[str]:
    """Every place of the tree at ``root`` that does not follow ``url`` and ``branch``."""
    from selfattn.sphinxext.needs_kernel import binder_url

    owner_name = url.removeprefix("https://github.com/")
    problems = []
    for chapter, seen in install_cells_when_selfattn_is_missing(root).items():
        wanted = f"selfattn[plot,widgets] @ git+{url}@{branch}"
        if [call[-1] for call in seen["calls"]] != [wanted]:
            problems.append(f"{chapter}: the install cell runs {seen['calls']}, not pip install {wanted!r}")
    readme = readme_addresses(root)
    if not readme:
        problems.append("README.md: no Binder, Colab or install address")
    problems += [f"README.md: links to {o} (branch {b})" for o, b in readme
                 if o != owner_name or b not in (None, branch)]
    options = theme_options(root)
    if (options.get("repository_url"), options.get("repository_branch")) != (url, branch):
        problems.append(f"launch buttons: {options.get('repository_url')} "
                        f"({options.get('repository_branch')})")
    link = binder_url(options, "chapters/06.ipynb") or ""
    if not link.startswith(f"https://mybinder.org/v2/gh/{owner_name}/{branch}?"):
        problems.append(f"needs-kernel notice: links to {link!r}")
    return problems


def test_every_place_follows_the_repository_setting(root):
    url, branch = setting(root)
    problems = follows(root, url, branch)
    check = _tool(root, "--check")
    if check.returncode != 0:  # e.g. a notebook written in another layout than the tool's
        problems.append(check.stdout + check.stderr)
    assert not problems, (f"places that do not follow repository.url/branch ({url}, {branch}) of "
                          "_config.yml; run `make repository`:\n" + "\n".join(problems))


def test_no_file_launches_or_installs_from_another_repository(root):
    url, _ = setting(root)
    owner_name = url.removeprefix("https://github.com/")
    others = {}
    for path in [root / "README.md", root / "_config.yml", *chapters(root), *root.glob("binder/*")]:
        for m in LAUNCH.finditer(path.read_text()):
            named = next(g for g in (m.group(1), m.group(3), m.group(5)) if g)
            if named not in (owner_name, PLACEHOLDER):
                others.setdefault(path.relative_to(root).as_posix(), set()).add(named)
    assert not others, f"addresses of another repository than {url}: {others}"


def test_make_repository_runs_the_propagation_tool(root):
    out = subprocess.run(["make", "-n", "repository"], cwd=root, capture_output=True, text=True, check=True)
    assert "-m selfattn.sphinxext.repository" in out.stdout


def _tool(root: Path, *args: str) -> subprocess.CompletedProcess:
    """The propagation tool of the tree at ``root`` (its own copy of selfattn, not the installed one)."""
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-m", "selfattn.sphinxext.repository", *args], cwd=root, env=env,
                          capture_output=True, text=True)


def _set_address(root: Path, url: str, branch: str) -> None:
    """Edit the repository block of _config.yml as a publisher does (text edit, comments kept)."""
    config = root / "_config.yml"
    block = r"(?m)^(repository:\n(?:[ \t]+.*\n|[ \t]*#.*\n)*?[ \t]+{key}:)[^\n]*"
    text = re.sub(block.format(key="url"), rf"\1 {url}", config.read_text())
    text = re.sub(block.format(key="branch"), rf"\1 {branch}", text)
    config.write_text(text)
    assert setting(root) == (url, branch), "the test could not edit _config.yml"


def _tracked(root: Path) -> list[str]:
    """The files git tracks (all files outside a git checkout): stray local files are not the course."""
    out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    return out.stdout.splitlines()


def _texts(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_changing_the_setting_and_running_the_tool_changes_every_place(root, tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(root, copy, ignore=COPY_IGNORE)
    pristine = _texts(copy)
    assert _tool(copy).returncode == 0  # a baseline that follows the setting (as the test above checks)
    old_url, old_branch = setting(copy)
    old_owner_name = old_url.removeprefix("https://github.com/")
    before = _texts(copy)

    _set_address(copy, NEW_URL, NEW_BRANCH)
    check = _tool(copy, "--check")
    stale = {line.split(":")[0] for line in check.stdout.splitlines()}
    derived = {"README.md", *(f"chapters/{p.name}" for p in chapters(copy))}
    assert check.returncode == 1 and stale == derived, (
        f"--check should list every derived place after the change:\n{check.stdout}{check.stderr}")

    run = _tool(copy)
    assert run.returncode == 0, run.stdout + run.stderr
    problems = follows(copy, NEW_URL, NEW_BRANCH)
    assert not problems, ("after `make repository`, places still do not follow the new address:\n"
                          + "\n".join(problems))
    assert _tool(copy, "--check").returncode == 0

    after = _texts(copy)
    left = [name for name in _tracked(root) if old_owner_name.encode() in after.get(name, b"")]
    assert not left, f"files still naming {old_owner_name}: {left}"
    changed = {name for name in before if before[name] != after[name]}
    expected = {"_config.yml", *derived}
    assert changed == expected, f"changed {sorted(changed - expected)}, left {sorted(expected - changed)}"
    for chapter in chapters(copy):  # only the install cell's source changed
        old = json.loads(pristine[f"chapters/{chapter.name}"])
        new = json.loads(after[f"chapters/{chapter.name}"])
        first = next(i for i, c in enumerate(old["cells"]) if c["cell_type"] == "code")
        assert [c for i, c in enumerate(new["cells"]) if i != first] == \
               [c for i, c in enumerate(old["cells"]) if i != first], chapter.name
        assert new["cells"][first]["metadata"] == old["cells"][first]["metadata"], chapter.name

    _set_address(copy, old_url, old_branch)  # and back: every file byte for byte as it was
    assert _tool(copy).returncode == 0
    restored = _texts(copy)
    assert [n for n in before if restored[n] != before[n]] == []


@pytest.mark.parametrize("url, branch, named", [
    ("https://gitlab.com/ada/course", "main", "repository.url"),
    ("git@github.com:ada/course.git", "main", "repository.url"),
    ("https://github.com/ada/course.git", "main", "repository.url"),
    ("https://github.com/ada", "main", "repository.url"),
    (None, "main", "repository.url"),
    ("https://github.com/ada/course", "my branch", "repository.branch"),
    ("https://github.com/ada/course", 'main"; import os', "repository.branch"),
])
def test_the_tool_refuses_an_address_binder_and_colab_cannot_use(url, branch, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        check_address(url, branch)


def test_the_tool_names_the_setting_to_fix_and_changes_nothing(root, tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(root, copy, ignore=COPY_IGNORE)
    before = _texts(copy)
    _set_address(copy, "https://gitlab.com/ada/course", "main")
    run = _tool(copy)
    assert run.returncode == 2 and "repository.url in _config.yml" in run.stderr, run.stdout + run.stderr
    assert [n for n, data in _texts(copy).items() if n != "_config.yml" and before[n] != data] == []


def test_install_cell_is_the_hidden_first_code_cell_with_lines_of_at_most_80_characters(root):
    for chapter in chapters(root):
        cell = first_code_cell(chapter)
        source = "".join(cell["source"])
        assert "pip" in source and "import selfattn" in source, f"{chapter.name}: no install cell first"
        assert "remove-cell" in cell["metadata"].get("tags", []), f"{chapter.name}: install cell shown"
        long = [line for line in source.splitlines() if len(line) > 80]
        assert not long, f"{chapter.name}: install cell lines over 80 characters: {long}"


def test_failed_install_says_what_to_do_in_one_sentence(root):
    url, _ = setting(root)
    for chapter, seen in install_cells_when_selfattn_is_missing(root).items():
        assert seen["error"] not in (None, "ImportError", "ModuleNotFoundError", "SyntaxError"), (
            chapter, seen)
        message = seen["message"]
        assert url in message and "%pip install" in message and "_config.yml" in message, (chapter, message)
        assert "\n" not in message and len(re.findall(r"[.!?](\s|$)", message)) == 1, (
            f"{chapter}: one sentence, got {message!r}")
        assert seen["shown"] == [message], f"{chapter}: Jupyter must show the sentence alone: {seen['shown']}"
        assert seen["quiet"], f"{chapter}: pip's own output must not reach the learner (capture it)"


def test_failed_install_in_a_kernel_shows_the_sentence_and_no_pip_error(root, tmp_path):
    """The install cell, run in a real kernel where `selfattn` is missing and pip cannot reach git."""
    import nbformat
    from nbclient import NotebookClient

    cell = "".join(first_code_cell(chapters(root)[0])["source"])
    block_import = 'import sys\nsys.modules["selfattn"] = None'
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(block_import),
                                         nbformat.v4.new_code_cell(cell)])
    # Offline and harmless: git may use no transport but file://, pip no index, and installs to tmp.
    env = dict(os.environ, GIT_ALLOW_PROTOCOL="file", PIP_NO_INDEX="1", PIP_TARGET=str(tmp_path / "target"),
               PIP_NO_CACHE_DIR="1")
    NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    outputs = nb.cells[1].outputs
    shown = "\n".join(o.get("text", "") + "\n".join(o.get("traceback", [])) for o in outputs)
    assert [o.output_type for o in outputs] == ["error"], f"expected one error output, got:\n{shown}"
    assert len(outputs[0].traceback) == 1, shown
    assert "Could not install" in shown and setting(root)[0] in shown, shown
    assert "ModuleNotFoundError" not in shown and "ERROR:" not in shown and "Traceback" not in shown, shown


@pytest.mark.book
def test_built_pages_launch_binder_and_colab_from_the_configured_repository(root, built_book):
    url, branch = setting(root)
    owner_name = url.removeprefix("https://github.com/")
    pages = sorted((built_book["html"] / "chapters").glob("*.html"))
    assert pages, "no chapter pages in the built book"
    wrong = {}
    for page in pages:
        notebook = f"chapters/{page.stem}.ipynb"
        hrefs = set(re.findall(r'href="(https://(?:mybinder\.org|colab\.research\.google\.com)[^"]*)"',
                               page.read_text()))
        expected = {f"https://mybinder.org/v2/gh/{owner_name}/{branch}?urlpath=lab/tree/{notebook}",
                    f"https://colab.research.google.com/github/{owner_name}/blob/{branch}/{notebook}"}
        if hrefs != expected:
            wrong[page.name] = sorted(hrefs ^ expected)
    assert not wrong, f"launch links that do not follow {url} ({branch}): {wrong}"
