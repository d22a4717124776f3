"""Learned weight matrices: train a tiny attention model to resolve "it".

The model reads a sentence of the :mod:`selfattn.coref` task and predicts
which noun "it" refers to. It is built so that the only way to get the answer
is for "it" to attend to the right noun:

1. **Embedding.** Each word gets a learned vector ``x`` of size ``d_model``
   (no positions: the task does not need them, see below).
2. **Layer 1, gather** (:class:`selfattn.nn.SelfAttention`): every word
   attends over the sentence; the residual sum ``h = x + attention(x)`` lets
   "it" pick up what the adjective says.
3. **Layer 2, point** (the weights of a second :class:`selfattn.nn.SelfAttention`):
   the query comes from ``h``, the keys and values from the embeddings ``x``,
   and a mask lets a word attend only to the nouns, the candidate referents.
   The value of a noun is computed from that noun's embedding alone, so the
   identity of the referent exists in one place: the value vector at the
   referent's position.
4. **Readout.** Only the layer-2 output at the position of "it" goes through
   ``W_out`` to give one score per noun (``selfattn.coref.NOUNS``). That output
   is ``w_animal * v_animal + w_object * v_object`` with the two weights summing
   to one, so the answer can only come out right if the right noun gets most
   of the weight.

Why two layers: in one layer the query of "it" is ``x_it @ W_q``, the same
vector in every sentence, so the scores of "it" cannot depend on the
adjective. Layer 1 writes the adjective into ``h_it``; layer 2 turns it into a
query that matches animal keys or object keys.

Why the mask: without it, "it" can attend to the adjective in layer 2 and
read "an animal" or "an object" from the adjective's value, a shortcut that
mixes the two nouns instead of choosing one.

Everything runs on the CPU in float64 with a fixed seed, one thread and
deterministic algorithms, so the same seed gives the same weights bit for bit.

The backward pass of one attention layer written out by hand, with NumPy, is in
:mod:`selfattn.backprop`; here PyTorch's autograd computes the gradients.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import _checks, coref
from . import nn as snn

__all__ = [
    "CorefModel",
    "TrainingResult",
    "train_coreference",
    "batch",
    "predict",
    "accuracy",
    "value_ablation",
    "mean_attention_to_referent",
    "evaluate",
    "it_attention",
    "save_weights",
    "load_weights",
    "load_pretrained",
    "WEIGHTS_PATH",
    "point_layer_vectors",
]

#: The weights trained with ``train_coreference(seed=0)``, shipped with the package.
WEIGHTS_PATH = Path(__file__).resolve().parent / "data" / "coref_weights.npz"
_MODEL = "a selfattn.training.CorefModel, such as load_pretrained() or train_coreference().model"

D_MODEL = 8
D_K = 2
STEPS = 150
LR = 0.05
BATCH_SIZE = 128


class CorefModel(nn.Module):
    """Embedding, a gather layer, a point layer and a readout (see the module docstring).

    Parameters
    ----------
    d_model : int, default 8
        Size of a word embedding (and of the gather layer's values).
    d_k : int, default 2
        Size of queries and keys in both layers.
    seed : int, default 0
        Seeds the initial weights (a non-negative whole number).
    mask_nouns : bool, default True
        In layer 2, let words attend only to the nouns. ``False`` lets "it"
        attend to every word, which opens a shortcut through the adjective
        (the chapter shows it).

    Raises
    ------
    ValueError
        If ``d_model`` or ``d_k`` is not a positive whole number, ``seed`` is not a
        whole number from 0 to 2**64 - 1, or ``mask_nouns`` is not ``True`` or ``False``.

    Examples
    --------
    >>> from selfattn.training import CorefModel, batch
    >>> from selfattn import coref
    >>> model = CorefModel()
    >>> ids, it_pos, _, _ = batch(coref.split()[1][:3])
    >>> logits, w1, w2 = model(ids, it_pos)
    >>> tuple(logits.shape), tuple(w1.shape), tuple(w2.shape)
    ((3, 12), (3, 10, 10), (3, 10, 10))
    """

    def __init__(self, d_model: int = D_MODEL, d_k: int = D_K, seed: int = 0, mask_nouns: bool = True):
        super().__init__()
        d_model, d_k = _checks.positive_int(d_model, "d_model"), _checks.positive_int(d_k, "d_k")
        seed, self.mask_nouns = _checks.torch_seed(seed), _checks.flag(mask_nouns, "mask_nouns")
        gen = torch.Generator().manual_seed(seed)
        self.d_model, self.d_k = d_model, d_k
        embedding = torch.randn(len(coref.WORDS), d_model, generator=gen, dtype=torch.float64)
        self.embedding = nn.Parameter(embedding)  # (vocab, d_model)
        self.gather = snn.SelfAttention(d_model, d_k, d_v=d_model, seed=seed)  # W_q, W_k (d, d_k); W_v (d, d)
        self.point = snn.SelfAttention(d_model, d_k, d_v=d_model, seed=seed + 1)
        bound = 1.0 / math.sqrt(d_model)
        w_out = (torch.rand(d_model, len(coref.NOUNS), generator=gen, dtype=torch.float64) * 2 - 1) * bound
        self.W_out = nn.Parameter(w_out)  # (d_model, n_nouns)
        is_noun = torch.tensor([w in coref.NOUNS for w in coref.WORDS])  # (vocab,)
        self.register_buffer("is_noun", is_noun, persistent=False)

    def gather_step(self, ids):
        """Embeddings ``x``, layer-1 result ``h = x + attention(x)`` and layer-1 weights."""
        ids = _checks.token_ids(ids, len(coref.WORDS))  # (B, n)
        onehot = nn.functional.one_hot(ids, len(coref.WORDS)).to(self.embedding.dtype)  # (B, n, vocab)
        x = onehot @ self.embedding  # (B, n, d_model): the embedding rows of the words
        gathered, w1 = self.gather(x)  # (B, n, d_model), (B, n, n)
        return x, x + gathered, w1

    def forward(self, ids, it_pos):
        """Scores over the nouns and the attention weights of both layers.

        Parameters
        ----------
        ids : LongTensor of shape (B, n)
            Word indices of ``B`` sentences of ``n`` words (see :func:`batch`).
        it_pos : LongTensor of shape (B,)
            The position of "it" in each sentence.

        Returns
        -------
        logits : Tensor of shape (B, n_nouns)
            One score per noun of ``coref.NOUNS``.
        w1, w2 : Tensors of shape (B, n, n)
            Attention weights of layers 1 and 2 (below, ``d`` is ``d_model``).

        Raises
        ------
        ValueError
            If ``ids`` is not a ``torch.long`` tensor (B, n) of word indices, or ``it_pos``
            not a ``torch.long`` tensor (B,) of positions inside the sentences.
        """
        x, h, w1 = self.gather_step(ids)  # (B, n, d), (B, n, d), (B, n, n)
        it_pos = _checks.positions(it_pos, ids)  # (B,)
        q = h @ self.point.W_q  # (B, n, d_k): queries from h
        k = x @ self.point.W_k  # (B, n, d_k): keys from the embeddings
        v = x @ self.point.W_v  # (B, n, d)
        # mask (B, 1, n): True at the nouns, the only words layer 2 sees
        mask = self.is_noun[ids].unsqueeze(-2) if self.mask_nouns else None
        # out (B, n, d), w2 (B, n, n)
        out, w2 = snn.scaled_dot_product_attention(q, k, v, mask=mask)
        out_it = out[torch.arange(len(ids)), it_pos]  # (B, d): the row of "it"
        return out_it @ self.W_out, w1, w2  # (B, n_nouns), w1, w2

    def matrices(self) -> dict[str, np.ndarray]:
        """Every weight matrix as a float64 NumPy array, keyed by name."""
        return {name: p.detach().numpy().copy() for name, p in self.named_parameters()}


def batch(examples):
    """Tensors for a list of :class:`selfattn.coref.Example` of equal length.

    Returns
    -------
    ids (B, n), it_pos (B,), target (B,) index into ``coref.NOUNS``, referent_pos (B,)
    Examples without a referent get target and position -1.

    Raises
    ------
    ValueError
        If ``examples`` is not a list of examples, is empty, or the sentences differ in length.
    """
    examples = _checks.examples(examples)
    _checks.same_length(examples)
    ids = torch.tensor([coref.encode(e.tokens) for e in examples], dtype=torch.long)  # (B, n)
    it_pos = torch.tensor([e.it_pos for e in examples], dtype=torch.long)  # (B,)
    target = torch.tensor([coref.NOUNS.index(e.referent) if e.referent in coref.NOUNS else -1
                           for e in examples])  # (B,)
    ref_pos = torch.tensor([-1 if e.referent_pos is None else e.referent_pos for e in examples])
    return ids, it_pos, target, ref_pos


@contextlib.contextmanager
def _deterministic():
    """Deterministic, single-threaded PyTorch while training; the caller's settings come back after."""
    old_deterministic, old_threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_deterministic)
        torch.set_num_threads(old_threads)


@dataclass
class TrainingResult:
    """What :func:`train_coreference` returns.

    Attributes
    ----------
    model : CorefModel
    heldout_accuracy : float
        Share of held-out sentences where the top-scoring noun is the referent.
    heldout_attention : float
        Mean layer-2 attention weight from "it" to the referent on held-out sentences.
    train_accuracy : float
    losses : list of float
        The loss on each step's mini-batch, before that step's update.
    snapshots : dict
        ``{step: (w1_it, w2_it)}``: the attention rows of "it" in layers 1 and 2
        for the sentences in ``watch`` (arrays of shape (len(watch), n)).
    seconds : float
        Wall-clock training time.
    initial : dict
        The initial weight matrices (see :meth:`CorefModel.matrices`).
    """

    model: CorefModel
    heldout_accuracy: float
    heldout_attention: float
    train_accuracy: float
    losses: list = field(default_factory=list)
    snapshots: dict = field(default_factory=dict)
    seconds: float = 0.0
    initial: dict = field(default_factory=dict)

    def __iter__(self):  # model, acc = train_coreference()
        return iter((self.model, self.heldout_accuracy))


@_deterministic()
def train_coreference(seed: int = 0, steps: int = STEPS, lr: float = LR, batch_size: int = BATCH_SIZE,
                      watch=None, snapshot_steps=(), d_model: int = D_MODEL, d_k: int = D_K,
                      mask_nouns: bool = True):
    """Train a :class:`CorefModel` on the training split; evaluate on the held-out split.

    Adam on the cross-entropy of the referent noun, with mini-batches drawn in a
    seeded order, float64, one CPU thread. Deterministic: the same arguments
    give the same weights.

    Parameters
    ----------
    seed : int, default 0
        A non-negative whole number; seeds the initial weights and the order of the sentences.
    steps : int, default 150
        Number of Adam steps (one mini-batch each); 0 returns the untrained model.
    lr : float, default 0.05
        The learning rate, a finite positive number.
    batch_size : int, default 128
        Sentences per mini-batch.
    watch : list of Example, optional
        Sentences (of one length) whose attention rows are recorded.
    snapshot_steps : iterable of int
        Steps at which to record them, from 0 (before training) to ``steps`` (after).
    d_model, d_k : int
        Sizes of the model (see :class:`CorefModel`); the shipped weights use the defaults.
    mask_nouns : bool, default True
        See :class:`CorefModel`.

    Returns
    -------
    TrainingResult
        Unpacks as ``model, heldout_accuracy``.

    Raises
    ------
    ValueError
        Naming the argument, if ``seed`` or ``steps`` is not a non-negative whole number
        (``seed`` at most 2**64 - 1), ``watch`` is not a list of examples,
        ``lr`` is not a finite positive number, ``batch_size``, ``d_model`` or ``d_k`` is
        not a positive whole number, a snapshot step lies outside 0 to ``steps``, or
        ``snapshot_steps`` is given without ``watch``. And if training diverges: when the
        loss or a weight becomes NaN or infinite, the error names the step and asks for a
        smaller ``lr``.

    Notes
    -----
    For reproducibility, training runs with ``torch.use_deterministic_algorithms(True)``
    and ``torch.set_num_threads(1)``; both settings are restored when it returns.

    Examples
    --------
    >>> from selfattn.training import train_coreference
    >>> result = train_coreference(seed=0, steps=5)
    >>> len(result.losses), result.losses[-1] < result.losses[0]
    (5, True)
    """
    seed, steps = _checks.torch_seed(seed), _checks.positive_int(steps, "steps", minimum=0)
    lr, batch_size = _checks.positive_number(lr, "lr"), _checks.positive_int(batch_size, "batch_size")
    watch = [] if watch is None else _checks.examples(watch, "watch")
    snapshot_steps = _checks.snapshot_steps(snapshot_steps, steps, watch)
    train, heldout = coref.split()
    ids, it_pos, target, _ = batch(train)
    model = CorefModel(d_model, d_k, seed=seed, mask_nouns=mask_nouns)
    initial = model.matrices()
    snapshots = {}

    def snap(step):  # the attention rows of "it" in the watched sentences
        if step in snapshot_steps:
            snapshots[step] = _it_rows(model, watch)

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    order = torch.empty(0, dtype=torch.long)
    for step in range(steps):
        snap(step)
        if len(order) < batch_size:  # a new pass over the training sentences, in a seeded order
            order = torch.cat([order, torch.randperm(len(ids), generator=gen)])
        pick, order = order[:batch_size], order[batch_size:]  # (batch_size,)
        losses.append(_adam_step(model, opt, ids[pick], it_pos[pick], target[pick], step, lr))
    seconds = time.perf_counter() - start
    snap(steps)
    ev = evaluate(model, heldout)
    return TrainingResult(model, ev["accuracy"], ev["attention"], accuracy(model, train), losses, snapshots,
                          seconds, initial)


def _adam_step(model, opt, ids, it_pos, target, step, lr) -> float:
    """One update on a mini-batch; returns the loss before it. Raises if training diverged."""
    fix = f"training diverged: lr={lr} is too large; try a smaller lr, such as the default {LR}"
    try:
        logits, _, _ = model(ids, it_pos)  # (B, n_nouns)
    except ValueError as exc:  # the attention layers refuse weights or scores that overflowed
        raise ValueError(f"at step {step}, {fix} (the model says: {exc})") from exc
    loss = nn.functional.cross_entropy(logits, target)
    _checks.finite_result(loss, f"the loss at step {step}", fix)
    opt.zero_grad()
    loss.backward()
    opt.step()
    for name, p in model.named_parameters():
        _checks.finite_result(p.detach(), f"the weight matrix {name} after step {step}", fix)
    return loss.item()


def _it_rows(model, examples):
    """The layer-1 and layer-2 attention rows of "it", arrays of shape (len(examples), n)."""
    ids, it_pos, _, _ = batch(examples)
    with torch.no_grad():
        _, w1, w2 = model(ids, it_pos)  # (B, n, n) each
    rows = torch.arange(len(examples))
    return w1[rows, it_pos].numpy().copy(), w2[rows, it_pos].numpy().copy()


def predict(model: CorefModel, examples):
    """Predicted noun, probabilities and layer-2 weights of "it", one sentence at a time.

    Parameters
    ----------
    model : CorefModel
    examples : list of Example
        Sentences of any lengths; they need no referent.

    Returns
    -------
    list of (noun, probabilities over ``coref.NOUNS`` (12,), layer-2 row of "it" (n,))

    Raises
    ------
    ValueError
        If ``model`` is not a :class:`CorefModel` or ``examples`` not a list of examples.

    Examples
    --------
    >>> from selfattn.training import load_pretrained, predict
    >>> from selfattn import coref
    >>> [noun for noun, _, _ in predict(load_pretrained(), coref.split()[1][:2])]
    ['cat', 'cat']
    """
    answers = [_answer(model, ex) for ex in _checks.examples(examples)]
    return [(a["prediction"], a["probabilities"], a["layer2"]) for a in answers]


def _answer(model, ex) -> dict:
    """The model's answer for one example, and the attention rows of "it" in both layers."""
    _checks.instance(model, CorefModel, "model", _MODEL)
    ids, it_pos, _, _ = batch([ex])
    with torch.no_grad():
        logits, w1, w2 = model(ids, it_pos)  # (1, n_nouns), (1, n, n), (1, n, n)
    p = torch.softmax(logits[0], dim=-1).numpy()  # (n_nouns,)
    return {
        "tokens": list(ex.tokens),
        "layer1": w1[0, ex.it_pos].numpy().copy(),
        "layer2": w2[0, ex.it_pos].numpy().copy(),
        "prediction": coref.NOUNS[int(np.argmax(p))],
        "probabilities": p,
    }


def _grouped(model, examples):
    """Logits and layer-2 rows of "it", for many same-length examples that each name a referent noun."""
    _checks.instance(model, CorefModel, "model", _MODEL)
    _checks.referents(_checks.examples(examples), coref.NOUNS)
    ids, it_pos, target, ref_pos = batch(examples)
    with torch.no_grad():
        logits, _, w2 = model(ids, it_pos)
    rows = torch.arange(len(examples))
    return logits, w2[rows, it_pos], target, ref_pos  # (B, n_nouns), (B, n), (B,), (B,)


def accuracy(model: CorefModel, examples) -> float:
    """Share of examples where the top-scoring noun is the referent.

    Parameters
    ----------
    model : CorefModel
    examples : list of Example
        Sentences of one length, each with its referent, a noun of ``coref.NOUNS``.

    Returns
    -------
    float
        Between 0 and 1.

    Raises
    ------
    ValueError
        If ``model`` is not a :class:`CorefModel`, ``examples`` is not a list of
        examples, is empty, the sentences differ in length, or an example has no
        referent noun (the error names the example).

    Examples
    --------
    >>> from selfattn.training import load_pretrained, accuracy
    >>> from selfattn import coref
    >>> accuracy(load_pretrained(), coref.split()[1]) >= 0.95
    True
    """
    logits, _, target, _ = _grouped(model, examples)
    return float((logits.argmax(dim=-1) == target).double().mean())


def value_ablation(model: CorefModel, examples, position: int = -1) -> dict:
    """Accuracy and probability of the referent, with one word's layer-2 value set to zero.

    Runs the forward pass of :class:`CorefModel` with the value vector of the word at
    ``position`` (default: the last word, the adjective) replaced by zeros in layer 2. The
    attention weights stay as they are, so any change in the answer comes from what "it" reads
    from that word's value.

    Parameters
    ----------
    model : CorefModel
    examples : list of Example
        Sentences of one length, each with its referent, a noun of ``coref.NOUNS``.
    position : int, default -1
        The word whose layer-2 value is zeroed.

    Returns
    -------
    dict
        ``accuracy`` and ``p_referent`` (mean softmax probability of the referent), each for the
        intact model and with the value zeroed (keys ``..._ablated``).

    Examples
    --------
    >>> from selfattn.training import load_pretrained, value_ablation
    >>> from selfattn import coref
    >>> r = value_ablation(load_pretrained(), coref.split()[1])
    >>> r["accuracy"] == r["accuracy_ablated"]  # the masked model never reads the adjective
    True
    """
    _checks.instance(model, CorefModel, "model", _MODEL)
    _checks.referents(_checks.examples(examples), coref.NOUNS)
    ids, it_pos, target, _ = batch(examples)
    rows = torch.arange(len(ids))
    out = {}
    with torch.no_grad():
        x, h, _ = model.gather_step(ids)  # (B, n, d) each
        q, k = h @ model.point.W_q, x @ model.point.W_k  # (B, n, d_k) each
        mask = model.is_noun[ids].unsqueeze(-2) if model.mask_nouns else None  # (B, 1, n)
        for suffix, zero in (("", False), ("_ablated", True)):
            v = x @ model.point.W_v  # (B, n, d)
            if zero:
                v[:, position] = 0.0
            o, _ = snn.scaled_dot_product_attention(q, k, v, mask=mask)  # (B, n, d)
            logits = o[rows, it_pos] @ model.W_out  # (B, n_nouns)
            p = torch.softmax(logits, dim=-1)[rows, target]  # (B,)
            out["accuracy" + suffix] = float((logits.argmax(-1) == target).double().mean())
            out["p_referent" + suffix] = float(p.mean())
    return out


def mean_attention_to_referent(model: CorefModel, examples) -> float:
    """Mean layer-2 attention weight from "it" to the referent noun.

    Parameters
    ----------
    model, examples
        As in :func:`accuracy`: each example must name its referent noun.

    Returns
    -------
    float
        The weight on the referent, averaged over the examples; between 0 and 1.

    Raises
    ------
    ValueError
        As :func:`accuracy`.

    Examples
    --------
    >>> from selfattn.training import load_pretrained, mean_attention_to_referent
    >>> from selfattn import coref
    >>> mean_attention_to_referent(load_pretrained(), coref.split()[1]) >= 0.5
    True
    """
    _, w_it, _, ref_pos = _grouped(model, examples)
    return float(w_it[torch.arange(len(examples)), ref_pos].mean())


def evaluate(model: CorefModel, examples) -> dict:
    """Both scores of a model on a list of examples.

    Parameters
    ----------
    model : CorefModel
    examples : list of Example
        As :func:`accuracy`.

    Returns
    -------
    dict
        ``{"accuracy": accuracy(model, examples), "attention": mean_attention_to_referent(model, examples)}``.

    Raises
    ------
    ValueError
        As :func:`accuracy`.

    Examples
    --------
    >>> from selfattn.training import load_pretrained, evaluate
    >>> from selfattn import coref
    >>> sorted(evaluate(load_pretrained(), coref.split()[1][:4]))
    ['accuracy', 'attention']
    """
    return {"accuracy": accuracy(model, examples), "attention": mean_attention_to_referent(model, examples)}


def it_attention(model: CorefModel, sentence) -> dict:
    """Where "it" looks in both layers, and what the model answers, for any sentence.

    Parameters
    ----------
    model : CorefModel
    sentence : str or sequence of str
        Any length; unknown words become ``<unk>``. The first "it" is the one followed.

    Returns
    -------
    dict
        Keys ``tokens``, ``layer1`` and ``layer2`` (attention rows of "it", shape (n,)),
        ``prediction`` (a noun) and ``probabilities`` (over ``coref.NOUNS``, shape (12,)).

    Raises
    ------
    ValueError
        If ``model`` is not a :class:`CorefModel`, or the sentence is not text or a
        list of words, or has no "it".

    Examples
    --------
    >>> from selfattn.training import load_pretrained, it_attention
    >>> r = it_attention(load_pretrained(), "The cat sat on the mat because it was tired")
    >>> r["prediction"], r["tokens"][int(r["layer2"].argmax())]
    ('cat', 'cat')
    """
    return _answer(model, coref.make_example(sentence))


def point_layer_vectors(model: CorefModel, template: str = coref.TEMPLATES[0], animal: str = "cat",
                        obj: str = "mat") -> dict:
    """Layer-2 keys of the twelve nouns and layer-2 queries of "it" for each adjective.

    Parameters
    ----------
    model : CorefModel
    template : str, default ``coref.TEMPLATES[0]``
        A sentence with "it" and the fields ``{animal}``, ``{object}`` and ``{adjective}``.
    animal : str, default "cat"
        One of ``coref.ANIMALS``.
    obj : str, default "mat"
        One of ``coref.OBJECTS``.

    Returns
    -------
    dict
        ``nouns`` (12 words), ``keys`` (12, d_k), ``adjectives`` (12 words) and
        ``queries`` (12, d_k): the query of "it" in ``template`` filled with ``animal``,
        ``obj`` and each adjective in turn.

    Raises
    ------
    ValueError
        If ``model`` is not a :class:`CorefModel`, ``template`` does not use exactly the
        fields ``{animal}``, ``{object}`` and ``{adjective}`` or has no "it", or ``animal``
        or ``obj`` is not a noun of its kind.

    Examples
    --------
    >>> from selfattn.training import load_pretrained, point_layer_vectors
    >>> pv = point_layer_vectors(load_pretrained())
    >>> pv["keys"].shape, pv["queries"].shape
    ((12, 2), (12, 2))
    """
    _checks.instance(model, CorefModel, "model", _MODEL)
    template = _checks.template(template, "template", ("animal", "object", "adjective"))
    animal, obj = _checks.choice(animal, "animal", coref.ANIMALS), _checks.choice(obj, "obj", coref.OBJECTS)
    adjectives = coref.ANIMAL_ADJECTIVES + coref.OBJECT_ADJECTIVES
    sentences = [coref.make_example(template.format(animal=animal, object=obj, adjective=adjective))
                 for adjective in adjectives]
    ids, it_pos, _, _ = batch(sentences)  # (12, n), (12,)
    it_pos = int(it_pos[0])
    with torch.no_grad():
        _, h, _ = model.gather_step(ids)  # (12, n, d_model)
        queries = h[:, it_pos] @ model.point.W_q  # (12, d_k)
        noun_ids = torch.tensor(coref.encode(coref.NOUNS))  # (12,)
        keys = model.embedding[noun_ids] @ model.point.W_k  # (12, d_k)
    return {"nouns": list(coref.NOUNS), "keys": keys.numpy(), "adjectives": list(adjectives),
            "queries": queries.numpy()}


def save_weights(model: CorefModel, path) -> None:
    """Save every weight matrix to a compressed ``.npz`` file (float64).

    Parameters
    ----------
    model : CorefModel
    path : str or pathlib.Path
        Where to write, exactly (no ``.npz`` is added); :func:`load_weights` reads it back.

    Raises
    ------
    ValueError
        If ``model`` is not a :class:`CorefModel`, or ``path`` is not a file path in a
        folder that exists.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from selfattn.training import CorefModel, save_weights, load_weights
    >>> model = CorefModel(seed=3)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "coref.npz"
    >>> save_weights(model, path)
    >>> bool(np.array_equal(load_weights(path).matrices()["W_out"], model.matrices()["W_out"]))
    True
    """
    _checks.instance(model, CorefModel, "model", _MODEL)
    with open(_checks.file_path(path, exists=False), "wb") as fh:  # exactly this path: no .npz is added
        np.savez_compressed(fh, **model.matrices())


def load_weights(path, d_model: int = D_MODEL, d_k: int = D_K) -> CorefModel:
    """A :class:`CorefModel` holding the weights saved in ``path``.

    Parameters
    ----------
    path : str or pathlib.Path
        A file written by :func:`save_weights`.
    d_model, d_k : int
        The sizes of the saved model.

    Returns
    -------
    CorefModel
        In evaluation mode.

    Raises
    ------
    ValueError
        If ``path`` is not a file written by :func:`save_weights`, or a saved matrix
        is missing, has the wrong shape or holds NaN or inf.

    Examples
    --------
    See :func:`save_weights`.
    """
    model = CorefModel(d_model, d_k)
    with _checks.npz_file(path) as data:
        params = dict(model.named_parameters())
        missing = sorted(set(params) - set(data.files))
        if missing:
            raise ValueError(f"{path} lacks the weight matrices {missing}")
        with torch.no_grad():
            for name, p in params.items():
                if data[name].shape != tuple(p.shape):
                    raise ValueError(f"{name} in {path} has shape {data[name].shape}, "
                                     f"expected {tuple(p.shape)}")
                _checks.finite(data[name], f"{name} in {path}")
                p.copy_(torch.from_numpy(data[name]))
    model.eval()
    return model


def load_pretrained() -> CorefModel:
    """The model trained with ``train_coreference(seed=0)``, loaded from the package data.

    Returns
    -------
    CorefModel
        The weights of :data:`WEIGHTS_PATH`.

    Examples
    --------
    >>> from selfattn.training import load_pretrained
    >>> tuple(load_pretrained().point.W_q.shape)
    (8, 2)
    """
    return load_weights(WEIGHTS_PATH)
