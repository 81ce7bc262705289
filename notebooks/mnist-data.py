# %% [markdown]
# # The data: MNIST
#
# The notebook of the lesson *The data: MNIST*: load the 70,000 handwritten digits, look
# at them, split them into training, validation and test images, check the normalisation
# constants and batch the images with a `DataLoader`. It runs top to bottom in seconds,
# on a CPU or a GPU.
#
# MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, licensed
# CC BY-SA 3.0. If it is not on your machine yet, the first cell that loads it downloads
# it (about 11 MB) into `~/.cache/mnist_tutorial`, or into the folder named by the
# environment variable `MNIST_TUTORIAL_DATA`.

# %% [markdown]
# ## Setup
#
# In a copy of the course repository, `pip install -r requirements.txt` installs
# everything this notebook needs, including the course package `mnist_tutorial`. On
# Google Colab the next cell installs the package from GitHub; elsewhere it does nothing.

# %%
import sys

COURSE_REPO = None  # OWNER/NAME of the course on GitHub; the course website fills it in

if "google.colab" in sys.modules:
    import subprocess

    if COURSE_REPO is None:
        raise RuntimeError("Set COURSE_REPO to the OWNER/NAME of the course repository on GitHub.")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"git+https://github.com/{COURSE_REPO}"], check=True)

# %%
import torch
from IPython.display import SVG, display

from mnist_tutorial import data
from mnist_tutorial.experiments.data import balance_chart, pixel_stats, sample_grid

mnist = data.load_mnist()  # checks the SHA-256 of the four files, downloads them if missing
print("training images:", tuple(mnist.train_images.shape), mnist.train_images.dtype)
print("test images:    ", tuple(mnist.test_images.shape), mnist.test_images.dtype)
print("pixel values from", mnist.train_images.min().item(), "to", mnist.train_images.max().item())

# %% [markdown]
# ## What the images look like

# %%
display(SVG(sample_grid(mnist.train_images[:24], mnist.train_labels[:24], rows=3, cols=8)))

# %% [markdown]
# ## Training, validation and test
#
# We keep 10,000 of the 60,000 training images aside for validation: they guide our
# decisions (epochs, learning rate, recipe) so that the test images are used once, at the
# end. A seeded generator makes the split the same on every run.

# %%
from torch.utils.data import random_split

generator = torch.Generator().manual_seed(0)
train_part, val_part = random_split(range(60_000), [50_000, 10_000], generator=generator)
print(len(train_part), "training and", len(val_part), "validation images")

# The package draws the same split without building a Dataset first:
train_idx, val_idx = data.split_indices()
print("same split as random_split:",
      torch.equal(torch.tensor(train_part.indices), train_idx)
      and torch.equal(torch.tensor(val_part.indices), val_idx))

# %% [markdown]
# ## Class balance

# %%
counts = {
    "training": torch.bincount(mnist.train_labels[train_idx], minlength=10).tolist(),
    "validation": torch.bincount(mnist.train_labels[val_idx], minlength=10).tolist(),
    "test": torch.bincount(mnist.test_labels, minlength=10).tolist(),
}
for part, per_digit in counts.items():
    print(f"{part:>10}:", per_digit)
display(SVG(balance_chart(counts)))

# %% [markdown]
# ## Normalisation
#
# `transforms.Normalize((MEAN,), (STD,))` needs the mean and standard deviation of the
# training pixels (scaled to [0, 1]). Measure them and compare with the constants of
# `mnist_tutorial.data`:

# %%
mean, std = pixel_stats(mnist.train_images[train_idx])
print(f"training split: mean {mean:.4f}, std {std:.4f}")
print(f"constants:      mean {data.MEAN:.4f}, std {data.STD:.4f}")

# %% [markdown]
# ## Batches: `Dataset` and `DataLoader`
#
# The training loader shuffles every epoch; the test loader keeps the stored order, so
# that the i-th prediction belongs to the i-th test image. Look at the first labels of
# two passes over each.

# %%
batch_size = 256
train_loader = data.lesson_loader(mnist.train_images[train_idx], mnist.train_labels[train_idx],
                                  batch_size, shuffle=True, seed=0)
test_loader = data.lesson_loader(mnist.test_images, mnist.test_labels, batch_size, shuffle=False)

X, y = next(iter(train_loader))
print("one batch: X", tuple(X.shape), X.dtype, "| y", tuple(y.shape), y.dtype)
print(f"normalised batch: mean {X.mean():.3f}, std {X.std():.3f}")
print(len(train_loader), "training batches per epoch")
for name, loader in [("train", train_loader), ("test", test_loader)]:
    for epoch in (1, 2):
        print(f"{name:>5} loader, pass {epoch}: first labels", next(iter(loader))[1][:8].tolist())

# %% [markdown]
# ## Try it
#
# * Change `batch_size` to 64: how many batches per epoch now, and how big is the last one?
# * Show the 24 *test* images with `sample_grid(mnist.test_images[:24], ...)`.
# * `data.lesson_transform()` is the `ToTensor` + `Normalize` pipeline; apply it to
#   one image turned into a PIL image (see `??data.ImageDataset`).
