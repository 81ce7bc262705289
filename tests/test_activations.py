"""Tests of the activations lesson's code: hand-written derivatives against torch.autograd.

The lesson's run and its claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import pytest
import torch

from lesson_code import definitions

lesson = definitions("activations")
FUNCTIONS, TORCH_FUNCTIONS = lesson.FUNCTIONS, lesson.TORCH_FUNCTIONS
autograd_derivative, gradient_norms = lesson.autograd_derivative, lesson.gradient_norms
shrink_per_layer = lesson.shrink_per_layer

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


def test_deep_stack_scales_weights_by_the_activation_gain():
    torch.manual_seed(0)
    net = lesson.deep_stack("tanh", depth=3, width=512, init="scaled")
    linears = [layer for layer in net if isinstance(layer, torch.nn.Linear)]
    assert len(linears) == 4 and linears[-1].out_features == 10
    assert isinstance(net[1], torch.nn.Tanh)
    expected = (5 / 3) / 512**0.5  # torch's gain for tanh over sqrt(fan_in)
    assert float(linears[0].weight.detach().std()) == pytest.approx(expected, rel=0.02)
    assert float(linears[0].bias.detach().abs().max()) == 0


def test_gradient_is_the_product_of_the_later_layers_jacobians():
    """The page's chain-rule preview: dL/dh_{l-1} = W_l^T diag(σ'(z_l)) dL/dh_l, so the
    gradient at a layer is the product of the later layers' factors, as autograd finds."""
    torch.manual_seed(0)
    net = lesson.deep_stack("sigmoid", depth=4, width=6, init="scaled").double()
    linears = [layer for layer in net if isinstance(layer, torch.nn.Linear)]
    hs = [torch.randn(6, dtype=torch.float64, requires_grad=True)]  # h_0 = x, h_1, ..., h_m
    zs = []  # z_1, ..., z_m
    for linear in linears[:-1]:
        zs.append(linear(hs[-1]))
        hs.append(torch.sigmoid(zs[-1]))
        hs[-1].retain_grad()
    logits = linears[-1](hs[-1]).unsqueeze(0)  # (1, 10)
    torch.nn.functional.cross_entropy(logits, torch.tensor([3])).backward()
    sigmoid_prime = FUNCTIONS["sigmoid"][1]
    grad = hs[-1].grad  # dL/dh_m
    for i in reversed(range(len(zs))):  # back through layer i + 1: weights linears[i]
        grad = linears[i].weight.detach().T @ (sigmoid_prime(zs[i].detach()) * grad)
        torch.testing.assert_close(grad, hs[i].grad, rtol=1e-12, atol=1e-15)


def test_full_profile_ranks_on_several_seeds():
    # significant_gain needs per-seed values on both sides; the smoke profile ranks nothing.
    assert len(set(lesson.FULL.seeds)) >= 2
    assert lesson.FULL.gain_k >= 2
