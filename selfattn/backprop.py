"""Backpropagation through one self-attention layer, by hand with NumPy.

One function, :func:`attention_grads_numpy`: the forward pass of a single-head
self-attention layer, a mean-squared-error loss, and the chain rule applied
backwards, one line per forward line, with the formula of each line beside it.
PyTorch's autograd computes the same numbers (``tests/test_backprop.py`` checks it).
"""

from __future__ import annotations

import numpy as np

from . import _checks

__all__ = ["attention_grads_numpy"]


def attention_grads_numpy(X, W_q, W_k, W_v, Y):
    r"""Loss and gradients of one self-attention layer, by hand with NumPy.

    The layer computes :math:`O = \operatorname{softmax}(X W_q (X W_k)^\top / \sqrt{d_k})\, X W_v`
    and the loss is the mean squared error :math:`L = \frac{1}{2n} \sum_{i,j} (O_{ij} - Y_{ij})^2`.
    Backpropagation applies the chain rule from the loss back to each matrix:

    .. math::

        \frac{\partial L}{\partial O} = \tfrac{1}{n}(O - Y), \quad
        \frac{\partial L}{\partial A} = \frac{\partial L}{\partial O} V^\top, \quad
        \frac{\partial L}{\partial V} = A^\top \frac{\partial L}{\partial O},

        \frac{\partial L}{\partial S} = \frac{1}{\sqrt{d_k}}\, A \odot \Big(\frac{\partial L}{\partial A}
            - \operatorname{rowsum}\big(\tfrac{\partial L}{\partial A} \odot A\big)\Big), \quad
        \frac{\partial L}{\partial Q} = \frac{\partial L}{\partial S} K, \quad
        \frac{\partial L}{\partial K} = \Big(\frac{\partial L}{\partial S}\Big)^{\!\top} Q,

    with :math:`S = Q K^\top` the raw scores (the course's notation) and
    :math:`A = \operatorname{softmax}(S / \sqrt{d_k})`, and :math:`\partial L / \partial W_q = X^\top \partial L / \partial Q`, the same for
    :math:`W_k` and :math:`W_v`. Everything is computed in float64.

    Parameters
    ----------
    X : array_like, shape (n, d_model)
        The layer's input, one row per token.
    W_q, W_k : array_like, shape (d_model, d_k)
        Query and key matrices, ``d_k >= 1``.
    W_v : array_like, shape (d_model, d_v)
        Value matrix.
    Y : array_like, shape (n, d_v)
        The target output.

    Returns
    -------
    loss : float
    grads : dict
        ``{"W_q": dL/dW_q, "W_k": dL/dW_k, "W_v": dL/dW_v}``, float64 arrays of the
        same shapes as the matrices.

    Raises
    ------
    ValueError
        Naming the argument, if one is not a 2-D real matrix with at least one row and
        one column (so ``d_k = 0`` is refused), holds NaN or inf, or if the shapes do
        not fit together; or if the scores or the loss overflow float64.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.backprop import attention_grads_numpy
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    >>> W_q, W_k, W_v = rng.normal(size=(4, 2)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    >>> loss, g = attention_grads_numpy(X, W_q, W_k, W_v, Y)
    >>> g["W_q"].shape, g["W_v"].shape
    ((4, 2), (4, 2))

    A gradient entry is the slope of the loss: nudge that entry by ``h`` and the
    loss moves by about ``h`` times the gradient.

    >>> h = 1e-6
    >>> W_q_nudged = W_q.copy(); W_q_nudged[0, 1] += h
    >>> loss_nudged, _ = attention_grads_numpy(X, W_q_nudged, W_k, W_v, Y)
    >>> bool(np.isclose((loss_nudged - loss) / h, g["W_q"][0, 1], rtol=1e-4))
    True
    """
    X, W_q, W_k, W_v, Y = _checks.backprop_inputs(X, W_q, W_k, W_v, Y)  # float64 copies
    n, d_k = X.shape[0], W_q.shape[1]
    scale = _checks.scale(None, d_k)  # 1 / sqrt(d_k)
    # forward pass
    Q, K, V = X @ W_q, X @ W_k, X @ W_v  # (n, d_k), (n, d_k), (n, d_v): Q = X W_q, ...
    S = Q @ K.T  # (n, n): S = Q K^T, the raw scores
    S_max = (S * scale).max(axis=1, keepdims=True)  # (n, 1)
    _checks.scores_overflow(S_max)
    A = np.exp(S * scale - S_max)
    A /= A.sum(axis=1, keepdims=True)  # (n, n): A = softmax(S / sqrt(d_k)), rows sum to 1
    O = A @ V  # (n, d_v): O = A V
    loss = 0.5 * np.sum((O - Y) ** 2) / n  # L = sum (O - Y)^2 / 2n
    _checks.finite_result(loss, "the loss", "O = A V or Y overflows float64: rescale X, W_v or Y")
    # backward pass: each line is the chain rule for one forward line, in reverse order
    dO = (O - Y) / n  # (n, d_v): dL/dO = (O - Y) / n
    dA = dO @ V.T  # (n, n): dL/dA = dL/dO V^T
    dV = A.T @ dO  # (n, d_v): dL/dV = A^T dL/dO
    # (n, n): softmax backward, row by row, then the scale: dL/dS for the raw S
    dS = A * (dA - np.sum(dA * A, axis=1, keepdims=True)) * scale
    dQ = dS @ K  # (n, d_k): dL/dQ = dL/dS K
    dK = dS.T @ Q  # (n, d_k): dL/dK = (dL/dS)^T Q
    return float(loss), {"W_q": X.T @ dQ, "W_k": X.T @ dK, "W_v": X.T @ dV}  # dL/dW = X^T dL/d(X W)
