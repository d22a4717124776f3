"""The coreference task, the training loop, the shipped weights and the hand-written gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selfattn import coref, training

# Targets of issue 5 ("What is a learned weight matrix?"), typed here on purpose:
# they come from the issue, not from the code under test.
HELDOUT_ACCURACY_TARGET = 0.95
HELDOUT_ATTENTION_TARGET = 0.5


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


def test_batch_rejects_sentences_of_different_lengths():
    a = coref.make_example("the cat sat on the mat because it was tired", "cat")
    b = coref.make_example("the cat sat because it was tired", "cat")
    with pytest.raises(ValueError, match=r"lengths \[7, 10\]"):
        training.batch([a, b])


# --------------------------------------------------------------------------- training
def test_loss_goes_down_over_a_few_steps():
    result = training.train_coreference(seed=0, steps=20)
    assert np.mean(result.losses[-5:]) < 0.8 * result.losses[0]


def test_same_seed_gives_same_weights_and_another_seed_does_not():
    a = training.train_coreference(seed=3, steps=10).model.matrices()
    b = training.train_coreference(seed=3, steps=10).model.matrices()
    c = training.train_coreference(seed=4, steps=10).model.matrices()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.allclose(a["point.W_q"], c["point.W_q"])


def test_train_coreference_unpacks_as_model_and_heldout_accuracy():
    model, acc = training.train_coreference(seed=0, steps=2)
    assert isinstance(model, training.CorefModel) and 0.0 <= acc <= 1.0


def test_train_coreference_rejects_bad_settings():
    with pytest.raises(ValueError, match="lr=0"):
        training.train_coreference(lr=0)


def test_a_single_attention_layer_query_of_it_ignores_the_adjective():
    # Why the model needs two layers: without layer 1, the query of "it" is x_it @ W_q,
    # identical for "tired" and "dirty".
    model = training.load_pretrained()
    ids = torch.tensor([coref.encode(coref.tokenize(s)) for s in (
        "the cat sat on the mat because it was tired", "the cat sat on the mat because it was dirty")])
    x = torch.nn.functional.one_hot(ids, len(coref.WORDS)).double() @ model.embedding  # (2, 10, d)
    q_one_layer = x[:, 7] @ model.point.W_q  # (2, d_k)
    assert torch.equal(q_one_layer[0], q_one_layer[1])


# --------------------------------------------------------------------------- shipped weights
def test_shipped_weights_are_small():
    assert training.WEIGHTS_PATH.stat().st_size < 16_000


def test_shipped_weights_reach_the_issue_targets_on_heldout_sentences():
    model = training.load_pretrained()
    _, heldout = coref.split()
    # Independent evaluation: argmax of the logits and the weight on the referent, computed here.
    ids, it_pos, target, ref_pos = training.batch(heldout)
    with torch.no_grad():
        logits, _, w2 = model(ids, it_pos)
    rows = torch.arange(len(heldout))
    acc = (logits.argmax(-1) == target).double().mean().item()
    att = w2[rows, it_pos, ref_pos].mean().item()
    assert acc >= HELDOUT_ACCURACY_TARGET
    assert att >= HELDOUT_ATTENTION_TARGET
    assert training.accuracy(model, heldout) == pytest.approx(acc)
    assert training.mean_attention_to_referent(model, heldout) == pytest.approx(att)


def test_retraining_with_seed_0_reproduces_the_shipped_weights():
    shipped = training.load_pretrained().matrices()
    retrained = training.train_coreference(seed=0).model.matrices()
    for name in shipped:
        np.testing.assert_allclose(retrained[name], shipped[name], rtol=1e-6, atol=1e-9, err_msg=name)


def test_load_weights_names_a_wrong_shape(tmp_path):
    bad = training.load_pretrained().matrices()
    bad["W_out"] = bad["W_out"][:, :3]
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ValueError, match=r"W_out .* shape \(8, 3\), expected \(8, 12\)"):
        training.load_weights(tmp_path / "bad.npz")


def test_it_attention_accepts_unknown_words_and_any_length():
    r = training.it_attention(training.load_pretrained(), "the cat sat because it was purple")
    assert r["tokens"][-1] == "purple" and r["layer2"].shape == (7,)
    assert r["layer2"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- gradients by hand
def _torch_loss(X, W_q, W_k, W_v, Y):
    q, k, v = X @ W_q, X @ W_k, X @ W_v
    a = torch.softmax(q @ k.T / W_q.shape[1] ** 0.5, dim=-1)
    return 0.5 * ((a @ v - Y) ** 2).sum() / X.shape[0]


def test_numpy_gradients_equal_torch_autograd():
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    Ws = {"W_q": rng.normal(size=(3, 2)), "W_k": rng.normal(size=(3, 2)), "W_v": rng.normal(size=(3, 2))}
    loss, grads = training.attention_grads_numpy(X, Ws["W_q"], Ws["W_k"], Ws["W_v"], Y)
    tw = {k: torch.tensor(v, requires_grad=True) for k, v in Ws.items()}
    t_loss = _torch_loss(torch.tensor(X), tw["W_q"], tw["W_k"], tw["W_v"], torch.tensor(Y))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for k in Ws:
        np.testing.assert_allclose(grads[k], tw[k].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


def test_one_numpy_gradient_step_equals_torch_sgd_step():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    Ws = [rng.normal(size=(4, 2)) for _ in range(3)]
    lr = 0.1
    _, grads = training.attention_grads_numpy(X, *Ws, Y)
    stepped = [W - lr * grads[k] for W, k in zip(Ws, ("W_q", "W_k", "W_v"))]
    params = [torch.tensor(W, requires_grad=True) for W in Ws]
    opt = torch.optim.SGD(params, lr=lr)
    _torch_loss(torch.tensor(X), *params, torch.tensor(Y)).backward()
    opt.step()
    for mine, theirs in zip(stepped, params):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_attention_grads_numpy_names_mismatched_shapes():
    with pytest.raises(ValueError, match=r"Y must have shape \(n, d_v\) = \(3, 2\), got \(3, 5\)"):
        training.attention_grads_numpy(np.ones((3, 4)), np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 2)),
                                       np.ones((3, 5)))


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


def test_training_restores_the_callers_torch_settings():
    import torch

    before = (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads())
    torch.set_num_threads(2)
    try:
        training.train_coreference(seed=0, steps=2)
        assert torch.get_num_threads() == 2
        assert torch.are_deterministic_algorithms_enabled() == before[0]
    finally:
        torch.set_num_threads(before[1])
