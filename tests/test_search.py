"""Tests of exercise 3: grid and random search by hand, and Optuna (lessons/search.py).

The exercise's run and its claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import itertools
import math
import os
import random
import time

import cloudpickle  # joblib's (it depends on it from 1.6)
import optuna
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from lesson_code import definitions
from mnist_tutorial.config import TrainConfig
from mnist_tutorial.models import MLP, count_parameters

lesson = definitions("search")
# The worker processes cannot import the home as a module (that would run it): send its
# functions by value, as they are sent from the notebook's __main__.
cloudpickle.register_pickle_by_value(lesson)
Choice, IntLogUniform, LogUniform = lesson.Choice, lesson.IntLogUniform, lesson.LogUniform
best_so_far, best_trial = lesson.best_so_far, lesson.best_trial
grid_search, random_search = lesson.grid_search, lesson.random_search
mlp_config, optuna_search, suggest = lesson.mlp_config, lesson.optuna_search, lesson.suggest
num_weights, trial_cost, training_flop = lesson.num_weights, lesson.trial_cost, lesson.training_flop
SPACE = {"lr": LogUniform(1e-4, 1e-2), "width": IntLogUniform(64, 1024),
         "batch_size": Choice((32, 64))}


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
    trials = random_search(objective, space, budget=7, cost=lambda params: 1.0, seed=3)
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
        return [t.params for t in random_search(lambda p: 0.0, space, 5, lambda p: 1.0, seed)]

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


def test_random_search_spends_at_most_its_budget_and_stops_at_the_first_misfit():
    def cost(params):
        return params["width"] / 100

    trials = random_search(score, SPACE, budget=30.0, cost=cost, seed=0)
    spent = sum(cost(t.params) for t in trials)
    assert len(trials) >= 2 and spent <= 30.0
    # The draw after the last trial is the first that would not have fitted.
    rng = random.Random(0)
    draws = [{name: dist.sample(rng) for name, dist in SPACE.items()}
             for _ in range(len(trials) + 1)]
    assert [t.params for t in trials] == draws[:-1]
    assert spent + cost(draws[-1]) > 30.0


def test_training_flop_is_what_pytorch_counts_for_a_training_step():
    # PyTorch's own counter, on the real network: forward, loss and backward of a batch.
    torch.manual_seed(0)
    for width in (64, 100, 1024):
        net = MLP((width, width // 4))
        assert num_weights(width) == count_parameters(net)
        X, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
        with FlopCounterMode(display=False) as counter:
            F.cross_entropy(net(X), y).backward()
        assert counter.get_total_flops() == 8 * training_flop(width)
        # Below the rule of thumb's 6 per weight: the first layer passes no gradient down.
        assert 4 <= training_flop(width) / num_weights(width) < 6


def test_a_trial_costs_its_flop_per_image_times_the_images_whatever_the_batch_size():
    base = TrainConfig(num_epochs=2, train_size=10_000)
    cost = trial_cost({"width": 1024, "lr": 1e-3, "batch_size": 32}, base)
    assert cost == training_flop(1024) * 2 * 10_000 / 1e9
    assert cost == trial_cost({"width": 1024, "lr": 1e-2, "batch_size": 512}, base)


def test_optuna_draws_from_the_same_distributions():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(50):
        trial = study.ask()
        params = suggest(trial, SPACE)
        assert 1e-4 <= params["lr"] <= 1e-2 and isinstance(params["width"], int)
        assert 64 <= params["width"] <= 1024 and params["batch_size"] in (32, 64)
        study.tell(trial, 0.0)
    distributions = study.trials[0].distributions
    assert distributions["lr"].log and distributions["width"].log
    assert distributions["batch_size"].choices == (32, 64)


def test_two_processes_share_one_sqlite_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'search-study.db'}"

    def make_objective():  # runs in each worker: its objective reports the worker's process
        def objective(params):
            time.sleep(0.2)  # a trial takes time: the two workers overlap
            return float(os.getpid())

        return objective

    study = optuna_search(make_objective, SPACE, budget=8.0, cost=lambda params: 1.0,
                          storage=storage, study_name="test", num_workers=2)
    reloaded = optuna.load_study(study_name="test", storage=storage)
    done = reloaded.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    pruned = reloaded.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    # The workers share the budget: 8 trials of cost 1 (7 if both draw the 8th at once),
    # then each stops at a pruned trial that would not fit.
    assert len(done) in (7, 8) and len(pruned) == 2
    assert sorted({t.user_attrs["worker"] for t in done}) == [0, 1]
    processes = {t.value for t in done}
    assert len(processes) == 2 and os.getpid() not in processes
    assert processes == {t.user_attrs["process"] for t in done}
    assert all(t.user_attrs["seconds"] >= 0 and t.user_attrs["cost"] == 1.0 for t in done)
    # The trials are stored in the file; a rerun starts a fresh study in it.
    assert len(study.trials) == len(reloaded.trials) == len(done) + 2
    optuna_search(make_objective, SPACE, budget=3.0, cost=lambda params: 1.0,
                  storage=storage, study_name="test", num_workers=2)
    assert len(optuna.load_study(study_name="test", storage=storage).get_trials(
        states=(optuna.trial.TrialState.COMPLETE,))) in (2, 3)



def test_the_budget_affords_several_of_the_widest_trials():
    """The grid's compute (the budget) holds a few trials of the space's widest network."""
    for config in (lesson.FULL, lesson.SMOKE):
        grid, space = dict(config.grid), dict(config.space)
        budget = sum(trial_cost({"width": width}, config.trial) for width in grid["width"])
        budget *= math.prod(len(values) for name, values in grid.items() if name != "width")
        widest = trial_cost({"width": int(space["width"].high)}, config.trial)
        assert widest <= budget / 2
    assert math.prod(len(values) for _, values in lesson.FULL.grid) == 9
    assert lesson.FULL.trial.train_size == 10_000 and lesson.FULL.retrain_size is None
