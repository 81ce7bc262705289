# %% [markdown]
# # The data: MNIST
#
# The code and the runs of the lesson *The data: MNIST*: load the 70,000 handwritten
# digits, look at them, split them into training, validation and test images, check the
# normalisation constants and batch the images with a `DataLoader`. Every number the
# lesson quotes is computed here. Nothing is trained; the longest part is one pass over
# the training images through torchvision's `datasets.MNIST`, timed against the course's
# in-memory batches: about half a minute on a laptop CPU.
#
# MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, licensed
# CC BY-SA 3.0. If it is not on your machine yet, the first cell that loads it downloads
# it (about 11 MB) into `~/.cache/mnist_tutorial`, or into the folder named by the
# environment variable `MNIST_TUTORIAL_DATA`.

# %%
# --8<-- [start:setup]
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, random_split

from mnist_tutorial import plots
from mnist_tutorial.config import current_profile
from mnist_tutorial.data import (
    MEAN,
    NUM_TRAIN,
    NUM_VAL,
    SHA256,
    SPLIT_SEED,
    STD,
    TensorBatches,
    data_root,
    downloads_allowed,
    ensure_mnist,
    lesson_loader,
    load_mnist,
    normalise,
    split_indices,
)


@dataclass(frozen=True)
class Config:
    num_samples: int = 24  # digits in the sample grid (3 rows of 8)
    batch_size: int = 256
    tolerance: float = 5e-4  # how close the measured mean/std must be to the constants
    shuffle_seed: int = 0
    timed_images: int | None = None  # images in the timed pass (None: the training split)
    compared_images: int = 1000  # images checked equal in both pipelines


FULL = Config()
# Nothing is trained: both profiles look at all of MNIST; the smoke profile times a
# shorter pass.
SMOKE = Config(timed_images=2560)
CONFIG = FULL if current_profile() == "full" else SMOKE
# --8<-- [end:setup]
from mnist_tutorial.report import Report, format_value

report = Report("data", precision="fp32")

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## Where the data lives
#
# `ensure_mnist` finds the four files (or downloads them) and checks each against its
# published SHA-256; `load_mnist` decodes them into tensors.

# %%
folder = ensure_mnist()
mnist = load_mnist()
print("training images:", tuple(mnist.train_images.shape), mnist.train_images.dtype)  # (60000, 28, 28)
print("test images:    ", tuple(mnist.test_images.shape), mnist.test_images.dtype)  # (10000, 28, 28)
print("pixel values from", mnist.train_images.min().item(), "to", mnist.train_images.max().item())

files = [[name, format_value((folder / name).stat().st_size, "count"), f"{SHA256[name][:16]}…"]
         for name in SHA256]

# %% tags=["report"]
report.table("files", ["file", "bytes", "SHA-256 (first 16 hex digits)"], files)

# %% [markdown]
# ## Training, validation and test
#
# 10,000 of the 60,000 training images are kept aside for validation. A seeded generator
# makes the split the same on every run; this is how `random_split` draws it:

# %%
# --8<-- [start:random_split]
def split_with_random_split(num_items=60_000, num_val=10_000, seed=0):
    """The train/validation split as the lessons write it, with ``random_split``."""
    generator = torch.Generator().manual_seed(seed)  # the same split on every run
    train, val = random_split(range(num_items), [num_items - num_val, num_val],
                              generator=generator)
    return train.indices, val.indices
# --8<-- [end:random_split]


# %% [markdown]
# The package's `split_indices` draws the same split without building a `Dataset` first.

# %%
train_idx, val_idx = split_indices(len(mnist.train_labels))  # (50000,), (10000,)
lesson_train, lesson_val = split_with_random_split(len(mnist.train_labels), NUM_VAL)

# %% tags=["report"]
num_train_files = len(mnist.train_labels)
num_train = len(train_idx)
num_val = len(val_idx)
num_test = len(mnist.test_labels)
split_matches_random_split = (torch.equal(torch.tensor(lesson_train), train_idx)
                              and torch.equal(torch.tensor(lesson_val), val_idx))
split_is_disjoint = (len(train_idx) == NUM_TRAIN and len(val_idx) == NUM_VAL  # 50,000 + 10,000
                     and not set(train_idx.tolist()) & set(val_idx.tolist()))

# %% [markdown]
# ## What the images look like

# %%
def sample_grid(images, labels, rows: int, cols: int) -> str:
    """uint8 images (N, 28, 28) in a grid, each titled with its label (SVG text)."""
    with plots.figure(rows, cols, figsize=(cols * 0.9, rows * 1.05)) as (fig, axes):
        for ax, image, label in zip(axes.flat, images, labels):
            ax.imshow(image.numpy(), cmap="gray_r", vmin=0, vmax=255)
            ax.set_title(str(int(label)), fontsize=10, pad=2)
            ax.set_axis_off()
        return plots.to_svg(fig)


n = CONFIG.num_samples
sample_labels = mnist.train_labels[train_idx[:n]]  # (n,)

# %% tags=["report"]
report.figure("samples", sample_grid(mnist.train_images[train_idx[:n]], sample_labels, 3, n // 3))

# %% [markdown]
# ## Class balance
#
# How many images of each digit does each part of the data hold?

# %%
def balance_chart(counts: dict) -> str:
    """Share of each digit per part of the data, from ``{part: [count per digit]}`` (SVG text)."""
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


# %%
counts = {
    "training": torch.bincount(mnist.train_labels[train_idx], minlength=10).tolist(),
    "validation": torch.bincount(mnist.train_labels[val_idx], minlength=10).tolist(),
    "test": torch.bincount(mnist.test_labels, minlength=10).tolist(),
}
train_counts = counts["training"]
rarest = min(range(10), key=train_counts.__getitem__)
commonest = max(range(10), key=train_counts.__getitem__)
rarest_count = train_counts[rarest]
commonest_count = train_counts[commonest]
report.table("class_counts", ["digit", "training", "validation", "test"],
             [[d, counts["training"][d], counts["validation"][d], counts["test"][d]]
              for d in range(10)])

# %% tags=["report"]
report.figure("class_balance", balance_chart(counts))

# %% [markdown]
# ## Normalisation
#
# `transforms.Normalize((MEAN,), (STD,))` needs the mean and standard deviation of the
# training pixels, scaled to [0, 1]. Measure them and compare with the constants of
# `mnist_tutorial.data`.

# %%
# --8<-- [start:pixel_stats]
def pixel_stats(images):
    """Mean and standard deviation of all pixels of uint8 ``images`` scaled to [0, 1]."""
    X = images.float() / 255  # (N, 28, 28) in [0, 1]
    return X.mean().item(), X.std().item()
# --8<-- [end:pixel_stats]


# %%
mean, std = pixel_stats(mnist.train_images[train_idx])
mean_all, std_all = pixel_stats(mnist.train_images)
gap = max(abs(mean - MEAN), abs(std - STD))
print(f"constants: mean {MEAN}, std {STD}")

# %% tags=["report"]
tolerance = CONFIG.tolerance
split_stats_near_constants = gap <= CONFIG.tolerance
constants_match_all_images = (round(mean_all, 4), round(std_all, 4)) == (MEAN, STD)

# %% [markdown]
# ## Batches: `Dataset` and `DataLoader`
#
# The training loader shuffles every epoch; the test loader keeps the stored order, so
# that the i-th prediction belongs to the i-th test image.

# %% tags=["report"]
batch_size = CONFIG.batch_size
images, labels = mnist.train_images[train_idx], mnist.train_labels[train_idx]
train_loader = lesson_loader(images, labels, batch_size, shuffle=True, seed=CONFIG.shuffle_seed)
test_loader = lesson_loader(mnist.test_images, mnist.test_labels, batch_size, shuffle=False)

X, y = next(iter(train_loader))  # (B, 1, 28, 28), (B,)
print("one batch: X", tuple(X.shape), X.dtype, "| y", tuple(y.shape), y.dtype)
batch_has_expected_shape = (X.shape == (batch_size, 1, 28, 28) and X.dtype == torch.float32
                            and y.shape == (batch_size,))

num_batches = len(train_loader)
last_batch = len(images) - (num_batches - 1) * batch_size
batch_mean = X.mean().item()
batch_std = X.std().item()

# %% tags=["report"]
batch_is_normalised = abs(batch_mean) <= 0.05 and abs(batch_std - 1) <= 0.05

# %% [markdown]
# The first labels of two passes over each loader:

# %%
def first_labels(loader, n: int = 8) -> str:
    """The labels of the first ``n`` images of a new pass over ``loader``."""
    _, y = next(iter(loader))
    return " ".join(str(int(v)) for v in y[:n])


order = {"train": [first_labels(train_loader) for _ in range(2)],
         "test": [first_labels(test_loader) for _ in range(2)]}

# %% tags=["report"]
report.table("loader_order",
             ["loader", "shuffle", "first 8 labels, epoch 1", "first 8 labels, epoch 2"],
             [["training", "True", *order["train"]], ["test", "False", *order["test"]]])
only_training_loader_shuffles = (order["train"][0] != order["train"][1]
                                 and order["test"][0] == order["test"][1])

# %% [markdown]
# The training code of the course cuts its batches from one pre-normalised tensor
# (`TensorBatches`) instead of decoding every image through PIL: it must give the same
# pixel values.

# %%
fast = next(iter(TensorBatches(mnist.test_images, mnist.test_labels, batch_size,
                               shuffle=False)))[0]  # (B, 1, 28, 28)
slow = next(iter(test_loader))[0]  # (B, 1, 28, 28)

# %% tags=["report"]
tensor_batches_match_transform = torch.allclose(fast, slow, atol=1e-5)

# %% [markdown]
# ## The plain torchvision path
#
# What most tutorials write: torchvision's `datasets.MNIST`, which decodes one image at a
# time into a PIL image and transforms it, behind a `DataLoader`. The root is the
# course's data folder; torchvision downloads only if the files are missing and
# `$MNIST_TUTORIAL_DOWNLOAD` allows it (the site's build never downloads).

# %%
# --8<-- [start:torchvision]
from torchvision import datasets
from torchvision.transforms import v2


def torchvision_mnist(root, train=True, download=True):
    """MNIST as torchvision serves it: (image, label) pairs, the image a normalised tensor."""
    transform = v2.Compose([
        v2.ToImage(),  # PIL image -> uint8 tensor (1, 28, 28)
        v2.ToDtype(torch.float32, scale=True),  # -> float32 in [0, 1]
        v2.Normalize((MEAN,), (STD,)),  # zero mean, unit variance
    ])
    return datasets.MNIST(root, train=train, download=download, transform=transform)
# --8<-- [end:torchvision]


def epoch_seconds(batches):
    """Seconds for one pass over ``batches``, and the number of images it served."""
    start = time.perf_counter()
    count = sum(len(y) for _, y in batches)
    return time.perf_counter() - start, count


# %%
# --8<-- [start:torchvision_loader]
train_idx, val_idx = split_indices()  # the course's split, drawn as above
mnist_train = torchvision_mnist(data_root(), train=True, download=downloads_allowed())
train_set = Subset(mnist_train, train_idx)  # our 50,000 training images
torchvision_loader = DataLoader(train_set, batch_size=CONFIG.batch_size, shuffle=True)
# --8<-- [end:torchvision_loader]
X, y = next(iter(torchvision_loader))  # (B, 1, 28, 28), (B,)
print("one batch: X", tuple(X.shape), X.dtype, "| y", tuple(y.shape), y.dtype)

# %% [markdown]
# Both paths must serve the same tensors for the same indices: torchvision decodes the
# same four files, and its transform must give the pixel values `normalise` computes.

# %%
compared = train_idx[:: len(train_idx) // CONFIG.compared_images]  # spread over the split
X_torchvision = torch.stack([mnist_train[int(i)][0] for i in compared])  # (K, 1, 28, 28)
y_torchvision = torch.tensor([mnist_train[int(i)][1] for i in compared])  # (K,)
X_memory = normalise(mnist.train_images[compared])  # (K, 1, 28, 28)

# %% tags=["report"]
torchvision_holds_same_data = (torch.equal(mnist_train.data, mnist.train_images)
                               and torch.equal(mnist_train.targets, mnist.train_labels))
torchvision_matches_memory = (torch.allclose(X_torchvision, X_memory, atol=1e-6)
                              and torch.equal(y_torchvision, mnist.train_labels[compared]))
compared_images = len(compared)

# %% [markdown]
# One pass over the training images each way, both shuffled, both in batches of
# `batch_size`: the `DataLoader` over `datasets.MNIST`, and `TensorBatches` slicing one
# tensor that is already in memory.

# %%
timed = train_idx[:CONFIG.timed_images]  # all of the training split in the full profile
loader_seconds, loader_count = epoch_seconds(
    DataLoader(Subset(mnist_train, timed), batch_size=batch_size, shuffle=True))
start = time.perf_counter()  # moving into memory, normalised, happens once
memory_batches = TensorBatches(mnist.train_images[timed], mnist.train_labels[timed],
                               batch_size, shuffle=True)
setup_seconds = time.perf_counter() - start
memory_seconds, memory_count = epoch_seconds(memory_batches)

# %% tags=["report"]
both_passes_serve_every_image = loader_count == memory_count == len(timed)
timed_images = len(timed)
train_megabytes = mnist.train_images.numel() * mnist.train_images.element_size() / 1e6
loader_slowdown = loader_seconds / memory_seconds
# one pass through datasets.MNIST against moving the images into memory plus one pass there
loader_over_twice_as_slow = loader_seconds > 2 * (memory_seconds + setup_seconds)

# %% [markdown]
# ## Try it
#
# * Change `batch_size` to 64: how many batches per epoch now, and how big is the last one?
# * Show the 24 *test* images: `SVG(sample_grid(mnist.test_images[:24], mnist.test_labels[:24], 3, 8))`
#   (with `from IPython.display import SVG`).
# * `lesson_transform()` of `mnist_tutorial.data` is the `ToTensor` + `Normalize`
#   pipeline; apply it to one image turned into a PIL image (`ImageDataset` of the same
#   module shows how; `??ImageDataset` after importing it).
