"""The cache key names torch's release, not its build: PyPI's wheel (``2.14.1``) and
PyTorch's own CUDA (``2.14.1+cu130``) and CPU (``2.14.1+cpu``, which CI installs) wheels
share cache entries; another release does not. No kernel runs: a key only hashes files."""

from __future__ import annotations

import importlib.metadata

import pytest

from sitebuild import cache
from sitebuild.homes import Home

SOURCE = '''\
# %% [markdown]
# # A page

# %%
from mnist_tutorial.report import Report

report = Report("page")
one = 1
'''


@pytest.fixture
def home(tmp_path) -> Home:
    path = tmp_path / "lessons" / "page.py"
    path.parent.mkdir()
    path.write_text(SOURCE, encoding="utf-8")
    return Home(name="page", path=path, page="lessons/page.md", uses=())


def key_with_torch(monkeypatch, home: Home, version: str) -> str:
    real = importlib.metadata.version
    monkeypatch.setattr(cache.importlib.metadata, "version",
                        lambda name: version if name == "torch" else real(name))
    return cache.key(home, "smoke", {}, "cpu fp32")


def test_the_key_ignores_the_local_label_of_torchs_version(monkeypatch, home):
    cuda = key_with_torch(monkeypatch, home, "2.14.1+cu130")
    cpu = key_with_torch(monkeypatch, home, "2.14.1+cpu")
    plain = key_with_torch(monkeypatch, home, "2.14.1")
    assert cuda == cpu == plain
    assert cache.torch_release() == "2.14.1"
    assert key_with_torch(monkeypatch, home, "2.14.2+cpu") != cpu
    assert key_with_torch(monkeypatch, home, "2.14.2") != cpu


def test_the_device_stays_in_the_key(monkeypatch, home):
    real = importlib.metadata.version
    monkeypatch.setattr(cache.importlib.metadata, "version",
                        lambda name: "2.14.1+cu130" if name == "torch" else real(name))
    assert cache.key(home, "smoke", {}, "cuda fp32") != cache.key(home, "smoke", {}, "cpu fp32")


@pytest.mark.parametrize("template", ["SETUP", "FINISH_TEXT", "FINISH"])
def test_the_cells_the_build_adds_are_in_the_key(monkeypatch, home, template):
    """An edited setup or comparison cell reruns every home: a cached notebook would
    otherwise ship the old cell in its download."""
    before = cache.key(home, "smoke", {}, "cpu fp32")
    monkeypatch.setattr(cache, template, getattr(cache, template) + "\n# edited")
    assert cache.key(home, "smoke", {}, "cpu fp32") != before


def test_site_builds_train_in_fp32_unless_the_setting_says_otherwise(monkeypatch, tmp_path):
    # fp32 runs match across CPUs, so a published run answers for a local one (bf16's
    # results depend on the CPU's instructions); `auto` still lets the probe choose.
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    monkeypatch.delenv(cache.PRECISION_ENV, raising=False)
    monkeypatch.delenv(cache.DEVICE_ENV, raising=False)
    asked = []
    monkeypatch.setattr(cache, "_ask_torch", lambda requested: asked.append(requested) or "cpu x")
    cache.device_kind()
    monkeypatch.setenv(cache.PRECISION_ENV, "auto")
    cache.device_kind()
    assert asked == ["auto fp32", "auto auto"]


def test_the_probe_trains_in_the_precision_it_is_told():
    assert cache._ask_torch("cpu fp32") == "cpu fp32"
    assert cache._ask_torch("cpu bf16") == "cpu bf16"
