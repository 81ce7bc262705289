"""Tests of the data lesson's code: random_split against split_indices, pixel statistics,
figures, loader order.

The lesson's run and its claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import pytest
import torch

from lesson_code import definitions
from mnist_tutorial import data

lesson = definitions("data")


@pytest.mark.parametrize("num_items,num_val,seed", [(60_000, 10_000, 0), (100, 30, 5)])
def test_split_indices_equals_random_split(num_items, num_val, seed):
    train, val = lesson.split_with_random_split(num_items, num_val, seed)
    expected_train, expected_val = data.split_indices(num_items, num_val, seed)
    assert train == expected_train.tolist() and val == expected_val.tolist()
    assert sorted(train + val) == list(range(num_items))


def test_pixel_stats_by_hand():
    images = torch.tensor([[[0, 255], [255, 0]]], dtype=torch.uint8)  # half black, half white
    mean, std = lesson.pixel_stats(images)
    assert mean == pytest.approx(0.5)
    assert std == pytest.approx((4 * 0.25 / 3) ** 0.5)  # unbiased estimate, as torch.std


def test_figures_are_svg():
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    assert lesson.sample_grid(images, torch.arange(6), 2, 3).lstrip().startswith("<?xml")
    chart = lesson.balance_chart({"training": [5] * 10, "test": list(range(1, 11))})
    assert "perfect balance" in chart


def test_first_labels_of_a_loader():
    images = torch.zeros(20, 28, 28, dtype=torch.uint8)
    labels = torch.arange(20) % 10
    loader = data.lesson_loader(images, labels, batch_size=16, shuffle=False)
    assert lesson.first_labels(loader) == "0 1 2 3 4 5 6 7"
    assert lesson.first_labels(loader, n=3) == "0 1 2"


def test_both_profiles_use_the_whole_data_and_time_the_whole_split_in_full():
    assert lesson.FULL.timed_images is None  # train_idx[:None]: every training image
    assert lesson.SMOKE.timed_images and lesson.SMOKE.timed_images % lesson.SMOKE.batch_size == 0
    assert (lesson.FULL.num_samples, lesson.FULL.tolerance) == (lesson.SMOKE.num_samples,
                                                                lesson.SMOKE.tolerance)


def test_torchvision_mnist_serves_the_course_tensors(mnist_root):
    mnist = data.load_mnist(mnist_root)
    test_set = lesson.torchvision_mnist(mnist_root, train=False, download=False)
    assert len(test_set) == len(mnist.test_labels)
    for i in (0, 1234, 9999):
        X, y = test_set[i]
        assert X.shape == (1, 28, 28) and X.dtype == torch.float32
        assert y == int(mnist.test_labels[i])
        assert torch.allclose(X, data.normalise(mnist.test_images[i : i + 1])[0], atol=1e-6)


def test_torchvision_mnist_does_not_download_when_told_not_to(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found"):
        lesson.torchvision_mnist(tmp_path, download=False)


def test_epoch_seconds_counts_every_image():
    batches = [(None, torch.zeros(5)), (None, torch.zeros(3))]
    seconds, count = lesson.epoch_seconds(batches)
    assert count == 8 and 0 <= seconds < 1
