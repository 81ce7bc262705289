"""The command line: help a learner understands, clean errors, a smoke run and its cache hit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mnist_tutorial.__main__ import main


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mnist_tutorial", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_help_explains_commands_and_environment(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for word in ("train", "run", "list", "data", "MNIST_TUTORIAL_DATA", "MNIST_TUTORIAL_PROFILE"):
        assert word in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--logdir" in capsys.readouterr().out


def test_missing_data_is_one_clear_line_not_a_traceback(tmp_path):
    out = cli("train", env={"MNIST_TUTORIAL_DATA": str(tmp_path), "MNIST_TUTORIAL_DOWNLOAD": "0"})
    assert out.returncode == 2
    assert out.stderr.startswith("error: MNIST is not in") and "Traceback" not in out.stderr


def test_unknown_experiment(tmp_path):
    out = cli("run", "nope", env={"MNIST_TUTORIAL_CACHE": str(tmp_path)})
    assert out.returncode == 2 and "unknown experiment 'nope'" in out.stderr


def test_smoke_run_then_cache_hit(tmp_path, mnist_root):
    env = {"MNIST_TUTORIAL_CACHE": str(tmp_path), "MNIST_TUTORIAL_PROFILE": "smoke"}
    first = cli("run", "mlp", env=env)
    assert first.returncode == 0, first.stderr
    assert "running experiment 'mlp'" in first.stderr
    assert first.stdout.startswith("mlp (smoke profile): computed in")
    second = cli("run", "mlp", env=env)
    assert second.returncode == 0 and "running experiment" not in second.stderr
    assert "test_accuracy" in second.stdout
    manifest = cli("run", "mlp", "nope", "--manifest", env=env)
    entries = json.loads(manifest.stdout.splitlines()[-1])
    assert os.path.isfile(entries["mlp"]["path"]) and "unknown experiment" in entries["nope"]["error"]
    listing = cli("list", env=env)
    assert any(line.startswith("mlp ") and "cached" in line for line in listing.stdout.splitlines())


def test_train_prints_a_summary_line(mnist_root):
    out = cli("train", "--epochs", "1", "--train-size", "512", "--seed", "0", "1")
    assert out.returncode == 0, out.stderr
    last = out.stdout.splitlines()[-1]
    assert last.startswith("test accuracy ") and "mean of 2 seeds" in last and "wall time" in last
