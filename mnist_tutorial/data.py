"""MNIST for the course: find it, verify it, decode it once, batch it two ways.

Where the data lives: the folder named by the environment variable
``MNIST_TUTORIAL_DATA`` (default ``~/.cache/mnist_tutorial``), laid out as
``torchvision.datasets.MNIST`` expects (``<root>/MNIST/raw/<four IDX files>``).
Missing files are downloaded by torchvision when the network is there; every file is
then checked against its published SHA-256, because torchvision only checks that the
raw files exist and would load a truncated one without a word.

Two ways to batch the same split, with the same semantics (a new seeded shuffle each
epoch, the same batch size, the last partial batch kept):

* ``lesson_loader``: the way the lessons teach it, a ``Dataset`` that turns each
  image into a PIL image and applies ``transforms.ToTensor()`` + ``Normalize``,
  batched by ``torch.utils.data.DataLoader``.
* ``TensorBatches``: the whole split as one normalised float tensor on the training
  device, sliced by a shuffled index each epoch. About 4x faster (bench/train_speed.py).

Run ``python -m mnist_tutorial.data`` to check your copy of the data.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from . import settings
from .errors import MNISTDataError

DATA_ENV = settings.SETTINGS["DATA"].variable
DOWNLOAD_ENV = settings.SETTINGS["DOWNLOAD"].variable
DEFAULT_ROOT = Path(settings.SETTINGS["DATA"].default)

# --8<-- [start:checksums]
# SHA-256 of the four original (uncompressed) files, as published with the data set.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# --8<-- [end:checksums]

# --8<-- [start:mean_std]
# Mean and standard deviation of the training pixels after scaling to [0, 1].
MEAN, STD = 0.1307, 0.3081
# --8<-- [end:mean_std]

NUM_TRAIN, NUM_VAL = 50_000, 10_000
SPLIT_SEED = 0


def data_root() -> Path:
    """The data root: ``$MNIST_TUTORIAL_DATA`` if set, else ``~/.cache/mnist_tutorial``."""
    return settings.path("DATA")


def raw_folder(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _missing_message(root: Path, missing: list[str], why: str) -> str:
    files = "\n".join(f"  {raw_folder(root) / name}" for name in SHA256)
    return (
        f"MNIST is not in {raw_folder(root)} ({why}; missing: {', '.join(missing)}).\n"
        f"The course looks for these four files:\n{files}\n"
        f"Fix it in one of two ways:\n"
        f"  * point {DATA_ENV} at a folder that holds them, e.g.\n"
        f"      export {DATA_ENV}=/path/to/mnist   (the folder that contains MNIST/raw)\n"
        f"  * or run once with network access and let it download them:\n"
        f"      python -m mnist_tutorial.data"
    )




def downloads_allowed() -> bool:
    """``$MNIST_TUTORIAL_DOWNLOAD``: 1/true/yes/on (the default) or 0/false/no/off, any case."""
    return settings.flag("DOWNLOAD")


def _download(root: Path) -> None:
    from torchvision.datasets import MNIST  # only needed when files are missing

    MNIST(root=str(root), train=True, download=True)
    MNIST(root=str(root), train=False, download=True)


def ensure_mnist(root: Path | None = None, download: bool | None = None) -> Path:
    """Make sure the four raw files are in ``root`` and intact; return their folder.

    ``download=None`` reads ``$MNIST_TUTORIAL_DOWNLOAD`` (default: allowed).
    Raises ``MNISTDataError`` with a message that names the cause and the fix.
    """
    root = data_root() if root is None else Path(root).expanduser()
    if download is None:
        download = downloads_allowed()
    folder = raw_folder(root)
    try:
        missing = [name for name in SHA256 if not (folder / name).is_file()]
    except PermissionError as error:
        raise MNISTDataError(f"{error.filename or folder} cannot be read (permission denied): "
                             f"give your user read access to {folder} and the folders above "
                             f"it, or point {DATA_ENV} at a copy you can read") from None
    if missing:
        if not download:
            compressed = [name for name in missing if (folder / f"{name}.gz").is_file()]
            why = "downloads are off"
            if compressed:
                why += (f"; {len(compressed)} are there compressed ({compressed[0]}.gz ...): "
                        f"unpack them with gunzip -k {folder}/*.gz")
            raise MNISTDataError(_missing_message(root, missing, why))
        try:
            _download(root)
        except Exception as error:  # network down, mirror gone, disk full, ...
            raise MNISTDataError(
                _missing_message(root, missing, f"download failed: {error}")
            ) from None
    for name, expected in SHA256.items():
        try:
            actual = _sha256(folder / name)
        except PermissionError:
            raise MNISTDataError(f"{folder / name} cannot be read (permission denied): give "
                                 f"your user read access to {folder}, or point {DATA_ENV} at "
                                 f"a copy you can read") from None
        if actual != expected:
            raise MNISTDataError(
                f"{folder / name} is damaged: its SHA-256 is {actual}, "
                f"expected {expected}.\n"
                f"Delete it and run `python -m mnist_tutorial.data` with network access "
                f"to fetch it again, or copy an intact one from another machine."
            )
    return folder


def read_idx(path: Path) -> torch.Tensor:
    """Decode one IDX file (the format MNIST ships in) into a uint8 tensor."""
    data = Path(path).read_bytes()
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise MNISTDataError(f"{path} is not an IDX file of unsigned bytes.")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise MNISTDataError(f"{path} is truncated: header says shape {shape}.")
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    return torch.from_numpy(array.copy())


@dataclass(frozen=True)
class MNIST:
    """The decoded data set: uint8 images (N, 28, 28) and int64 labels (N,)."""

    train_images: torch.Tensor  # (60000, 28, 28) uint8
    train_labels: torch.Tensor  # (60000,) int64
    test_images: torch.Tensor  # (10000, 28, 28) uint8
    test_labels: torch.Tensor  # (10000,) int64


@functools.lru_cache(maxsize=4)
def _load(root: Path, verify: bool) -> MNIST:
    folder = ensure_mnist(root) if verify else raw_folder(root)
    return MNIST(
        train_images=read_idx(folder / "train-images-idx3-ubyte"),
        train_labels=read_idx(folder / "train-labels-idx1-ubyte").long(),
        test_images=read_idx(folder / "t10k-images-idx3-ubyte"),
        test_labels=read_idx(folder / "t10k-labels-idx1-ubyte").long(),
    )


def load_mnist(root: Path | None = None, verify: bool = True) -> MNIST:
    """Verify and decode MNIST once per process (the decoded set is 55 MB)."""
    root = data_root() if root is None else Path(root).expanduser()
    return _load(root.resolve(), verify)


# --8<-- [start:split_indices]
def split_indices(num_items: int = NUM_TRAIN + NUM_VAL, num_val: int = NUM_VAL, seed: int = SPLIT_SEED):
    """Indices of the train / validation split, exactly as ``random_split`` draws them.

    ``torch.utils.data.random_split(dataset, [n - num_val, num_val],
    generator=torch.Generator().manual_seed(seed))`` returns the same two lists.
    """
    order = torch.randperm(num_items, generator=torch.Generator().manual_seed(seed))
    return order[: num_items - num_val], order[num_items - num_val :]
# --8<-- [end:split_indices]


@dataclass(frozen=True)
class Split:
    """Index tensors into ``MNIST.train_*`` (train, val) and ``MNIST.test_*`` (test)."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


def make_split(mnist: MNIST, train_size: int | None = None, val_size: int | None = None,
               test_size: int | None = None) -> Split:
    """The fixed 50k/10k split; the sizes take a prefix of each part (smoke runs)."""
    train, val = split_indices(len(mnist.train_labels))
    test = torch.arange(len(mnist.test_labels))
    return Split(train[:train_size], val[:val_size], test[:test_size])


# --8<-- [start:lesson_dataset]
class ImageDataset(Dataset):
    """One image at a time, as torchvision's ``datasets.MNIST`` serves it."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        image = Image.fromarray(self.images[i].numpy(), mode="L")
        return self.transform(image), int(self.labels[i])  # (1, 28, 28), int
# --8<-- [end:lesson_dataset]


# --8<-- [start:transform]
def lesson_transform():
    from torchvision import transforms

    transform = transforms.Compose([
        transforms.ToTensor(),  # uint8 (28, 28) -> float (1, 28, 28) in [0, 1]
        transforms.Normalize((MEAN,), (STD,)),  # zero mean, unit variance
    ])
    return transform
# --8<-- [end:transform]


# --8<-- [start:lesson_loader]
def lesson_loader(images, labels, batch_size: int, shuffle: bool, seed: int = 0,
                  num_workers: int = 0) -> DataLoader:
    """The lessons' pipeline: ``Dataset`` + ``ToTensor`` + ``DataLoader``."""
    dataset = ImageDataset(images, labels, lesson_transform())
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                      generator=generator, num_workers=num_workers)
# --8<-- [end:lesson_loader]


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28), the same numbers ``lesson_transform`` gives."""
    return ((images.float() / 255.0 - MEAN) / STD).unsqueeze(1)


class TensorBatches:
    """Batches sliced from one pre-normalised tensor that lives on the training device.

    Same semantics as ``lesson_loader``: with ``shuffle`` each epoch draws a new
    permutation from a generator seeded once, as ``DataLoader``'s sampler does (the
    orders differ: ``DataLoader`` also draws worker seeds from its generator); without
    it the order is the stored one; the last partial batch is kept.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 shuffle: bool, seed: int = 0, device: str | torch.device = "cpu"):
        self.X = normalise(images).to(device)  # (N, 1, 28, 28)
        self.y = labels.to(device)  # (N,)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    def __iter__(self):
        n = len(self.y)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.X.device)
        else:
            order = None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield self.X[start : start + self.batch_size], self.y[start : start + self.batch_size]
            else:
                idx = order[start : start + self.batch_size]
                yield self.X[idx], self.y[idx]  # (B, 1, 28, 28), (B,)


def main() -> None:
    import sys

    try:
        folder = ensure_mnist()
    except MNISTDataError as error:
        sys.exit(f"error: {error}")
    mnist = load_mnist(verify=False)
    print(f"MNIST is ready in {folder}: {len(mnist.train_labels):,} training and "
          f"{len(mnist.test_labels):,} test images, all four checksums match.")


if __name__ == "__main__":
    main()
