"""The chapter 3 and 4 builders' checkers accept right functions and name wrong ones.

The right functions are written here with PyTorch or by hand, not with the checkers' code.
"""
import numpy as np
import pytest
import torch

from selfattn.exercises import (CheckError, check_context_vectors_torch,
                                check_score_matrix_torch)


def _scores_by_hand(X, W_q, W_k):
    Q, K = X @ W_q, X @ W_k
    n = X.shape[0]
    return np.array([[sum(Q[i] * K[j]) for j in range(n)] for i in range(n)])


def _context_by_torch_layer(X, W_q, W_k, W_v):
    x = torch.from_numpy(X)
    q, k, v = (x @ torch.from_numpy(W) for W in (W_q, W_k, W_v))
    d_k = k.shape[-1]
    a = torch.exp(q @ k.T / d_k ** 0.5)
    return ((a / a.sum(-1, keepdim=True)) @ v).numpy()


def test_score_matrix_checker_accepts_scores_summed_by_hand(capsys):
    assert check_score_matrix_torch(_scores_by_hand)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, says", [
    (lambda X, W_q, W_k: (X @ W_k) @ (X @ W_q).T, "transpose"),
    (lambda X, W_q, W_k: (X @ W_q) @ (X @ W_k).T / np.sqrt(W_k.shape[1]), "sqrt(d_k)"),
    (lambda X, W_q, W_k: (X @ W_q) @ (X @ W_q).T, "W_q"),
    (lambda X, W_q, W_k: (X @ W_q) @ (X @ W_k), "raised"),
    (lambda X, W_q, W_k: (X @ W_q) @ (X @ W_k).T + 1e-3, "against PyTorch"),
])
def test_score_matrix_checker_names_each_mistake(wrong, says):
    with pytest.raises(CheckError, match=None) as err:
        check_score_matrix_torch(wrong)
    assert says in str(err.value)


def test_context_vectors_checker_accepts_a_hand_written_torch_layer(capsys):
    assert check_context_vectors_torch(_context_by_torch_layer)
    assert capsys.readouterr().out.startswith("Correct:")


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("wrong, says", [
    (lambda X, W_q, W_k, W_v: _softmax((X @ W_q) @ (X @ W_k).T
                                       / np.sqrt(W_k.shape[1])).T @ (X @ W_v),
     "weights.T @ v"),
    (lambda X, W_q, W_k, W_v: _softmax((X @ W_q) @ (X @ W_k).T) @ (X @ W_v),
     "not scaled"),
    (lambda X, W_q, W_k, W_v: (X @ W_v).mean(0, keepdims=True).repeat(len(X), 0),
     "against PyTorch"),
])
def test_context_vectors_checker_names_each_mistake(wrong, says):
    with pytest.raises(CheckError) as err:
        check_context_vectors_torch(wrong)
    assert says in str(err.value)


def test_checkers_refuse_a_result_instead_of_a_function():
    with pytest.raises(ValueError, match="function itself"):
        check_score_matrix_torch(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="function itself"):
        check_context_vectors_torch(np.zeros((3, 2)))
