"""Tests of the model lesson's code: registration, __call__ vs forward, the notation, parameter
count, the diagram.

The lesson's run and its claims are checked by the site's build (test_site_build.py).
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


@pytest.mark.parametrize(("n_in", "n_out", "batch"), [(784, 1024, 8), (5, 3, 1), (1, 1, 2)])
def test_the_three_notations_of_a_layer_agree_with_nn_linear(n_in, n_out, batch):
    torch.manual_seed(0)
    layer = torch.nn.Linear(n_in, n_out)
    assert layer.weight.shape == (n_out, n_in) and layer.bias.shape == (n_out,)
    with torch.no_grad():
        by_torch, *by_hand = lesson.linear_three_ways(layer, torch.randn(batch, n_in))
    assert by_torch.shape == (batch, n_out)
    for result in by_hand:
        torch.testing.assert_close(result, by_torch)


@pytest.mark.parametrize("hidden", [(1024, 256), (), (32,)])
def test_linear_layers_reads_widths_and_counts_off_the_module(hidden):
    net = MLP(hidden=hidden)
    layers = lesson.linear_layers(net)
    sizes = [784, *hidden, 10]
    assert [(layer["n_in"], layer["n_out"]) for layer in layers] == list(zip(sizes, sizes[1:]))
    assert [layer["weights"] for layer in layers] == [a * b for a, b in zip(sizes, sizes[1:])]
    assert [layer["biases"] for layer in layers] == sizes[1:]
    assert sum(layer["weights"] + layer["biases"] for layer in layers) == count_parameters(net)
    assert [layer["activation"] for layer in layers] == ["ReLU"] * len(hidden) + [None]
    assert lesson.linear_layers(MLP(hidden=hidden, activation="tanh"))[0]["activation"] == (
        "Tanh" if hidden else None)


def test_network_diagram_labels_every_part_with_the_model_numbers():
    import xml.etree.ElementTree as ET

    from mnist_tutorial.report import format_value

    layers = lesson.linear_layers(MLP())
    svg = lesson.network_diagram(layers)
    ET.fromstring(svg)  # well-formed
    assert svg == lesson.network_diagram(layers), "the SVG must be deterministic"
    for label in ["input layer", "hidden layer 1", "hidden layer 2", "output layer", "unit (neuron)",
                  "weight (an edge)", "bias", "ReLU", "logit of 0", "logit of 9", "depth 3",
                  f"width {format_value(1024, 'count')}",
                  f"{format_value(784 * 1024 + 1024, 'count')} parameters",
                  f"{format_value(count_parameters(MLP()), 'count')} parameters in all"]:
        assert label in svg, label
    smaller = lesson.network_diagram(lesson.linear_layers(MLP(hidden=(32,))))
    assert "hidden layer 2" not in smaller and "depth 2" in smaller
