"""check_attention_flops_torch: the learner's FLOP count of one attention layer against
PyTorch's FLOP counter (chapter "Sizing and cost"), and the mistakes it names."""

from __future__ import annotations

import pytest

from selfattn.exercises import CheckError, _torch_attention_flops, check_attention_flops_torch


def right(d, h, n):
    return 8 * n * d * d + 4 * n * n * d


def test_the_reference_is_what_pytorch_counts_typed_out():
    # d=64, h=4, n=10: four (10, 64) @ (64, 64) products, 2 * 10 * 64 * 64 each = 327,680;
    # scores and weighted sum, 4 heads of (10, 16) @ (16, 10) and (10, 10) @ (10, 16),
    # 2 * 10 * 10 * 16 * 4 = 12,800 each
    assert _torch_attention_flops(64, 4, 10) == 327_680 + 12_800 + 12_800


def test_a_right_count_passes(capsys):
    assert check_attention_flops_torch(right)
    assert "all 4 cases" in capsys.readouterr().out
    assert check_attention_flops_torch(lambda d, h, n: {"total": right(d, h, n)})


@pytest.mark.parametrize("wrong, says", [
    (lambda d, h, n: right(d, h, n) // 2, "a multiply-add is 2 FLOPs"),
    (lambda d, h, n: 6 * n * d * d + 4 * n * n * d, "output projection W_o is missing"),
    (lambda d, h, n: 8 * n * d * d + 2 * n * n * d, "only one of the two n^2 products"),
    (lambda d, h, n: 8 * n * d * d + 4 * n * n * d * h, "d_head = d_model / h"),
    (lambda d, h, n: 8 * n * d * d, "n^2 products (scores and weighted sum) are missing"),
    (lambda d, h, n: right(d, h, n) + 1, "PyTorch's FLOP counter"),
])
def test_a_wrong_count_fails_and_names_the_mistake(wrong, says):
    with pytest.raises(CheckError, match="d_model=64, n_heads=4, n=10") as err:
        check_attention_flops_torch(wrong)
    assert says in str(err.value)


@pytest.mark.parametrize("answer, says", [
    (lambda d, h, n: None, "must return a number of FLOPs, got a NoneType"),
    (lambda d, h, n: 1.5, "whole number"),
    (lambda d, h, n: float("nan"), "whole number"),
    (lambda d, h, n: True, "got a bool"),
    (lambda d, h, n: 1 / 0, "raised ZeroDivisionError"),
])
def test_an_answer_that_is_not_a_count_is_named(answer, says):
    with pytest.raises(CheckError, match=says):
        check_attention_flops_torch(answer)


def test_the_function_itself_is_needed():
    with pytest.raises(ValueError, match=r"takes your function itself.*got a int"):
        check_attention_flops_torch(353280)


@pytest.mark.parametrize("d, h, n", [(64, 4, 10), (768, 12, 32)])
def test_the_chapter_formula_agrees_with_pytorchs_counter(d, h, n):
    from selfattn.sizing import attention_flops

    assert attention_flops(d, h, n)["total"] == _torch_attention_flops(d, h, n)
