"""mnist_tutorial.data: IDX decoding, checksums and their errors, the split, both batchers."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import random_split

from mnist_tutorial import data
from mnist_tutorial.errors import MNISTDataError

NAMES = list(data.SHA256)


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def synthetic_root(tmp_path, monkeypatch):
    """A data root with tiny, valid IDX files (60 train, 20 test) and their checksums."""
    rng = np.random.default_rng(0)
    raw = data.raw_folder(tmp_path)
    raw.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (60, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 60),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 20),
    }
    for name, array in arrays.items():
        write_idx(raw / name, array)
    monkeypatch.setattr(data, "SHA256", {
        name: hashlib.sha256((raw / name).read_bytes()).hexdigest() for name in arrays})
    data._load.cache_clear()
    return tmp_path, arrays


def test_data_root_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.data_root() == tmp_path
    monkeypatch.delenv(data.DATA_ENV)
    assert data.data_root() == data.DEFAULT_ROOT.expanduser()


def test_synthetic_files_load_exactly(synthetic_root):
    root, arrays = synthetic_root
    mnist = data.load_mnist(root)
    assert mnist.train_images.shape == (60, 28, 28) and mnist.train_images.dtype == torch.uint8
    assert mnist.train_labels.dtype == torch.int64
    assert np.array_equal(mnist.test_images.numpy(), arrays["t10k-images-idx3-ubyte"])
    assert np.array_equal(mnist.train_labels.numpy(), arrays["train-labels-idx1-ubyte"])


def test_missing_files_offline_name_the_variable_folder_and_files(tmp_path):
    with pytest.raises(MNISTDataError) as error:
        data.ensure_mnist(tmp_path, download=False)
    message = str(error.value)
    assert data.DATA_ENV in message and str(data.raw_folder(tmp_path)) in message
    assert all(name in message for name in NAMES)
    assert "python -m mnist_tutorial.data" in message


def test_a_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    def offline(root):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(data, "_download", offline)
    with pytest.raises(MNISTDataError, match="download failed: Temporary failure"):
        data.ensure_mnist(tmp_path, download=True)


def test_download_switch_reads_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DOWNLOAD_ENV, "0")
    monkeypatch.setattr(data, "_download", lambda root: pytest.fail("must not download"))
    with pytest.raises(MNISTDataError, match="downloads are off"):
        data.ensure_mnist(tmp_path)


def test_truncated_file_fails_its_checksum(synthetic_root):
    root, _ = synthetic_root
    victim = data.raw_folder(root) / "t10k-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(MNISTDataError) as error:
        data.ensure_mnist(root, download=False)
    assert str(victim) in str(error.value) and "SHA-256" in str(error.value)


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(MNISTDataError, match="not an IDX file"):
        data.read_idx(bad)
    short = tmp_path / "short"
    write_idx(short, np.zeros((3, 2, 2)))
    short.write_bytes(short.read_bytes()[:-1])
    with pytest.raises(MNISTDataError, match="truncated"):
        data.read_idx(short)


def test_split_is_random_split_with_a_seeded_generator():
    train, val = data.split_indices(100, 20, seed=3)
    ref_train, ref_val = random_split(range(100), [80, 20], generator=torch.Generator().manual_seed(3))
    assert train.tolist() == list(ref_train.indices) and val.tolist() == list(ref_val.indices)


def test_normalise_matches_the_lesson_transform(synthetic_root):
    root, _ = synthetic_root
    mnist = data.load_mnist(root)
    transform = data.lesson_transform()
    from PIL import Image

    expected = torch.stack([transform(Image.fromarray(img.numpy(), mode="L"))
                            for img in mnist.train_images[:5]])
    assert torch.allclose(data.normalise(mnist.train_images[:5]), expected, atol=1e-6)


def test_both_batchers_yield_each_sample_once_per_epoch(synthetic_root):
    root, _ = synthetic_root
    mnist = data.load_mnist(root)
    images, labels = mnist.train_images[:50], mnist.train_labels[:50]
    loader = data.lesson_loader(images, labels, batch_size=16, shuffle=True, seed=7)
    fast = data.TensorBatches(images, labels, batch_size=16, shuffle=True, seed=7)
    assert len(loader) == len(fast) == 4

    def as_multiset(X, y):  # (image bytes, label) pairs, rounded: PIL path and tensor path agree to 1e-6
        return Counter((x.numpy().round(5).tobytes(), int(t)) for x, t in zip(X, y))

    def epoch_samples(batches):
        sizes, seen = [], Counter()
        for X, y in batches:
            sizes.append(len(y))
            seen += as_multiset(X, y)
        return sizes, seen

    expected = as_multiset(data.normalise(images), labels)
    for _ in range(2):  # every epoch: each (image, label) exactly once, last batch kept
        for batches in (loader, fast):
            sizes, seen = epoch_samples(batches)
            assert sizes == [16, 16, 16, 2]
            assert seen == expected


def test_unshuffled_batchers_yield_identical_batches(synthetic_root):
    root, _ = synthetic_root
    mnist = data.load_mnist(root)
    loader = data.lesson_loader(mnist.test_images, mnist.test_labels, 8, shuffle=False)
    fast = data.TensorBatches(mnist.test_images, mnist.test_labels, 8, shuffle=False)
    for (X1, y1), (X2, y2) in zip(loader, fast, strict=True):
        assert torch.equal(y1, y2) and torch.allclose(X1, X2, atol=1e-6)


def test_shuffled_epochs_differ_and_unshuffled_keep_order(synthetic_root):
    root, _ = synthetic_root
    mnist = data.load_mnist(root)
    fast = data.TensorBatches(mnist.train_images, mnist.train_labels, 60, shuffle=True, seed=0)
    first, second = (next(iter(fast))[1] for _ in range(2))
    assert not torch.equal(first, second)
    ordered = data.TensorBatches(mnist.test_images, mnist.test_labels, 8, shuffle=False)
    assert torch.equal(torch.cat([y for _, y in ordered]), mnist.test_labels)


def test_real_mnist_loads_and_splits(mnist_root):
    mnist = data.load_mnist(mnist_root)
    assert mnist.train_images.shape == (60_000, 28, 28)
    assert mnist.test_images.shape == (10_000, 28, 28)
    assert set(mnist.train_labels.unique().tolist()) == set(range(10))
    split = data.make_split(mnist)
    assert len(split.train) == 50_000 and len(split.val) == 10_000 and len(split.test) == 10_000
    assert not set(split.train.tolist()) & set(split.val.tolist())
    assert torch.equal(split.test, torch.arange(10_000))  # the test set is never shuffled
