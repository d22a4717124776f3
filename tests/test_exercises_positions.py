"""check_rope: a learner's RoPE for one query and one key (chapter "Where is each word?
Positions"), against the paper's formula, and the mistakes it names.

The right answers below are written here, with cos and sin, apart from both the checker's
complex-number reference and selfattn.positions.rope; transformers' Llama code is the
reference of the half layout.
"""

from __future__ import annotations

import numpy as np
import pytest

from selfattn.exercises import CheckError, _rope_cases, _rope_complex, check_rope
from selfattn.positions import rope


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


@pytest.mark.parametrize("fn, layout, words", [
    (other_layout, "interleaved", "half layout"),
    (right, "half", "interleaved layout"),
    (one_based, "interleaved", "positions m + 1 and n + 1"),
    (fixed_base, "interleaved", "base 10000 instead of the base passed"),
    (exponent_one, "interleaved", "base^(-i/d)"),
    (clockwise, "interleaved", "-p w_i"),
    (swapped_positions, "interleaved", "query by n and the key by m"),
])
def test_each_typical_mistake_is_named(fn, layout, words):
    with pytest.raises(CheckError, match=r"(?s)" + "".join(
            "\\" + c if c in "()^+.*?[]" else c for c in words)):
        check_rope(fn, layout=layout)


def test_the_other_layout_is_diagnosed_on_the_first_case_with_its_name():
    with pytest.raises(CheckError) as err:
        check_rope(other_layout)
    msg = str(err.value)
    assert msg.startswith("d=8, query at m=3, key at n=1, base=10000, the query:")
    assert "without an error" in msg


def test_a_mistake_in_the_key_alone_names_the_key():
    def key_off(q, k, m, n, base):
        return _turn(q, m, base), _turn(k, n + 1, base)

    with pytest.raises(CheckError, match="the key: your vectors are those of positions m \\+ 1"):
        check_rope(key_off)


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
