"""PyTorch twins of the NumPy attention in :mod:`selfattn.attention` and :mod:`selfattn.heads`.

Same names, same arguments, same statements in the same order, so the two can
be read side by side: :func:`scaled_dot_product_attention`, :func:`split_heads`,
:func:`merge_heads`, :class:`SelfAttention`, :class:`MultiHeadAttention`. The
inputs are checked by the same code (:mod:`selfattn._checks`) and give the same
messages; a NumPy array passed here is refused with the conversion to use.

The twins keep the course's row-vector convention: each matrix is an
``nn.Parameter`` of the same shape as its NumPy counterpart, ``(d_model, d_k)``
and so on, and ``q = x @ W_q``. (``torch.nn.Linear`` stores the transpose,
``(d_out, d_in)``, and computes ``x @ weight.T``.)

Copying matrices between the two worlds
---------------------------------------
``Twin.from_numpy(layer)`` builds a PyTorch module holding a copy of a NumPy
layer's matrices; ``module.to_numpy()`` goes the other way. Given the same
input, both produce the same output and weights (to float rounding).

>>> import numpy as np, torch
>>> import selfattn, selfattn.nn
>>> np_layer = selfattn.MultiHeadAttention(d_model=8, n_heads=2, seed=1)
>>> t_layer = selfattn.nn.MultiHeadAttention.from_numpy(np_layer)
>>> x = np.random.default_rng(0).normal(size=(3, 8))
>>> out_np, w_np = np_layer(x)
>>> out_t, w_t = t_layer(torch.from_numpy(x))
>>> bool(np.allclose(out_np, out_t.detach().numpy()))
True
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import _checks
from . import attention as _np_attention
from . import heads as _np_heads
from . import positions as _np_positions

__all__ = ["scaled_dot_product_attention", "split_heads", "merge_heads", "SelfAttention", "MultiHeadAttention"]


def scaled_dot_product_attention(q, k, v, mask=None, scale=None):
    r"""Scaled dot-product attention in PyTorch that also returns the weights.

    .. math:: \operatorname{Attention}(Q, K, V) =
              \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V

    The twin of :func:`selfattn.scaled_dot_product_attention`, with the same
    contract: boolean ``mask`` with ``True`` = may attend, a fully masked row
    gets zero weights and finite gradients (``torch.nn.MultiheadAttention``
    gives NaN there), and the same errors. Differentiable.

    Parameters
    ----------
    q : torch.Tensor, shape (..., n_q, d_k)
    k : torch.Tensor, shape (..., n_k, d_k)
    v : torch.Tensor, shape (..., n_k, d_v)
        Floating-point tensors of one dtype.
    mask : torch.Tensor or array_like of bool, optional
        ``True`` where query ``i`` may attend to key ``j``; must broadcast to
        ``(..., n_q, n_k)``.
    scale : float, optional
        Multiplies the scores; defaults to ``1 / sqrt(d_k)``.

    Returns
    -------
    output : torch.Tensor, shape (..., n_q, d_v)
    weights : torch.Tensor, shape (..., n_q, n_k)

    Raises
    ------
    ValueError
        As :func:`selfattn.scaled_dot_product_attention` (shapes, NaN or inf,
        overflowing scores, mask, scale), and if an input is not a
        floating-point tensor or the dtypes differ.

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import scaled_dot_product_attention
    >>> q = torch.tensor([[1.0, 0.0]]); k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> out, w = scaled_dot_product_attention(q, k, torch.tensor([[10.0], [20.0]]))
    >>> w.round(decimals=4)
    tensor([[0.6698, 0.3302]])
    """
    q, k, v, mask, scale = _checks.attention_inputs(q, k, v, mask, scale, tensors=True)
    scores = (q * scale) @ k.transpose(-2, -1)  # (..., n_q, n_k)
    weights = _softmax(scores, mask=mask)  # (..., n_q, n_k)
    output = weights @ v  # (..., n_q, d_v)
    return output, weights


def _softmax(scores, axis=-1, mask=None):
    """Softmax of float scores; the twin of ``selfattn.attention._softmax``, out of place for autograd."""
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # masked: weight exactly 0
    m = scores.amax(dim=axis, keepdim=True).detach()  # the row maxima (..., 1)
    _checks.scores_overflow(m, mask, axis)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # rows with nothing to attend to
    scores = torch.exp(scores - m)  # every exponent <= 0: no overflow
    total = scores.sum(dim=axis, keepdim=True)
    total = torch.where(total == 0, torch.ones_like(total), total)
    return scores / total


def split_heads(x, n_heads: int):
    """Twin of :func:`selfattn.split_heads`: ``(..., n, d)`` to ``(..., h, n, d/h)``.

    Raises
    ------
    ValueError
        As the NumPy twin, and if ``x`` is not a floating-point tensor.

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import split_heads
    >>> tuple(split_heads(torch.zeros(3, 4), 2).shape)
    (2, 3, 2)
    """
    x = _checks.finite_input(x, "x", 2, "(..., n, d)", tensor=True)
    *lead, n, d = x.shape
    d_head = _checks.head_size(d, n_heads)
    x = x.reshape(*lead, n, n_heads, d_head)  # (..., n, h, d_head)
    return x.transpose(-3, -2)  # (..., h, n, d_head)


def merge_heads(x):
    """Twin of :func:`selfattn.merge_heads`: ``(..., h, n, d_head)`` to ``(..., n, h*d_head)``.

    Raises
    ------
    ValueError
        As the NumPy twin, and if ``x`` is not a floating-point tensor.

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import merge_heads, split_heads
    >>> x = torch.arange(24.0).reshape(2, 3, 4)
    >>> bool(torch.equal(merge_heads(split_heads(x, 2)), x))
    True
    """
    x = _checks.finite_input(x, "x", 3, "(..., h, n, d_head)", tensor=True)
    *lead, h, n, d_head = x.shape
    x = x.transpose(-3, -2)  # (..., n, h, d_head)
    return x.reshape(*lead, n, h * d_head)  # (..., n, d_model)


def _parameter(value, dtype) -> nn.Parameter:
    """A trainable copy of a NumPy matrix, in ``dtype`` (a floating-point torch dtype)."""
    return nn.Parameter(torch.tensor(np.asarray(value), dtype=_checks.float_dtype(dtype)))


def _numpy_layer(layer, names, sizes, kind: str):
    """``layer`` must hold the NumPy matrices ``names`` and the sizes (checked by content, not by class)."""
    if not (all(isinstance(getattr(layer, n, None), np.ndarray) for n in names)
            and all(isinstance(getattr(layer, s, None), int) for s in sizes)):
        raise ValueError(f"layer must be a NumPy selfattn.{kind} (with NumPy matrices {', '.join(names)}), "
                         f"got {type(layer).__module__}.{type(layer).__name__}")
    return layer


class SelfAttention(nn.Module):
    """PyTorch twin of :class:`selfattn.SelfAttention` (same shapes, same initialisation).

    Parameters
    ----------
    d_model, d_k, d_v, seed
        As in the NumPy class; with the same seed the initial matrices are equal.
    dtype : torch.dtype, default torch.float64
        The dtype of the matrices; the input must have the same.

    Raises
    ------
    ValueError
        If a size is not a positive integer, the seed is not a whole number, or
        ``dtype`` is not a floating-point torch dtype.

    Examples
    --------
    >>> import torch
    >>> import selfattn.nn
    >>> layer = selfattn.nn.SelfAttention(d_model=4, d_k=3)
    >>> out, w = layer(torch.ones(5, 4, dtype=torch.float64))
    >>> tuple(out.shape), tuple(w.shape)
    ((5, 3), (5, 5))
    """

    def __init__(self, d_model: int, d_k: int, d_v: int | None = None, seed: int = 0, dtype=torch.float64):
        super().__init__()
        ref = _np_attention.SelfAttention(d_model, d_k, d_v, seed=seed)
        self.d_model, self.d_k, self.d_v = ref.d_model, ref.d_k, ref.d_v
        self.W_q = _parameter(ref.W_q, dtype)  # (d_model, d_k)
        self.W_k = _parameter(ref.W_k, dtype)  # (d_model, d_k)
        self.W_v = _parameter(ref.W_v, dtype)  # (d_model, d_v)

    @classmethod
    def from_numpy(cls, layer: "_np_attention.SelfAttention", dtype=torch.float64) -> "SelfAttention":
        """A module holding a copy of a NumPy layer's ``W_q``, ``W_k``, ``W_v``.

        Parameters
        ----------
        layer : selfattn.SelfAttention
        dtype : torch.dtype, default torch.float64

        Returns
        -------
        SelfAttention
            A ``torch.nn.Module`` whose three parameters equal the layer's matrices.

        Raises
        ------
        ValueError
            If ``layer`` is not a NumPy :class:`selfattn.SelfAttention`, or ``dtype``
            is not a floating-point torch dtype.

        Examples
        --------
        >>> import numpy as np, torch, selfattn, selfattn.nn
        >>> np_layer = selfattn.SelfAttention(d_model=4, d_k=2, seed=3)
        >>> module = selfattn.nn.SelfAttention.from_numpy(np_layer)
        >>> bool(np.array_equal(module.W_q.detach().numpy(), np_layer.W_q))
        True
        """
        layer = _numpy_layer(layer, ("W_q", "W_k", "W_v"), ("d_model", "d_k", "d_v"), "SelfAttention")
        module = cls(layer.d_model, layer.d_k, layer.d_v, dtype=dtype)
        for name in ("W_q", "W_k", "W_v"):
            setattr(module, name, _parameter(getattr(layer, name), dtype))
        return module

    def to_numpy(self) -> "_np_attention.SelfAttention":
        """A NumPy layer holding a float64 copy of this module's matrices.

        Returns
        -------
        selfattn.SelfAttention

        Examples
        --------
        >>> import selfattn.nn
        >>> selfattn.nn.SelfAttention(d_model=4, d_k=2, d_v=3).to_numpy()
        SelfAttention(d_model=4, d_k=2, d_v=3)
        """
        return _np_attention.SelfAttention.from_matrices(
            *(getattr(self, n).detach().cpu().numpy().astype(np.float64) for n in ("W_q", "W_k", "W_v"))
        )

    def forward(self, x, mask=None, scale=None):
        """Return ``(output, weights)`` of shapes ``(..., n, d_v)`` and ``(..., n, n)``.

        Parameters
        ----------
        x : torch.Tensor, shape (..., n, d_model)
            Same dtype as the matrices.
        mask : torch.Tensor or array_like of bool, optional
            ``True`` where token ``i`` may attend to token ``j``.
        scale : float, optional
            Multiplies the scores; defaults to ``1 / sqrt(d_k)``.

        Returns
        -------
        output : torch.Tensor, shape (..., n, d_v)
        weights : torch.Tensor, shape (..., n, n)

        Raises
        ------
        ValueError
            If ``x`` is not a tensor of the layer's dtype with at least one token
            and last dimension ``d_model``, or as :func:`scaled_dot_product_attention`.

        Examples
        --------
        >>> import torch, selfattn.nn
        >>> out, w = selfattn.nn.SelfAttention(d_model=4, d_k=2)(torch.ones(2, 3, 4, dtype=torch.float64))
        >>> tuple(out.shape), tuple(w.shape)
        ((2, 3, 2), (2, 3, 3))
        """
        q, k, v = self._project(x)  # (..., n, d_k), (..., n, d_k), (..., n, d_v)
        return scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)

    def _project(self, x):
        """``x`` checked, then ``Q = X W_q``, ``K = X W_k``, ``V = X W_v``."""
        x = _checks.layer_input(x, self.d_model, dtype=self.W_q.dtype)  # (..., n, d_model)
        return x @ self.W_q, x @ self.W_k, x @ self.W_v

    def __repr__(self) -> str:
        return f"SelfAttention(d_model={self.d_model}, d_k={self.d_k}, d_v={self.d_v})"


class MultiHeadAttention(nn.Module):
    """PyTorch twin of :class:`selfattn.MultiHeadAttention` (no biases).

    Parameters
    ----------
    d_model, n_heads, seed
        As in the NumPy class; with the same seed the initial matrices are equal.
    dtype : torch.dtype, default torch.float64

    Raises
    ------
    ValueError
        If ``d_model`` is not divisible by ``n_heads`` (the message names both),
        the seed is not a whole number, or ``dtype`` is not a floating-point torch dtype.

    Examples
    --------
    >>> import torch
    >>> import selfattn.nn
    >>> mha = selfattn.nn.MultiHeadAttention(d_model=8, n_heads=2)
    >>> out, w = mha(torch.ones(5, 8, dtype=torch.float64))
    >>> tuple(out.shape), tuple(w.shape)
    ((5, 8), (2, 5, 5))
    """

    def __init__(self, d_model: int, n_heads: int, seed: int = 0, dtype=torch.float64):
        super().__init__()
        ref = _np_heads.MultiHeadAttention(d_model, n_heads, seed=seed)
        self.d_model, self.n_heads, self.d_head = ref.d_model, ref.n_heads, ref.d_head
        for name in ("W_q", "W_k", "W_v", "W_o"):
            setattr(self, name, _parameter(getattr(ref, name), dtype))  # (d_model, d_model)

    @classmethod
    def from_numpy(cls, layer: "_np_heads.MultiHeadAttention", dtype=torch.float64) -> "MultiHeadAttention":
        """A module holding a copy of a NumPy layer's four matrices.

        Parameters
        ----------
        layer : selfattn.MultiHeadAttention
        dtype : torch.dtype, default torch.float64

        Returns
        -------
        MultiHeadAttention
            A ``torch.nn.Module`` whose ``W_q``, ``W_k``, ``W_v``, ``W_o`` equal the layer's.

        Raises
        ------
        ValueError
            If ``layer`` is not a NumPy :class:`selfattn.MultiHeadAttention`, or
            ``dtype`` is not a floating-point torch dtype.

        Examples
        --------
        >>> import numpy as np, selfattn, selfattn.nn
        >>> np_layer = selfattn.MultiHeadAttention(d_model=4, n_heads=2, seed=3)
        >>> module = selfattn.nn.MultiHeadAttention.from_numpy(np_layer)
        >>> bool(np.array_equal(module.W_o.detach().numpy(), np_layer.W_o))
        True
        """
        layer = _numpy_layer(layer, ("W_q", "W_k", "W_v", "W_o"), ("d_model", "n_heads"),
                             "MultiHeadAttention")
        module = cls(layer.d_model, layer.n_heads, dtype=dtype)
        for name in ("W_q", "W_k", "W_v", "W_o"):
            setattr(module, name, _parameter(getattr(layer, name), dtype))
        return module

    def to_numpy(self) -> "_np_heads.MultiHeadAttention":
        """A NumPy layer holding a float64 copy of this module's matrices.

        Returns
        -------
        selfattn.MultiHeadAttention

        Examples
        --------
        >>> import selfattn.nn
        >>> selfattn.nn.MultiHeadAttention(d_model=4, n_heads=2).to_numpy()
        MultiHeadAttention(d_model=4, n_heads=2)
        """
        layer = _np_heads.MultiHeadAttention(self.d_model, self.n_heads)
        for name in ("W_q", "W_k", "W_v", "W_o"):
            setattr(layer, name, getattr(self, name).detach().cpu().numpy().astype(np.float64))
        return layer

    def forward(self, x, mask=None):
        """Return ``(output, weights)`` of shapes ``(..., n, d_model)`` and ``(..., h, n, n)``.

        Parameters
        ----------
        x : torch.Tensor, shape (..., n, d_model)
            Same dtype as the matrices.
        mask : torch.Tensor or array_like of bool, optional
            ``True`` where token ``i`` may attend to token ``j``; broadcasts to
            ``(..., n, n)`` (a key mask of shape ``(n,)`` too) and is shared by every head.

        Returns
        -------
        output : torch.Tensor, shape (..., n, d_model)
        weights : torch.Tensor, shape (..., h, n, n)

        Raises
        ------
        ValueError
            If ``x`` is not a tensor of the layer's dtype with at least one token
            and last dimension ``d_model``, or ``mask`` is not boolean or does not
            broadcast to ``(..., n, n)``.

        Examples
        --------
        >>> import torch, selfattn.nn
        >>> out, w = selfattn.nn.MultiHeadAttention(d_model=4, n_heads=2)(torch.ones(3, 4, dtype=torch.float64))
        >>> tuple(out.shape), tuple(w.shape)
        ((3, 4), (2, 3, 3))
        """
        x = _checks.layer_input(x, self.d_model, self.W_q.dtype)  # (..., n, d_model)
        *lead, n, _ = x.shape
        mask = _checks.mask(mask, (*lead, n, n), like=x)  # (..., n, n)
        if mask is not None:  # (..., 1, n, n): one mask for every head
            mask = mask.expand(*lead, n, n).unsqueeze(-3)
        W_q, W_k, W_v, W_o = self._matrices(x.dtype)  # the layer's dtype
        q = split_heads(x @ W_q, self.n_heads)  # (..., h, n, d_head)
        k = split_heads(x @ W_k, self.n_heads)  # (..., h, n, d_head)
        v = split_heads(x @ W_v, self.n_heads)  # (..., h, n, d_head)
        # heads (..., h, n, d_head), weights (..., h, n, n)
        heads, weights = scaled_dot_product_attention(q, k, v, mask=mask)
        concat = merge_heads(heads)  # (..., n, d_model)
        output = concat @ W_o  # (..., n, d_model)
        return output, weights

    def _matrices(self, dtype):
        """``W_q``, ``W_k``, ``W_v``, ``W_o``; ``x`` was checked to have their ``dtype``."""
        return self.W_q, self.W_k, self.W_v, self.W_o

    def __repr__(self) -> str:
        return f"MultiHeadAttention(d_model={self.d_model}, n_heads={self.n_heads})"


# --------------------------------------------------------------------------- #
# the transformer block: twins of selfattn.block
# --------------------------------------------------------------------------- #
from . import block as _np_block  # noqa: E402  (appended section; the NumPy block needs nothing from here)

__all__ += ["layer_norm", "gelu", "feed_forward", "multi_head_attention", "transformer_block",
            "TransformerBlock"]


def layer_norm(x, gamma, beta, eps=_np_block.BERT_LAYER_NORM_EPS):
    r"""Twin of :func:`selfattn.block.layer_norm`: ``(x - mean) / sqrt(var + eps) * gamma + beta``.

    Computed by ``torch.nn.functional.layer_norm``, what ``torch.nn.LayerNorm`` runs.

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import layer_norm
    >>> layer_norm(torch.tensor([[1.0, 2.0, 3.0]]), torch.ones(3), torch.zeros(3)).round(decimals=4)
    tensor([[-1.2247,  0.0000,  1.2247]])
    """
    x = _checks.finite_input(x, "x", 2, "(..., n, d)", tensor=True)
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), gamma, beta, eps)  # (..., d)


def gelu(x):
    r"""Twin of :func:`selfattn.block.gelu`: ``0.5 x (1 + erf(x / sqrt 2))``, the exact form.

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import gelu
    >>> gelu(torch.tensor([-1.0, 0.0, 1.0])).round(decimals=5)
    tensor([-0.1587,  0.0000,  0.8413])
    """
    return torch.nn.functional.gelu(x)  # approximate="none": the erf form


def feed_forward(x, W1, b1, W2, b2):
    r"""Twin of :func:`selfattn.block.feed_forward`: ``gelu(x W1 + b1) W2 + b2``.

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import feed_forward
    >>> I, z = torch.eye(2), torch.zeros(2)
    >>> feed_forward(torch.tensor([[1.0, -1.0]]), I, z, I, z).round(decimals=4)
    tensor([[ 0.8413, -0.1587]])
    """
    hidden = gelu(x @ W1 + b1)  # (..., n, d_ff)    GELU(x W1 + b1)
    return hidden @ W2 + b2  # (..., n, d_model)   ... W2 + b2


def multi_head_attention(x, W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o, n_heads, mask=None):
    r"""Twin of :func:`selfattn.block.multi_head_attention` (biases in the four projections).

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import multi_head_attention
    >>> I, z = torch.eye(4), torch.zeros(4)
    >>> out, w = multi_head_attention(torch.ones(3, 4), I, z, I, z, I, z, I, z, n_heads=2)
    >>> tuple(out.shape), tuple(w.shape)
    ((3, 4), (2, 3, 3))
    """
    x = _checks.finite_input(x, "x", 2, "(..., n, d_model)", tensor=True)  # (..., n, d_model)
    *lead, n, _ = x.shape
    mask = _checks.mask(mask, (*lead, n, n), like=x)  # (..., n, n)
    if mask is not None:  # (..., 1, n, n): one mask for every head
        mask = mask.expand(*lead, n, n).unsqueeze(-3)
    q = split_heads(x @ W_q + b_q, n_heads)  # (..., h, n, d_head)   Q = X W_Q + b_Q
    k = split_heads(x @ W_k + b_k, n_heads)  # (..., h, n, d_head)   K = X W_K + b_K
    v = split_heads(x @ W_v + b_v, n_heads)  # (..., h, n, d_head)   V = X W_V + b_V
    # heads (..., h, n, d_head), weights (..., h, n, n): softmax(Q K^T / sqrt(d_k)) V
    heads, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    concat = merge_heads(heads)  # (..., n, d_model)   Concat(head_1, ..., head_h)
    return concat @ W_o + b_o, weights  # (..., n, d_model)   ... W_O + b_O


def transformer_block(x, params, n_heads: int, mask=None, norm: str = "post",
                      eps: float = _np_block.BERT_LAYER_NORM_EPS):
    r"""Twin of :func:`selfattn.block.transformer_block`; ``params`` holds tensors by the same names.

    Post-norm: ``h = LN1(x + MHA(x))``, ``out = LN2(h + FFN(h))``; pre-norm:
    ``h = x + MHA(LN1(x))``, ``out = h + FFN(LN2(h))``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> import selfattn.nn
    >>> from selfattn.block import BlockParams
    >>> module = selfattn.nn.TransformerBlock.from_numpy(BlockParams.random(8, seed=0), n_heads=2)
    >>> out, w = selfattn.nn.transformer_block(torch.ones(5, 8, dtype=torch.float64), module, 2)
    >>> tuple(out.shape), tuple(w.shape)
    ((5, 8), (2, 5, 5))
    """
    p = params
    norm = _checks.choice(norm, "norm", ["post", "pre"])
    attn = (p.W_q, p.b_q, p.W_k, p.b_k, p.W_v, p.b_v, p.W_o, p.b_o)
    ffn = (p.W1, p.b1, p.W2, p.b2)
    if norm == "post":
        a, weights = multi_head_attention(x, *attn, n_heads, mask=mask)  # MHA(x)
        h = layer_norm(x + a, p.ln1_gamma, p.ln1_beta, eps)  # h = LN1(x + MHA(x))
        out = layer_norm(h + feed_forward(h, *ffn), p.ln2_gamma, p.ln2_beta, eps)  # LN2(h + FFN(h))
    else:
        a, weights = multi_head_attention(layer_norm(x, p.ln1_gamma, p.ln1_beta, eps), *attn, n_heads,
                                          mask=mask)  # MHA(LN1(x))
        h = x + a  # h = x + MHA(LN1(x))
        out = h + feed_forward(layer_norm(h, p.ln2_gamma, p.ln2_beta, eps), *ffn)  # h + FFN(LN2(h))
    return out, weights


class TransformerBlock(nn.Module):
    """PyTorch twin of :func:`selfattn.block.transformer_block`, its parameters named as in ``BlockParams``.

    Each array of a :class:`selfattn.block.BlockParams` becomes an ``nn.Parameter`` of the
    same name and shape (matrices ``(d_in, d_out)``, the course's convention).

    Parameters
    ----------
    params : selfattn.block.BlockParams
    n_heads : int
    norm : {"post", "pre"}, default "post"
    eps : float, default 1e-12
    dtype : torch.dtype, default torch.float64

    Raises
    ------
    ValueError
        If ``params`` is not a ``BlockParams``, ``n_heads`` does not divide ``d_model``,
        ``norm`` is not "post" or "pre", or ``dtype`` is not a floating-point torch dtype.

    Examples
    --------
    >>> import numpy as np, torch
    >>> import selfattn.nn
    >>> from selfattn.block import BlockParams, transformer_block
    >>> p = BlockParams.random(8, seed=0)
    >>> module = selfattn.nn.TransformerBlock.from_numpy(p, n_heads=2)
    >>> x = np.random.default_rng(0).normal(size=(3, 8))
    >>> out_t, _ = module(torch.from_numpy(x))
    >>> bool(np.allclose(out_t.detach().numpy(), transformer_block(x, p, 2)[0]))
    True
    """

    def __init__(self, params, n_heads: int, norm: str = "post", eps: float = _np_block.BERT_LAYER_NORM_EPS,
                 dtype=torch.float64):
        super().__init__()
        params = _checks.instance(params, _np_block.BlockParams, "params", "a selfattn.block.BlockParams")
        self.d_model, self.d_ff = params.d_model, params.d_ff
        self.d_head = _checks.head_size(self.d_model, n_heads)
        self.n_heads = int(n_heads)
        self.norm = _checks.choice(norm, "norm", ["post", "pre"])
        self.eps = _checks.finite_number(eps, "eps")
        for name in params.names():
            setattr(self, name, _parameter(getattr(params, name), dtype))

    @classmethod
    def from_numpy(cls, params, n_heads: int, norm: str = "post", eps: float = _np_block.BERT_LAYER_NORM_EPS,
                   dtype=torch.float64) -> "TransformerBlock":
        """A module holding a copy of ``params``' arrays (see the class).

        Examples
        --------
        >>> import numpy as np, selfattn.nn
        >>> from selfattn.block import BlockParams
        >>> p = BlockParams.random(4, seed=2)
        >>> m = selfattn.nn.TransformerBlock.from_numpy(p, n_heads=2)
        >>> bool(np.array_equal(m.W1.detach().numpy(), p.W1))
        True
        """
        return cls(params, n_heads, norm=norm, eps=eps, dtype=dtype)

    def to_numpy(self):
        """A :class:`selfattn.block.BlockParams` holding float64 copies of the parameters.

        Examples
        --------
        >>> import selfattn.nn
        >>> from selfattn.block import BlockParams
        >>> selfattn.nn.TransformerBlock(BlockParams.random(4), n_heads=2).to_numpy().d_ff
        16
        """
        names = [f.name for f in _np_block.fields(_np_block.BlockParams)]
        return _np_block.BlockParams(**{n: getattr(self, n).detach().cpu().numpy().astype(np.float64)
                                        for n in names})

    def forward(self, x, mask=None):
        """Return ``(output, weights)`` of shapes ``(..., n, d_model)`` and ``(..., h, n, n)``.

        Examples
        --------
        >>> import torch, selfattn.nn
        >>> from selfattn.block import BlockParams
        >>> m = selfattn.nn.TransformerBlock(BlockParams.random(4), n_heads=2, norm="pre")
        >>> out, w = m(torch.ones(2, 3, 4, dtype=torch.float64))
        >>> tuple(out.shape), tuple(w.shape)
        ((2, 3, 4), (2, 2, 3, 3))
        """
        x = _checks.layer_input(x, self.d_model, self.W_q.dtype)  # (..., n, d_model)
        return transformer_block(x, self, self.n_heads, mask=mask, norm=self.norm, eps=self.eps)

    def __repr__(self) -> str:
        return (f"TransformerBlock(d_model={self.d_model}, n_heads={self.n_heads}, d_ff={self.d_ff}, "
                f"norm={self.norm!r})")


# --------------------------------------------------------------------------- #
# positions: the twin of selfattn.positions.rope
# --------------------------------------------------------------------------- #
__all__ += ["rope"]


def rope(x, positions=None, base: float = _np_positions.BASE, layout: str = "interleaved"):
    """Rotary position embedding on a tensor; the twin of :func:`selfattn.positions.rope`.

    ``x`` is ``(..., n, d)`` with ``d`` even; ``positions`` ``(n,)`` whole numbers >= 0
    (default ``0, ..., n - 1``); ``layout`` ``"interleaved"`` (paper, GPT-J) or ``"half"``
    (GPT-NeoX, Hugging Face Llama). Differentiable in ``x``; same checks and messages.

    >>> import numpy as np, torch
    >>> from selfattn import positions, nn
    >>> x = np.random.default_rng(0).normal(size=(3, 4))
    >>> bool(np.allclose(nn.rope(torch.from_numpy(x)).numpy(), positions.rope(x)))
    True
    """
    x, pos, layout = _checks.rope_inputs(x, positions, layout, tensors=True)
    d = x.shape[-1]
    angles = _np_positions.rope_angles(pos, d, base)  # (n, d/2), float64 as in the NumPy rope
    cos = torch.as_tensor(np.cos(angles), dtype=x.dtype, device=x.device)  # (n, d/2)
    sin = torch.as_tensor(np.sin(angles), dtype=x.dtype, device=x.device)
    if layout == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]  # the pairs (x[2i], x[2i+1])
    else:
        a, b = x[..., : d // 2], x[..., d // 2 :]  # the pairs (x[i], x[i + d/2])
    ra, rb = a * cos - b * sin, a * sin + b * cos
    if layout == "interleaved":
        return torch.stack([ra, rb], dim=-1).flatten(-2)  # back to x[2i], x[2i+1]
    return torch.cat([ra, rb], dim=-1)


# --------------------------------------------------------------------------- #
# multi-query and grouped-query attention: twins of selfattn.attention
# --------------------------------------------------------------------------- #
__all__ += ["repeat_kv", "grouped_query_attention"]


def repeat_kv(x, n_rep: int):
    """Twin of :func:`selfattn.attention.repeat_kv`: ``(..., g, n, d)`` to ``(..., g n_rep, n, d)``.

    Head ``j`` of the result is head ``j // n_rep`` of ``x``
    (``torch.repeat_interleave``, as in Hugging Face's ``repeat_kv``).

    Raises
    ------
    ValueError
        As the NumPy twin, and if ``x`` is not a floating-point tensor.

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import repeat_kv
    >>> repeat_kv(torch.tensor([[[1.0]], [[2.0]]]), 2)[:, 0, 0]
    tensor([1., 1., 2., 2.])
    """
    x, n_rep = _checks.kv_heads_input(x, n_rep, tensor=True)  # (..., g, n, d)
    return x.repeat_interleave(n_rep, dim=-3)  # (..., g * n_rep, n, d)


def grouped_query_attention(q, k, v, mask=None, scale=None):
    r"""Grouped-query attention in PyTorch that also returns the weights.

    .. math:: \operatorname{head}_i = \operatorname{softmax}\!\left(
              \frac{Q_i K_{j(i)}^\top}{\sqrt{d_k}}\right) V_{j(i)},
              \qquad j(i) = \left\lfloor \frac{i}{h / g} \right\rfloor

    The twin of :func:`selfattn.attention.grouped_query_attention`, with the same
    contract (``q`` ``(..., h, n_q, d_k)``, ``k`` ``(..., g, n_k, d_k)``, ``v``
    ``(..., g, n_k, d_v)``, boolean ``mask`` with ``True`` = may attend) and the same
    errors; the same result as ``torch.nn.functional.scaled_dot_product_attention(q,
    k, v, attn_mask=mask, enable_gqa=True)``, plus the weights. Differentiable.

    Raises
    ------
    ValueError
        As the NumPy twin, and if an input is not a floating-point tensor or the
        dtypes differ.

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import grouped_query_attention
    >>> q, k = torch.ones(4, 1, 2), torch.zeros(2, 3, 2)
    >>> v = torch.stack([torch.full((3, 1), 10.0), torch.full((3, 1), 20.0)])
    >>> out, w = grouped_query_attention(q, k, v)
    >>> out[:, 0, 0]
    tensor([10., 10., 20., 20.])
    """
    q, k, v, n_rep = _checks.grouped_attention_inputs(q, k, v, tensors=True)
    k = repeat_kv(k, n_rep)  # (..., n_heads, n_k, d_k): head i reads k head i // n_rep
    v = repeat_kv(v, n_rep)  # (..., n_heads, n_k, d_v)
    return scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
