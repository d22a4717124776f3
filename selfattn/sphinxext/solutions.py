"""Exercise solutions hidden in the book and in JupyterLab alike (listed in _config.yml).

A chapter writes each solution as a ``{solution}`` directive of sphinx-exercise that holds the
explanation, followed by the solution's code cells, each carrying the cell metadata
``"jupyter": {"source_hidden": true, "outputs_hidden": true}``::

    ```{solution} ch01-ex1
    :class: dropdown

    The explanation.
    ```
    (code cell, hidden)
    (code cell, hidden)

JupyterLab with jupyterlab-myst shows the directive as a closed "Solution to Exercise 1"
dropdown holding the explanation, and each code cell collapsed to its first line; nbval and
Run All still execute the code, so the checks of ``selfattn.exercises`` verify it. In the
book, :func:`gather_solution_cells` moves those code cells (with their outputs) into the
solution, so its dropdown holds the explanation, then the code and what it printed.

Why not sphinx-exercise's gated ``{solution-start}`` / ``{solution-end}``: jupyterlab-myst
renders each of the two markers as a box of its own ("Start of Solution to Exercise 1" and an
empty box) and leaves every cell in between, prose included, in plain view.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.transforms import SphinxTransform


def _hidden_code_cell(node) -> bool:
    """True for a myst-nb code cell whose source JupyterLab hides (``jupyter.source_hidden``)."""
    if not isinstance(node, nodes.container) or node.get("nb_element") != "cell_code":
        return False
    jupyter = (node.get("cell_metadata") or {}).get("jupyter") or {}
    return bool(jupyter.get("source_hidden"))


def gather_solution_cells(document: nodes.Node) -> int:
    """Move the hidden code cells that follow each ``{solution}`` into that solution.

    Parameters
    ----------
    document : docutils.nodes.Node
        A parsed page (myst-nb code cells are ``container`` nodes with
        ``nb_element="cell_code"`` and their ``cell_metadata``).

    Returns
    -------
    int
        The number of code cells moved.

    Examples
    --------
    >>> from docutils import nodes
    >>> from sphinx_exercise.nodes import solution_node
    >>> hidden = {"jupyter": {"source_hidden": True, "outputs_hidden": True}}
    >>> page = nodes.section()
    >>> solution = solution_node()
    >>> solution += nodes.section()
    >>> page += solution
    >>> page += nodes.container(nb_element="cell_code", cell_metadata=hidden)
    >>> page += nodes.container(nb_element="cell_code", cell_metadata={})
    >>> gather_solution_cells(page)
    1
    >>> len(solution[0]), len(page)
    (1, 2)
    """
    from sphinx_exercise.nodes import solution_node

    moved = 0
    for solution in list(document.findall(solution_node)):
        body = next((c for c in solution.children if isinstance(c, nodes.section)), solution)
        parent = solution.parent
        if parent is None:
            continue
        after = parent.index(solution) + 1
        while after < len(parent) and _hidden_code_cell(parent[after]):
            cell = parent[after]
            parent.remove(cell)
            body += cell
            moved += 1
    return moved


class SolutionCodeCells(SphinxTransform):
    """Run :func:`gather_solution_cells` on every page, before sphinx-exercise's own transforms."""

    default_priority = 5

    def apply(self, **kwargs) -> None:
        gather_solution_cells(self.document)


def setup(app):
    app.add_transform(SolutionCodeCells)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
