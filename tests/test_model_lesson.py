"""Tests of the model lesson's code: registration, __call__ vs forward, parameter count.

The lesson's run and its claims are checked when its notebook runs (test_notebooks.py).
"""

from __future__ import annotations

import pytest
import torch
from lesson_code import definitions

from mnist_tutorial.models import MLP, count_parameters

lesson = definitions("model")


@pytest.mark.parametrize("sizes", [[784, 1024, 256, 10], [784, 10], [784, 32, 10]])
def test_parameters_from_sizes_matches_torch(sizes):
    assert lesson.parameters_from_sizes(sizes) == count_parameters(MLP(hidden=tuple(sizes[1:-1])))


def test_layers_in_a_plain_list_are_not_registered():
    assert count_parameters(lesson.Forgetful()) == 0
    assert count_parameters(lesson.Registered()) == 784 * 10 + 10


def test_call_runs_hooks_and_forward_does_not():
    net = MLP(hidden=(16,))
    X = torch.randn(3, 1, 28, 28)
    y_call, y_forward, calls, calls_forward = lesson.call_vs_forward(net, X)
    assert torch.equal(y_call, y_forward)
    assert y_call.shape == (3, 10)
    assert (calls, calls_forward) == (1, 0)
    assert not net._forward_hooks, "the hook must be removed afterwards"
