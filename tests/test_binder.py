"""binder/ builds the environment a learner gets on mybinder.org; it must not drift from requirements.txt,
and every chapter must run in it (the `binder` test builds it afresh and executes them all)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Packages of requirements.txt that Binder leaves out, and why. Everything else must be in
# binder/requirements.txt, pinned to a version that requirements.txt allows.
NOT_IN_BINDER = {
    "jupyter-book": "builds the HTML book; learners run notebooks",
    "sphinx-exercise": "book build only",
    "sphinxcontrib-bibtex": "book build only",
    "nbval": "test suite only",
    "pytest": "test suite only",
    "hypothesis": "test suite only",
    "playwright": "browser tests only",
    "axe-playwright-python": "browser tests only",
    "check-jsonschema": "workflow linter, test suite only",
}
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def read_requirements(text: str) -> tuple[dict[str, Requirement], list[str]]:
    """Requirements by canonical name, and the option lines (``-e .``, ``--extra-index-url ...``)."""
    reqs, options = {}, []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        req = Requirement(line)
        reqs[canonicalize_name(req.name)] = req
    return reqs, options


def disagreements(dev_text: str, binder_text: str) -> list[str]:
    """Every way binder/requirements.txt fails to follow requirements.txt."""
    dev, _ = read_requirements(dev_text)
    binder, _ = read_requirements(binder_text)
    excluded = {canonicalize_name(n) for n in NOT_IN_BINDER}
    problems = []
    for name, req in binder.items():
        pins = [s for s in req.specifier if s.operator == "=="]
        if len(pins) != 1 or len(req.specifier) != 1:
            problems.append(f"{name}: Binder must pin one exact version, has {req.specifier or 'none'}")
    for name, req in dev.items():
        if name in excluded:
            continue
        if name not in binder:
            problems.append(f"{name}: in requirements.txt ({req.specifier or 'any'}) but not in binder/")
            continue
        pinned = next(iter(binder[name].specifier)).version
        if not req.specifier.contains(pinned, prereleases=True):
            problems.append(f"{name}: Binder pins {pinned}, requirements.txt allows {req.specifier}")
    for name in binder:
        if name not in dev:
            problems.append(f"{name}: in binder/ but not in requirements.txt")
    return problems


def test_disagreements_catches_an_incompatible_pin_and_a_missing_package():
    dev = "numpy>=1.26,<3\ntorch==2.13.0\nmatplotlib>=3.8\npytest>=8\n-e .\n"
    good = "--extra-index-url x\nnumpy==2.4.6\ntorch==2.13.0+cpu\nmatplotlib==3.11.2\n"
    assert disagreements(dev, good) == []
    bad = "numpy==3.0.0\ntorch>=2.13\nrequests==2.0\n"
    problems = "\n".join(disagreements(dev, bad))
    assert "numpy: Binder pins 3.0.0" in problems
    assert "torch: Binder must pin one exact version" in problems
    assert "matplotlib: in requirements.txt" in problems
    assert "requests: in binder/ but not in requirements.txt" in problems


def test_binder_pins_agree_with_requirements_txt(root):
    problems = disagreements((root / "requirements.txt").read_text(),
                             (root / "binder" / "requirements.txt").read_text())
    assert not problems, "binder/requirements.txt disagrees with requirements.txt:\n" + "\n".join(problems)


def test_every_package_left_out_of_binder_is_in_requirements_txt(root):
    dev, _ = read_requirements((root / "requirements.txt").read_text())
    stale = sorted(n for n in NOT_IN_BINDER if canonicalize_name(n) not in dev)
    assert not stale, f"NOT_IN_BINDER names packages requirements.txt no longer has: {stale}"


def test_binder_takes_torch_from_the_cpu_wheel_index(root):
    reqs, options = read_requirements((root / "binder" / "requirements.txt").read_text())
    assert f"--extra-index-url {CPU_INDEX}" in options, f"binder/requirements.txt must use {CPU_INDEX}"
    torch = reqs.get("torch")
    assert torch is not None, "binder/requirements.txt must install torch"
    assert next(iter(torch.specifier)).version.endswith("+cpu"), (
        f"pin the CPU build of torch (a +cpu version), got {torch.specifier}")


def test_binder_installs_selfattn_from_the_repository(root):
    post_build = root / "binder" / "postBuild"
    assert post_build.exists(), "binder/postBuild installs selfattn"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable (git: mode 100755)"
    lines = [line.strip() for line in post_build.read_text().splitlines() if not line.startswith("#")]
    assert any(line.startswith("pip install") and line.endswith(" .") for line in lines), (
        "binder/postBuild must `pip install ... .` the repository")


# --- The binder environment, built afresh, runs every chapter ------------------------------------

# PyTorch's CPU wheel index cannot be reached from this project's machines (only the package
# registries can). Unless SELFATTN_BINDER_CPU_INDEX=1 says it can (the GitHub workflow sets it),
# the test installs binder/requirements.txt without its index line, torch pinned to the same
# version from the default index.
SWAP_NOTICE = ("binder test: PyTorch's CPU index ({index}) is not reachable here, so binder/requirements.txt "
               "is installed without its --extra-index-url line and with torch=={version} from the default "
               "index instead of {pin}; set SELFATTN_BINDER_CPU_INDEX=1 where the index is reachable")
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "_build", "node_modules", ".pytest_cache",
                                     ".hypothesis", "*.egg-info", "test-artifacts", "__pycache__",
                                     ".ipynb_checkpoints")


def without_cpu_index(text: str) -> tuple[str, str | None]:
    """binder/requirements.txt for a machine without PyTorch's CPU index, and the notice to show.

    The ``--extra-index-url`` line of that index goes, ``torch==X+cpu`` becomes ``torch==X``;
    every other line stays. The notice is None when there was nothing to swap.
    """
    lines, swapped = [], []
    for line in text.splitlines():
        bare = line.split(" #", 1)[0].strip()
        if bare.startswith("--extra-index-url") and CPU_INDEX in bare:
            swapped.append(bare)
            continue
        pin = re.fullmatch(r"torch==([^+\s]+)\+cpu", bare)
        if pin:
            swapped.append(bare)
            line = f"torch=={pin.group(1)}"
        lines.append(line)
    torch = re.search(r"^torch==(\S+)$", "\n".join(lines), re.M)
    notice = SWAP_NOTICE.format(index=CPU_INDEX, version=torch.group(1) if torch else "?",
                                pin=" ".join(s for s in swapped if s.startswith("torch")) or "torch")
    return "\n".join(lines) + "\n", notice if swapped else None


def test_without_cpu_index_swaps_only_the_index_line_and_the_cpu_pin():
    text = f"# comment\n--extra-index-url {CPU_INDEX}\ntorch==2.13.0+cpu\nnumpy==2.4.6\n"
    swapped, notice = without_cpu_index(text)
    assert swapped == "# comment\ntorch==2.13.0\nnumpy==2.4.6\n"
    assert "torch==2.13.0 from the default index" in notice
    assert without_cpu_index("numpy==2.4.6\n") == ("numpy==2.4.6\n", None)


def _run(cmd, **kwargs) -> None:
    """Run ``cmd``; on failure, fail the test with the tail of its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, (f"`{' '.join(map(str, cmd))}` exited {proc.returncode}:\n"
                                  + (proc.stdout + proc.stderr)[-4000:])


def _python_of_runtime(root: Path) -> str:
    """The interpreter binder/runtime.txt asks for (python-3.11 -> python3.11), or this one."""
    runtime = (root / "binder" / "runtime.txt").read_text().strip()
    wanted = "python" + runtime.removeprefix("python-")
    found = shutil.which(wanted)
    if not found:
        warnings.warn(f"binder test: {wanted} (binder/runtime.txt) not found, using {sys.executable}")
    return found or sys.executable


@pytest.fixture(scope="module")
def binder_env(root):
    """A fresh copy of the repository and a fresh venv built as Binder builds binder/.

    Everything lives in one temporary folder, removed afterwards; pip caches nothing.
    """
    tmp = Path(tempfile.mkdtemp(prefix="selfattn-binder-"))
    try:
        repo, venv = tmp / "repo", tmp / "venv"
        shutil.copytree(root, repo, ignore=COPY_IGNORE)
        requirements = repo / "binder" / "requirements.txt"
        if os.environ.get("SELFATTN_BINDER_CPU_INDEX") != "1":
            text, notice = without_cpu_index(requirements.read_text())
            requirements.write_text(text)
            if notice:
                warnings.warn(notice)
                print(notice)
        _run([_python_of_runtime(root), "-m", "venv", venv])
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", VIRTUAL_ENV=str(venv),
                   PIP_NO_CACHE_DIR="1",  # and no other cache outside tmp:
                   XDG_CACHE_HOME=str(tmp / "cache"), MPLCONFIGDIR=str(tmp / "matplotlib"),
                   IPYTHONDIR=str(tmp / "ipython"))
        _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "-r", requirements],
             env=env, timeout=2400)
        _run(["./binder/postBuild"], cwd=repo, env=env, timeout=600)  # as repo2docker runs it
        kernel = f"selfattn-binder-{secrets.token_hex(4)}"
        _run([venv / "bin" / "python", "-m", "ipykernel", "install", "--prefix", tmp / "jupyter",
              "--name", kernel], env=env)
        yield {"repo": repo, "venv": venv, "env": env, "kernel": kernel,
               "kernel_dirs": [str(tmp / "jupyter" / "share" / "jupyter" / "kernels")]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _execute(binder_env: dict, nb: str, cwd: Path) -> dict:
    """Notebook text ``nb`` executed in a kernel of the binder environment (raises CellExecutionError)."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    specs = KernelSpecManager(kernel_dirs=binder_env["kernel_dirs"], ensure_native_kernel=False)
    km = KernelManager(kernel_name=binder_env["kernel"], kernel_spec_manager=specs)
    try:
        return NotebookClient(nbformat.reads(nb, as_version=4), km=km, timeout=600,
                              resources={"metadata": {"path": str(cwd)}}).execute(env=binder_env["env"])
    finally:  # the client leaves a kernel manager it was given running
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def _notebook(*sources: str) -> str:
    import nbformat

    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]))


@pytest.mark.binder
def test_every_chapter_runs_in_a_fresh_binder_environment(binder_env):
    from nbclient.exceptions import CellExecutionError

    repo, venv = binder_env["repo"], binder_env["venv"]
    probe = _notebook("import sys, selfattn\nprint(sys.prefix)\nprint(selfattn.__file__)")
    prefix, package = _execute(binder_env, probe, repo)["cells"][0]["outputs"][0]["text"].split()
    assert Path(prefix) == venv, f"the kernel must be the binder environment's Python, runs in {prefix}"
    assert Path(package).is_relative_to(repo), f"selfattn must come from binder/postBuild, not {package}"

    chapters = sorted((repo / "chapters").glob("*.ipynb"))
    assert len(chapters) >= 7
    failures = {}
    for chapter in chapters:
        try:
            _execute(binder_env, chapter.read_text(), chapter.parent)
        except CellExecutionError as err:
            failures[chapter.name] = f"{err.ename}: {err.evalue}"
    assert not failures, "chapters that fail in the binder environment:\n" + "\n".join(
        f"{name}: {error}" for name, error in failures.items())

    # And a chapter needing a package that binder/ lacks fails: take anywidget away.
    _run([venv / "bin" / "python", "-m", "pip", "uninstall", "-y", "-q", "anywidget"], env=binder_env["env"])
    with pytest.raises(CellExecutionError, match="anywidget"):
        _execute(binder_env, chapters[0].read_text(), chapters[0].parent)
