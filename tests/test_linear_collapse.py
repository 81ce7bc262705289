"""Tests of the linear-collapse lesson's code: the identity W2 (W1 x + b1) + b2 = W x + b.

The lesson's run and its claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lesson_code import definitions

lesson = definitions("linear_collapse")
affine_defect, collapse, collapse_error = lesson.affine_defect, lesson.collapse, lesson.collapse_error
collapsed_rank, deep_net = lesson.collapsed_rank, lesson.deep_net


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 8])
def test_collapse_equals_the_stack_for_random_shapes(depth):
    g = torch.Generator().manual_seed(depth)
    sizes = torch.randint(1, 40, (depth + 1,), generator=g).tolist()
    torch.manual_seed(depth)
    net = deep_net(sizes, dtype=torch.float64)
    single = collapse(net)
    assert isinstance(single, nn.Linear)
    assert (single.in_features, single.out_features) == (sizes[0], sizes[-1])
    X = torch.randn(64, sizes[0], dtype=torch.float64)
    with torch.no_grad():
        y_hat = net(X)
        scale = float(y_hat.abs().max())
        torch.testing.assert_close(single(X), y_hat, rtol=0, atol=1e-12 * max(scale, 1e-300))


def test_collapse_matches_the_closed_form_for_two_layers():
    torch.manual_seed(0)
    first, second = nn.Linear(5, 7, dtype=torch.float64), nn.Linear(7, 3, dtype=torch.float64)
    single = collapse([first, second])
    torch.testing.assert_close(single.weight, second.weight @ first.weight)
    torch.testing.assert_close(single.bias, second.weight @ first.bias + second.bias)


def test_collapse_handles_layers_without_bias():
    torch.manual_seed(0)
    layers = [nn.Linear(4, 6, bias=False, dtype=torch.float64),
              nn.Linear(6, 2, dtype=torch.float64)]
    X = torch.randn(8, 4, dtype=torch.float64)
    torch.testing.assert_close(collapse(layers)(X), layers[1](layers[0](X)))


def test_collapse_refuses_a_non_linear_layer():
    with pytest.raises(TypeError, match="ReLU"):
        collapse(deep_net([3, 4, 2], nn.ReLU))


def test_collapse_error_is_rounding_only():
    error, scale = collapse_error([784, 256, 256, 10])
    assert scale > 0.01  # the outputs are not vanishingly small...
    assert error < 1e-12  # ...and the difference is rounding


def test_rank_is_capped_by_the_narrowest_layer():
    assert collapsed_rank([10, 64, 3, 64, 10]) == 3
    assert collapsed_rank([6, 32, 6]) == 6


def test_midpoint_defect_separates_affine_from_relu():
    torch.manual_seed(0)
    assert affine_defect(deep_net([2, 16, 16, 2], dtype=torch.float64), 2) < 1e-12
    torch.manual_seed(0)
    assert affine_defect(deep_net([2, 16, 16, 2], nn.ReLU, dtype=torch.float64), 2) > 1e-6
