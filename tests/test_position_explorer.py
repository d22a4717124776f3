"""The positions explorer, driven without a browser: Python state, validation, and the view's
arithmetic under node.

Expected numbers come from :func:`selfattn.positions.attention_with_positions` (and its
``sinusoidal`` and ``rope``) run here on the words in the order shown, and from formulas
written out in this file (the sine/cosine table, the paper's complex-number form of the
interleaved RoPE); never from the widget. The view's JavaScript (selfattn/static/
position_explorer.js) runs under node and must agree with selfattn to 1e-9; broken copies of it
(an off-by-one position, the other RoPE layout, the zero feature in front, the wrong scale, the
wrong base) must fail that comparison.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import traitlets

pytest.importorskip("anywidget")

from selfattn.example import SENTENCE, embed, matrices, tokenize  # noqa: E402
from selfattn.positions import TOY_AMPLITUDE, attention_with_positions, rope, sinusoidal  # noqa: E402
from selfattn.widgets import POSITION_EXPLORER_SCHEMES, PositionExplorer, shuffled_order, view_source  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "selfattn" / "static"
TOKENS = tokenize(SENTENCE)
N = len(TOKENS)
IT = TOKENS.index("it")
TOL = 1e-9


def expected(order, scheme, query=IT, **kw):
    """What selfattn computes for the words in ``order``: (query's weights as shown, its output)."""
    shown = [TOKENS[i] for i in order]
    out, w = attention_with_positions(embed(shown), *matrices(), scheme, **kw)
    p = list(order).index(query)
    return w[p], out[p]


def by_word(order, row):
    """A row of weights in the order shown, re-indexed by the words of the original sentence."""
    w = np.empty(len(order))
    w[list(order)] = row
    return w


# --------------------------------------------------------------------------- formulas written out here
def hand_sinusoidal(n, d, base=10000.0):
    """PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(p / base^(2i/d))."""
    pe = np.zeros((n, d))
    for p in range(n):
        for i in range(d // 2):
            pe[p, 2 * i] = np.sin(p / base ** (2 * i / d))
            pe[p, 2 * i + 1] = np.cos(p / base ** (2 * i / d))
    return pe


def hand_rope_interleaved(x, base=10000.0):
    """Su et al.'s complex form: pair i of row p is (x[2i] + j x[2i+1]) * exp(j p theta_i)."""
    n, d = x.shape
    z = x[:, 0::2] + 1j * x[:, 1::2]  # (n, d/2)
    theta = base ** (-np.arange(0, d, 2) / d)
    z = z * np.exp(1j * np.arange(n)[:, None] * theta[None, :])
    out = np.empty_like(x)
    out[:, 0::2], out[:, 1::2] = z.real, z.imag
    return out


def hand_layer(order, scheme):
    """The explorer's layer written out: pad to even width, add or rotate, softmax(QK^T/sqrt(3)) V.

    d_k = 3 is the width of the hand-set W_Q; the zero column RoPE needs does not change it."""
    X = embed([TOKENS[i] for i in order])
    W_q, W_k, W_v = matrices()
    n = len(order)
    if scheme == "sinusoidal":
        X = np.hstack([X, np.zeros((n, 1))]) + TOY_AMPLITUDE * hand_sinusoidal(n, 6)  # d_model 5 -> 6
        W_q, W_k, W_v = (np.vstack([W, np.zeros((1, W.shape[1]))]) for W in (W_q, W_k, W_v))
    q, k, v = X @ W_q, X @ W_k, X @ W_v
    if scheme == "rope":
        q = hand_rope_interleaved(np.hstack([q, np.zeros((n, 1))]))  # d_k 3 -> 4
        k = hand_rope_interleaved(np.hstack([k, np.zeros((n, 1))]))
    s = q @ k.T / np.sqrt(3)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    w = e / e.sum(axis=1, keepdims=True)
    return w @ v, w


# --------------------------------------------------------------------------- Python state
def test_default_explorer_is_the_running_sentence_with_query_it_and_no_positions():
    ex = PositionExplorer()
    assert ex.tokens == TOKENS and ex.order == list(range(N)) and ex.shuffles == 0
    assert ex.tokens[ex.query_index] == "it" and ex.shown_tokens[ex.query_position] == "it"
    assert (ex.scheme, ex.rope_layout, ex.amplitude, ex.base, ex.seed) == ("none", "interleaved", TOY_AMPLITUDE,
                                                                       10000.0, 0)
    assert ex.schemes == ["none", "sinusoidal", "rope"] == list(POSITION_EXPLORER_SCHEMES)
    assert ex.value_dims == ["noun", "animate", "action"]
    np.testing.assert_array_equal(np.array(ex.X), embed(TOKENS))
    for got, want in zip((ex.W_q, ex.W_k, ex.W_v), matrices()):
        np.testing.assert_array_equal(np.array(got), want)


@pytest.mark.parametrize("scheme", POSITION_EXPLORER_SCHEMES)
def test_the_explorers_numbers_are_selfattns_on_the_order_shown(scheme):
    ex = PositionExplorer(scheme=scheme)
    for step in range(4):
        if step:
            ex.shuffle()
        w, out = ex.query_numbers()
        w_ref, out_ref = expected(ex.order, scheme)
        np.testing.assert_allclose(w, w_ref, atol=TOL, rtol=0)
        np.testing.assert_allclose(out, out_ref, atol=TOL, rtol=0)
        out_hand, w_hand = hand_layer(ex.order, scheme)  # the formulas, written out in this file
        p = ex.query_position
        np.testing.assert_allclose(w, w_hand[p], atol=TOL, rtol=0, err_msg=f"{scheme}, step {step}")
        np.testing.assert_allclose(out, out_hand[p], atol=TOL, rtol=0)


def test_the_written_out_formulas_are_selfattns():
    """The references of this file agree with selfattn.positions (so either would catch a bug)."""
    np.testing.assert_allclose(hand_sinusoidal(10, 6), sinusoidal(10, 6), atol=1e-12, rtol=0)
    x = np.random.default_rng(0).normal(size=(10, 4))
    np.testing.assert_allclose(hand_rope_interleaved(x), rope(x), atol=1e-12, rtol=0)


def test_without_positions_shuffling_only_reorders_the_weights_with_positions_it_changes_them():
    ex = PositionExplorer()
    original = {s: by_word(ex.order, expected(ex.order, s)[0]) for s in POSITION_EXPLORER_SCHEMES}
    for _ in range(3):
        ex.shuffle()
        for scheme in POSITION_EXPLORER_SCHEMES:
            ex.scheme = scheme
            w, _ = ex.query_numbers()
            change = np.abs(by_word(ex.order, w) - original[scheme]).max()
            if scheme == "none":
                assert change < 1e-12, f"order {ex.order}: without positions the weights changed by {change}"
            else:
                assert change > 1e-3, f"order {ex.order}: {scheme} did not change the weights ({change})"


def test_shuffles_are_seeded_permutations_that_always_change_the_order():
    a, b, c = PositionExplorer(), PositionExplorer(), PositionExplorer(seed=1)
    seen = []
    for k in range(1, 6):
        before = list(a.order)
        a.shuffle(), b.shuffle(), c.shuffle()
        assert a.shuffles == k and sorted(a.order) == list(range(N)) and a.order != before
        assert a.order == b.order == shuffled_order(N, 0, k), "the same seed gives the same orders"
        seen.append((a.order, c.order))
    assert any(x != y for x, y in seen), "another seed gives other orders"
    a.reset()
    assert a.order == list(range(N)) and a.shuffles == 0
    a.shuffle()
    assert a.order == seen[0][0], "after a reset the sequence starts again"


def test_two_words_alternate_and_one_shuffle_never_repeats_the_order():
    assert [shuffled_order(2, 5, k) for k in range(4)] == [[0, 1], [1, 0], [0, 1], [1, 0]]
    for seed in range(20):
        orders = [shuffled_order(3, seed, k) for k in range(8)]
        assert all(x != y for x, y in zip(orders, orders[1:]))


def test_the_views_clicks_arrive_as_trait_changes():
    ex = PositionExplorer()
    order = shuffled_order(N, 0, 1)
    ex.set_state({"shuffles": 1, "order": order})  # what a click on "shuffle" sends
    ex.set_state({"scheme": "rope"})
    ex.set_state({"query_index": 1})
    assert (ex.order, ex.shuffles, ex.scheme, ex.tokens[ex.query_index]) == (order, 1, "rope", "cat")
    w, out = ex.query_numbers()
    w_ref, out_ref = expected(order, "rope", query=1)
    np.testing.assert_allclose(w, w_ref, atol=TOL, rtol=0)
    np.testing.assert_allclose(out, out_ref, atol=TOL, rtol=0)


def test_other_settings_reach_selfattn():
    ex = PositionExplorer(query="cat", scheme="sinusoidal", amplitude=1.5, base=100.0)
    ex.order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    w, _ = ex.query_numbers()
    np.testing.assert_allclose(w, expected(ex.order, "sinusoidal", query=1, amplitude=1.5, base=100.0)[0],
                               atol=TOL, rtol=0)
    ex.scheme, ex.rope_layout = "rope", "half"
    w, _ = ex.query_numbers()
    np.testing.assert_allclose(w, expected(ex.order, "rope", query=1, base=100.0, layout="half")[0],
                               atol=TOL, rtol=0)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, named", [
    ({"scheme": "alibi"}, "unknown scheme 'alibi'; choose from ['none', 'sinusoidal', 'rope']"),
    ({"query": "dog"}, "query: the word 'dog' is not in the sentence"),
    ({"query": 10}, "query: position 10 is outside the sentence of 10 words"),
    ({"sentence": "cat"}, "sentence must have at least two words to shuffle, got 1"),
    ({"sentence": "The unicorn sat"}, "unknown word(s) ['unicorn']"),
    ({"seed": -1}, "seed must be a whole number >= 0, got -1"),
    ({"seed": None}, "seed must be a whole number such as 0, got None"),
    ({"amplitude": float("nan")}, "amplitude must be a finite number, got nan"),
    ({"base": 1.0}, "base must be greater than 1"),
    ({"layout": "halves"}, "unknown layout 'halves'; choose from ['interleaved', 'half']"),
    ({"matrices": (np.eye(5),)}, "matrices must be a tuple of three matrices"),
    ({"matrices": (np.eye(4), np.eye(4), np.eye(4))}, "the matrices must have d_model = 5 rows"),
])
def test_bad_arguments_are_named(kwargs, named):
    with pytest.raises(ValueError) as err:
        PositionExplorer(**kwargs)
    assert named in str(err.value)


@pytest.mark.parametrize("trait, value, named", [
    ("order", [0, 1, 2], "order must hold each word index 0 to 9 exactly once"),
    ("order", [0, 0, 2, 3, 4, 5, 6, 7, 8, 9], "missing [1]; out of range or repeated [0]"),
    ("order", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "missing [0]; out of range or repeated [10]"),
    ("scheme", "learned", "unknown scheme 'learned'"),
    ("query_index", 10, "query_index must be a whole number from 0 to 9"),
    ("shuffles", -1, "shuffles must be a whole number >= 0"),
    ("base", 0.5, "base must be greater than 1"),
])
def test_the_view_cannot_set_a_state_that_does_not_exist(trait, value, named):
    ex = PositionExplorer()
    with pytest.raises(traitlets.TraitError) as err:
        setattr(ex, trait, value)
    assert named in str(err.value)


def test_order_check_names_what_is_not_a_word_index():
    from selfattn import _checks

    with pytest.raises(ValueError, match=r"order must hold whole numbers \(word indices\), got 1.5"):
        _checks.word_order([0, 1.5], 2)
    with pytest.raises(ValueError, match="must be a list of the word indices 0 to 2"):
        _checks.word_order("012", 3)
    assert _checks.word_order(np.array([2, 0, 1]), 3) == [2, 0, 1]


def test_custom_matrices_get_neutral_output_names():
    rng = np.random.default_rng(0)
    ex = PositionExplorer(matrices=(rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), rng.normal(size=(5, 4))))
    assert ex.value_dims == ["v0", "v1", "v2", "v3"]
    assert ex.query_numbers()[1].shape == (4,)


# --------------------------------------------------------------------------- the view's arithmetic, under node
_RUNNER = """
import { readFileSync } from "node:fs";
import * as pe from "./position_explorer.mjs";
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  switch (c.fn) {
    case "sinusoidal": return pe.sinusoidal(c.positions, c.d, c.base);
    case "rope": return pe.rope(c.x, c.positions, c.base, c.layout);
    case "layer": return pe.attentionWithPositions(c.X, c.W_q, c.W_k, c.W_v, c.scheme, c.options);
    case "query": return pe.queryView(c.X, c.W_q, c.W_k, c.W_v, c.order, c.query, c.scheme, c.options);
    case "order": return pe.shuffledOrder(c.n, c.seed, c.count);
    case "random": { const r = pe.mulberry32(c.seed); return [...Array(c.count)].map(() => r()); }
    default: throw new Error(c.fn);
  }
});
process.stdout.write(JSON.stringify(out));
"""


def run_js(tmp_path, cases, source=None):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the view's arithmetic is checked in the browser tests only")
    text = view_source("position_explorer.js") if source is None else source
    (tmp_path / "position_explorer.mjs").write_text(text, encoding="utf-8")
    (tmp_path / "run.mjs").write_text(_RUNNER)
    proc = subprocess.run([node, "run.mjs"], input=json.dumps(cases), capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _layer_cases():
    """(case for node, expected (output, weights) from selfattn) for the explorer's layer."""
    W = [m.tolist() for m in matrices()]
    rng = np.random.default_rng(1)
    cases = []
    settings = [
        ("none", {}), ("sinusoidal", {}), ("rope", {}),
        ("sinusoidal", {"amplitude": 1.25, "base": 50.0}), ("rope", {"base": 20.0, "layout": "half"}),
        ("rope", {"base": 3.0}),
    ]
    for scheme, kw in settings:
        for order in (list(range(N)), list(rng.permutation(N)), list(rng.permutation(N))):
            shown = embed([TOKENS[i] for i in order])
            options = {"amplitude": kw.get("amplitude", TOY_AMPLITUDE), "base": kw.get("base", 10000.0),
                       "layout": kw.get("layout", "interleaved")}
            ref = attention_with_positions(shown, *matrices(), scheme, **kw)
            cases.append(({"fn": "layer", "X": shown.tolist(), "W_q": W[0], "W_k": W[1], "W_v": W[2],
                           "scheme": scheme, "options": options}, ref))
    # widths other than the toy's: even d_model and d_k (no padding), odd d_k = 5
    for d_model, d_k, scheme in ((4, 2, "sinusoidal"), (4, 2, "rope"), (7, 5, "rope"), (7, 5, "sinusoidal")):
        X = rng.normal(size=(6, d_model))
        Ws = [rng.normal(size=(d_model, d)) for d in (d_k, d_k, 3)]
        ref = attention_with_positions(X, *Ws, scheme)
        cases.append(({"fn": "layer", "X": X.tolist(), "W_q": Ws[0].tolist(), "W_k": Ws[1].tolist(),
                       "W_v": Ws[2].tolist(), "scheme": scheme,
                       "options": {"amplitude": TOY_AMPLITUDE, "base": 10000.0, "layout": "interleaved"}}, ref))
    return cases


def check_layers(got, cases):
    for (case, (out_ref, w_ref)), res in zip(cases, got):
        where = f"{case['scheme']} {case['options']} on {len(case['X'])}x{len(case['X'][0])}"
        np.testing.assert_allclose(np.array(res["weights"]), w_ref, atol=TOL, rtol=0, err_msg=where)
        np.testing.assert_allclose(np.array(res["output"]), out_ref, atol=TOL, rtol=0, err_msg=where)


def test_the_views_layer_is_selfattns_attention_with_positions(tmp_path):
    cases = _layer_cases()
    check_layers(run_js(tmp_path, [c for c, _ in cases]), cases)


def test_the_views_table_and_rotation_are_selfattns(tmp_path):
    rng = np.random.default_rng(2)
    positions = [0, 1, 2, 5, 17, 100]
    x = rng.normal(size=(len(positions), 8))
    cases = [{"fn": "sinusoidal", "positions": positions, "d": d, "base": base}
             for d, base in ((2, 10000.0), (6, 10000.0), (8, 100.0))]
    cases += [{"fn": "rope", "x": x.tolist(), "positions": positions, "base": 10000.0, "layout": lay}
              for lay in ("interleaved", "half")]
    got = run_js(tmp_path, cases)
    for case, res in zip(cases[:3], got[:3]):
        np.testing.assert_allclose(np.array(res), sinusoidal(len(positions), case["d"], case["base"],
                                                             positions=positions), atol=TOL, rtol=0)
    for case, res in zip(cases[3:], got[3:]):
        np.testing.assert_allclose(np.array(res), rope(x, positions, layout=case["layout"]), atol=TOL, rtol=0)


def test_the_views_query_numbers_follow_the_word_not_its_place(tmp_path):
    W = [m.tolist() for m in matrices()]
    order = shuffled_order(N, 0, 1)
    cases = [{"fn": "query", "X": embed(TOKENS).tolist(), "W_q": W[0], "W_k": W[1], "W_v": W[2], "order": order,
              "query": IT, "scheme": s, "options": {"amplitude": TOY_AMPLITUDE, "base": 10000.0}}
             for s in POSITION_EXPLORER_SCHEMES]
    for case, res in zip(cases, run_js(tmp_path, cases)):
        w_ref, out_ref = expected(order, case["scheme"])
        assert res["position"] == order.index(IT)
        np.testing.assert_allclose(res["weights"], w_ref, atol=TOL, rtol=0)
        np.testing.assert_allclose(res["output"], out_ref, atol=TOL, rtol=0)
        np.testing.assert_allclose(res["byWord"], by_word(order, w_ref), atol=TOL, rtol=0)


def test_the_views_shuffles_are_pythons(tmp_path):
    from selfattn.widgets import _mulberry32

    cases = [{"fn": "order", "n": n, "seed": seed, "count": count}
             for n in (2, 3, 10) for seed in (0, 1, 12345, 2**32 - 1) for count in (0, 1, 2, 7)]
    cases += [{"fn": "random", "seed": seed, "count": 50} for seed in (0, 42, 2**31, 2**32 - 1)]
    got = run_js(tmp_path, cases)
    for case, res in zip(cases, got):
        if case["fn"] == "order":
            assert res == shuffled_order(case["n"], case["seed"], case["count"]), case
        else:
            r = _mulberry32(case["seed"])
            assert res == [r() for _ in range(case["count"])], case  # bit for bit
            assert all(0 <= v < 1 for v in res)


# Broken copies of the view: each must fail the comparison with selfattn.
_BROKEN = {
    "off-by-one position": ("const positions = options.positions ?? [...Array(n).keys()];",
                            "const positions = options.positions ?? [...Array(n).keys()].map((p) => p + 1);"),
    "half layout for interleaved": ('const ia = layout === "interleaved" ? 2 * i : i;\n      const ib = '
                                    'layout === "interleaved" ? 2 * i + 1 : i + half;',
                                    'const ia = layout !== "interleaved" ? 2 * i : i;\n      const ib = '
                                    'layout !== "interleaved" ? 2 * i + 1 : i + half;'),
    "zero feature in front": ("return A.map((row) => [...row, 0]);", "return A.map((row) => [0, ...row]);"),
    "scale of the padded d_k": ("const scale = 1 / Math.sqrt(wq[0].length);",
                                "const scale = 1 / Math.sqrt(wq[0].length + wq[0].length % 2);"),
    "base 1000": ("const base = options.base ?? 10000;", "const base = 1000;"),
    "sin and cos swapped": ("row[2 * i] = Math.sin(angle);\n      row[2 * i + 1] = Math.cos(angle);",
                            "row[2 * i] = Math.cos(angle);\n      row[2 * i + 1] = Math.sin(angle);"),
}


@pytest.mark.parametrize("name", sorted(_BROKEN))
def test_a_broken_view_fails_the_comparison(tmp_path, name):
    old, new = _BROKEN[name]
    source = view_source("position_explorer.js")  # what the widget ships: common.js, then the view
    assert source.count(old) == 1, f"the broken variant {name!r} no longer applies: update _BROKEN"
    cases = _layer_cases()
    got = run_js(tmp_path, [c for c, _ in cases], source.replace(old, new))  # it runs: only its numbers are wrong
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        check_layers(got, cases)


def test_no_trait_hides_one_of_every_widgets():
    """A trait named like a base widget's (``layout`` is ipywidgets' Layout) breaks the static page."""
    import anywidget

    base = set(anywidget.AnyWidget.class_trait_names())
    own = {name for name, trait in PositionExplorer.class_traits().items()
           if trait.metadata.get("sync") and trait is not anywidget.AnyWidget.class_traits().get(name)}
    assert not own & base, f"traits that replace a widget's own: {sorted(own & base)}"
