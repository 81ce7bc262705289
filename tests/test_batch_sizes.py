"""Tests of the batch-sizes exercise's code: loss curves of different batch sizes on one axis.

The exercise's runs and claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import pytest

from lesson_code import definitions

lesson = definitions("batch_sizes")
binned_loss = lesson.binned_loss


def test_binned_loss_averages_equal_numbers_of_examples():
    # Batch 16, bins of 64 examples: 4 steps per point.
    assert binned_loss([4, 4, 4, 4, 1, 2, 3, 6], batch_size=16, bin_examples=64) == [4, 3]
    assert binned_loss([5, 7], batch_size=64, bin_examples=64) == [5, 7]


def test_every_batch_size_gets_the_same_points():
    examples, bin_examples = 8192, 1024
    lengths = {batch: len(binned_loss([1.0] * (examples // batch), batch, bin_examples))
               for batch in (16, 64, 256, 1024)}
    assert set(lengths.values()) == {examples // bin_examples}


def test_a_bin_must_hold_whole_batches():
    with pytest.raises(ValueError, match="multiple"):
        binned_loss([1.0] * 10, batch_size=256, bin_examples=100)


@pytest.mark.parametrize("profile", ["FULL", "SMOKE"])
def test_no_epoch_ends_on_a_short_batch(profile):
    config = getattr(lesson, profile)
    assert all(config.train.train_size % b == 0 for b in config.batch_sizes)
    assert all(config.bin_examples % b == 0 for b in config.batch_sizes)
    assert len(config.seeds) >= 3


@pytest.fixture(scope="module")
def one_step(mnist_root):
    """A run of exactly one Adam step (one batch of 128 images), and its update sizes."""
    from mnist_tutorial.config import TrainConfig
    from mnist_tutorial.data import load_mnist

    mnist = load_mnist(mnist_root)
    config = TrainConfig.recipe("plain", num_epochs=1, batch_size=128, train_size=128,
                                val_size=128, test_size=128)
    return config, mnist, lesson.update_sizes(config, mnist, "cpu")


def test_adams_first_step_is_a_full_step(one_step):
    from mnist_tutorial.models import MLP, count_parameters

    config, _, sizes = one_step
    assert len(sizes) == 1
    # Step 1 of Adam moves every parameter with a nonzero gradient by exactly lr.
    full_step = config.lr * count_parameters(MLP(config.hidden)) ** 0.5
    assert 0.9 * full_step < sizes[0] <= full_step * (1 + 1e-4)


def test_displacement_of_a_one_step_run_is_that_step(one_step):
    import torch

    from mnist_tutorial.training import train_model

    config, mnist, sizes = one_step
    run = train_model(config, mnist, device="cpu")  # the same seed: the same step
    assert lesson.displacement(run) == pytest.approx(sizes[0], rel=1e-4)
    # The hooks are gone: a later optimiser step is not recorded.
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).step()
    assert len(sizes) == 1
