"""Tests of the speedrun lesson's code: the clock stops while the network is tested,
time to the target is read off the right epoch, an early stop stops, threads come back.

The lesson's runs and claims are checked when its notebook runs (test_notebooks.py).
"""

from __future__ import annotations

import types

import pytest
import torch

from lesson_code import definitions
from mnist_tutorial.config import TrainConfig
from mnist_tutorial.data import load_mnist

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


def test_an_early_stop_stops_and_threads_come_back(speedrun):
    threads = torch.get_num_threads()
    run = speedrun(TINY, "fp32", threads=1, stop_at=0.0)
    assert len(run.accuracy) == 1
    assert torch.get_num_threads() == threads


def test_the_seed_pipeline_and_foreach_adam_learn_too(speedrun):
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
