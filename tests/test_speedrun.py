"""Tests of the speedrun lesson's code: the clock stops while the network is measured,
every epoch is measured on the validation images and the test images only once, at the
end and when asked, time to the target is read off the right epoch, an early stop stops,
threads come back.

The lesson's runs and claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import dataclasses
import types

import pytest
import torch

from lesson_code import definitions
from mnist_tutorial.config import TrainConfig
from mnist_tutorial.data import load_mnist, make_split

lesson = definitions("speedrun")
TINY = TrainConfig(num_epochs=3, batch_size=256, lr=5e-3, label_smoothing=0.1,
                   train_size=512, val_size=256, test_size=256)


@pytest.fixture(scope="module")
def speedrun(mnist_root):
    lesson.mnist, lesson.device = load_mnist(mnist_root), torch.device("cpu")
    return lesson.speedrun


def test_time_to_target_is_the_first_epoch_that_reaches_it():
    run = lesson.Run(accuracy=[0.95, 0.981, 0.979, 0.99], seconds=[1.0, 2.0, 3.0, 4.0])
    assert run.time_to(0.98) == 2.0
    assert run.time_to(0.99) == 4.0
    assert run.time_to(0.995) is None


def test_the_clock_stops_while_the_network_is_tested(speedrun, monkeypatch):
    """A fake clock: each epoch of training takes 1 s, each test 100 s."""
    now = [0.0]
    evaluate, train_epoch = lesson.evaluate, lesson.train_epoch

    def timed(step, seconds):
        def run(*args, **kwargs):
            now[0] += seconds
            return step(*args, **kwargs)
        return run

    monkeypatch.setattr(lesson, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    monkeypatch.setattr(lesson, "evaluate", timed(evaluate, 100.0))
    monkeypatch.setattr(lesson, "train_epoch", timed(train_epoch, 1.0))
    run = speedrun(TINY, "fp32")
    assert run.seconds == [1.0, 2.0, 3.0]
    assert len(run.accuracy) == TINY.num_epochs and all(0 <= a <= 1 for a in run.accuracy)


def test_epochs_are_measured_on_validation_and_the_test_set_once_at_the_end(speedrun,
                                                                             monkeypatch):
    """Sizes that differ (validation 200, test 100) tell the two sets apart; the labels
    say they are the right images. A fake clock: the final test costs 100 s, off the clock."""
    config = dataclasses.replace(TINY, val_size=200, test_size=100)
    split = make_split(lesson.mnist, config.train_size, config.val_size, config.test_size)
    measured, now = [], [0.0]
    evaluate, train_epoch = lesson.evaluate, lesson.train_epoch

    def recorded(net, batches, loss_fn):
        measured.append(batches.y.cpu())
        now[0] += 100.0
        return evaluate(net, batches, loss_fn)

    def one_second(*args, **kwargs):
        now[0] += 1.0
        return train_epoch(*args, **kwargs)

    monkeypatch.setattr(lesson, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    monkeypatch.setattr(lesson, "evaluate", recorded)
    monkeypatch.setattr(lesson, "train_epoch", one_second)
    run = speedrun(config, "fp32")
    assert run.test_accuracy is None
    assert len(measured) == config.num_epochs
    assert all(torch.equal(y, lesson.mnist.train_labels[split.val]) for y in measured)

    measured.clear()
    run = speedrun(config, "fp32", test=True)
    assert len(measured) == config.num_epochs + 1
    assert all(torch.equal(y, lesson.mnist.train_labels[split.val]) for y in measured[:-1])
    assert torch.equal(measured[-1], lesson.mnist.test_labels[split.test])
    assert 0 <= run.test_accuracy <= 1
    assert run.seconds == [1.0, 2.0, 3.0]  # neither set's measurement is on the clock


def test_an_early_stop_stops_and_threads_come_back(speedrun):
    threads = torch.get_num_threads()
    run = speedrun(TINY, "fp32", threads=1, stop_at=0.0)
    assert len(run.accuracy) == 1
    assert torch.get_num_threads() == threads


def test_the_seed_pipeline_and_for_loop_adam_learn_too(speedrun):
    run = speedrun(TINY, "bf16", pipeline="lesson", fused=False)
    assert run.accuracy[-1] > 0.5


def test_seconds_per_step_times_exactly_the_steps_asked_for(speedrun, monkeypatch):
    """A fake clock that ticks 1 s per training step: the per-step time is 1 s in either
    precision, whatever the number of steps."""
    now = [0.0]
    train_epoch = lesson.train_epoch

    def counted(net, batches, *args, **kwargs):
        now[0] += len(batches)
        return train_epoch(net, batches, *args, **kwargs)

    monkeypatch.setattr(lesson, "CONFIG", lesson.SMOKE)
    monkeypatch.setattr(lesson, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    monkeypatch.setattr(lesson, "train_epoch", counted)
    assert lesson.seconds_per_step("fp32", 3) == 1.0
    assert lesson.seconds_per_step("bf16", 2) == 1.0
