"""TensorBoard logging: the event files a short training run writes hold what it returned.

Read back with TensorBoard's own ``EventAccumulator``, as the ``tensorboard --logdir``
command of the training lesson reads them.
"""

from __future__ import annotations

import pytest

from mnist_tutorial.config import TrainConfig


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory, mnist_root):
    from mnist_tutorial.data import load_mnist
    from mnist_tutorial.training import train_model

    logdir = tmp_path_factory.mktemp("runs") / "smoke"
    config = TrainConfig.recipe("final", num_epochs=2, batch_size=64, train_size=256,
                                val_size=128, test_size=128)
    result = train_model(config, load_mnist(mnist_root), device="cpu", logdir=str(logdir))
    return result, logdir


def _scalars(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0})  # 0: keep every value
    events.Reload()
    return events


def test_event_files_are_written(logged_run):
    _, logdir = logged_run
    assert list(logdir.glob("events.out.tfevents.*"))


def test_training_loss_has_one_value_per_step(logged_run):
    result, logdir = logged_run
    loss = _scalars(logdir).Scalars("loss/train")
    steps_per_epoch = 256 // 64
    assert len(result.step_loss) == 2 * steps_per_epoch
    assert [e.step for e in loss] == list(range(len(result.step_loss)))
    assert [e.value for e in loss] == pytest.approx(result.step_loss, rel=1e-6)


def test_validation_and_test_scalars_match_the_history(logged_run):
    result, logdir = logged_run
    events = _scalars(logdir)
    assert set(events.Tags()["scalars"]) == {"loss/train", "loss/val", "accuracy/val",
                                            "accuracy/test"}
    val_acc = events.Scalars("accuracy/val")
    assert [e.step for e in val_acc] == [4, 8]  # after each epoch of 4 steps
    assert [e.value for e in val_acc] == pytest.approx(result.epoch_val_accuracy, rel=1e-6)
    assert [e.value for e in events.Scalars("loss/val")] == pytest.approx(result.epoch_val_loss, rel=1e-6)
    (test_acc,) = events.Scalars("accuracy/test")
    assert test_acc.value == pytest.approx(result.test_accuracy, rel=1e-6)


def test_run_logdir_names_recipe_seed_and_time(tmp_path):
    import datetime

    from mnist_tutorial.training import run_logdir

    when = datetime.datetime(2026, 3, 14, 15, 9, 26)
    first = run_logdir(tmp_path, "plain", 2, when)
    assert first == tmp_path / "plain-seed2-20260314-150926"
    first.mkdir()  # the run started: a rerun in the same second gets a folder of its own
    assert run_logdir(tmp_path, "plain", 2, when) == tmp_path / "plain-seed2-20260314-150926-2"
    assert run_logdir(tmp_path, "plain", 3, when).name == "plain-seed3-20260314-150926"


def test_the_command_line_writes_one_folder_per_run(tmp_path, mnist_root, capsys):
    import re

    from mnist_tutorial.__main__ import main

    args = ["train", "--epochs", "1", "--train-size", "256", "--batch-size", "128",
            "--device", "cpu", "--logdir", str(tmp_path)]
    assert main([*args, "--seed", "0", "1"]) == 0
    assert main([*args, "--recipe", "plain", "--softmax-bug"]) == 0  # a rerun beside them
    assert "TensorBoard log in" in capsys.readouterr().out
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert [re.sub(r"-\d{8}-\d{6}$", "", name) for name in folders] == [
        "final-seed0", "final-seed1", "plain-softmax-bug-seed0"], folders
    for folder in tmp_path.iterdir():
        assert len(list(folder.glob("events.out.tfevents.*"))) == 1
        assert len(_scalars(folder).Scalars("loss/train")) == 2  # 256 images / 128 per step


def test_the_training_notebook_shows_tensorboard_but_the_build_starts_no_server():
    from pathlib import Path

    import jupytext
    from IPython.core.inputtransformer2 import TransformerManager

    home = Path(__file__).resolve().parent.parent / "lessons" / "training.py"
    cells = [c.source for c in jupytext.read(home, fmt="py:percent").cells if c.cell_type == "code"]
    assert "%load_ext tensorboard" in cells
    (start,) = [c for c in cells if "%tensorboard --logdir runs" in c]
    python = TransformerManager().transform_cell(start)  # what the kernel runs
    assert "run_line_magic('tensorboard', '--logdir runs')" in python
    calls = []

    class Shell:  # stands in for IPython: records the magics the cell would run
        def run_line_magic(self, name, line):
            calls.append((name, line))

    from mnist_tutorial import settings

    namespace = {"settings": settings, "print": lambda *args: None, "get_ipython": Shell}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MNIST_TUTORIAL_REPORT", "/tmp/report")  # as in the site's build
        exec(python, dict(namespace))
        assert calls == []
        env.delenv("MNIST_TUTORIAL_REPORT")  # a learner's notebook
        exec(python, dict(namespace))
        assert calls == [("tensorboard", "--logdir runs")]
