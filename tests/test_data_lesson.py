"""The data lesson's code and experiment: random_split, pixel statistics, figures, claims."""

from __future__ import annotations

import pytest
import torch

from mnist_tutorial import data
from mnist_tutorial.experiments.data import (CONFIG, balance_chart, pixel_stats, sample_grid,
                                             split_with_random_split)


@pytest.mark.parametrize("num_items,num_val,seed", [(60_000, 10_000, 0), (100, 30, 5)])
def test_split_indices_equals_random_split(num_items, num_val, seed):
    train, val = split_with_random_split(num_items, num_val, seed)
    expected_train, expected_val = data.split_indices(num_items, num_val, seed)
    assert train == expected_train.tolist() and val == expected_val.tolist()
    assert sorted(train + val) == list(range(num_items))


def test_pixel_stats_by_hand():
    images = torch.tensor([[[0, 255], [255, 0]]], dtype=torch.uint8)  # half black, half white
    mean, std = pixel_stats(images)
    assert mean == pytest.approx(0.5)
    assert std == pytest.approx((4 * 0.25 / 3) ** 0.5)  # unbiased estimate, as torch.std


def test_figures_are_svg():
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    assert sample_grid(images, torch.arange(6), 2, 3).lstrip().startswith("<?xml")
    chart = balance_chart({"training": [5] * 10, "test": list(range(1, 11))})
    assert "perfect balance" in chart


def test_both_profiles_use_the_whole_data():
    from mnist_tutorial.registry import find

    experiment = find("data")
    assert experiment.config("full") == experiment.config("smoke") == CONFIG


def test_the_experiment_checks_its_claims(mnist_root):
    from mnist_tutorial import registry

    result = registry.get_result("data", "smoke")
    metrics = {k: m["value"] for k, m in result["metrics"].items()}
    assert metrics["num_train"] + metrics["num_val"] == metrics["num_train_files"] == 60_000
    assert abs(metrics["pixel_mean"] - data.MEAN) <= CONFIG.tolerance
    assert abs(metrics["pixel_std"] - data.STD) <= CONFIG.tolerance
    assert metrics["batches_per_epoch"] == -(-50_000 // CONFIG.batch_size)
    counts = result["tables"]["class_counts"]["rows"]
    assert sum(row[1] for row in counts) == 50_000 and sum(row[3] for row in counts) == 10_000
    train_order, test_order = result["tables"]["loader_order"]["rows"]
    assert train_order[2] != train_order[3] and test_order[2] == test_order[3]
