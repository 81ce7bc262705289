"""Tests of exercise 1: loss curves of different batch sizes on one axis."""

from __future__ import annotations

import pytest

from mnist_tutorial import registry
from mnist_tutorial.experiments.batch_sizes import binned_loss


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


def test_the_full_profile_has_no_short_last_batch():
    config = registry.find("batch_sizes").config("full")
    assert all(config.train.train_size % b == 0 for b in config.batch_sizes)
    assert all(config.bin_examples % b == 0 for b in config.batch_sizes)
    assert len(config.seeds) >= 3


def test_batch_sizes_experiment_runs_in_the_smoke_profile(mnist_root):
    result = registry.run_experiment(registry.find("batch_sizes"), "smoke")
    config = registry.find("batch_sizes").config("smoke")
    rows = result["tables"]["summary"]["rows"]
    assert [row[0] for row in rows] == list(config.batch_sizes)
    for batch in config.batch_sizes:
        runs = result["histories"][str(batch)]
        assert len(runs) == len(config.seeds)
        assert result["metrics"][f"val_accuracy_{batch}"]["std"] is not None
    assert result["provenance"]["seeds"] == list(config.seeds)
