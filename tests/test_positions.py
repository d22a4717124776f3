"""selfattn.positions against references written out here, its properties, and its errors.

Every expected value comes from outside the module: the formulas of the papers written with
loops or complex numbers in this file, and the ALiBi authors' ``get_slopes``. (The references
from ``transformers`` and the PyTorch twin are in ``test_positions_torch.py``.)

Each reference comparison and each property check is a helper that takes an implementation and
returns True or False; the "rejects a broken implementation" tests feed it the broken variants
written at the end of this file section by section (an off-by-one position, the wrong frequency
base, the wrong RoPE layout, sine and cosine swapped, a slope off) and assert that it says False,
and that it says True for the real function. Property tests are derandomized hypothesis tests.
"""

from __future__ import annotations

import math
import re
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from selfattn import positions
from selfattn.example import embed, matrices, tokenize
from selfattn.positions import (
    BASE,
    SCHEMES,
    alibi_bias,
    alibi_slopes,
    attention_with_positions,
    learned_positions,
    rope,
    rope_angles,
    rope_frequencies,
    rope_permutation,
    sinusoidal,
    sinusoidal_shift,
)

FAST = settings(derandomize=True, deadline=None, max_examples=30, database=None)
finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
even_d = st.integers(1, 16).map(lambda h: 2 * h)
bases = st.sampled_from([10.0, 100.0, 500.0, BASE, 500000.0])


def _rng(seed=0):
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- #
# references, written from the papers
# --------------------------------------------------------------------------- #
def sinusoidal_by_loops(positions_, d, base=10000.0):
    """Vaswani et al. (2017), section 3.5: PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(...)."""
    pe = np.zeros((len(positions_), d))
    for row, p in enumerate(positions_):
        for i in range(d // 2):
            angle = p / base ** (2 * i / d)
            pe[row, 2 * i] = math.sin(angle)
            pe[row, 2 * i + 1] = math.cos(angle)
    return pe


def rope_by_complex_numbers(x, positions_, base=10000.0):
    """Su et al. (2021), section 3.2: the pair (x[2i], x[2i+1]) is the complex number z_i, and
    position m multiplies it by exp(1j m theta_i), theta_i = base^(-2i/d)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    d = x.shape[-1]
    z = x.view(np.complex128)  # (..., n, d/2): z_i = x[2i] + 1j x[2i+1]
    theta = np.array([base ** (-2 * i / d) for i in range(d // 2)])
    m = np.asarray(positions_, dtype=np.float64)
    return (z * np.exp(1j * m[:, None] * theta[None, :])).view(np.float64)  # (..., n, d)


def get_slopes(n):
    """The ALiBi authors' slopes (ofirpress/attention_with_linear_biases, fairseq/models/transformer.py)."""
    def get_slopes_power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio**i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return (get_slopes_power_of_2(closest_power_of_2)
            + get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2])


def alibi_by_loops(n_heads, q_pos, k_pos):
    """Press et al. (2022), section 3: head h adds -m_h * |i - j| to the score of query i, key j."""
    m = get_slopes(n_heads)
    return np.array([[[-m[h] * abs(i - j) for j in k_pos] for i in q_pos] for h in range(n_heads)])


def test_the_references_agree_with_hand_values():
    """The references themselves, on numbers computed by hand."""
    np.testing.assert_allclose(sinusoidal_by_loops([1], 2), [[math.sin(1), math.cos(1)]])
    # position 1 turns (1, 0) by theta_0 = 1 radian: (cos 1, sin 1)
    np.testing.assert_allclose(rope_by_complex_numbers([[1.0, 0.0]], [1]), [[math.cos(1), math.sin(1)]])
    assert get_slopes(8) == [2.0**-k for k in range(1, 9)]  # the paper: 1/2, 1/4, ..., 1/256
    assert get_slopes(2) == [2.0**-4, 2.0**-8]


# --------------------------------------------------------------------------- #
# sinusoidal
# --------------------------------------------------------------------------- #
SINUSOIDAL_CASES = [(1, 2, BASE), (7, 4, BASE), (50, 16, BASE), (20, 6, 100.0), (12, 10, 500000.0)]


def sinusoidal_matches_reference(fn) -> bool:
    """``fn(n, d, base, positions=...)`` equals the paper's formula, with and without positions."""
    for n, d, base in SINUSOIDAL_CASES:
        if not np.allclose(fn(n, d, base), sinusoidal_by_loops(range(n), d, base), rtol=0, atol=1e-12):
            return False
    pos = [5, 0, 123, 7, 7]
    return bool(np.allclose(fn(5, 8, BASE, positions=pos), sinusoidal_by_loops(pos, 8), rtol=0, atol=1e-12))


def shift_property_holds(table_fn, shift_fn) -> bool:
    """``table[p + k] == table[p] @ M_k`` for every p of a long table, several k, d and bases."""
    for d, base in [(2, BASE), (8, BASE), (12, 100.0), (16, 500000.0)]:
        pe = table_fn(80, d, base)
        for k in (1, 2, 5, 17, -1, -9):
            m = shift_fn(k, d, base)
            before, after = (pe[: 80 - k], pe[k:]) if k >= 0 else (pe[-k:], pe[: 80 + k])
            if not np.allclose(before @ m, after, rtol=0, atol=1e-10):
                return False
    return True


def test_sinusoidal_equals_the_papers_formula():
    assert sinusoidal_matches_reference(sinusoidal)


def test_sinusoidal_equals_gpt_j_table_after_reordering_its_columns():
    """GPT-J's ``create_sinusoidal_positions`` puts all sines, then all cosines (float32)."""
    gptj = pytest.importorskip("transformers.models.gptj.modeling_gptj")
    n, d = 40, 12
    table = gptj.create_sinusoidal_positions(n, d).numpy().astype(np.float64)  # (n, d): sin | cos
    reordered = np.empty_like(table)
    reordered[:, 0::2], reordered[:, 1::2] = table[:, : d // 2], table[:, d // 2 :]
    np.testing.assert_allclose(sinusoidal(n, d), reordered, rtol=0, atol=2e-5)
    assert not np.allclose(sinusoidal(n, d), table, atol=1e-2)  # GPT-J's own order is another layout


def test_sinusoidal_shift_moves_every_row_k_positions_on():
    assert shift_property_holds(sinusoidal, sinusoidal_shift)


@FAST
@given(d=even_d, base=bases, k=st.integers(-50, 50),
       pos=arrays(np.int64, st.integers(1, 8), elements=st.integers(50, 10**5)))
def test_sinusoidal_shift_is_one_matrix_for_every_position(d, base, k, pos):
    """The same M_k maps PE(p) to PE(p + k) at far positions too: it does not depend on p."""
    m = sinusoidal_shift(k, d, base)
    before = sinusoidal(len(pos), d, base, positions=pos)
    after = sinusoidal(len(pos), d, base, positions=pos + k)
    np.testing.assert_allclose(before @ m, after, rtol=0, atol=1e-9)


@FAST
@given(d=even_d, base=bases, k=st.integers(-1000, 1000), j=st.integers(-1000, 1000))
def test_sinusoidal_shift_is_orthogonal_and_shifts_compose(d, base, k, j):
    m_k, m_j = sinusoidal_shift(k, d, base), sinusoidal_shift(j, d, base)
    np.testing.assert_allclose(m_k @ m_k.T, np.eye(d), rtol=0, atol=1e-12)
    np.testing.assert_allclose(m_k @ m_j, sinusoidal_shift(k + j, d, base), rtol=0, atol=1e-9)
    np.testing.assert_allclose(sinusoidal_shift(-k, d, base), m_k.T, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(sinusoidal_shift(0, d, base), np.eye(d))


def test_sinusoidal_entries_stay_within_minus_one_and_one_and_each_pair_is_on_the_unit_circle():
    pe = sinusoidal(500, 32)
    assert np.all(np.abs(pe) <= 1.0)
    np.testing.assert_allclose(pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2, 1.0, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- #
# RoPE, interleaved layout: the paper's complex numbers
# --------------------------------------------------------------------------- #
def rope_interleaved_matches_reference(fn) -> bool:
    """``fn(x, positions, base, layout="interleaved")`` equals the complex-number formula."""
    rng = _rng(1)
    for shape, pos, base in [((1, 2), [1], BASE), ((5, 8), None, BASE), ((2, 3, 6, 16), [4, 0, 9, 2, 31, 7], BASE),
                             ((4, 10), [100, 3, 0, 5000], 500.0)]:
        x = rng.normal(size=shape)
        p = range(shape[-2]) if pos is None else pos
        got = fn(x, pos, base, layout="interleaved")
        if not np.allclose(got, rope_by_complex_numbers(x, p, base), rtol=0, atol=1e-12):
            return False
    return True


def test_rope_interleaved_equals_the_papers_complex_formula():
    assert rope_interleaved_matches_reference(rope)


def test_rope_interleaved_is_the_default_layout():
    x = _rng(2).normal(size=(4, 6))
    np.testing.assert_array_equal(rope(x), rope(x, layout="interleaved"))


def test_rope_frequencies_and_angles_follow_the_formula():
    d, base = 10, 500.0
    want = [base ** (-2 * i / d) for i in range(d // 2)]
    np.testing.assert_allclose(rope_frequencies(d, base), want, rtol=1e-15)
    pos = [0, 3, 11]
    want = [[p * base ** (-2 * i / d) for i in range(d // 2)] for p in pos]
    np.testing.assert_allclose(rope_angles(pos, d, base), want, rtol=1e-14)


# --------------------------------------------------------------------------- #
# RoPE properties
# --------------------------------------------------------------------------- #
def rope_scores(fn, q, k, q_pos, k_pos, layout):
    return fn(q, q_pos, BASE, layout=layout) @ fn(k, k_pos, BASE, layout=layout).T  # (n_q, n_k)


def rope_is_relative(fn) -> bool:
    """Shifting every query and key position by s leaves all scores unchanged (both layouts)."""
    rng = _rng(3)
    q, k = rng.normal(size=(5, 8)), rng.normal(size=(6, 8))
    q_pos, k_pos = np.array([0, 4, 1, 9, 2]), np.array([3, 0, 7, 7, 5, 1])
    for layout in ("interleaved", "half"):
        s0 = rope_scores(fn, q, k, q_pos, k_pos, layout)
        for s in (1, 13, 1000):
            if not np.allclose(rope_scores(fn, q, k, q_pos + s, k_pos + s, layout), s0, rtol=0, atol=1e-10):
                return False
    return True


def rope_keeps_norms(fn) -> bool:
    x = _rng(4).normal(size=(3, 7, 12))
    return all(np.allclose(np.linalg.norm(fn(x, np.arange(0, 70, 10), BASE, layout=layout), axis=-1),
                           np.linalg.norm(x, axis=-1), rtol=1e-13, atol=0) for layout in ("interleaved", "half"))


def rope_is_identity_at_zero(fn) -> bool:
    x = _rng(5).normal(size=(4, 6))
    return all(np.allclose(fn(x, np.zeros(4, dtype=int), BASE, layout=layout), x, rtol=0, atol=1e-15)
               for layout in ("interleaved", "half"))


def rope_layouts_related_by_permutation(fn) -> bool:
    """``fn(x, "interleaved")[..., perm] == fn(x[..., perm], "half")``.

    Needs d >= 6: for d = 4 the permutation (0, 2, 1, 3) is its own inverse, and a function with
    its two layouts swapped passes too.
    """
    rng = _rng(6)
    for d in (6, 8, 16):
        x, perm, pos = rng.normal(size=(2, 5, d)), rope_permutation(d), [3, 1, 4, 1, 5]
        if not np.allclose(fn(x, pos, BASE, layout="interleaved")[..., perm],
                           fn(x[..., perm], pos, BASE, layout="half"), rtol=0, atol=1e-13):
            return False
    return True


@FAST
@given(d=even_d, base=bases, data=st.data())
def test_rope_score_depends_only_on_the_distance(d, base, data):
    """rope(q, m) . rope(k, n) is unchanged when m and n move together, to float precision."""
    n_q, n_k = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    q = data.draw(arrays(np.float64, (n_q, d), elements=finite))
    k = data.draw(arrays(np.float64, (n_k, d), elements=finite))
    q_pos = data.draw(arrays(np.int64, n_q, elements=st.integers(0, 200)))
    k_pos = data.draw(arrays(np.int64, n_k, elements=st.integers(0, 200)))
    s = data.draw(st.integers(1, 10**4))
    layout = data.draw(st.sampled_from(positions.LAYOUTS))
    before = rope(q, q_pos, base, layout) @ rope(k, k_pos, base, layout).T
    after = rope(q, q_pos + s, base, layout) @ rope(k, k_pos + s, base, layout).T
    scale = 1.0 + np.abs(q).max() * np.abs(k).max() * d
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-11 * scale)


def test_rope_score_is_a_function_of_m_minus_n():
    """Every (m, n) with the same m - n gives the same score, and different distances differ."""
    rng = _rng(7)
    q, k = rng.normal(size=(1, 8)), rng.normal(size=(1, 8))
    score = {}
    for m in range(12):
        for n in range(12):
            s = (rope(q, [m]) @ rope(k, [n]).T).item()
            score.setdefault(m - n, []).append(s)
    for distance, values in score.items():
        np.testing.assert_allclose(values, values[0], rtol=0, atol=1e-12, err_msg=f"m - n = {distance}")
    firsts = np.array([v[0] for v in score.values()])
    assert np.min(np.abs(firsts[:, None] - firsts[None, :]) + np.eye(len(firsts))) > 1e-6


def test_rope_properties_hold():
    assert rope_is_relative(rope)
    assert rope_keeps_norms(rope)
    assert rope_is_identity_at_zero(rope)
    assert rope_layouts_related_by_permutation(rope)


@FAST
@given(x=st.integers(1, 4).flatmap(lambda n: arrays(np.float64, (n, 10), elements=finite)),
       layout=st.sampled_from(positions.LAYOUTS), start=st.integers(0, 10**6))
def test_rope_keeps_every_row_length(x, layout, start):
    out = rope(x, np.arange(start, start + x.shape[0]), layout=layout)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-12, atol=1e-12)


def test_rope_at_position_zero_is_the_identity_exactly():
    x = _rng(8).normal(size=(2, 3, 8))
    for layout in positions.LAYOUTS:
        np.testing.assert_array_equal(rope(x, [0, 0, 0], layout=layout), x)


def test_rope_permutation_turns_one_layout_into_the_other():
    x = _rng(9).normal(size=(2, 3, 5, 12))
    perm = rope_permutation(12)
    np.testing.assert_allclose(rope(x, layout="interleaved")[..., perm], rope(x[..., perm], layout="half"),
                               rtol=0, atol=1e-14)
    assert sorted(perm) == list(range(12))  # a permutation


def test_mixing_up_the_layouts_gives_wrong_scores_without_an_error():
    rng = _rng(10)
    q, k = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    right = rope(q, layout="half") @ rope(k, layout="half").T
    mixed = rope(q, layout="interleaved") @ rope(k, layout="interleaved").T  # weights trained for "half"
    assert np.abs(mixed - right).max() > 0.5
    np.testing.assert_allclose(np.diag(mixed), np.diag(right), rtol=1e-12)  # distance 0 hides the mistake


def test_rope_keeps_float32_and_leaves_its_input_alone():
    x = _rng(11).normal(size=(3, 4)).astype(np.float32)
    copy = x.copy()
    out = rope(x, [0, 5, 9])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(x, copy)
    np.testing.assert_allclose(out, rope_by_complex_numbers(x, [0, 5, 9]), rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- #
# ALiBi
# --------------------------------------------------------------------------- #
HEADS = list(range(1, 21)) + [32, 48, 64]


def alibi_slopes_match_reference(fn) -> bool:
    """Slopes equal the authors' get_slopes for powers of two and for every other count."""
    return all(np.allclose(fn(h), get_slopes(h), rtol=1e-13, atol=0) for h in HEADS)


def alibi_bias_matches_reference(fn) -> bool:
    for h, q_pos, k_pos in [(1, range(4), range(4)), (8, range(6), range(6)), (6, [9], range(10)),
                            (3, [2, 5], [0, 1, 7, 3])]:
        got = fn(h, len(q_pos), len(k_pos), q_positions=list(q_pos), k_positions=list(k_pos))
        if not np.allclose(got, alibi_by_loops(h, q_pos, k_pos), rtol=1e-13, atol=0):
            return False
    return True


def alibi_has_its_properties(fn) -> bool:
    """Zero on the diagonal; along every row, on each side of the diagonal, a straight line
    (second difference zero) that falls by the head's slope per position; one slope per head."""
    h, n = 6, 9
    bias = fn(h, n)
    if not np.allclose(np.diagonal(bias, axis1=1, axis2=2), 0.0, atol=0):
        return False
    if not np.allclose(bias, np.swapaxes(bias, 1, 2), atol=0):  # a function of |i - j|
        return False
    slopes = []
    for i in range(n):
        left = bias[:, i, i::-1]  # (h, i + 1): distance 0, 1, ..., i
        if left.shape[1] >= 3 and not np.allclose(np.diff(left, 2, axis=1), 0.0, atol=1e-15):
            return False
        if left.shape[1] >= 2:
            slopes.append(-np.diff(left, axis=1))  # (h, i): the fall per position
    slopes = np.concatenate(slopes, axis=1)  # (h, ...)
    per_head = slopes[:, :1]
    return bool(np.allclose(slopes, per_head, atol=1e-15) and np.all(per_head > 0)
                and len(np.unique(per_head)) == h)


def test_alibi_slopes_equal_the_authors_code():
    assert alibi_slopes_match_reference(alibi_slopes)


def test_alibi_bias_equals_minus_slope_times_distance():
    assert alibi_bias_matches_reference(alibi_bias)


def test_alibi_bias_has_its_properties():
    assert alibi_has_its_properties(alibi_bias)


@FAST
@given(h=st.integers(1, 16), n=st.integers(1, 12), s=st.integers(0, 10**6))
def test_alibi_bias_depends_on_distance_only(h, n, s):
    """Moving every query and key by s changes nothing; row i equals the query at i of a cache."""
    full = alibi_bias(h, n)
    moved = alibi_bias(h, n, q_positions=np.arange(n) + s, k_positions=np.arange(n) + s)
    np.testing.assert_array_equal(moved, full)
    last = alibi_bias(h, 1, n, q_positions=[n - 1])  # one new query against n cached keys
    np.testing.assert_array_equal(last[:, 0], full[:, -1])


# --------------------------------------------------------------------------- #
# learned absolute positions
# --------------------------------------------------------------------------- #
def best_shift_residual(table) -> float:
    """How far the best single matrix M is from mapping every row p to row p + 1 (relative)."""
    before, after = table[:-1], table[1:]
    m, *_ = np.linalg.lstsq(before, after, rcond=None)
    return float(np.linalg.norm(before @ m - after) / np.linalg.norm(after))


def test_no_fixed_matrix_moves_a_learned_table_one_position_on():
    table = _rng(12).normal(size=(64, 8))  # stands in for a trained table: no structure
    residual = best_shift_residual(learned_positions(table, n=64))
    assert residual > 0.5


def test_the_shift_residual_finds_the_matrix_when_there_is_one():
    """The check above can say "there is one": on the sinusoidal table the best M is exact."""
    assert best_shift_residual(sinusoidal(64, 8)) < 1e-10
    assert best_shift_residual(sinusoidal(64, 8) + 0.1 * _rng(13).normal(size=(64, 8))) > 0.05


def test_learned_positions_looks_rows_up_and_copies_them():
    table = _rng(14).normal(size=(10, 4))
    np.testing.assert_array_equal(learned_positions(table, n=3), table[:3])
    got = learned_positions(table, positions=[9, 0, 4, 4])
    np.testing.assert_array_equal(got, table[[9, 0, 4, 4]])
    got[0] = 0.0
    assert table[9, 0] != 0.0


def test_learned_positions_beyond_the_table_raise():
    table = np.zeros((4, 2))
    learned_positions(table, positions=[3])  # the last row is there
    with pytest.raises(ValueError, match=re.escape("positions go up to 4 but the learned table has 4 rows")):
        learned_positions(table, positions=[0, 4])
    with pytest.raises(ValueError, match="learned table has 4 rows"):
        learned_positions(table, n=5)


# --------------------------------------------------------------------------- #
# one attention layer with positions, on the running example
# --------------------------------------------------------------------------- #
SENTENCE = "The cat sat on the mat because it was tired"
SWAPPED = "The mat sat on the cat because it was tired"
WORDS, SWAPPED_WORDS = tokenize(SENTENCE), tokenize(SWAPPED)
IT = WORDS.index("it")
TABLE = _rng(15).normal(size=(2000, 6))  # a learned table for the toy (d_model 5, rounded up to 6)


def layer(words, scheme, fn=attention_with_positions, **kw):
    if scheme == "learned":
        kw.setdefault("table", TABLE)
    return fn(embed(words), *matrices(), scheme, **kw)


def it_differs_when_cat_and_mat_swap(scheme, fn=attention_with_positions) -> bool:
    out, _ = layer(WORDS, scheme, fn)
    out2, _ = layer(SWAPPED_WORDS, scheme, fn)
    return bool(np.abs(out[IT] - out2[IT]).max() > 1e-3)


def shift_invariant(scheme, fn=attention_with_positions) -> bool:
    out, w = layer(WORDS, scheme, fn)
    for s in (1, 7, 1000):
        out2, w2 = layer(WORDS, scheme, fn, positions=np.arange(len(WORDS)) + s)
        if not (np.allclose(out2, out, rtol=0, atol=1e-10) and np.allclose(w2, w, rtol=0, atol=1e-10)):
            return False
    return True


@FAST
@given(perm=st.permutations(range(len(WORDS))))
def test_without_positions_attention_is_permutation_equivariant(perm):
    perm = np.array(perm)
    out, w = layer(WORDS, "none")
    out_p, w_p = attention_with_positions(embed(WORDS)[perm], *matrices(), "none")
    np.testing.assert_allclose(out_p, out[perm], rtol=0, atol=1e-12)
    np.testing.assert_allclose(w_p, w[perm][:, perm], rtol=0, atol=1e-12)


def test_without_positions_it_gets_the_same_output_when_cat_and_mat_swap():
    assert not it_differs_when_cat_and_mat_swap("none")


@pytest.mark.parametrize("scheme", [s for s in SCHEMES if s != "none"])
def test_with_positions_it_gets_a_different_output_when_cat_and_mat_swap(scheme):
    assert it_differs_when_cat_and_mat_swap(scheme)


@pytest.mark.parametrize("scheme", [s for s in SCHEMES if s != "none"])
def test_with_positions_attention_is_not_permutation_equivariant(scheme):
    perm = _rng(16).permutation(len(WORDS))
    out, _ = layer(WORDS, scheme)
    kw = {"table": TABLE} if scheme == "learned" else {}
    out_p, _ = attention_with_positions(embed(WORDS)[perm], *matrices(), scheme, **kw)
    assert np.abs(out_p - out[perm]).max() > 1e-3


@pytest.mark.parametrize("scheme", ["none", "rope", "alibi"])
def test_relative_schemes_ignore_a_shift_of_all_positions(scheme):
    assert shift_invariant(scheme)


@pytest.mark.parametrize("scheme", ["sinusoidal", "learned"])
def test_absolute_schemes_see_a_shift_of_all_positions(scheme):
    assert not shift_invariant(scheme)


def test_rope_scheme_equals_rope_on_the_projected_queries_and_keys():
    """The toy's "rope" is softmax(rope(x W_Q) rope(x W_K)^T / sqrt(d_k)) x W_V, written out here.

    d_k is 3, the width of W_Q: the zero column that lets RoPE pair the coordinates changes no
    dot product, and must not change the scale either (1/sqrt(4) would sharpen nothing but the
    rope rows, and the comparison with "none" would mix two effects).
    """
    x, (W_q, W_k, W_v) = embed(WORDS), matrices()
    pad = lambda a: np.pad(a, [(0, 0), (0, a.shape[1] % 2)])  # noqa: E731  d_k = 3 -> 4
    n = len(WORDS)
    q, k = rope_by_complex_numbers(pad(x @ W_q), range(n)), rope_by_complex_numbers(pad(x @ W_k), range(n))
    scores = q @ k.T / math.sqrt(3)  # d_k of the hand-set matrices, not the padded 4
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    out, w = layer(WORDS, "rope")
    np.testing.assert_allclose(w, weights, rtol=1e-12)
    np.testing.assert_allclose(out, weights @ (x @ W_v), rtol=1e-12)


def test_alibi_scheme_adds_minus_slope_times_distance_to_the_scaled_scores():
    x, (W_q, W_k, W_v) = embed(WORDS), matrices()
    n = len(WORDS)
    scores = (x @ W_q) @ (x @ W_k).T / math.sqrt(W_q.shape[1])
    scores = scores - 0.25 * np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    out, w = layer(WORDS, "alibi", slope=0.25)
    np.testing.assert_allclose(w, weights, rtol=1e-12)
    np.testing.assert_allclose(out, weights @ (x @ W_v), rtol=1e-12)


# --------------------------------------------------------------------------- #
# the checks above reject broken implementations
# --------------------------------------------------------------------------- #
def _pos(x, p):
    return np.arange(np.shape(x)[-2]) if p is None else np.asarray(p)


def sinusoidal_swapped(n, d, base=BASE, positions=None):
    return sinusoidal(n, d, base, positions)[:, np.arange(d) ^ 1]  # cos where sin belongs


def sinusoidal_off_by_one(n, d, base=BASE, positions=None):
    return sinusoidal(n, d, base, (np.arange(n) if positions is None else np.asarray(positions)) + 1)


def sinusoidal_base_1000(n, d, base=BASE, positions=None):
    return sinusoidal(n, d, 1000.0 if base == BASE else base / 10, positions)


def sinusoidal_i_over_d(n, d, base=BASE, positions=None):  # base^(-i/d): the exponent without its 2
    return sinusoidal(n, d, math.sqrt(base), positions)


def sinusoidal_gpt_j_order(n, d, base=BASE, positions=None):  # all sines, then all cosines
    pe = sinusoidal(n, d, base, positions)
    return np.concatenate([pe[:, 0::2], pe[:, 1::2]], axis=1)


BROKEN_SINUSOIDAL = [sinusoidal_swapped, sinusoidal_off_by_one, sinusoidal_base_1000, sinusoidal_i_over_d,
                     sinusoidal_gpt_j_order]


@pytest.mark.parametrize("broken", BROKEN_SINUSOIDAL, ids=lambda f: f.__name__)
def test_sinusoidal_reference_rejects_a_broken_table(broken):
    assert sinusoidal_matches_reference(sinusoidal)
    assert not sinusoidal_matches_reference(broken)


@pytest.mark.parametrize("broken", [
    lambda k, d, base=BASE: sinusoidal_shift(k + 1, d, base),  # off by one
    lambda k, d, base=BASE: sinusoidal_shift(k, d, base).T,  # turns back instead of on
    lambda k, d, base=BASE: sinusoidal_shift(k, d, 1000.0),  # the wrong base
], ids=["shift_off_by_one", "shift_transposed", "shift_base_1000"])
def test_shift_property_rejects_a_broken_shift_matrix(broken):
    assert shift_property_holds(sinusoidal, sinusoidal_shift)
    assert not shift_property_holds(sinusoidal, broken)


def test_shift_property_rejects_a_table_with_sine_and_cosine_swapped():
    assert not shift_property_holds(sinusoidal_swapped, sinusoidal_shift)


def rope_off_by_one(x, positions=None, base=BASE, layout="interleaved"):
    return rope(x, _pos(x, positions) + 1, base, layout)


def rope_base_1000(x, positions=None, base=BASE, layout="interleaved"):
    return rope(x, positions, base / 10, layout)


def rope_i_over_d(x, positions=None, base=BASE, layout="interleaved"):
    return rope(x, positions, math.sqrt(base), layout)


def rope_other_layout(x, positions=None, base=BASE, layout="interleaved"):
    return rope(x, positions, base, "half" if layout == "interleaved" else "interleaved")


def _second_of_each_pair_flipped(d, layout):
    """(1, -1, 1, -1, ...) for the interleaved layout, (1, ..., 1, -1, ..., -1) for the half one."""
    flip = np.ones(d)
    if layout == "interleaved":
        flip[1::2] = -1.0
    else:
        flip[d // 2 :] = -1.0
    return flip


def rope_backwards(x, positions=None, base=BASE, layout="interleaved"):
    """Turns by minus the angle: flip the second coordinate of each pair, turn, flip back."""
    flip = _second_of_each_pair_flipped(np.shape(x)[-1], layout)
    return rope(np.asarray(x) * flip, positions, base, layout) * flip


def rope_reflecting(x, positions=None, base=BASE, layout="interleaved"):
    """A reflection per pair instead of a rotation: keeps lengths and even relative scores."""
    return rope(x, positions, base, layout) * _second_of_each_pair_flipped(np.shape(x)[-1], layout)


def rope_growing(x, positions=None, base=BASE, layout="interleaved"):
    """Stretches each row by its position: not a rotation any more."""
    return rope(x, positions, base, layout) * (1.0 + 0.01 * _pos(x, positions))[:, None]


def rope_squared_positions(x, positions=None, base=BASE, layout="interleaved"):
    return rope(x, _pos(x, positions) ** 2, base, layout)


BROKEN_ROPE = [rope_off_by_one, rope_base_1000, rope_i_over_d, rope_other_layout, rope_backwards,
               rope_reflecting, rope_growing, rope_squared_positions]


@pytest.mark.parametrize("broken", BROKEN_ROPE, ids=lambda f: f.__name__)
def test_interleaved_reference_rejects_a_broken_rope(broken):
    assert rope_interleaved_matches_reference(rope)
    assert not rope_interleaved_matches_reference(broken)


@pytest.mark.parametrize("check, broken", [
    (rope_is_relative, rope_growing),
    (rope_is_relative, rope_squared_positions),
    (rope_keeps_norms, rope_growing),
    (rope_is_identity_at_zero, rope_off_by_one),
    (rope_is_identity_at_zero, rope_reflecting),
    (rope_layouts_related_by_permutation, rope_other_layout),
], ids=lambda f: f.__name__)
def test_rope_property_checks_reject_a_broken_rope(check, broken):
    assert check(rope)
    assert not check(broken)


def test_the_relative_property_alone_misses_off_by_one_base_and_layout_mistakes():
    """Why the reference comparisons are needed: these broken ropes are still relative."""
    for broken in (rope_off_by_one, rope_base_1000, rope_other_layout, rope_reflecting):
        assert rope_is_relative(broken)


def alibi_slopes_naive(h):  # 2^(-8i/h) for every h: wrong unless h is a power of two
    return 2.0 ** (-8.0 * np.arange(1, h + 1) / h)


def alibi_slopes_off_by_one(h):  # starts at 2^0 = 1
    return alibi_slopes(h) * 2.0 ** (8.0 / 2 ** math.floor(math.log2(h)))


def alibi_slopes_reversed(h):
    return alibi_slopes(h)[::-1]


def alibi_slopes_halved(h):
    return alibi_slopes(h) / 2


@pytest.mark.parametrize("broken", [alibi_slopes_naive, alibi_slopes_off_by_one, alibi_slopes_reversed,
                                    alibi_slopes_halved], ids=lambda f: f.__name__)
def test_alibi_slope_reference_rejects_broken_slopes(broken):
    assert alibi_slopes_match_reference(alibi_slopes)
    assert not alibi_slopes_match_reference(broken)


def _alibi_from(distance, slopes=alibi_slopes):
    def bias(h, n_q, n_k=None, q_positions=None, k_positions=None):
        n_k = n_q if n_k is None else n_k
        qp = np.arange(n_q) if q_positions is None else np.asarray(q_positions)
        kp = np.arange(n_k) if k_positions is None else np.asarray(k_positions)
        return -slopes(h)[:, None, None] * distance(qp[:, None] - kp[None, :])[None]
    return bias


alibi_signed = _alibi_from(lambda delta: delta.astype(float))  # i - j, no absolute value
alibi_plus_one = _alibi_from(lambda delta: np.abs(delta) + 1.0)  # off by one: the diagonal is penalised
alibi_squared = _alibi_from(lambda delta: delta.astype(float) ** 2)  # not linear
alibi_one_slope = _alibi_from(np.abs, slopes=lambda h: np.full(h, 0.5))  # the same slope for every head
alibi_naive_slopes = _alibi_from(np.abs, slopes=alibi_slopes_naive)


@pytest.mark.parametrize("broken", [alibi_signed, alibi_plus_one, alibi_squared, alibi_one_slope,
                                    alibi_naive_slopes],
                         ids=["signed", "plus_one", "squared", "one_slope", "naive_slopes"])
def test_alibi_bias_reference_rejects_a_broken_bias(broken):
    assert alibi_bias_matches_reference(_alibi_from(np.abs))  # the builder itself is right
    assert not alibi_bias_matches_reference(broken)


@pytest.mark.parametrize("broken", [alibi_signed, alibi_plus_one, alibi_squared, alibi_one_slope],
                         ids=["signed", "plus_one", "squared", "one_slope"])
def test_alibi_property_check_rejects_a_broken_bias(broken):
    assert alibi_has_its_properties(alibi_bias)
    assert not alibi_has_its_properties(broken)


def test_running_example_checks_reject_a_layer_that_ignores_positions(monkeypatch):
    """If rope forgot the positions (or ALiBi had slope 0), "it" would not notice the swap."""
    monkeypatch.setattr(positions, "rope", lambda x, pos, base, layout: x)
    assert not it_differs_when_cat_and_mat_swap("rope")
    no_slope = lambda *a, **kw: attention_with_positions(*a, **{**kw, "slope": 0.0})  # noqa: E731
    assert not it_differs_when_cat_and_mat_swap("alibi", no_slope)


def test_shift_invariance_check_rejects_an_absolute_rope(monkeypatch):
    monkeypatch.setattr(positions, "rope", rope_growing)
    assert not shift_invariant("rope")


# --------------------------------------------------------------------------- #
# error messages name the argument and come from the checks, not from deep inside NumPy
# --------------------------------------------------------------------------- #
X = np.ones((3, 4))
ERRORS = {
    "rope odd d": (lambda: rope(np.ones((3, 5))), "last dimension of x must be even, got shape (3, 5) (d=5)"),
    "sinusoidal odd d": (lambda: sinusoidal(3, 5), "d must be even"),
    "rope_frequencies odd d": (lambda: rope_frequencies(7), "d must be even"),
    "sinusoidal_shift odd d": (lambda: sinusoidal_shift(1, 3), "d must be even"),
    "rope_permutation odd d": (lambda: rope_permutation(3), "d must be even"),
    "sinusoidal d 0": (lambda: sinusoidal(3, 0), "d must be a positive integer, got 0"),
    "sinusoidal n 0": (lambda: sinusoidal(0, 4), "n must be a positive integer, got 0"),
    "negative position": (lambda: rope(X, [0, -1, 2]), "positions must be >= 0"),
    "negative sinusoidal position": (lambda: sinusoidal(2, 4, positions=[-3, 0]), "positions must be >= 0"),
    "negative key position": (lambda: alibi_bias(2, 3, k_positions=[0, -1, 2]), "k_positions must be >= 0"),
    "1.5 as a position": (lambda: rope(X, [0, 1.5, 2]), "positions must hold whole numbers (a position counts tokens), got 1.5"),
    "NaN as a position": (lambda: rope(X, [0, np.nan, 2]), "positions contains 1 non-finite value"),
    "bool positions": (lambda: rope(X, [True, False, True]), "positions must hold whole numbers >= 0, got dtype bool"),
    "text positions": (lambda: rope(X, ["a", "b", "c"]), "positions must hold whole numbers >= 0"),
    "2-D positions": (lambda: rope(X, [[0, 1, 2]]), "positions must be 1-D"),
    "huge position": (lambda: rope(X, [0, 1, 1e30]), "positions must be at most 2**53"),
    "huge unsigned position": (lambda: rope(X[:1], np.array([2**64 - 1], dtype=np.uint64)),
                               "positions must be at most 2**53"),
    "too few positions": (lambda: rope(X, [0, 1]), "positions must hold one position per row: 3 positions, got 2"),
    "too many positions": (lambda: sinusoidal(2, 4, positions=[0, 1, 2]), "positions must hold one position per row: 2"),
    "too few query positions": (lambda: alibi_bias(2, 3, q_positions=[0, 1]), "q_positions must hold one position per row"),
    "positions beyond a learned table": (lambda: learned_positions(np.ones((4, 2)), n=5),
                                         "positions go up to 4 but the learned table has 4 rows"),
    "learned positions and n": (lambda: learned_positions(np.ones((4, 2)), positions=[0], n=1), "not both"),
    "learned neither": (lambda: learned_positions(np.ones((4, 2))), "not neither"),
    "learned 1-D table": (lambda: learned_positions(np.ones(4), n=1), "table must be 2-D"),
    "learned NaN table": (lambda: learned_positions(np.array([[np.nan, 0.0]]), n=1), "table contains 1 non-finite"),
    "learned empty positions": (lambda: learned_positions(np.ones((4, 2)), positions=[]), "positions must hold at least one"),
    "unknown layout": (lambda: rope(X, layout="halves"), "unknown layout 'halves'; choose from ['interleaved', 'half']"),
    "unknown scheme": (lambda: attention_with_positions(embed(WORDS), *matrices(), "relative"),
                       "unknown scheme 'relative'; choose from ['none', 'sinusoidal', 'learned', 'rope', 'alibi']"),
    "base 1": (lambda: rope(X, base=1), "base must be greater than 1"),
    "base 0.5 sinusoidal": (lambda: sinusoidal(3, 4, base=0.5), "base must be greater than 1"),
    "base -1 shift": (lambda: sinusoidal_shift(1, 4, base=-1), "base must be greater than 1"),
    "base NaN": (lambda: rope(X, base=float("nan")), "base must be a finite number"),
    "base text": (lambda: rope(X, base="10000"), "base must be a finite number"),
    "tensor to NumPy rope": (lambda: rope(pytest.importorskip("torch").ones(3, 4)),
                             "x is a torch.Tensor; the NumPy functions take arrays"),
    "NaN input": (lambda: rope(np.array([[np.nan, 0.0, 0.0, 0.0]])), "x contains 1 non-finite value(s) (NaN or inf)"),
    "inf input": (lambda: rope(np.array([[0.0, np.inf]])), "x contains 1 non-finite value(s)"),
    "complex input": (lambda: rope(np.ones((2, 4)) + 0j), "x must be real"),
    "1-D input": (lambda: rope(np.ones(4)), "x must have at least 2 dimensions"),
    "no rows": (lambda: rope(np.ones((0, 4))), "x must hold at least one row"),
    "shift by 1.0": (lambda: sinusoidal_shift(1.0, 4), "k must be a whole number of positions, got 1.0"),
    "no heads": (lambda: alibi_slopes(0), "n_heads must be a positive integer, got 0"),
    "learned scheme without table": (lambda: attention_with_positions(embed(WORDS), *matrices(), "learned"),
                                     'scheme "learned" needs table='),
    "learned scheme, short table": (lambda: layer(WORDS, "learned", table=np.ones((4, 6))),
                                    "positions go up to 9 but the learned table has 4 rows"),
    "learned scheme, narrow table": (lambda: layer(WORDS, "learned", table=np.ones((20, 5))),
                                     "table has 5 columns but the embeddings have 6"),
    "scheme, wrong number of positions": (lambda: layer(WORDS, "rope", positions=[0, 1]),
                                          "positions must hold one position per row: 10 positions, got 2"),
    "scheme, NaN amplitude": (lambda: layer(WORDS, "sinusoidal", amplitude=np.nan), "amplitude must be a finite number"),
    "scheme, text slope": (lambda: layer(WORDS, "alibi", slope="x"), "slope must be a finite number"),
}


@pytest.mark.parametrize("call, fragment", ERRORS.values(), ids=ERRORS.keys())
def test_bad_input_gives_a_value_error_that_names_the_argument(call, fragment):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from NumPy on the way (e.g. a wrapping cast)
        with pytest.raises(ValueError, match=re.escape(fragment)) as info:
            call()
    raised_in = Path(traceback.extract_tb(info.tb)[-1].filename)
    assert raised_in.parent.name == "selfattn", f"raised deep inside {raised_in}"
