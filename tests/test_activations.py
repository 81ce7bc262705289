"""Tests of the activations lesson: hand-written derivatives against torch.autograd."""

from __future__ import annotations

import pytest
import torch

from mnist_tutorial import registry
from mnist_tutorial.activations import (FUNCTIONS, TORCH_FUNCTIONS, autograd_derivative,
                                        gradient_norms, shrink_per_layer)

# A wide range, a dense grid around 0 (the kinks of ReLU and leaky ReLU), and 0 itself.
X = torch.cat([
    torch.linspace(-30, 30, 2001, dtype=torch.float64),
    torch.tensor([0.0, -0.0, 1e-300, -1e-300, 1e-12, -1e-12, 1e-6, -1e-6], dtype=torch.float64),
    torch.linspace(-1e-3, 1e-3, 201, dtype=torch.float64),
])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_matches_torch(name):
    f, _ = FUNCTIONS[name]
    torch.testing.assert_close(f(X), TORCH_FUNCTIONS[name](X), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_derivative_matches_autograd(name):
    _, f_prime = FUNCTIONS[name]
    expected = autograd_derivative(TORCH_FUNCTIONS[name], X)
    assert f_prime(X).dtype == torch.float64
    torch.testing.assert_close(f_prime(X), expected, rtol=1e-12, atol=1e-14)


def test_derivatives_at_zero_follow_torch_conventions():
    zero = torch.zeros(1, dtype=torch.float64)
    assert float(FUNCTIONS["relu"][1](zero)) == 0.0
    assert float(FUNCTIONS["leaky_relu"][1](zero)) == pytest.approx(0.01)
    assert float(FUNCTIONS["gelu"][1](zero)) == 0.5
    assert float(FUNCTIONS["sigmoid"][1](zero)) == 0.25


def test_autograd_derivative_of_a_known_function():
    x = torch.linspace(-2, 2, 11, dtype=torch.float64)
    torch.testing.assert_close(autograd_derivative(lambda t: t**3, x), 3 * x**2)


def test_sigmoid_gradient_vanishes_and_relu_keeps_it():
    relu = gradient_norms("relu", depth=12, width=64, init="scaled", batch_size=128)
    sigmoid = gradient_norms("sigmoid", depth=12, width=64, init="scaled", batch_size=128)
    assert len(relu) == len(sigmoid) == 12
    assert 0.5 < shrink_per_layer(relu) < 2
    assert shrink_per_layer(sigmoid) < 0.3
    assert sigmoid[0] < 1e-4 * relu[0]


def test_shrink_per_layer_is_the_geometric_mean():
    assert shrink_per_layer([1e-3, 1e-2, 1e-1, 1.0]) == pytest.approx(0.1)


def test_activations_experiment_runs_in_the_smoke_profile():
    result = registry.run_experiment(registry.find("activations"), "smoke")
    assert result["metrics"]["derivative_error"]["value"] < 1e-12
    assert {"functions", "gradients"} <= set(result["figures"])


def test_mnist_comparison_runs_in_the_smoke_profile(mnist_root):
    result = registry.run_experiment(registry.find("activations_mnist"), "smoke")
    rows = result["tables"]["comparison"]["rows"]
    assert [row[0] for row in rows] == ["ReLU", "leaky ReLU", "GELU", "tanh", "sigmoid"]
