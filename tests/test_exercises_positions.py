"""The checkers of chapter 10 ("Where is each word? Positions") and the mistakes they name:
check_rope (a learner's RoPE for one query and one key, against the paper's formula),
check_alibi_slopes (against BLOOM's build_alibi_tensor and the ALiBi authors' get_slopes) and
check_to_hf (Meta's interleaved Llama wq to transformers' half layout).

The right answers below are written here, with cos and sin, apart from both the checker's
complex-number reference and selfattn.positions.rope; transformers' Llama code is the
reference of the half layout.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfattn.exercises import (CheckError, _rope_cases, _rope_complex, check_alibi_slopes, check_rope,
                                check_to_hf)
from selfattn.positions import alibi_slopes, rope


def _turn(x, p, base=10000.0, layout="interleaved", exponent=2.0, sign=1.0):
    """RoPE typed out from the formula with cos and sin."""
    x = np.asarray(x, dtype=np.float64)
    d = len(x)
    i = np.arange(d // 2)
    angle = sign * p * base ** (-exponent * i / d)  # (d/2,)
    a_idx, b_idx = (2 * i, 2 * i + 1) if layout == "interleaved" else (i, i + d // 2)
    out = np.empty(d)
    out[a_idx] = x[a_idx] * np.cos(angle) - x[b_idx] * np.sin(angle)
    out[b_idx] = x[a_idx] * np.sin(angle) + x[b_idx] * np.cos(angle)
    return out


def right(q, k, m, n, base):
    return _turn(q, m, base), _turn(k, n, base)


def right_half(q, k, m, n, base):
    return _turn(q, m, base, "half"), _turn(k, n, base, "half")


def other_layout(q, k, m, n, base):
    return _turn(q, m, base, "half"), _turn(k, n, base, "half")


def one_based(q, k, m, n, base):
    return _turn(q, m + 1, base), _turn(k, n + 1, base)


def fixed_base(q, k, m, n, base):
    return _turn(q, m, 10000.0), _turn(k, n, 10000.0)


def exponent_one(q, k, m, n, base):
    return _turn(q, m, base, exponent=1.0), _turn(k, n, base, exponent=1.0)


def clockwise(q, k, m, n, base):
    return _turn(q, m, base, sign=-1.0), _turn(k, n, base, sign=-1.0)


def swapped_positions(q, k, m, n, base):
    return _turn(q, n, base), _turn(k, m, base)


# --------------------------------------------------------------------------- #
def test_the_reference_is_the_rotation_written_with_cos_and_sin_in_both_layouts():
    for _, q, _, m, _, base in _rope_cases():
        for layout in ("interleaved", "half"):
            np.testing.assert_allclose(_rope_complex(q, m, base, layout), _turn(q, m, base, layout),
                                       atol=1e-12)


def test_the_half_reference_matches_transformers_llama_rotary_code():
    torch = pytest.importorskip("torch")
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    for _, q, k, m, n, base in _rope_cases():
        d = len(q)
        inv = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
        emb = torch.cat([torch.tensor([m, n], dtype=torch.float64)[:, None] * inv] * 2, dim=-1)
        cos, sin = emb.cos()[None], emb.sin()[None]  # (1, 2, d)
        x = torch.tensor(np.stack([q, k]))[None, None]  # (1, 1, 2, d)
        rq, _ = apply_rotary_pos_emb(x, x, cos, sin)
        np.testing.assert_allclose(rq[0, 0, 0].numpy(), _rope_complex(q, m, base, "half"), atol=1e-12)
        np.testing.assert_allclose(rq[0, 0, 1].numpy(), _rope_complex(k, n, base, "half"), atol=1e-12)


def test_a_right_answer_passes_in_each_layout(capsys):
    assert check_rope(right) is True
    assert "interleaved layout" in capsys.readouterr().out
    assert check_rope(right_half, layout="half") is True


def test_the_course_rope_passes_the_check():
    def course(q, k, m, n, base):
        return rope(q[None], [m], base)[0], rope(k[None], [n], base)[0]

    def course_half(q, k, m, n, base):
        return rope(q[None], [m], base, "half")[0], rope(k[None], [n], base, "half")[0]

    assert check_rope(course) and check_rope(course_half, layout="half")


def test_float32_answers_and_lists_pass():
    assert check_rope(lambda q, k, m, n, b: tuple(v.astype(np.float32) for v in right(q, k, m, n, b)))
    assert check_rope(lambda q, k, m, n, b: tuple(v.tolist() for v in right(q, k, m, n, b)))


C1 = "d=8, query at m=3, key at n=1, base=10000"
C4 = "d=8, query at m=7, key at n=2, base=100"
SHIFTED = " (With only the {v} shifted, m - n changes, and so does the score.)"


def query_at_n(q, k, m, n, base):
    return _turn(q, n, base), _turn(k, n, base)


def key_at_m(q, k, m, n, base):
    return _turn(q, m, base), _turn(k, m, base)


def query_plus_one(q, k, m, n, base):
    return _turn(q, m + 1, base), _turn(k, n, base)


def key_plus_one(q, k, m, n, base):
    return _turn(q, m, base), _turn(k, n + 1, base)


def query_minus_one(q, k, m, n, base):
    return _turn(q, m - 1, base), _turn(k, n, base)


def key_minus_one(q, k, m, n, base):
    return _turn(q, m, base), _turn(k, n - 1, base)


def both_minus_one(q, k, m, n, base):
    return _turn(q, m - 1, base), _turn(k, n - 1, base)


def pairs_from_one(q, k, m, n, base):
    """The paper's theta_i = 10000^(-2(i-1)/d), i = 1 ... d/2, coded with i from 1 but no - 1."""
    def turn(x, p):
        i = np.arange(1, len(x) // 2 + 1)
        theta = base ** (-2 * i / len(x))
        a, b = x[0::2], x[1::2]
        out = np.empty(len(x))
        out[0::2] = a * np.cos(p * theta) - b * np.sin(p * theta)
        out[1::2] = a * np.sin(p * theta) + b * np.cos(p * theta)
        return out

    return turn(q, m), turn(k, n)


MISTAKES = [
    (other_layout, "interleaved", f"{C1}, the query: you rotate the pairs of the half layout, "
     "(x[i], x[i + d/2]); this exercise asks for the interleaved layout, (x[2i], x[2i+1]). Both are "
     "RoPE, but a model trained with one gives wrong scores with the other, without an error."),
    (right, "half", f"{C1}, the query: you rotate the pairs of the interleaved layout, (x[2i], "
     "x[2i+1]); this exercise asks for the half layout, (x[i], x[i + d/2]). Both are RoPE, but a "
     "model trained with one gives wrong scores with the other, without an error."),
    (one_based, "interleaved", f"{C1}, the query and the key: your vectors are those of positions "
     "m + 1 and n + 1: the first token is at position 0. (The score q . k would still be right, "
     "since it depends on m - n only; the vectors are not.)"),
    (both_minus_one, "interleaved", f"{C1}, the query and the key: your vectors are those of "
     "positions m - 1 and n - 1: use m and n as given."),
    (swapped_positions, "interleaved", f"{C1}, the query and the key: you rotate the query by n and "
     "the key by m: the query's position is m, the key's n."),
    (query_at_n, "interleaved", f"{C1}, the query: the query is rotated by n, the key's position; "
     "rotate it by m."),
    (key_at_m, "interleaved", f"{C1}, the key: the key is rotated by m, the query's position; "
     "rotate it by n."),
    (query_plus_one, "interleaved", f"{C1}, the query: your query is rotated by its position + 1, "
     "m + 1: the first token is at position 0, so rotate it by m as given." + SHIFTED.format(v="query")),
    (key_plus_one, "interleaved", f"{C1}, the key: your key is rotated by its position + 1, n + 1: "
     "the first token is at position 0, so rotate it by n as given." + SHIFTED.format(v="key")),
    (query_minus_one, "interleaved", f"{C1}, the query: your query is rotated by its position - 1, "
     "m - 1: rotate it by m as given." + SHIFTED.format(v="query")),
    (key_minus_one, "interleaved", f"{C1}, the key: your key is rotated by its position - 1, n - 1: "
     "rotate it by n as given." + SHIFTED.format(v="key")),
    (fixed_base, "interleaved", f"{C4}, the query: you use the base 10000 instead of the base "
     "passed to your function."),
    (exponent_one, "interleaved", f"{C1}, the query: your frequencies are base^(-i/d); RoPE's are "
     "base^(-2i/d) for pair i (i = 0 ... d/2 - 1), the same as the sinusoidal table's."),
    (pairs_from_one, "interleaved", f"{C1}, the query: your frequencies are base^(-2(i+1)/d): pair "
     "0 must turn by 1 radian per position (theta_0 = 1). The paper numbers pairs from 1 and writes "
     "10000^(-2(i-1)/d)."),
    (clockwise, "interleaved", f"{C1}, the query: you turn each pair by -p w_i (clockwise); RoPE "
     "turns by +p w_i: (a, b) -> (a cos - b sin, a sin + b cos)."),
]


@pytest.mark.parametrize("fn, layout, message", MISTAKES, ids=[m[0].__name__ + "-" + m[1] for m in MISTAKES])
def test_each_typical_mistake_is_named(fn, layout, message):
    with pytest.raises(CheckError) as err:
        check_rope(fn, layout=layout)
    assert str(err.value) == message


def test_the_wrong_answers_really_are_wrong():
    """Each wrong answer above is far from the right one (on case 4 for the base), so no message
    can come from rounding."""
    for fn, layout, message in MISTAKES:
        _, q, k, m, n, base = _rope_cases()[3 if fn is fixed_base else 0]
        good = right(q, k, m, n, base) if layout == "interleaved" else right_half(q, k, m, n, base)
        bad = fn(q, k, m, n, base)
        assert max(np.abs(b - g).max() for b, g in zip(bad, good)) > 1e-3, fn.__name__


def test_a_right_answer_in_float32_passes_in_each_layout():
    def as32(fn):
        return lambda q, k, m, n, b: tuple(v.astype(np.float32) for v in fn(q, k, m, n, b))

    assert check_rope(as32(right)) and check_rope(as32(right_half), layout="half")


def test_the_other_layout_is_diagnosed_on_the_first_case_with_its_name():
    with pytest.raises(CheckError) as err:
        check_rope(other_layout)
    msg = str(err.value)
    assert msg.startswith("d=8, query at m=3, key at n=1, base=10000, the query:")
    assert "without an error" in msg


def test_an_unnamed_mistake_falls_back_to_the_difference():
    def no_rotation_of_the_last_pair(q, k, m, n, base):
        rq, rk = right(q, k, m, n, base)
        rq[-2:], rk[-2:] = q[-2:], k[-2:]
        return rq, rk

    with pytest.raises(CheckError, match="against the paper's formula"):
        check_rope(no_rotation_of_the_last_pair)


def test_a_wrong_shape_is_named():
    with pytest.raises(CheckError, match="shape"):
        check_rope(lambda q, k, m, n, b: (np.concatenate([q, q]), k))


def test_a_nan_is_named():
    def nan(q, k, m, n, b):
        rq, rk = right(q, k, m, n, b)
        rq[0] = np.nan
        return rq, rk

    with pytest.raises(CheckError, match="(?i)nan"):
        check_rope(nan)


def test_an_answer_that_is_not_a_pair_is_named():
    with pytest.raises(CheckError, match="must return a pair"):
        check_rope(lambda q, k, m, n, b: right(q, k, m, n, b)[0])


def test_an_exception_in_the_learners_code_names_the_case():
    def broken(q, k, m, n, b):
        raise RuntimeError("oops")

    with pytest.raises(CheckError, match="d=8, query at m=3.*raised RuntimeError: oops"):
        check_rope(broken)


def test_the_learner_cannot_change_the_cases():
    def mutating(q, k, m, n, b):
        out = right(q, k, m, n, b)
        q[:] = 0.0
        return out

    assert check_rope(mutating) and check_rope(right)


def test_misuse_of_the_check_is_a_value_error():
    with pytest.raises(ValueError, match="takes your function itself"):
        check_rope(right(np.ones(4), np.ones(4), 0, 0, 10000.0))
    with pytest.raises(ValueError, match="layout"):
        check_rope(right, layout="pairs")


def test_the_check_fails_on_a_broken_reference(monkeypatch):
    """The check can fail: with an off-by-one reference, the right answer no longer passes."""
    import selfattn.exercises as ex

    original = ex._rope_complex
    monkeypatch.setattr(ex, "_rope_complex", lambda x, p, *a, **kw: original(x, p + 1, *a, **kw))
    with pytest.raises(CheckError):
        check_rope(right)


# --------------------------------------------------------------------------- #
# check_alibi_slopes: against BLOOM's build_alibi_tensor
# --------------------------------------------------------------------------- #
def get_slopes(n):
    """The ALiBi authors' get_slopes (ofirpress/attention_with_linear_biases,
    fairseq/models/transformer.py), typed out as they wrote it."""
    def get_slopes_power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio ** i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return (get_slopes_power_of_2(closest_power_of_2)
            + get_slopes(2 * closest_power_of_2)[0::2][:n - closest_power_of_2])


def _geometric(n, start=1):
    return [2.0 ** (-8.0 * h / n) for h in range(start, start + n)]


def slopes_all_geometric(n):
    return _geometric(n)


def slopes_sorted(n):
    return sorted(get_slopes(n), reverse=True)


def slopes_sorted_up(n):
    return sorted(get_slopes(n))


def slopes_consecutive_extra(n):
    low = 2 ** math.floor(math.log2(n))
    return _geometric(low) + _geometric(2 * low)[:n - low]


def slopes_odd_extra(n):
    low = 2 ** math.floor(math.log2(n))
    return _geometric(low) + _geometric(2 * low)[1::2][:n - low]


def slopes_from_zero(n):
    low = 2 ** math.floor(math.log2(n))
    return _geometric(low, 0) + _geometric(2 * low, 0)[0::2][:n - low]


RULE12 = ("for 12 heads the rule takes the 8 slopes of 8 heads, then every other slope of 16 heads "
          "(the 1st, 3rd, 5th, ...) for the other 4.")


@pytest.mark.parametrize("fn, message", [
    (slopes_all_geometric, "n_heads=12: you used 2^(-8h/n) for 12 heads, which is not a power of "
     "two: " + RULE12),
    (slopes_sorted, "n_heads=12: your slopes are sorted from the largest down; in BLOOM's order the "
     "extra 4 heads come after the first 8: " + RULE12),
    (slopes_sorted_up, "n_heads=8: your slopes go from the smallest up: head h has 2^(-8h/n), so "
     "the first head has the largest slope, 2^(-8/n)."),
    (lambda n: slopes_sorted_up(n) if n == 12 else get_slopes(n), "n_heads=12: your slopes are "
     "sorted from the smallest up; in BLOOM's order the first 8 are those of 8 heads, largest "
     "first, then the extra 4: " + RULE12),
    (slopes_consecutive_extra, "n_heads=12: your extra slopes are the first 4 consecutive slopes of "
     "16 heads; take every other one instead: " + RULE12),
    (slopes_odd_extra, "n_heads=12: your extra slopes are the 2nd, 4th, ... slopes of 16 heads, "
     "which repeat the first 8; start from the 1st: " + RULE12),
    (slopes_from_zero, "n_heads=8: your first slope is 2^0 = 1: count the heads from h = 1, so that "
     "the slopes of n heads are 2^(-8/n), 2^(-16/n), ..., 2^(-8)."),
])
def test_each_alibi_mistake_is_named(fn, message):
    with pytest.raises(CheckError) as err:
        check_alibi_slopes(fn)
    assert str(err.value) == message


def test_the_authors_rule_passes_as_floats_lists_and_tensors(capsys):
    torch = pytest.importorskip("torch")
    assert check_alibi_slopes(get_slopes) is True
    assert "8, 12, 16, 112, 6 and 32 heads" in capsys.readouterr().out
    assert check_alibi_slopes(lambda n: np.array(get_slopes(n), dtype=np.float32))
    assert check_alibi_slopes(lambda n: torch.tensor(get_slopes(n), dtype=torch.float64))


def test_the_course_alibi_slopes_pass():
    assert check_alibi_slopes(alibi_slopes)


def test_112_heads_take_64_slopes_then_48_of_128():
    """BLOOM-176B's heads, by hand: the 64 slopes of 64 heads, then the 1st, 3rd, ... of 128."""
    by_hand = [2 ** (-8 * h / 64) for h in range(1, 65)] + [2 ** (-8 * h / 128) for h in range(1, 97, 2)]
    np.testing.assert_allclose(get_slopes(112), by_hand, rtol=1e-12)
    hardcoded_to_32 = {n: get_slopes(n) for n in (8, 12, 16, 6, 32)}
    with pytest.raises(CheckError, match="^n_heads=112: your function raised KeyError"):
        check_alibi_slopes(lambda n: hardcoded_to_32[n])


def test_an_unnamed_alibi_mistake_falls_back_to_the_difference():
    def last_slope_off(n):
        s = get_slopes(n)
        s[-1] *= 1.01
        return s

    with pytest.raises(CheckError, match=r"^n_heads=8, against transformers' build_alibi_tensor: "
                                         r"your slopes differ .* at index \(7,\)"):
        check_alibi_slopes(last_slope_off)


def test_alibi_wrong_length_none_and_misuse():
    with pytest.raises(CheckError, match=r"^n_heads=8, against transformers' build_alibi_tensor: "
                                         r"your slopes have shape \(7,\), expected shape \(8,\)"):
        check_alibi_slopes(lambda n: get_slopes(n)[:-1])
    with pytest.raises(CheckError, match="^n_heads=8: your slopes are None: did you forget to `return`"):
        check_alibi_slopes(lambda n: None)
    with pytest.raises(ValueError, match="takes your function itself"):
        check_alibi_slopes(get_slopes(8))


# --------------------------------------------------------------------------- #
# check_to_hf: Meta's interleaved wq to transformers' half layout
# --------------------------------------------------------------------------- #
def permute(w, n_heads, dim1=None, dim2=None):
    """transformers' convert_llama_weights_to_hf.py, permute, as written there."""
    dim1, dim2 = w.shape if dim1 is None else (dim1, dim2)
    return w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)


def to_hf_numpy(w, n_heads):
    """The same by hand in NumPy: in each head the rows 0, 2, 4, ..., then 1, 3, 5, ..."""
    d_k = w.shape[0] // n_heads
    rows = [h * d_k + r for h in range(n_heads) for r in [*range(0, d_k, 2), *range(1, d_k, 2)]]
    return w.numpy()[rows]


def to_hf_one_head(w, n_heads):
    return permute(w, 1)


def to_hf_columns(w, n_heads):
    return permute(w.T.contiguous(), n_heads).T


def to_hf_columns_one_head(w, n_heads):
    return permute(w.T.contiguous(), 1).T


def to_hf_inverse(w, n_heads):
    dim1, dim2 = w.shape
    return w.view(n_heads, 2, dim1 // n_heads // 2, dim2).transpose(1, 2).reshape(dim1, dim2)


C_HF = "2 heads of d_k=8, d_model=16"


@pytest.mark.parametrize("fn, message", [
    (lambda w, h: w, f"{C_HF}: your matrix is the one you were given. The checkpoint pairs rows "
     "(2i, 2i+1) of each head, the half layout pairs (i, i + d_k/2): reorder the rows of each "
     "head, its even rows first, then its odd ones."),
    (to_hf_one_head, f"{C_HF}: you reorder all 16 rows as if they were one head. Each head has its "
     "own pairs (rows 0 to 7 are head 0, and so on): reorder the rows within each head."),
    (to_hf_columns, f"{C_HF}: you reorder the columns. nn.Linear stores its matrix as (out, in): the "
     "coordinates of q that RoPE turns are its rows, so reorder the rows."),
    (to_hf_columns_one_head, f"{C_HF}: you reorder the columns, as if all of them were one head. "
     "nn.Linear stores its matrix as (out, in): reorder the rows, within each head."),
    (to_hf_inverse, f"{C_HF}: you apply the inverse permutation: row i of your result must be row "
     "perm[i] of w, with perm = 0, 2, 4, ..., 1, 3, 5, ... in each head (the even rows first), not "
     "the other way round."),
])
def test_each_to_hf_mistake_is_named(fn, message):
    pytest.importorskip("transformers")
    with pytest.raises(CheckError) as err:
        check_to_hf(fn)
    assert str(err.value) == message


def test_the_conversion_scripts_permute_passes(capsys):
    pytest.importorskip("transformers")
    assert check_to_hf(permute) is True
    assert "both cases" in capsys.readouterr().out
    assert check_to_hf(to_hf_numpy)
    assert check_to_hf(lambda w, h: permute(w, h).float())  # float32 passes


def test_the_to_hf_references_agree_with_independent_code():
    """The checkpoint's scores are the complex-number formula per head; the hand-made cos/sin
    are LlamaRotaryEmbedding's (to its float32); the script's permute makes them equal."""
    torch = pytest.importorskip("torch")
    from transformers import LlamaConfig
    from transformers.models.llama import modeling_llama as llama

    from selfattn.exercises import _hf_llama_scores, _interleaved_scores, _to_hf_cases

    for _, x, W_q, W_k, h, pos in _to_hf_cases():
        d_k = W_q.shape[0] // h
        q, k = (x @ W.T for W in (W_q, W_k))  # (n, h * d_k)
        by_hand = np.array([[[_rope_complex(q[i, j * d_k:(j + 1) * d_k], pos[i])
                              @ _rope_complex(k[i2, j * d_k:(j + 1) * d_k], pos[i2])
                              for i2 in range(len(x))] for i in range(len(x))] for j in range(h)])
        ours = _interleaved_scores(x, W_q, W_k, h, pos)
        np.testing.assert_allclose(ours, by_hand, atol=1e-10)
        Wq2, Wk2 = (permute(torch.from_numpy(W), h).numpy() for W in (W_q, W_k))
        np.testing.assert_allclose(_hf_llama_scores(x, Wq2, Wk2, h, pos), by_hand, atol=1e-10)
        config = LlamaConfig(hidden_size=h * d_k, num_attention_heads=h, head_dim=d_k)
        t = torch.zeros(1, len(pos), d_k, dtype=torch.float64)
        cos, sin = llama.LlamaRotaryEmbedding(config)(t, torch.tensor([list(pos)]))
        tq, tk = (torch.from_numpy(x @ W.T).view(1, len(x), h, d_k).transpose(1, 2) for W in (Wq2, Wk2))
        rq, rk = llama.apply_rotary_pos_emb(tq, tk, cos.double(), sin.double())
        np.testing.assert_allclose((rq @ rk.transpose(-1, -2))[0].numpy(), by_hand, atol=1e-3)


def test_an_unnamed_to_hf_mistake_falls_back_to_the_scores():
    def first_head_only(w, n_heads):
        out = permute(w, n_heads).clone()
        d_k = w.shape[0] // n_heads
        out[d_k:] = w[d_k:]
        return out

    with pytest.raises(CheckError, match=r"^2 heads of d_k=8, d_model=16, transformers' Llama "
                                         r"apply_rotary_pos_emb on your matrices against the "
                                         r"checkpoint's interleaved scores: your scores differ"):
        check_to_hf(first_head_only)


def test_to_hf_hardcoded_for_two_heads_fails_on_the_second_case():
    with pytest.raises(CheckError, match="^4 heads of d_k=4, d_model=16"):
        check_to_hf(lambda w, n_heads: permute(w, 2))


def test_to_hf_wrong_shape_exception_and_misuse():
    pytest.importorskip("transformers")
    with pytest.raises(CheckError, match=r"^2 heads of d_k=8, d_model=16: your matrix has shape "
                                         r"\(8, 16\), expected shape \(16, 16\)"):
        check_to_hf(lambda w, h: w[:8])
    with pytest.raises(CheckError, match="^2 heads of d_k=8, d_model=16: your function raised "
                                         "RuntimeError"):
        check_to_hf(lambda w, h: w.view(h, 3, -1))
    with pytest.raises(ValueError, match="takes your function itself"):
        check_to_hf(None)


def test_check_to_hf_fails_on_a_broken_reference(monkeypatch):
    """The check can fail: with the reference rotated in the half layout, the script's permute
    no longer passes."""
    pytest.importorskip("transformers")
    import selfattn.nn as snn

    original = snn.rope
    monkeypatch.setattr(snn, "rope", lambda x, p, layout="interleaved": original(x, p, layout="half"))
    with pytest.raises(CheckError):
        check_to_hf(permute)


def test_check_alibi_slopes_fails_on_a_broken_reference(monkeypatch):
    """The check can fail: with BLOOM's slopes reversed, the authors' rule no longer passes."""
    pytest.importorskip("transformers")
    from transformers.models.bloom import modeling_bloom

    original = modeling_bloom.build_alibi_tensor
    monkeypatch.setattr(modeling_bloom, "build_alibi_tensor",
                        lambda mask, n, dtype: original(mask, n, dtype).flip(0))
    with pytest.raises(CheckError, match="^n_heads=8"):
        check_alibi_slopes(get_slopes)
