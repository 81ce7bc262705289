"""Tests of exercise 3: grid and random search by hand (lessons/search.py).

The exercise's run and its claims are checked when its notebook runs (test_notebooks.py).
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from lesson_code import definitions

from mnist_tutorial.config import TrainConfig

lesson = definitions("search")
Choice, IntLogUniform, LogUniform = lesson.Choice, lesson.IntLogUniform, lesson.LogUniform
best_so_far, best_trial = lesson.best_so_far, lesson.best_trial
grid_search, random_search = lesson.grid_search, lesson.random_search
mlp_config, optuna_search = lesson.mlp_config, lesson.optuna_search


def score(params):
    return -abs(math.log10(params["lr"]) + 3)  # best at lr = 1e-3


def recording_objective():
    calls = []

    def objective(params):
        calls.append(dict(params))
        return score(params)

    return objective, calls


def test_grid_search_tries_exactly_the_cartesian_product_in_order():
    grid = {"lr": [1e-4, 1e-3, 1e-2], "width": [64, 256], "batch_size": [128]}
    objective, calls = recording_objective()
    trials = grid_search(objective, grid)
    expected = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    assert calls == expected
    assert [t.params for t in trials] == expected
    assert len({tuple(sorted(p.items())) for p in calls}) == 3 * 2 * 1


def test_every_trial_is_recorded_with_its_value_and_time():
    objective, calls = recording_objective()
    space = {"lr": LogUniform(1e-4, 1e-2), "width": IntLogUniform(64, 1024)}
    trials = random_search(objective, space, num_trials=7, seed=3)
    assert [t.number for t in trials] == list(range(1, 8))
    assert [t.params for t in trials] == calls
    assert [t.value for t in trials] == [score(p) for p in calls]
    assert all(t.seconds >= 0 for t in trials)
    assert best_trial(trials).value == max(t.value for t in trials)
    curve = best_so_far(trials)
    assert curve == sorted(curve) and curve[-1] == best_trial(trials).value


def test_random_search_is_reproducible_with_a_seed():
    space = {"lr": LogUniform(1e-4, 1e-2), "width": IntLogUniform(64, 1024),
             "batch_size": Choice((32, 64, 128))}

    def draws(seed):
        return [t.params for t in random_search(lambda p: 0.0, space, 5, seed=seed)]

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_draws_stay_in_their_declared_ranges():
    rng = random.Random(0)
    lr = [LogUniform(1e-4, 1e-2).sample(rng) for _ in range(2000)]
    width = [IntLogUniform(64, 1024).sample(rng) for _ in range(2000)]
    batch = [Choice((32, 64, 128)).sample(rng) for _ in range(2000)]
    assert all(1e-4 <= v <= 1e-2 for v in lr)
    assert all(isinstance(v, int) and 64 <= v <= 1024 for v in width)
    assert set(batch) == {32, 64, 128}


def test_log_uniform_puts_each_decade_equally_likely():
    rng = random.Random(0)
    lr = [LogUniform(1e-4, 1e-2).sample(rng) for _ in range(4000)]
    below = sum(v < 1e-3 for v in lr) / len(lr)
    # Log-uniform: half the draws in [1e-4, 1e-3]; uniform would put only 9 % there.
    assert 0.46 < below < 0.54
    width = [IntLogUniform(64, 1024).sample(rng) for _ in range(4000)]
    assert 0.46 < sum(w < 256 for w in width) / len(width) < 0.54


def test_a_trial_changes_only_lr_batch_size_and_width():
    base = TrainConfig(num_epochs=1, train_size=100)
    config = mlp_config({"lr": 0.01, "batch_size": 32, "width": 200}, base)
    assert (config.lr, config.batch_size, config.hidden) == (0.01, 32, (200, 50))
    assert (config.num_epochs, config.train_size) == (1, 100)


def test_optuna_search_stores_its_trials_in_sqlite(tmp_path):
    optuna = pytest.importorskip("optuna")  # not a course dependency: skipped without it
    space = {"lr": LogUniform(1e-4, 1e-2), "width": IntLogUniform(64, 1024),
             "batch_size": Choice((32, 64))}
    objective, calls = recording_objective()
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    params, value = optuna_search(objective, space, num_trials=4, storage=storage)
    study = optuna.load_study(study_name="mlp", storage=storage)
    assert len(study.trials) == 4 and len(calls) == 4
    assert value == max(score(p) for p in calls) and params in calls



def test_both_searches_get_the_same_budget():
    for config, budget in ((lesson.FULL, 9), (lesson.SMOKE, None)):
        grid_size = math.prod(len(values) for _, values in config.grid)
        assert grid_size == config.num_random_trials == (budget or grid_size)
    assert lesson.FULL.trial.train_size == 10_000 and lesson.FULL.retrain_size is None
