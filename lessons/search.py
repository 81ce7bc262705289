# %% [markdown]
# # Grid search and random search
#
# The code and the run of exercise 3: a grid search and a random search with the same
# budget of trials over the MLP's learning rate, width and batch size, each trial a short
# training run scored on the validation set; then the winner is retrained and tested once.
# Every number the exercise quotes is computed here. About 15 seconds on a laptop CPU;
# set `MNIST_TUTORIAL_PROFILE=smoke` for a quick run.

# %%
import dataclasses
import itertools
import math
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import load_mnist
from mnist_tutorial.report import Report, format_value
from mnist_tutorial.training import pick_device, train_model

# %% [markdown]
# ## The search space
#
# Each hyperparameter of the random search is drawn from a distribution of its own:
# log-uniform for the learning rate and the width, one of a few values for the batch size.

# %%
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


# %% [markdown]
# ## The configuration
#
# The grid (3 learning rates × 3 widths, batch size fixed) and the random search's space,
# 9 trials each; a trial trains one epoch on 10,000 training images.

# %%
# --8<-- [start:config]
GRID = (("lr", (1e-4, 1e-3, 1e-2)), ("width", (64, 256, 1024)), ("batch_size", (128,)))
SPACE = (("lr", LogUniform(1e-4, 1e-2)), ("width", IntLogUniform(64, 1024)),
         ("batch_size", Choice((32, 64, 128, 256, 512))))
TRIAL = TrainConfig(num_epochs=1, schedule="constant", train_size=10_000)
# --8<-- [end:config]


@dataclass(frozen=True)
class Config:
    trial: TrainConfig  # what one trial trains (lr, batch size and width replaced)
    grid: tuple[tuple[str, tuple], ...]  # (name, values) pairs
    space: tuple[tuple[str, object], ...]  # (name, distribution) pairs
    num_random_trials: int
    seed: int  # of the random search's draws
    retrain_epochs: int  # the winner, on all training images
    retrain_size: int | None = None  # None: all 50,000


FULL = Config(TRIAL, GRID, SPACE, num_random_trials=9, seed=0, retrain_epochs=2)
SMOKE = Config(
    dataclasses.replace(TRIAL, train_size=512, val_size=256, test_size=512),
    (("lr", (1e-3, 1e-2)), ("width", (64, 256)), ("batch_size", (128,))), SPACE,
    num_random_trials=4, seed=0, retrain_epochs=1, retrain_size=1024)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()
report = Report("search", seeds=[CONFIG.trial.seed], device=device)
print(CONFIG)

# %% [markdown]
# ## The two searches
#
# They share everything but the choice of configurations: every trial is recorded with
# its configuration, its objective (validation accuracy) and its time.

# %%
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


# %% [markdown]
# ## The objective
#
# A trial trains the lesson's MLP family with the trial's learning rate, batch size and
# width, and returns its validation accuracy (never the test accuracy).

# %%
def mlp_config(params: dict, base: TrainConfig) -> TrainConfig:
    """``base`` with a trial's ``lr``, ``batch_size`` and ``width``.

    ``width`` is the first hidden layer; the second has a quarter of it, as in the
    lesson MLP (1024 -> 256).
    """
    return dataclasses.replace(base, lr=params["lr"], batch_size=params["batch_size"],
                               hidden=(params["width"], params["width"] // 4))


# --8<-- [start:objective]
def mlp_trial(base, mnist, device=None) -> Callable[[dict], float]:
    """The objective: train ``base`` with the trial's values, return validation accuracy."""

    def objective(params: dict) -> float:
        result = train_model(mlp_config(params, base), mnist, device=device)
        return result.epoch_val_accuracy[-1]

    return objective
# --8<-- [end:objective]


# %% [markdown]
# ## Both searches, then the winner on the test set, once

# %%
mnist = load_mnist()
# --8<-- [start:run]
objective = mlp_trial(CONFIG.trial, mnist, device)
grid_trials = grid_search(objective, dict(CONFIG.grid))
random_trials = random_search(objective, dict(CONFIG.space), CONFIG.num_random_trials,
                              seed=CONFIG.seed)
all_trials = grid_trials + random_trials
best = best_trial(all_trials)
# Only now, and only for the winner: all training images, then the test set once.
final = train_model(dataclasses.replace(
    mlp_config(best.params, CONFIG.trial), num_epochs=CONFIG.retrain_epochs,
    train_size=CONFIG.retrain_size), mnist, device=device)
# --8<-- [end:run]


# %%
def params_text(params: dict) -> list[str]:
    return [f"{params['lr']:.2g}", str(params["width"]), str(params["batch_size"])]


grid_best, random_best = best_trial(grid_trials), best_trial(random_trials)
report.metric("grid_best", grid_best.value, "percent", 2)
report.metric("random_best", random_best.value, "percent", 2)
report.metric("grid_trials", len(grid_trials), "count")
report.metric("random_trials", len(random_trials), "count")
report.metric("trial_seconds", statistics.fmean(t.seconds for t in all_trials), "seconds", 1)
report.metric("search_seconds", sum(t.seconds for t in all_trials), "seconds", 0)
report.metric("trial_train_size", CONFIG.trial.train_size, "count")
report.check(len(grid_trials) == len(random_trials), "both searches get the same budget of trials")
report.table(
    "trials", ["search", "trial", "lr", "width", "batch size", "validation accuracy", "seconds"],
    [[method, t.number, *params_text(t.params), format_value(t.value, "percent", 2),
      f"{t.seconds:.1f}"]
     for method, trials in (("grid", grid_trials), ("random", random_trials)) for t in trials],
    f"Every trial: one epoch on {CONFIG.trial.train_size:,} training images, "
    "constant learning rate, scored on the validation images.")
report.history("grid", [dataclasses.asdict(t) for t in grid_trials])
report.history("random", [dataclasses.asdict(t) for t in random_trials])

# %% [markdown]
# How many learning rates each search tried, and how much each hyperparameter matters:
# on the grid every learning rate meets every width, so the spread of the average
# accuracy per value says which of the two matters more.

# %%
def spread(trials: list[Trial], name: str) -> float:
    """Range of the mean objective over the values of ``name`` (the others averaged out)."""
    values: dict = {}
    for t in trials:
        values.setdefault(t.params[name], []).append(t.value)
    means = [sum(v) / len(v) for v in values.values()]
    return max(means) - min(means)


distinct_lr = {name: len({t.params["lr"] for t in trials})
               for name, trials in (("grid", grid_trials), ("random", random_trials))}
report.metric("grid_distinct_lr", distinct_lr["grid"], "count")
report.metric("random_distinct_lr", distinct_lr["random"], "count")
report.metric("lr_spread", spread(grid_trials, "lr"), "percent", 1)
report.metric("width_spread", spread(grid_trials, "width"), "percent", 1)
report.check(distinct_lr["grid"] < distinct_lr["random"] == len(random_trials),
             "at the same budget the grid tries fewer learning rates; every random trial "
             "tries a new one")


# %%
def best_so_far_figure(grid_trials: list[Trial], random_trials: list[Trial]) -> str:
    with plots.figure(1, 2, figsize=(9, 3.6), layout="constrained") as (fig, (left, right)):
        for trials, label, marker in ((grid_trials, "grid", "s"), (random_trials, "random", "o")):
            x = np.arange(1, len(trials) + 1)
            left.step(x, np.array(best_so_far(trials)) * 100, where="post", marker=marker,
                      label=f"{label} search")
            right.scatter([t.params["lr"] for t in trials], [t.value * 100 for t in trials],
                          marker=marker, s=[12 + t.params["width"] / 8 for t in trials],
                          alpha=0.75, label=f"{label} search")
        left.set_xlabel("number of trials")
        left.set_ylabel("best validation accuracy so far (%)")
        left.legend(frameon=False)
        right.set_xscale("log")
        right.set_xlabel("learning rate (log scale)")
        right.set_ylabel("validation accuracy (%)")
        right.set_title("every trial (marker area grows with width)", fontsize=9)
        right.legend(frameon=False)
        return plots.to_svg(fig)


report.figure(
    "best_so_far", best_so_far_figure(grid_trials, random_trials),
    alt=(f"Two charts. Left: best validation accuracy after each of {len(grid_trials)} "
         f"trials; grid search ends at {grid_best.value:.2%}, random search at "
         f"{random_best.value:.2%}. Right: validation accuracy of every trial against its "
         f"learning rate (log scale): the grid tries {distinct_lr['grid']} learning rates, "
         f"random search {distinct_lr['random']}."),
    caption=("Left: the best validation accuracy found so far, trial by trial (grid trials "
             "in the grid's order). Right: every trial, by learning rate."))

# %% [markdown]
# The winner, retrained on all training images: the only test-set evaluation of the search.

# %%
winner = "grid" if best in grid_trials else "random"
report.metric("best_lr", best.params["lr"], "number", 4)
report.metric("best_width", best.params["width"], "count")
report.metric("best_batch_size", best.params["batch_size"], "count")
report.metric("retrain_epochs", CONFIG.retrain_epochs, "count")
report.metric("test_accuracy", final.test_accuracy, "percent", 2)
report.metric("final_val_accuracy", final.epoch_val_accuracy[-1], "percent", 2)
report.table(
    "winner", ["found by", "lr", "width", "batch size", "validation accuracy (trial)",
               "test accuracy (retrained)"],
    [[winner, *params_text(best.params), format_value(best.value, "percent", 2),
      format_value(final.test_accuracy, "percent", 2)]],
    f"The best trial of both searches, retrained for {CONFIG.retrain_epochs} epoch(s) on "
    f"{format_value(CONFIG.retrain_size or 50_000, 'count')} training images; the only "
    "test-set evaluation of the search.")
report.history("final", final.history())

# %% [markdown]
# ## The same search with Optuna
#
# Optuna is not a dependency of the course, and this notebook only defines the function:
# to try it, `pip install optuna` and run
# `optuna_search(mlp_trial(TRIAL, mnist), dict(SPACE), num_trials=9)`.

# %%
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
