"""Hyperparameter search by hand: grid search and random search, trial by trial.

A *trial* trains one configuration briefly and returns its validation accuracy
(never the test accuracy: that is looked at once, for the winner only).

* ``grid_search(objective, grid)`` tries every combination of the listed values
  (the Cartesian product), in order.
* ``random_search(objective, space, num_trials, seed)`` draws each hyperparameter
  independently from its declared distribution (``LogUniform``, ``IntLogUniform``,
  ``Choice``); the same seed draws the same configurations.
* ``optuna_search`` runs the same search with Optuna, its trials stored in SQLite.
  Optuna is not a dependency of the course: it is imported only when called
  (``pip install optuna``), and the site build does not run it.

The searches themselves import no torch; ``mlp_trial`` (the objective the course uses)
trains the lesson's MLP family with ``mnist_tutorial.training``.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from dataclasses import dataclass
from typing import Any, Callable


# --8<-- [start:space]
@dataclass(frozen=True)
class LogUniform:
    """A float whose logarithm is uniform: each factor of 10 is as likely as the next."""

    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))


@dataclass(frozen=True)
class IntLogUniform(LogUniform):
    """An integer in [low, high], log-uniform (rounded to the nearest integer)."""

    def sample(self, rng: random.Random) -> int:
        return min(int(self.high), max(int(self.low), round(super().sample(rng))))


@dataclass(frozen=True)
class Choice:
    """One of a few values, each equally likely."""

    values: tuple

    def sample(self, rng: random.Random):
        return rng.choice(self.values)
# --8<-- [end:space]


@dataclass
class Trial:
    number: int  # 1, 2, ... in the order tried
    params: dict[str, Any]
    value: float  # the objective: validation accuracy
    seconds: float


# --8<-- [start:searches]
def grid_search(objective: Callable[[dict], float], grid: dict[str, list]) -> list[Trial]:
    """Every combination of the values in ``grid``: the Cartesian product, in order."""
    names = list(grid)
    configs = [dict(zip(names, values)) for values in itertools.product(*grid.values())]
    return run_trials(objective, configs)


def random_search(objective: Callable[[dict], float], space: dict, num_trials: int,
                  seed: int = 0) -> list[Trial]:
    """``num_trials`` configurations, each hyperparameter drawn independently."""
    rng = random.Random(seed)  # its own generator: the draws never depend on training
    configs = [{name: dist.sample(rng) for name, dist in space.items()}
               for _ in range(num_trials)]
    return run_trials(objective, configs)


def run_trials(objective, configs: list[dict]) -> list[Trial]:
    trials = []
    for number, params in enumerate(configs, start=1):
        start = time.perf_counter()
        value = objective(params)
        trials.append(Trial(number, params, value, time.perf_counter() - start))
    return trials
# --8<-- [end:searches]


def best_so_far(trials: list[Trial]) -> list[float]:
    """The best objective found after 1, 2, ... trials."""
    return list(itertools.accumulate((t.value for t in trials), max))


def best_trial(trials: list[Trial]) -> Trial:
    return max(trials, key=lambda t: t.value)


def mlp_config(params: dict, base):
    """``base`` (a ``TrainConfig``) with a trial's ``lr``, ``batch_size`` and ``width``.

    ``width`` is the first hidden layer; the second has a quarter of it, as in the
    lesson MLP (1024 -> 256).
    """
    import dataclasses

    return dataclasses.replace(base, lr=params["lr"], batch_size=params["batch_size"],
                               hidden=(params["width"], params["width"] // 4))


# --8<-- [start:objective]
def mlp_trial(base, mnist, device: str = "auto") -> Callable[[dict], float]:
    """The objective: train ``base`` with the trial's values, return validation accuracy."""
    from .training import train_model

    def objective(params: dict) -> float:
        result = train_model(mlp_config(params, base), mnist, device=device)
        return result.epoch_val_accuracy[-1]

    return objective
# --8<-- [end:objective]


# --8<-- [start:optuna]
def optuna_search(objective: Callable[[dict], float], space: dict, num_trials: int,
                  storage: str = "sqlite:///search.db", study_name: str = "mlp"):
    """The same search with Optuna; every trial is stored in the database ``storage``.

    Run it in several processes at once, on one machine (SQLite) or on several that
    share a database server (``storage="postgresql://user@host/db"``): each process
    asks the study for its next trial and records the result there.
    """
    import optuna  # not a dependency of the course: pip install optuna

    def suggest(trial: optuna.Trial, name: str, dist):
        if isinstance(dist, IntLogUniform):
            return trial.suggest_int(name, int(dist.low), int(dist.high), log=True)
        if isinstance(dist, LogUniform):
            return trial.suggest_float(name, dist.low, dist.high, log=True)
        return trial.suggest_categorical(name, list(dist.values))

    # The default sampler (TPE) draws its first 10 trials at random, then more often
    # near the best trials so far.
    study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize",
                                load_if_exists=True)
    study.optimize(lambda trial: objective({name: suggest(trial, name, dist)
                                            for name, dist in space.items()}),
                   n_trials=num_trials)
    return study.best_params, study.best_value
# --8<-- [end:optuna]
