"""The training lesson's softmax mistake: the loss floor and the squashed gradient.

The runs and the lesson's claims are checked when lessons/training.py runs as a
notebook (tests/test_notebooks.py and the site build).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lesson_code import definitions

lesson = definitions("training")
loss_floor, first_step_gradient_norms = lesson.loss_floor, lesson.first_step_gradient_norms


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

    config = lesson.SMOKE.plain
    right, wrong = first_step_gradient_norms(config, load_mnist(mnist_root))
    assert 0 < wrong < right
    again = first_step_gradient_norms(config, load_mnist(mnist_root))
    assert again == (right, wrong)  # the same weights and batch every time


def test_the_recipes_are_the_librarys_and_smoke_only_shrinks_them():
    from mnist_tutorial.config import TrainConfig

    full, smoke = lesson.FULL, lesson.SMOKE
    assert full.final == TrainConfig.recipe("final") and full.plain == TrainConfig.recipe("plain")
    assert smoke.final == full.final.smoke() and smoke.plain == full.plain.smoke()
    assert not full.plain.softmax_output  # the plain runs are the correct network
    assert smoke.seeds == full.seeds == (0, 1, 2)
