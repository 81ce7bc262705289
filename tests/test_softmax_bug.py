"""The training lesson's softmax experiment: the loss floor and the squashed gradient."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mnist_tutorial.experiments.softmax_bug import FULL, SMOKE, first_step_gradient_norms, loss_floor


@pytest.mark.parametrize("num_classes", [2, 10, 100])
def test_loss_floor_is_cross_entropy_of_a_one_hot_output(num_classes):
    best = torch.eye(num_classes)[:1]  # softmax outputs can at best be one-hot
    assert loss_floor(num_classes) == pytest.approx(nn.CrossEntropyLoss()(best, torch.tensor([0])).item())
    assert loss_floor(10) == pytest.approx(math.log(1 + 9 / math.e))


def test_no_softmax_output_reaches_below_the_floor():
    torch.manual_seed(0)
    logits = 20 * torch.randn(1000, 10)
    y = torch.randint(0, 10, (1000,))
    losses = nn.CrossEntropyLoss(reduction="none")(torch.softmax(logits, dim=1), y)
    assert losses.min().item() >= loss_floor() - 1e-6


def test_the_buggy_gradient_is_smaller(mnist_root):
    from mnist_tutorial.data import load_mnist

    right, wrong = first_step_gradient_norms(SMOKE.train, load_mnist(mnist_root))
    assert 0 < wrong < right


def test_configs_differ_from_mlp_plain_only_in_size():
    from mnist_tutorial.experiments.training import PLAIN

    assert FULL.train == PLAIN.train
    assert SMOKE.train == PLAIN.train.smoke()
    assert not FULL.train.softmax_output
