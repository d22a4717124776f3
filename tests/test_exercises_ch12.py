"""Checkers of chapters 1 and 2: a right answer passes, wrong answers fail with a useful message.

The expected values inside the checkers come from PyTorch; here the right
answers are written out in plain NumPy, by hand, independently of selfattn.
"""
import numpy as np
import pytest

pytest.importorskip("torch")

from selfattn.exercises import CheckError, check_four_steps_torch, check_queries_torch


def _four_steps(X, W_q, W_k, W_v):
    q, k, v = X @ W_q, X @ W_k, X @ W_v
    s = q @ k.T / np.sqrt(q.shape[1])
    e = np.exp(s - s.max(axis=1, keepdims=True))
    w = e / e.sum(axis=1, keepdims=True)
    return w @ v, w


def test_queries_checker_accepts_x_times_w_q():
    assert check_queries_torch(lambda X, W_q: X @ W_q)


@pytest.mark.parametrize("wrong", [
    lambda X, W_q: (X @ W_q).T,                 # columns instead of rows
    lambda X, W_q: X @ W_q + 1.0,               # a bias
    lambda X, W_q: X[:, : W_q.shape[1]] * 1.0,  # not a projection
])
def test_queries_checker_rejects_wrong_queries(wrong):
    with pytest.raises(CheckError):
        check_queries_torch(wrong)


def test_four_steps_checker_accepts_hand_written_attention():
    assert check_four_steps_torch(_four_steps)


def test_four_steps_checker_rejects_missing_scale():
    def no_scale(X, W_q, W_k, W_v):
        q, k, v = X @ W_q, X @ W_k, X @ W_v
        s = q @ k.T
        w = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
        return w @ v, w
    with pytest.raises(CheckError, match="weights"):
        check_four_steps_torch(no_scale)


def test_four_steps_checker_rejects_softmax_over_wrong_axis():
    def wrong_axis(X, W_q, W_k, W_v):
        q, k, v = X @ W_q, X @ W_k, X @ W_v
        s = q @ k.T / np.sqrt(q.shape[1])
        w = np.exp(s) / np.exp(s).sum(axis=0, keepdims=True)
        return w @ v, w
    with pytest.raises(CheckError):
        check_four_steps_torch(wrong_axis)


def test_four_steps_checker_rejects_weights_times_keys():
    def wrong_output(X, W_q, W_k, W_v):
        out, w = _four_steps(X, W_q, W_k, W_v)
        return w @ (X @ W_k), w
    with pytest.raises(CheckError, match="output"):
        check_four_steps_torch(wrong_output)
