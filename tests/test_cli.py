"""The command line: help a learner understands, clean errors, a training summary."""

from __future__ import annotations

import pytest

from conftest import cli
from mnist_tutorial.__main__ import main


def test_help_explains_commands_and_environment(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for word in ("train", "data", "MNIST_TUTORIAL_DATA", "MNIST_TUTORIAL_DEVICE"):
        assert word in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--logdir" in capsys.readouterr().out


def test_missing_data_is_one_clear_line_not_a_traceback(tmp_path):
    out = cli("train", env={"MNIST_TUTORIAL_DATA": str(tmp_path), "MNIST_TUTORIAL_DOWNLOAD": "0"})
    assert out.returncode == 2
    assert out.stderr.startswith("error: MNIST is not in") and "Traceback" not in out.stderr


def test_a_device_torch_does_not_have_names_the_setting():
    out = cli("train", "--epochs", "1", env={"MNIST_TUTORIAL_DEVICE": "tpu"})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: MNIST_TUTORIAL_DEVICE='tpu' is not a device"), out.stderr


def test_train_prints_a_summary_line(mnist_root):
    out = cli("train", "--epochs", "1", "--train-size", "512", "--seed", "0", "1")
    assert out.returncode == 0, out.stderr
    last = out.stdout.splitlines()[-1]
    assert last.startswith("test accuracy ") and "mean of 2 seeds" in last and "wall time" in last
