"""The attention explorer responds in the static book, with no kernel, and agrees with selfattn.

DOM contract of the widget (selfattn/static/explorer.js): the root
``div[data-testid="attention-explorer"]`` carries ``data-state``, a JSON object
{tokens, X, W_q, W_k, W_v, scale, mask, query_index}; the embedding sliders are
``input[type=range][data-testid="slider"][data-word-index][data-feature]``; the
weights of the query word are ``[data-testid="weight"][data-key-index][data-value]``
and the heatmap cells ``[data-testid="cell"][data-i][data-j][data-value]``.

An explorer set up for the learner's own function (mode "python") cannot run it in the
static book: it must say so (``[data-testid="mode-note"]`` mentions the kernel) and, like
every explorer, recompute selfattn's weights in the browser.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from _browser import book_pages, open_page
from selfattn.attention import causal_mask, scaled_dot_product_attention

pytestmark = pytest.mark.browser

TOL = 1e-6
EXPLORER = 'div[data-testid="attention-explorer"]'


def weights_for_state(state: dict) -> np.ndarray:
    """selfattn's (n, n) attention weights for the explorer's state."""
    X = np.asarray(state["X"], dtype=np.float64)  # (n, d_model)
    q = X @ np.asarray(state["W_q"], dtype=np.float64)  # (n, d_k)
    k = X @ np.asarray(state["W_k"], dtype=np.float64)  # (n, d_k)
    v = X @ np.asarray(state["W_v"], dtype=np.float64)  # (n, d_v)
    mask = state.get("mask")
    if mask in (None, "none"):
        mask = None
    elif mask == "causal":
        mask = causal_mask(len(X))  # (n, n)
    else:
        mask = np.asarray(mask, dtype=bool)  # (n, n)
    _, weights = scaled_dot_product_attention(q, k, v, mask=mask, scale=state.get("scale"))
    return weights  # (n, n)


def test_weights_for_state_matches_a_hand_computation():
    # Two tokens, identity projections: scores = X X^T * scale = [[1, 0], [0, 4]] * 0.5.
    state = {"X": [[1.0, 0.0], [0.0, 2.0]], "W_q": np.eye(2).tolist(), "W_k": np.eye(2).tolist(),
             "W_v": np.eye(2).tolist(), "scale": 0.5, "mask": "none", "query_index": 0}
    e = np.exp(0.5)
    row0 = [e / (e + 1), 1 / (e + 1)]
    row1 = [np.exp(0) / (1 + np.exp(2)), np.exp(2) / (1 + np.exp(2))]
    np.testing.assert_allclose(weights_for_state(state), [row0, row1], atol=1e-12)
    causal = weights_for_state(dict(state, mask="causal"))
    np.testing.assert_allclose(causal[0], [1.0, 0.0], atol=1e-12)


_READ = """(root) => ({
  state: root.getAttribute('data-state'),
  weights: [...root.querySelectorAll('[data-testid="weight"]')].map(e => [
    Number(e.getAttribute('data-key-index')), Number(e.getAttribute('data-value'))]),
  cells: [...root.querySelectorAll('[data-testid="cell"]')].map(e => [
    Number(e.getAttribute('data-i')), Number(e.getAttribute('data-j')), Number(e.getAttribute('data-value'))]),
})"""


def check_shown_numbers(reading: dict, where: str) -> tuple[dict, np.ndarray]:
    """Compare the numbers the explorer shows with selfattn's; return (state, shown row)."""
    assert reading["state"], f"{where}: the explorer has no data-state"
    state = json.loads(reading["state"])
    expected = weights_for_state(state)  # (n, n)
    n = expected.shape[0]
    shown = np.full(n, np.nan)
    for j, value in reading["weights"]:
        shown[j] = value
    assert len(reading["weights"]) == n and not np.isnan(shown).any(), (
        f"{where}: expected {n} weights [data-key-index=0..{n - 1}], got {reading['weights']}")
    np.testing.assert_allclose(shown, expected[state["query_index"]], atol=TOL, rtol=0,
                               err_msg=f"{where}: weights of query {state['query_index']} differ from selfattn")
    if reading["cells"]:
        grid = np.full((n, n), np.nan)
        for i, j, value in reading["cells"]:
            grid[i, j] = value
        np.testing.assert_allclose(grid, expected, atol=TOL, rtol=0,
                                   err_msg=f"{where}: heatmap differs from selfattn")
    return state, shown


def is_python_mode(root) -> bool:
    """Whether the explorer is set up to show a learner's own (Python) function.

    With no kernel, such an explorer must say so (its ``mode-note``) and may fall back to
    computing selfattn's weights in the browser, which the usual checks then verify.
    """
    mode = root.get_attribute("data-mode")
    if mode is not None:
        return mode == "python"
    return root.locator('[data-testid="mode-note"]').count() > 0


def reveal(root) -> None:
    """Open what hides the explorer from a reader until clicked (a solution dropdown)."""
    root.evaluate("""(el) => {
      for (let p = el; p; p = p.parentElement) {
        if (p.tagName === 'DETAILS') p.open = true;
        p.classList && p.classList.remove('toggle-hidden');
      }
    }""")
    root.scroll_into_view_if_needed()


def move_slider(page, root, slider):
    """Press an arrow key three times on a slider, as a reader would; wait for the state."""
    old_state = root.get_attribute("data-state")
    at_max = float(slider.input_value()) >= float(slider.get_attribute("max"))
    slider.focus()
    for _ in range(3):
        slider.press("ArrowLeft" if at_max else "ArrowRight")
    page.wait_for_function("([el, old]) => el.getAttribute('data-state') !== old",
                           arg=[root.element_handle(), old_state])


def check_browser_explorer(page, root, where: str) -> int:
    """Move sliders until the weights change; every reading must equal selfattn's."""
    state, before = check_shown_numbers(root.evaluate(_READ), where + " (as loaded)")
    sliders = root.locator('input[type="range"][data-testid="slider"]')
    assert sliders.count() > 0, f"{where}: no embedding sliders"
    for s in range(min(sliders.count(), 4)):
        slider = sliders.nth(s)
        wi, f = int(slider.get_attribute("data-word-index")), int(slider.get_attribute("data-feature"))
        move_slider(page, root, slider)
        state, after = check_shown_numbers(root.evaluate(_READ), f"{where} after moving slider {s}")
        assert state["X"][wi][f] == pytest.approx(float(slider.input_value()), abs=TOL), (
            f"{where}: slider {s} shows {slider.input_value()} but X[{wi}][{f}] = {state['X'][wi][f]}")
        if np.abs(after - before).max() > TOL:
            return s + 1
        before = after
    raise AssertionError(f"{where}: moving the sliders did not change the weights shown")


def check_says_it_needs_a_kernel(root, where: str) -> None:
    note = root.locator('[data-testid="mode-note"]')
    text = note.inner_text() if note.count() else ""
    assert "kernel" in text.lower(), (
        f"{where}: set up to run Python, but does not say that this page has no kernel: {text!r}")


def test_every_explorer_follows_its_sliders_and_agrees_with_selfattn(browser, book_url, visited):
    found = [(info, visited(info)["facts"]["explorers"]) for info in book_pages()]
    found = [(info, count) for info, count in found if count]
    if not found:
        pytest.skip("no page of the built book shows the attention explorer yet")
    moves = 0
    for info, count in found:
        for e in range(count):
            where = f"{info['html']} explorer #{e}"
            context, page, log = open_page(browser, book_url, info["html"])
            try:
                root = page.locator(EXPLORER).nth(e)
                reveal(root)
                if is_python_mode(root):
                    check_says_it_needs_a_kernel(root, where)
                moves += check_browser_explorer(page, root, where)
                assert not log.problems(), f"{where}:\n" + "\n".join(log.problems())
            finally:
                context.close()
    assert moves > 0, "no explorer recomputed in the browser"
