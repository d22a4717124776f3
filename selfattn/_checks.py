"""Every input check of ``selfattn``, in one place.

The NumPy core, :mod:`selfattn.blockwise`, the PyTorch twins in :mod:`selfattn.nn`,
:mod:`selfattn.heads`, :mod:`selfattn.sizing`, the explorer widget and the exercise
checkers all call these functions, so one bad input gets one message wherever it
is passed. Each check raises a ``ValueError`` that names the argument, its shape
or value, and, where there is one, the fix.

The checks work on NumPy arrays and on PyTorch tensors alike (this module never
imports torch: a tensor is recognised by its type's module), and each costs at
most one pass over an input, O(n d). Nothing here scans the (n, n) scores: the
overflow check (:func:`scores_overflow`) reads only the row maxima, which the
softmax computes anyway.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = []  # private: the public functions of selfattn re-raise these messages as their own


# --------------------------------------------------------------------------- #
# plain values: sizes, seeds, flags, the scale
# --------------------------------------------------------------------------- #
def positive_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an ``int`` of at least ``minimum``; ``True`` and ``1.9`` are not integers."""
    kind = "a positive integer" if minimum == 1 else f"a whole number >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be {kind}, got {int(value)}")
    return int(value)


def seed(value) -> int:
    """A seed is a non-negative whole number; ``None`` is refused so that every run repeats."""
    if value is None:
        raise ValueError("seed must be a whole number such as 0, got None: the course seeds everything "
                         "so that every run gives the same numbers")
    return positive_int(value, "seed", minimum=0)


def flag(value, name: str) -> bool:
    """``True`` or ``False`` only: ``"no"`` or ``0`` are not read as a yes/no answer."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def finite_number(value, name: str) -> float:
    """A real, finite number (not a bool, not NaN, not inf) as a ``float``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def scale(value, d_k: int) -> float:
    """The factor that multiplies the scores: ``1 / sqrt(d_k)`` unless one is given."""
    return 1.0 / math.sqrt(d_k) if value is None else finite_number(value, "scale")


def choice(value, name: str, options) -> object:
    """``value`` must be one of ``options`` (compared with ``==``, so ``1.9`` is not ``1``)."""
    if isinstance(value, (bool, np.bool_)) or value not in list(options):
        raise ValueError(f"unknown {name} {value!r}; choose from {list(options)}")
    return value


def head_size(d_model: int, n_heads: int) -> int:
    """``d_model // n_heads``, or one message that says why the split is impossible."""
    d_model = positive_int(d_model, "d_model")
    n_heads = positive_int(n_heads, "n_heads")
    if n_heads > d_model:
        raise ValueError(f"n_heads={n_heads} is larger than d_model={d_model}: every head needs "
                         "at least one column; use at most d_model heads")
    if d_model % n_heads:
        below = d_model // n_heads * n_heads
        raise ValueError(
            f"d_model={d_model} is not divisible by n_heads={n_heads} "
            f"({d_model} / {n_heads} = {d_model / n_heads:.2f}...); every head must get the same "
            f"whole number of columns: try d_model={below} or {below + n_heads}, "
            f"or a number of heads that divides {d_model}"
        )
    return d_model // n_heads


# --------------------------------------------------------------------------- #
# arrays and tensors
# --------------------------------------------------------------------------- #
def is_tensor(a) -> bool:
    """True for a PyTorch tensor (recognised without importing torch)."""
    return type(a).__module__.split(".")[0] == "torch"


def shape(a) -> tuple:
    return tuple(a.shape)


def as_array(x, name: str):
    """``x`` as a NumPy array (a tensor is returned as it is); a ragged nested list is refused by name."""
    if is_tensor(x):
        return x
    try:
        return np.asarray(x)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} cannot be made into an array: {exc}") from None


def float_array(x, name: str) -> np.ndarray:
    """``x`` as a NumPy float array: float32 and float64 are kept, integers become float64."""
    if is_tensor(x):
        raise ValueError(f"{name} is a torch.Tensor; the NumPy functions take arrays: "
                         f"pass {name}.detach().numpy(), or use the twin in selfattn.nn")
    arr = as_array(x, name)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def float_tensor(x, name: str, dtype=None):
    """``x`` as a floating-point torch tensor; NumPy arrays and lists are refused with the fix."""
    if not is_tensor(x):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}; "
                         f"convert it with torch.as_tensor({name}), or use the NumPy function in selfattn")
    if not x.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}; use {name}.double()")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{name} has dtype {x.dtype} but the layer's matrices are {dtype}: "
                         f"convert with {name}.to({dtype}), or build the layer with dtype={x.dtype}")
    return x


def finite(a, name: str) -> None:
    """Raise a ValueError naming the first NaN or infinite entry of ``a`` (array or tensor)."""
    ok = bool(a.isfinite().all()) if is_tensor(a) else bool(np.isfinite(a).all())
    if ok:
        return
    arr = a.detach().cpu().numpy() if is_tensor(a) else np.asarray(a)
    bad = ~np.isfinite(arr)
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf); "
                     f"the first is {arr[idx]} at index {idx}")


def ndim(a, name: str, minimum: int, layout: str) -> None:
    if a.ndim < minimum:
        raise ValueError(f"{name} must have at least {minimum} dimensions {layout}, got shape {shape(a)}")


def matrix(a, name: str, layout: str = "(d_in, d_out)") -> np.ndarray:
    """A finite 2-D float matrix with no empty side, as a new array (never a view of the caller's)."""
    m = np.array(float_array(a, name), copy=True)
    if m.ndim != 2:
        raise ValueError(f"{name} must be 2-D {layout}, got shape {m.shape}")
    if 0 in m.shape:
        raise ValueError(f"{name} must have at least one row and one column {layout}, got shape {m.shape}")
    finite(m, name)
    return m


def key_sizes(qs: tuple, ks: tuple, vs: tuple) -> None:
    """The shapes of q, k and v agree on d_k (q and k) and n_k (k and v), both at least 1."""
    if qs[-1] != ks[-1]:
        raise ValueError(f"q and k must have the same last dimension d_k, got q {qs} (d_k={qs[-1]}) "
                         f"and k {ks} (d_k={ks[-1]})")
    if qs[-1] == 0:
        raise ValueError(f"q and k need d_k >= 1 (a score is a dot product of d_k numbers), got q {qs} and k {ks}")
    if ks[-2] != vs[-2]:
        raise ValueError(f"k and v must have the same number of rows n_k (one value per key), "
                         f"got k {ks} (n_k={ks[-2]}) and v {vs} (n_k={vs[-2]})")
    if ks[-2] == 0:
        raise ValueError(f"k and v need at least one row (n_k >= 1) to attend to, got k {ks} and v {vs}")


def attention_shapes(q, k, v) -> None:
    """q (..., n_q, d_k), k (..., n_k, d_k), v (..., n_k, d_v): the sizes that must agree, agree."""
    ndim(q, "q", 2, "(..., n_q, d_k)")
    ndim(k, "k", 2, "(..., n_k, d_k)")
    ndim(v, "v", 2, "(..., n_k, d_v)")
    qs, ks, vs = shape(q), shape(k), shape(v)
    key_sizes(qs, ks, vs)
    if not qs[:-2] == ks[:-2] == vs[:-2]:
        raise ValueError(f"q, k and v must have the same leading (batch/head) dimensions, got "
                         f"q {qs}, k {ks}, v {vs}")


def mask(m, target_shape: tuple, what: str = "scores", like=None):
    """A boolean mask (True = may attend) that broadcasts to ``target_shape`` without enlarging it.

    Returned as a NumPy array, or as a tensor on ``like``'s device when ``like`` is a tensor.
    An additive float mask (0 / -inf) is refused: read as booleans it would flip its meaning.
    """
    if m is None:
        return None
    m = as_array(m, "mask")  # a ragged nested list is refused by name
    if is_tensor(m):
        m_shape, is_bool = shape(m), str(m.dtype) == "torch.bool"
    else:
        m_shape, is_bool = m.shape, m.dtype == np.bool_
    if not is_bool:
        raise ValueError(f"mask must be boolean (True = may attend), got dtype {m.dtype}; an additive "
                         "float mask (0 / -inf) is not accepted: convert it with `mask = additive == 0`")
    target_shape = tuple(target_shape)
    try:
        full = np.broadcast_shapes(m_shape, target_shape)
    except ValueError:
        full = None
    if full != target_shape:
        raise ValueError(f"mask of shape {m_shape} does not broadcast to the {what} shape {target_shape}")
    if like is not None and is_tensor(like):
        import torch  # only reached with tensors, so torch is installed

        return torch.as_tensor(m, device=like.device)
    return np.asarray(m)


def attention_inputs(q, k, v, mask_=None, scale_=None, tensors: bool = False):
    """Check and convert the arguments of scaled dot-product attention.

    The NumPy functions take arrays (``tensors=False``: a tensor is refused by name), the
    PyTorch twins take tensors (``tensors=True``: an array is refused by name). Returns
    ``q, k, v, mask, scale``: float arrays (or tensors) of one dtype, the mask as a boolean
    array (or tensor) of a shape that broadcasts to the scores, and the scale as a float.
    Costs O(n d); the scores are never scanned here.
    """
    if tensors:
        q, k, v = (float_tensor(a, n) for a, n in ((q, "q"), (k, "k"), (v, "v")))
        if not q.dtype == k.dtype == v.dtype:
            raise ValueError(f"q, k and v must have one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    else:
        q, k, v = (float_array(a, n) for a, n in ((q, "q"), (k, "k"), (v, "v")))
        dt = np.result_type(q, k, v)
        q, k, v = (a.astype(dt, copy=False) for a in (q, k, v))
    attention_shapes(q, k, v)
    for a, n in ((q, "q"), (k, "k"), (v, "v")):
        finite(a, n)
    scores_shape = shape(q)[:-1] + (shape(k)[-2],)
    return q, k, v, mask(mask_, scores_shape, like=q), scale(scale_, shape(q)[-1])


def layer_input(x, d_model: int, dtype=None):
    """The input of a layer: at least (n, d_model), finite, in the layer's dtype (torch)."""
    x = float_tensor(x, "x", dtype) if dtype is not None else float_array(x, "x")
    ndim(x, "x", 2, "(..., n, d_model)")
    if shape(x)[-1] != d_model:
        raise ValueError(f"x has last dimension {shape(x)[-1]} but the layer expects d_model={d_model} "
                         f"(x has shape {shape(x)})")
    if shape(x)[-2] == 0:
        raise ValueError(f"x must hold at least one token (n >= 1), got shape {shape(x)}")
    finite(x, "x")
    return x


def scores_overflow(row_max, mask_=None, axis: int = -1) -> None:
    """Raise if the scores overflowed, read from the row maxima the softmax computes anyway.

    With finite q and k, a row maximum that is NaN or +inf, or -inf in a row the mask
    leaves open, can only come from ``q @ k^T * scale`` overflowing the dtype. O(n).
    """
    dtype = row_max.dtype
    if is_tensor(row_max):
        row_max = row_max.detach().cpu().numpy()
    bad = ~np.isfinite(row_max)
    if not bad.any():
        return
    if mask_ is not None:  # -inf in a fully masked row is no overflow: there is nothing to attend to
        m = mask_.detach().cpu().numpy() if is_tensor(mask_) else mask_
        open_rows = np.broadcast_to(m.any(axis=axis, keepdims=True), bad.shape)
        bad &= open_rows | ~np.isneginf(row_max)
        if not bad.any():
            return
    idx = [int(i) for i in np.argwhere(bad)[0]]
    del idx[axis]
    raise ValueError(f"the scores q @ k^T * scale overflow {dtype} (first in query row {tuple(idx)}): "
                     "they are too large for the dtype; rescale q or k, or pass a smaller scale")


def softmax_input(x, axis) -> np.ndarray:
    """Scores for :func:`selfattn.softmax`, as a new float array: -inf allowed (masked), NaN and +inf not."""
    x = np.array(float_array(x, "x"), copy=True)
    if x.ndim == 0:
        raise ValueError("softmax needs at least one axis, got a scalar (shape ())")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"axis must be one whole number (the axis whose weights sum to 1), got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for x of shape {x.shape}")
    if x.shape[axis] == 0:
        raise ValueError(f"softmax over an empty axis: axis {axis} of x with shape {x.shape} has length 0")
    finite(np.where(np.isneginf(x), 0.0, x), "x")
    return x


def projection_matrices(W_q, W_k, W_v) -> tuple:
    """W_q, W_k (d_model, d_k) and W_v (d_model, d_v) as new float arrays whose sizes agree."""
    W_q, W_k, W_v = (matrix(m, n, "(d_model, d_out)") for m, n in ((W_q, "W_q"), (W_k, "W_k"), (W_v, "W_v")))
    if not W_q.shape[0] == W_k.shape[0] == W_v.shape[0]:
        raise ValueError(f"W_q, W_k and W_v must have the same number of rows d_model, got "
                         f"{W_q.shape}, {W_k.shape}, {W_v.shape}")
    if W_q.shape[1] != W_k.shape[1]:
        raise ValueError(f"W_q and W_k must have the same number of columns d_k, got {W_q.shape} and {W_k.shape}")
    return W_q, W_k, W_v


# --------------------------------------------------------------------------- #
# vectors and table records
# --------------------------------------------------------------------------- #
def vector(x, name: str) -> np.ndarray:
    """One finite vector (1-D, at least one entry) as a float64 array."""
    v = float_array(x, name).astype(np.float64, copy=False)
    if v.ndim != 1:
        raise ValueError(f"{name} must be one vector (1-D), got shape {v.shape}")
    if v.size == 0:
        raise ValueError(f"{name} must have at least one entry, got shape {v.shape}")
    finite(v, name)
    return v


def records(rows, name: str) -> list:
    """``rows`` as a list of dicts (any iterable of mappings), such as the rows of a table."""
    from collections.abc import Mapping

    if isinstance(rows, (str, bytes, Mapping)) or not hasattr(rows, "__iter__"):
        raise ValueError(f"{name} must be a list of dicts, got {type(rows).__name__}")
    rows = list(rows)
    for i, r in enumerate(rows):
        if not isinstance(r, Mapping):
            raise ValueError(f"{name} must be a list of dicts; item {i} is a {type(r).__name__}: {r!r}")
    return rows


# --------------------------------------------------------------------------- #
# training and backpropagation (selfattn.training, selfattn.backprop)
# --------------------------------------------------------------------------- #
def positive_number(value, name: str) -> float:
    """A finite number above zero, such as a learning rate, as a ``float``."""
    value = finite_number(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return value


def finite_result(value, what: str, fix: str) -> None:
    """Raise if ``value`` (a number, array or tensor computed from finite inputs) holds NaN or inf."""
    ok = bool(value.isfinite().all()) if is_tensor(value) else bool(np.isfinite(value).all())
    if not ok:
        raise ValueError(f"{what} is not finite (NaN or inf): {fix}")


def same_length(examples, name: str = "examples") -> None:
    """At least one sentence, all of one length (coreference examples, with ``.tokens``)."""
    lengths = sorted({len(ex.tokens) for ex in examples})
    if not lengths:
        raise ValueError(f"{name} is empty: give at least one sentence")
    if len(lengths) != 1:
        raise ValueError(f"{name} must be sentences of one length to form a batch, got lengths {lengths}")


def referents(examples, nouns) -> None:
    """Every example names its referent, one of ``nouns``, at ``referent_pos``; else name the first."""
    for i, ex in enumerate(examples):
        pos = ex.referent_pos
        at_pos = ex.tokens[pos] if pos is not None and 0 <= pos < len(ex.tokens) else None
        if ex.referent not in nouns or at_pos != ex.referent:
            raise ValueError(
                f"examples[{i}] ({ex.text!r}) has no referent noun (referent={ex.referent!r}, "
                f"referent_pos={pos!r}): scoring needs the noun 'it' refers to, one of {list(nouns)}; "
                f"build the example with coref.make_example(sentence, referent)")


def snapshot_steps(steps_, last: int, watch) -> set:
    """The steps at which to record the watched sentences: whole numbers from 0 to ``last``."""
    try:
        steps_ = list(steps_)
    except TypeError:
        raise ValueError(f"snapshot_steps must be a list of steps such as [0, {last}], "
                         f"got {steps_!r}") from None
    out = {positive_int(s, "each of snapshot_steps", minimum=0) for s in steps_}
    if any(s > last for s in out):
        raise ValueError(f"snapshot_steps must lie between 0 and steps={last}, got {sorted(out)}")
    if out and not watch:
        raise ValueError(f"snapshot_steps={sorted(out)} records where 'it' looks in the sentences of watch, "
                         "but watch is empty: pass watch=[coref.make_example(...), ...]")
    if watch:
        same_length(watch, "watch")
    return out


def backprop_inputs(X, W_q, W_k, W_v, Y) -> tuple:
    """X (n, d_model), W_q, W_k (d_model, d_k), W_v (d_model, d_v), Y (n, d_v): finite float64 copies."""
    W_q, W_k, W_v = projection_matrices(W_q, W_k, W_v)
    X, Y = matrix(X, "X", "(n, d_model)"), matrix(Y, "Y", "(n, d_v)")
    (n, d_model), d_v = X.shape, W_v.shape[1]
    if W_q.shape[0] != d_model:
        raise ValueError(f"X has d_model = {d_model} columns (shape {X.shape}) but W_q, W_k and W_v have "
                         f"{W_q.shape[0]} rows (W_q {W_q.shape}): they must agree")
    if Y.shape != (n, d_v):
        raise ValueError(f"Y must have shape (n, d_v) = {(n, d_v)} (n = {n} rows of X, d_v = {d_v} "
                         f"columns of W_v), got {Y.shape}")
    return tuple(a.astype(np.float64, copy=False) for a in (X, W_q, W_k, W_v, Y))


def axis(value, a, name: str) -> int:
    """One axis of the array ``a`` (called ``name``): a whole number in range, negative from the end."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"axis must be one whole number, got {value!r}")
    if not -a.ndim <= value < a.ndim:
        raise ValueError(f"axis {value} is out of range for {name} of shape {a.shape}")
    return int(value)


# --------------------------------------------------------------------------- #
# tolerances
# --------------------------------------------------------------------------- #
def non_negative_number(value, name: str) -> float:
    """A finite number of at least zero, such as a tolerance, as a ``float``."""
    value = finite_number(value, name)
    if value < 0:
        raise ValueError(f"{name} must be at least 0, got {value!r}")
    return value


# --------------------------------------------------------------------------- #
# lists of names and words
# --------------------------------------------------------------------------- #
def sequence(value, name: str, what: str) -> list:
    """``value`` as a list: any iterable but a string (``"abc"`` is one name, not three letters)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a list of {what}, got {value!r}")
    return list(value)


def words(tokens, name: str, what: str = "a list of words such as ['the', 'cat']") -> tuple:
    """A sequence of words (str), not one string: ``"the"`` would be read letter by letter."""
    if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)):
        raise ValueError(f"{name} must be {what}, got {tokens!r} ({type(tokens).__name__}); "
                         "split a sentence into words with selfattn.example.tokenize")
    bad = [t for t in tokens if not isinstance(t, str)]
    if bad:
        raise ValueError(f"{name} must hold words (str), got {bad[0]!r} ({type(bad[0]).__name__})")
    return tuple(tokens)


# --------------------------------------------------------------------------- #
# inputs of the layers and the helpers around the core
# --------------------------------------------------------------------------- #
def finite_input(x, name: str, minimum: int, layout: str, tensor: bool = False):
    """``x`` as a float array (a float tensor if ``tensor``) of at least ``minimum`` dimensions, finite."""
    x = float_tensor(x, name) if tensor else float_array(x, name)
    ndim(x, name, minimum, layout)
    finite(x, name)
    return x


def lengths(value, n: int) -> np.ndarray:
    """The real lengths of the sequences of a padded batch: 1-D whole numbers from 0 to ``n``."""
    arr = np.asarray(value) if is_tensor(value) else as_array(value, "lengths")
    if arr.ndim != 1:
        raise ValueError(f"lengths must be 1-D (one length per sequence), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"lengths must be integers, got dtype {arr.dtype}")
    bad = (arr < 0) | (arr > n)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"lengths[{i}] = {int(arr[i])} is outside [0, n] = [0, {n}]")
    return arr


def generator(value, name: str = "rng"):
    """A NumPy random generator (``np.random.default_rng(seed)``; a legacy ``RandomState`` works too)."""
    if not isinstance(value, (np.random.Generator, np.random.RandomState)):
        raise ValueError(f"{name} must be a NumPy random generator such as np.random.default_rng(0), "
                         f"got {type(value).__name__}")
    return value


def float_dtype(value, name: str = "dtype"):
    """A floating-point torch dtype (recognised without importing torch), such as ``torch.float64``."""
    if type(value).__module__ != "torch" or getattr(value, "is_floating_point", None) is not True:
        raise ValueError(f"{name} must be a floating-point torch dtype such as torch.float64 or "
                         f"torch.float32, got {value!r}")
    return value


# --------------------------------------------------------------------------- #
# arguments of scale, display, exercises, models, training and book
# --------------------------------------------------------------------------- #
def string(value, name: str) -> str:
    """A non-empty ``str``, such as a name or a label."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty str, got {value!r} ({type(value).__name__})")
    return value


def probabilities(w, name: str) -> None:
    """Finite weights from 0 to 1, as a softmax gives them (1e-6 of rounding above 1 is allowed)."""
    finite(w, name)
    if w.size and (float(w.min()) < 0 or float(w.max()) > 1 + 1e-6):
        raise ValueError(f"{name} must be non-negative and at most 1 (weights, as a softmax gives them), "
                         f"got values from {float(w.min()):.6g} to {float(w.max()):.6g}")


def file_path(value, name: str = "path", exists: bool = True):
    """A file path (``str`` or ``os.PathLike``) as a ``Path``: of a file that is there (``exists``),
    or of one that can be written."""
    import os
    from pathlib import Path

    if not isinstance(value, (str, os.PathLike)) or str(value) == "":
        raise ValueError(f"{name} must be a file path (str or pathlib.Path), "
                         f"got {value!r} ({type(value).__name__})")
    path = Path(value)
    if exists and not path.is_file():
        why = "it is a folder" if path.is_dir() else "no such file"
        raise ValueError(f"{name} {str(path)!r} is not a file ({why})")
    if not exists and path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder; give the path of a file in it")
    if not exists and not path.parent.is_dir():
        raise ValueError(f"{name} {str(path)!r} cannot be written: "
                         f"the folder {str(path.parent)!r} does not exist")
    return path


def instance(value, cls, name: str, what: str):
    """``value`` must be an instance of ``cls``; ``what`` says what that is and where to get one."""
    if not isinstance(value, cls):
        raise ValueError(f"{name} must be {what}, got {type(value).__module__}.{type(value).__name__}")
    return value


def examples(value, name: str = "examples", needs=("tokens", "it_pos")) -> list:
    """A list (or tuple) of coreference examples: objects with the attributes ``needs``."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list of coref.Example, got {type(value).__name__}; build them "
                         "with coref.make_example(sentence, referent), or take them from coref.split()")
    for i, ex in enumerate(value):
        if not all(hasattr(ex, a) for a in needs):
            raise ValueError(f"{name}[{i}] is a {type(ex).__name__}, not a coref.Example: {ex!r}; "
                             "build one with coref.make_example(sentence, referent)")
    return list(value)


def torch_seed(value) -> int:
    """A :func:`seed` that PyTorch's random generator takes too: at most 64 bits."""
    value = seed(value)
    if value > 2**64 - 1:
        raise ValueError(f"seed must be at most 2**64 - 1 (PyTorch's generator takes 64 bits), got {value}")
    return value


def _long_tensor(x, name: str, what: str, layout: str, expected_shape, top: int):
    """A ``torch.long`` tensor of ``what``: its shape passes ``expected_shape``, entries 0 to top - 1."""
    if not is_tensor(x) or str(x.dtype) != "torch.int64":
        got = f"{type(x).__name__}" + (f" of dtype {x.dtype}" if is_tensor(x) else "")
        raise ValueError(f"{name} must be a torch.long tensor of {what}, got {got}; "
                         "build it with training.batch(examples)")
    if not expected_shape(shape(x)):
        raise ValueError(f"{name} must have shape {layout}, got {shape(x)}")
    low, high = int(x.min()), int(x.max())
    if low < 0 or high >= top:
        raise ValueError(f"{name} must be {what} from 0 to {top - 1}, got values from {low} to {high}")
    return x


def token_ids(ids, vocab_size: int):
    """Word indices of a batch of sentences: a ``torch.long`` tensor (B, n), each from 0 to vocab_size - 1."""
    layout = "(B, n) with B, n >= 1 (one row of word indices per sentence)"
    return _long_tensor(ids, "ids", "word indices", layout, lambda s: len(s) == 2 and 0 not in s, vocab_size)


def positions(it_pos, ids):
    """One position per sentence of ``ids`` (B, n): a ``torch.long`` tensor (B,), entries from 0 to n - 1."""
    b, n = shape(ids)
    return _long_tensor(it_pos, "it_pos", "positions", f"(B,) = ({b},), one position per sentence",
                        lambda s: s == (b,), n)


def template(value, name: str, fields) -> str:
    """A ``str.format`` template that uses exactly the named ``fields``, each by name."""
    import string as _string

    try:
        used = {f for _, f, _, _ in _string.Formatter().parse(value) if f is not None}
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{name} must be a format string with the fields {sorted(fields)}, got {value!r}: "
                         f"{exc}") from None
    if used != set(fields):
        raise ValueError(f"{name} must use exactly the fields {sorted(fields)}, "
                         f"got {sorted(used)} in {value!r}")
    return value


def record_types(rows, name: str, ints=(), texts=()) -> None:
    """Each row's ``ints`` columns hold a whole number or ``None`` and its ``texts`` columns a ``str``."""
    for i, r in enumerate(rows):
        where = f"{name}[{i}] ({r.get('model', '?')!r})"
        for c in ints:
            whole = isinstance(r[c], numbers.Integral) and not isinstance(r[c], (bool, np.bool_))
            if r[c] is not None and not whole:
                raise ValueError(f"{where}: column {c} must be a whole number or None, got {r[c]!r}")
        for c in texts:
            if not isinstance(r[c], str):
                raise ValueError(f"{where}: column {c} must be text (str), got {r[c]!r}")


def source_object(obj, name: str = "obj") -> None:
    """A function defined with ``def``, a method or a class: what a chapter can show whole."""
    import inspect

    if inspect.ismodule(obj) or getattr(obj, "__name__", None) == "<lambda>":
        raise ValueError(f"{name} must be a function defined with def, a method or a class, got {obj!r}")


# the plots
def labels(value, name: str) -> list:
    """A sequence of labels (any iterable but one string), as a list of ``str``."""
    return [str(v) for v in sequence(value, name, "labels")]


def axes(value, name: str = "ax"):
    """``None`` (a new figure is made) or one matplotlib ``Axes``."""
    from matplotlib.axes import Axes

    if value is not None and not isinstance(value, Axes):
        raise ValueError(f"{name} must be a matplotlib Axes (or None for a new figure), "
                         f"got {type(value).__name__}")
    return value


def axes_list(value, name: str, count: int) -> np.ndarray:
    """Exactly ``count`` matplotlib ``Axes`` (a list, or an array as ``plt.subplots`` gives), flattened."""
    from matplotlib.axes import Axes

    flat = np.asarray(value, dtype=object).ravel()
    if flat.size != count or not all(isinstance(a, Axes) for a in flat):
        raise ValueError(f"{name} must be {count} matplotlib Axes, got {value!r}")
    return flat


def format_string(value, name: str = "fmt", example: str = "{:.2f}") -> str:
    """A format for one number: ``'{:.2f}'`` (``str.format``), or ``'%.2f'`` where ``example`` is one."""
    try:
        percent = example.startswith("%")
        ok = isinstance(value, str) and isinstance(value % 0.5 if percent else value.format(0.5), str)
    except (TypeError, ValueError, IndexError, KeyError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a format for one number such as {example!r}, got {value!r}")
    return value


def mapping(value, name: str, what: str):
    """A dict (any mapping) of ``what``."""
    from collections.abc import Mapping

    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a dict of {what}, got {type(value).__name__}")
    return value


def pair(value, name: str, what: str) -> list:
    """Exactly two items (a tuple or a list), such as two dimensions or two axis labels."""
    items = None if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__") else list(value)
    if items is None or len(items) != 2:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return items


def point_marks(marks) -> list:
    """Marks ``(label, angle_deg, dot)`` or ``(label, angle_deg, dot, (dx, dy))`` as 4-tuples."""
    out = []
    for mark in sequence(marks, "marks", "(label, angle_deg, dot) tuples"):
        if isinstance(mark, (str, bytes)) or not isinstance(mark, (tuple, list)) or len(mark) not in (3, 4):
            raise ValueError("each of marks must be (label, angle_deg, dot) or "
                             f"(label, angle_deg, dot, (dx, dy)), got {mark!r}")
        label = str(mark[0])
        angle = finite_number(mark[1], f"the angle of mark {label!r}")
        dot = finite_number(mark[2], f"the dot product of mark {label!r}")
        offset = mark[3] if len(mark) == 4 else (6, 6)
        try:
            offset = tuple(finite_number(o, "offset") for o in pair(offset, "offset", "a pair"))
        except ValueError:
            raise ValueError(f"the offset of mark {label!r} must be a pair of numbers (dx, dy) in points, "
                             f"got {offset!r}") from None
        out.append((label, angle, dot, offset))
    return out


def strings(value, name: str, what: str) -> list:
    """A list of ``str`` (any iterable but one string); ``what`` says what the strings are."""
    items = sequence(value, name, what)
    bad = [s for s in items if not isinstance(s, str)]
    if bad:
        raise ValueError(f"{name} must hold str, got {bad[0]!r} ({type(bad[0]).__name__})")
    return items


def table_cells(header, rows, right, marked) -> tuple:
    """The parts of a table: headings, rows of ``str`` cells (one per heading), one alignment
    flag per column and the ``(row, column)`` cells to mark."""
    header = strings(header, "header", "column headings (str)")
    rows = sequence(rows, "rows", "rows, each a list of str")
    for i, row in enumerate(rows):
        rows[i] = strings(row, f"rows[{i}]", "cells (str)")
        if len(rows[i]) != len(header):
            raise ValueError(f"rows[{i}] has {len(rows[i])} cells but the header has {len(header)} column(s)")
    right = list(right) if isinstance(right, (list, tuple)) else None
    if right is None or len(right) != len(header) or not all(isinstance(r, (bool, np.bool_)) for r in right):
        raise ValueError(f"right must hold one True or False per column ({len(header)}), got {right!r}")
    cells = {(i, j) for i in range(len(rows)) for j in range(len(header))}
    marked = sequence(marked, "marked", "(row, column) cells") if hasattr(marked, "__iter__") else [marked]
    for cell in marked:
        if not isinstance(cell, tuple) or cell not in cells:
            raise ValueError(f"marked must hold (row, column) cells of the table, got {cell!r}")
    return header, rows, [bool(r) for r in right], set(marked)


def npz_file(path, name: str = "path"):
    """The arrays of the ``.npz`` file at ``path``, opened; anything else is refused by name."""
    import zipfile

    path = file_path(path, name)
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{name} {str(path)!r} is not a weights file written by save_weights "
                         f"(a .npz archive): {exc}") from None
    if not hasattr(data, "files"):
        raise ValueError(f"{name} {str(path)!r} is not a weights file written by save_weights: it holds "
                         "one array (.npy), not named matrices (.npz)")
    return data


def value_range(vmin, vmax) -> tuple:
    """A colour range: a finite ``vmin`` and a finite ``vmax`` above it (``None``: from the data)."""
    vmin = finite_number(vmin, "vmin")
    if vmax is None:
        return vmin, None
    vmax = finite_number(vmax, "vmax")
    if vmax <= vmin:
        raise ValueError(f"vmax must be larger than vmin, got vmin={vmin:g} and vmax={vmax:g}")
    return vmin, vmax


def non_empty(items: list, name: str, what: str) -> list:
    """``items`` with at least one entry: ``what`` names one of them."""
    if not items:
        raise ValueError(f"{name} must hold at least one {what}, got none")
    return items


def patch_grid(image_size, patch_size) -> int:
    """Patches per side of a square image cut into square patches (``patch_size`` divides ``image_size``)."""
    image_size = positive_int(image_size, "image_size")
    patch_size = positive_int(patch_size, "patch_size")
    if image_size % patch_size:
        fit = image_size // patch_size * patch_size or patch_size
        raise ValueError(f"image_size={image_size} is not divisible by patch_size={patch_size}: the "
                         f"patches must tile the image; try image_size={fit} or a patch size that "
                         f"divides {image_size}")
    return image_size // patch_size


# --------------------------------------------------------------------------- #
# the transformer block (selfattn.block) and the pretrained encoder (selfattn.pretrained)
# --------------------------------------------------------------------------- #
def parameter(a, name: str, expected: tuple, layout: str, dtype=None) -> np.ndarray:
    """A finite float array of exactly the shape ``expected`` (not copied), in ``dtype`` if given.

    ``layout`` names the sizes, e.g. ``"(d_model,)"`` or ``"(d_model, d_ff)"``; the message
    gives both shapes.
    """
    arr = float_array(a, name)
    if arr.shape != tuple(expected):
        raise ValueError(f"{name} must have shape {layout} = {tuple(expected)}, got {arr.shape}")
    finite(arr, name)
    return arr if dtype is None else arr.astype(dtype, copy=False)


def block_input(x, name: str = "x") -> np.ndarray:
    """The input of a block or of one of its parts: finite, at least (n, d), at least one token."""
    x = finite_input(x, name, 2, "(..., n, d_model)")
    if x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(f"{name} must hold at least one token of at least one number, got shape {x.shape}")
    return x


def block_params_input(x, params, cls):
    """The block's parameters (a ``cls``, BlockParams) and an input x (..., n, d_model) that fits them."""
    p = instance(params, cls, "params", "a selfattn.block.BlockParams "
                 "(BlockParams.random(d_model) or BlockParams(W_q=..., ...))")
    x = block_input(x)
    if x.shape[-1] != p.d_model:
        raise ValueError(f"x has last dimension {x.shape[-1]} but params are for d_model={p.d_model} "
                         f"(x has shape {x.shape})")
    return x, p


def layer_norm_inputs(x, gamma, beta, eps):
    """x (..., d), gamma and beta (d,), eps > 0: checked, gamma and beta in the dtype of x."""
    x = block_input(x)
    d = x.shape[-1]
    gamma = parameter(gamma, "gamma", (d,), "(d,) with d the last dimension of x", x.dtype)
    beta = parameter(beta, "beta", (d,), "(d,) with d the last dimension of x", x.dtype)
    eps = finite_number(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps must be a small positive number such as 1e-12 (BERT) or 1e-5 (PyTorch), "
                         f"got {eps!r}")
    return x, gamma, beta, eps


def feed_forward_inputs(x, W1, b1, W2, b2):
    """x (..., d_model), W1 (d_model, d_ff), b1 (d_ff,), W2 (d_ff, d_model), b2 (d_model,)."""
    x = block_input(x)
    d_model = x.shape[-1]
    W1 = float_array(W1, "W1")
    if W1.ndim != 2 or W1.shape[0] != d_model:
        raise ValueError(f"W1 must have shape (d_model, d_ff) with d_model = {d_model} (the last "
                         f"dimension of x, shape {x.shape}), got {W1.shape}")
    d_ff = W1.shape[1]
    W1 = parameter(W1, "W1", (d_model, d_ff), "(d_model, d_ff)", x.dtype)
    W2 = float_array(W2, "W2")
    if W2.shape != (d_ff, d_model):
        raise ValueError(f"W2 must have shape (d_ff, d_model) = {(d_ff, d_model)} to undo W1 {W1.shape}, "
                         f"got {W2.shape}: W1's columns are W2's rows")
    W2 = parameter(W2, "W2", (d_ff, d_model), "(d_ff, d_model)", x.dtype)
    b1 = parameter(b1, "b1", (d_ff,), "(d_ff,), one per column of W1", x.dtype)
    b2 = parameter(b2, "b2", (d_model,), "(d_model,), one per column of W2", x.dtype)
    return x, W1, b1, W2, b2


def attention_parameters(x, W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o, n_heads):
    """x (..., n, d_model); four (d_model, d_model) matrices and four (d_model,) biases; the head size."""
    x = block_input(x)
    d_model = x.shape[-1]
    d_head = head_size(d_model, n_heads)
    mats = [parameter(W, n, (d_model, d_model), "(d_model, d_model) with d_model the last dimension of x",
                      x.dtype)
            for W, n in ((W_q, "W_q"), (W_k, "W_k"), (W_v, "W_v"), (W_o, "W_o"))]
    biases = [parameter(b, n, (d_model,), "(d_model,)", x.dtype)
              for b, n in ((b_q, "b_q"), (b_k, "b_k"), (b_v, "b_v"), (b_o, "b_o"))]
    return x, mats, biases, d_head


def block_params(p) -> tuple:
    """The arrays of a ``BlockParams`` agree: returns ``(d_model, d_ff)``; each wrong shape is named."""
    W_q = float_array(p.W_q, "W_q")
    if W_q.ndim != 2 or W_q.shape[0] != W_q.shape[1] or 0 in W_q.shape:
        raise ValueError(f"W_q must be a square (d_model, d_model) matrix, got shape {W_q.shape}")
    d_model = W_q.shape[0]
    W1 = float_array(p.W1, "W1")
    if W1.ndim != 2 or W1.shape[0] != d_model or W1.shape[1] == 0:
        raise ValueError(f"W1 must have shape (d_model, d_ff) with d_model = {d_model} (from W_q "
                         f"{W_q.shape}), got {W1.shape}")
    d_ff = W1.shape[1]
    shapes = {"W_k": (d_model, d_model), "W_v": (d_model, d_model), "W_o": (d_model, d_model),
              "b_q": (d_model,), "b_k": (d_model,), "b_v": (d_model,), "b_o": (d_model,),
              "ln1_gamma": (d_model,), "ln1_beta": (d_model,), "b1": (d_ff,),
              "W2": (d_ff, d_model), "b2": (d_model,), "ln2_gamma": (d_model,), "ln2_beta": (d_model,)}
    for name, expected in shapes.items():
        arr = float_array(getattr(p, name), name)
        if arr.shape != expected:
            what = "(d_ff, d_model)" if name == "W2" else "(d_ff,)" if name == "b1" else \
                "(d_model, d_model)" if name.startswith("W") else "(d_model,)"
            raise ValueError(f"{name} must have shape {what} = {expected} (d_model = {d_model} from W_q, "
                             f"d_ff = {d_ff} from W1), got {arr.shape}")
        finite(arr, name)
    finite(W_q, "W_q")
    finite(W1, "W1")
    return d_model, d_ff


def texts(value, name: str = "sentences") -> list:
    """One ``str`` or a list of them, each with some text (not only spaces), as a list."""
    items = [value] if isinstance(value, str) else None
    if items is None:
        if isinstance(value, bytes) or not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a str or a list of str, got {value!r} ({type(value).__name__})")
        items = list(value)
        if not items:
            raise ValueError(f"{name} must hold at least one sentence, got an empty {type(value).__name__}")
    for i, s in enumerate(items):
        where = name if isinstance(value, str) else f"{name}[{i}]"
        if not isinstance(s, str):
            raise ValueError(f"{where} must be a str, got {s!r} ({type(s).__name__})")
        if not s.strip():
            raise ValueError(f"{where} is empty ({s!r}): give a sentence with at least one word")
    return items


def token_count(n: int, limit: int, text: str) -> None:
    """A tokenized sentence fits the model's position table (``limit`` tokens, [CLS] and [SEP] included)."""
    if n > limit:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(f"the text {shown!r} is {n} tokens long with [CLS] and [SEP], more than the "
                         f"{limit} positions the model has: shorten it or split it into sentences")


def sha256_file(path, expected: str) -> str:
    """The SHA-256 of the file at ``path``, which must be ``expected``; a mismatch names both hashes."""
    import hashlib

    path = file_path(path, "path")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual != expected:
        raise ValueError(f"{str(path)!r} has SHA-256 {actual}, expected {expected}: the file is not the "
                         "released one (damaged or replaced); reinstall the package that ships it")
    return actual


# --------------------------------------------------------------------------- #
# head statistics of a pretrained model (selfattn.probe)
# --------------------------------------------------------------------------- #
def head_attentions(attentions, tokens, name: str = "attentions") -> tuple:
    """``attentions`` ``(L, h, n, n)`` of finite rows that sum to one, and ``tokens`` a list of
    ``n`` str; returns them as a float64 array and a list."""
    a = finite_input(attentions, name, 4, "(n_layers, n_heads, n, n)")
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 4:
        raise ValueError(f"{name} must have shape (n_layers, n_heads, n, n), got {a.shape}: "
                         "pass encoder(sentence).attentions, one sentence at a time")
    tokens = strings(tokens, "tokens", "a list of str such as encoder(sentence).tokens")
    L, h, n_q, n_k = a.shape
    if n_q != n_k:
        raise ValueError(f"{name} must have shape (n_layers, n_heads, n, n), square per head, "
                         f"got {a.shape}")
    if n_k != len(tokens):
        raise ValueError(f"{name} of shape {a.shape} has {n_k} tokens per row but tokens has "
                         f"{len(tokens)}: pass the tokens of the same sentence")
    if n_k < 2:
        raise ValueError(f"{name} of shape {a.shape} has one token; the statistics need at least 2")
    if np.any(a < 0) or not np.allclose(a.sum(axis=-1), 1.0, atol=1e-4):
        worst = float(np.abs(a.sum(axis=-1) - 1).max())
        raise ValueError(f"{name} must hold attention weights: rows of non-negative numbers that "
                         f"sum to 1 (a row sum is {worst:.3g} away from 1 here)")
    return a, tokens


def token_position(tokens, word, name: str) -> int:
    """The one position of ``word`` in ``tokens``; missing or repeated words are named."""
    word = string(word, name)
    where = [i for i, t in enumerate(tokens) if t == word]
    if len(where) != 1:
        found = "is not" if not where else f"appears {len(where)} times (positions {where})"
        raise ValueError(f"{name}={word!r} {found} in the tokens {tokens}: pass a token that "
                         "appears once, spelled as the tokenizer spells it (lower case)")
    return where[0]


def index_below(value, name: str, count: int, note: str = "") -> int:
    """A whole number from 0 to ``count - 1`` (``True`` and ``1.9`` refused); the message gives the range."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
            or not 0 <= value < count):
        raise ValueError(f"{name} must be a whole number from 0 to {count - 1}{note}, "
                         f"got {value!r} ({type(value).__name__})")
    return int(value)


def shown_token_count(n: int, limit: int, text: str) -> None:
    """A sentence for a widget's heatmap has at most ``limit`` tokens ([CLS] and [SEP] included)."""
    if n > limit:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(f"the text {shown!r} is {n} tokens long with [CLS] and [SEP]; the head explorer "
                         f"shows at most {limit} (a wider heatmap is unreadable): type a shorter sentence")


# --------------------------------------------------------------------------- #
# positions (selfattn.positions and its PyTorch twin)
# --------------------------------------------------------------------------- #
def learner_function(fn, checker: str, example: str):
    """The learner's function passed to an exercise checker: a callable, not its result."""
    if not callable(fn):
        raise ValueError(f"{checker} takes your function itself, as in {checker}({example}), "
                         f"got a {type(fn).__name__}")
    return fn


def shift(k, name: str = "k") -> int:
    """A shift of positions: a whole number, of either sign."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise ValueError(f"{name} must be a whole number of positions, got {k!r} ({type(k).__name__})")
    return int(k)


def even_dim(d, name: str = "d") -> int:
    """A width that splits into pairs (sin/cos, or the pairs RoPE rotates): even, at least 2."""
    d = positive_int(d, name)
    if d % 2:
        raise ValueError(f"{name} must be even (the coordinates go in pairs, one angle per pair), "
                         f"got {name}={d}")
    return d


def frequency_base(value) -> float:
    """The base of the position frequencies: a finite number greater than 1 (10000 in the papers)."""
    base = finite_number(value, "base")
    if base <= 1:
        raise ValueError(f"base must be greater than 1 (the frequencies are base^(-2i/d), "
                         f"10000 in the papers), got {base}")
    return base


#: The largest position accepted: float64 counts whole numbers exactly up to 2**53 (and a larger
#: float would wrap around when cast to int64).
MAX_POSITION = 2**53


def position_indices(positions, n, name: str = "positions") -> np.ndarray:
    """Positions as an int64 array ``(n,)`` of whole numbers >= 0; ``None`` gives ``0, ..., n - 1``.

    ``n = None`` takes the length from ``positions`` (which must then be given). A float array
    holding whole numbers is accepted; 1.5, a bool array, a negative position or a length other
    than ``n`` is refused by name, and so is a position above :data:`MAX_POSITION`.
    """
    if positions is None:
        if n is None:
            raise ValueError(f"{name} must be given (an array of whole numbers >= 0)")
        return np.arange(n, dtype=np.int64)
    if is_tensor(positions):
        positions = positions.detach().cpu().numpy()
    pos = as_array(positions, name)
    if pos.ndim == 0:
        pos = pos.reshape(1)
    if pos.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one position per row), got shape {pos.shape}")
    if pos.dtype == np.bool_ or not np.issubdtype(pos.dtype, np.number) or np.iscomplexobj(pos):
        raise ValueError(f"{name} must hold whole numbers >= 0, got dtype {pos.dtype}")
    if not np.issubdtype(pos.dtype, np.integer):
        finite(pos, name)
        if not np.all(pos == np.round(pos)):
            bad = pos[pos != np.round(pos)][0]
            raise ValueError(f"{name} must hold whole numbers (a position counts tokens), got {bad}")
    if pos.size and pos.min() < 0:
        raise ValueError(f"{name} must be >= 0 (the first token is at position 0), got {pos.min()}")
    if pos.size and pos.max() > MAX_POSITION:
        raise ValueError(f"{name} must be at most 2**53 = {MAX_POSITION} (beyond it float64 cannot "
                         f"tell neighbouring positions apart), got {pos.max()}")
    if n is not None and pos.shape[0] != n:
        raise ValueError(f"{name} must hold one position per row: {n} positions, got {pos.shape[0]} "
                         f"(shape {pos.shape})")
    return pos.astype(np.int64)


def rope_inputs(x, positions, layout, tensors: bool = False):
    """``x`` (..., n, d) finite with d even, its positions ``(n,)`` and a known layout, for RoPE."""
    if tensors:
        x = float_tensor(x, "x")
    else:
        x = float_array(x, "x")
    ndim(x, "x", 2, "(..., n, d): queries or keys, one row per token")
    n, d = shape(x)[-2:]
    if n == 0:
        raise ValueError(f"x must hold at least one row (n >= 1), got shape {shape(x)}")
    if d % 2:
        raise ValueError(f"RoPE rotates pairs of coordinates, so the last dimension of x must be even, "
                         f"got shape {shape(x)} (d={d})")
    finite(x, "x")
    layout = choice(layout, "layout", ("interleaved", "half"))
    return x, position_indices(positions, n), layout


# --------------------------------------------------------------------------- #
# the positions explorer (selfattn.widgets.PositionExplorer)
# --------------------------------------------------------------------------- #
def word_order(order, n: int, name: str = "order") -> list:
    """A word order: the whole numbers ``0 .. n-1``, each once (where each shown word came from)."""
    if isinstance(order, (str, bytes)) or not isinstance(order, (list, tuple, np.ndarray)):
        raise ValueError(f"{name} must be a list of the word indices 0 to {n - 1} in a new order, "
                         f"got {type(order).__name__}")
    items = list(np.asarray(order).reshape(-1)) if isinstance(order, np.ndarray) else list(order)
    for i in items:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral):
            raise ValueError(f"{name} must hold whole numbers (word indices), got {i!r} ({type(i).__name__})")
    items = [int(i) for i in items]
    if sorted(items) != list(range(n)):
        missing = sorted(set(range(n)) - set(items))
        extra = sorted({i for i in items if not 0 <= i < n} | {i for i in items if items.count(i) > 1})
        raise ValueError(f"{name} must hold each word index 0 to {n - 1} exactly once (an order of the "
                         f"{n} words), got {items}" + (f"; missing {missing}" if missing else "")
                         + (f"; out of range or repeated {extra}" if extra else ""))
    return items


def shuffle_words(n: int, name: str = "sentence") -> int:
    """A sentence to shuffle has at least two words (one word has a single order)."""
    if n < 2:
        raise ValueError(f"{name} must have at least two words to shuffle, got {n}")
    return n


# --------------------------------------------------------------------------- #
# grouped-query attention (selfattn.attention.grouped_query_attention and its twin)
# --------------------------------------------------------------------------- #
def kv_heads_input(x, n_rep, tensor: bool = False):
    """Keys or values ``(..., n_kv_heads, n_k, d)`` for :func:`repeat_kv`, and ``n_rep`` >= 1."""
    x = float_tensor(x, "x") if tensor else float_array(x, "x")
    ndim(x, "x", 3, "(..., n_kv_heads, n_k, d)")
    return x, positive_int(n_rep, "n_rep")


def grouped_attention_inputs(q, k, v, tensors: bool = False):
    """q (..., n_heads, n_q, d_k), k (..., n_kv_heads, n_k, d_k), v (..., n_kv_heads, n_k, d_v).

    The sizes that must agree, agree, ``n_kv_heads`` divides ``n_heads`` and every entry
    is finite; checked before the key/value heads are repeated, so that each message
    gives the shapes the caller passed. Returns ``q, k, v`` (float arrays, or tensors
    with ``tensors=True``) and ``n_rep = n_heads // n_kv_heads``, the query heads per
    key/value head. The mask and the scale are checked by scaled dot-product attention.
    """
    convert = (lambda a, n: float_tensor(a, n)) if tensors else float_array
    q, k, v = convert(q, "q"), convert(k, "k"), convert(v, "v")
    ndim(q, "q", 3, "(..., n_heads, n_q, d_k)")
    ndim(k, "k", 3, "(..., n_kv_heads, n_k, d_k)")
    ndim(v, "v", 3, "(..., n_kv_heads, n_k, d_v)")
    qs, ks, vs = shape(q), shape(k), shape(v)
    key_sizes(qs, ks, vs)
    if not qs[:-3] == ks[:-3] == vs[:-3]:
        raise ValueError(f"q, k and v must have the same leading (batch) dimensions before the "
                         f"head axis, got q {qs}, k {ks}, v {vs}")
    if ks[-3] != vs[-3]:
        raise ValueError(f"k and v must have the same number of key/value heads n_kv_heads, got "
                         f"k {ks} (n_kv_heads={ks[-3]}) and v {vs} (n_kv_heads={vs[-3]})")
    if qs[-3] == 0 or ks[-3] == 0:
        raise ValueError(f"q needs at least one head and k, v at least one key/value head, got "
                         f"q {qs}, k {ks}, v {vs}")
    if qs[-3] % ks[-3]:
        raise ValueError(f"n_heads={qs[-3]} (q {qs}) is not a multiple of n_kv_heads={ks[-3]} "
                         f"(k {ks}): each key/value head must serve the same number of query "
                         f"heads; use a number of key/value heads that divides {qs[-3]}")
    for a, n in ((q, "q"), (k, "k"), (v, "v")):
        finite(a, n)
    return q, k, v, qs[-3] // ks[-3]


# --------------------------------------------------------------------------- #
# the decoder (selfattn.decoder) and the induction task (selfattn.induction)
# --------------------------------------------------------------------------- #
def decoder_params(params, n_heads, shapes_of) -> tuple:
    """The decoder's weights as float64 arrays, each finite and of its shape, and ``n_heads``.

    ``shapes_of(vocab_size, d_model, n_layers)`` gives the expected names and shapes; the sizes
    are read from ``params["embedding"]`` and the number of ``layers.<l>.W_q`` entries.
    """
    if not isinstance(params, dict):
        raise ValueError("params must be a dict of weight arrays keyed by name, "
                         f"got {type(params).__name__}")
    if "embedding" not in params:
        raise ValueError("params lacks 'embedding' (vocab_size, d_model), which gives the "
                         "model's sizes")
    emb = float_array(params["embedding"], "params['embedding']")
    if emb.ndim != 2 or 0 in emb.shape:
        raise ValueError("params['embedding'] must have shape (vocab_size, d_model), "
                         f"got {emb.shape}")
    n_layers = sum(1 for name in params if str(name).endswith(".W_q"))
    if n_layers == 0:
        raise ValueError("params has no layer: expected 'layers.0.W_q' and the rest of "
                         "parameter_shapes()")
    expected = shapes_of(emb.shape[0], emb.shape[1], n_layers)
    missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
    if missing or extra:
        raise ValueError(f"params does not match a decoder of {n_layers} layer(s): "
                         f"missing {missing}, unexpected {extra}")
    out = {}
    for name, shp in expected.items():
        a = np.array(float_array(params[name], f"params[{name!r}]"), dtype=np.float64)  # a copy
        if a.shape != shp:
            raise ValueError(f"params[{name!r}] has shape {a.shape}, expected {shp}")
        finite(a, f"params[{name!r}]")
        out[name] = a
    n_heads = positive_int(n_heads, "n_heads")
    d = emb.shape[1]
    if d % n_heads or (d // n_heads) % 2:
        raise ValueError(f"n_heads={n_heads} must divide d_model={d} into heads of even size "
                         "(RoPE rotates pairs of coordinates)")
    return out, n_heads


def decoder_ids(ids, vocab_size: int, name: str = "ids", batch: bool = True) -> np.ndarray:
    """Token ids as int64, shape (n,) (or (B, n) if ``batch``), n >= 1, from 0 to vocab_size - 1."""
    if is_tensor(ids):
        raise ValueError(f"{name} is a torch.Tensor; the NumPy decoder takes arrays or lists: "
                         f"pass {name}.numpy()")
    arr = as_array(ids, name)
    layout = "(n,) or (B, n)" if batch else "(n,)"
    if arr.ndim not in ((1, 2) if batch else (1,)) or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty array of token ids of shape {layout}, "
                         f"got shape {arr.shape}")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must hold whole-number token ids, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.integer):
        finite(arr, name)
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold whole-number token ids, "
                             f"got {arr[arr != np.round(arr)][0]}")
    low, high = arr.min(), arr.max()
    if low < 0 or high >= vocab_size:
        raise ValueError(f"{name} must be token ids from 0 to {vocab_size - 1} "
                         f"(vocab_size={vocab_size}), got values from {low} to {high}")
    return arr.astype(np.int64)


def heads_to_ablate(ablate, n_layers: int, n_heads: int) -> tuple:
    """A tuple of ``(layer, head)`` pairs, each inside the model."""
    if isinstance(ablate, (str, bytes)) or not hasattr(ablate, "__iter__"):
        raise ValueError("ablate must be a list of (layer, head) pairs such as [(1, 0)], "
                         f"got {ablate!r}")
    pairs = []
    for item in ablate:
        if (not isinstance(item, (tuple, list)) or len(item) != 2
                or not all(isinstance(i, numbers.Integral) and not isinstance(i, (bool, np.bool_))
                           for i in item)):
            raise ValueError("ablate must be a list of (layer, head) pairs such as [(1, 0)], "
                             f"got item {item!r}")
        layer, head = int(item[0]), int(item[1])
        if not (0 <= layer < n_layers and 0 <= head < n_heads):
            raise ValueError(f"ablate names head {(layer, head)} but the model has layers 0 to "
                             f"{n_layers - 1} and heads 0 to {n_heads - 1}")
        pairs.append((layer, head))
    return tuple(pairs)


def kv_cache(cache, n_layers: int, cls, n_heads: int | None = None, d_head: int | None = None):
    """A ``cls`` (KVCache) instance with one entry per layer (and, once filled, the heads' sizes)."""
    if not isinstance(cache, cls):
        raise ValueError("cache must be a selfattn.decoder.KVCache, "
                         f"got {type(cache).__module__}.{type(cache).__name__}")
    if cache.n_layers != n_layers:
        raise ValueError(f"cache has {cache.n_layers} layer(s) but the model has {n_layers}: "
                         f"make it with KVCache({n_layers})")
    held = cache.keys[0]
    if n_heads is not None and held is not None and (
            held.ndim != 3 or held.shape[0] != n_heads or held.shape[-1] != d_head):
        raise ValueError(f"cache holds keys of shape {held.shape} but the model's are "
                         f"({n_heads}, tokens, {d_head}) (n_heads, tokens, d_head): the cache "
                         "belongs to another model; make a new one with "
                         f"KVCache({n_layers})")
    return cache


def cache_update(cache, layer, k, v) -> tuple:
    """``layer`` of ``cache``, and ``k`` and ``v`` as float64 copies of one shape (H, t, d_head),
    finite, matching the heads and head size the cache already holds."""
    if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, numbers.Integral) \
            or not 0 <= layer < cache.n_layers:
        raise ValueError(f"layer must be a whole number from 0 to {cache.n_layers - 1} (the "
                         f"cache has {cache.n_layers} layer(s)), got {layer!r}")
    layer = int(layer)
    k = np.array(float_array(k, "k"), dtype=np.float64)  # copies: the caller's arrays stay theirs
    v = np.array(float_array(v, "v"), dtype=np.float64)
    if k.ndim != 3 or k.shape != v.shape or k.shape[1] == 0:
        raise ValueError("k and v must be the new tokens' keys and values, one shape "
                         f"(n_heads, t, d_head) with t >= 1, got k {k.shape} and v {v.shape}")
    finite(k, "k")
    finite(v, "v")
    held = cache.keys[layer]
    if held is not None and (held.shape[0], held.shape[2]) != (k.shape[0], k.shape[2]):
        raise ValueError(f"k has shape {k.shape} but layer {layer} of the cache holds keys of "
                         f"shape {held.shape}: the heads and head size must stay the same")
    return layer, k, v


def generation_cache(cache, n_layers: int, cls):
    """``True`` gives a new empty cache, ``False`` gives ``None``; an empty ``cls`` is kept."""
    if isinstance(cache, (bool, np.bool_)):
        return cls(n_layers) if cache else None
    if not isinstance(cache, cls):
        raise ValueError("cache must be True, False or an empty selfattn.decoder.KVCache, "
                         f"got {type(cache).__module__}.{type(cache).__name__}")
    kv_cache(cache, n_layers, cls)
    if len(cache) != 0:
        raise ValueError(f"cache must be empty when generation starts (it holds {len(cache)} "
                         "tokens from another sequence); pass cache=True for a new one")
    return cache


def token_names(names, vocab_size: int) -> list:
    """One distinct str without spaces per token id; ``None`` gives ``"0"``, ``"1"``, ..."""
    if names is None:
        return [str(i) for i in range(vocab_size)]
    if isinstance(names, str) or not hasattr(names, "__len__"):
        raise ValueError(f"names must be a list of {vocab_size} token names (one per token id), "
                         f"got {names!r}")
    names = list(names)
    if len(names) != vocab_size:
        raise ValueError(f"names must hold one name per token id: {vocab_size} names, "
                         f"got {len(names)}")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name or name != "".join(name.split()):
            raise ValueError(f"names[{i}] must be a non-empty str without spaces (a text is "
                             f"split on spaces), got {name!r}")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"names must be distinct (a text must give one token id per word), "
                         f"got {twice} more than once")
    return names


def named_tokens(text: str, names: list) -> list:
    """The ids of the words of ``text`` (split on spaces), each one of ``names``."""
    index = {name: i for i, name in enumerate(names)}
    words_ = text.split()
    if not words_:
        raise ValueError("ids is an empty text: give at least one token name")
    unknown = [w for w in words_ if w not in index]
    if unknown:
        raise ValueError(f"ids holds {unknown[0]!r}, which is not a token name (names are "
                         f"{names[0]!r} to {names[-1]!r}, {len(names)} of them)")
    return [index[w] for w in words_]


def repeat_lengths(value, n: int, name: str = "lengths") -> np.ndarray:
    """Repeat lengths: a non-empty list of whole numbers from 1 to n // 2 (a token and its copy fit in n)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = [value]
    arr = as_array(value, name)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty list of whole numbers (repeat lengths), got {value!r}")
    if arr.min() < 1 or 2 * arr.max() > n:
        raise ValueError(f"{name} must lie between 1 and n // 2 = {n // 2} (the tokens and their repeat "
                         f"must fit in n={n}), got {sorted(set(arr.tolist()))}")
    return arr.astype(np.int64)


# --------------------------------------------------------------------------- #
# the induction task and its measurements (selfattn.induction)
# --------------------------------------------------------------------------- #
def unseen_lengths(lengths, n: int) -> np.ndarray:
    """The repeat lengths from 2 to n // 2 that are not in ``lengths`` (the training ones)."""
    others = np.array([L for L in range(2, n // 2 + 1) if L not in set(lengths.tolist())], dtype=np.int64)
    if others.size == 0:
        raise ValueError(f"lengths {sorted(set(lengths.tolist()))} leave no unseen repeat length between "
                         f"2 and n // 2 = {n // 2}: train on fewer lengths, or make n larger")
    return others


def rope_heads(n_heads, d_model: int) -> int:
    """Heads that split ``d_model`` into blocks of even size (RoPE rotates pairs)."""
    n_heads = positive_int(n_heads, "n_heads")
    if d_model % n_heads or (d_model // n_heads) % 2:
        raise ValueError(f"n_heads={n_heads} must divide d_model={d_model} into heads of even size (RoPE "
                         "rotates pairs of coordinates)")
    return n_heads


def induction_ids(ids, vocab_size: int):
    """Token ids of a batch for the PyTorch decoder: a ``torch.long`` tensor (B, n), each < vocab_size."""
    if not is_tensor(ids) or str(ids.dtype) != "torch.int64":
        got = type(ids).__name__ + (f" of dtype {ids.dtype}" if is_tensor(ids) else "")
        raise ValueError(f"ids must be a torch.long tensor of token ids (B, n), got {got}; "
                         "use torch.from_numpy(make_batch(...).ids)")
    if ids.ndim != 2 or 0 in tuple(ids.shape):
        raise ValueError(f"ids must have shape (B, n) with B, n >= 1, got {tuple(ids.shape)}")
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(f"ids must be token ids from 0 to {vocab_size - 1}, got values from {low} to {high}")
    return ids


def saved_decoder(arrays: dict, path, n_heads: int) -> tuple:
    """The weights and RoPE base of the model with ``n_heads`` heads in a ``save_induction`` file."""
    group = f"heads{n_heads}/"
    if group + "n_heads" not in arrays:
        found = sorted({name.split("/")[0] for name in arrays if name.endswith("/n_heads")})
        raise ValueError(f"{path} holds no model with n_heads={n_heads} (it has {found or 'none'}): "
                         "it was not written by selfattn.induction.save_induction for that model")
    base = arrays[group + "base"]
    if base.shape != () or not np.issubdtype(base.dtype, np.floating):
        raise ValueError(f"{group}base in {path} must be one number, got {base!r}")
    extra = {group + key for key in ("n_heads", "base", "losses", "curve_steps", "curve_accuracy")}
    params = {name[len(group):]: a for name, a in arrays.items()
              if name.startswith(group) and name not in extra}
    return params, float(base)


def scored_positions(where, shape_: tuple) -> np.ndarray:
    """A boolean mask of the shape of ``ids`` that selects at least one position, not the last one."""
    arr = as_array(where, "where")
    if arr.dtype != np.bool_:
        raise ValueError(f"where must be a boolean mask of the positions to score, got dtype {arr.dtype}")
    if arr.shape != tuple(shape_):
        raise ValueError(f"where must have the shape of ids, {tuple(shape_)}, got {arr.shape}")
    if arr[..., -1].any():
        raise ValueError("where selects the last position, which has no next token to predict")
    if not arr.any():
        raise ValueError("where selects no position: there is nothing to score")
    return arr


def layer_weights(weights, minimum_n: int = 2) -> np.ndarray:
    """The attention weights of every layer stacked: (layers, ..., H, n, n), float, n >= minimum_n."""
    if is_tensor(weights) or isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise ValueError("weights must be a list with one array (..., n_heads, n, n) per layer, as "
                         f"selfattn.decoder.forward returns, got {type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError("weights is empty: expected one array (..., n_heads, n, n) per layer")
    arrays = [float_array(np.asarray(w) if is_tensor(w) else w, f"weights[{i}]")
              for i, w in enumerate(weights)]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"weights must have one shape in every layer, got {sorted(shapes)}")
    (shp,) = shapes
    if len(shp) < 3 or shp[-1] != shp[-2] or shp[-1] < minimum_n:
        raise ValueError(f"each of weights must have shape (..., n_heads, n, n) with n >= {minimum_n}, "
                         f"got {shp}")
    out = np.stack(arrays)
    finite(out, "weights")
    return out


def ids_of_weights(ids, weights_shape: tuple) -> np.ndarray:
    """Token ids (B, n) that match weights (layers, B, H, n, n) or (layers, H, n, n)."""
    arr = as_array(ids, "ids")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"ids must hold whole-number token ids, got dtype {arr.dtype}")
    lead, n = weights_shape[1:-3], weights_shape[-1]
    if arr.shape != tuple(lead) + (n,):
        raise ValueError(f"ids must have shape {tuple(lead) + (n,)} to match weights of shape "
                         f"{tuple(weights_shape[1:])} per layer, got {arr.shape}")
    return arr.reshape(-1, n)


def induction_positions(where, has_earlier: np.ndarray) -> np.ndarray:
    """The positions to score (default: every token seen before); each must have an earlier occurrence."""
    if where is None:
        if not has_earlier.any():
            raise ValueError("no token of ids occurs twice: the induction score is not defined")
        return has_earlier
    arr = as_array(where, "where")
    if arr.dtype != np.bool_:
        raise ValueError(f"where must be a boolean mask of positions, got dtype {arr.dtype}")
    if arr.size != has_earlier.size:
        raise ValueError(f"where must have the shape of ids, got {arr.shape}")
    arr = arr.reshape(has_earlier.shape)
    if not arr.any():
        raise ValueError("where selects no position: there is nothing to score")
    bad = arr & ~has_earlier
    if bad.any():
        b, i = (int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f"where selects position {i} (sequence {b}), whose token occurs nowhere before it: "
                         "an induction head has nothing to copy there")
    return arr


def shiftable_lengths(lengths, n: int) -> np.ndarray:
    """Repeat lengths that leave room for a token after the repeat: 2 L <= n - 1."""
    if 2 * lengths.max() > n - 1:
        raise ValueError(f"shifted repeats need 2 L < n so that a token can follow the repeat; "
                         f"lengths go up to {int(lengths.max())} with n={n}")
    return lengths


def shorter_lengths(lengths, n: int) -> np.ndarray:
    """The repeat lengths with 2 L < n, those that can end before the last token."""
    kept = lengths[2 * lengths < n]
    if kept.size == 0:
        raise ValueError(f"lengths {sorted(set(lengths.tolist()))} all fill n={n} tokens: no repeat can be "
                         "shifted (it needs 2 L < n)")
    return kept


def offset(value, n: int) -> int:
    """How far back a head may look in n tokens: a whole number from 1 to n - 1."""
    value = positive_int(value, "offset")
    if value > n - 1:
        raise ValueError(f"offset must be at most n - 1 = {n - 1} (the weights cover {n} tokens), "
                         f"got {value}")
    return value


def offset_positions(where, shape_: tuple, offset_: int) -> np.ndarray:
    """Query positions (default every i >= offset): boolean, of ``shape_``, none before ``offset``."""
    n = shape_[-1]
    if where is None:
        return np.broadcast_to(np.arange(n) >= offset_, shape_)
    arr = as_array(where, "where")
    if arr.dtype != np.bool_:
        raise ValueError(f"where must be a boolean mask of positions, got dtype {arr.dtype}")
    if arr.shape != tuple(shape_):
        raise ValueError(f"where must have shape {tuple(shape_)} to match the weights, got {arr.shape}")
    if not arr.any():
        raise ValueError("where selects no position: there is nothing to score")
    if arr[..., :offset_].any():
        raise ValueError(f"where selects a position before offset={offset_}, which has no token "
                         f"{offset_} back")
    return arr
