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

from . import coref
from . import nn as snn

__all__ = [
    "CorefModel",
    "TrainingResult",
    "train_coreference",
    "batch",
    "predict",
    "accuracy",
    "mean_attention_to_referent",
    "evaluate",
    "it_attention",
    "save_weights",
    "load_weights",
    "load_pretrained",
    "WEIGHTS_PATH",
    "attention_grads_numpy",
    "point_layer_vectors",
    "plot_attention_during_training",
    "plot_weight_matrices",
]

#: The weights trained with ``train_coreference(seed=0)``, shipped with the package.
WEIGHTS_PATH = Path(__file__).resolve().parent / "data" / "coref_weights.npz"

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
        Seeds the initial weights.
    mask_nouns : bool, default True
        In layer 2, let words attend only to the nouns. ``False`` lets "it"
        attend to every word, which opens a shortcut through the adjective
        (the chapter shows it).

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
        self.mask_nouns = mask_nouns
        gen = torch.Generator().manual_seed(seed)
        self.d_model, self.d_k = d_model, d_k
        self.embedding = nn.Parameter(torch.randn(len(coref.WORDS), d_model, generator=gen, dtype=torch.float64))
        self.gather = snn.SelfAttention(d_model, d_k, d_v=d_model, seed=seed)  # W_q, W_k (d, d_k); W_v (d, d)
        self.point = snn.SelfAttention(d_model, d_k, d_v=d_model, seed=seed + 1)
        bound = 1.0 / math.sqrt(d_model)
        w_out = (torch.rand(d_model, len(coref.NOUNS), generator=gen, dtype=torch.float64) * 2 - 1) * bound
        self.W_out = nn.Parameter(w_out)  # (d_model, n_nouns)
        self.register_buffer("is_noun", torch.tensor([w in coref.NOUNS for w in coref.WORDS]), persistent=False)

    def gather_step(self, ids):
        """Embeddings ``x``, layer-1 result ``h = x + attention(x)`` and layer-1 weights."""
        onehot = nn.functional.one_hot(ids, len(coref.WORDS)).to(self.embedding.dtype)  # (B, n, vocab)
        x = onehot @ self.embedding  # (B, n, d_model): the embedding rows of the words
        gathered, w1 = self.gather(x)  # (B, n, d_model), (B, n, n)
        return x, x + gathered, w1

    def forward(self, ids, it_pos):
        """Scores over the nouns and the attention weights of both layers.

        Parameters
        ----------
        ids : LongTensor of shape (B, n)
        it_pos : LongTensor of shape (B,)

        Returns
        -------
        logits : (B, n_nouns); w1, w2 : (B, n, n) weights of layers 1 and 2
        """
        x, h, w1 = self.gather_step(ids)  # (B, n, d_model), (B, n, d_model), (B, n, n)
        q = h @ self.point.W_q  # (B, n, d_k)
        k = x @ self.point.W_k  # (B, n, d_k)
        v = x @ self.point.W_v  # (B, n, d_model)
        candidates = self.is_noun[ids].unsqueeze(-2) if self.mask_nouns else None  # (B, 1, n) True = a noun
        out, w2 = snn.attention(q, k, v, mask=candidates)  # (B, n, d_model), (B, n, n)
        out_it = out[torch.arange(len(ids)), it_pos]  # (B, d_model)
        return out_it @ self.W_out, w1, w2  # (B, n_nouns), (B, n, n), (B, n, n)

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
        If the sentences differ in length.
    """
    lengths = {len(e.tokens) for e in examples}
    if len(lengths) != 1:
        raise ValueError(f"a batch needs sentences of one length, got lengths {sorted(lengths)}")
    ids = torch.tensor([coref.encode(e.tokens) for e in examples], dtype=torch.long)  # (B, n)
    it_pos = torch.tensor([e.it_pos for e in examples], dtype=torch.long)  # (B,)
    target = torch.tensor([coref.NOUNS.index(e.referent) if e.referent in coref.NOUNS else -1 for e in examples])
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
    steps : int, default 150
        Number of Adam steps (one mini-batch each).
    lr : float, default 0.05
    batch_size : int, default 128
    watch : list of Example, optional
        Sentences (of the task's length) whose attention rows are recorded.
    snapshot_steps : iterable of int
        Steps at which to record them (0 = before training, ``steps`` = after).
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
        If ``steps`` is negative, ``lr`` is not positive or ``batch_size`` is below 1.

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
    if steps < 0 or lr <= 0 or batch_size < 1:
        raise ValueError(f"need steps >= 0, lr > 0 and batch_size >= 1, got steps={steps}, lr={lr}, "
                         f"batch_size={batch_size}")
    torch.manual_seed(seed)
    train, heldout = coref.split()
    ids, it_pos, target, _ = batch(train)
    model = CorefModel(d_model, d_k, seed=seed, mask_nouns=mask_nouns)
    initial = model.matrices()
    watch = list(watch or [])
    snapshot_steps = set(snapshot_steps)
    watch_batch = batch(watch) if watch else None
    snapshots = {}

    def snap(step):
        if watch_batch is not None and step in snapshot_steps:
            with torch.no_grad():
                _, w1, w2 = model(watch_batch[0], watch_batch[1])
            rows = torch.arange(len(watch))
            snapshots[step] = (w1[rows, watch_batch[1]].numpy().copy(), w2[rows, watch_batch[1]].numpy().copy())

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
        logits, _, _ = model(ids[pick], it_pos[pick])
        loss = nn.functional.cross_entropy(logits, target[pick])
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    snap(steps)
    ev = evaluate(model, heldout)
    return TrainingResult(model, ev["accuracy"], ev["attention"], accuracy(model, train), losses, snapshots,
                          seconds, initial)


def predict(model: CorefModel, examples):
    """Predicted noun, probabilities and layer-2 weights of "it", one sentence at a time.

    Returns
    -------
    list of (noun, probabilities over coref.NOUNS, w2 row of "it")
    """
    out = []
    with torch.no_grad():
        for ex in examples:
            ids, it_pos, _, _ = batch([ex])
            logits, _, w2 = model(ids, it_pos)
            p = torch.softmax(logits[0], dim=-1).numpy()
            out.append((coref.NOUNS[int(np.argmax(p))], p, w2[0, ex.it_pos].numpy()))
    return out


def _grouped(model, examples):
    """Logits and layer-2 rows of "it", for many same-length examples at once."""
    ids, it_pos, target, ref_pos = batch(examples)
    with torch.no_grad():
        logits, _, w2 = model(ids, it_pos)
    rows = torch.arange(len(examples))
    return logits, w2[rows, it_pos], target, ref_pos  # (B, n_nouns), (B, n), (B,), (B,)


def accuracy(model: CorefModel, examples) -> float:
    """Share of examples where the top-scoring noun is the referent.

    Examples
    --------
    >>> from selfattn.training import load_pretrained, accuracy
    >>> from selfattn import coref
    >>> accuracy(load_pretrained(), coref.split()[1]) >= 0.95
    True
    """
    logits, _, target, _ = _grouped(model, examples)
    return float((logits.argmax(dim=-1) == target).double().mean())


def mean_attention_to_referent(model: CorefModel, examples) -> float:
    """Mean layer-2 attention weight from "it" to the referent noun.

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
    """``{"accuracy": ..., "attention": ...}`` on a list of examples (see the two functions above)."""
    return {"accuracy": accuracy(model, examples), "attention": mean_attention_to_referent(model, examples)}


def it_attention(model: CorefModel, sentence) -> dict:
    """Where "it" looks in both layers, and what the model answers, for any sentence.

    Unknown words become ``<unk>``; the sentence may have any length.

    Returns
    -------
    dict with keys ``tokens``, ``layer1`` and ``layer2`` (attention rows of "it",
    shape (n,)), ``prediction`` (a noun) and ``probabilities`` (over ``coref.NOUNS``).

    Examples
    --------
    >>> from selfattn.training import load_pretrained, it_attention
    >>> r = it_attention(load_pretrained(), "The cat sat on the mat because it was tired")
    >>> r["prediction"], r["tokens"][int(r["layer2"].argmax())]
    ('cat', 'cat')
    """
    ex = coref.make_example(sentence)
    ids, it_pos, _, _ = batch([ex])
    with torch.no_grad():
        logits, w1, w2 = model(ids, it_pos)
    p = torch.softmax(logits[0], dim=-1).numpy()
    return {
        "tokens": list(ex.tokens),
        "layer1": w1[0, ex.it_pos].numpy().copy(),
        "layer2": w2[0, ex.it_pos].numpy().copy(),
        "prediction": coref.NOUNS[int(np.argmax(p))],
        "probabilities": p,
    }


def point_layer_vectors(model: CorefModel, template: str = coref.TEMPLATES[0], animal: str = "cat",
                        obj: str = "mat") -> dict:
    """Layer-2 keys of the twelve nouns and layer-2 queries of "it" for each adjective.

    The queries come from the sentences ``template`` filled with ``animal``, ``obj``
    and each adjective in turn.

    Returns
    -------
    dict with ``nouns`` (12 words), ``keys`` (12, d_k), ``adjectives`` (12 words)
    and ``queries`` (12, d_k)

    Examples
    --------
    >>> from selfattn.training import load_pretrained, point_layer_vectors
    >>> pv = point_layer_vectors(load_pretrained())
    >>> pv["keys"].shape, pv["queries"].shape
    ((12, 2), (12, 2))
    """
    adjectives = coref.ANIMAL_ADJECTIVES + coref.OBJECT_ADJECTIVES
    sentences = [coref.tokenize(template.format(animal=animal, object=obj, adjective=a)) for a in adjectives]
    ids = torch.tensor([coref.encode(s) for s in sentences])  # (12, n)
    it_pos = sentences[0].index("it")
    with torch.no_grad():
        _, h, _ = model.gather_step(ids)  # (12, n, d_model)
        queries = h[:, it_pos] @ model.point.W_q  # (12, d_k)
        noun_ids = torch.tensor(coref.encode(coref.NOUNS))  # (12,)
        keys = model.embedding[noun_ids] @ model.point.W_k  # (12, d_k)
    return {"nouns": list(coref.NOUNS), "keys": keys.numpy(), "adjectives": list(adjectives),
            "queries": queries.numpy()}


def save_weights(model: CorefModel, path) -> None:
    """Save every weight matrix to a compressed ``.npz`` file (float64)."""
    np.savez_compressed(path, **model.matrices())


def load_weights(path, d_model: int = D_MODEL, d_k: int = D_K) -> CorefModel:
    """A :class:`CorefModel` holding the weights saved in ``path``.

    Raises
    ------
    ValueError
        If a saved matrix is missing or has the wrong shape.
    """
    model = CorefModel(d_model, d_k)
    with np.load(path) as data:
        params = dict(model.named_parameters())
        missing = sorted(set(params) - set(data.files))
        if missing:
            raise ValueError(f"{path} lacks the weight matrices {missing}")
        with torch.no_grad():
            for name, p in params.items():
                if data[name].shape != tuple(p.shape):
                    raise ValueError(f"{name} in {path} has shape {data[name].shape}, expected {tuple(p.shape)}")
                p.copy_(torch.from_numpy(data[name]))
    model.eval()
    return model


def load_pretrained() -> CorefModel:
    """The model trained with ``train_coreference(seed=0)``, loaded from the package data.

    Examples
    --------
    >>> from selfattn.training import load_pretrained
    >>> tuple(load_pretrained().point.W_q.shape)
    (8, 2)
    """
    return load_weights(WEIGHTS_PATH)


def attention_grads_numpy(X, W_q, W_k, W_v, Y):
    r"""Loss and gradients of one self-attention layer, by hand with NumPy.

    The layer computes :math:`O = \operatorname{softmax}(X W_q (X W_k)^\top / \sqrt{d_k})\, X W_v`
    and the loss is the mean squared error :math:`L = \frac{1}{2n} \sum (O - Y)^2`.
    Backpropagation applies the chain rule from the loss back to each matrix.

    Parameters
    ----------
    X : ndarray, shape (n, d_model)
    W_q, W_k : ndarray, shape (d_model, d_k)
    W_v : ndarray, shape (d_model, d_v)
    Y : ndarray, shape (n, d_v)
        The target output.

    Returns
    -------
    loss : float
    grads : dict with ``"W_q"``, ``"W_k"``, ``"W_v"`` (same shapes as the weights)

    Raises
    ------
    ValueError
        If the shapes do not fit together.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.training import attention_grads_numpy
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    >>> W_q, W_k, W_v = rng.normal(size=(4, 2)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    >>> loss, g = attention_grads_numpy(X, W_q, W_k, W_v, Y)
    >>> g["W_q"].shape, g["W_v"].shape
    ((4, 2), (4, 2))
    """
    X, W_q, W_k, W_v, Y = (np.asarray(a, dtype=np.float64) for a in (X, W_q, W_k, W_v, Y))
    n, d_model = X.shape
    if W_q.shape != W_k.shape or W_q.shape[0] != d_model or W_v.shape[0] != d_model:
        raise ValueError(f"X {X.shape} needs W_q, W_k of equal shape (d_model, d_k) and W_v (d_model, d_v); "
                         f"got W_q {W_q.shape}, W_k {W_k.shape}, W_v {W_v.shape}")
    if Y.shape != (n, W_v.shape[1]):
        raise ValueError(f"Y must have shape (n, d_v) = {(n, W_v.shape[1])}, got {Y.shape}")
    scale = 1.0 / math.sqrt(W_q.shape[1])
    # forward pass
    Q, K, V = X @ W_q, X @ W_k, X @ W_v  # (n, d_k), (n, d_k), (n, d_v)
    S = Q @ K.T * scale  # (n, n)
    A = np.exp(S - S.max(axis=1, keepdims=True))
    A /= A.sum(axis=1, keepdims=True)  # (n, n) rows sum to 1
    O = A @ V  # (n, d_v)
    loss = 0.5 * np.sum((O - Y) ** 2) / n
    # backward pass: each line is the chain rule for one forward line, in reverse order
    dO = (O - Y) / n  # (n, d_v)
    dA = dO @ V.T  # (n, n)
    dV = A.T @ dO  # (n, d_v)
    dS = A * (dA - np.sum(dA * A, axis=1, keepdims=True))  # (n, n) softmax backward, row by row
    dQ = dS @ K * scale  # (n, d_k)
    dK = dS.T @ Q * scale  # (n, d_k)
    return float(loss), {"W_q": X.T @ dQ, "W_k": X.T @ dK, "W_v": X.T @ dV}


def plot_attention_during_training(snapshots, watch, *, layer: int = 2, axes=None):
    """Small multiples: one heatmap per watched sentence, one row per recorded step.

    Parameters
    ----------
    snapshots : dict
        ``TrainingResult.snapshots``: ``{step: (w1_it, w2_it)}``.
    watch : list of Example
        The sentences the snapshots were recorded for.
    layer : {1, 2}
    axes : sequence of matplotlib Axes, optional (one per sentence)

    Returns
    -------
    list of matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``layer`` is not 1 or 2, or there are no snapshots.
    """
    import matplotlib.pyplot as plt

    from .plotting import attention_heatmap

    if layer not in (1, 2) or not snapshots:
        raise ValueError(f"need layer 1 or 2 and at least one snapshot, got layer={layer}, {len(snapshots)} snapshots")
    steps = sorted(snapshots)
    if axes is None:
        _, axes = plt.subplots(1, len(watch), figsize=(5.2 * len(watch), 0.42 * len(steps) + 1.8))
        axes = np.atleast_1d(axes)
    for i, (ex, ax) in enumerate(zip(watch, axes)):
        rows = np.stack([snapshots[s][layer - 1][i] for s in steps])  # (n_steps, n)
        attention_heatmap(rows, [f"step {s}" for s in steps], list(ex.tokens), ax=ax, vmax=1.0,
                          title=f'"it" in: ...{" ".join(ex.tokens[-4:])}')
        ax.set_ylabel("training step")
        ax.set_xlabel("word")
    return list(axes)


def plot_weight_matrices(before: dict, after: dict, names, *, fmt: str = "{:.1f}"):
    """Heatmaps of weight matrices, before (top row) and after (bottom row) training.

    Parameters
    ----------
    before, after : dict of name -> ndarray (2-D)
        For example ``TrainingResult.initial`` and ``CorefModel.matrices()``.
    names : sequence of str
        The matrices to show, in order.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If a name is missing or a matrix changed shape.
    """
    import matplotlib.pyplot as plt

    from .plotting import CMAP

    for name in names:
        if name not in before or name not in after or before[name].shape != after[name].shape:
            raise ValueError(f"matrix {name!r} must exist with the same shape before and after training")
    fig, axes = plt.subplots(2, len(names), figsize=(2.6 * len(names) + 1.5, 7.5), squeeze=False,
                             layout="constrained")
    lim = max(float(np.abs(m[n]).max()) for m in (before, after) for n in names)
    for row, (label, mats) in enumerate((("before", before), ("after", after))):
        for col, name in enumerate(names):
            ax, m = axes[row, col], mats[name]
            im = ax.imshow(m, cmap=CMAP, vmin=-lim, vmax=lim, aspect="auto")
            for (i, j), val in np.ndenumerate(m):
                ax.text(j, i, fmt.format(val), ha="center", va="center", fontsize=7,
                        color="black" if val > 0 else "white")
            ax.set_title(f"{name} {label} {m.shape}", fontsize=9)
            ax.set_xticks(range(m.shape[1]))
            ax.set_yticks(range(m.shape[0]))
            ax.set_xlabel("column (output)", fontsize=8)
            ax.set_ylabel("row (input)", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.6)
    return fig
