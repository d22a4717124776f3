"""The coreference task, the model, the training loop, its metrics and the shipped weights.

Expected values come from a NumPy forward pass written here from the module docstring of
``selfattn.training`` (:func:`_hand_forward`), from hand-built examples with a known answer,
or from the task's definition, never from the functions under test.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from selfattn import coref, training

# Targets of issue 5 ("What is a learned weight matrix?"), typed here on purpose:
# they come from the issue, not from the code under test.
HELDOUT_ACCURACY_TARGET = 0.95
HELDOUT_ATTENTION_TARGET = 0.5

SHORT = 20  # steps of the short training run: far from converged, so the splits score differently
WATCH_TEXTS = ("the cat sat on the mat because it was tired", "the cat sat on the mat because it was dirty")


# --------------------------------------------------------------------------- an independent forward pass
def _softmax_rows(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _hand_forward(m, examples, mask_nouns=True):
    """Logits and the attention rows of "it" in layers 1 and 2, from the matrices ``m`` alone.

    Layer 1: h = x + softmax(x W_q1 (x W_k1)^T / sqrt(d_k)) x W_v1. Layer 2: queries from h,
    keys and values from x, only nouns visible. Readout: the row of "it" times W_out.
    """
    ids = np.array([[coref.WORDS.index(t) for t in ex.tokens] for ex in examples])  # (B, n)
    it = np.array([ex.it_pos for ex in examples])  # (B,)
    rows = np.arange(len(examples))
    x = m["embedding"][ids]  # (B, n, d)
    root_dk = math.sqrt(m["gather.W_q"].shape[1])
    a1 = _softmax_rows((x @ m["gather.W_q"]) @ (x @ m["gather.W_k"]).transpose(0, 2, 1) / root_dk)
    h = x + a1 @ (x @ m["gather.W_v"])  # (B, n, d)
    s2 = (h @ m["point.W_q"]) @ (x @ m["point.W_k"]).transpose(0, 2, 1) / root_dk  # (B, n, n)
    if mask_nouns:
        is_noun = np.array([[t in coref.NOUNS for t in ex.tokens] for ex in examples])  # (B, n)
        s2 = np.where(is_noun[:, None, :], s2, -np.inf)
    a2 = _softmax_rows(s2)
    out = a2 @ (x @ m["point.W_v"])  # (B, n, d)
    return out[rows, it] @ m["W_out"], a1[rows, it], a2[rows, it]  # (B, nouns), (B, n), (B, n)


def _hand_metrics(m, examples):
    """(accuracy, mean layer-2 weight on the referent), computed from the hand forward pass."""
    logits, _, a2 = _hand_forward(m, examples)
    target = np.array([coref.NOUNS.index(ex.referent) for ex in examples])
    ref_pos = np.array([ex.referent_pos for ex in examples])
    acc = float(np.mean(logits.argmax(axis=-1) == target))
    return acc, float(a2[np.arange(len(examples)), ref_pos].mean())


@pytest.fixture(scope="module")
def short_run():
    watch = [coref.make_example(t) for t in WATCH_TEXTS]
    result = training.train_coreference(seed=0, steps=SHORT, watch=watch, snapshot_steps=[0, 5, SHORT])
    return result, watch


@pytest.fixture(scope="module")
def shipped():
    return training.load_pretrained()


# --------------------------------------------------------------------------- task
def test_heldout_noun_adjective_pairs_never_meet_in_training():
    train, heldout = coref.split()
    seen = {(noun, ex.tokens[-1]) for ex in train for noun in ex.tokens if noun in coref.NOUNS}
    for ex in heldout:
        assert (ex.referent, ex.tokens[-1]) not in seen, ex.text


def test_split_covers_every_sentence_once():
    train, heldout = coref.split()
    texts = [e.text for e in train + heldout]
    assert len(texts) == len(set(texts)) == 4 * 6 * 6 * 12


def test_referent_follows_the_adjective_not_the_position():
    by_text = {e.text: e for e in coref.all_examples()}
    assert by_text["the cat sat on the mat because it was tired"].referent == "cat"
    assert by_text["the cat sat on the mat because it was dirty"].referent == "mat"
    assert by_text["the rug was under the dog because it was hungry"].referent == "dog"
    assert by_text["the rug was under the dog because it was old"].referent == "rug"
    first = {e.referent_pos for e in coref.all_examples()}
    assert first == {1, 5}  # the referent is sometimes first, sometimes second


def test_make_example_rejects_sentence_without_it():
    with pytest.raises(ValueError, match="'it'"):
        coref.make_example("the cat sat on the mat")


@pytest.mark.parametrize("sentence", [123, None, ["the", "cat", 5]])
def test_make_example_rejects_what_is_not_a_sentence(sentence):
    with pytest.raises(ValueError, match=r"sentence must"):
        coref.make_example(sentence)


@pytest.mark.parametrize("tokens", ["the cat", 7, ["the", None]])
def test_encode_rejects_a_string_or_non_words_instead_of_reading_letters(tokens):
    with pytest.raises(ValueError, match=r"tokens must"):
        coref.encode(tokens)


def test_batch_rejects_sentences_of_different_lengths():
    a = coref.make_example("the cat sat on the mat because it was tired", "cat")
    b = coref.make_example("the cat sat because it was tired", "cat")
    with pytest.raises(ValueError, match=r"examples must be sentences of one length .* lengths \[7, 10\]"):
        training.batch([a, b])


def test_batch_rejects_an_empty_list():
    with pytest.raises(ValueError, match="examples is empty"):
        training.batch([])


# --------------------------------------------------------------------------- the model
@pytest.mark.parametrize("mask_nouns", [True, False])
def test_model_computes_the_forward_pass_of_the_module_docstring(mask_nouns):
    model = training.CorefModel(seed=2, mask_nouns=mask_nouns)
    examples = coref.split()[1][::40]
    ids, it_pos, _, _ = training.batch(examples)
    with torch.no_grad():
        logits, w1, w2 = model(ids, it_pos)
    rows = torch.arange(len(examples))
    hand_logits, hand_a1, hand_a2 = _hand_forward(model.matrices(), examples, mask_nouns)
    np.testing.assert_allclose(logits.numpy(), hand_logits, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w1[rows, it_pos].numpy(), hand_a1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w2[rows, it_pos].numpy(), hand_a2, rtol=1e-10, atol=1e-12)


def test_without_the_noun_mask_it_may_attend_to_non_nouns():
    masked = training.CorefModel(seed=0)
    unmasked = training.CorefModel(seed=0, mask_nouns=False)
    ids, it_pos, _, _ = training.batch(coref.split()[1][:1])
    with torch.no_grad():
        w_masked = masked(ids, it_pos)[2][0, 7]  # (n,) layer-2 row of "it"
        w_unmasked = unmasked(ids, it_pos)[2][0, 7]
    nouns = torch.tensor([1, 5])
    assert w_masked[nouns].sum().item() == pytest.approx(1.0)
    assert w_unmasked[-1].item() > 0.0 and w_unmasked[nouns].sum().item() < 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"d_model": 0}, r"d_model must be .*got 0"),
    ({"d_k": 0}, r"d_k must be .*got 0"),
    ({"d_k": 1.5}, r"d_k must be .*got 1.5"),
    ({"seed": None}, r"seed must be a whole number such as 0, got None"),
    ({"seed": True}, r"seed must be .*got True"),
    ({"seed": -1}, r"seed must be .*got -1"),
    ({"mask_nouns": "no"}, r"mask_nouns must be True or False, got 'no'"),
])
def test_coref_model_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.CorefModel(**kwargs)


# --------------------------------------------------------------------------- metrics
class _FixedModel(training.CorefModel):
    """A stand-in model with known outputs: it always answers "cat", and "it" puts 0.7 on
    position 1, 0.2 on position 5 and 0.1 on the last word. (A CorefModel whose forward pass
    is replaced, since the metrics accept only CorefModels.)"""

    def forward(self, ids, it_pos):
        batch_size, n = ids.shape
        logits = torch.zeros(batch_size, len(coref.NOUNS), dtype=torch.float64)
        logits[:, coref.NOUNS.index("cat")] = 1.0
        w2 = torch.zeros(batch_size, n, n, dtype=torch.float64)
        w2[torch.arange(batch_size), it_pos, 1] = 0.7
        w2[torch.arange(batch_size), it_pos, 5] = 0.2
        w2[torch.arange(batch_size), it_pos, n - 1] = 0.1
        return logits, None, w2


HAND_BUILT = [
    coref.make_example("the cat sat on the mat because it was tired", "cat"),  # answered right, 0.7
    coref.make_example("the cat sat on the mat because it was dirty", "mat"),  # wrong, 0.2
    coref.make_example("the rug was under the dog because it was hungry", "dog"),  # wrong, 0.2
]


def test_accuracy_is_the_share_of_right_answers_on_a_hand_built_set():
    assert training.accuracy(_FixedModel(), HAND_BUILT) == pytest.approx(1 / 3)
    assert training.accuracy(_FixedModel(), HAND_BUILT[:1]) == 1.0
    assert training.accuracy(_FixedModel(), HAND_BUILT[1:]) == 0.0


def test_mean_attention_to_referent_reads_the_referents_position_on_a_hand_built_set():
    expected = (0.7 + 0.2 + 0.2) / 3
    assert training.mean_attention_to_referent(_FixedModel(), HAND_BUILT) == pytest.approx(expected)
    assert training.evaluate(_FixedModel(), HAND_BUILT) == {
        "accuracy": pytest.approx(1 / 3), "attention": pytest.approx(expected)}


METRICS = [training.accuracy, training.mean_attention_to_referent, training.evaluate]


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("bad", [
    coref.make_example("the cat sat on the mat because it was tired"),  # no referent
    coref.make_example("the cat sat on the mat because it was tired", "sat"),  # not a noun
    coref.Example(tuple(WATCH_TEXTS[0].split()), 7, "cat", 5),  # position of another word
])
def test_metrics_name_an_example_without_a_referent_noun(metric, bad):
    with pytest.raises(ValueError, match=r"examples\[1\] \('the cat sat on the mat because it was tired'\) "
                                         r"has no referent noun"):
        metric(_FixedModel(), [HAND_BUILT[0], bad])


def test_metrics_reject_an_empty_list():
    with pytest.raises(ValueError, match="examples is empty"):
        training.accuracy(_FixedModel(), [])


# --------------------------------------------------------------------------- training
def test_loss_goes_down_over_a_few_steps(short_run):
    result, _ = short_run
    assert np.mean(result.losses[-5:]) < 0.8 * result.losses[0]


def test_first_loss_is_the_cross_entropy_of_the_initial_model():
    train, _ = coref.split()
    result = training.train_coreference(seed=1, steps=2, batch_size=len(train))  # one batch: every sentence
    logits, _, _ = _hand_forward(result.initial, train)
    target = np.array([coref.NOUNS.index(ex.referent) for ex in train])
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    assert result.losses[0] == pytest.approx(-log_p[np.arange(len(train)), target].mean(), rel=1e-10)
    assert result.losses[1] < result.losses[0]


def test_heldout_metrics_are_measured_on_the_heldout_split(short_run):
    result, _ = short_run
    train, heldout = coref.split()
    m = result.model.matrices()
    acc_heldout, att_heldout = _hand_metrics(m, heldout)
    acc_train, att_train = _hand_metrics(m, train)
    assert acc_heldout != pytest.approx(acc_train) and att_heldout != pytest.approx(att_train)  # can tell
    assert result.heldout_accuracy == pytest.approx(acc_heldout, abs=1e-12)
    assert result.heldout_attention == pytest.approx(att_heldout, rel=1e-10)


def test_train_accuracy_is_measured_on_the_training_split(short_run):
    result, _ = short_run
    train, heldout = coref.split()
    m = result.model.matrices()
    acc_train, acc_heldout = _hand_metrics(m, train)[0], _hand_metrics(m, heldout)[0]
    assert acc_train != pytest.approx(acc_heldout)  # the test can tell the splits apart
    assert result.train_accuracy == pytest.approx(acc_train, abs=1e-12)


def test_train_coreference_unpacks_as_model_and_heldout_accuracy(short_run):
    result, _ = short_run
    model, acc = result
    assert model is result.model
    assert acc == pytest.approx(_hand_metrics(model.matrices(), coref.split()[1])[0], abs=1e-12)


def test_snapshots_hold_the_attention_of_it_before_and_after_training(short_run):
    result, watch = short_run
    assert sorted(result.snapshots) == [0, 5, SHORT]
    for step, m in ((0, result.initial), (SHORT, result.model.matrices())):
        _, a1, a2 = _hand_forward(m, watch)
        w1, w2 = result.snapshots[step]
        np.testing.assert_allclose(w1, a1, rtol=1e-10, atol=1e-12, err_msg=f"layer 1, step {step}")
        np.testing.assert_allclose(w2, a2, rtol=1e-10, atol=1e-12, err_msg=f"layer 2, step {step}")
    assert not np.allclose(result.snapshots[0][1], result.snapshots[SHORT][1])  # training moved them


def test_snapshot_at_step_k_shows_the_model_after_k_updates(short_run):
    result, watch = short_run
    after_5 = training.train_coreference(seed=0, steps=5).model.matrices()
    _, a1, a2 = _hand_forward(after_5, watch)
    np.testing.assert_allclose(result.snapshots[5][0], a1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.snapshots[5][1], a2, rtol=1e-9, atol=1e-12)


def test_same_seed_gives_same_weights_and_another_seed_does_not():
    a = training.train_coreference(seed=3, steps=10).model.matrices()
    b = training.train_coreference(seed=3, steps=10).model.matrices()
    c = training.train_coreference(seed=4, steps=10).model.matrices()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.allclose(a["point.W_q"], c["point.W_q"])


@pytest.mark.parametrize("kwargs, message", [
    ({"lr": 0}, r"lr must be positive, got 0"),
    ({"lr": -0.1}, r"lr must be positive, got -0.1"),
    ({"lr": float("inf")}, r"lr must be a finite number, got inf"),
    ({"lr": float("nan")}, r"lr must be a finite number, got nan"),
    ({"lr": "0.1"}, r"lr must be a finite number, got '0.1'"),
    ({"lr": True}, r"lr must be a finite number, got True"),
    ({"steps": -1}, r"steps must be .*got -1"),
    ({"steps": 2.5}, r"steps must be .*got 2.5"),
    ({"batch_size": 0}, r"batch_size must be .*got 0"),
    ({"seed": None}, r"seed must be a whole number such as 0, got None"),
    ({"seed": True}, r"seed must be .*got True"),
    ({"d_k": 0}, r"d_k must be .*got 0"),
    ({"mask_nouns": "no"}, r"mask_nouns must be True or False"),
    ({"steps": 10, "snapshot_steps": [0, 11], "watch": [coref.make_example(WATCH_TEXTS[0])]},
     r"snapshot_steps must lie between 0 and steps=10, got \[0, 11\]"),
    ({"steps": 10, "snapshot_steps": [0, 5]}, r"snapshot_steps=\[0, 5\] records .* but watch is empty"),
    ({"snapshot_steps": 5, "watch": [coref.make_example(WATCH_TEXTS[0])]}, r"snapshot_steps must be a list"),
    ({"snapshot_steps": [0], "watch": [coref.make_example(WATCH_TEXTS[0]), coref.make_example("it was old")]},
     r"watch must be sentences of one length"),
])
def test_train_coreference_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.train_coreference(**{"steps": 1, **kwargs})


def test_a_learning_rate_that_overflows_stops_training_at_the_step_where_it_happens():
    with pytest.raises(ValueError, match=r"at step 1, training diverged: lr=1e\+200 is too large; "
                                         r"try a smaller lr, such as the default 0.05"):
        training.train_coreference(seed=0, steps=5, lr=1e200)


def test_a_loss_that_becomes_nan_stops_training_with_the_step(monkeypatch):
    real = torch.nn.functional.cross_entropy
    calls = []

    def nan_at_step_3(logits, target):  # the fourth mini-batch gives a NaN loss
        calls.append(None)
        return real(logits, target) * (float("nan") if len(calls) == 4 else 1.0)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", nan_at_step_3)
    with pytest.raises(ValueError, match=r"the loss at step 3 is not finite .*training diverged: lr=0.05"):
        training.train_coreference(seed=0, steps=6)


def test_a_weight_that_becomes_nan_stops_training_with_its_name(monkeypatch):
    real_step = torch.optim.Adam.step
    calls = []

    def nan_in_w_out_at_step_2(self, *args, **kwargs):
        out = real_step(self, *args, **kwargs)
        calls.append(None)
        if len(calls) == 3:
            with torch.no_grad():
                self.param_groups[0]["params"][1][0, 0] = float("nan")  # W_out, the second parameter
        return out

    monkeypatch.setattr(torch.optim.Adam, "step", nan_in_w_out_at_step_2)
    with pytest.raises(ValueError, match=r"the weight matrix W_out after step 2 is not finite"):
        training.train_coreference(seed=0, steps=3)  # step 2 is the last: no later loss would show it


def test_training_restores_the_callers_torch_settings():
    before = (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads())
    torch.set_num_threads(2)
    try:
        training.train_coreference(seed=0, steps=2)
        assert torch.get_num_threads() == 2
        assert torch.are_deterministic_algorithms_enabled() == before[0]
    finally:
        torch.set_num_threads(before[1])


# --------------------------------------------------------------------------- shipped weights
def test_shipped_weights_are_small():
    assert training.WEIGHTS_PATH.stat().st_size < 16_000


def test_shipped_weights_reach_the_issue_targets_on_heldout_sentences(shipped):
    _, heldout = coref.split()
    acc, att = _hand_metrics(shipped.matrices(), heldout)
    assert acc >= HELDOUT_ACCURACY_TARGET
    assert att >= HELDOUT_ATTENTION_TARGET
    assert training.accuracy(shipped, heldout) == pytest.approx(acc, abs=1e-12)
    assert training.mean_attention_to_referent(shipped, heldout) == pytest.approx(att, rel=1e-10)


def test_retraining_with_seed_0_reproduces_the_shipped_weights(shipped):
    stored = shipped.matrices()
    retrained = training.train_coreference(seed=0).model.matrices()
    for name in stored:
        np.testing.assert_allclose(retrained[name], stored[name], rtol=1e-6, atol=1e-9, err_msg=name)


def test_gather_layer_lets_the_adjective_steer_the_query_of_it(shipped):
    # Why the model needs two layers: the query of "it" must depend on the adjective, which only
    # layer 1 can bring to the position of "it". After "tired" the query must score the animal
    # key above the object key, after "dirty" the other way round (the task's definition).
    pv = training.point_layer_vectors(shipped)  # template "the {animal} sat on the {object} ..."
    k_cat, k_mat = pv["keys"][pv["nouns"].index("cat")], pv["keys"][pv["nouns"].index("mat")]
    for adjective, q in zip(pv["adjectives"], pv["queries"]):
        prefers_cat = q @ k_cat > q @ k_mat
        assert prefers_cat == (adjective in coref.ANIMAL_ADJECTIVES), adjective


def test_load_weights_names_a_wrong_shape(tmp_path, shipped):
    bad = shipped.matrices()
    bad["W_out"] = bad["W_out"][:, :3]
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ValueError, match=r"W_out .* shape \(8, 3\), expected \(8, 12\)"):
        training.load_weights(tmp_path / "bad.npz")


def test_load_weights_names_a_matrix_holding_nan(tmp_path, shipped):
    bad = shipped.matrices()
    bad["point.W_k"][3, 1] = np.nan
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ValueError, match=r"point.W_k in .*bad.npz contains 1 non-finite"):
        training.load_weights(tmp_path / "bad.npz")


def test_predict_answers_each_sentence_like_the_hand_forward_pass(shipped):
    examples = coref.split()[1][::50]
    hand_logits, _, hand_a2 = _hand_forward(shipped.matrices(), examples)
    for (noun, p, w2), logits, a2 in zip(training.predict(shipped, examples), hand_logits, hand_a2):
        assert noun == coref.NOUNS[int(np.argmax(logits))]
        np.testing.assert_allclose(p, _softmax_rows(logits), rtol=1e-10)
        np.testing.assert_allclose(w2, a2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"animal": "mat"}, r"unknown animal 'mat'"),
    ({"obj": "unicorn"}, r"unknown obj 'unicorn'"),
    ({"template": "the {animal} and the {object} were {adjective}"}, r"the sentence needs the word 'it'"),
])
def test_point_layer_vectors_rejects_bad_sentences(shipped, kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.point_layer_vectors(shipped, **kwargs)


def test_it_attention_accepts_unknown_words_and_any_length(shipped):
    r = training.it_attention(shipped, "the cat sat because it was purple")
    assert r["tokens"][-1] == "purple" and r["layer2"].shape == (7,)
    assert r["layer2"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- the bad-input hunt



@pytest.mark.parametrize("call", [
    lambda m: training.predict(m, coref.split()[1][:2]),
    lambda m: training.accuracy(m, coref.split()[1][:2]),
    lambda m: training.mean_attention_to_referent(m, coref.split()[1][:2]),
    lambda m: training.evaluate(m, coref.split()[1][:2]),
    lambda m: training.it_attention(m, "the cat sat because it was tired"),
    lambda m: training.point_layer_vectors(m),
    lambda m: training.save_weights(m, "unused.npz"),
], ids=["predict", "accuracy", "attention", "evaluate", "it_attention", "point_layer_vectors", "save_weights"])
@pytest.mark.parametrize("model", [None, "model", torch.nn.Linear(2, 2)], ids=["None", "str", "another module"])
def test_functions_that_take_a_model_name_a_model_that_is_not_a_coref_model(call, model):
    with pytest.raises(ValueError, match=r"^model must be a selfattn.training.CorefModel"):
        call(model)


@pytest.mark.parametrize("call", [
    lambda ex: training.batch(ex),
    lambda ex: training.predict(training.CorefModel(), ex),
    lambda ex: training.accuracy(training.CorefModel(), ex),
    lambda ex: training.evaluate(training.CorefModel(), ex),
], ids=["batch", "predict", "accuracy", "evaluate"])
@pytest.mark.parametrize("examples, words", [
    (None, "examples must be a list of coref.Example, got NoneType"),
    ("the cat sat because it was tired", "examples must be a list of coref.Example, got str"),
    (["the cat sat because it was tired"], "examples[0] is a str, not a coref.Example"),
    ([7], "examples[0] is a int, not a coref.Example"),
])
def test_functions_that_take_examples_name_what_is_not_a_list_of_examples(call, examples, words):
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        call(examples)


@pytest.mark.parametrize("watch, words", [
    ("the cat sat on the mat because it was tired", "watch must be a list of coref.Example, got str"),
    (["the cat sat on the mat because it was tired"], "watch[0] is a str, not a coref.Example"),
    (7, "watch must be a list of coref.Example, got int"),
])
def test_train_coreference_names_a_watch_list_that_is_not_examples(watch, words):
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        training.train_coreference(steps=1, watch=watch, snapshot_steps=[0])


@pytest.mark.parametrize("make", [lambda s: training.CorefModel(seed=s), lambda s: training.train_coreference(seed=s, steps=0)],
                         ids=["model", "training"])
def test_a_seed_beyond_64_bits_is_refused_by_name(make):
    with pytest.raises(ValueError, match=r"^seed must be at most 2\*\*64 - 1"):
        make(2**64)


@pytest.mark.parametrize("ids, words", [
    (None, "ids must be a torch.long tensor of word indices"),
    (np.zeros((2, 10), dtype=np.int64), "ids must be a torch.long tensor of word indices"),
    (torch.zeros(2, 10), "ids must be a torch.long tensor of word indices"),
    (torch.zeros(10, dtype=torch.long), "ids must have shape (B, n)"),
    (torch.full((2, 10), 99), "ids must be word indices from 0 to"),
    (torch.full((2, 10), -1), "ids must be word indices from 0 to"),
])
def test_forward_names_word_indices_that_are_not_a_batch(shipped, ids, words):
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        shipped(ids, torch.zeros(2, dtype=torch.long))


@pytest.mark.parametrize("it_pos, words", [
    (None, "it_pos must be a torch.long tensor of positions, got"),
    (True, "it_pos must be a torch.long tensor of positions, got"),
    (torch.tensor([1.0, 2.0, 3.0]), "it_pos must be a torch.long tensor of positions, got"),
    (torch.tensor([7]), "it_pos must have shape (B,) = (3,)"),
    (torch.tensor([[7, 7, 7]]), "it_pos must have shape (B,) = (3,)"),
    (torch.tensor([7, 7, 10]), "it_pos must be positions from 0 to 9"),
])
def test_forward_names_positions_of_it_that_do_not_fit_the_batch(shipped, it_pos, words):
    ids, _, _, _ = training.batch(coref.split()[1][:3])
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        shipped(ids, it_pos)


@pytest.mark.parametrize("template, words", [
    (None, "template must be a format string"),
    ("the {animal} sat on the {obj} because it was {adjective}", "template must use exactly the fields"),
    ("the {animal} sat on the {object} because it was {adjective} {", "template must be a format string"),
    ("the {animal} sat on the mat because it was {adjective}", "template must use exactly the fields"),
])
def test_point_layer_vectors_names_a_template_that_cannot_be_filled(shipped, template, words):
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        training.point_layer_vectors(shipped, template=template)


def test_save_weights_writes_exactly_the_path_it_is_given(tmp_path, shipped):
    path = tmp_path / "coref"  # no .npz suffix: NumPy would silently write coref.npz
    training.save_weights(shipped, path)
    assert path.is_file() and not (tmp_path / "coref.npz").exists()
    np.testing.assert_array_equal(training.load_weights(path).matrices()["W_out"], shipped.matrices()["W_out"])


@pytest.mark.parametrize("make_path, words", [
    (lambda tmp: None, "path must be a file path (str or pathlib.Path), got None"),
    (lambda tmp: tmp, "is a folder"),
    (lambda tmp: tmp / "missing" / "w.npz", "the folder"),
])
def test_save_weights_names_a_path_it_cannot_write(tmp_path, shipped, make_path, words):
    with pytest.raises(ValueError) as err:
        training.save_weights(shipped, make_path(tmp_path))
    assert words in str(err.value)


@pytest.mark.parametrize("make_path, words", [
    (lambda tmp: None, "path must be a file path (str or pathlib.Path), got None"),
    (lambda tmp: tmp / "missing.npz", "is not a file (no such file)"),
    (lambda tmp: tmp, "is not a file (it is a folder)"),
])
def test_load_weights_names_a_path_that_is_not_a_file(tmp_path, make_path, words):
    with pytest.raises(ValueError) as err:
        training.load_weights(make_path(tmp_path))
    assert words in str(err.value)


def test_load_weights_names_a_file_that_is_not_a_weights_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("not a zip archive")
    with pytest.raises(ValueError, match=r"^path '.*notes.npz' is not a weights file written by save_weights"):
        training.load_weights(path)


def test_value_ablation_changes_only_what_it_reads():
    """Zeroing a value the masked model cannot attend to changes nothing; zeroing the
    referent's value (weight > 0.5 on it) must change the answer's probability."""
    model = training.load_pretrained()
    heldout = coref.split()[1]
    adj = training.value_ablation(model, heldout, position=-1)
    assert adj["accuracy_ablated"] == adj["accuracy"]
    assert adj["p_referent_ablated"] == pytest.approx(adj["p_referent"], abs=1e-12)
    first = [e for e in heldout if e.referent_pos == 1]
    ref = training.value_ablation(model, first, position=1)
    assert ref["p_referent"] > 0.95
    assert ref["p_referent_ablated"] < ref["p_referent"] - 0.3
