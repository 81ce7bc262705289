"""Experiment of the data lesson: what MNIST looks like, how it is split, batched, scaled.

``python -m mnist_tutorial run data`` runs (or loads) it. It trains nothing, so both
profiles use the same config on all of MNIST (a few seconds).

Claims the lesson makes and this experiment asserts: ``split_indices`` draws exactly
what ``random_split`` draws; the pixel mean and standard deviation of the training
split agree with the constants ``data.MEAN`` / ``data.STD``; a batch normalised with
them has mean near 0 and standard deviation near 1; the shuffled training loader gives
a new order every epoch while the test loader keeps the stored one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import experiment, metric, table


@dataclass(frozen=True)
class DataConfig:
    num_samples: int = 24  # digits in the sample grid (3 rows of 8)
    batch_size: int = 256
    tolerance: float = 5e-4  # how close the measured mean/std must be to the constants
    shuffle_seed: int = 0


CONFIG = DataConfig()


# --8<-- [start:pixel_stats]
def pixel_stats(images):
    """Mean and standard deviation of all pixels of uint8 ``images`` scaled to [0, 1]."""
    X = images.float() / 255  # (N, 28, 28) in [0, 1]
    return X.mean().item(), X.std().item()
# --8<-- [end:pixel_stats]


# --8<-- [start:random_split]
def split_with_random_split(num_items=60_000, num_val=10_000, seed=0):
    """The train/validation split as the lessons write it, with ``random_split``."""
    import torch
    from torch.utils.data import random_split

    generator = torch.Generator().manual_seed(seed)  # the same split on every run
    train, val = random_split(range(num_items), [num_items - num_val, num_val],
                              generator=generator)
    return train.indices, val.indices
# --8<-- [end:random_split]


def sample_grid(images, labels, rows: int, cols: int) -> str:
    """uint8 images (N, 28, 28) in a grid, each titled with its label (SVG text)."""
    from .. import plots

    with plots.figure(rows, cols, figsize=(cols * 0.9, rows * 1.05)) as (fig, axes):
        for ax, image, label in zip(axes.flat, images, labels):
            ax.imshow(image.numpy(), cmap="gray_r", vmin=0, vmax=255)
            ax.set_title(str(int(label)), fontsize=10, pad=2)
            ax.set_axis_off()
        return plots.to_svg(fig)


def balance_chart(counts: dict) -> str:
    """Share of each digit per part of the data, from ``{part: [count per digit]}`` (SVG text)."""
    import numpy as np

    from .. import plots

    digits = np.arange(10)
    width = 0.8 / len(counts)
    with plots.figure(figsize=(7, 3.2)) as (fig, ax):
        for i, (name, per_digit) in enumerate(counts.items()):
            share = 100 * np.asarray(per_digit) / sum(per_digit)
            ax.bar(digits + (i - (len(counts) - 1) / 2) * width, share, width, label=name)
        ax.axhline(10, color="black", lw=0.8, ls="--", label="perfect balance (10 %)")
        ax.set_xticks(digits)
        ax.set_xlabel("digit")
        ax.set_ylabel("share of the images (%)")
        ax.set_ylim(0, 14)
        ax.legend(frameon=False, ncol=4, loc="upper center", fontsize=8)
        return plots.to_svg(fig)


def _first_labels(loader, n: int = 8) -> str:
    _, y = next(iter(loader))
    return " ".join(str(int(v)) for v in y[:n])


@experiment("data", "MNIST: samples, the train/validation split, loaders, normalisation",
            full=CONFIG, smoke=CONFIG)
def data_lesson(config: DataConfig) -> dict:
    import torch

    from ..data import (MEAN, NUM_TRAIN, NUM_VAL, SHA256, STD, TensorBatches,
                        ensure_mnist, lesson_loader, load_mnist, split_indices)

    folder = ensure_mnist()
    mnist = load_mnist()
    train, val = split_indices(len(mnist.train_labels))

    # The lesson's random_split and the package's split_indices must draw the same split.
    lesson_train, lesson_val = split_with_random_split(len(mnist.train_labels), NUM_VAL)
    if not (torch.equal(torch.tensor(lesson_train), train) and torch.equal(torch.tensor(lesson_val), val)):
        raise AssertionError("split_indices no longer equals random_split with the same seed")
    if len(train) != NUM_TRAIN or len(val) != NUM_VAL or set(train.tolist()) & set(val.tolist()):
        raise AssertionError("the split is not 50,000 + 10,000 disjoint images")

    # Normalisation constants: measured here, compared with the ones data.py hard-codes.
    mean, std = pixel_stats(mnist.train_images[train])
    mean_all, std_all = pixel_stats(mnist.train_images)
    gap = max(abs(mean - MEAN), abs(std - STD))
    if gap > config.tolerance:
        raise AssertionError(f"training-split pixel mean/std {mean:.4f}/{std:.4f} differ from "
                             f"data.MEAN/STD {MEAN}/{STD} by {gap:.5f} > {config.tolerance}")
    if (round(mean_all, 4), round(std_all, 4)) != (MEAN, STD):
        raise AssertionError(f"all 60,000 training images give {mean_all:.4f}/{std_all:.4f}, "
                             f"not the constants {MEAN}/{STD}")

    # The loaders of the lesson: shuffled training batches, test batches in stored order.
    images, labels = mnist.train_images[train], mnist.train_labels[train]
    train_loader = lesson_loader(images, labels, config.batch_size, shuffle=True,
                                 seed=config.shuffle_seed)
    test_loader = lesson_loader(mnist.test_images, mnist.test_labels, config.batch_size,
                                shuffle=False)
    X, y = next(iter(train_loader))  # (B, 1, 28, 28), (B,)
    if X.shape != (config.batch_size, 1, 28, 28) or X.dtype != torch.float32 or y.shape != (config.batch_size,):
        raise AssertionError(f"unexpected batch: X {tuple(X.shape)} {X.dtype}, y {tuple(y.shape)}")
    batch_mean, batch_std = X.mean().item(), X.std().item()
    if abs(batch_mean) > 0.05 or abs(batch_std - 1) > 0.05:
        raise AssertionError(f"a normalised batch has mean {batch_mean:.3f}, std {batch_std:.3f}")
    order = {"train": [_first_labels(train_loader) for _ in range(2)],
             "test": [_first_labels(test_loader) for _ in range(2)]}
    if order["train"][0] == order["train"][1] or order["test"][0] != order["test"][1]:
        raise AssertionError(f"loader orders are not as the lesson says: {order}")
    fast = next(iter(TensorBatches(mnist.test_images, mnist.test_labels, config.batch_size,
                                   shuffle=False)))[0]
    lesson = next(iter(test_loader))[0]
    if not torch.allclose(fast, lesson, atol=1e-5):
        raise AssertionError("TensorBatches and the lesson transform disagree on pixel values")
    num_batches = len(train_loader)
    last_batch = len(images) - (num_batches - 1) * config.batch_size

    # Class balance, per part of the data.
    counts = {
        "training": torch.bincount(mnist.train_labels[train], minlength=10).tolist(),
        "validation": torch.bincount(mnist.train_labels[val], minlength=10).tolist(),
        "test": torch.bincount(mnist.test_labels, minlength=10).tolist(),
    }
    train_counts = counts["training"]
    rarest = min(range(10), key=train_counts.__getitem__)
    commonest = max(range(10), key=train_counts.__getitem__)

    n = config.num_samples
    sample_labels = mnist.train_labels[train[:n]]
    labels_text = ", ".join(str(int(v)) for v in sample_labels)
    files = [[name, f"{(folder / name).stat().st_size:,}".replace(",", "\u202f"),
              f"{SHA256[name][:16]}…"] for name in SHA256]

    return {
        "metrics": {
            "num_train": metric(len(train), unit="count"),
            "num_val": metric(len(val), unit="count"),
            "num_test": metric(len(mnist.test_labels), unit="count"),
            "num_train_files": metric(len(mnist.train_labels), unit="count"),
            "pixel_mean": metric(mean, digits=4),
            "pixel_std": metric(std, digits=4),
            "pixel_mean_all": metric(mean_all, digits=4),
            "pixel_std_all": metric(std_all, digits=4),
            "stats_gap": metric(gap, digits=5),
            "tolerance": metric(config.tolerance, digits=4),
            "batch_size": metric(config.batch_size, unit="count"),
            "batches_per_epoch": metric(num_batches, unit="count"),
            "last_batch": metric(last_batch, unit="count"),
            "batch_mean": metric(batch_mean, digits=3),
            "batch_std": metric(batch_std, digits=3),
            "rarest_digit": metric(rarest, unit="count"),
            "rarest_count": metric(train_counts[rarest], unit="count"),
            "commonest_digit": metric(commonest, unit="count"),
            "commonest_count": metric(train_counts[commonest], unit="count"),
        },
        "tables": {
            "class_counts": table(
                ["digit", "training", "validation", "test"],
                [[d, counts["training"][d], counts["validation"][d], counts["test"][d]]
                 for d in range(10)],
                "Images per digit in each part of the data."),
            "loader_order": table(
                ["loader", "shuffle", "first 8 labels, epoch 1", "first 8 labels, epoch 2"],
                [["training", "True", *order["train"]], ["test", "False", *order["test"]]],
                "The first batch of two passes over each loader."),
            "files": table(
                ["file", "bytes", "SHA-256 (first 16 hex digits)"], files,
                f"The four files in MNIST/{folder.name}/, each checked against its SHA-256."),
        },
        "figures": {
            "samples": {
                "svg": sample_grid(mnist.train_images[train[:n]], sample_labels, 3, n // 3),
                "alt": (f"A grid of the first {n} training images, handwritten digits in dark "
                        f"ink on white, each titled with its label: {labels_text}."),
                "caption": (f"The first {n} images of the training split, with their labels "
                            f"(raw pixels, before normalisation)."),
            },
            "class_balance": {
                "svg": balance_chart(counts),
                "alt": (f"Bar chart of the share of each digit in the training, validation "
                        f"and test images; every share lies between "
                        f"{100 * min(c / sum(v) for v in counts.values() for c in v):.1f} % and "
                        f"{100 * max(c / sum(v) for v in counts.values() for c in v):.1f} %, "
                        f"close to the 10 % line. In the training split digit {commonest} is "
                        f"the most frequent ({train_counts[commonest]:,} images) and digit "
                        f"{rarest} the rarest ({train_counts[rarest]:,})."),
                "caption": "Share of each digit in the three parts of the data.",
            },
        },
    }
