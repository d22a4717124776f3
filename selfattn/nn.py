"""PyTorch twins of :class:`selfattn.SelfAttention` and :class:`selfattn.MultiHeadAttention`.

The twins keep the course's row-vector convention: each weight is an
``nn.Parameter`` of the same shape as its NumPy counterpart, ``(d_model, d_k)``
and so on, and ``q = x @ W_q``. (``torch.nn.Linear`` stores the transpose,
``(d_out, d_in)``, and computes ``x @ weight.T``.)

Copying weights between the two worlds
--------------------------------------
``Twin.from_numpy(layer)`` builds a PyTorch module holding a copy of a NumPy
layer's weights; ``module.to_numpy()`` goes the other way. Given the same
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

import math

import numpy as np
import torch
from torch import nn

from . import attention as _np_attention
from . import heads as _np_heads
from .heads import check_divisible

__all__ = ["attention", "SelfAttention", "MultiHeadAttention"]


def attention(q, k, v, mask=None, scale=None):
    """Scaled dot-product attention in PyTorch that also returns the weights.

    Same contract as :func:`selfattn.scaled_dot_product_attention`: boolean
    ``mask`` with ``True`` = may attend, and a fully masked row gets zero
    weights and finite gradients (``torch.nn.MultiheadAttention`` gives NaN
    there). Differentiable.

    Parameters
    ----------
    q : torch.Tensor, shape (..., n_q, d_k)
    k : torch.Tensor, shape (..., n_k, d_k)
    v : torch.Tensor, shape (..., n_k, d_v)
    mask : torch.Tensor or array_like of bool, optional
        ``True`` where query ``i`` may attend to key ``j``; broadcasts to
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
        If ``d_k`` of ``q`` and ``k`` differ, if ``k`` and ``v`` differ in
        length, or if ``mask`` is not boolean (an additive float mask read as
        booleans would flip its meaning).

    Examples
    --------
    >>> import torch
    >>> from selfattn.nn import attention
    >>> q = torch.tensor([[1.0, 0.0]]); k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> out, w = attention(q, k, torch.tensor([[10.0], [20.0]]))
    >>> w.round(decimals=4)
    tensor([[0.6698, 0.3302]])
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same last dimension d_k, got q {tuple(q.shape)} and k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same number of rows n_k, got k {tuple(k.shape)} and v {tuple(v.shape)}")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., n_q, n_k)
    if mask is not None:
        mask = torch.as_tensor(mask, device=scores.device)
        if mask.dtype != torch.bool:  # a float (additive) mask read as bool would flip its meaning
            raise ValueError(
                f"mask must be boolean (True = may attend), got dtype {mask.dtype}; "
                "an additive float mask is not accepted, convert it with `mask = additive == 0`"
            )
        scores = scores.masked_fill(~mask, float("-inf"))
    m = scores.amax(dim=-1, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # fully masked rows
    e = torch.exp(scores - m)
    total = e.sum(dim=-1, keepdim=True)
    weights = e / torch.where(total > 0, total, torch.ones_like(total))  # (..., n_q, n_k)
    return weights @ v, weights  # (..., n_q, d_v), (..., n_q, n_k)


def _param(rng: np.random.Generator, d_in: int, d_out: int, dtype) -> nn.Parameter:
    return nn.Parameter(torch.tensor(_np_attention._init_weight(rng, d_in, d_out), dtype=dtype))


def _copy(value, dtype) -> nn.Parameter:
    return nn.Parameter(torch.tensor(np.asarray(value), dtype=dtype))


class SelfAttention(nn.Module):
    """PyTorch twin of :class:`selfattn.SelfAttention` (same shapes, same initialisation).

    Parameters
    ----------
    d_model, d_k, d_v, seed
        As in the NumPy class; with the same seed the initial weights are equal.
    dtype : torch.dtype, default torch.float64

    Raises
    ------
    ValueError
        If a size is not a positive integer.

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
        self.W_q = _copy(ref.W_q, dtype)  # (d_model, d_k)
        self.W_k = _copy(ref.W_k, dtype)  # (d_model, d_k)
        self.W_v = _copy(ref.W_v, dtype)  # (d_model, d_v)

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

        Examples
        --------
        >>> import numpy as np, torch, selfattn, selfattn.nn
        >>> np_layer = selfattn.SelfAttention(d_model=4, d_k=2, seed=3)
        >>> module = selfattn.nn.SelfAttention.from_numpy(np_layer)
        >>> bool(np.array_equal(module.W_q.detach().numpy(), np_layer.W_q))
        True
        """
        module = cls(layer.d_model, layer.d_k, layer.d_v, dtype=dtype)
        with torch.no_grad():
            for name in ("W_q", "W_k", "W_v"):
                setattr(module, name, _copy(getattr(layer, name), dtype))
        return module

    def to_numpy(self) -> "_np_attention.SelfAttention":
        """A NumPy layer holding a float64 copy of this module's weights.

        Returns
        -------
        selfattn.SelfAttention

        Examples
        --------
        >>> import selfattn.nn
        >>> selfattn.nn.SelfAttention(d_model=4, d_k=2, d_v=3).to_numpy()
        SelfAttention(d_model=4, d_k=2, d_v=3)
        """
        return _np_attention.SelfAttention.from_weights(
            *(getattr(self, n).detach().cpu().numpy().astype(np.float64) for n in ("W_q", "W_k", "W_v"))
        )

    def forward(self, x, mask=None):
        """Return ``(output, weights)`` of shapes ``(..., n, d_v)`` and ``(..., n, n)``.

        Parameters
        ----------
        x : torch.Tensor, shape (..., n, d_model)
            Same dtype as the parameters.
        mask : torch.Tensor or array_like of bool, optional
            ``True`` where token ``i`` may attend to token ``j``.

        Returns
        -------
        output : torch.Tensor, shape (..., n, d_v)
        weights : torch.Tensor, shape (..., n, n)

        Raises
        ------
        ValueError
            If the last dimension of ``x`` is not ``d_model`` or ``mask`` is not boolean.

        Examples
        --------
        >>> import torch, selfattn.nn
        >>> out, w = selfattn.nn.SelfAttention(d_model=4, d_k=2)(torch.ones(2, 3, 4, dtype=torch.float64))
        >>> tuple(out.shape), tuple(w.shape)
        ((2, 3, 2), (2, 3, 3))
        """
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x has last dimension {x.shape[-1]} but the layer expects d_model={self.d_model}")
        q = x @ self.W_q  # (..., n, d_k)
        k = x @ self.W_k  # (..., n, d_k)
        v = x @ self.W_v  # (..., n, d_v)
        return attention(q, k, v, mask=mask)  # (..., n, d_v), (..., n, n)


class MultiHeadAttention(nn.Module):
    """PyTorch twin of :class:`selfattn.MultiHeadAttention` (no biases).

    Parameters
    ----------
    d_model, n_heads, seed
        As in the NumPy class; with the same seed the initial weights are equal.
    dtype : torch.dtype, default torch.float64

    Raises
    ------
    ValueError
        If ``d_model`` is not divisible by ``n_heads`` (the message names both).

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
            setattr(self, name, _copy(getattr(ref, name), dtype))  # (d_model, d_model)

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

        Examples
        --------
        >>> import numpy as np, selfattn, selfattn.nn
        >>> np_layer = selfattn.MultiHeadAttention(d_model=4, n_heads=2, seed=3)
        >>> module = selfattn.nn.MultiHeadAttention.from_numpy(np_layer)
        >>> bool(np.array_equal(module.W_o.detach().numpy(), np_layer.W_o))
        True
        """
        module = cls(layer.d_model, layer.n_heads, dtype=dtype)
        for name in ("W_q", "W_k", "W_v", "W_o"):
            setattr(module, name, _copy(getattr(layer, name), dtype))
        return module

    def to_numpy(self) -> "_np_heads.MultiHeadAttention":
        """A NumPy layer holding a float64 copy of this module's weights.

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
            Same dtype as the parameters.
        mask : torch.Tensor or array_like of bool, optional
            ``True`` where token ``i`` may attend to token ``j``; broadcasts to
            ``(..., n, n)`` and is shared by every head.

        Returns
        -------
        output : torch.Tensor, shape (..., n, d_model)
        weights : torch.Tensor, shape (..., h, n, n)

        Raises
        ------
        ValueError
            If the last dimension of ``x`` is not ``d_model`` or ``mask`` is not boolean.

        Examples
        --------
        >>> import torch, selfattn.nn
        >>> out, w = selfattn.nn.MultiHeadAttention(d_model=4, n_heads=2)(torch.ones(3, 4, dtype=torch.float64))
        >>> tuple(out.shape), tuple(w.shape)
        ((3, 4), (2, 3, 3))
        """
        *lead, n, d = x.shape
        if d != self.d_model:
            raise ValueError(f"x has last dimension {d} but the layer expects d_model={self.d_model}")
        check_divisible(self.d_model, self.n_heads)

        def split(t):  # (..., n, d_model) -> (..., h, n, d_head)
            return t.reshape(*lead, n, self.n_heads, self.d_head).transpose(-3, -2)

        q, k, v = split(x @ self.W_q), split(x @ self.W_k), split(x @ self.W_v)  # (..., h, n, d_head)
        if mask is not None:
            mask = torch.as_tensor(mask).unsqueeze(-3)  # (..., 1, n, n); dtype checked in attention()
        heads, weights = attention(q, k, v, mask=mask)  # (..., h, n, d_head), (..., h, n, n)
        concat = heads.transpose(-3, -2).reshape(*lead, n, self.d_model)  # (..., n, d_model)
        return concat @ self.W_o, weights  # (..., n, d_model), (..., h, n, n)
