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
