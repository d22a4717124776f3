"""The head explorer, driven without a browser: Python state, typed sentences, errors, and the
view's arithmetic under node.

Expected weights come from ``load_minilm()(sentence).attentions[layer, head]``, run here on
each sentence, never from the widget.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("anywidget")
pytest.importorskip("safetensors")

from selfattn.widgets import HEAD_EXPLORER_MAX_TOKENS, HEAD_EXPLORER_SENTENCES, HeadExplorer, view_source  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "selfattn" / "static"
TOL = 1e-6
SEED = "The cat sat on the mat because it was tired."


@pytest.fixture(scope="module")
def encoder():
    from selfattn.pretrained import load_minilm

    try:
        return load_minilm()
    except ModuleNotFoundError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def default_explorer(encoder):
    return HeadExplorer(encoder=encoder)


@pytest.fixture
def explorer(encoder):
    return HeadExplorer([SEED, "The animal didn't cross the street because it was too wide."], encoder=encoder)


# --------------------------------------------------------------------------- the weights
def test_default_sentences_include_the_seeds_pairs():
    for s in ("The cat sat on the mat because it was tired.", "The cat sat on the mat because it was dirty.",
              "The animal didn't cross the street because it was too tired.",
              "The animal didn't cross the street because it was too wide."):
        assert s in HEAD_EXPLORER_SENTENCES
    assert 5 <= len(HEAD_EXPLORER_SENTENCES) <= 6


def test_every_heads_weights_equal_the_encoders_to_1e_6(default_explorer, encoder):
    ex = default_explorer
    assert ex.sentences == list(HEAD_EXPLORER_SENTENCES)
    for s, sentence in enumerate(ex.sentences):
        run = encoder(sentence)
        assert ex.token_lists[s] == run.tokens
        for layer in range(6):
            for head in range(12):
                np.testing.assert_allclose(ex.weights(s, layer, head), run.attentions[layer, head],
                                           atol=TOL, rtol=0, err_msg=f"sentence {s}, layer {layer}, head {head}")


def test_the_bytes_the_page_carries_are_the_encoders_float32_weights(default_explorer, encoder):
    ex = default_explorer
    for s, sentence in enumerate(ex.sentences):
        a = encoder(sentence).attentions  # (6, 12, n, n)
        stored = np.frombuffer(ex.attention_data[s], dtype="<f4").reshape(a.shape)
        np.testing.assert_allclose(stored, a, atol=TOL, rtol=0)
    total = sum(len(b) for b in ex.attention_data)
    assert total < 1_000_000, f"the saved state carries {total} bytes of weights: keep the page small"


def test_weights_may_name_the_sentence_by_its_text(explorer, encoder):
    np.testing.assert_allclose(explorer.weights(SEED, 4, 9), encoder(SEED).attentions[4, 9], atol=TOL, rtol=0)


# --------------------------------------------------------------------------- picking
def test_default_view_is_the_seed_sentence_layer_0_head_0_query_it(explorer):
    assert (explorer.sentence_index, explorer.layer, explorer.head) == (0, 0, 0)
    assert explorer.tokens[explorer.query_index] == "it"
    assert explorer.tokens[:3] == ["[CLS]", "the", "cat"] and explorer.tokens[-1] == "[SEP]"


def test_select_changes_the_state_the_view_reads(explorer):
    explorer.select(1, 3, 7)
    assert (explorer.sentence_index, explorer.layer, explorer.head) == (1, 3, 7)
    assert explorer.tokens[explorer.query_index] == "it"
    assert "street" in explorer.tokens
    explorer.select(SEED, 5, 11, query="cat")
    assert (explorer.sentence_index, explorer.layer, explorer.head) == (0, 5, 11)
    assert explorer.tokens[explorer.query_index] == "cat"


def test_the_views_picks_arrive_as_trait_changes(explorer):
    # what head_explorer.js sends: {sentence_index, query_index} together, then layer, head
    explorer.set_state({"sentence_index": 1, "query_index": 2})
    explorer.set_state({"layer": 2})
    explorer.set_state({"head": 4})
    assert (explorer.sentence_index, explorer.query_index, explorer.layer, explorer.head) == (1, 2, 2, 4)


def test_a_query_position_outside_the_new_sentence_moves_to_it(encoder):
    ex = HeadExplorer(["The trophy didn't fit in the suitcase because it was too big.", "it is"],
                      encoder=encoder)
    ex.query_index = 15
    ex.sentence_index = 1  # 4 tokens: [CLS] it is [SEP]
    assert ex.tokens[ex.query_index] == "it"


# --------------------------------------------------------------------------- typed sentences
def test_a_typed_sentence_is_run_added_and_shown(explorer, encoder):
    text = "The dog chased the ball because it was fast."
    explorer.select(0, 2, 3)
    i = explorer.add_sentence(text)
    assert i == 2 and explorer.sentences[-1] == text and explorer.sentence_index == 2
    assert (explorer.layer, explorer.head) == (2, 3), "adding a sentence keeps the layer and head"
    assert explorer.tokens == encoder(text).tokens
    np.testing.assert_allclose(explorer.weights(2, 2, 3), encoder(text).attentions[2, 3], atol=TOL, rtol=0)
    assert len(explorer.attention_data) == 3
    assert explorer.add_sentence(text) == 2 and len(explorer.sentences) == 3, "no duplicate"


def test_the_text_box_message_adds_a_sentence_or_explains_why_not(explorer):
    explorer._handle_custom_msg({"event": "add_sentence", "text": "It rained."}, [])
    assert explorer.error == "" and explorer.sentences[-1] == "It rained."
    explorer._handle_custom_msg({"event": "add_sentence", "text": "   "}, [])
    assert "empty" in explorer.error and len(explorer.sentences) == 3
    explorer._handle_custom_msg({"event": "add_sentence", "text": "word " * 600}, [])
    assert "602 tokens" in explorer.error and "512" in explorer.error
    explorer._handle_custom_msg({"event": "add_sentence", "text": "word " * 50}, [])
    assert f"at most {HEAD_EXPLORER_MAX_TOKENS}" in explorer.error
    explorer._handle_custom_msg({"event": "add_sentence", "text": "It snowed."}, [])
    assert explorer.error == "", "a good sentence clears the last message"


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("args, named", [
    ((0, 6, 0), "layer must be a whole number from 0 to 5"),
    ((0, -1, 0), "layer must be a whole number from 0 to 5"),
    ((0, 0, 12), "head must be a whole number from 0 to 11"),
    ((0, 1.0, 0), "layer must be a whole number"),
    ((0, True, 0), "layer must be a whole number"),
    ((2, 0, 0), "sentence (its text or its index) must be a whole number from 0 to 1"),
    (("A cat.", 0, 0), "is not one of the explorer's"),
])
def test_unknown_sentence_layer_or_head_is_named(explorer, args, named):
    with pytest.raises(ValueError) as err:
        explorer.weights(*args)
    assert named in str(err.value)
    with pytest.raises(ValueError) as err:
        explorer.select(*args)
    assert named in str(err.value)


def test_unknown_query_is_named(explorer):
    with pytest.raises(ValueError, match="'dog' is not in the sentence's tokens"):
        explorer.select(0, 0, 0, query="dog")
    with pytest.raises(ValueError, match="query .* from 0 to 12"):
        explorer.select(0, 0, 0, query=13)


@pytest.mark.parametrize("text, named", [
    ("", "is empty"), ("   ", "is empty"), (3, "must be a str"),
    ("word " * 600, "more than the 512 positions"), ("word " * 50, "shows at most 40"),
])
def test_bad_typed_text_gets_the_encoders_clear_error(explorer, text, named):
    with pytest.raises(ValueError, match=named):
        explorer.add_sentence(text)
    assert len(explorer.sentences) == 2


def test_bad_sentences_at_construction_are_named(encoder):
    with pytest.raises(ValueError, match="is empty"):
        HeadExplorer(["A cat.", ""], encoder=encoder)
    with pytest.raises(ValueError, match="at least one sentence"):
        HeadExplorer([], encoder=encoder)


def test_the_view_cannot_set_a_layer_or_head_that_does_not_exist(explorer):
    import traitlets

    with pytest.raises(traitlets.TraitError, match="from 0 to 5"):
        explorer.layer = 6
    with pytest.raises(traitlets.TraitError, match="from 0 to 11"):
        explorer.head = 12


# --------------------------------------------------------------------------- the view's arithmetic, under node
_RUNNER = """
import { readFileSync } from "node:fs";
import { headWeights, defaultQuery } from "./head_explorer.mjs";
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  const bytes = Buffer.from(c.b64, "base64");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { weights: headWeights(view, c.n, 6, 12, c.layer, c.head), query: defaultQuery(c.tokens) };
});
process.stdout.write(JSON.stringify(out));
"""


def run_js(tmp_path, cases):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the view's arithmetic is checked in the browser tests only")
    (tmp_path / "head_explorer.mjs").write_text(view_source("head_explorer.js"), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(_RUNNER)
    proc = subprocess.run([node, "run.mjs"], input=json.dumps(cases), capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_views_head_weights_equal_the_encoders(tmp_path, explorer, encoder):
    import base64

    picks = [(0, 0, 0), (0, 2, 5), (1, 3, 7), (1, 5, 11)]
    cases = [{"b64": base64.b64encode(explorer.attention_data[s]).decode(), "n": len(explorer.token_lists[s]),
              "layer": layer, "head": head, "tokens": explorer.token_lists[s]} for s, layer, head in picks]
    for (s, layer, head), got in zip(picks, run_js(tmp_path, cases)):
        expected = encoder(explorer.sentences[s]).attentions[layer, head]
        np.testing.assert_allclose(np.array(got["weights"]), expected, atol=TOL, rtol=0,
                                   err_msg=f"sentence {s}, layer {layer}, head {head}")
        assert explorer.token_lists[s][got["query"]] == "it"


def test_any_model_that_returns_tokens_and_attentions_can_be_explored():
    """The explorer is not tied to MiniLM: a callable returning .tokens and .attentions is enough."""
    from types import SimpleNamespace

    def model(text):
        tokens = text.split()
        n = len(tokens)
        a = np.zeros((2, 3, n, n), dtype=np.float32)
        for layer in range(2):
            for head in range(3):
                a[layer, head, :, (layer + head) % n] = 1.0  # every row on one column
        return SimpleNamespace(tokens=tokens, attentions=a)

    ex = HeadExplorer(["a b c d", "e f g"], encoder=model)
    assert (ex.n_layers, ex.n_heads) == (2, 3)
    assert ex.token_lists == [["a", "b", "c", "d"], ["e", "f", "g"]]
    w = ex.weights(1, 1, 2)  # column (1 + 2) % 3 = 0
    assert w.shape == (3, 3) and np.array_equal(w[:, 0], np.ones(3)) and w[:, 1:].sum() == 0
    with pytest.raises(ValueError, match="tokens"):
        ex.add_sentence(" ".join(["x"] * 41))  # longer than HEAD_EXPLORER_MAX_TOKENS
