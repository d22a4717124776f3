r"""In-context copying: train a two-layer decoder until it grows an induction head.

The task (:func:`make_batch`). A sequence of ``n`` tokens is random filler, then ``L``
random tokens, then the same ``L`` tokens again:

.. math::

    \underbrace{f_1 \dots f_{n-2L}}_{\text{filler}}\;
    \underbrace{t_1 \dots t_L}_{\text{first copy}}\;
    \underbrace{t_1 \dots t_L}_{\text{the repeat}}

On the repeat, the next token can be predicted only by copying: find where the current
token occurred before and read the token that followed it. Everywhere else the next token
is a fresh random draw, so no model beats chance, ``1 / vocab_size``. The repeat length
``L`` is drawn from ``lengths`` (4 to 16 by default) and the total length ``n`` is fixed,
so the repeat starts at a different offset in every sequence: no position tells where to
copy from.

The model (:class:`InductionModel`) is :mod:`selfattn.decoder`'s attention-only decoder in
PyTorch: embedding, two pre-norm layers of two causal heads with RoPE (layout ``"half"``),
a final LayerNorm and the unembedding. Its matrices have the NumPy shapes, ``(d_in, d_out)``
with ``x @ W``, and the NumPy names of :func:`selfattn.decoder.parameter_shapes`, so
:meth:`InductionModel.to_decoder` copies them across as they are.

Two-layer attention-only models trained on text contain two heads that do this together
(Elhage et al. 2021, "A Mathematical Framework for Transformer Circuits"; Olsson et al. 2022,
"In-context Learning and Induction Heads"). Layers count from 0, as in the chapter: a
*previous-token head* in layer 0 writes into each position which token came before it, and
an *induction head* in layer 1 looks for the
position whose previous token is the current token, which is the position right after the
earlier occurrence, and copies the token there. :func:`previous_token_score` and
:func:`induction_score` measure both behaviours on any head; :func:`accuracy` with
``ablate`` measures what a head is worth.

Held out (:func:`heldout`): sequences drawn with another seed (``"same"``), the same lengths
with the repeat ending before the last token so that it starts at offsets training never
shows for its length (``"offsets"``), and the repeat lengths training never shows
(``"lengths"``: 2 and 3 by default, the only ones that fit in 32 tokens).

The trap. Trained with one fixed repeat length (``lengths=(8,)``), a model reaches 95% in 150
steps without a previous-token head: both layer-1 heads look 7 tokens back by position alone
(RoPE makes that a relative offset; :func:`offset_score`), which is where the copy is when
``L = 8``. Their induction score on length-8 sequences is as high as a real induction head's;
on any other length they still look 7 back and the accuracy falls to chance.

Everything trains on the CPU with a fixed seed, one thread and deterministic algorithms
(as :mod:`selfattn.training`), so the same seed gives the same weights bit for bit, on CPUs
that run the same PyTorch kernels. PyTorch picks its CPU kernels by the processor's vector
instructions (``torch.backends.cpu.get_cpu_capability()``: AVX2, AVX512, ...), and kernels of
different widths round float32 sums differently; over 1,500 steps the last-bit differences
grow until the weights differ in the first decimal (the training still reaches its targets,
which tests/test_induction.py checks with the kernels of the CPU it runs on). The shipped weights were trained with the AVX2 kernels; on an x86-64 CPU with
AVX-512, start Python with ``ATEN_CPU_CAPABILITY=avx2`` to reproduce them
(tests/test_induction.py does so in a subprocess).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from . import _checks, decoder
from . import nn as snn
from .training import _deterministic

__all__ = [
    "VOCAB_SIZE",
    "N_TOKENS",
    "LENGTHS",
    "HELDOUT_SEED",
    "WEIGHTS_PATH",
    "Batch",
    "make_batch",
    "heldout",
    "InductionModel",
    "InductionResult",
    "train_induction",
    "load_induction",
    "save_induction",
    "load_training_curve",
    "accuracy",
    "previous_token_score",
    "offset_score",
    "induction_score",
]

#: Tokens in the vocabulary: chance accuracy is 1 / 64.
VOCAB_SIZE = 64
#: Tokens in every training sequence (filler + first copy + repeat).
N_TOKENS = 32
#: The repeat lengths seen in training.
LENGTHS = tuple(range(4, 17))
#: Seeds the held-out sequences (training draws from ``seed``; this one is never trained on).
HELDOUT_SEED = 12345
#: The weights of ``train_induction(seed=0)``, shipped with the package (float32).
WEIGHTS_PATH = Path(__file__).resolve().parent / "data" / "induction_weights.npz"

D_MODEL = 64
N_LAYERS = 2
N_HEADS = 2
EMBEDDING_STD = 0.125
MATRIX_STD = 0.02
STEPS = 1500
BATCH_SIZE = 64
LR = 3e-3
BETAS = (0.9, 0.98)
EVAL_EVERY = 50
EVAL_SIZE = 256


# --------------------------------------------------------------------------- the task
class Batch(NamedTuple):
    """Sequences of the copying task and where to score them.

    ``ids`` (B, n) token ids; ``on_repeat`` (B, n) True at positions ``i`` of the repeat
    whose next token ``ids[i + 1]`` is a copy (``n - L <= i <= n - 2``); ``first_part``
    (B, n) True where the next token is a fresh random draw (``i + 1 < n - L``);
    ``lengths`` (B,) the repeat length ``L`` of each sequence.
    """

    ids: np.ndarray
    on_repeat: np.ndarray
    first_part: np.ndarray
    lengths: np.ndarray


def make_batch(rng, batch: int, n: int = N_TOKENS, vocab_size: int = VOCAB_SIZE,
               lengths=LENGTHS, shifted: bool = False) -> Batch:
    """Random filler, ``L`` random tokens, the same ``L`` tokens again: ``n`` tokens in all.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the tokens and the lengths.
    batch : int
        Number of sequences.
    n : int, default 32
        Tokens per sequence.
    vocab_size : int, default 64
        Tokens are drawn uniformly from 0 to ``vocab_size - 1`` (with replacement, so a token
        may occur twice by chance).
    lengths : int or sequence of int, default 4 to 16
        Each sequence draws its repeat length ``L`` uniformly from these; ``2 L <= n``.
    shifted : bool, default False
        ``False``: the repeat ends at the last token, as in training, so it starts at ``n - L``.
        ``True``: it ends at a position ``e`` drawn uniformly from ``2 L`` to ``n - 1`` and
        random tokens follow it, so it starts at ``e - L``, an offset that training with the
        same ``n`` never shows for that ``L``.

    Returns
    -------
    Batch
        ``ids``, ``on_repeat``, ``first_part`` and ``lengths`` (see :class:`Batch`).

    Raises
    ------
    ValueError
        If ``rng`` is not a NumPy generator, ``batch``, ``n`` or ``vocab_size`` is not a
        positive whole number, or a length is not between 1 and ``n // 2``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.induction import make_batch
    >>> b = make_batch(np.random.default_rng(0), batch=1, n=10, vocab_size=64, lengths=[3])
    >>> b.ids[0]
    array([54, 40, 32, 17, 19,  2,  4, 19,  2,  4])
    >>> b.ids[0, 4:7].tolist() == b.ids[0, 7:].tolist()
    True
    >>> np.flatnonzero(b.on_repeat[0]), np.flatnonzero(b.first_part[0])
    (array([7, 8]), array([0, 1, 2, 3, 4, 5]))
    """
    rng = _checks.generator(rng)
    batch = _checks.positive_int(batch, "batch")
    n = _checks.positive_int(n, "n")
    vocab_size = _checks.positive_int(vocab_size, "vocab_size")
    lengths = _checks.repeat_lengths(lengths, n)
    shifted = _checks.flag(shifted, "shifted")
    if shifted:
        lengths = _checks.shiftable_lengths(lengths, n)
    L = rng.choice(lengths, size=batch)[:, None]  # (B, 1)
    end = rng.integers(2 * L, n) if shifted else np.full_like(L, n)  # (B, 1): after the repeat
    i = np.arange(n)  # (n,) positions
    ids = rng.integers(0, vocab_size, size=(batch, n))  # (B, n) all random at first
    source = np.where((i >= end - L) & (i < end), i - L, i)  # (B, n): the repeat reads the copy
    ids = np.take_along_axis(ids, source, axis=1)  # (B, n)
    on_repeat = (i >= end - L) & (i <= end - 2)  # (B, n): the next token is a copy
    first_part = i + 1 < end - L  # (B, n): the next token is a fresh draw
    return Batch(ids.astype(np.int64), on_repeat, first_part, L[:, 0].astype(np.int64))


def heldout(kind: str = "same", size: int = 1000, n: int = N_TOKENS, vocab_size: int = VOCAB_SIZE,
            lengths=LENGTHS, seed: int = HELDOUT_SEED) -> Batch:
    """Held-out sequences, drawn with a seed training never uses.

    Parameters
    ----------
    kind : {"same", "offsets", "lengths"}
        ``"same"``: as in training, the repeat lengths drawn from ``lengths`` and the repeat at
        the end. ``"offsets"``: the same lengths (those with ``2 L < n``), but the repeat ends
        before the last token and random tokens follow it (``make_batch(..., shifted=True)``),
        so it starts at offsets training never shows for its length (training's repeat of
        length ``L`` always starts at ``n - L``). ``"lengths"``: the repeat at the end, with
        every length from 2 to ``n // 2`` that is not in ``lengths`` (2 and 3 by default,
        starting at 30 and 29).
    size : int, default 1000
        Number of sequences.
    n, vocab_size, lengths
        As in :func:`make_batch`: the *training* sequence length and repeat lengths.
    seed : int, default HELDOUT_SEED

    Returns
    -------
    Batch

    Raises
    ------
    ValueError
        If ``kind`` is not one of the three, ``lengths`` leaves no unseen length (``"lengths"``)
        or no length that can be shifted (``"offsets"``), or :func:`make_batch` refuses an
        argument.

    Examples
    --------
    >>> from selfattn.induction import heldout
    >>> sorted(set(heldout("lengths", size=100).lengths.tolist()))
    [2, 3]
    >>> b = heldout("offsets", size=100)
    >>> bool((~b.on_repeat[:, -2]).any())  # some repeats end before the last token
    True
    """
    kind = _checks.choice(kind, "kind", ("same", "offsets", "lengths"))
    n = _checks.positive_int(n, "n")
    lengths = _checks.repeat_lengths(lengths, n)
    rng = np.random.default_rng(_checks.seed(seed))
    if kind == "lengths":
        return make_batch(rng, size, n, vocab_size, _checks.unseen_lengths(lengths, n))
    if kind == "offsets":
        lengths = _checks.shorter_lengths(lengths, n)
        return make_batch(rng, size, n, vocab_size, lengths, shifted=True)
    return make_batch(rng, size, n, vocab_size, lengths)


# --------------------------------------------------------------------------- the PyTorch model
class _Norm(nn.Module):
    """A LayerNorm's two vectors, named ``gamma`` and ``beta`` as in the NumPy decoder."""

    def __init__(self, d: int, dtype):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(d, dtype=dtype))  # (d,)
        self.beta = nn.Parameter(torch.zeros(d, dtype=dtype))  # (d,)

    def forward(self, x):
        eps = decoder.LAYER_NORM_EPS
        return nn.functional.layer_norm(x, x.shape[-1:], self.gamma, self.beta, eps)


def _matrix(gen, d_in: int, d_out: int, dtype) -> nn.Parameter:
    """A (d_in, d_out) matrix, normal with std 0.02 (GPT-2's initialisation)."""
    return nn.Parameter(torch.randn(d_in, d_out, generator=gen, dtype=dtype) * MATRIX_STD)


class _Layer(nn.Module):
    """``x + MHA(LN(x)) W_o``: one pre-norm causal attention layer, the NumPy decoder's."""

    def __init__(self, d: int, gen, dtype):
        super().__init__()
        self.ln = _Norm(d, dtype)
        self.W_q, self.W_k, self.W_v, self.W_o = (_matrix(gen, d, d, dtype) for _ in range(4))

    def forward(self, x, n_heads: int, base: float, need_weights: bool = True):
        B, n, d = x.shape
        h = self.ln(x)  # (B, n, d)
        qkv = h @ torch.cat([self.W_q, self.W_k, self.W_v], dim=1)  # (B, n, 3d): one product
        qkv = qkv.view(B, n, 3, n_heads, d // n_heads)  # (B, n, 3, H, d_head): heads in blocks
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # 3 x (B, H, n, d_head)
        qk = snn.rope(torch.stack([q, k]), None, base, decoder.LAYOUT)  # (2, B, H, n, d_head)
        q, k = qk[0], qk[1]  # each query and each key turned by its own position's angles
        if need_weights:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // n_heads)  # (B, H, n, n)
            causal = torch.ones(n, n, dtype=torch.bool).tril()  # (n, n): token i sees 0..i
            w = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)  # (B, H, n, n)
            out = w @ v  # (B, H, n, d_head)
        else:  # the same computation, fused: training does not need the weights
            w, out = None, nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        out = out.transpose(1, 2).reshape(B, n, d)  # (B, n, d): the heads side by side
        return x + out @ self.W_o, w  # (B, n, d)


class InductionModel(nn.Module):
    """The attention-only decoder of :mod:`selfattn.decoder`, in PyTorch, to train.

    Parameters
    ----------
    vocab_size : int, default 64
    d_model : int, default 64
    n_layers : int, default 2
    n_heads : int, default 2
        Must divide ``d_model`` into heads of even size (RoPE rotates pairs).
    seed : int, default 0
        Seeds the initial matrices: the embedding is normal with std 0.125, the other
        matrices normal with std 0.02 (GPT-2's; ``torch.nn.Linear``'s uniform +-1/sqrt(d_in)
        reached 95% twice as late and missed it at unseen offsets); LayerNorms start at
        gamma 1, beta 0.
    dtype : torch.dtype, default torch.float32

    Raises
    ------
    ValueError
        If a size is not a positive whole number, ``n_heads`` does not fit ``d_model``, or
        ``seed`` is not a whole number from 0 to 2**64 - 1.

    Examples
    --------
    >>> import torch
    >>> from selfattn.induction import InductionModel
    >>> model = InductionModel(seed=0)
    >>> logits, weights = model(torch.zeros(3, 10, dtype=torch.long))
    >>> tuple(logits.shape), len(weights), tuple(weights[0].shape)
    ((3, 10, 64), 2, (3, 2, 10, 10))
    >>> sum(p.numel() for p in model.parameters())
    41344
    """

    def __init__(self, vocab_size: int = VOCAB_SIZE, d_model: int = D_MODEL,
                 n_layers: int = N_LAYERS, n_heads: int = N_HEADS, seed: int = 0,
                 dtype=torch.float32, base: float = decoder.BASE):
        super().__init__()
        v = _checks.positive_int(vocab_size, "vocab_size")
        d = _checks.positive_int(d_model, "d_model")
        n_layers = _checks.positive_int(n_layers, "n_layers")
        self.n_heads = _checks.rope_heads(n_heads, d)
        self.base = _checks.frequency_base(base)
        dtype = _checks.float_dtype(dtype)
        gen = torch.Generator().manual_seed(_checks.torch_seed(seed))
        self.embedding = nn.Parameter(torch.randn(v, d, generator=gen, dtype=dtype) * EMBEDDING_STD)
        self.layers = nn.ModuleList([_Layer(d, gen, dtype) for _ in range(n_layers)])
        self.ln_f = _Norm(d, dtype)
        self.unembedding = _matrix(gen, d, v, dtype)  # (d, vocab)

    def forward(self, ids, need_weights: bool = True):
        """Next-token logits (B, n, vocab) and each layer's weights (B, H, n, n), as ``forward``.

        With ``need_weights=False`` the attention runs fused
        (``torch.nn.functional.scaled_dot_product_attention``) and the weights are ``None``.
        """
        ids = _checks.induction_ids(ids, self.embedding.shape[0])  # (B, n)
        x = self.embedding[ids]  # (B, n, d)
        weights = []
        for layer in self.layers:
            x, w = layer(x, self.n_heads, self.base, need_weights)
            weights.append(w)
        return self.ln_f(x) @ self.unembedding, weights  # (B, n, vocab)

    def matrices(self) -> dict:
        """Every weight as a NumPy array, named as in :func:`selfattn.decoder.parameter_shapes`."""
        return {name: p.detach().cpu().numpy().copy() for name, p in self.named_parameters()}

    def to_decoder(self) -> decoder.Decoder:
        """The NumPy :class:`selfattn.decoder.Decoder` holding a copy of these weights."""
        return decoder.Decoder(self.matrices(), self.n_heads, self.base)

    @classmethod
    def from_decoder(cls, model: decoder.Decoder, dtype=torch.float64) -> "InductionModel":
        """A PyTorch model holding a copy of a NumPy decoder's weights (in ``dtype``)."""
        _checks.instance(model, decoder.Decoder, "model", "a selfattn.decoder.Decoder")
        twin = cls(model.vocab_size, model.d_model, model.n_layers, model.n_heads, dtype=dtype,
                   base=model.base)
        with torch.no_grad():
            for name, p in twin.named_parameters():
                p.copy_(torch.as_tensor(model.params[name], dtype=dtype))
        return twin


# --------------------------------------------------------------------------- training
@dataclass
class InductionResult:
    """What :func:`train_induction` returns.

    Attributes
    ----------
    model : selfattn.decoder.Decoder
        The trained weights in the NumPy decoder (float64 copies of the float32 ones).
    heldout_accuracy : float
        On the repeat of held-out sequences with the training lengths (``heldout("same")``).
    offsets_accuracy : float
        On the repeat of sequences whose repeat starts at offsets training never showed for its
        length (``heldout("offsets")``).
    lengths_accuracy : float
        On the repeat of sequences with the repeat lengths training never showed
        (``heldout("lengths")``).
    first_part_accuracy : float
        Where the next token is random (chance is ``1 / vocab_size``), on ``heldout("same")``.
    losses : list of float
        The loss of each step's batch, before that step's update.
    curve : dict of int to float
        ``{step: accuracy on the repeat}`` every ``eval_every`` steps, on 256 held-out sequences
        of the training lengths (computed in PyTorch).
    steps_to_95 : int or None
        The first step of ``curve`` at which that accuracy reached 0.95.
    seconds : float
        Wall-clock time of the training loop (the curve's evaluations included).
    torch_model : InductionModel
    """

    model: decoder.Decoder
    heldout_accuracy: float
    offsets_accuracy: float
    lengths_accuracy: float
    first_part_accuracy: float
    losses: list = field(default_factory=list)
    curve: dict = field(default_factory=dict)
    steps_to_95: int | None = None
    seconds: float = 0.0
    torch_model: InductionModel | None = None

    def __iter__(self):  # model, acc = train_induction()
        return iter((self.model, self.heldout_accuracy))


@_deterministic()
def train_induction(seed: int = 0, steps: int = STEPS, lengths=LENGTHS, n_heads: int = N_HEADS,
                    n: int = N_TOKENS, lr: float = LR, batch_size: int = BATCH_SIZE,
                    eval_every: int = EVAL_EVERY) -> InductionResult:
    """Train an :class:`InductionModel` on fresh batches of the copying task.

    AdamW (lr 3e-3, betas 0.9 and 0.98, no weight decay) on the cross-entropy of the next
    token at every position (the random ones too), a new batch of 64 sequences each step,
    float32, one CPU thread, deterministic algorithms: the same seed gives the same weights
    on CPUs that run the same PyTorch kernels (see the module docstring for the shipped ones).

    Parameters
    ----------
    seed : int, default 0
        Seeds the initial weights and the training sequences.
    steps : int, default 1500
        AdamW steps; 0 returns the untrained model.
    lengths : int or sequence of int, default 4 to 16
        The repeat lengths of the training sequences. ``(8,)`` sets the trap (see the module
        docstring).
    n_heads : int, default 2
        Heads per layer; 1 gives the one-head-per-layer variant.
    n : int, default 32
        Tokens per sequence.
    lr : float, default 3e-3
    batch_size : int, default 64
    eval_every : int, default 50
        Steps between two points of ``curve``.

    Returns
    -------
    InductionResult
        Unpacks as ``model, heldout_accuracy``.

    Raises
    ------
    ValueError
        Naming the argument, if ``seed`` or ``steps`` is not a non-negative whole number,
        ``lr`` is not a finite positive number, ``batch_size``, ``eval_every`` or ``n`` is not a
        positive whole number, ``n_heads`` does not fit ``d_model = 64``, or a length is not
        between 1 and ``n // 2``; and if the loss becomes NaN or infinite.

    Examples
    --------
    >>> from selfattn.induction import train_induction
    >>> result = train_induction(seed=0, steps=20, eval_every=10)
    >>> len(result.losses), sorted(result.curve), result.losses[-1] < result.losses[0]
    (20, [0, 10, 20], True)
    """
    seed, steps = _checks.torch_seed(seed), _checks.positive_int(steps, "steps", minimum=0)
    n = _checks.positive_int(n, "n")
    lengths = _checks.repeat_lengths(lengths, n)
    lr = _checks.positive_number(lr, "lr")
    batch_size = _checks.positive_int(batch_size, "batch_size")
    eval_every = _checks.positive_int(eval_every, "eval_every")
    model = InductionModel(n_heads=n_heads, seed=seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=BETAS, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    watch = heldout("same", EVAL_SIZE, n, lengths=lengths)
    watch_ids, watch_where = torch.from_numpy(watch.ids), torch.from_numpy(watch.on_repeat)
    losses, curve = [], {}
    start = time.perf_counter()
    for step in range(steps + 1):
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                logits, _ = model(watch_ids, need_weights=False)  # (B, n, vocab)
            right = logits[:, :-1].argmax(-1) == watch_ids[:, 1:]  # (B, n - 1)
            curve[step] = float(right[watch_where[:, :-1]].double().mean())
        if step == steps:
            break
        ids = torch.from_numpy(make_batch(rng, batch_size, n, VOCAB_SIZE, lengths).ids)  # (B, n)
        fix = f"training diverged: try a smaller lr than {lr}, such as the default {LR}"
        try:
            logits, _ = model(ids, need_weights=False)  # (B, n, vocab)
        except ValueError as exc:  # RoPE refuses queries and keys that overflowed
            raise ValueError(f"at step {step}, {fix} (the model says: {exc})") from exc
        loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB_SIZE),  # every position
                                           ids[:, 1:].reshape(-1))  # predicts the next token
        _checks.finite_result(loss, f"the loss at step {step}", fix)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    seconds = time.perf_counter() - start
    np_model = model.to_decoder()
    sets = {kind: heldout(kind, n=n, lengths=lengths) for kind in ("same", "offsets", "lengths")}
    same_logits = decoder.forward(np_model, sets["same"].ids)[0]  # (1000, n, vocab), used twice
    steps_to_95 = next((s for s, a in sorted(curve.items()) if a >= 0.95), None)
    same = sets["same"]
    return InductionResult(np_model, _accuracy(same_logits, same.ids, same.on_repeat),
                           accuracy(np_model, sets["offsets"].ids, sets["offsets"].on_repeat),
                           accuracy(np_model, sets["lengths"].ids, sets["lengths"].on_repeat),
                           _accuracy(same_logits, same.ids, same.first_part),
                           losses, curve, steps_to_95, seconds, model)


# --------------------------------------------------------------------------- shipped weights
def save_induction(model, path) -> None:
    """Save a decoder's weights to a compressed ``.npz`` file, as float32, keyed by its heads.

    The arrays go under ``heads<n_heads>/`` (``heads2/embedding``, ...), so one file holds one
    model per number of heads: if ``path`` is already such a file, its models with another
    number of heads are kept. Given an :class:`InductionResult`, the losses and the accuracy
    curve of its training are saved too (:func:`load_training_curve` reads them).

    Parameters
    ----------
    model : selfattn.decoder.Decoder or InductionResult
    path : str or pathlib.Path
        Where to write, exactly; :func:`load_induction` reads it back.

    Raises
    ------
    ValueError
        If ``model`` is not a Decoder, ``path`` is not a file path in a folder that exists, or
        ``path`` exists and is not a file written here.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from selfattn.induction import load_induction, save_induction
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> save_induction(load_induction(n_heads=1), path)
    >>> save_induction(load_induction(), path)
    >>> load_induction(path).n_heads, load_induction(path, n_heads=1).n_heads
    (2, 1)
    """
    result = model if isinstance(model, InductionResult) else None
    model = result.model if result is not None else model
    _checks.instance(model, decoder.Decoder, "model", "a selfattn.decoder.Decoder or an InductionResult")
    path = _checks.file_path(path, exists=False)
    arrays = {}
    if path.exists():  # keep the models with another number of heads
        with _checks.npz_file(path) as data:
            arrays = {name: data[name] for name in data.files}
    group = f"heads{model.n_heads}/"
    arrays = {name: a for name, a in arrays.items() if not name.startswith(group)}
    arrays.update({group + name: a.astype(np.float32) for name, a in model.params.items()})
    arrays[group + "n_heads"] = np.array(model.n_heads)
    arrays[group + "base"] = np.array(model.base)
    if result is not None:  # how it trained: the loss of every step, the accuracy every few
        arrays[group + "losses"] = np.array(result.losses, dtype=np.float64)
        arrays[group + "curve_steps"] = np.array(sorted(result.curve), dtype=np.int64)
        arrays[group + "curve_accuracy"] = np.array([result.curve[k] for k in sorted(result.curve)])
    with open(path, "wb") as fh:  # exactly this path
        np.savez_compressed(fh, **arrays)


def load_induction(path=WEIGHTS_PATH, n_heads: int = N_HEADS) -> decoder.Decoder:
    """The decoder trained with ``train_induction(seed=0, n_heads=n_heads)``, from the package data.

    Parameters
    ----------
    path : str or pathlib.Path, default WEIGHTS_PATH
        A file written by :func:`save_induction`.
    n_heads : int, default 2
        Which model: the shipped file holds the recipe's (2 heads per layer) and the
        one-head-per-layer variant (1).

    Returns
    -------
    selfattn.decoder.Decoder

    Raises
    ------
    ValueError
        If ``path`` is not such a file, holds no model with ``n_heads`` heads, or a weight is
        missing, of the wrong shape or not finite.

    Examples
    --------
    >>> from selfattn.induction import load_induction
    >>> load_induction()
    Decoder(vocab_size=64, d_model=64, n_layers=2, n_heads=2)
    """
    n_heads = _checks.positive_int(n_heads, "n_heads")
    with _checks.npz_file(path) as data:
        arrays = {name: data[name] for name in data.files}
    params, base = _checks.saved_decoder(arrays, path, n_heads)
    return decoder.Decoder(params, n_heads, base)


def load_training_curve(path=WEIGHTS_PATH, n_heads: int = N_HEADS) -> dict:
    """How the shipped model trained: its losses and its held-out accuracy curve.

    Parameters
    ----------
    path : str or pathlib.Path, default WEIGHTS_PATH
    n_heads : int, default 2

    Returns
    -------
    dict
        ``losses`` (steps,) the loss of each step; ``steps`` and ``accuracy``: the accuracy on
        the repeat of 256 held-out sequences at those steps (``InductionResult.curve``).

    Raises
    ------
    ValueError
        If ``path`` holds no model with ``n_heads`` heads, or none saved with its training.

    Examples
    --------
    >>> from selfattn.induction import load_training_curve
    >>> curve = load_training_curve()
    >>> len(curve["losses"]), int(curve["steps"][-1]), bool(curve["accuracy"][-1] > 0.95)
    (1500, 1500, True)
    """
    n_heads = _checks.positive_int(n_heads, "n_heads")
    with _checks.npz_file(path) as data:
        arrays = {name: data[name] for name in data.files}
    _checks.saved_decoder(arrays, path, n_heads)
    group = f"heads{n_heads}/"
    if group + "losses" not in arrays:
        raise ValueError(f"{path} has the model with n_heads={n_heads} but not its training: save "
                         "the InductionResult, not its model, to keep the curve")
    return {"losses": arrays[group + "losses"], "steps": arrays[group + "curve_steps"],
            "accuracy": arrays[group + "curve_accuracy"]}


# --------------------------------------------------------------------------- measurements
def accuracy(model: decoder.Decoder, ids, where, ablate=()) -> float:
    """Share of the positions ``where`` at which the top logit is the next token.

    .. math:: \\frac{1}{|W|} \\sum_{(b, i) \\in W}
              [\\arg\\max \\text{logits}_{b,i} = \\text{ids}_{b,i+1}]

    Parameters
    ----------
    model : selfattn.decoder.Decoder
    ids : array_like of int, shape (n,) or (B, n)
    where : array_like of bool, the shape of ``ids``
        The positions to score; the last position has no next token and must be False.
    ablate : iterable of (layer, head), optional
        Heads whose output is zeroed (see :func:`selfattn.decoder.forward`).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``where`` is not boolean of the shape of ``ids``, selects nothing or selects the last
        position, or ``forward`` refuses ``model``, ``ids`` or ``ablate``.

    Examples
    --------
    >>> from selfattn.induction import accuracy, heldout, load_induction
    >>> b = heldout("same", size=200)
    >>> accuracy(load_induction(), b.ids, b.on_repeat) > 0.95
    True
    """
    logits, _ = decoder.forward(model, ids, ablate=ablate)  # (..., n, vocab)
    ids = np.asarray(ids)
    return _accuracy(logits, ids, _checks.scored_positions(where, ids.shape))


def _accuracy(logits, ids, where) -> float:
    right = logits[..., :-1, :].argmax(-1) == ids[..., 1:]  # (..., n - 1): the top logit is next
    return float(right[where[..., :-1]].mean())


def previous_token_score(weights) -> np.ndarray:
    """Mean weight of each head on the previous token, ``w[i, i - 1]``, over positions i >= 1.

    Parameters
    ----------
    weights : list of array_like, one per layer, each (..., n_heads, n, n)
        The attention weights, as :func:`selfattn.decoder.forward` returns them; ``n >= 2``.

    Returns
    -------
    numpy.ndarray, shape (n_layers, n_heads)
        Between 0 and 1; a previous-token head scores near 1.

    Raises
    ------
    ValueError
        If ``weights`` is not a non-empty list of arrays of one shape (..., H, n, n) with n >= 2.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.induction import previous_token_score
    >>> w = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=float)  # 1 -> 0, 2 -> 1
    >>> previous_token_score([w[None]])
    array([[1.]])
    """
    w = _checks.layer_weights(weights, minimum_n=2)  # (layers, ..., H, n, n)
    n = w.shape[-1]
    i = np.arange(1, n)
    on_previous = w[..., i, i - 1]  # (layers, ..., H, n - 1)
    heads = on_previous.mean(axis=-1)  # (layers, ..., H)
    return heads.reshape(w.shape[0], -1, w.shape[-3]).mean(axis=1)  # (layers, H)


def offset_score(weights, offset: int, where=None) -> np.ndarray:
    """Mean weight of each head on the position ``offset`` tokens back, ``w[i, i - offset]``.

    A head that copies by position alone puts its weight at one fixed distance whatever the
    tokens are: the trap's layer-1 heads (trained on one repeat length, 8) look 7 back.

    Parameters
    ----------
    weights : list of array_like, one per layer, each (..., n_heads, n, n)
    offset : int
        How far back, from 1 (the previous token) to ``n - 1``.
    where : array_like of bool, shape (..., n), optional
        The query positions to average over (such as ``Batch.on_repeat``); by default every
        ``i >= offset``. Each must be at least ``offset``.

    Returns
    -------
    numpy.ndarray, shape (n_layers, n_heads)

    Raises
    ------
    ValueError
        If ``weights`` is refused as by :func:`previous_token_score`, ``offset`` is not a whole
        number from 1 to ``n - 1``, or ``where`` has another shape, selects nothing or selects
        a position before ``offset``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.induction import offset_score
    >>> w = np.array([[1, 0, 0], [1, 0, 0], [.5, .5, 0]])
    >>> offset_score([w[None]], 2)  # only position 2 has a token two back
    array([[0.5]])
    """
    w = _checks.layer_weights(weights, minimum_n=2)  # (layers, ..., H, n, n)
    n = w.shape[-1]
    offset = _checks.offset(offset, n)
    where = _checks.offset_positions(where, w.shape[1:-3] + (n,), offset)  # (..., n)
    lead = int(np.prod(w.shape[1:-3], dtype=np.int64))
    w = w.reshape(w.shape[0], lead, w.shape[-3], n, n)  # (layers, B, H, n, n)
    b, i = np.nonzero(where.reshape(lead, n))
    back = w[:, b, :, i, i - offset]  # (P, layers, H): the weight ``offset`` tokens back
    return back.mean(axis=0)  # (layers, H)


def induction_score(weights, ids, where=None) -> np.ndarray:
    """Mean weight of each head on the token after the previous occurrence of the current token.

    At position ``i`` whose token occurred before, let ``j < i`` be its latest earlier
    occurrence (``ids[j] == ids[i]``); an induction head puts its weight on ``j + 1``, the
    token that followed it. The score averages ``w[i, j + 1]`` over the positions ``where``.

    Parameters
    ----------
    weights : list of array_like, one per layer, each (B, n_heads, n, n) or (n_heads, n, n)
    ids : array_like of int, shape (B, n) or (n,)
        The tokens the weights were computed on.
    where : array_like of bool, the shape of ``ids``, optional
        The positions to average over, such as ``Batch.on_repeat``; by default every position
        whose token occurred before. Each must have an earlier occurrence.

    Returns
    -------
    numpy.ndarray, shape (n_layers, n_heads)

    Raises
    ------
    ValueError
        If the shapes of ``weights`` and ``ids`` disagree, no position is selected, or a selected
        position's token has no earlier occurrence.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.induction import induction_score
    >>> ids = [7, 3, 7]  # at 2, token 7 occurred at 0: an induction head looks at 1
    >>> w = np.array([[1, 0, 0], [.5, .5, 0], [.25, .75, 0]])
    >>> induction_score([w[None]], ids)
    array([[0.75]])
    """
    w = _checks.layer_weights(weights, minimum_n=2)  # (layers, ..., H, n, n)
    ids = _checks.ids_of_weights(ids, w.shape)  # (B, n)
    B, n = ids.shape
    w = w.reshape(w.shape[0], B, w.shape[-3], n, n)  # (layers, B, H, n, n)
    same = ids[:, :, None] == ids[:, None, :]  # (B, i, j): token j equals token i
    earlier = same & (np.arange(n)[None, :] < np.arange(n)[:, None])  # (B, i, j) with j < i
    has_earlier = earlier.any(axis=-1)  # (B, n)
    latest = n - 1 - np.argmax(earlier[..., ::-1], axis=-1)  # (B, n): the largest such j
    where = _checks.induction_positions(where, has_earlier)  # (B, n)
    b, i = np.nonzero(where)
    on_next = w[:, b, :, i, latest[b, i] + 1]  # (P, layers, H): the weight on j + 1
    return on_next.mean(axis=0)  # (layers, H)
