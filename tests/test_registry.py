"""mnist_tutorial.registry: cache hit, miss, invalidation by source edits, atomic writes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mnist_tutorial import registry
from mnist_tutorial.errors import ExperimentError


@dataclass(frozen=True)
class ToyConfig:
    n: int


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A registered toy experiment, a temporary cache and a private copy of the package."""
    monkeypatch.setenv(registry.CACHE_ENV, str(tmp_path / "cache"))
    package = tmp_path / "package"
    shutil.copytree(registry.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(registry, "PACKAGE_DIR", package)
    monkeypatch.setattr(registry, "_SOURCE_AT_IMPORT", registry.source_digest())
    calls = []

    def run(config):
        calls.append(config)
        return {"metrics": {"square": registry.metric(config.n ** 2, unit="count")}}

    monkeypatch.setitem(registry._REGISTRY, "toy", registry.Experiment(
        "toy", "a toy", run, {"full": ToyConfig(3), "smoke": ToyConfig(2)}))
    return calls, package


def test_miss_runs_and_stores_then_hit_does_not_run(toy):
    calls, _ = toy
    first = registry.get_result("toy", "full")
    assert first["metrics"]["square"]["value"] == 9 and len(calls) == 1
    assert registry.is_cached("toy", "full")
    second = registry.get_result("toy", "full")
    assert second == first and len(calls) == 1
    assert registry.get_result("toy", "smoke")["metrics"]["square"]["text"] == "4"
    assert len(calls) == 2


def test_result_carries_config_and_provenance(toy):
    result = registry.get_result("toy", "full")
    assert result["config"] == {"n": 3} and result["profile"] == "full"
    provenance = result["provenance"]
    assert {"commit", "torch", "device", "wall_time_s", "date", "cache_key"} <= set(provenance)


def test_editing_any_package_file_invalidates(toy):
    calls, package = toy
    registry.get_result("toy", "full")
    before = registry.cache_key(registry.find("toy"), "full")
    with open(package / "plots.py", "a") as f:
        f.write("\n# an edit\n")
    assert registry.cache_key(registry.find("toy"), "full") != before
    registry._SOURCE_AT_IMPORT = registry.source_digest()  # as a new process would see it
    registry.get_result("toy", "full")
    assert len(calls) == 2


def test_a_process_whose_package_was_edited_refuses_to_cache_stale_code(toy):
    calls, package = toy
    with open(package / "plots.py", "a") as f:
        f.write("\n# edited after import\n")
    with pytest.raises(ExperimentError, match="changed after this process imported it"):
        registry.get_result("toy", "full")
    assert calls == [] and not (registry.cache_dir() / "toy").exists()


def test_an_edit_during_the_run_is_not_cached(toy, monkeypatch):
    calls, package = toy

    def run_and_edit(config):
        with open(package / "plots.py", "a") as f:
            f.write("\n# edited while running\n")
        return {"metrics": {}}

    monkeypatch.setitem(registry._REGISTRY, "toy", registry.Experiment(
        "toy", "a toy", run_and_edit, {"full": ToyConfig(3), "smoke": ToyConfig(2)}))
    registry.get_result("toy", "full")
    assert not (registry.cache_dir() / "toy").exists()


def test_key_depends_on_config_device_and_torch(toy, monkeypatch):
    exp = registry.find("toy")
    full, smoke = registry.cache_key(exp, "full"), registry.cache_key(exp, "smoke")
    assert full != smoke
    monkeypatch.setenv(registry.DEVICE_ENV, "cuda")
    assert registry.cache_key(exp, "full") != full
    monkeypatch.delenv(registry.DEVICE_ENV)
    monkeypatch.setattr(registry.importlib.metadata, "version", lambda name: "0.0-other")
    assert registry.cache_key(exp, "full") != full


def test_refresh_reruns(toy):
    calls, _ = toy
    registry.get_result("toy", "full")
    registry.get_result("toy", "full", refresh=True)
    assert len(calls) == 2


def test_unreadable_entry_is_recomputed(toy):
    calls, _ = toy
    registry.get_result("toy", "full")
    path = registry.entry_path("toy", registry.cache_key(registry.find("toy"), "full"))
    path.write_text('{"metrics": {"sq')
    assert registry.get_result("toy", "full")["metrics"]["square"]["value"] == 9
    assert len(calls) == 2 and json.loads(path.read_text())


def test_failed_experiment_names_itself_and_stores_nothing(toy, monkeypatch):
    def broken(config):
        raise ValueError("claim no longer holds")

    monkeypatch.setitem(registry._REGISTRY, "broken", registry.Experiment(
        "broken", "b", broken, {"full": ToyConfig(1), "smoke": ToyConfig(1)}))
    with pytest.raises(ExperimentError, match="'broken'.*claim no longer holds"):
        registry.get_result("broken", "full")
    assert not (registry.cache_dir() / "broken").exists()


def test_unknown_experiment_lists_the_known_ones():
    with pytest.raises(ExperimentError, match="unknown experiment 'nope'; known: .*mlp"):
        registry.find("nope")


def test_interrupted_write_leaves_no_entry(tmp_path, monkeypatch):
    path = tmp_path / "exp" / "key.json"

    def interrupted_fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(registry.os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        registry.store_entry(path, {"half": "written"})
    assert list(path.parent.iterdir()) == []


def test_files_are_written_before_their_entry(tmp_path, monkeypatch):
    """An entry on disk always has its files: an interrupt between them leaves no entry."""
    path = tmp_path / "exp" / "key.json"
    written = []
    real_write = registry._write_atomically

    def write_then_interrupt(target, data):
        real_write(target, data)
        written.append(target.name)
        raise KeyboardInterrupt

    monkeypatch.setattr(registry, "_write_atomically", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        registry.store_entry(path, {"files": ["weights.pt"]}, {"weights.pt": b"\x00\x01"})
    assert written == ["key.weights.pt"] and not path.exists()


@pytest.fixture
def toy_with_file(toy, monkeypatch):
    calls, _ = toy

    def run(config):
        calls.append(config)
        return {"metrics": {}, "files": {"weights.bin": bytes([config.n]) * 4}}

    monkeypatch.setitem(registry._REGISTRY, "toy", registry.Experiment(
        "toy", "a toy", run, {"full": ToyConfig(3), "smoke": ToyConfig(2)}))
    return calls


def test_files_are_stored_beside_the_entry_and_listed_in_it(toy_with_file):
    path = registry.get_file("toy", "weights.bin", "full")
    assert path.read_bytes() == b"\x03" * 4 and path.parent == registry.cache_dir() / "toy"
    result = registry.get_result("toy", "full")
    assert result["files"] == ["weights.bin"] and len(toy_with_file) == 1
    assert registry.get_file("toy", "weights.bin", "full") == path and len(toy_with_file) == 1


def test_a_deleted_file_is_recomputed(toy_with_file):
    path = registry.get_file("toy", "weights.bin", "full")
    path.unlink()
    assert registry.get_file("toy", "weights.bin", "full").read_bytes() == b"\x03" * 4
    assert len(toy_with_file) == 2


def test_asking_for_a_file_the_experiment_does_not_save_names_the_saved_ones(toy_with_file):
    with pytest.raises(ExperimentError, match="no file 'other.pt'; it saves: weights.bin"):
        registry.get_file("toy", "other.pt", "full")


def test_killed_writer_leaves_no_entry(tmp_path):
    """SIGKILL while the entry is being written: no entry appears, the next run recomputes."""
    path = tmp_path / "exp" / "key.json"
    script = textwrap.dedent(f"""
        import os, time
        from mnist_tutorial import registry
        def slow_fsync(fd):
            print("writing", flush=True)
            time.sleep(60)
        registry.os.fsync = slow_fsync
        registry.store_entry(__import__("pathlib").Path({str(path)!r}), {{"x": list(range(10000))}})
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not path.exists()
    assert registry.load_entry(path) is None


def test_metric_text():
    assert registry.metric(0.98412, unit="percent", digits=1)["text"] == "98.4\u00a0%"
    assert registry.metric(0.9841, unit="percent", digits=2, std=0.0012)["text"] == "98.41\u00a0±\u00a00.12\u00a0%"
    assert registry.metric(1068810, unit="count")["text"] == "1\u202f068\u202f810"
    assert registry.metric(3.14159, unit="seconds", digits=1)["text"] == "3.1\u00a0s"


def test_every_registered_experiment_has_both_profiles_and_imports_without_torch():
    code = ("import sys; from mnist_tutorial import registry; e = registry.experiments(); "
            "assert all(set(x.configs) == {'full', 'smoke'} for x in e.values()); "
            "assert 'torch' not in sys.modules, 'an experiment module imports torch at import time'; "
            "print(len(e))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 2


def test_scientific_text_spans_powers_of_ten():
    assert registry.scientific_text(1.7e-15) == "1.7\u00a0×\u00a010⁻¹⁵"
    assert registry.scientific_text(0.27) == "0.27" and registry.scientific_text(0) == "0"
    assert registry.scientific_text(420, digits=3) == "420"
    assert registry.metric(3.6e5, unit="scientific")["text"] == "3.6\u00a0×\u00a010⁵"
