"""mnist_tutorial.models: shapes, logits, the softmax flag, parameter count."""

import torch

from mnist_tutorial.models import MLP, count_parameters


def test_mlp_maps_images_to_ten_logits():
    net = MLP()
    torch.manual_seed(0)
    y_hat = net(torch.randn(5, 1, 28, 28))
    assert y_hat.shape == (5, 10)
    assert not torch.allclose(y_hat.sum(dim=1), torch.ones(5))  # logits, not probabilities


def test_softmax_flag_outputs_probabilities():
    probs = MLP(softmax_output=True)(torch.randn(3, 1, 28, 28))
    assert torch.allclose(probs.sum(dim=1), torch.ones(3), atol=1e-6)
    assert (probs >= 0).all()


def test_parameter_count_is_weights_plus_biases():
    sizes = [784, 1024, 256, 10]
    expected = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    assert count_parameters(MLP()) == expected


def test_hidden_sizes_and_activation_are_configurable():
    net = MLP(hidden=(32,), activation="tanh")
    assert count_parameters(net) == 784 * 32 + 32 + 32 * 10 + 10
    assert any(isinstance(m, torch.nn.Tanh) for m in net.modules())
