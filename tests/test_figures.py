"""Every figure a chapter really displays is legible at the size the book's page shows it (issue 11).

tests/test_plotting.py checks the plotting functions one by one, as the tests call them; this
file checks what the chapters draw with them, panels sharing a row included. Each chapter runs
in a Jupyter kernel (nbclient, cwd ``chapters/``, as the book runs it) with one cell put before
its first: after ``import matplotlib.pyplot`` and loading the backend the kernel picked (the
inline one, whose display formatters matplotlib >= 3.9 would register only at the first figure)
it wraps the formatter that turns a matplotlib ``Figure`` into an image, so every
figure the page would show is measured as it is shown: the smallest text at the size the page
shows it (:func:`selfattn.plotting.smallest_font_on_page`, which follows the tight box the inline
backend saves), the figure's width and the words of its smallest text. A ``pre_run_cell`` event
tells which cell displayed it; one cell put after the last prints the records.

The chapters are globbed, so a renamed or a new chapter is checked too. Like the nbval run of the
chapters (pyproject ``addopts``), these runs carry no marker: they are part of every run.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from selfattn.plotting import MIN_FONT_SIZE, PAGE_WIDTH

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

MARK = "FIGURE-RECORDS:"

# Run first, in the kernel. Everything lives in one name, _figure_hook, so the chapter's own
# names are untouched. The printer is wrapped again before every cell, in case a cell changes
# the figure formats (``%config InlineBackend.figure_formats``), which registers new printers.
HOOK = r'''
def _install_figure_hook():
    import matplotlib
    import matplotlib.pyplot as plt
    from IPython import get_ipython
    from matplotlib.figure import Figure
    from matplotlib.text import Text
    from selfattn.plotting import smallest_font_on_page

    # matplotlib 3.9+ loads the backend at the first figure, and only then does the inline
    # backend register its Figure printers: load it now (the one the kernel picked)
    plt.switch_backend(matplotlib.get_backend())
    ip = get_ipython()
    formats = ("image/png", "image/svg+xml", "image/jpeg", "application/pdf")
    state = {"runs": [], "figures": []}

    def printer(mime):
        formatter = ip.display_formatter.formatters.get(mime)
        try:
            return None if formatter is None else formatter.lookup_by_type(Figure)
        except KeyError:
            return None

    def record(fig):
        renderer = fig.canvas.get_renderer()
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
                 and t.get_window_extent(renderer).width > 0]
        smallest = min(texts, key=lambda t: t.get_fontsize(), default=None)
        state["figures"].append({
            "run": len(state["runs"]) - 1,
            "size": smallest_font_on_page(fig),
            "width": float(fig.get_size_inches()[0]),
            "text": None if smallest is None else smallest.get_text(),
            "fontsize": None if smallest is None else float(smallest.get_fontsize()),
        })

    def wrap(mime):
        original = printer(mime)
        if original is None or getattr(original, "records_figures", False):
            return

        def recording(fig, *args, **kwargs):
            out = original(fig, *args, **kwargs)  # draws and saves it as the page gets it
            # one record per display, whichever formats are on: the first one that is
            if next((m for m in formats if printer(m) is not None), None) == mime:
                record(fig)
            return out

        recording.records_figures = True
        ip.display_formatter.formatters[mime].for_type(Figure, recording)

    def before_cell(info):
        state["runs"].append(info.raw_cell)
        for mime in formats:
            wrap(mime)

    for mime in formats:
        wrap(mime)
    if not any(printer(m) for m in formats):
        raise RuntimeError("no display formatter prints a matplotlib Figure: is the inline backend on?")
    ip.events.register("pre_run_cell", before_cell)
    return state


_figure_hook = _install_figure_hook()
del _install_figure_hook
'''

REPORT = f'import json as _json\nprint({MARK!r} + _json.dumps(_figure_hook))'


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def run_and_record(nb, cwd: Path) -> list[dict]:
    """Execute notebook ``nb`` in a python3 kernel in ``cwd``; one record per figure it displays.

    Each record: ``cell`` (index in ``nb``), ``size`` (smallest text in points as the page shows
    it), ``width`` (inches), ``text`` and ``fontsize`` (its smallest text, as set). Raises
    nbclient's CellExecutionError if a cell fails.
    """
    from nbclient import NotebookClient

    run = nbformat.from_dict(json.loads(json.dumps(nb)))  # a copy: the chapter stays as it is
    run.cells = [nbformat.v4.new_code_cell(HOOK), *run.cells, nbformat.v4.new_code_cell(REPORT)]
    # the kernel picks its backend itself (the inline one), as in the book, whatever MPLBACKEND says here
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    NotebookClient(run, kernel_name="python3", timeout=900,
                   resources={"metadata": {"path": str(cwd)}}).execute(env=env)
    printed = "".join(o.get("text", "") for o in run.cells[-1].outputs if o.get("output_type") == "stream")
    state = json.loads(printed.split(MARK, 1)[1])

    # the kernel counted the cells it ran; find each among nb's cells (nbclient skips empty ones)
    cell_of_run, j = [], 0
    for source in state["runs"][:-1]:  # the last run is the REPORT cell
        while j < len(nb.cells) and not (nb.cells[j].cell_type == "code" and _source(nb.cells[j]) == source):
            j += 1
        if j == len(nb.cells):
            raise AssertionError(f"the kernel ran a cell that is not in the notebook: {source[:80]!r}")
        cell_of_run.append(j)
        j += 1
    return [{"cell": cell_of_run[f.pop("run")], **f} for f in state["figures"]]


def illegible(records: list[dict], nb, name: str) -> list[str]:
    """One line per figure whose smallest text is under MIN_FONT_SIZE or that is wider than the page."""
    found = []
    for r in records:
        first_line = (_source(nb.cells[r["cell"]]).strip().splitlines() or [""])[0]
        where = f"{name} cell {r['cell']} ({first_line!r})"
        if r["size"] < MIN_FONT_SIZE:
            found.append(f"{where}: smallest text {r['text']!r} shows at {r['size']:.1f} pt "
                         f"(set at {r['fontsize']:g} pt in a {r['width']:g}-inch-wide figure), "
                         f"under {MIN_FONT_SIZE} pt")
        if r["width"] > PAGE_WIDTH:
            found.append(f"{where}: the figure is {r['width']:g} inches wide, wider than the page "
                         f"({PAGE_WIDTH} inches), so the page shrinks it")
    return found


PLOTTING = re.compile(r"\b(plot_\w+|plt\.\w+)\s*\(")


def plotting_cells(nb) -> list[int]:
    """The code cells that call a plotting function (``plot_...(`` or ``plt....(``)."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and PLOTTING.search(_source(c))]


_RECORDS: dict[str, list[dict]] = {}  # chapter stem -> its records, so the book total reuses the runs


def _chapter_records(path: Path) -> tuple[object, list[dict]]:
    nb = nbformat.read(path, as_version=4)
    if path.stem not in _RECORDS:
        _RECORDS[path.stem] = run_and_record(nb, path.parent)
    return nb, _RECORDS[path.stem]


# --------------------------------------------------------------------------- #
# the check can fail: hand-made notebooks
# --------------------------------------------------------------------------- #
def _notebook(*cells: str):
    """Cells starting with '#md ' are markdown, the others code."""
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(c[4:]) if c.startswith("#md ") else nbformat.v4.new_code_cell(c)
        for c in cells])


def test_a_figure_with_a_5pt_label_is_reported_with_its_cell_and_text(tmp_path):
    nb = _notebook(
        "#md # A hand-made chapter",
        "import matplotlib.pyplot as plt",
        "#md A legible figure, then one with a label nobody can read.",
        "fig, ax = plt.subplots(figsize=(5, 3))\nax.plot([0, 1], [0, 1])\n"
        "ax.set_title('legible', fontsize=12)\nplt.show()",
        "",  # nbclient skips an empty cell: the cell indices must still be the notebook's
        "# a small-multiples label\nfig, ax = plt.subplots(figsize=(5, 3))\nax.plot([0, 1], [1, 0])\n"
        "ax.set_xlabel('tiny label', fontsize=5)\nplt.show()",
    )
    records = run_and_record(nb, tmp_path)
    assert [r["cell"] for r in records] == [3, 5]
    assert records[1]["text"] == "tiny label" and records[1]["size"] == pytest.approx(5)
    assert records[0]["size"] >= MIN_FONT_SIZE
    assert illegible(records, nb, "hand-made.ipynb") == [
        "hand-made.ipynb cell 5 ('# a small-multiples label'): smallest text 'tiny label' shows at 5.0 pt "
        "(set at 5 pt in a 5-inch-wide figure), under 9 pt"]


def test_a_figure_wider_than_the_page_is_reported_and_its_text_shrinks_with_it(tmp_path):
    nb = _notebook(
        "import matplotlib.pyplot as plt\nfrom IPython.display import display",
        "fig, ax = plt.subplots(figsize=(14.4, 3))\nax.set_xticks([0, 1], ['a', 'b'], fontsize=12)\n"
        "ax.set_yticks([0, 1], ['c', 'd'], fontsize=12)\ndisplay(fig)\nplt.close(fig)",
    )
    (record,) = run_and_record(nb, tmp_path)
    assert record["cell"] == 1 and record["width"] == pytest.approx(14.4)
    assert record["fontsize"] == 12 and record["size"] < MIN_FONT_SIZE  # the page shrinks it by PAGE_WIDTH / 14.4
    found = illegible([record], nb, "wide.ipynb")
    assert len(found) == 2 and f"wider than the page ({PAGE_WIDTH} inches)" in found[1]


def test_a_legible_figure_passes_and_a_notebook_that_plots_records_it(tmp_path):
    nb = _notebook(
        "import matplotlib.pyplot as plt\nfrom selfattn.plotting import attention_heatmap",
        "attention_heatmap([[0.9, 0.1], [0.5, 0.5]], ['a', 'b'])\nplt.show()",
        "x = 1  # no figure here",
    )
    records = run_and_record(nb, tmp_path)
    assert [r["cell"] for r in records] == [1]
    assert plotting_cells(nb) == [1]
    assert illegible(records, nb, "legible.ipynb") == []


# --------------------------------------------------------------------------- #
# the chapters
# --------------------------------------------------------------------------- #
def test_the_chapters_are_found():
    assert len(CHAPTERS) >= 7, f"expected the chapters under chapters/, found {[p.name for p in CHAPTERS]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_figure_a_chapter_displays_is_legible_at_the_size_the_page_shows_it(path):
    nb, records = _chapter_records(path)
    plots = plotting_cells(nb)
    assert records or not plots, (
        f"{path.name} calls plotting functions in cells {plots} but no displayed figure was recorded: "
        "the figure hook is not seeing what the page shows")
    assert not (found := illegible(records, nb, path.name)), (
        f"figure text under {MIN_FONT_SIZE} pt or figures wider than {PAGE_WIDTH} inches "
        "at the size the page shows them:\n" + "\n".join(found))


def test_the_book_displays_figures_and_the_hook_records_them():
    total = sum(len(_chapter_records(path)[1]) for path in CHAPTERS)
    assert total > 0, "no chapter displayed a figure the hook recorded"
