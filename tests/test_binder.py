"""binder/ builds the environment a learner gets on mybinder.org; it must not drift from requirements.txt."""

from __future__ import annotations

import os

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
