"""Tests of the backpropagation lesson's code: the hand-written backward pass against
torch.autograd.

Like micrograd's tests: the same network, the same numbers, gradients from our code and
from autograd, compared in float64 for several shapes, every parameter (biases included).
Finite differences are checked on a tiny network. The lesson's run and its claims are
checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lesson_code import definitions

lesson = definitions("backpropagation")
NAMES, autograd_gradient, backward = lesson.NAMES, lesson.autograd_gradient, lesson.backward
check_against_autograd, cross_entropy = lesson.check_against_autograd, lesson.cross_entropy
forward, init_params, input_gradient = lesson.forward, lesson.init_params, lesson.input_gradient
loss_of, matmul_counts, max_relative_error = lesson.loss_of, lesson.matmul_counts, lesson.max_relative_error
numerical_gradient, toy_data, train_step = lesson.numerical_gradient, lesson.toy_data, lesson.train_step
weight_decay = lesson.weight_decay

SHAPES = [(1, 3, 4, 2), (5, 7, 16, 4), (32, 20, 64, 10), (64, 784, 128, 10), (3, 1, 1, 2)]


def hand_written(params, X, y):
    logits, cache = forward(params, X)
    loss, dlogits = cross_entropy(logits, y)
    return loss, backward(params, cache, dlogits), cache, dlogits


@pytest.mark.parametrize("batch_size, d_in, d_hidden, d_out", SHAPES)
def test_gradients_match_autograd(batch_size, d_in, d_hidden, d_out):
    X, y = toy_data(batch_size, d_in, d_out, seed=batch_size)
    params = init_params(d_in, d_hidden, d_out, seed=d_hidden)
    loss, grads, _, _ = hand_written(params, X, y)
    reference_loss, reference = autograd_gradient(params, X, y)

    torch.testing.assert_close(loss, reference_loss, rtol=1e-13, atol=0)
    for name in NAMES:  # W1, b1, W2, b2: the biases too
        assert grads[name].shape == params[name].shape, name
        assert grads[name].dtype == torch.float64
        torch.testing.assert_close(grads[name], reference[name], rtol=1e-10, atol=1e-14,
                                   msg=lambda m, name=name: f"{name}: {m}")
    loss_error, grad_error = check_against_autograd(batch_size, d_in, d_hidden, d_out)
    assert loss_error < 1e-13 and grad_error < 1e-12


def test_bias_gradients_are_not_trivial():
    """The bias gradients must be column sums over the batch, not zeros or a single row."""
    X, y = toy_data(16, 5, 3)
    params = init_params(5, 8, 3)
    _, grads, cache, dlogits = hand_written(params, X, y)
    assert grads["b2"].abs().max() > 1e-3
    torch.testing.assert_close(grads["b2"], dlogits.sum(dim=0))
    assert grads["b1"].abs().max() > 1e-4


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    loss, dlogits = cross_entropy(logits, y)
    torch.testing.assert_close(loss, F.cross_entropy(logits, y))
    expected = (torch.softmax(logits, dim=1) - F.one_hot(y, 4)) / 6
    torch.testing.assert_close(dlogits, expected)
    # large logits must not overflow (log-sum-exp is stable)
    loss, dlogits = cross_entropy(logits * 1e3, y)
    assert torch.isfinite(loss) and torch.isfinite(dlogits).all()


def test_finite_differences_agree_with_autograd_on_a_tiny_net():
    X, y = toy_data(4, 3, 2, seed=3)
    params = init_params(3, 5, 2, seed=3)
    before = {name: p.clone() for name, p in params.items()}
    numerical = numerical_gradient(lambda p: loss_of(p, X, y), params, eps=1e-6)
    _, reference = autograd_gradient(params, X, y)
    assert max_relative_error(numerical, reference) < 1e-7
    for name in NAMES:  # every nudge was undone
        assert torch.equal(params[name], before[name]), name


def test_finite_differences_use_two_forward_passes_per_parameter():
    X, y = toy_data(4, 3, 2)
    params = init_params(3, 5, 2)
    calls = []
    numerical_gradient(lambda p: calls.append(1) or loss_of(p, X, y), params)
    assert len(calls) == 2 * sum(p.numel() for p in params.values())


def test_train_step_lowers_the_loss():
    X, y = toy_data(256, 10, 3)
    params = init_params(10, 32, 3)
    losses = [train_step(params, X, y, lr=0.5) for _ in range(30)]
    assert losses[-1] < 0.7 * losses[0]


def test_exercise_solutions_match_autograd():
    X, y = toy_data(8, 6, 3, seed=2)
    params = init_params(6, 10, 3, seed=2)
    _, grads, cache, dlogits = hand_written(params, X, y)

    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    X_leaf = X.clone().requires_grad_(True)
    loss = F.cross_entropy(torch.relu(X_leaf @ leaves["W1"] + leaves["b1"]) @ leaves["W2"]
                           + leaves["b2"], y)
    lam = 0.01
    (loss + lam * (leaves["W1"].square().sum() + leaves["W2"].square().sum())).backward()

    decayed = weight_decay(params, grads, lam)
    for name in NAMES:
        torch.testing.assert_close(decayed[name], leaves[name].grad)
    torch.testing.assert_close(decayed["b1"], grads["b1"])  # biases are not penalised
    torch.testing.assert_close(input_gradient(params, cache, dlogits), X_leaf.grad)


def test_matmul_counts():
    forward_count, backward_count = matmul_counts((4, 3, 2), batch_size=5)
    assert forward_count == 5 * (4 * 3 + 3 * 2)
    assert backward_count == 5 * (2 * (4 * 3 + 3 * 2) - 4 * 3)  # the first layer passes nothing down
    assert matmul_counts((4, 3, 2), 5, input_gradient=True)[1] == 2 * forward_count


def test_check_against_autograd_catches_a_wrong_backward_pass(monkeypatch):
    """A forgotten 1/B in the loss gradient must show up as a large difference."""
    def forgetful(logits, y):
        loss, dlogits = cross_entropy(logits, y)
        return loss, dlogits * logits.shape[0]
    monkeypatch.setitem(check_against_autograd.__globals__, "cross_entropy", forgetful)
    assert check_against_autograd(16, 10, 32, 3)[1] > 1
