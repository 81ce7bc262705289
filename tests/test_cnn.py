"""Tests of exercise 4 (lessons/cnn.py): the small CNN, its cost, pixel shuffling.

The exercise's run and its claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import torch
from torch import nn

from lesson_code import definitions
from mnist_tutorial.data import MNIST
from mnist_tutorial.models import MLP, count_parameters

lesson = definitions("cnn")
CNN, multiply_adds, permute_pixels = lesson.CNN, lesson.multiply_adds, lesson.permute_pixels
permuted_twin = lesson.permuted_twin


def test_cnn_returns_one_logit_per_digit():
    for channels, kernel_size, hidden in (((16, 32), 5, 128), ((8, 16), 3, 32)):
        net = CNN(channels, kernel_size, hidden)
        assert net(torch.zeros(7, 1, 28, 28)).shape == (7, 10)


def test_cnn_parameter_count():
    def expected(c1, c2, k, hidden):
        return ((1 * c1 * k * k + c1) + (c1 * c2 * k * k + c2)  # two convolutions
                + (c2 * 7 * 7 * hidden + hidden) + (hidden * 10 + 10))  # two linear layers

    assert count_parameters(CNN((16, 32), 5, 128)) == expected(16, 32, 5, 128) == 215_370
    assert count_parameters(CNN((8, 16), 3, 32)) == expected(8, 16, 3, 32)


def test_multiply_adds_counts_every_position_of_a_convolution():
    c1, c2, k, hidden = 16, 32, 5, 128
    conv = 28 * 28 * c1 * k * k + 14 * 14 * c2 * c1 * k * k
    assert multiply_adds(CNN((c1, c2), k, hidden)) == conv + c2 * 49 * hidden + hidden * 10
    assert multiply_adds(MLP((1024, 256))) == 784 * 1024 + 1024 * 256 + 256 * 10


def test_pooling_before_relu_gives_the_same_numbers():
    x = torch.randn(4, 8, 28, 28)
    pool = nn.MaxPool2d(2)
    assert torch.equal(torch.relu(pool(x)), pool(torch.relu(x)))


def test_channels_last_changes_speed_not_results():
    torch.manual_seed(0)
    net = CNN()
    X = torch.randn(5, 1, 28, 28)
    expected = net(X)
    assert torch.allclose(net.to(memory_format=torch.channels_last)(X), expected, atol=1e-5)


def test_permute_pixels_moves_pixels_the_same_way_in_every_image():
    images = torch.arange(2 * 28 * 28, dtype=torch.int32).reshape(2, 28, 28) % 251
    test = images.flip(0)
    mnist = MNIST(images.to(torch.uint8), torch.tensor([3, 5]), test.to(torch.uint8),
                  torch.tensor([5, 3]))
    order = torch.randperm(28 * 28, generator=torch.Generator().manual_seed(0))
    shuffled = permute_pixels(mnist, order)
    assert not torch.equal(shuffled.train_images, mnist.train_images)
    for before, after in ((mnist.train_images, shuffled.train_images),
                          (mnist.test_images, shuffled.test_images)):
        assert torch.equal(after.flatten(1).sort(dim=1).values,
                           before.flatten(1).sort(dim=1).values)
    # test image 0 is train image 1: the same permutation must give the same result
    assert torch.equal(shuffled.test_images[0], shuffled.train_images[1])
    assert torch.equal(shuffled.train_labels, mnist.train_labels)


def test_the_permuted_twin_computes_on_shuffled_images_what_the_mlp_computes_on_the_originals():
    torch.manual_seed(0)
    net, order = MLP(), torch.randperm(28 * 28)
    X = torch.randn(16, 1, 28, 28)  # (B, 1, 28, 28)
    X_shuffled = X.flatten(1)[:, order].reshape(X.shape)  # P x, image by image
    twin = permuted_twin(net, order)
    assert torch.allclose(twin(X_shuffled), net(X), atol=1e-5)
    assert not torch.allclose(net(X_shuffled), net(X), atol=1e-2)  # the twin is needed
    assert torch.equal(twin.layers[3].weight, net.layers[3].weight)  # only layer 1 moves



def test_the_full_profile_trains_on_all_images_and_checks_its_claims():
    assert lesson.TARGET_TEST_ACCURACY >= 0.99
    assert lesson.FULL.full_claims and not lesson.SMOKE.full_claims
    assert lesson.FULL.cnn.train_size is None  # all 50,000 training images
    assert lesson.FULL.mlp.hidden == (1024, 256)  # the lesson MLP
