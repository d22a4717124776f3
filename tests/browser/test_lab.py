"""The chapters read in JupyterLab (and Binder) as they do in the book.

A private JupyterLab (with the jupyterlab-myst extension that requirements.txt and binder/
install) serves temporary copies of the chapters; Chromium opens each one, runs all cells and
waits for the kernel. Then the notebook must show what the book shows: the numbers of the
prose computed (checked against values computed here), admonitions and exercises as boxes,
every solution closed with its code collapsed, and no MyST source text left anywhere in the
rendered prose. A screenshot of each notebook goes to test-artifacts/screenshots/lab__*.png.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from _browser import ROOT, SCREENSHOTS, unavailable
from _lab import LAB_FACTS, lab_server, run_notebook, shut_down_kernel

pytestmark = pytest.mark.browser

CHAPTERS = sorted(p.name for p in (ROOT / "chapters").glob("*.ipynb"))

# MyST source that must never reach the reader: roles, directive names and options, fences,
# the error box jupyterlab-myst draws for a directive it does not know, and NumPy reprs that an
# unformatted {eval} of a NumPy number would show.
RAW = ["{glue", "{eval}", "{cite", "{ref}", "{numref}", "{doc}", "{needs-kernel", "{solution",
       "{exercise", "{admonition", ":label:", ":class:", ":::", "```", "Unknown Directive",
       "np.float64(", "np.float32(", "np.int64("]


def raw_source_in(text: str) -> list[str]:
    """The pieces of MyST source (from RAW) found in rendered text."""
    return [r for r in RAW if r in text]


def test_raw_source_in_finds_roles_options_and_numpy_reprs():
    assert raw_source_in("Its score is {glue:text}`s:.2f` and :class: dropdown") == ["{glue", ":class:"]
    assert raw_source_in("weight np.float64(0.25)") == ["np.float64("]
    assert raw_source_in("needs-kernel - Unknown Directive") == ["Unknown Directive"]
    assert raw_source_in('Its score with "cat" is 4.50.') == []


def normalized(text: str) -> str:
    """Straight quotes and single spaces, as the checks below are written."""
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'").replace("\u2019", "'")
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


def _running_example():
    from selfattn.example import layer, running_example

    ex = running_example()
    return ex, layer().steps(ex.X)


def expected_sentences(chapter: str) -> list[str]:
    """Sentences of the chapter's prose with their numbers computed here, independently of the
    notebook: by hand where the arithmetic is short, else with selfattn's documented functions."""
    if chapter.startswith("01_"):
        ex, s = _running_example()
        it, cat = ex.index("it"), ex.index("cat")
        d_k = s.q.shape[1]
        return [
            f"The sentence has {len('The cat sat on the mat because it was tired'.split())} words",
            f'Its score with "cat" is {float(s.q[it] @ s.k[cat]):.2f}',
            f"the scale is {1 / np.sqrt(d_k):.3f}",
        ]
    if chapter.startswith("05_"):
        ex, s = _running_example()
        it, cat = ex.index("it"), ex.index("cat")
        d_k = s.q.shape[1]
        scores = s.q @ s.k.T / np.sqrt(d_k)  # (n, n)

        def softmax_rows(x):
            e = np.exp(x - x.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

        full = softmax_rows(scores)
        causal = softmax_rows(np.where(np.tri(len(scores), dtype=bool), scores, -np.inf))
        return [
            f"so the scale is {1 / np.sqrt(d_k):.3f}",
            f"It gives it {causal[it, cat]:.2f} of its attention, more than the "
            f"{full[it, cat]:.2f} without the mask",
        ]
    return []


@pytest.fixture(scope="module")
def lab_browser(chromium):
    if importlib.util.find_spec("jupyterlab_myst") is None:
        unavailable("jupyterlab-myst is not installed (`pip install -r requirements.txt`)")
    return chromium


@pytest.fixture(scope="module")
def lab(tmp_path_factory, lab_browser):
    """JupyterLab on a temporary copy of the book's sources: the chapters and the pages they
    link to, so that the test never writes into chapters/ (JupyterLab saves what it runs)."""
    root = tmp_path_factory.mktemp("lab-root")
    (root / "chapters").mkdir()
    for name in CHAPTERS:
        shutil.copy(ROOT / "chapters" / name, root / "chapters" / name)
    for page in ("intro.md", "notation.md", "references.md"):
        shutil.copy(ROOT / page, root / page)
    server = lab_server(root)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def notebook_facts(lab, lab_browser):
    """Run each chapter once in JupyterLab (cached): its facts, browser log and screenshot."""
    cache: dict[str, dict] = {}

    def run(chapter: str) -> dict:
        if chapter not in cache:
            context, page, log = run_notebook(lab_browser, lab, f"chapters/{chapter}")
            try:
                facts = page.evaluate(LAB_FACTS)
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                shot = SCREENSHOTS / f"lab__{Path(chapter).stem}.png"
                height = page.evaluate("() => document.querySelector('.jp-WindowedPanel-outer')"
                                       ".scrollHeight")
                page.set_viewport_size({"width": 1280, "height": min(height + 150, 30000)})
                page.evaluate("() => { document.querySelector('.jp-WindowedPanel-outer').scrollTop = 0; }")
                page.wait_for_timeout(500)
                page.screenshot(path=str(shot), full_page=True)
                shut_down_kernel(page)
            finally:
                context.close()
            cache[chapter] = {"facts": facts, "log": log, "screenshot": shot}
        return cache[chapter]

    return run


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_in_jupyterlab_without_errors(notebook_facts, chapter):
    result = notebook_facts(chapter)
    errors = [e for cell in result["facts"]["code"] for e in cell["errors"]]
    assert not errors, f"{chapter}: errors in JupyterLab: {errors}"
    assert not result["log"]["external"], f"{chapter}: requests left 127.0.0.1: {result['log']['external']}"
    assert not result["log"]["exceptions"], f"{chapter}: uncaught exceptions: {result['log']['exceptions']}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_number_in_the_prose_is_computed(notebook_facts, chapter):
    markdown = notebook_facts(chapter)["facts"]["markdown"]
    missing = [f"cell with {m['evals']} {{eval}} roles has {len(m['expressions'])} results: "
               f"{normalized(m['text'])[:100]!r}" for m in markdown if m["evals"] != len(m["expressions"])]
    failed = [f"{e['expression']}: {e['error'] or e['status']}" for m in markdown
              for e in m["expressions"] if e["status"] != "ok"]
    assert not missing, f"{chapter}: {{eval}} roles left unevaluated after Run All: {missing}"
    assert not failed, f"{chapter}: {{eval}} expressions that failed: {failed}"
    text = normalized(" ".join(m["text"] for m in markdown))
    absent = [s for s in expected_sentences(chapter) if s not in text]
    assert not absent, f"{chapter}: sentences with computed numbers not found in the notebook: {absent}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_myst_source_is_left_in_the_rendered_prose(notebook_facts, chapter):
    found = {}
    for m in notebook_facts(chapter)["facts"]["markdown"]:
        for raw in raw_source_in(m["text"]):
            found.setdefault(raw, normalized(m["text"])[:120])
    assert not found, f"{chapter}: MyST source shown to the reader: {found}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_admonitions_and_exercises_render_as_boxes(notebook_facts, chapter):
    facts = notebook_facts(chapter)["facts"]
    assert any(a.startswith("Learning goals") for a in facts["admonitions"]), (
        f"{chapter}: no 'Learning goals' box; admonitions rendered: {facts['admonitions']}")
    assert facts["exercises"], f"{chapter}: no exercise box"


def solution_layout_faults(cells: list[dict], code: list[dict]) -> list[str]:
    """What breaks "a closed Solution box, then its code collapsed": ``cells`` in notebook order
    (type, number of solution boxes, first rendered element), ``code`` the code cells' facts."""
    faults, code_seen = [], iter(code)
    facts = [next(code_seen) if c["type"] == "code" else None for c in cells]
    for i, cell in enumerate(cells):
        if not cell["solutions"]:
            continue
        j = i + 1
        while j < len(cells) and cells[j]["type"] == "code":
            if facts[j]["editorVisible"] or not facts[j]["placeholder"]:
                faults.append(f"solution code shown in full: {facts[j]['first']!r}")
            j += 1
        if j == i + 1:
            faults.append(f"solution box in cell {i} is not followed by its code cells")
        if j < len(cells) and not re.match(r"(ASIDE\.myst-exercise|H\d)", cells[j]["opensWith"]):
            faults.append(f"cell {j}, after the code of the solution in cell {i}, is neither an exercise "
                          f"nor a heading ({cells[j]['opensWith'] or cells[j]['type']}): solution text in view?")
    return faults


def test_solution_layout_faults_catches_visible_code_and_stray_text():
    box = {"type": "markdown", "solutions": 1, "opensWith": "ASIDE.myst-exercise"}
    code = {"type": "code", "solutions": 0, "opensWith": ""}
    exercise = {"type": "markdown", "solutions": 0, "opensWith": "ASIDE.myst-exercise"}
    prose = {"type": "markdown", "solutions": 0, "opensWith": "P."}
    hidden = {"first": "x = 1", "editorVisible": False, "placeholder": True}
    shown = {"first": "y = 2", "editorVisible": True, "placeholder": False}
    assert solution_layout_faults([box, code, exercise], [hidden]) == []
    assert solution_layout_faults([box, code, exercise], [shown]) == ["solution code shown in full: 'y = 2'"]
    assert len(solution_layout_faults([box, code, prose], [hidden])) == 1
    assert len(solution_layout_faults([box, exercise], [])) == 1


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_solutions_stay_closed_with_their_code_collapsed(notebook_facts, chapter):
    facts = notebook_facts(chapter)["facts"]
    assert facts["solutions"], f"{chapter}: no solution box"
    opened = [s["title"] for s in facts["solutions"] if s["open"]]
    assert not opened, f"{chapter}: solutions open after Run All: {opened}"
    faults = solution_layout_faults(facts["cells"], facts["code"])
    assert not faults, f"{chapter}: " + "; ".join(faults)
