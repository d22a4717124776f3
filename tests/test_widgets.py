"""The attention explorer, driven headlessly: Python state and the browser's compute functions.

Expected weights come from computations written in these tests (NumPy by hand, PyTorch), never
from the widget. The browser side (selfattn/static/explorer.js) is run under node and compared
with selfattn to 1e-9.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("anywidget")

from selfattn import scaled_dot_product_attention  # noqa: E402
from selfattn.example import SENTENCE, embed, tokenize, matrices as example_matrices  # noqa: E402
from selfattn.widgets import AttentionExplorer, view_source  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "selfattn" / "static"
TOKENS = tokenize(SENTENCE)


def hand_attention(X, W_q, W_k, W_v, scale=None, causal=False):
    """Attention weights written out step by step, independently of selfattn."""
    q, k = X @ W_q, X @ W_k  # (n, d_k)
    scores = q @ k.T * (1 / math.sqrt(W_q.shape[1]) if scale is None else scale)  # (n, n)
    if causal:
        scores = np.where(np.tril(np.ones_like(scores, dtype=bool)), scores, -np.inf)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)  # (n, n)


def slider(explorer, word_index, feature, value):
    """What the JavaScript slider does: send a new X with one entry changed."""
    X = [row[:] for row in explorer.X]
    X[word_index][feature] = value
    explorer.X = X


# --------------------------------------------------------------------------- Python state
def test_default_explorer_shows_running_example_with_query_it():
    ex = AttentionExplorer()
    assert ex.tokens == TOKENS
    assert ex.tokens[ex.query_index] == "it"
    assert [ex.tokens[i] for i in ex.words] == ["it", "cat", "mat"]
    assert ex.controls == ["embedding"]
    assert ex.mode == "browser" and ex.error == ""
    np.testing.assert_allclose(ex.scale, 1 / math.sqrt(3))


def test_slider_change_recomputes_weights_as_selfattn_does():
    ex = AttentionExplorer()
    slider(ex, 1, 1, 0.25)  # "cat": animate 1.0 -> 0.25
    X = embed(TOKENS)
    X[1, 1] = 0.25
    W_q, W_k, W_v = example_matrices()
    _, expected = scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v)
    np.testing.assert_allclose(np.array(ex.weights), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(ex.weights), hand_attention(X, W_q, W_k, W_v), rtol=0, atol=1e-12)


def test_slider_change_lowers_it_to_cat_weight_when_cat_is_less_animate():
    ex = AttentionExplorer()
    before = ex.weight("it", "cat")
    slider(ex, 1, 1, 0.0)
    assert ex.weight("it", "cat") < before


def test_set_value_is_the_same_as_moving_the_slider():
    a, b = AttentionExplorer(), AttentionExplorer()
    a.set_value("mat", "animate", 0.7)
    slider(b, 5, 1, 0.7)
    assert a.X == b.X and a.weights == b.weights


def test_scale_and_causal_mask_match_pytorch():
    torch = pytest.importorskip("torch")
    ex = AttentionExplorer(controls=("embedding", "scale", "mask"))
    ex.scale = 2.5
    ex.mask = "causal"
    slider(ex, 7, 0, -0.4)
    X = embed(TOKENS)
    X[7, 0] = -0.4
    W_q, W_k, W_v = (torch.from_numpy(m) for m in example_matrices())
    Xt = torch.from_numpy(X)
    scores = (Xt @ W_q) @ (Xt @ W_k).T * 2.5  # (n, n)
    scores = scores.masked_fill(~torch.ones(10, 10, dtype=torch.bool).tril(), float("-inf"))
    expected = torch.softmax(scores, dim=-1).numpy()
    np.testing.assert_allclose(np.array(ex.weights), expected, rtol=0, atol=1e-12)
    assert ex.weight("The", "cat") == 0.0


def test_custom_sentence_matrices_scale_and_mask_are_used():
    rng = np.random.default_rng(3)
    mats = (rng.normal(size=(5, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2)))
    ex = AttentionExplorer("the dog slept on the rug", query="dog", words=["rug"], controls=["scale", "mask"],
                           matrices=mats, scale=0.9, mask="causal")
    X = embed("the dog slept on the rug")
    expected = hand_attention(X, *mats, scale=0.9, causal=True)
    np.testing.assert_allclose(np.array(ex.weights), expected, atol=1e-12)
    assert ex.query_index == 1 and ex.words == [5] and ex.default_scale == pytest.approx(0.5)


# --------------------------------------------------------------------------- the learner's function
def correct_attention(q, k, v, mask=None, scale=None):
    scale = 1 / np.sqrt(k.shape[-1]) if scale is None else scale
    scores = q @ k.T * scale
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    w = np.exp(scores - scores.max(axis=-1, keepdims=True))
    w = w / w.sum(axis=-1, keepdims=True)
    return w @ v, w


def test_learner_function_that_is_correct_is_shown_without_error():
    ex = AttentionExplorer(attention=correct_attention, controls=("embedding", "mask"))
    assert ex.mode == "python" and ex.error == "" and ex.note == ""
    ex.mask = "causal"
    slider(ex, 1, 0, 0.5)
    X = embed(TOKENS)
    X[1, 0] = 0.5
    expected = hand_attention(X, *example_matrices(), causal=True)
    np.testing.assert_allclose(np.array(ex.weights), expected, atol=1e-12)
    assert ex.error == ""


def test_learner_function_with_softmax_over_wrong_axis_gets_readable_error():
    def wrong_axis(q, k, v, mask=None, scale=None):
        s = q @ k.T / np.sqrt(k.shape[-1])
        w = np.exp(s) / np.exp(s).sum(axis=0)
        return w @ v, w

    ex = AttentionExplorer(attention=wrong_axis)
    assert "rows do not sum to 1" in ex.error and '"The"' in ex.error
    assert ex.weights == []


def test_learner_function_that_raises_gets_its_message_shown():
    def broken(q, k, v, mask=None, scale=None):
        raise RuntimeError("not written yet")

    ex = AttentionExplorer(attention=broken)
    assert ex.error == "Your attention function raised RuntimeError: not written yet"
    slider(ex, 1, 1, 0.5)  # still no crash on a change
    assert "not written yet" in ex.error


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda q, k, v, mask=None, scale=None: (q @ k.T, q @ k.T), "shape"),  # output (n, n), not (n, d_v)
        (lambda q, k, v, mask=None, scale=None: (v, np.ones((3, 10)) / 10), "shape (3, 10)"),
        (lambda q, k, v, mask=None, scale=None: v, "must return (output, weights)"),
        (lambda q, k, v, mask=None, scale=None: (v, np.full((10, 10), np.nan)), "non-finite"),
    ],
)
def test_learner_function_returning_bad_shapes_gets_readable_error(fn, words):
    ex = AttentionExplorer(attention=fn)
    assert words in ex.error and ex.weights == []


def test_learner_function_ignoring_the_mask_is_told_which_entry_leaks():
    def ignores_mask(q, k, v, mask=None, scale=None):
        return correct_attention(q, k, v, None, scale)

    ex = AttentionExplorer(attention=ignores_mask, mask="causal")
    assert "mask forbids" in ex.error and '"The" (row 0)' in ex.error


def test_learner_function_forgetting_the_scale_is_shown_with_a_note():
    def no_scale(q, k, v, mask=None, scale=None):
        return correct_attention(q, k, v, mask, 1.0)

    ex = AttentionExplorer(attention=no_scale)
    assert ex.error == ""
    assert ex.note.startswith("Your weights differ from selfattn's by up to")


def test_learner_function_returning_torch_tensors_that_require_grad_is_shown_not_raised():
    torch = pytest.importorskip("torch")

    def torch_attention(q, k, v, mask=None, scale=None):
        q, k, v = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
        w = torch.softmax(q @ k.T * scale, dim=-1)  # (n, n), requires grad
        return w @ v, w

    ex = AttentionExplorer(attention=torch_attention)  # must not raise RuntimeError
    assert ex.error == "" and ex.note == ""
    expected = hand_attention(embed(TOKENS), *example_matrices())
    np.testing.assert_allclose(np.array(ex.weights), expected, atol=1e-12)


class Unreadable:
    """A returned value whose conversion to an array raises RuntimeError."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("cannot be read")


@pytest.mark.parametrize("position", [0, 1])
def test_learner_function_returning_an_unreadable_object_gets_a_message_not_an_exception(position):
    def unreadable(q, k, v, mask=None, scale=None):
        out, w = correct_attention(q, k, v, mask, scale)
        return (Unreadable(), w) if position == 0 else (out, Unreadable())

    ex = AttentionExplorer(attention=unreadable)
    assert "cannot be read as an array of numbers (RuntimeError: cannot be read)" in ex.error
    assert ex.weights == []
    slider(ex, 1, 1, 0.5)  # and again on a change
    assert "RuntimeError" in ex.error


@pytest.mark.parametrize("returned, words", [
    (lambda w: w.astype(complex), "must be real"),
    (lambda w: w > 0.1, "must hold numbers"),
    (lambda w: [["a"] * 10] * 10, "must hold numbers"),
])
def test_learner_function_returning_complex_bool_or_text_weights_is_refused(returned, words):
    def fn(q, k, v, mask=None, scale=None):
        out, w = correct_attention(q, k, v, mask, scale)
        return out, returned(w)

    ex = AttentionExplorer(attention=fn)
    assert words in ex.error and ex.weights == []


def test_learner_function_that_writes_into_the_mask_is_told_so_and_not_shown():
    def opens_the_mask(q, k, v, mask=None, scale=None):
        mask[:] = True  # in place: the caller's mask would change too
        return correct_attention(q, k, v, mask, scale)

    ex = AttentionExplorer(attention=opens_the_mask, mask="causal")
    assert ex.error.startswith("Your attention function changed its argument mask in place")
    assert "entry (0, 1) was False, is now True" in ex.error
    assert ex.weights == []


@pytest.mark.parametrize("name", ["q", "k", "v"])
def test_learner_function_that_scales_an_input_in_place_is_told_which(name):
    def in_place(q, k, v, mask=None, scale=None):
        args = {"q": q, "k": k, "v": v}
        args[name] *= 2.0  # in place
        return correct_attention(q, k, v, mask, scale)

    ex = AttentionExplorer(attention=in_place)
    assert f"changed its argument {name} in place" in ex.error
    assert f"not `{name} *= scale`" in ex.error and ex.weights == []


def test_learner_function_that_makes_new_arrays_from_its_inputs_is_not_accused():
    def new_arrays(q, k, v, mask=None, scale=None):
        q = q * scale  # a new array: fine
        mask = np.ones((len(q), len(k)), dtype=bool) if mask is None else mask
        w = np.exp(np.where(mask, q @ k.T, -np.inf))
        w = w / w.sum(axis=-1, keepdims=True)
        return w @ v, w

    ex = AttentionExplorer(attention=new_arrays, mask="causal")
    assert ex.error == "" and ex.note == ""


# --------------------------------------------------------------------------- invalid construction
@pytest.mark.parametrize(
    "kwargs, named",
    [
        (dict(sentence="The unicorn sat"), "unicorn"),
        (dict(query="dog"), "'dog'"),
        (dict(query=10), "position 10"),
        (dict(words=["cat", "sofa"]), "'sofa'"),
        (dict(controls=("embedding", "d_model")), "'d_model'"),
        (dict(controls="sliders"), "'sliders'"),
        (dict(mask="future"), "'future'"),
        (dict(attention="softmax"), "str"),
        (dict(scale=float("nan")), "nan"),
        (dict(scale=float("inf")), "scale must be a finite number"),
        (dict(scale=True), "scale must be a finite number, got True"),
        (dict(scale="0.5"), "scale must be a finite number, got '0.5'"),
        (dict(matrices=(np.eye(4), np.eye(4), np.eye(4))), "d_model = 5"),
        (dict(matrices=(np.eye(5), np.eye(5))), "three matrices (W_q, W_k, W_v), got tuple of length 2"),
        (dict(query=1.9), "query (a word of the sentence or its position) must be a whole number"),
        (dict(query=True), "got True (bool)"),
        (dict(words=1.9), "words (a word of the sentence or its position) must be a whole number"),
        (dict(words=["cat", -1]), "got -1"),
        (dict(controls=5), "unknown control 5"),
        (dict(mask=True), "unknown mask True"),
        (dict(sentence=5), "sentence must be a string or a list of words, got 5"),
    ],
)
def test_invalid_construction_raises_value_error_naming_it(kwargs, named):
    with pytest.raises(ValueError) as info:
        AttentionExplorer(**kwargs)
    assert named in str(info.value)


def test_unknown_feature_in_set_value_is_named():
    with pytest.raises(ValueError, match="'colour'"):
        AttentionExplorer().set_value("cat", "colour", 1.0)


@pytest.mark.parametrize(
    "feature, value, named",
    [
        (1.9, 0.5, "feature (a name or its index) must be a whole number"),  # was read as index 1
        (1.0, 0.5, "got 1.0 (float)"),
        (True, 0.5, "got True (bool)"),
        (-1, 0.5, "got -1"),
        (5, 0.5, "unknown feature index 5"),
        ("animate", float("nan"), "value must be a finite number, got nan"),
        ("animate", float("inf"), "value must be a finite number, got inf"),
        ("animate", "0.5", "value must be a finite number, got '0.5'"),
        ("animate", True, "value must be a finite number, got True"),
    ],
)
def test_set_value_refuses_a_feature_that_is_not_a_name_or_whole_index_and_a_non_finite_value(
        feature, value, named):
    ex = AttentionExplorer()
    before = [row[:] for row in ex.X]
    with pytest.raises(ValueError) as info:
        ex.set_value("cat", feature, value)
    assert named in str(info.value)
    assert ex.X == before  # nothing was set


def test_set_value_takes_a_numpy_integer_feature_index():
    ex = AttentionExplorer()
    ex.set_value("cat", np.int64(1), 0.25)
    assert ex.X[1] == [1.0, 0.25, 0.0, 0.0, 0.0]  # "cat" is (1, 1, 0, 0, 0); feature 1 is "animate"


def test_zero_width_query_and_key_matrices_raise_value_error_not_zero_division():
    with pytest.raises(ValueError, match=r"W_q .*\(5, 0\)"):
        AttentionExplorer(matrices=(np.zeros((5, 0)), np.zeros((5, 0)), np.eye(5)[:, :3]))


def test_zero_width_matrices_set_after_construction_show_a_message_not_uniform_weights():
    ex = AttentionExplorer()
    ex.W_q = [[] for _ in range(5)]  # d_k = 0 for queries
    ex.W_k = [[] for _ in range(5)]  # and for keys: no score exists
    assert "d_k" in ex.error and ex.weights == []


@pytest.mark.parametrize("index, named", [(True, "got True (bool)"), (10, "unknown query_index 10")])
def test_query_index_set_from_python_must_be_a_position_in_the_sentence(index, named):
    traitlets = pytest.importorskip("traitlets")
    ex = AttentionExplorer()
    with pytest.raises(traitlets.TraitError, match=named.replace("(", r"\(").replace(")", r"\)")):
        ex.query_index = index
    assert ex.query_index == 7


# --------------------------------------------------------------------------- what the static book embeds
def test_widget_state_carries_the_javascript_and_all_inputs_of_the_browser_computation():
    ex = AttentionExplorer(controls=("embedding", "scale", "mask"))
    state = json.loads(json.dumps(ex.get_state()))  # what the executed notebook stores
    common, view = ((STATIC / f).read_text(encoding="utf-8") for f in ("common.js", "explorer.js"))
    assert state["_esm"] == common + view  # the shared functions, then the view
    assert state["_css"] == (STATIC / "explorer.css").read_text(encoding="utf-8")
    for key in ("tokens", "X", "W_q", "W_k", "W_v", "scale", "mask", "query_index", "words", "controls"):
        assert key in state
    assert 'viewRoot(el, "sa-explorer", "attention-explorer")' in state["_esm"]  # the view's root


# ------------------------------------------------------------------- the browser's arithmetic, under node
NODE_RUNNER = """
import { attention, cividis, textColour } from "./explorer.mjs";
import { readFileSync } from "node:fs";
const cases = JSON.parse(readFileSync(0, "utf8"));
const results = cases.map((c) => {
  const r = attention(c.X, c.W_q, c.W_k, c.W_v, { scale: c.scale, mask: c.mask });
  return { weights: r.weights, output: r.output, scale: r.scale };
});
const colours = [0, 0.5, 1].map((t) => { const c = cividis(t); return [c, textColour(c)]; });
process.stdout.write(JSON.stringify({ results, colours }));
"""


def run_js(tmp_path, cases):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the browser arithmetic is checked in the browser tests only")
    # .mjs: node loads it as an ES module; the widget's own text (common.js, then explorer.js)
    (tmp_path / "explorer.mjs").write_text(view_source("explorer.js"), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_RUNNER)
    proc = subprocess.run([node, "run.mjs"], input=json.dumps(cases), capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def js_cases():
    rng = np.random.default_rng(0)
    W = [m.tolist() for m in example_matrices()]
    X = embed(TOKENS)
    X2 = X.copy()
    X2[1, 1] = 0.35
    return [
        dict(X=X.tolist(), W_q=W[0], W_k=W[1], W_v=W[2], scale=None, mask="none"),
        dict(X=X2.tolist(), W_q=W[0], W_k=W[1], W_v=W[2], scale=1.7, mask="causal"),
        dict(X=rng.normal(size=(12, 5)).tolist(), W_q=rng.normal(size=(5, 4)).tolist(),
             W_k=rng.normal(size=(5, 4)).tolist(), W_v=rng.normal(size=(5, 2)).tolist(),
             scale=None, mask="causal"),
        dict(X=(50 * rng.normal(size=(6, 5))).tolist(), W_q=rng.normal(size=(5, 3)).tolist(),
             W_k=rng.normal(size=(5, 3)).tolist(), W_v=rng.normal(size=(5, 3)).tolist(),
             scale=30.0, mask="none"),
    ]


def test_browser_compute_function_agrees_with_selfattn_to_1e_9(tmp_path):
    cases = js_cases()
    got = run_js(tmp_path, cases)["results"]
    for case, res in zip(cases, got):
        X = np.array(case["X"])
        q, k, v = (X @ np.array(case[m]) for m in ("W_q", "W_k", "W_v"))
        mask = np.tril(np.ones((len(X), len(X)), dtype=bool)) if case["mask"] == "causal" else None
        out, w = scaled_dot_product_attention(q, k, v, mask=mask, scale=case["scale"])
        assert np.isfinite(np.array(res["weights"], dtype=float)).all()  # JSON null (NaN) would fail here
        np.testing.assert_allclose(np.array(res["weights"]), w, rtol=0, atol=1e-9)
        np.testing.assert_allclose(np.array(res["output"]), out, rtol=0, atol=1e-9)


def test_browser_heatmap_colours_are_cividis_with_readable_text(tmp_path):
    colours = run_js(tmp_path, js_cases()[:1])["colours"]
    assert colours[0] == [[0, 34, 78], "#ffffff"]  # dark blue end: white text
    assert colours[2] == [[254, 232, 56], "#000000"]  # yellow end: black text


# --------------------------------------------------------------------------- the benchmark still runs
def test_widget_benchmark_prints_p50_and_p95_for_each_path(capsys):
    from selfattn.bench import widget as bench

    assert bench.main(["--n", "3", "--n-matplotlib", "1"]) == 0
    out = capsys.readouterr().out
    assert "12 tokens" in out
    python_line = next(line for line in out.splitlines() if line.startswith("python:"))
    assert "p50" in python_line and "p95" in python_line  # numbers printed, never asserted


@pytest.mark.parametrize("sentence, named", [
    (b"the cat", "sentence must be a string or a list of words, got b'the cat'"),
    ([1, 2], "sentence must hold words (str), got 1 (int)"),
    (("the", None), "sentence must hold words (str), got None"),
])
def test_a_sentence_that_is_neither_text_nor_words_is_named(sentence, named):
    with pytest.raises(ValueError) as info:
        AttentionExplorer(sentence)
    assert named in str(info.value)
