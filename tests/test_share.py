"""Shared runs (sitebuild/share.py): a built site carries its runs, ``fetch`` brings them
back into an empty cache, checked as the cache checks its own, and a build then runs
nothing; a truncated or altered archive is rejected and never cached; a server that is
down is one clear line.

The unit tests pack and unpack entries made in a scratch cache; the others serve the
session's smoke site on 127.0.0.1 and fetch from it into fresh caches.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

pytest.register_assert_rewrite("browser_util")  # before the import: it is also our plugin

from browser_util import serve  # noqa: E402
from conftest import ROOT  # noqa: E402
from sitebuild import cache, share  # noqa: E402

pytest_plugins = ["browser_util"]  # site_url: the smoke site on 127.0.0.1


@pytest.fixture
def scratch_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def make_entry(tmp_path, key="k" * 32) -> cache.Entry:
    report = {"values": {"acc": {"value": 0.9, "cell": 3}}, "tables": {}, "figures": {},
              "provenance": {"profile": "smoke"}}
    weights = tmp_path / "net.pt"
    weights.write_bytes(b"\x00weights" * 100)
    return cache.Cache().store("training", key, json.dumps(report).encode(), b'{"cells": []}',
                       {"net.pt": weights}, {"wall_time_s": 1.5, "key": key})


def repack(archive: bytes, change) -> bytes:
    """``archive`` with ``change(name, data) -> data | None`` applied (None drops a file)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as old, \
            tarfile.open(fileobj=out, mode="w:gz") as new:
        for member in old.getmembers():
            data = change(member.name, old.extractfile(member).read())
            if data is not None:
                member.size = len(data)
                new.addfile(member, io.BytesIO(data))
    return out.getvalue()


def test_pack_is_byte_for_byte_stable_and_unpacks_to_the_same_verified_entry(
        tmp_path, scratch_cache):
    entry = make_entry(tmp_path)
    archive = share.pack(entry)
    assert share.pack(entry) == archive  # no dates or owners in it
    shutil.rmtree(entry.path)
    unpacked = share.unpack(archive, "training", entry.manifest["key"],
                            {"origin": "http://example.test/"})
    assert cache.Cache().load("training", entry.manifest["key"]) is not None
    assert unpacked.report["values"]["acc"]["value"] == 0.9
    assert unpacked.files[0].read_bytes() == b"\x00weights" * 100
    assert unpacked.provenance["origin"] == "http://example.test/"


@pytest.mark.parametrize("damage, message", [
    (lambda archive: archive[: len(archive) // 2], "not a readable archive"),
    (lambda archive: repack(archive, lambda name, data: data.replace(b"0.9", b"1.0")),
     "report.json does not match its digest"),
    (lambda archive: repack(archive, lambda name, data: None if name.startswith("files/")
                            else data), "incomplete entry"),
])
def test_a_damaged_archive_is_rejected_and_leaves_nothing_in_the_cache(
        tmp_path, scratch_cache, damage, message):
    entry = make_entry(tmp_path)
    archive = share.pack(entry)
    shutil.rmtree(entry.path)
    with pytest.raises(ValueError, match=message):
        share.unpack(damage(archive), "training", entry.manifest["key"], {})
    assert list((scratch_cache / "training").iterdir()) == []  # no entry, no staging folder


def test_an_archive_may_hold_only_an_entrys_files(tmp_path, scratch_cache):
    entry = make_entry(tmp_path)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name in ("manifest.json", "report.json", "notebook.ipynb", "files/net.pt"):
            tar.add(entry.path / name, arcname=name)
        evil = tarfile.TarInfo("../outside.txt")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    shutil.rmtree(entry.path)
    with pytest.raises(ValueError, match="unexpected member '../outside.txt'"):
        share.unpack(out.getvalue(), "training", entry.manifest["key"], {})
    assert not (scratch_cache / "outside.txt").exists()


def test_why_names_each_difference_between_the_local_and_the_published_key():
    local = {"schema": 1, "home": "a", "library": {"data.py": "1", "model.py": "2"},
             "uses": {"training": "t2"}, "reads": {}, "profile": "full",
             "device": "cpu fp32", "torch": "2.14.1"}
    assert share.why(local, None) == "the published site has no run of it"
    assert share.why(local, dict(local)) == "another key"
    published = {**local, "home": "b", "library": {"data.py": "1", "model.py": "0"},
                 "uses": {"training": "t1"}, "device": "cpu bf16", "torch": "2.13.0"}
    reasons = share.why(local, published)
    assert reasons == ("its code changed; mnist_tutorial/model.py changed; it uses training, "
                       "whose run differs; another device or precision (published: cpu bf16, "
                       "here: cpu fp32); another torch (published: 2.13.0, here: 2.14.1)")


# ---------------------------------------------------------------- against the smoke site


def sitebuild(*args, cache_dir, **env):
    environment = {**os.environ, "MNIST_TUTORIAL_PROFILE": "smoke",
                   cache.CACHE_ENV: str(cache_dir), **env}
    return subprocess.run([sys.executable, "-m", "sitebuild", *args], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=300)


def test_the_site_lists_every_run_it_used(site_dir):
    document = json.loads((site_dir / share.INDEX).read_text())
    results = json.loads((site_dir / "results.json").read_text())
    assert document["profile"] == "smoke"
    assert set(document["homes"]) == set(results["homes"])
    for name, published in document["homes"].items():
        archive = (site_dir / published["file"]).read_bytes()
        assert published["key"] == results["homes"][name]["provenance"]["key"]
        assert len(archive) == published["size"]
        assert cache.sha256(archive) == published["sha256"]
        assert cache.key_of(published["inputs"]) == published["key"]


def test_fetch_fills_an_empty_cache_and_the_build_then_runs_nothing(
        site_dir, site_url, tmp_path, mnist_root):
    fetched = sitebuild("fetch", site_url, cache_dir=tmp_path / "cache")
    homes = json.loads((site_dir / share.INDEX).read_text())["homes"]
    assert fetched.returncode == 0, fetched.stderr
    assert f"fetched {len(homes)} runs" in fetched.stdout
    assert f"0 of {len(homes)} pages must run here" in fetched.stdout
    again = sitebuild("fetch", site_url, cache_dir=tmp_path / "cache")
    assert f"fetched 0 runs (0.0 MB) from {site_url}; {len(homes)} were cached" in again.stdout
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "MNIST_TUTORIAL_PROFILE": "smoke",
             cache.CACHE_ENV: str(tmp_path / "cache")})
    assert build.returncode == 0, build.stderr[-3000:]
    assert "running lessons/" not in build.stderr
    page = (tmp_path / "site" / "lessons" / "training" / "index.html").read_text()
    assert "fetched from the published site" in page


def test_a_truncated_archive_is_rejected_by_name_and_the_home_runs_here(
        site_dir, tmp_path, mnist_root):
    site = tmp_path / "site"
    shutil.copytree(site_dir, site)
    document = json.loads((site / share.INDEX).read_text())
    victim = "linear_collapse"
    path = site / document["homes"][victim]["file"]
    path.write_bytes(path.read_bytes()[:1000])
    with serve(site) as url:
        fetched = sitebuild("fetch", url, cache_dir=tmp_path / "cache")
    assert fetched.returncode == 1
    assert (f"REJECTED {victim}: {url}{document['homes'][victim]['file']}: 1000 bytes that do "
            f"not match the index's digest") in fetched.stderr
    assert f"{victim:24} its published run was rejected" in fetched.stdout
    assert not (tmp_path / "cache" / victim).exists() or not any(
        (tmp_path / "cache" / victim).iterdir())
    listing = sitebuild("list", cache_dir=tmp_path / "cache")
    assert [line.split()[0] for line in listing.stdout.splitlines() if "to run" in line] == [victim]


def test_fetch_from_a_server_that_is_down_says_so_in_one_line(tmp_path):
    with serve(tmp_path) as url:
        pass  # the port is closed again
    fetched = sitebuild("fetch", url, cache_dir=tmp_path / "cache")
    assert fetched.returncode == 1
    lines = fetched.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach {url}runs/index.json")
    assert fetched.stdout == ""


@pytest.mark.parametrize("remote, url", [
    ("https://github.com/Ada/mnist-course.git", "https://ada.github.io/mnist-course/"),
    ("git@github.com:ada/mnist-course.git", "https://ada.github.io/mnist-course/"),
    ("https://github.com/ada/ada.github.io", "https://ada.github.io/"),
    ("https://gitlab.com/ada/mnist-course.git", None),
])
def test_the_default_address_is_where_the_deploy_publishes(remote, url):
    assert share.pages_url(remote) == url
