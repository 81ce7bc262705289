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
