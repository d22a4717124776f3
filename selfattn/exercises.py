"""Automatic checks for the exercises: they say what is wrong, in plain words.

Every check either returns ``True`` after printing one line that starts with
``"Correct: "``, or raises :class:`CheckError` with a message a learner can act
on: the wrong shape (both shapes named), a NaN, a row of weights that does not
sum to one, or the first entry that differs from the reference and by how much.
Misuse of a check itself (``q`` and ``k`` of different sizes, an additive float
mask, a negative tolerance) raises a ``ValueError`` from :mod:`selfattn._checks`,
the same message the core functions give.

The weight checks also recognise the usual mistakes before falling back to the
generic difference: forgetting the scale, dividing by ``d_k`` instead of
``sqrt(d_k)``, ignoring or dividing by a given ``scale``, softmax over the wrong
axis, ``K`` not transposed (or ``q`` and ``k`` swapped) and a mask applied with
the wrong polarity.

**Tolerance.** It follows the precision of the answer (in :func:`check_array`, the less
precise of the answer and the reference decides). An entry passes when
``|answer - expected| <= atol + rtol * max|expected|`` (relative to the largest
expected entry, because float32 rounding errors grow with the numbers being added,
not with the result):

============================  ========  ========
answer                        rtol      atol
============================  ========  ========
float64 (also Python floats)  1e-9      1e-6
float32 (NumPy or torch)      1e-5      1e-6
integers (answer and ref.)    0         0
============================  ========  ========

So a correct float32 answer passes, and so does an answer rounded to 6 decimals
(at most 5e-7 off), while an error of 1e-3 fails at either precision. Every
message about a difference names the tolerance it used. Half-precision answers
(float16, bfloat16) are refused: they keep about three digits, too few to tell a
right answer from a small mistake. Answers may be NumPy arrays, torch tensors,
lists or numbers; ``True`` and complex numbers are not accepted as numbers, and
shapes that differ only by leading axes of size 1 (``[11.0]`` for a number,
``(1, d_k)`` for one query) are accepted.

Reference values come from :mod:`selfattn.attention`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from . import _checks
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
    # a learner's function checked against PyTorch
    "check_queries_torch",
    "check_four_steps_torch",
    "check_score_matrix_torch",
    "check_context_vectors_torch",
    "check_attention_torch",
    "check_multi_head_attention",
    "check_attention_flops_torch",
    "check_block_forward_torch",
]

_TOLERANCES = {"float64": (1e-9, 1e-6), "float32": (1e-5, 1e-6), "integer": (0.0, 0.0)}  # (rtol, atol)


class CheckError(AssertionError):
    """Raised by a check when an answer is wrong; the message says what is wrong."""


def _ok(message: str) -> bool:
    print(f"Correct: {message}")
    return True


def _verb(name: str, singular: str, plural: str) -> str:
    """``"your weights differ"`` but ``"your answer differs"``."""
    return plural if name.endswith("s") else singular


# --------------------------------------------------------------------------- #
# answers, references and the tolerance
# --------------------------------------------------------------------------- #
def _numpy(x):
    """A torch tensor as a NumPy array (detached, on the CPU); anything else unchanged."""
    return x.detach().cpu().resolve_conj().numpy() if _checks.is_tensor(x) else x


def _answer(answer, name: str):
    """The learner's answer as a finite float64 array, and the dtype it came in (which sets the tolerance)."""
    if answer is None:
        raise CheckError(f"{name} {_verb(name, 'is', 'are')} None: did you forget to `return` it?")
    half = str(getattr(answer, "dtype", "")) in ("torch.float16", "torch.bfloat16", "float16")
    if half:
        raise CheckError(f"{name} is {answer.dtype}: half precision keeps about three digits, too few to "
                         "tell a right answer from a small mistake; compute in float32 or float64.")
    answer = _numpy(answer)
    try:
        arr = _checks.float_array(answer, name)
    except ValueError as err:
        hint = " True and False are not numbers: give the number itself." if "bool" in str(err) else ""
        raise CheckError(f"{err}.{hint}") from None
    try:
        _checks.finite(arr, "the array")
    except ValueError as err:
        raise CheckError(f"{name}: {err}. NaN often comes from exp() of a huge number or 0/0 in a fully "
                         "masked row.") from None
    return arr.astype(np.float64), np.asarray(answer).dtype


def _reference(expected, name: str = "expected"):
    """The reference of :func:`check_array` as a finite float64 array, and its dtype."""
    expected = _numpy(expected)
    arr = _checks.float_array(expected, name)
    _checks.finite(arr, name)
    return arr.astype(np.float64), np.asarray(expected).dtype


@dataclass(frozen=True)
class _Tolerance:
    rtol: float
    atol: float
    kind: str  # "float64", "float32", "integer" or "given"
    label: str  # what chose it, for the messages

    def bound(self, expected: np.ndarray) -> float:
        """The largest |difference| an entry may have."""
        return self.atol + self.rtol * (float(np.abs(expected).max()) if expected.size else 0.0)

    def close(self, answer: np.ndarray, expected: np.ndarray) -> bool:
        if answer.shape != expected.shape or not np.isfinite(expected).all():
            return False  # an overflowed candidate would be "close" to any answer
        return bool((np.abs(answer - expected) <= self.bound(expected)).all())

    def __str__(self) -> str:
        if self.kind == "integer":
            return "integers are compared exactly"
        return f"{self.label}: |difference| <= {self.atol:g} + {self.rtol:g} * max|expected|"


def _tolerance(answer_dtype, expected_dtype=np.dtype(np.float64), rtol=None, atol=None) -> _Tolerance:
    """The tolerance for an answer of ``answer_dtype``: the less precise of the answer and the reference."""
    def single(d):
        return np.issubdtype(d, np.floating) and d.itemsize < 8

    if np.issubdtype(answer_dtype, np.integer) and np.issubdtype(expected_dtype, np.integer):
        kind, label = "integer", "integers"
    elif single(answer_dtype):
        kind, label = "float32", f"tolerance for a {answer_dtype} answer"
    elif single(expected_dtype):
        kind, label = "float32", f"tolerance for {expected_dtype} expected values"
    else:
        kind, label = "float64", "tolerance for a float64 answer"
    r, a = _TOLERANCES[kind]
    if rtol is None and atol is None:
        return _Tolerance(r, a, kind, label)
    r = r if rtol is None else _checks.non_negative_number(rtol, "rtol")
    a = a if atol is None else _checks.non_negative_number(atol, "atol")
    return _Tolerance(r, a, "given", "tolerance you passed")


def _fit(ans: np.ndarray, shape: tuple) -> np.ndarray:
    """``ans`` reshaped to ``shape`` if the two differ only by leading axes of size 1."""
    def core(s):
        s = tuple(s)
        while s and s[0] == 1:
            s = s[1:]
        return s

    return ans.reshape(shape) if ans.shape != tuple(shape) and core(ans.shape) == core(shape) else ans


def _shaped(ans: np.ndarray, shape: tuple, name: str) -> np.ndarray:
    """``ans`` fitted to ``shape``; raise naming both shapes if it does not fit."""
    ans = _fit(ans, shape)
    if ans.shape != tuple(shape):
        hint = ""
        if ans.ndim == 2 and ans.shape == tuple(shape)[::-1]:
            hint = (" It is the transposed shape: did you transpose something you should not have, "
                    "or forget a transpose?")
        have = _verb(name, "has", "have")
        raise CheckError(f"{name} {have} shape {ans.shape}, expected shape {shape}.{hint}")
    return ans


def _compare(ans: np.ndarray, exp: np.ndarray, name: str, tol: _Tolerance) -> np.ndarray:
    """``ans`` fitted to ``exp``'s shape; raise on the wrong shape or the first entry that differs."""
    ans = _shaped(ans, exp.shape, name)
    diff = np.abs(ans - exp) > tol.bound(exp)
    if diff.any():
        idx = tuple(int(i) for i in np.argwhere(diff)[0])
        hint = ""
        if tol.kind == "float64" and _Tolerance(*_TOLERANCES["float32"], "float32", "").close(ans, exp):
            hint = (" Your answer is right to float32 precision: if you computed in float32 and then "
                    "converted to float64, give the float32 result itself, or compute in float64.")
        raise CheckError(
            f"{name} {_verb(name, 'differs', 'differ')} from the expected values at index {idx}: you have "
            f"{ans[idx]:.8g}, expected {exp[idx]:.8g}, difference {ans[idx] - exp[idx]:.3g} "
            f"({int(diff.sum())} of {diff.size} entries differ; {tol}).{hint}"
        )
    return ans


def _scores(q, k, s) -> np.ndarray:
    """The expected scores ``q @ k.T * s``; refused if they overflow (every answer would be within inf)."""
    with np.errstate(over="ignore", invalid="ignore"):
        scores = (q @ k.T) * s  # (n_q, n_k)
    _checks.finite_result(scores, "q @ k.T * scale", "the expected scores overflow float64; scale, q or k "
                          "is too large for this check")
    return scores


def _candidate(scores, axis=-1, mask=None):
    """The softmax of a typical mistake's scores, or ``None`` if they overflow (no answer can match them)."""
    return softmax(scores, axis=axis, mask=mask) if np.isfinite(scores).all() else None


def _query_key(q, k, mask=None, scale=None):
    """q (n_q, d_k) (one query (d_k,) becomes one row), k (n_k, d_k), the mask broadcast to the scores
    and the scale, checked by :mod:`selfattn._checks`; q and k in float64."""
    q = _checks.float_array(_numpy(q), "q")
    q = _checks.matrix(q[None, :] if q.ndim == 1 else q, "q", "(n_q, d_k), or (d_k,) for one query")
    k = _checks.matrix(_numpy(k), "k", "(n_k, d_k)")
    q, k, _, mask, s = _checks.attention_inputs(q, k, k, mask, scale)  # d_k agrees, mask, scale
    if mask is not None:
        mask = np.broadcast_to(mask, (q.shape[0], k.shape[0]))  # (n_q, n_k)
    return q.astype(np.float64), k.astype(np.float64), mask, s


# --------------------------------------------------------------------------- #
# the checks
# --------------------------------------------------------------------------- #
def check_array(answer, expected, name: str = "your answer", rtol=None, atol=None) -> bool:
    """Check that ``answer`` equals ``expected`` entry by entry.

    Parameters
    ----------
    answer : array_like
        The learner's array (NumPy array, list, number or torch tensor).
    expected : array_like
        The reference (NumPy array, list, number or torch tensor).
    name : str, default "your answer"
        How the answer is called in the messages.
    rtol, atol : float, optional
        Override the tolerance, which otherwise follows the precision of the
        answer and the reference (see the module docstring); ``rtol=0, atol=0``
        asks for exact equality.

    Returns
    -------
    bool
        ``True``, after printing a line that starts with ``"Correct: "``.

    Raises
    ------
    CheckError
        If the answer is not numeric (a bool, a complex number, text, None),
        has the wrong shape (both shapes are named), contains NaN or infinity,
        or differs from the reference (the first differing entry is named with
        both values, the difference and the tolerance used).
    ValueError
        If ``expected`` is not a finite real array, ``rtol`` / ``atol`` is
        negative or not a number, or ``name`` is not a non-empty str.

    Examples
    --------
    >>> from selfattn.exercises import check_array
    >>> check_array([1.0, 2.0], [1.0, 2.0])
    Correct: your answer matches the expected values.
    True
    >>> check_array([1.0, 2.5], [1.0, 2.0])  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    selfattn.exercises.CheckError: your answer differs from the expected values at index (1,):
    you have 2.5, expected 2, difference 0.5 (1 of 2 entries differ; tolerance for a float64 answer:
    |difference| <= 1e-06 + 1e-09 * max|expected|).
    """
    name = _checks.string(name, "name")
    exp, exp_dtype = _reference(expected)
    ans, ans_dtype = _answer(answer, name)
    _compare(ans, exp, name, _tolerance(ans_dtype, exp_dtype, rtol, atol))
    return _ok(f"{name} {_verb(name, 'matches', 'match')} the expected values.")


def check_scores(answer, q, k, scale=None) -> bool:
    """Check the score matrix ``q @ k.T`` (times ``scale`` if given).

    Parameters
    ----------
    answer : array_like, shape (n_q, n_k)
    q : array_like, shape (n_q, d_k), or (d_k,) for one query
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
    ValueError
        If ``q`` and ``k`` are not finite real matrices of the same ``d_k``,
        ``scale`` is not a finite number, or the expected scores overflow float64.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.exercises import check_scores
    >>> q = np.array([[1.0, 0.0], [0.0, 2.0]]); k = np.array([[1.0, 1.0], [3.0, 0.0]])
    >>> check_scores(q @ k.T, q, k)
    Correct: your scores are q @ k.T: one row per query, one column per key.
    True
    """
    q, k, _, s = _query_key(q, k, scale=scale)
    raw = _scores(q, k, 1.0)  # (n_q, n_k)
    expected = raw if scale is None else _scores(q, k, s)
    ans, dtype = _answer(answer, "your scores")
    tol = _tolerance(dtype)
    ans = _fit(ans, expected.shape)
    if ans.ndim == 2 and ans.shape == expected.shape[::-1] != expected.shape:
        raise CheckError(
            f"your scores have shape {ans.shape}, expected {expected.shape} (n_q, n_k): "
            "your matrix is the transpose of the scores: rows must be queries. Compute q @ k.T, not k @ q.T."
        )
    if ans.shape == expected.shape and not tol.close(ans, expected):
        if ans.shape[0] == ans.shape[1] and tol.close(ans, expected.T):
            raise CheckError(
                "your matrix is the transpose of the scores: rows must be queries. "
                "Compute q @ k.T (row i = query i, column j = key j), not k @ q.T."
            )
        if scale is not None and tol.close(ans, raw):
            raise CheckError(f"your scores are q @ k.T without the scale: multiply them by {s:.6g}.")
        if scale is not None and s != 0 and tol.close(ans, raw / s):
            raise CheckError(f"your scores are q @ k.T divided by the scale {s:.6g}: multiply by it instead.")
        if scale is None and tol.close(ans, raw / math.sqrt(q.shape[1])):
            raise CheckError("your scores are divided by sqrt(d_k); this exercise asks for the raw scores "
                             "q @ k.T.")
    _compare(ans, expected, "your scores", tol)
    return _ok("your scores are q @ k.T" + ("" if scale is None else f" times {s:.6g}")
               + ": one row per query, one column per key.")


def _diagnose_weights(ans: np.ndarray, q, k, mask, scale, tol: _Tolerance) -> str | None:
    """Name the typical mistake that produces ``ans``, or ``None``."""
    d_k = q.shape[1]
    s = _checks.scale(scale, d_k)
    raw = q @ k.T  # (n_q, n_k)
    root = math.sqrt(d_k)
    candidates = []
    if not math.isclose(s, 1.0):
        fix = f"divide the scores by sqrt(d_k) = {root:.6g}" if scale is None else f"multiply them by {s:.6g}"
        candidates.append((_candidate(raw, mask=mask),
                           f"you forgot the scale: your weights are softmax(q @ k.T); {fix} before the "
                           "softmax."))
    if scale is None and d_k > 1:
        candidates.append((_candidate(raw / d_k, mask=mask),
                           f"you divided the scores by d_k = {d_k}; divide by sqrt(d_k) = {root:.6g} "
                           "instead."))
    if scale is not None and not math.isclose(s, 1 / root):
        candidates.append((_candidate(raw / root, mask=mask),
                           f"you ignored the scale argument: your scores are divided by sqrt(d_k) = "
                           f"{root:.6g}, but scale = {s:.6g} was given; multiply the scores by scale "
                           "when it is given."))
    if scale is not None and s != 0 and not math.isclose(s * s, 1.0):
        candidates.append((_candidate(raw / s, mask=mask),
                           f"you divided the scores by scale = {s:.6g}; scale is a factor: multiply the "
                           "scores by it, q @ k.T * scale."))
    if k.shape[0] == k.shape[1]:  # q @ k runs without error only when n_k == d_k
        candidates.append((_candidate((q @ k) * s, mask=mask),
                           "K is not transposed: your scores are q @ k; use q @ k.T so that entry (i, j) "
                           "is the dot product of query i with key j."))
    if raw.shape[0] == raw.shape[1]:
        candidates.append((_candidate(raw.T * s, mask=mask),
                           "your weights come from k @ q.T (K not transposed, or q and k swapped): "
                           "compute the scores as q @ k.T so that row i belongs to query i."))
    candidates.append((_candidate(raw * s, axis=0, mask=mask),
                       "you applied softmax over the wrong axis: your columns sum to one. "
                       "Use the last axis (axis=-1) so that each query's row sums to one."))
    if mask is not None:
        inv = ~mask
        cand = _candidate(raw * s, mask=inv)
        empty = ~inv.any(axis=-1)  # rows the inverted mask hides completely
        if empty.any():  # a learner who masks with -1e9 gets uniform weights there: accept those too
            cand = np.where(empty[:, None], ans, cand)
        candidates.append((cand,
                           "your mask has the wrong polarity: you hid the positions that may be attended "
                           "to and kept the others. In selfattn, mask True = may attend; hide where mask "
                           "is False."))
        candidates.append((_candidate(raw * s),
                           "you ignored the mask: masked positions (mask False) must get weight 0."))
    for cand, message in candidates:
        if cand is not None and tol.close(ans, cand):
            return message
    return None


def _check_weights(answer, q, k, mask, scale, rtol=None, atol=None) -> str:
    """The body of :func:`check_weights`: raise on a wrong answer, else say what the weights are."""
    q, k, mask, s = _query_key(q, k, mask, scale)
    expected = softmax(_scores(q, k, s), mask=mask)  # (n_q, n_k)
    name = "your weights"
    ans, dtype = _answer(answer, name)
    tol = _tolerance(dtype, rtol=rtol, atol=atol)
    ans = _shaped(ans, expected.shape, name)
    bound = tol.bound(expected)  # max|expected| <= 1
    if (ans < -bound).any():
        idx = tuple(int(i) for i in np.argwhere(ans < -bound)[0])
        raise CheckError(
            f"{name} contain a negative value {ans[idx]:.6g} at index {idx}: "
            "weights come out of a softmax and are never negative. Did you forget the softmax?"
        )
    sums = ans.sum(axis=-1)  # (n_q,)
    target = expected.sum(axis=-1)  # 1, or 0 for a fully masked row
    off = np.abs(sums - target) > k.shape[0] * bound  # n_k entries, each within the bound
    if off.any():
        i = int(np.argmax(off))
        message = (f"row {i} of {name} sums to {sums[i]:.6g}, but each row must sum to "
                   f"{target[i]:.6g}: the weights of one query are shared out over the keys.")
        diag = _diagnose_weights(ans, q, k, mask, scale, tol)
        raise CheckError(message + ("" if diag is None else " Likely cause: " + diag))
    if not tol.close(ans, expected):
        diag = _diagnose_weights(ans, q, k, mask, scale, tol)
        if diag is not None:
            raise CheckError(diag)
        _compare(ans, expected, name, tol)
    what = "softmax(q @ k.T / sqrt(d_k))" if scale is None else f"softmax(q @ k.T * {s:.6g})"
    return what + ("" if mask is None else " with the mask applied")


def check_weights(answer, q, k, mask=None, scale=None, rtol=None, atol=None) -> bool:
    """Check attention weights ``softmax(q @ k.T * scale)`` (masked if ``mask`` is given).

    The checks run in this order: shape, NaN, non-negative, each row sums to
    one (or to zero if every key of that row is masked), then the typical
    mistakes, then the first differing entry.

    Parameters
    ----------
    answer : array_like, shape (n_q, n_k)
        NumPy array, torch tensor or list; ``(n_k,)`` for a single query.
    q : array_like, shape (n_q, d_k), or (d_k,) for one query
    k : array_like, shape (n_k, d_k)
    mask : array_like of bool, optional
        ``True`` where query ``i`` may attend to key ``j``; must broadcast to
        ``(n_q, n_k)``. An additive float mask (0 / -inf) is refused.
    scale : float, optional
        Defaults to ``1 / sqrt(d_k)``.
    rtol, atol : float, optional
        Override the tolerance, which otherwise follows the precision of the
        answer (see the module docstring).

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        With the diagnosis of what is wrong.
    ValueError
        If ``q``, ``k``, ``mask`` or ``scale`` is not valid (the message of
        :func:`selfattn.scaled_dot_product_attention` for the same input), or
        the expected scores overflow float64.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn import softmax
    >>> from selfattn.exercises import check_weights
    >>> q = np.array([[1.0, 0.0], [0.0, 1.0]]); k = np.array([[2.0, 0.0], [1.0, 1.0]])
    >>> check_weights(softmax(q @ k.T / np.sqrt(2)), q, k)
    Correct: your weights are softmax(q @ k.T / sqrt(d_k)); every row sums to one.
    True
    >>> check_weights(softmax(q @ k.T), q, k)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    selfattn.exercises.CheckError: you forgot the scale: your weights are softmax(q @ k.T); divide the
    scores by sqrt(d_k) = 1.41421 before the softmax.
    """
    what = _check_weights(answer, q, k, mask, scale, rtol, atol)
    return _ok(f"your weights are {what}; every row sums to one.")


def _attention_cases():
    """Fixed, seeded cases for :func:`check_attention`: (description, q, k, v, mask, scale)."""
    rng = np.random.default_rng(2024)
    cases = []
    q = rng.normal(size=(4, 4)); k = rng.normal(size=(4, 4)); v = rng.normal(size=(4, 2))
    cases.append(("case 1 (4 tokens, d_k=4, no mask)", q, k, v, None, None))
    q = rng.normal(size=(5, 3)); k = rng.normal(size=(5, 3)); v = rng.normal(size=(5, 3))
    cases.append(("case 2 (5 tokens, d_k=3, causal mask)", q, k, v, causal_mask(5), None))
    q = rng.normal(size=(3, 8)) * 2; k = rng.normal(size=(3, 8)) * 2; v = rng.normal(size=(3, 3))
    mask = np.array([[True, True, False], [True, True, False], [True, True, False]])
    cases.append(("case 3 (3 tokens, d_k=8, last key masked)", q, k, v, mask, None))
    q = rng.normal(size=(4, 4)); k = rng.normal(size=(4, 4)); v = rng.normal(size=(4, 2))
    cases.append(("case 4 (4 tokens, d_k=4, scale=0.3 given)", q, k, v, None, 0.3))
    return cases


def _call(fn, desc: str, q, k, v, mask, scale):
    """``fn(q, k, v, mask=..., scale=...)`` on copies (``scale`` only when the case sets one) as a pair."""
    kwargs = {"mask": None if mask is None else mask.copy()}
    if scale is not None:
        kwargs["scale"] = scale
    try:
        result = fn(q.copy(), k.copy(), v.copy(), **kwargs)
    except CheckError:
        raise
    except Exception as exc:
        hint = ""
        if "matmul" in str(exc) or "mat1 and mat2" in str(exc) or "shapes" in str(exc):
            hint = (f" q and k both have shape {q.shape}: a product of q and k needs k transposed, "
                    "q @ k.T (shape (n_q, n_k)). Did you forget the transpose?")
        elif isinstance(exc, TypeError) and "scale" in str(exc):
            hint = (" Your function must take a scale argument, def my_attention(q, k, v, mask=None, "
                    "scale=None), and multiply the scores by it when it is given.")
        raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}.{hint}") from exc
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckError(
            f"{desc}: your function must return a pair (output, weights), got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        )
    return result


def check_attention(fn) -> bool:
    """Call ``fn(q, k, v, mask=..., scale=...)`` on fixed seeded cases and check output and weights.

    ``fn`` must return ``(output, weights)`` (a tuple or a list), like
    :func:`selfattn.scaled_dot_product_attention`. The cases cover no mask,
    a causal mask and a padding-like mask with ``d_k`` of 3, 4 and 8, and one
    case passes ``scale=0.3`` (not ``1/sqrt(d_k)``), so a function that ignores
    ``scale`` or divides by it fails. ``scale`` is passed only in that case.

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
    ValueError
        If ``fn`` is not callable (pass the function, not its result).

    Examples
    --------
    >>> from selfattn import scaled_dot_product_attention
    >>> from selfattn.exercises import check_attention
    >>> check_attention(scaled_dot_product_attention)
    Correct: your attention function passes all 4 cases (weights and outputs, with and without a scale).
    True
    """
    _checks.learner_function(fn, "check_attention", "my_attention")
    cases = _attention_cases()
    for desc, q, k, v, mask, scale in cases:
        out, w = _call(fn, desc, q, k, v, mask, scale)
        exp_out, exp_w = scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
        try:
            _check_weights(w, q, k, mask, scale)
        except CheckError as err:
            raise CheckError(f"{desc}: {err}") from None
        try:
            o, dtype = _answer(out, "your output")
            tol = _tolerance(dtype)
            if exp_w.shape[0] == exp_w.shape[1] and tol.close(_fit(o, exp_out.shape), exp_w.T @ v):
                raise CheckError("your output is weights.T @ v; use weights @ v.")
            _compare(o, exp_out, "your output", tol)
        except CheckError as err:
            raise CheckError(f"{desc}: the weights are right but {err}") from None
    return _ok(f"your attention function passes all {len(cases)} cases "
               "(weights and outputs, with and without a scale).")


def check_context_vector(answer, weights_row, v) -> bool:
    """Check one context vector: the weighted sum ``weights_row @ v``.

    Parameters
    ----------
    answer : array_like, shape (d_v,)
    weights_row : array_like, shape (n,) (or (1, n))
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
    ValueError
        If ``weights_row`` is not one finite vector or ``v`` not a finite
        matrix with one row per weight.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.exercises import check_context_vector
    >>> check_context_vector([1.5, 0.5], [0.5, 0.5], np.array([[1.0, 0.0], [2.0, 1.0]]))
    Correct: your context vector is the weighted sum of the value rows.
    True
    """
    w = _checks.float_array(_numpy(weights_row), "weights_row")
    w = _checks.vector(w[0] if w.ndim == 2 and w.shape[0] == 1 else w, "weights_row")  # (n,), or (1, n)
    v = _checks.matrix(_numpy(v), "v", "(n, d_v)").astype(np.float64)
    if v.shape[0] != w.shape[0]:
        raise ValueError(f"the check needs weights_row (n,) and v (n, d_v) with the same n, "
                         f"got {w.shape} and {v.shape}")
    expected = w @ v  # (d_v,)
    name = "your context vector"
    ans, dtype = _answer(answer, name)
    tol = _tolerance(dtype)
    ans = _fit(ans, expected.shape)
    if not tol.close(ans, expected):
        if tol.close(ans, v.sum(axis=0)):
            raise CheckError(f"{name} is the plain sum of the values: multiply each value row by its "
                             "weight first.")
        if tol.close(ans, v.mean(axis=0)):
            raise CheckError(f"{name} is the plain mean of the values: weight each value row by its "
                             "attention weight.")
    _compare(ans, expected, name, tol)
    return _ok(f"{name} is the weighted sum of the value rows.")


def check_query(answer, x, W_q) -> bool:
    """Check queries ``Q = X @ W_q`` (row vectors).

    Parameters
    ----------
    answer : array_like, shape (n, d_k), or (d_k,) for a single word
        ``(1, d_k)`` is accepted for a single word too.
    x : array_like, shape (n, d_model) or (d_model,)
    W_q : array_like, shape (d_model, d_k)

    Returns
    -------
    bool

    Raises
    ------
    CheckError
        On a wrong shape or value; recognises element-wise products and
        transposed queries (columns instead of rows, as from ``W_q.T @ x``).
    ValueError
        If ``x`` or ``W_q`` is not finite and real, or their sizes disagree.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.exercises import check_query
    >>> x = np.array([[1.0, 0.0]]); W_q = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> check_query(x @ W_q, x, W_q)
    Correct: your queries are X @ W_q, shape (1, 3).
    True
    """
    x = _checks.float_array(_numpy(x), "x").astype(np.float64)
    _checks.ndim(x, "x", 1, "(n, d_model) or (d_model,)")
    _checks.finite(x, "x")
    W = _checks.matrix(_numpy(W_q), "W_q", "(d_model, d_k)").astype(np.float64)
    if x.shape[-1] != W.shape[0]:
        raise ValueError(f"the check needs x (..., d_model) and W_q (d_model, d_k) with the same d_model, "
                         f"got {x.shape} and {W.shape}")
    expected = x @ W  # (..., d_k)
    name = "your queries"
    ans, dtype = _answer(answer, name)
    ans = _fit(ans, expected.shape)
    if ans.shape != expected.shape and ans.shape == x.shape:
        raise CheckError(
            f"{name} have shape {ans.shape}, the shape of X; expected {expected.shape}: "
            "multiply by W_q with the matrix product @, not element-wise *."
        )
    _compare(ans, expected, name, _tolerance(dtype))
    return _ok(f"{name} are X @ W_q, shape {expected.shape}.")


def check_dot_product(answer, a, b) -> bool:
    """Check one dot product ``a . b`` (a number).

    Parameters
    ----------
    answer : float
        A number; a one-entry list or array such as ``[11.0]`` is accepted.
    a, b : array_like, shape (d,)
        Two vectors of the same length.

    Returns
    -------
    bool

    Raises
    ------
    CheckError
        If the answer is not one number (``True`` is not a number), or is the
        element-wise product, or is the cosine (the dot product divided by both
        lengths), or differs.
    ValueError
        If ``a`` and ``b`` are not finite vectors of the same length.

    Examples
    --------
    >>> from selfattn.exercises import check_dot_product
    >>> check_dot_product(11.0, [1.0, 2.0], [3.0, 4.0])
    Correct: your dot product is 11.
    True
    """
    a, b = _checks.vector(_numpy(a), "a"), _checks.vector(_numpy(b), "b")
    if a.shape != b.shape:
        raise ValueError(f"the check needs two vectors of the same length, got {a.shape} and {b.shape}")
    expected = np.asarray(a @ b)  # shape ()
    name = "your dot product"
    ans, dtype = _answer(answer, name)
    tol = _tolerance(dtype)
    ans = _fit(ans, ())
    if ans.shape != ():
        if tol.close(ans, a * b):
            raise CheckError(
                f"your answer is the element-wise product a * b, shape {ans.shape}; "
                "the dot product adds those products up into one number: a @ b."
            )
        raise CheckError(f"{name} has shape {ans.shape}, expected one number (shape ()).")
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    cosine = np.asarray(expected / (na * nb)) if na > 0 and nb > 0 else None
    if cosine is not None and not tol.close(ans, expected) and tol.close(ans, cosine):
        raise CheckError(
            "your answer is the cosine of the angle (the dot product divided by both lengths); "
            f"the dot product keeps the lengths: |a| |b| cos(theta) = {na:.4g} * {nb:.4g} * cos(theta)."
        )
    _compare(ans, expected, name, tol)
    return _ok(f"{name} is {float(expected):.6g}.")


# ---- a learner's attention function, against PyTorch (chapter 5) ----
def check_attention_torch(fn) -> bool:
    """Check ``fn(q, k, v, mask=..., scale=...)`` against PyTorch, not against ``selfattn``.

    The reference is ``torch.nn.functional.scaled_dot_product_attention`` for
    the output (its boolean ``attn_mask`` has this course's polarity, ``True``
    = may attend) and ``torch.softmax`` over the masked, scaled scores for the
    weights, on the cases of :func:`check_attention`.

    Parameters
    ----------
    fn : callable
        The learner's attention function; it returns ``(output, weights)``.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case, and whether the weights or the output differ.
    ValueError
        If ``fn`` is not callable.
    ImportError
        If PyTorch is not installed.

    Examples
    --------
    >>> from selfattn import scaled_dot_product_attention
    >>> from selfattn.exercises import check_attention_torch
    >>> check_attention_torch(scaled_dot_product_attention)
    Correct: your attention function matches torch.nn.functional.scaled_dot_product_attention in all 4 cases.
    True
    """
    import torch
    import torch.nn.functional as F

    _checks.learner_function(fn, "check_attention_torch", "my_attention")
    cases = _attention_cases()
    for desc, q, k, v, mask, scale in cases:
        out, w = _call(fn, desc, q, k, v, mask, scale)
        tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
        tm = None if mask is None else torch.from_numpy(mask.copy())
        exp_out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, scale=scale).numpy()
        s = tq @ tk.T * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
        if tm is not None:
            s = s.masked_fill(~tm, float("-inf"))
        exp_w = torch.softmax(s, dim=-1).numpy()
        for answer, expected, name in ((w, exp_w, "your weights"), (out, exp_out, "your output")):
            try:
                a, dtype = _answer(answer, name)
                _compare(a, expected, name, _tolerance(dtype))
            except CheckError as err:
                raise CheckError(f"{desc}, against PyTorch: {err}") from None
    return _ok("your attention function matches torch.nn.functional.scaled_dot_product_attention "
               f"in all {len(cases)} cases.")


# ---- score matrix and context vectors, against PyTorch (chapters 3, 4) ----
def _projection_cases(sizes=((4, 5, 3, 2), (3, 6, 3, 4), (6, 4, 2, 3)), seed=34):
    """Seeded cases (description, X, W_q, W_k, W_v), one per (n, d_model, d_k, d_v) in sizes."""
    rng = np.random.default_rng(seed)
    cases = []
    for n, d_model, d_k, d_v in sizes:
        X = rng.normal(size=(n, d_model))
        W_q, W_k = rng.normal(size=(d_model, d_k)), rng.normal(size=(d_model, d_k))
        W_v = rng.normal(size=(d_model, d_v))
        desc = f"case n={n}, d_model={d_model}, d_k={d_k}, d_v={d_v}"
        cases.append((desc, X, W_q, W_k, W_v))
    return cases


def _check_output(result, expected, desc: str, reference: str, mistakes=(), hint: str = "") -> None:
    """Compare a learner's layer output (or the first item of the pair it returns) with the
    reference's; when it differs, name the first typical mistake that gives exactly that output.

    ``mistakes`` holds ``(wrong, why)`` pairs: ``wrong()`` computes the output of that mistake.
    ``hint`` is added when the output is not a finite array.
    """
    if isinstance(result, (tuple, list)):
        result = result[0]
    try:
        ans, dtype = _answer(result, "your output")
    except CheckError as err:
        raise CheckError(f"{desc}: {err}{hint}") from None
    tol = _tolerance(dtype)
    if ans.shape == expected.shape and not tol.close(ans, expected):
        for wrong, why in mistakes:
            with np.errstate(all="ignore"):
                out = wrong()
            if np.all(np.isfinite(out)) and tol.close(ans, out):
                raise CheckError(f"{desc}: {why}")
    try:
        _compare(ans, expected, "your output", tol)
    except CheckError as err:
        raise CheckError(f"{desc}, against {reference}: {err}") from None


def _call_builder(fn, desc: str, *args):
    """``fn(*args)`` on copies; a learner's exception becomes a CheckError naming the case."""
    try:
        return fn(*(a.copy() for a in args))
    except CheckError:
        raise
    except Exception as exc:
        raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}") from exc


def check_score_matrix_torch(fn) -> bool:
    """Check ``fn(X, W_q, W_k)``, the raw scores ``(X W_q)(X W_k)^T``, against PyTorch.

    The reference is computed with ``torch`` on seeded cases whose sizes all
    differ (``n``, ``d_model``, ``d_k``), plus one with ``n = d_k``, where
    ``Q @ K`` without the transpose runs.

    Parameters
    ----------
    fn : callable
        The learner's function; it returns the ``(n, n)`` raw score matrix.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case and the mistake (transpose, keys made with ``W_q``, a scale).
    ValueError
        If ``fn`` is not callable.

    Examples
    --------
    >>> from selfattn.exercises import check_score_matrix_torch
    >>> check_score_matrix_torch(lambda X, W_q, W_k: (X @ W_q) @ (X @ W_k).T)
    Correct: your score_matrix matches PyTorch in all 3 cases.
    True
    """
    import torch

    _checks.learner_function(fn, "check_score_matrix_torch", "score_matrix")
    cases = _projection_cases()
    for desc, X, W_q, W_k, _ in cases:
        tX, tq, tk = (torch.from_numpy(a) for a in (X, W_q, W_k))
        expected = ((tX @ tq) @ (tX @ tk).T).numpy()  # (n, n)
        ans, dtype = _answer(_call_builder(fn, desc, X, W_q, W_k), "your scores")
        tol = _tolerance(dtype)
        if ans.shape == expected.shape and not tol.close(ans, expected):
            d_k = W_q.shape[1]
            if tol.close(ans, expected.T):
                raise CheckError(f"{desc}: your matrix is the transpose of the scores (K Q^T): "
                                 "rows must be queries. Compute Q @ K.T.")
            if tol.close(ans, expected / math.sqrt(d_k)):
                raise CheckError(f"{desc}: your scores are divided by sqrt(d_k); "
                                 "this function returns the raw scores Q @ K.T.")
            if tol.close(ans, ((tX @ tq) @ (tX @ tq).T).numpy()):
                raise CheckError(f"{desc}: your keys are made with W_q; make them with W_k.")
        try:
            _compare(ans, expected, "your scores", tol)
        except CheckError as err:
            raise CheckError(f"{desc}, against PyTorch: {err}") from None
    return _ok(f"your score_matrix matches PyTorch in all {len(cases)} cases.")


def check_context_vectors_torch(fn) -> bool:
    """Check ``fn(X, W_q, W_k, W_v)``, all context vectors, against PyTorch.

    The reference is ``torch.nn.functional.scaled_dot_product_attention`` on
    ``X W_q``, ``X W_k`` and ``X W_v`` (no mask, scale ``1/sqrt(d_k)``).

    Parameters
    ----------
    fn : callable
        The learner's function; it returns the ``(n, d_v)`` context vectors.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case and the mistake (``weights.T @ v``, no scale).
    ValueError
        If ``fn`` is not callable.

    Examples
    --------
    >>> from selfattn import scaled_dot_product_attention
    >>> from selfattn.exercises import check_context_vectors_torch
    >>> def context_vectors(X, W_q, W_k, W_v):
    ...     return scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_v)[0]
    >>> check_context_vectors_torch(context_vectors)
    Correct: your context vectors match torch.nn.functional.scaled_dot_product_attention in all 3 cases.
    True
    """
    import torch
    import torch.nn.functional as F

    _checks.learner_function(fn, "check_context_vectors_torch", "context_vectors")
    cases = _projection_cases()
    for desc, X, W_q, W_k, W_v in cases:
        tX = torch.from_numpy(X)
        q, k, v = (tX @ torch.from_numpy(W) for W in (W_q, W_k, W_v))
        expected = F.scaled_dot_product_attention(q, k, v).numpy()  # (n, d_v)
        ans, dtype = _answer(_call_builder(fn, desc, X, W_q, W_k, W_v), "your context vectors")
        tol = _tolerance(dtype)
        if ans.shape == expected.shape and not tol.close(ans, expected):
            weights = torch.softmax(q @ k.T / math.sqrt(k.shape[-1]), dim=-1)  # (n, n)
            raw = torch.softmax(q @ k.T, dim=-1)  # (n, n), no scale
            if tol.close(ans, (weights.T @ v).numpy()):
                raise CheckError(f"{desc}: your output is weights.T @ v; use weights @ v.")
            if tol.close(ans, (raw @ v).numpy()):
                raise CheckError(f"{desc}: your scores are not scaled: divide Q @ K.T by sqrt(d_k) "
                                 "before the softmax.")
        try:
            _compare(ans, expected, "your context vectors", tol)
        except CheckError as err:
            raise CheckError(f"{desc}, against PyTorch: {err}") from None
    return _ok("your context vectors match torch.nn.functional.scaled_dot_product_attention "
               f"in all {len(cases)} cases.")


# ---- queries and the four steps, against PyTorch (chapters 1, 2) ----
def _ch12_cases():
    """The chapter 1 and 2 cases: one of them a single word."""
    return _projection_cases(sizes=((4, 5, 3, 3), (6, 4, 2, 5), (1, 3, 4, 2)), seed=12)


def _torch_linear(W):
    """``torch.nn.Linear`` without bias computing ``x @ W``: it stores ``W`` transposed."""
    import torch

    lin = torch.nn.Linear(W.shape[0], W.shape[1], bias=False, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W.T))  # (d_out, d_in)
    return lin


def check_queries_torch(fn) -> bool:
    """Check ``fn(X, W_q)`` (the queries ``X @ W_q``) against ``torch.nn.Linear``.

    The reference is ``torch.nn.Linear(d_model, d_k, bias=False)`` whose
    weight is ``W_q`` transposed (PyTorch stores ``(d_k, d_model)``).

    Parameters
    ----------
    fn : callable
        The learner's ``queries(X, W_q)``, returning shape ``(n, d_k)``.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case and what differs.
    ValueError
        If ``fn`` is not callable.

    Examples
    --------
    >>> from selfattn.exercises import check_queries_torch
    >>> check_queries_torch(lambda X, W_q: X @ W_q)
    Correct: your queries match torch.nn.Linear(bias=False) in all 3 cases.
    True
    """
    import torch

    _checks.learner_function(fn, "check_queries_torch", "queries")
    cases = _ch12_cases()
    for desc, x, W_q, _, _ in cases:
        with torch.no_grad():
            expected = _torch_linear(W_q)(torch.from_numpy(x)).numpy()  # (n, d_k)
        try:
            result = fn(x.copy(), W_q.copy())
        except Exception as exc:
            raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}") from exc
        try:
            ans, dtype = _answer(result, "your queries")
            if ans.shape == (W_q.shape[1], x.shape[0]) and ans.shape != expected.shape:
                raise CheckError("your queries are transposed: one row per word, X @ W_q.")
            _compare(ans, expected, "your queries", _tolerance(dtype))
        except CheckError as err:
            raise CheckError(f"{desc}, against PyTorch: {err}") from None
    return _ok(f"your queries match torch.nn.Linear(bias=False) in all {len(cases)} cases.")


def check_four_steps_torch(fn) -> bool:
    """Check ``fn(X, W_q, W_k, W_v)`` (the four steps, returning ``(output, weights)``) against PyTorch.

    The references are three ``torch.nn.Linear(bias=False)`` layers for the
    projections, ``torch.softmax`` of the scaled scores for the weights and
    ``torch.nn.functional.scaled_dot_product_attention`` for the output.

    Parameters
    ----------
    fn : callable
        The learner's function of ``(X, W_q, W_k, W_v)``.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case, and whether the weights or the output differ.
    ValueError
        If ``fn`` is not callable.

    Examples
    --------
    >>> from selfattn.exercises import check_four_steps_torch
    >>> from selfattn import scaled_dot_product_attention as sdpa
    >>> check_four_steps_torch(lambda X, Wq, Wk, Wv: sdpa(X @ Wq, X @ Wk, X @ Wv))
    Correct: your four steps match torch.nn.functional.scaled_dot_product_attention in all 3 cases.
    True
    """
    import torch
    import torch.nn.functional as F

    _checks.learner_function(fn, "check_four_steps_torch", "attention")
    cases = _ch12_cases()
    for desc, x, W_q, W_k, W_v in cases:
        tx = torch.from_numpy(x)
        with torch.no_grad():
            q, k, v = (_torch_linear(W)(tx) for W in (W_q, W_k, W_v))
            exp_out = F.scaled_dot_product_attention(q, k, v).numpy()  # (n, d_v)
            exp_w = torch.softmax(q @ k.T / math.sqrt(W_q.shape[1]), dim=-1).numpy()  # (n, n)
        try:
            result = fn(x.copy(), W_q.copy(), W_k.copy(), W_v.copy())
        except Exception as exc:
            raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise CheckError(f"{desc}: your function must return a pair (output, weights), "
                             f"got {type(result).__name__}")
        out, w = result
        for answer, expected, name in ((w, exp_w, "your weights"), (out, exp_out, "your output")):
            try:
                a, dtype = _answer(answer, name)
                tol = _tolerance(dtype)
                if (name == "your weights" and a.shape == expected.shape
                        and not tol.close(a, expected) and tol.close(a, expected.T)):
                    raise CheckError("your weights are transposed: each ROW must sum to one "
                                     "(softmax over the keys, axis=-1).")
                _compare(a, expected, name, tol)
            except CheckError as err:
                raise CheckError(f"{desc}, against PyTorch: {err}") from None
    return _ok("your four steps match torch.nn.functional.scaled_dot_product_attention "
               f"in all {len(cases)} cases.")


# ---- the capstone: multi-head attention, against torch.nn.MultiheadAttention (chapter 8) ----
def _mha_numpy(x, W_q, W_k, W_v, W_o, n_heads, key_padding_mask=None, causal=False,
               scale="head", split="transpose", polarity="may attend", out_proj=True):
    """Multi-head self-attention in NumPy, right (the defaults) or with one typical mistake."""
    n, d = x.shape
    d_h = d // n_heads

    def heads(m):  # (n, d) -> (h, n, d_h)
        if split == "transpose":
            return m.reshape(n, n_heads, d_h).transpose(1, 0, 2)
        return m.reshape(n_heads, n, d_h)  # the mistake: rows of different words mixed

    q, k, v = heads(x @ W_q), heads(x @ W_k), heads(x @ W_v)  # (h, n, d_h) each
    factor = {"head": 1 / math.sqrt(d_h), "model": 1 / math.sqrt(d), "none": 1.0}[scale]
    s = q @ k.transpose(0, 2, 1) * factor  # (h, n, n)
    allowed = np.ones((n, n), dtype=bool)
    if key_padding_mask is not None:
        allowed &= key_padding_mask[None, :]
    if causal:
        allowed &= np.tril(np.ones((n, n), dtype=bool))
    if polarity != "may attend" and (key_padding_mask is not None or causal):
        allowed = ~allowed  # the mistake: masks read as True = blocked
    with np.errstate(invalid="ignore"):
        s = np.where(allowed, s, -np.inf)
        a = np.exp(s - s.max(axis=-1, keepdims=True))
        a = a / a.sum(axis=-1, keepdims=True)  # (h, n, n)
    if split == "transpose":
        o = (a @ v).transpose(1, 0, 2).reshape(n, d)  # (n, d): heads side by side
    else:
        o = (a @ v).reshape(n, d)
    return o @ W_o if out_proj else o


_MHA_MISTAKES = (
    ({"scale": "none"}, "you do not divide the scores by sqrt(d_head): each head's scores need "
                        "the scale 1/sqrt(d_model / n_heads)."),
    ({"scale": "model"}, "you divide the scores by sqrt(d_model); each head works in "
                         "d_head = d_model / n_heads dimensions, so divide by sqrt(d_head)."),
    ({"polarity": "blocked"}, "your mask has the wrong polarity: here True = may attend (the "
                              "course's convention); torch.nn.MultiheadAttention uses True = "
                              "blocked, so pass ~mask to it, never to your own code."),
    ({"split": "reshape"}, "you split the heads with reshape(n_heads, n, d_head) alone: that "
                           "mixes the rows of different words. Reshape to (n, n_heads, d_head), "
                           "then transpose to (n_heads, n, d_head); undo both before W_o."),
    ({"out_proj": False}, "your output skips the output projection: concatenate the heads, "
                          "then multiply by W_o."),
)


def _mha_cases():
    """Seeded cases (description, x, W_q, W_k, W_v, W_o, n_heads, key_padding_mask, causal)."""
    rng = np.random.default_rng(7)
    n, d = 5, 6
    pad = np.array([True, True, True, False, False])  # two padding tokens at the end
    specs = [("one head, no mask", 1, None, False),
             ("two heads, no mask", 2, None, False),
             ("two heads, padding mask", 2, pad, False),
             ("three heads, causal mask", 3, None, True),
             ("two heads, padding and causal masks", 2, pad, True)]
    cases = []
    for desc, h, mask, causal in specs:
        x = rng.normal(size=(n, d))
        Ws = [rng.normal(size=(d, d)) for _ in range(4)]
        cases.append((desc, x, *Ws, h, mask, causal))
    return cases


def _torch_mha(x, W_q, W_k, W_v, W_o, n_heads, key_padding_mask, causal):
    """``torch.nn.MultiheadAttention`` (bias=False) loaded with the course's matrices."""
    import torch

    n, d = x.shape
    layer = torch.nn.MultiheadAttention(d, n_heads, bias=False, batch_first=True,
                                        dtype=torch.float64)
    with torch.no_grad():  # PyTorch stores (out, in): the transposes of the course's W
        layer.in_proj_weight.copy_(torch.from_numpy(np.concatenate([W_q.T, W_k.T, W_v.T])))
        layer.out_proj.weight.copy_(torch.from_numpy(W_o.T))
        kpm = None if key_padding_mask is None else torch.from_numpy(~key_padding_mask)[None]
        am = torch.triu(torch.ones(n, n, dtype=torch.bool), 1) if causal else None
        out, _ = layer(*(torch.from_numpy(x)[None],) * 3, key_padding_mask=kpm,
                       attn_mask=am, need_weights=False)  # True = blocked in both masks
    return out[0].numpy()  # (n, d)


def check_multi_head_attention(fn) -> bool:
    """Check a from-scratch multi-head self-attention against ``torch.nn.MultiheadAttention``.

    ``fn(x, W_q, W_k, W_v, W_o, n_heads, key_padding_mask=None, causal=False)`` takes, in the
    course's row-vector convention, ``x`` of shape ``(n, d_model)`` and four matrices of shape
    ``(d_model, d_model)``; head ``i`` uses columns ``i * d_head`` to ``(i + 1) * d_head - 1`` of
    ``x @ W_q``, ``x @ W_k`` and ``x @ W_v``, with ``d_head = d_model // n_heads``.
    ``key_padding_mask`` is a bool array ``(n,)``, True = a real word that may be attended to
    (the course's polarity); ``causal=True`` lets word ``i`` attend to words ``0..i`` only. It
    returns the output ``(n, d_model)`` (or a pair whose first item is the output). The reference
    is ``torch.nn.MultiheadAttention(bias=False)`` with the same matrices, transposed to
    PyTorch's ``(out, in)`` layout and with its masks in its polarity (True = blocked).

    Parameters
    ----------
    fn : callable
        The learner's multi-head attention function.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case that fails and, when the output matches a typical mistake (no scale, the
        scale of d_model, the mask's polarity inverted, heads split by reshape without transpose,
        no output projection), saying which.
    ValueError
        If ``fn`` is not callable.

    Examples
    --------
    >>> from selfattn.exercises import _mha_numpy, check_multi_head_attention
    >>> check_multi_head_attention(_mha_numpy)
    Correct: your multi-head attention matches torch.nn.MultiheadAttention in all 5 cases.
    True
    """
    _checks.learner_function(fn, "check_multi_head_attention", "mha")
    cases = _mha_cases()
    for desc, x, W_q, W_k, W_v, W_o, h, mask, causal in cases:
        expected = _torch_mha(x, W_q, W_k, W_v, W_o, h, mask, causal)
        args = [a.copy() for a in (x, W_q, W_k, W_v, W_o)]
        try:
            result = fn(*args, h, key_padding_mask=None if mask is None else mask.copy(),
                        causal=causal)
        except Exception as exc:
            raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}") from exc
        hint = (" A row with every key masked gives 0/0: check the mask's polarity (here "
                "True = may attend)." if mask is not None or causal else "")
        mistakes = [(functools.partial(_mha_numpy, x, W_q, W_k, W_v, W_o, h, mask, causal, **flags),
                     why) for flags, why in _MHA_MISTAKES]
        _check_output(result, expected, desc, "torch.nn.MultiheadAttention", mistakes, hint)
    return _ok(f"your multi-head attention matches torch.nn.MultiheadAttention in all "
               f"{len(cases)} cases.")


# ---- the FLOPs of one attention layer, against PyTorch's FLOP counter (chapter 7) ----
_FLOP_CASES = ((64, 4, 10), (48, 3, 7), (32, 8, 16), (96, 12, 4))  # (d_model, n_heads, n)


def _torch_attention_flops(d_model: int, n_heads: int, n: int) -> int:
    """FLOPs that ``torch.utils.flop_counter.FlopCounterMode`` counts in one forward pass of
    ``torch.nn.MultiheadAttention(bias=False)`` over one sequence of ``n`` tokens.

    ``need_weights=True`` makes PyTorch compute the weights with explicit batched matrix
    products, which the counter sees; with ``need_weights=False`` it calls the fused
    ``scaled_dot_product_attention`` kernel, whose CPU version the counter does not count.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    layer = torch.nn.MultiheadAttention(d_model, n_heads, bias=False, batch_first=True)
    x = torch.randn(1, n, d_model)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(x, x, x, need_weights=True, average_attn_weights=False)
    return int(counter.get_total_flops())


def _flop_mistake(ans: int, d: int, h: int, n: int) -> str | None:
    """Which typical mistake gives ``ans``, if one does."""
    proj, quad = 8 * n * d * d, 4 * n * n * d  # 4 projections; scores and weighted sum
    mistakes = {
        proj // 2 + quad // 2: "every count is half of PyTorch's: a multiply-add is 2 FLOPs, "
                               "so an (m, k) @ (k, p) product costs 2 m k p",
        proj * 3 // 4 + quad: "the output projection W_o is missing: there are four "
                              "d_model x d_model products, not three",
        proj + quad // 2: "only one of the two n^2 products is counted: the scores Q K^T "
                          "and the weighted sum A V each cost 2 n^2 d_model",
        proj + quad * h: "the n^2 products are counted with d_model per head: each of the "
                         "h heads works on d_head = d_model / h columns",
        proj: "the n^2 products (scores and weighted sum) are missing",
        quad: "the projections (x W_q, x W_k, x W_v and the output W_o) are missing",
    }
    return mistakes.get(ans)


def check_attention_flops_torch(fn) -> bool:
    """Check ``fn(d_model, n_heads, n)``, the FLOPs of one attention layer, against PyTorch.

    The reference is what ``torch.utils.flop_counter.FlopCounterMode`` counts in a forward
    pass of ``torch.nn.MultiheadAttention(bias=False)`` over one sequence of ``n`` tokens: the
    matrix products only (a multiply-add counts 2), no softmax, scale or mask.

    Parameters
    ----------
    fn : callable
        The learner's ``attention_flops(d_model, n_heads, n)``, returning a whole number.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case and, when the count matches a typical mistake (multiply-adds counted
        once, no output projection, one n^2 product missing, d_model instead of d_head per
        head), saying which.
    ValueError
        If ``fn`` is not callable.

    Examples
    --------
    >>> from selfattn.exercises import check_attention_flops_torch
    >>> check_attention_flops_torch(lambda d, h, n: 8 * n * d * d + 4 * n * n * d)
    Correct: your count matches PyTorch's FLOP counter in all 4 cases.
    True
    """
    _checks.learner_function(fn, "check_attention_flops_torch", "attention_flops")
    for d, h, n in _FLOP_CASES:
        desc = f"d_model={d}, n_heads={h}, n={n}"
        expected = _torch_attention_flops(d, h, n)
        try:
            result = fn(d, h, n)
        except Exception as exc:
            raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}") from exc
        if isinstance(result, dict) and "total" in result:
            result = result["total"]
        if isinstance(result, (bool, np.bool_)) or not isinstance(result, (int, np.integer, float, np.floating)):
            raise CheckError(f"{desc}: your function must return a number of FLOPs, "
                             f"got a {type(result).__name__}")
        if not np.isfinite(result) or result != int(result):
            raise CheckError(f"{desc}: a FLOP count is a whole number, got {result!r}")
        ans = int(result)
        if ans != expected:
            why = _flop_mistake(ans, d, h, n)
            raise CheckError(f"{desc}: you count {ans:,} FLOPs, PyTorch's FLOP counter "
                             f"{expected:,}" + (f": {why}." if why else "."))
    return _ok(f"your count matches PyTorch's FLOP counter in all {len(_FLOP_CASES)} cases.")


# ---- a post-norm transformer block, against transformers' BertLayer (chapter 9) ----
def _block_numpy(x, p, n_heads, norm="post", attn_residual=True, ffn_residual=True,
                 gelu="erf", attn_bias=True, ffn_bias=True):
    """One block from :mod:`selfattn.block`'s pieces, right (the defaults) or with one mistake."""
    from .block import layer_norm, multi_head_attention

    z = np.zeros_like(p.b_q)
    bq, bk, bv, bo = (p.b_q, p.b_k, p.b_v, p.b_o) if attn_bias else (z, z, z, z)
    b1, b2 = (p.b1, p.b2) if ffn_bias else (np.zeros_like(p.b1), np.zeros_like(p.b2))

    def mha(u):
        return multi_head_attention(u, p.W_q, bq, p.W_k, bk, p.W_v, bv, p.W_o, bo, n_heads)[0]

    def ffn(u):
        a = u @ p.W1 + b1  # (n, d_ff)
        if gelu == "tanh":  # GPT-2's approximation, not BERT's GELU
            g = 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3)))
        else:
            g = 0.5 * a * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))
        return g @ p.W2 + b2  # (n, d_model)

    def ln1(u):
        return layer_norm(u, p.ln1_gamma, p.ln1_beta)

    def ln2(u):
        return layer_norm(u, p.ln2_gamma, p.ln2_beta)

    if norm == "pre":  # GPT-2's order
        h = x + mha(ln1(x))
        return h + ffn(ln2(h))
    h = ln1((x if attn_residual else 0) + mha(x))  # h = LN1(x + MHA(x))
    return ln2((h if ffn_residual else 0) + ffn(h))  # LN2(h + FFN(h))


_BLOCK_MISTAKES = (
    ({"attn_residual": False}, "the attention's residual connection is missing: the first layer "
                               "norm takes x + MHA(x), not MHA(x) alone."),
    ({"ffn_residual": False}, "the feed-forward layer's residual connection is missing: the "
                              "second layer norm takes h + FFN(h), not FFN(h) alone."),
    ({"gelu": "tanh"}, "your GELU is the tanh approximation (GPT-2's); BERT uses the exact "
                       "x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), which selfattn.block.gelu "
                       "computes."),
    ({"attn_bias": False}, "the attention projections have no biases: BERT adds b_q, b_k, b_v "
                           "and b_o (selfattn.block.multi_head_attention takes them)."),
    ({"ffn_bias": False}, "the feed-forward layer has no biases: GELU(x W1 + b1) W2 + b2."),
    ({"norm": "pre"}, "you wrote a pre-norm block (GPT-2's h = x + MHA(LN1(x))); BERT is "
                      "post-norm: h = LN1(x + MHA(x)), out = LN2(h + FFN(h))."),
)


def _block_cases():
    """Seeded cases (description, x, params, n_heads): (n, d_model, n_heads, d_ff)."""
    from .block import BlockParams

    cases = []
    for seed, (n, d, h, f) in enumerate(((5, 8, 2, 32), (7, 12, 3, 24), (4, 16, 4, 64))):
        x = np.random.default_rng(100 + seed).normal(size=(n, d))
        cases.append((f"{n} tokens, d_model={d}, {h} heads, d_ff={f}", x,
                      BlockParams.random(d, f, seed=seed), h))
    return cases


def _torch_bert_layer(x, p, n_heads):
    """``transformers``' ``BertLayer`` (eager attention, no dropout, float64) with ``p``'s
    matrices (transposed to ``nn.Linear``'s ``(out, in)``) run on ``x`` ``(n, d_model)``."""
    import torch
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertLayer

    config = BertConfig(hidden_size=p.d_model, num_attention_heads=n_heads,
                        intermediate_size=p.d_ff, hidden_act="gelu", layer_norm_eps=1e-12,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        attn_implementation="eager")
    layer = BertLayer(config).double().eval()
    pairs = {"attention.self.query": ("W_q", "b_q"), "attention.self.key": ("W_k", "b_k"),
             "attention.self.value": ("W_v", "b_v"), "attention.output.dense": ("W_o", "b_o"),
             "intermediate.dense": ("W1", "b1"), "output.dense": ("W2", "b2"),
             "attention.output.LayerNorm": ("ln1_gamma", "ln1_beta"),
             "output.LayerNorm": ("ln2_gamma", "ln2_beta")}
    state = {}
    for module, (w, b) in pairs.items():
        W = np.asarray(getattr(p, w), dtype=np.float64)
        state[module + ".weight"] = torch.from_numpy(W.T.copy() if W.ndim == 2 else W.copy())
        state[module + ".bias"] = torch.from_numpy(np.asarray(getattr(p, b), dtype=np.float64).copy())
    layer.load_state_dict(state)
    with torch.no_grad():
        out = layer(torch.from_numpy(np.asarray(x, dtype=np.float64))[None])
    return (out[0] if isinstance(out, tuple) else out)[0].numpy()  # (n, d_model)


def check_block_forward_torch(fn) -> bool:
    """Check a learner's post-norm transformer block against ``transformers``' ``BertLayer``.

    ``fn(x, params, n_heads)`` takes ``x`` of shape ``(n, d_model)``, a
    :class:`selfattn.block.BlockParams` (matrices in the course's ``(d_in, d_out)`` layout)
    and the number of heads, and returns the block's output ``(n, d_model)`` (or a pair whose
    first item is the output):

    .. math:: h = \\operatorname{LN}_1(x + \\operatorname{MHA}(x)), \\qquad
              \\text{out} = \\operatorname{LN}_2(h + \\operatorname{FFN}(h))

    The reference is ``transformers.models.bert.modeling_bert.BertLayer`` (eager attention,
    no dropout, float64) loaded with the same random matrices and biases, on three seeded
    cases of different widths and head counts.

    Parameters
    ----------
    fn : callable
        The learner's block.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case that fails and, when the output matches a typical mistake (a missing
        residual connection, the tanh GELU, missing biases, pre-norm instead of post-norm),
        saying which.
    ValueError
        If ``fn`` is not callable.

    Examples
    --------
    >>> from selfattn.block import transformer_block
    >>> from selfattn.exercises import check_block_forward_torch
    >>> check_block_forward_torch(lambda x, p, h: transformer_block(x, p, h)[0])
    Correct: your block matches transformers' BertLayer in all 3 cases.
    True
    """
    _checks.learner_function(fn, "check_block_forward_torch", "my_block")
    cases = _block_cases()
    for desc, x, p, h in cases:
        expected = _torch_bert_layer(x, p, h)
        try:
            result = fn(x.copy(), p, h)
        except Exception as exc:
            raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}") from exc
        mistakes = [(functools.partial(_block_numpy, x, p, h, **flags), why)
                    for flags, why in _BLOCK_MISTAKES]
        _check_output(result, expected, desc, "transformers' BertLayer", mistakes)
    return _ok(f"your block matches transformers' BertLayer in all {len(cases)} cases.")


# ---- RoPE for a query and a key, against the paper's complex-number formula (chapter 10) ----
def _rope_complex(x, p, base=10000.0, layout="interleaved", exponent=2.0, sign=1.0, offset=0):
    """``x`` ``(d,)`` at position ``p`` by the paper's formula, right (the defaults) or with one
    typical mistake: pair ``i`` as the complex number ``a + i b``, times ``exp(i p w_i)``.

    ``layout`` picks the pairs: ``(x[2i], x[2i+1])`` (interleaved, the paper) or
    ``(x[i], x[i + d/2])`` (half); ``w_i = base^(-exponent (i + offset) / d)``; ``sign=-1`` turns
    the wrong way. Written apart from :func:`selfattn.positions.rope`, so that each checks the other.
    """
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    h = d // 2
    a, b = (x[0::2], x[1::2]) if layout == "interleaved" else (x[:h], x[h:])
    w = base ** (-exponent * (np.arange(h) + offset) / d)  # (d/2,)
    z = (a + 1j * b) * np.exp(1j * sign * p * w)  # (d/2,): each pair turned by p w_i
    out = np.empty(d)
    if layout == "interleaved":
        out[0::2], out[1::2] = z.real, z.imag
    else:
        out[:h], out[h:] = z.real, z.imag
    return out


def _rope_cases():
    """Seeded cases (description, q, k, m, n, base): sizes, positions and bases that tell the
    mistakes apart (the first token, far positions, a base other than 10,000)."""
    rng = np.random.default_rng(2021)
    specs = [(8, 3, 1, 10000.0), (6, 0, 5, 10000.0), (16, 40, 100, 10000.0), (8, 7, 2, 100.0)]
    return [(f"d={d}, query at m={m}, key at n={n}, base={base:g}", rng.normal(size=d),
             rng.normal(size=d), m, n, base) for d, m, n, base in specs]


def _rope_mistakes(layout: str):
    """``(flags, why)``: the changes to :func:`_rope_complex` a learner typically makes, made to
    both vectors alike. ``why`` is said of the vector that shows it."""
    other = "half" if layout == "interleaved" else "interleaved"
    pairs = {"interleaved": "(x[2i], x[2i+1])", "half": "(x[i], x[i + d/2])"}
    return (
        ({"layout": other}, f"you rotate the pairs of the {other} layout, {pairs[other]}; this "
                            f"exercise asks for the {layout} layout, {pairs[layout]}. Both are "
                            "RoPE, but a model trained with one gives wrong scores with the other, "
                            "without an error."),
        ({"base": 10000.0}, "you use the base 10000 instead of the base passed to your function."),
        ({"exponent": 1.0}, "your frequencies are base^(-i/d); RoPE's are base^(-2i/d) for pair i "
                            "(i = 0 ... d/2 - 1), the same as the sinusoidal table's."),
        ({"offset": 1}, "your frequencies are base^(-2(i+1)/d): pair 0 must turn by 1 radian per "
                        "position (theta_0 = 1). The paper numbers pairs from 1 and writes "
                        "10000^(-2(i-1)/d)."),
        ({"sign": -1.0}, "you turn each pair by -p w_i (clockwise); RoPE turns by +p w_i: "
                         "(a, b) -> (a cos - b sin, a sin + b cos)."),
    )


# Position mistakes, told apart per vector: (name, position used, message for one vector).
# "{v}" is "query" or "key", "{p}" its position (m or n), "{o}" the other vector's.
_ROPE_POSITION_MISTAKES = (
    ("swap", "the {v} is rotated by {q}, the {ov}'s position; rotate it by {p}."),
    ("plus", "your {v} is rotated by its position + 1, {p} + 1: the first token is at position 0, "
             "so rotate it by {p} as given. (With only the {v} shifted, m - n changes, and so does "
             "the score.)"),
    ("minus", "your {v} is rotated by its position - 1, {p} - 1: rotate it by {p} as given. (With "
              "only the {v} shifted, m - n changes, and so does the score.)"),
)
_ROPE_BOTH_POSITIONS = {
    "swap": "you rotate the query by n and the key by m: the query's position is m, the key's n.",
    "plus": "your vectors are those of positions m + 1 and n + 1: the first token is at position 0. "
            "(The score q . k would still be right, since it depends on m - n only; the vectors "
            "are not.)",
    "minus": "your vectors are those of positions m - 1 and n - 1: use m and n as given.",
}


def _rope_vector(answer, expected, x, p, p_other, base, layout, name, desc):
    """``None`` if ``answer`` is right; else ``(position mistake or None, message)`` for it."""
    try:
        ans, dtype = _answer(answer, f"your {name}")
    except CheckError as err:
        raise CheckError(f"{desc}, the {name}: {err}") from None
    tol = _tolerance(dtype)
    if ans.shape == expected.shape and tol.close(ans, expected):
        return None
    if ans.shape == expected.shape:
        other = "key" if name == "query" else "query"
        letters = {"v": name, "ov": other, "p": "m" if name == "query" else "n",
                   "q": "n" if name == "query" else "m"}
        positions = {"swap": p_other, "plus": p + 1, "minus": p - 1}
        for key, why in _ROPE_POSITION_MISTAKES:
            if key == "swap" and p == p_other:
                continue
            if tol.close(ans, _rope_complex(x, positions[key], base, layout)):
                return key, f"{desc}, the {name}: {why.format(**letters)}"
        for flags, why in _rope_mistakes(layout):
            if flags.get("base") == base:
                continue
            kw = {"base": base, "layout": layout, **flags}
            if tol.close(ans, _rope_complex(x, p, **kw)):
                return None, f"{desc}, the {name}: {why}"
    try:
        _compare(ans, expected, "your output", tol)
    except CheckError as err:
        return None, f"{desc}, the {name}, against the paper's formula: {err}"
    return None, f"{desc}, the {name}: differs from the paper's formula"  # pragma: no cover


def check_rope(fn, layout: str = "interleaved") -> bool:
    """Check ``fn(q, k, m, n, base)``, RoPE for one query and one key, against the paper's formula.

    ``fn`` takes a query ``q`` and a key ``k`` of shape ``(d,)`` (``d`` even), the position ``m``
    of the query and ``n`` of the key (whole numbers, the first token at 0) and the frequency
    ``base``, and returns the pair ``(q rotated by m, k rotated by n)``: pair ``i`` of each vector
    turned by the angle ``position * base^(-2i/d)``. In the ``"interleaved"`` layout (the paper,
    GPT-J) pair ``i`` is ``(x[2i], x[2i+1])``; in ``"half"`` (GPT-NeoX, Hugging Face's Llama)
    it is ``(x[i], x[i + d/2])``. The reference treats each pair as a complex number and
    multiplies it by ``exp(i * position * w_i)``, the definition of Su et al. (2021), section 3.2
    (their section 3.4.2, eq. 34, computes the same rotation pair by pair, interleaved).

    Position mistakes are told per vector: the query rotated by ``n`` (or the key by ``m``), or
    one vector shifted by +1 or -1, is named for that vector; "m and n swapped" and "positions
    m + 1 and n + 1" only when both vectors are wrong that way.

    Parameters
    ----------
    fn : callable
        The learner's ``rope_pair(q, k, m, n, base)``.
    layout : {"interleaved", "half"}, default "interleaved"
        The layout the exercise asks for.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case (sizes, positions, base) and the vector (query or key) that fails and,
        when it matches a typical mistake (the other layout, a position off by one or the other
        vector's, the base ignored, frequencies base^(-i/d) or base^(-2(i+1)/d), the rotation
        the wrong way), saying which; a wrong shape, a NaN or an answer that is not a pair is
        named as such.
    ValueError
        If ``fn`` is not callable or ``layout`` is unknown.

    Examples
    --------
    >>> from selfattn.exercises import check_rope
    >>> from selfattn.positions import rope
    >>> def rope_pair(q, k, m, n, base):
    ...     return rope(q[None], [m], base)[0], rope(k[None], [n], base)[0]
    >>> check_rope(rope_pair)
    Correct: your RoPE matches the paper's formula (interleaved layout) in all 4 cases.
    True
    """
    _checks.learner_function(fn, "check_rope", "rope_pair")
    layout = _checks.choice(layout, "layout", ("interleaved", "half"))
    cases = _rope_cases()
    for desc, q, k, m, n, base in cases:
        expected = (_rope_complex(q, m, base, layout), _rope_complex(k, n, base, layout))
        result = _call_builder(fn, desc, q, k, np.int64(m), np.int64(n), np.float64(base))
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise CheckError(f"{desc}: your function must return a pair (q rotated, k rotated), "
                             f"got {type(result).__name__}")
        verdicts = [_rope_vector(result[0], expected[0], q, m, n, base, layout, "query", desc),
                    _rope_vector(result[1], expected[1], k, n, m, base, layout, "key", desc)]
        if verdicts[0] and verdicts[1] and verdicts[0][0] and verdicts[0][0] == verdicts[1][0]:
            raise CheckError(f"{desc}, the query and the key: {_ROPE_BOTH_POSITIONS[verdicts[0][0]]}")
        for verdict in verdicts:
            if verdict:
                raise CheckError(verdict[1])
    return _ok(f"your RoPE matches the paper's formula ({layout} layout) in all {len(cases)} cases.")


__all__.append("check_rope")


# ---- ALiBi slopes for any number of heads, against BLOOM's build_alibi_tensor (chapter 10) ----
_ALIBI_HEADS = (8, 12, 16, 112, 6, 32)  # powers of two and not; BLOOM-176B has 112 heads


def _alibi_power_of_two(n: int, start: int = 1) -> np.ndarray:
    """``2^(-8h/n)`` for ``h = start, ..., start + n - 1``: the slopes of ``n`` heads (``start=1``)."""
    return 2.0 ** (-8.0 * np.arange(start, start + n) / n)


def _alibi_mistakes(n: int):
    """``(slopes, why)``: the slopes of ``n`` heads with a typical mistake, and what to say."""
    low = 2 ** int(math.floor(math.log2(n)))
    right = np.concatenate([_alibi_power_of_two(low), _alibi_power_of_two(2 * low)[0::2][: n - low]])
    rule = (f"for {n} heads the rule takes the {low} slopes of {low} heads, then every other slope "
            f"of {2 * low} heads (the 1st, 3rd, 5th, ...) for the other {n - low}")
    mistakes = [(np.concatenate([_alibi_power_of_two(low, 0), _alibi_power_of_two(2 * low, 0)[0::2]
                                 [: n - low]]) if n != low else _alibi_power_of_two(n, 0),
                 "your first slope is 2^0 = 1: count the heads from h = 1, so that the slopes of "
                 "n heads are 2^(-8/n), 2^(-16/n), ..., 2^(-8).")]
    if n == low:
        mistakes.append((right[::-1], "your slopes go from the smallest up: head h has 2^(-8h/n), "
                                      "so the first head has the largest slope, 2^(-8/n)."))
    else:
        mistakes += [
            (_alibi_power_of_two(n), f"you used 2^(-8h/n) for {n} heads, which is not a power of "
                                     f"two: {rule}."),
            (np.sort(right)[::-1], f"your slopes are sorted from the largest down; in BLOOM's "
                                   f"order the extra {n - low} heads come after the first {low}: "
                                   f"{rule}."),
            (np.sort(right), f"your slopes are sorted from the smallest up; in BLOOM's order the "
                             f"first {low} are those of {low} heads, largest first, then the extra "
                             f"{n - low}: {rule}."),
            (np.concatenate([_alibi_power_of_two(low), _alibi_power_of_two(2 * low)[: n - low]]),
             f"your extra slopes are the first {n - low} consecutive slopes of {2 * low} heads; "
             f"take every other one instead: {rule}."),
            (np.concatenate([_alibi_power_of_two(low), _alibi_power_of_two(2 * low)[1::2][: n - low]]),
             f"your extra slopes are the 2nd, 4th, ... slopes of {2 * low} heads, which repeat the "
             f"first {low}; start from the 1st: {rule}."),
        ]
    return mistakes


def check_alibi_slopes(slopes_fn) -> bool:
    """Check ``slopes_fn(n_heads)``, the ALiBi slope of each head, against BLOOM's code.

    The reference is ``transformers.models.bloom.modeling_bloom.build_alibi_tensor`` (whose bias
    at key position 1 is the slope itself) for 8, 12, 16, 112 (BLOOM-176B), 6 and 32 heads. For
    a power of two ``n`` the slopes are ``2^(-8h/n)``, ``h = 1, ..., n`` (Press et al., 2022).
    For other head counts the rule is not in the paper, which trains power-of-two head counts
    only: it is ``get_slopes`` in the authors' code (github.com/ofirpress/attention_with_linear_biases,
    ``fairseq/models/transformer.py``), which BLOOM copies: the slopes of the largest power of
    two ``2^a <= n``, then every other slope of ``2^(a+1)`` heads (the 1st, 3rd, ...) for the rest.

    Parameters
    ----------
    slopes_fn : callable
        The learner's ``slopes(n_heads)``, returning ``n_heads`` numbers in BLOOM's head order.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the head count and, when it matches a typical mistake (``2^(-8h/n)`` for a head
        count that is not a power of two, the slopes sorted, the extra slopes taken from the wrong
        places, ``h`` counted from 0), saying which; else the first slope that differs.
    ValueError
        If ``slopes_fn`` is not callable.

    Examples
    --------
    >>> from selfattn.exercises import check_alibi_slopes
    >>> from selfattn.positions import alibi_slopes
    >>> check_alibi_slopes(alibi_slopes)
    Correct: your slopes match transformers' build_alibi_tensor for 8, 12, 16, 112, 6 and 32 heads.
    True
    """
    import torch
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    _checks.learner_function(slopes_fn, "check_alibi_slopes", "slopes")
    for n in _ALIBI_HEADS:
        desc = f"n_heads={n}"
        expected = build_alibi_tensor(torch.ones(1, 2), n, torch.float64)[:, 0, 1].numpy()  # (n,)
        try:
            result = slopes_fn(n)
        except CheckError:
            raise
        except Exception as exc:
            raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}") from exc
        try:
            ans, dtype = _answer(result, "your slopes")
        except CheckError as err:
            raise CheckError(f"{desc}: {err}") from None
        tol = _tolerance(dtype, np.dtype(np.float32))  # BLOOM computes the slopes in float32
        if ans.shape == expected.shape and not tol.close(ans, expected):
            for wrong, why in _alibi_mistakes(n):
                if tol.close(ans, wrong):
                    raise CheckError(f"{desc}: {why}")
        try:
            _compare(ans, expected, "your slopes", tol)
        except CheckError as err:
            raise CheckError(f"{desc}, against transformers' build_alibi_tensor: {err}") from None
    counts = ", ".join(str(n) for n in _ALIBI_HEADS[:-1]) + f" and {_ALIBI_HEADS[-1]}"
    return _ok(f"your slopes match transformers' build_alibi_tensor for {counts} heads.")


__all__.append("check_alibi_slopes")


# ---- a Llama checkpoint's W_q from the interleaved to the half RoPE layout (chapter 10) ----
def _to_hf_cases():
    """Seeded cases (description, x, W_q, W_k, n_heads, positions): ``nn.Linear`` matrices
    ``(h * d_k, d_model)`` with ``h * d_k = d_model``, so that permuting columns runs too."""
    rng = np.random.default_rng(1034)
    cases = []
    for h, d_k, n in ((2, 8, 6), (4, 4, 5)):
        d_model = h * d_k
        x = rng.normal(size=(n, d_model))
        W_q, W_k = rng.normal(size=(2, h * d_k, d_model))
        cases.append((f"{h} heads of d_k={d_k}, d_model={d_model}", x, W_q, W_k, h, np.arange(n)))
    return cases


def _head_permutation(n_heads: int, d_k: int) -> np.ndarray:
    """The rows of all heads, each head's reordered even coordinates first: ``(n_heads * d_k,)``."""
    from .positions import rope_permutation

    return np.concatenate([h * d_k + rope_permutation(d_k) for h in range(n_heads)])


def _interleaved_scores(x, W_q, W_k, n_heads, positions):
    """The checkpoint's raw scores ``(h, n, n)``: ``x @ W.T`` split into heads, each turned by
    :func:`selfattn.nn.rope` in the interleaved layout."""
    import torch

    from . import nn as snn

    def heads(W):  # (n, h * d_k) -> (h, n, d_k)
        t = torch.from_numpy(x) @ torch.from_numpy(W).T
        return snn.rope(t.view(len(x), n_heads, -1).transpose(0, 1), positions, layout="interleaved")

    return (heads(W_q) @ heads(W_k).transpose(-1, -2)).numpy()


def _hf_llama_scores(x, W_q, W_k, n_heads, positions, base=10000.0):
    """Raw scores ``(h, n, n)`` of ``x @ W.T`` turned by ``transformers``' Llama
    ``apply_rotary_pos_emb`` (half layout), cos and sin built as ``LlamaRotaryEmbedding`` does,
    in float64."""
    import torch
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    n, d_k = len(x), W_q.shape[0] // n_heads
    inv_freq = 1.0 / base ** (torch.arange(0, d_k, 2, dtype=torch.float64) / d_k)  # (d_k/2,)
    angles = torch.as_tensor(positions, dtype=torch.float64)[:, None] * inv_freq  # (n, d_k/2)
    emb = torch.cat([angles, angles], dim=-1)[None]  # (1, n, d_k)

    def heads(W):  # (n, h * d_k) -> (1, h, n, d_k)
        t = torch.from_numpy(x) @ torch.as_tensor(W, dtype=torch.float64).T
        return t.view(1, n, n_heads, d_k).transpose(1, 2)

    q, k = apply_rotary_pos_emb(heads(W_q), heads(W_k), emb.cos(), emb.sin())
    return (q @ k.transpose(-1, -2))[0].numpy()


def _to_hf_mistakes(W, n_heads):
    """``(matrix, why)``: what a typical wrong ``to_hf`` returns for ``W``."""
    d_out = W.shape[0]
    d_k = d_out // n_heads
    perm = _head_permutation(n_heads, d_k)
    whole = _head_permutation(1, d_out)
    return (
        (W, "your matrix is the one you were given. The checkpoint pairs rows (2i, 2i+1) of each "
            "head, the half layout pairs (i, i + d_k/2): reorder the rows of each head, its even "
            "rows first, then its odd ones."),
        (W[whole], f"you reorder all {d_out} rows as if they were one head. Each head has its own "
                   f"pairs (rows 0 to {d_k - 1} are head 0, and so on): reorder the rows within "
                   "each head."),
        (W[:, perm], "you reorder the columns. nn.Linear stores its matrix as (out, in): "
                     "the coordinates of q that RoPE turns are its rows, so reorder the rows."),
        (W[:, whole], "you reorder the columns, as if all of them were one head. nn.Linear "
                      "stores its matrix as (out, in): reorder the rows, within each head."),
        (W[np.argsort(perm)], "you apply the inverse permutation: row i of your result must be "
                              "row perm[i] of w, with perm = 0, 2, 4, ..., 1, 3, 5, ... in each "
                              "head (the even rows first), not the other way round."),
    )


def check_to_hf(to_hf) -> bool:
    """Check ``to_hf(w, n_heads)``: a Llama checkpoint's ``wq`` from the interleaved RoPE layout
    to the half layout of ``transformers``, against PyTorch and ``transformers``.

    Meta's Llama checkpoint stores ``wq`` (and ``wk``) as ``nn.Linear`` stores its matrix, of shape
    ``(n_heads * d_k, d_model)`` (outputs in the rows), for the interleaved layout, pairs ``(2i, 2i+1)`` of each head.
    ``to_hf`` must reorder it so that ``transformers``' ``apply_rotary_pos_emb``, which pairs
    ``(i, i + d_k/2)``, gives the same scores. The check applies ``to_hf`` to both ``W_q`` and
    ``W_k`` of seeded cases (2 heads of ``d_k = 8``, then 4 heads of ``d_k = 4``, ``d_model =
    16``, float64 tensors), and compares the scores per head with those of the interleaved
    rotation (:func:`selfattn.nn.rope`) of the original matrices. The conversion script of
    ``transformers`` (``convert_llama_weights_to_hf.py``) does it with
    ``permute(w) = w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2)``
    ``.reshape(dim1, dim2)``: within each head, the even rows, then the odd ones.

    Parameters
    ----------
    to_hf : callable
        The learner's ``to_hf(w, n_heads)``; ``w`` is a float64 ``torch.Tensor``. It returns
        the reordered matrix (a tensor or an array) of the same shape.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming the case and, when it matches a typical mistake (no change, the whole matrix
        permuted as one head, the columns permuted instead of the rows, the inverse
        permutation), saying which; else the first score that differs.
    ValueError
        If ``to_hf`` is not callable.

    Examples
    --------
    >>> from selfattn.exercises import check_to_hf
    >>> def to_hf(w, n_heads):
    ...     d_out, d_in = w.shape
    ...     return w.view(n_heads, d_out // n_heads // 2, 2, d_in).transpose(1, 2).reshape(d_out, d_in)
    >>> check_to_hf(to_hf)
    Correct: your to_hf gives transformers' Llama the checkpoint's scores in both cases.
    True
    """
    import torch

    _checks.learner_function(to_hf, "check_to_hf", "to_hf")
    cases = _to_hf_cases()
    for desc, x, W_q, W_k, h, positions in cases:
        expected = _interleaved_scores(x, W_q, W_k, h, positions)  # (h, n, n)
        converted = []
        for W in (W_q, W_k):
            try:
                result = to_hf(torch.from_numpy(W.copy()), h)
            except CheckError:
                raise
            except Exception as exc:
                raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}") from exc
            try:
                ans, dtype = _answer(result, "your matrix")
                ans = _shaped(ans, W.shape, "your matrix")
            except CheckError as err:
                raise CheckError(f"{desc}: {err}") from None
            converted.append(ans)
        tol = _tolerance(dtype)
        scores = _hf_llama_scores(x, converted[0], converted[1], h, positions)
        if not tol.close(scores, expected):
            for (wrong, why), (wrong_k, _) in zip(_to_hf_mistakes(W_q, h), _to_hf_mistakes(W_k, h)):
                if tol.close(converted[0], wrong) and tol.close(converted[1], wrong_k):
                    raise CheckError(f"{desc}: {why}")
        try:
            _compare(scores, expected, "your scores", tol)
        except CheckError as err:
            raise CheckError(f"{desc}, transformers' Llama apply_rotary_pos_emb on your matrices "
                             f"against the checkpoint's interleaved scores: {err}") from None
    return _ok("your to_hf gives transformers' Llama the checkpoint's scores in both cases.")


__all__.append("check_to_hf")


# --------------------------------------------------------------------------- #
# chapter "Causal self-attention": the causal mask of a cached step
# --------------------------------------------------------------------------- #
# (n_new, n_keys): square first (5 first: there the usual mistakes are all different masks),
# then cached steps, where the new tokens come after n_keys - n_new cached ones
_MASK_SIZES = ((5, 5), (1, 1), (2, 2), (1, 6), (3, 8), (2, 9))


def _torch_causal_mask(n_new: int, n_keys: int) -> np.ndarray:
    """The mask SDPA applies with ``causal_lower_right(n_new, n_keys)``, read off its weights.

    With queries of zeros every allowed score ties, so row ``r`` of the weights is
    ``1 / (number of allowed keys)`` on the allowed keys and 0 elsewhere; with the identity
    as values the output *is* the weights. So ``output > 0`` is the mask, measured from
    PyTorch rather than written down.
    """
    import torch
    from torch.nn.attention.bias import causal_lower_right

    q = torch.zeros(1, n_new, 2, dtype=torch.float64)
    k = torch.zeros(1, n_keys, 2, dtype=torch.float64)
    eye = torch.eye(n_keys, dtype=torch.float64)[None]  # (1, n_keys, n_keys)
    w = torch.nn.functional.scaled_dot_product_attention(
        q, k, eye, attn_mask=causal_lower_right(n_new, n_keys))  # (1, n_new, n_keys)
    return (w[0] > 0).numpy()


def _mask_mistakes(n_new: int, n_keys: int):
    """``(mask, why)``: the masks a learner typically builds instead of the causal one.

    Only those that differ from the right mask at this size are returned (on ``(1, 6)`` the
    right mask is all True, so "no mask" is no mistake there).
    """
    p = np.arange(n_keys - n_new, n_keys)[:, None]  # (n_new, 1): the new tokens' positions
    j = np.arange(n_keys)[None, :]  # (1, n_keys)
    causal = j <= p
    mistakes = [
        (np.tril(np.ones((n_new, n_keys), dtype=bool)),
         "your mask is the top-left triangle (np.tril of an (n_new, n_keys) array): that is "
         "is_causal=True's alignment when n_q != n_k: the new tokens would see only the first "
         "keys; align the triangle to the bottom right: the last query is the last token and "
         "sees every key."),
        (~causal, "your mask is True where a query must NOT attend (the future): that is the "
                  "polarity of torch.nn.MultiheadAttention's attn_mask. Here, as in "
                  "scaled_dot_product_attention, True means 'may attend'."),
        (j < p, "your mask leaves out the diagonal: with j < p instead of j <= p (p the "
                "query's position) a token cannot read itself, and on a square mask the first "
                "token can read nothing at all."),
        (j <= p + 1, "your mask lets the token at position p read key p + 1, the very token it "
                     "must predict (an off-by-one)."),
    ]
    if n_new == n_keys:
        mistakes.append((causal.T, "your mask is the transpose: True on and above the diagonal "
                                   "lets each query read the future and not the past. Rows are "
                                   "queries, columns keys."))
    mistakes.append((np.ones((n_new, n_keys), dtype=bool),
                     "your mask allows everything: no token is hidden from another."))
    return tuple((m, why) for m, why in mistakes if not (m == causal).all())


def _takes_two(fn) -> None:
    """Refuse a function that cannot be called as ``fn(n_new, n_keys)``, before calling it."""
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature to read (some builtins): calling will tell
        return
    try:
        sig.bind(1, 1)
    except TypeError:
        raise CheckError(f"your function must take (n_new, n_keys), the number of new tokens "
                         f"and the number of keys; yours takes {sig}") from None


def check_causal_mask(fn) -> bool:
    """Check ``fn(n_new, n_keys)``, the causal mask of a cached step, against PyTorch's.

    In a cached decoding step the cache holds the ``n_keys - n_new`` earlier tokens, and the
    ``n_new`` new ones come after them: new query ``r`` is the token at position
    ``n_keys - n_new + r``. ``fn(n_new, n_keys)`` returns an ``(n_new, n_keys)`` array,
    ``True`` (or 1) where new query ``r`` may attend to key ``j``, that is where
    ``j <= n_keys - n_new + r``, and ``False`` (or 0) elsewhere. With ``n_new == n_keys`` it
    is the ordinary square causal mask. The reference is read off
    ``torch.nn.functional.scaled_dot_product_attention`` with
    ``attn_mask=torch.nn.attention.bias.causal_lower_right(n_new, n_keys)`` (see
    :func:`_torch_causal_mask`), for ``(n_new, n_keys)`` = (5, 5), (1, 1), (2, 2), (1, 6),
    (3, 8) and (2, 9).

    Parameters
    ----------
    fn : callable
        The learner's ``my_causal_mask(n_new, n_keys)``.

    Returns
    -------
    bool
        ``True`` after printing ``"Correct: ..."``.

    Raises
    ------
    CheckError
        Naming ``n_new`` and ``n_keys`` and, when the mask is one of the usual mistakes (the
        top-left triangle that ``is_causal=True`` applies, the opposite polarity, the diagonal
        left out, key ``p + 1`` let in, the transpose, no mask at all), saying which;
        otherwise the first entry that differs. A function that does not take two
        arguments, a wrong shape, or values other than True/False or 0/1 (such as an
        additive mask of 0 and -inf), are named as such.
    ValueError
        If ``fn`` is not callable.

    Examples
    --------
    >>> import numpy as np
    >>> from selfattn.exercises import check_causal_mask
    >>> def my_causal_mask(n_new, n_keys):
    ...     p = np.arange(n_keys - n_new, n_keys)  # the new tokens' positions
    ...     return np.arange(n_keys)[None, :] <= p[:, None]  # (n_new, n_keys)
    >>> check_causal_mask(my_causal_mask)
    Correct: your mask is PyTorch's causal_lower_right mask for (n_new, n_keys) = (5, 5), (1, 1), (2, 2), (1, 6), (3, 8) and (2, 9).
    True
    >>> check_causal_mask(lambda n_new, n_keys: np.tril(np.ones((n_new, n_keys), dtype=bool)))
    Traceback (most recent call last):
    ...
    selfattn.exercises.CheckError: n_new=1, n_keys=6: your mask is the top-left triangle (np.tril of an (n_new, n_keys) array): that is is_causal=True's alignment when n_q != n_k: the new tokens would see only the first keys; align the triangle to the bottom right: the last query is the last token and sees every key.
    """
    _checks.learner_function(fn, "check_causal_mask", "my_causal_mask")
    _takes_two(fn)
    for n_new, n_keys in _MASK_SIZES:
        desc = f"n_new={n_new}, n_keys={n_keys}"
        try:
            result = fn(n_new, n_keys)
        except Exception as exc:
            raise CheckError(f"{desc}: your function raised {type(exc).__name__}: {exc}") from exc
        ans = np.asarray(_numpy(result))
        if ans.shape != (n_new, n_keys):
            hint = "one row per new query, one column per key"
            if n_new != n_keys and ans.shape == (n_keys, n_new):
                hint = "that is the transpose: rows are the new queries, columns the keys"
            elif n_new != n_keys and ans.shape == (n_keys, n_keys):
                hint = ("that is the square mask of all n_keys tokens: a cached step computes "
                        "only the n_new new queries, its last n_new rows")
            raise CheckError(f"{desc}: your mask has shape {ans.shape}, expected "
                             f"({n_new}, {n_keys}): {hint}")
        if ans.dtype != np.bool_:
            if not np.issubdtype(ans.dtype, np.number) or not np.isin(ans, (0, 1)).all():
                raise CheckError(f"{desc}: your mask holds values other than True/False or 1/0 "
                                 f"(dtype {ans.dtype}); an additive mask of 0 and -inf is "
                                 "another form, this exercise asks for booleans")
            ans = ans == 1
        expected = _torch_causal_mask(n_new, n_keys)
        if (ans == expected).all():
            continue
        for wrong, why in _mask_mistakes(n_new, n_keys):
            if (ans == wrong).all():
                raise CheckError(f"{desc}: {why}")
        r, j = (int(x) for x in np.argwhere(ans != expected)[0])
        p = n_keys - n_new + r
        raise CheckError(f"{desc}: entry [{r}, {j}] (new query {r}, the token at position {p}; "
                         f"key {j}) is {bool(ans[r, j])}, expected {bool(expected[r, j])}: the "
                         "token at position p may attend to key j exactly when j <= p")
    sizes = ", ".join(f"({a}, {b})" for a, b in _MASK_SIZES[:-1])
    a, b = _MASK_SIZES[-1]
    return _ok(f"your mask is PyTorch's causal_lower_right mask for (n_new, n_keys) = {sizes} "
               f"and ({a}, {b}).")


__all__.append("check_causal_mask")
