"""The model lesson's code and experiment: registration, __call__ vs forward, parameter count."""

from __future__ import annotations

import torch

from mnist_tutorial.experiments.model import (call_vs_forward, parameters_from_sizes,
                                              registration_counts)
from mnist_tutorial.models import MLP, count_parameters


def test_parameters_from_sizes_matches_torch():
    for sizes in ([784, 1024, 256, 10], [784, 10], [784, 32, 10]):
        hidden = tuple(sizes[1:-1])
        assert parameters_from_sizes(sizes) == count_parameters(MLP(hidden=hidden))


def test_layers_in_a_plain_list_are_not_registered():
    assert registration_counts() == (0, 784 * 10 + 10)


def test_call_runs_hooks_and_forward_does_not():
    net = MLP(hidden=(16,))
    X = torch.randn(3, 1, 28, 28)
    y_call, y_forward, calls, calls_forward = call_vs_forward(net, X)
    assert torch.equal(y_call, y_forward)
    assert (calls, calls_forward) == (1, 0)
    assert not net._forward_hooks, "the hook must be removed afterwards"


def test_the_experiment_result(mnist_root):
    from mnist_tutorial import registry

    result = registry.get_result("model", "smoke")
    assert result["metrics"]["parameters"]["value"] == parameters_from_sizes([784, 1024, 256, 10])
    assert len(result["tables"]["parameters"]["rows"]) == 6
    probabilities = [float(row[2]) for row in result["tables"]["logits"]["rows"]]
    assert abs(sum(probabilities) - 1) < 0.01
