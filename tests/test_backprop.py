"""The hand-written backward pass of one attention layer, against PyTorch's autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selfattn.backprop import attention_grads_numpy

NAMES = ("W_q", "W_k", "W_v")


def _torch_loss(X, W_q, W_k, W_v, Y):
    """The loss of the docstring, written with torch so that autograd differentiates it."""
    q, k, v = X @ W_q, X @ W_k, X @ W_v
    a = torch.softmax(q @ k.T / W_q.shape[1] ** 0.5, dim=-1)
    return 0.5 * ((a @ v - Y) ** 2).sum() / X.shape[0]


def _autograd(X, Ws, Y):
    """Loss and gradients from torch autograd, in float64."""
    params = {name: torch.tensor(W, dtype=torch.float64, requires_grad=True) for name, W in zip(NAMES, Ws)}
    X, Y = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    loss = _torch_loss(X, *params.values(), Y)
    loss.backward()
    return loss.item(), {name: p.grad.numpy() for name, p in params.items()}


def _problem(seed, n, d_model, d_k, d_v):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n, d_model)), rng.normal(size=(n, d_v))
    Ws = (rng.normal(size=(d_model, d_k)), rng.normal(size=(d_model, d_k)), rng.normal(size=(d_model, d_v)))
    return X, Ws, Y


@pytest.mark.parametrize("n, d_model, d_k, d_v", [(4, 3, 2, 2), (5, 6, 3, 4), (1, 2, 1, 3), (10, 8, 4, 1)])
def test_loss_and_gradients_equal_torch_autograd(n, d_model, d_k, d_v):
    X, Ws, Y = _problem(7, n, d_model, d_k, d_v)
    loss, grads = attention_grads_numpy(X, *Ws, Y)
    t_loss, t_grads = _autograd(X, Ws, Y)
    assert loss == pytest.approx(t_loss, rel=1e-12)
    for name in NAMES:
        assert grads[name].shape == Ws[NAMES.index(name)].shape
        np.testing.assert_allclose(grads[name], t_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_one_gradient_step_equals_torch_sgd_step():
    X, Ws, Y = _problem(1, 3, 4, 2, 2)
    lr = 0.1
    _, grads = attention_grads_numpy(X, *Ws, Y)
    stepped = [W - lr * grads[name] for W, name in zip(Ws, NAMES)]
    params = [torch.tensor(W, requires_grad=True) for W in Ws]
    opt = torch.optim.SGD(params, lr=lr)
    _torch_loss(torch.tensor(X), *params, torch.tensor(Y)).backward()
    opt.step()
    for mine, theirs in zip(stepped, params):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_gradients_vanish_when_the_output_is_the_target():
    X, Ws, _ = _problem(3, 4, 3, 2, 2)
    with torch.no_grad():  # the layer's own output, computed by torch
        q, k, v = (torch.tensor(X) @ torch.tensor(W) for W in Ws)
        Y = (torch.softmax(q @ k.T / 2 ** 0.5, dim=-1) @ v).numpy()
    loss, grads = attention_grads_numpy(X, *Ws, Y)
    assert loss == pytest.approx(0.0, abs=1e-28)
    for name in NAMES:
        np.testing.assert_allclose(grads[name], 0.0, atol=1e-14, err_msg=name)


def test_float32_inputs_give_the_float64_gradients_of_the_same_numbers():
    X, Ws, Y = _problem(5, 4, 3, 2, 2)
    X32, Y32, Ws32 = X.astype(np.float32), Y.astype(np.float32), [W.astype(np.float32) for W in Ws]
    loss, grads = attention_grads_numpy(X32, *Ws32, Y32)
    t_loss, t_grads = _autograd(X32, Ws32, Y32)  # the float32 numbers, differentiated in float64
    assert loss == pytest.approx(t_loss, rel=1e-12)
    for name in NAMES:
        assert grads[name].dtype == np.float64
        np.testing.assert_allclose(grads[name], t_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)


def _args(**change):
    """Good arguments X (3, 4), W_q, W_k (4, 2), W_v (4, 2), Y (3, 2), with some replaced."""
    args = {"X": np.ones((3, 4)), "W_q": np.ones((4, 2)), "W_k": np.ones((4, 2)), "W_v": np.ones((4, 2)),
            "Y": np.ones((3, 2))}
    args.update(change)
    return args


@pytest.mark.parametrize("change, message", [
    ({"W_q": np.ones((4, 0)), "W_k": np.ones((4, 0))}, r"W_q must have at least one row and one column"),
    ({"W_k": np.ones((4, 0))}, r"W_k must have at least one row and one column"),
    ({"X": np.ones((0, 4)), "Y": np.ones((0, 2))}, r"X must have at least one row"),
    ({"W_k": np.ones((4, 3))}, r"W_q and W_k must have the same number of columns d_k"),
    ({"W_v": np.ones((5, 2))}, r"W_q, W_k and W_v must have the same number of rows"),
    ({"X": np.ones((3, 5))}, r"X has d_model = 5 columns .* W_q, W_k and W_v have 4 rows"),
    ({"Y": np.ones((3, 5))}, r"Y must have shape \(n, d_v\) = \(3, 2\) .* got \(3, 5\)"),
    ({"Y": np.ones((2, 2))}, r"Y must have shape \(n, d_v\) = \(3, 2\) .* got \(2, 2\)"),
    ({"X": np.ones(4)}, r"X must be 2-D \(n, d_model\), got shape \(4,\)"),
    ({"Y": np.ones((1, 3, 2))}, r"Y must be 2-D"),
    ({"X": np.full((3, 4), np.nan)}, r"X contains 12 non-finite"),
    ({"Y": np.array([[1.0, np.inf]] * 3)}, r"Y contains 3 non-finite"),
    ({"W_v": np.ones((4, 2), dtype=bool)}, r"W_v must hold numbers, got dtype bool"),
    ({"W_q": np.ones((4, 2), dtype=complex)}, r"W_q must be real"),
    ({"X": torch.ones(3, 4)}, r"X is a torch.Tensor"),
    ({"W_q": [[1, 2], [3]]}, r"W_q cannot be made into an array"),
])
def test_bad_input_raises_a_value_error_naming_the_argument(change, message):
    with pytest.raises(ValueError, match=message):
        attention_grads_numpy(**_args(**change))


def test_overflowing_scores_are_named_not_returned_as_nan():
    with pytest.raises(ValueError, match=r"scores q @ k\^T \* scale overflow float64"):
        attention_grads_numpy(**_args(X=np.full((3, 4), 1e160)))


def test_an_overflowing_loss_is_named_not_returned_as_inf():
    with pytest.raises(ValueError, match=r"the loss is not finite .* rescale X, W_v or Y"):
        attention_grads_numpy(**_args(W_v=np.full((4, 2), 1e300), W_q=np.zeros((4, 2))))
