"""Automatic checks for the exercises: they say what is wrong, in plain words.

Every check either returns ``True`` after printing one line that starts with
``"Correct: "``, or raises :class:`CheckError` with a message a learner can act
on: the wrong shape (both shapes named), a NaN, a row of weights that does not
sum to one, or the first entry that differs from the reference and by how much.

The weight checks also recognise the usual mistakes before falling back to the
generic difference: forgetting the ``1/sqrt(d_k)`` scale, dividing by ``d_k``
instead of ``sqrt(d_k)``, softmax over the wrong axis, ``K`` not transposed
(or ``q`` and ``k`` swapped) and a mask applied with the wrong polarity.

Reference values come from :mod:`selfattn.attention`.
"""

from __future__ import annotations

import math

import numpy as np

from .attention import causal_mask, scaled_dot_product_attention, softmax

__all__ = [
    "CheckError",
    "check_array",
    "check_scores",
    "check_weights",
    "check_attention",
    "check_context_vector",
    "check_query",
    "check_dot_product",
]


class CheckError(AssertionError):
    """Raised by a check when an answer is wrong; the message says what is wrong."""


def _ok(message: str) -> bool:
    print(f"Correct: {message}")
    return True


def _to_array(answer, name: str) -> np.ndarray:
    """``answer`` as a float ndarray (torch tensors and nested lists accepted)."""
    if hasattr(answer, "detach") and hasattr(answer, "numpy"):  # a torch tensor
        answer = answer.detach().cpu().numpy()
    if answer is None:
        raise CheckError(f"{name} is None: did you forget to `return` it?")
    try:
        arr = np.asarray(answer)
    except Exception as exc:  # ragged lists and the like
        raise CheckError(f"{name} cannot be turned into an array: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise CheckError(f"{name} must hold numbers, got {type(answer).__name__} with dtype {arr.dtype}")
    return arr.astype(np.float64)


def _verb(name: str, singular: str, plural: str) -> str:
    """``"your weights differ"`` but ``"your answer differs"``."""
    return plural if name.endswith("s") else singular


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def check_array(answer, expected, name: str = "your answer", rtol: float = 1e-6,
                atol: float = 1e-8) -> bool:
    """Check that ``answer`` equals ``expected`` entry by entry.

    Parameters
    ----------
    answer : array_like
        The learner's array (NumPy array, list or torch tensor).
    expected : array_like
        The reference.
    name : str, default "your answer"
        How the answer is called in the messages.
    rtol, atol : float
        Tolerances as in :func:`numpy.allclose`.

    Returns
    -------
    bool
        ``True``, after printing a line that starts with ``"Correct: "``.

    Raises
    ------
    CheckError
        If the answer is not numeric, has the wrong shape (both shapes are
        named), contains NaN or infinity, or differs from the reference (the
        first differing entry is named with both values and the difference).

    Examples
    --------
    >>> from selfattn.exercises import check_array
    >>> check_array([1.0, 2.0], [1.0, 2.0])
    Correct: your answer matches the expected values.
    True
    >>> check_array([1.0, 2.5], [1.0, 2.0])
    Traceback (most recent call last):
    ...
    selfattn.exercises.CheckError: your answer differs from the expected values at index (1,): you have 2.5, expected 2, difference 0.5 (1 of 2 entries differ).
    """
    ans = _to_array(answer, name)
    exp = np.asarray(expected, dtype=np.float64)
    if ans.shape != exp.shape:
        hint = ""
        if ans.ndim == 2 and ans.shape == exp.shape[::-1]:
            hint = " It is the transposed shape: did you transpose something you should not have, or forget a transpose?"
        raise CheckError(f"{name} {_verb(name, 'has', 'have')} shape {ans.shape}, expected shape {exp.shape}.{hint}")
    bad = ~np.isfinite(ans)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckError(
            f"{name} {_verb(name, 'contains', 'contain')} {int(bad.sum())} NaN or infinite value(s); the first is {ans[idx]} "
            f"at index {idx}. NaN often comes from exp() of a huge number or 0/0 in a fully masked row."
        )
    diff = ~np.isclose(ans, exp, rtol=rtol, atol=atol)
    if diff.any():
        idx = tuple(int(i) for i in np.argwhere(diff)[0])
        raise CheckError(
            f"{name} {_verb(name, 'differs', 'differ')} from the expected values at index {idx}: you have {ans[idx]:.6g}, "
            f"expected {exp[idx]:.6g}, difference {ans[idx] - exp[idx]:.3g} "
            f"({int(diff.sum())} of {diff.size} entries differ)."
        )
    return _ok(f"{name} {_verb(name, 'matches', 'match')} the expected values.")


def _qk(q, k):
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if q.ndim != 2 or k.ndim != 2 or q.shape[1] != k.shape[1]:
        raise ValueError(f"the check needs q (n_q, d_k) and k (n_k, d_k), got {q.shape} and {k.shape}")
    return q, k


def check_scores(answer, q, k, scale=None) -> bool:
    """Check the score matrix ``q @ k.T`` (times ``scale`` if given).

    Parameters
    ----------
    answer : array_like, shape (n_q, n_k)
    q : array_like, shape (n_q, d_k)
    k : array_like, shape (n_k, d_k)
    scale : float, optional
        If given, the expected scores are ``scale * q @ k.T``.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        On a wrong answer; says so when the answer is the transpose (``k @ q.T``)
        or when the scale is missing or wrongly applied.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.exercises import check_scores
    >>> q = np.array([[1.0, 0.0], [0.0, 2.0]]); k = np.array([[1.0, 1.0], [3.0, 0.0]])
    >>> check_scores(q @ k.T, q, k)
    Correct: your scores are q @ k.T: one row per query, one column per key.
    True
    """
    q, k = _qk(q, k)
    raw = q @ k.T  # (n_q, n_k)
    expected = raw if scale is None else raw * scale
    ans = _to_array(answer, "your scores")
    if ans.ndim == 2 and ans.shape == expected.shape[::-1] and ans.shape != expected.shape:
        raise CheckError(
            f"your scores have shape {ans.shape}, expected {expected.shape} (n_q, n_k): "
            "your matrix is the transpose of the scores: rows must be queries. Compute q @ k.T, not k @ q.T."
        )
    if ans.shape == expected.shape and np.isfinite(ans).all() and not _close(ans, expected, 1e-6, 1e-8):
        if ans.shape[0] == ans.shape[1] and _close(ans, expected.T, 1e-6, 1e-8):
            raise CheckError(
                "your matrix is the transpose of the scores: rows must be queries. "
                "Compute q @ k.T (row i = query i, column j = key j), not k @ q.T."
            )
        if scale is not None and _close(ans, raw, 1e-6, 1e-8):
            raise CheckError(f"your scores are q @ k.T without the scale: multiply them by {scale:.6g}.")
        if scale is None:
            d_k = q.shape[1]
            if _close(ans, raw / math.sqrt(d_k), 1e-6, 1e-8):
                raise CheckError(
                    "your scores are divided by sqrt(d_k); this exercise asks for the raw scores q @ k.T."
                )
    check_array_quiet(ans, expected, "your scores")
    return _ok("your scores are q @ k.T" + ("" if scale is None else f" times {scale:.6g}")
               + ": one row per query, one column per key.")


def check_array_quiet(answer, expected, name: str, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """Like :func:`check_array` but prints nothing on success (for building other checks)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        check_array(answer, expected, name=name, rtol=rtol, atol=atol)


def _reference_weights(q, k, mask=None, scale=None) -> np.ndarray:
    d_k = q.shape[-1]
    s = 1.0 / math.sqrt(d_k) if scale is None else scale
    return softmax((q @ k.T) * s, axis=-1, mask=mask)


def _diagnose_weights(ans: np.ndarray, q, k, mask, scale, rtol, atol) -> str | None:
    """Name the typical mistake that produces ``ans``, or ``None``."""
    d_k = q.shape[-1]
    s = 1.0 / math.sqrt(d_k) if scale is None else scale
    raw = q @ k.T  # (n_q, n_k)
    candidates = []
    if not math.isclose(s, 1.0):
        candidates.append((softmax(raw, axis=-1, mask=mask),
                           f"you forgot the scale: your weights are softmax(q @ k.T); divide the scores by "
                           f"sqrt(d_k) = {math.sqrt(d_k):.6g} before the softmax."))
    if scale is None and d_k > 1:
        candidates.append((softmax(raw / d_k, axis=-1, mask=mask),
                           f"you divided the scores by d_k = {d_k}; divide by sqrt(d_k) = {math.sqrt(d_k):.6g} instead."))
    if k.shape[0] == k.shape[1]:  # q @ k runs without error only when n_k == d_k
        candidates.append((softmax((q @ k) * s, axis=-1, mask=mask),
                           "K is not transposed: your scores are q @ k; use q @ k.T so that entry (i, j) "
                           "is the dot product of query i with key j."))
    if raw.shape[0] == raw.shape[1]:
        candidates.append((softmax(raw.T * s, axis=-1, mask=mask),
                           "your weights come from k @ q.T (K not transposed, or q and k swapped): "
                           "compute the scores as q @ k.T so that row i belongs to query i."))
    candidates.append((softmax(raw * s, axis=0, mask=mask),
                       "you applied softmax over the wrong axis: your columns sum to one. "
                       "Use the last axis (axis=-1) so that each query's row sums to one."))
    if mask is not None:
        inv = ~np.asarray(mask, dtype=bool)
        cand = softmax(raw * s, axis=-1, mask=inv)
        empty = ~inv.any(axis=-1)  # rows the inverted mask hides completely
        if empty.any():  # a learner who masks with -1e9 gets uniform weights there: accept those too
            cand = np.where(empty[:, None], ans, cand)
        candidates.append((cand,
                           "your mask has the wrong polarity: you hid the positions that may be attended to "
                           "and kept the others. In selfattn, mask True = may attend; hide where mask is False."))
        candidates.append((softmax(raw * s, axis=-1),
                           "you ignored the mask: masked positions (mask False) must get weight 0."))
    for cand, message in candidates:
        if cand.shape == ans.shape and np.isfinite(cand).all() and _close(ans, cand, rtol, atol):
            return message
    return None


def check_weights(answer, q, k, mask=None, scale=None, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    """Check attention weights ``softmax(q @ k.T * scale)`` (masked if ``mask`` is given).

    The checks run in this order: shape, NaN, non-negative, each row sums to
    one (or to zero if every key of that row is masked), then the typical
    mistakes, then the first differing entry.

    Parameters
    ----------
    answer : array_like, shape (n_q, n_k)
    q : array_like, shape (n_q, d_k)
    k : array_like, shape (n_k, d_k)
    mask : array_like of bool, optional
        ``True`` where query ``i`` may attend to key ``j``.
    scale : float, optional
        Defaults to ``1 / sqrt(d_k)``.
    rtol, atol : float
        Tolerances.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        With the diagnosis of what is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import softmax
    >>> from selfattn.exercises import check_weights
    >>> q = np.array([[1.0, 0.0], [0.0, 1.0]]); k = np.array([[2.0, 0.0], [1.0, 1.0]])
    >>> check_weights(softmax(q @ k.T / np.sqrt(2)), q, k)
    Correct: your weights are softmax(q @ k.T / sqrt(d_k)); every row sums to one.
    True
    >>> check_weights(softmax(q @ k.T), q, k)
    Traceback (most recent call last):
    ...
    selfattn.exercises.CheckError: you forgot the scale: your weights are softmax(q @ k.T); divide the scores by sqrt(d_k) = 1.41421 before the softmax.
    """
    q, k = _qk(q, k)
    if mask is not None:
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), (q.shape[0], k.shape[0]))  # (n_q, n_k)
    expected = _reference_weights(q, k, mask=mask, scale=scale)  # (n_q, n_k)
    name = "your weights"
    ans = _to_array(answer, name)
    if ans.shape != expected.shape:
        check_array_quiet(ans, expected, name)  # raises the shape message
    bad = ~np.isfinite(ans)
    if bad.any():
        check_array_quiet(ans, expected, name)  # raises the NaN message
    if (ans < -atol).any():
        idx = tuple(int(i) for i in np.argwhere(ans < -atol)[0])
        raise CheckError(
            f"{name} contain a negative value {ans[idx]:.6g} at index {idx}: "
            "weights come out of a softmax and are never negative. Did you forget the softmax?"
        )
    sums = ans.sum(axis=-1)  # (n_q,)
    target = expected.sum(axis=-1)  # 1, or 0 for a fully masked row
    off = ~np.isclose(sums, target, rtol=1e-6, atol=1e-6)
    if off.any():
        i = int(np.argmax(off))
        message = (f"row {i} of {name} sums to {sums[i]:.6g}, but each row must sum to "
                   f"{target[i]:.6g}: the weights of one query are shared out over the keys.")
        diag = _diagnose_weights(ans, q, k, mask, scale, rtol, atol)
        if diag is not None:
            message += " Likely cause: " + diag
        raise CheckError(message)
    if _close(ans, expected, rtol, atol):
        what = "softmax(q @ k.T / sqrt(d_k))" if scale is None else f"softmax(q @ k.T * {scale:.6g})"
        if mask is not None:
            what += " with the mask applied"
        return _ok(f"{name} are {what}; every row sums to one.")
    diag = _diagnose_weights(ans, q, k, mask, scale, rtol, atol)
    if diag is not None:
        raise CheckError(diag)
    check_array_quiet(ans, expected, name, rtol=rtol, atol=atol)
    raise AssertionError("unreachable")  # pragma: no cover


def _attention_cases():
    """Fixed, seeded cases for :func:`check_attention`: (description, q, k, v, mask)."""
    rng = np.random.default_rng(2024)
    cases = []
    q = rng.normal(size=(4, 4)); k = rng.normal(size=(4, 4)); v = rng.normal(size=(4, 2))
    cases.append(("case 1 (4 tokens, d_k=4, no mask)", q, k, v, None))
    q = rng.normal(size=(5, 3)); k = rng.normal(size=(5, 3)); v = rng.normal(size=(5, 3))
    cases.append(("case 2 (5 tokens, d_k=3, causal mask)", q, k, v, causal_mask(5)))
    q = rng.normal(size=(3, 8)) * 2; k = rng.normal(size=(3, 8)) * 2; v = rng.normal(size=(3, 3))
    mask = np.array([[True, True, False], [True, True, False], [True, True, False]])
    cases.append(("case 3 (3 tokens, d_k=8, last key masked)", q, k, v, mask))
    return cases


def check_attention(fn) -> bool:
    """Call ``fn(q, k, v, mask=None)`` on fixed seeded cases and check output and weights.

    ``fn`` must return ``(output, weights)``, like
    :func:`selfattn.scaled_dot_product_attention`. The cases cover no mask,
    a causal mask and a padding-like mask, with ``d_k`` of 3, 4 and 8.

    Parameters
    ----------
    fn : callable
        The learner's attention function.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case that failed and what is wrong in it.

    Examples
    --------
    >>> from selfattn import scaled_dot_product_attention
    >>> from selfattn.exercises import check_attention
    >>> check_attention(scaled_dot_product_attention)
    Correct: your attention function passes all 3 cases (weights and outputs).
    True
    """
    cases = _attention_cases()
    for desc, q, k, v, mask in cases:
        try:
            result = fn(q.copy(), k.copy(), v.copy(), mask=None if mask is None else mask.copy())
        except CheckError:
            raise
        except Exception as exc:
            hint = ""
            if "matmul" in str(exc) or "mat1 and mat2" in str(exc) or "shapes" in str(exc):
                hint = (f" q and k both have shape {q.shape}: a product of q and k needs k transposed, "
                        "q @ k.T (shape (n_q, n_k)). Did you forget the transpose?")
            raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}.{hint}") from exc
        if not isinstance(result, tuple) or len(result) != 2:
            raise CheckError(
                f"{desc}: your function must return a pair (output, weights), got {type(result).__name__}"
                + (f" of length {len(result)}" if isinstance(result, tuple) else "")
            )
        out, w = result
        exp_out, exp_w = scaled_dot_product_attention(q, k, v, mask=mask)
        try:
            _quiet(check_weights, w, q, k, mask=mask)
        except CheckError as err:
            raise CheckError(f"{desc}: {err}") from None
        try:
            check_array_quiet(out, exp_out, "your output")
        except CheckError as err:
            hint = ""
            o = _to_array(out, "your output")
            if o.shape == exp_out.shape and _close(o, np.asarray(w, dtype=float).T @ v, 1e-6, 1e-8):
                hint = " Your output is weights.T @ v; use weights @ v."
            raise CheckError(f"{desc}: the weights are right but {err}{hint}") from None
    return _ok(f"your attention function passes all {len(cases)} cases (weights and outputs).")


def _quiet(check, *args, **kwargs):
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return check(*args, **kwargs)


def check_context_vector(answer, weights_row, v) -> bool:
    """Check one context vector: the weighted sum ``weights_row @ v``.

    Parameters
    ----------
    answer : array_like, shape (d_v,)
    weights_row : array_like, shape (n,)
        One query's attention weights.
    v : array_like, shape (n, d_v)
        The value vectors, one row per token.

    Returns
    -------
    bool

    Raises
    ------
    CheckError
        If the answer has the wrong shape, is an unweighted sum or mean, or
        differs from ``weights_row @ v``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.exercises import check_context_vector
    >>> check_context_vector([1.5, 0.5], [0.5, 0.5], np.array([[1.0, 0.0], [2.0, 1.0]]))
    Correct: your context vector is the weighted sum of the value rows.
    True
    """
    w = np.asarray(weights_row, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if w.ndim != 1 or v.ndim != 2 or v.shape[0] != w.shape[0]:
        raise ValueError(f"the check needs weights_row (n,) and v (n, d_v), got {w.shape} and {v.shape}")
    expected = w @ v  # (d_v,)
    ans = _to_array(answer, "your context vector")
    if ans.shape == expected.shape and np.isfinite(ans).all() and not _close(ans, expected, 1e-6, 1e-8):
        if _close(ans, v.sum(axis=0), 1e-6, 1e-8):
            raise CheckError("your context vector is the plain sum of the values: multiply each value row by its weight first.")
        if _close(ans, v.mean(axis=0), 1e-6, 1e-8):
            raise CheckError("your context vector is the plain mean of the values: weight each value row by its attention weight.")
    check_array_quiet(ans, expected, "your context vector")
    return _ok("your context vector is the weighted sum of the value rows.")


def check_query(answer, x, W_q) -> bool:
    """Check queries ``Q = X @ W_q`` (row vectors).

    Parameters
    ----------
    answer : array_like, shape (n, d_k) or (d_k,) for a single word
    x : array_like, shape (n, d_model) or (d_model,)
    W_q : array_like, shape (d_model, d_k)

    Returns
    -------
    bool

    Raises
    ------
    CheckError
        On a wrong shape or value; recognises ``W_q @ x`` style mistakes
        (using ``W_q.T``) and element-wise products.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.exercises import check_query
    >>> x = np.array([[1.0, 0.0]]); W_q = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> check_query(x @ W_q, x, W_q)
    Correct: your queries are X @ W_q, shape (1, 3).
    True
    """
    x = np.asarray(x, dtype=np.float64)
    W = np.asarray(W_q, dtype=np.float64)
    if W.ndim != 2 or x.shape[-1] != W.shape[0]:
        raise ValueError(f"the check needs x (..., d_model) and W_q (d_model, d_k), got {x.shape} and {W.shape}")
    expected = x @ W  # (..., d_k)
    ans = _to_array(answer, "your queries")
    if ans.shape != expected.shape and ans.shape == x.shape:
        raise CheckError(
            f"your queries have shape {ans.shape}, the shape of X; expected {expected.shape}: "
            "multiply by W_q with the matrix product @, not element-wise *."
        )
    check_array_quiet(ans, expected, "your queries")
    return _ok(f"your queries are X @ W_q, shape {expected.shape}.")


def check_dot_product(answer, a, b) -> bool:
    """Check one dot product ``a . b`` (a number).

    Raises
    ------
    CheckError
        If the answer is not one number, or is the element-wise product, or
        is the cosine (the dot product divided by both lengths), or differs.

    Examples
    --------
    >>> from selfattn.exercises import check_dot_product
    >>> check_dot_product(11.0, [1.0, 2.0], [3.0, 4.0])
    Correct: your dot product is 11.
    True
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"the check needs two vectors of the same length, got {a.shape} and {b.shape}")
    expected = float(a @ b)
    ans = _to_array(answer, "your dot product")
    if ans.shape != ():
        if ans.shape == a.shape and _close(ans, a * b, 1e-6, 1e-8):
            raise CheckError(
                f"your answer is the element-wise product a * b, shape {ans.shape}; "
                "the dot product adds those products up into one number: a @ b."
            )
        raise CheckError(f"your dot product has shape {ans.shape}, expected one number (shape ()).")
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na > 0 and nb > 0 and not math.isclose(float(ans), expected, rel_tol=1e-6, abs_tol=1e-8) \
            and math.isclose(float(ans), expected / (na * nb), rel_tol=1e-6, abs_tol=1e-8):
        raise CheckError(
            "your answer is the cosine of the angle (the dot product divided by both lengths); "
            f"the dot product keeps the lengths: |a| |b| cos(theta) = {na:.4g} * {nb:.4g} * cos(theta)."
        )
    check_array_quiet(ans, expected, "your dot product")
    return _ok(f"your dot product is {expected:.6g}.")
