"""The GitHub Actions workflows (.github/workflows): valid, and doing what the README says.

GitHub Actions cannot run on these machines, so the files are checked against GitHub's
workflow schema by `check-jsonschema --builtin-schema vendor.github-workflows` (the schema
ships inside the PyPI package), then read for what they must do: the tests workflow runs
`bash .ci/run` and nothing else; the book workflow builds with `make book` on main and
deploys `_build/html` to GitHub Pages.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

# Broken workflows the linter must reject (written to tmp, never to .github/).
BROKEN = {
    "job without runs-on": "on: push\njobs:\n  test:\n    steps:\n      - run: bash .ci/run\n",
    "misspelt trigger": ("on: pul_request\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
                         "    steps:\n      - run: bash .ci/run\n"),
    "step with both uses and run": ("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
                                    "      - uses: actions/checkout@v5\n        run: bash .ci/run\n"),
    "timeout in words": ("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
                         "    timeout-minutes: ninety\n    steps:\n      - run: bash .ci/run\n"),
}


def lint(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-workflows", *map(str, paths)], capture_output=True, text=True)


def workflow(root, name: str) -> dict:
    data = yaml.safe_load((root / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def uses(job: dict, action: str) -> list[dict]:
    """The steps of ``job`` that use ``action`` (any version)."""
    return [s for s in steps(job) if s.get("uses", "").split("@")[0] == action]


@pytest.mark.parametrize("fault", sorted(BROKEN))
def test_linter_rejects_a_broken_workflow(tmp_path, fault):
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN[fault])
    result = lint(path)
    assert result.returncode != 0, f"check-jsonschema accepted a workflow with a {fault}:\n{result.stdout}"
    assert "broken.yml" in result.stdout + result.stderr


def test_workflows_pass_githubs_workflow_schema(root):
    files = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    assert {f.name for f in files} >= {"tests.yml", "book.yml"}, f"workflows found: {files}"
    result = lint(*files)
    assert result.returncode == 0, f"check-jsonschema rejects the workflows:\n{result.stdout}{result.stderr}"


def test_tests_workflow_runs_ci_run_on_pushes_and_pull_requests(root):
    wf = workflow(root, "tests.yml")
    assert {"push", "pull_request"} <= set(wf["on"]), f"tests.yml triggers: {wf['on']}"
    [job] = wf["jobs"].values()
    runs = [s["run"].strip() for s in steps(job) if "run" in s]
    assert runs == ["bash .ci/run"], f".ci/run is the single source of what CI runs; tests.yml runs {runs}"
    [setup] = uses(job, "actions/setup-python")
    assert setup["with"]["cache"] == "pip"
    assert job["timeout-minutes"] <= 90, "CI has 90 minutes"


def test_book_workflow_builds_on_main_and_deploys_to_pages(root):
    wf = workflow(root, "book.yml")
    assert wf["on"]["push"]["branches"] == ["main"] and "pull_request" not in wf["on"], wf["on"]
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    assert [s["run"].strip() for s in steps(build) if "run" in s] == ["make book"]
    [setup] = uses(build, "actions/setup-python")
    assert setup["with"]["cache"] == "pip"
    [upload] = uses(build, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert len(uses(deploy, "actions/deploy-pages")) == 1
