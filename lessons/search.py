# %% [markdown]
# # Grid search, random search and Optuna
#
# The code and the run of exercise 3: a grid search, a random search and an Optuna study
# (TPE, two worker processes sharing one SQLite database) with the same compute budget
# over the MLP's learning rate, width and batch size, each trial a short training run
# scored on the validation set; then the winner is retrained and tested once. Every
# number the exercise quotes is computed here. About half a minute on a laptop CPU; set
# `MNIST_TUTORIAL_PROFILE=smoke` for a quick run. Needs Optuna and joblib (the course's
# `site` and `test` extras; elsewhere `pip install optuna joblib`).

# %%
# --8<-- [start:setup]
import dataclasses
import functools
import itertools
import math
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import optuna

from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import NUM_TRAIN, load_mnist
from mnist_tutorial.training import pick_device, train_model

optuna.logging.set_verbosity(optuna.logging.WARNING)  # else a log line per trial
# --8<-- [end:setup]

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
# The grid (3 learning rates × 3 widths, batch size fixed) and the random search's space;
# a trial trains one epoch on 10,000 training images. The grid's compute is the budget
# that the random search and the Optuna study get too.

# %%
# --8<-- [start:config]
GRID = (("lr", (1e-4, 1e-3, 1e-2)), ("width", (64, 256, 1024)), ("batch_size", (128,)))
SPACE = (("lr", LogUniform(1e-4, 1e-2)), ("width", IntLogUniform(64, 1024)),
         ("batch_size", Choice((32, 64, 128, 256, 512))))
TRIAL = TrainConfig(num_epochs=1, schedule="constant", train_size=10_000)
NUM_WORKERS = 2  # processes sharing the Optuna study
NUM_STARTUP_TRIALS = 4  # TPE's random start (Optuna's default is 10)


@dataclass(frozen=True)
class Config:
    trial: TrainConfig  # what one trial trains (lr, batch size and width replaced)
    grid: tuple[tuple[str, tuple], ...]  # (name, values) pairs
    space: tuple[tuple[str, object], ...]  # (name, distribution) pairs
    seed: int  # of the random search's draws and of the Optuna workers' samplers
    retrain_epochs: int  # the winner, on all training images
    retrain_size: int | None = None  # None: all 50,000
    # How far an accuracy that depends on the Optuna workers' race may move between runs:
    # a few points on the full run, much more on the smoke profile's 256 validation images.
    race_tolerance: float = 0.03


FULL = Config(TRIAL, GRID, SPACE, seed=0, retrain_epochs=2)
SMOKE = Config(  # widths up to the grid's largest, so that a few random trials fit its budget
    dataclasses.replace(TRIAL, train_size=512, val_size=256, test_size=512),
    (("lr", (1e-3, 1e-2)), ("width", (64, 256)), ("batch_size", (128,))),
    (("lr", LogUniform(1e-4, 1e-2)), ("width", IntLogUniform(32, 256)),
     ("batch_size", Choice((32, 64, 128)))),
    seed=0, retrain_epochs=1, retrain_size=1024, race_tolerance=0.25)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()
# --8<-- [end:config]
from mnist_tutorial.report import Report

report = Report("search", seeds=[CONFIG.trial.seed], device=device)

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## What a trial costs
#
# A trial's arithmetic is set by its network and by how many images it trains on: the
# matrix products of one forward and one backward pass per image, 2 floating-point
# operations per multiply-add. The batch size changes the number of steps, not this
# count (small batches take more seconds for it, each step having a fixed overhead).

# %%
# --8<-- [start:cost]
def mlp_sizes(width: int) -> tuple[int, ...]:
    """The MLP 784 -> width -> width // 4 -> 10."""
    return (28 * 28, width, width // 4, 10)


def num_weights(width: int) -> int:
    """Weights and biases of the MLP."""
    sizes = mlp_sizes(width)
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))


def training_flop(width: int) -> int:
    """Floating-point operations of the matrix products that train on one image.

    Forward, layer by layer: one multiply-add per weight. Backward: the weights' gradient,
    as many again, and the gradient passed down to the layer below, as many again, except
    in the first layer: below it is the image, which does not learn.
    """
    sizes = mlp_sizes(width)
    per_layer = [n_in * n_out for n_in, n_out in zip(sizes, sizes[1:])]  # multiply-adds
    multiply_adds = sum(per_layer) + 2 * sum(per_layer) - per_layer[0]  # forward + backward
    return 2 * multiply_adds  # a multiply-add is 2 operations


def trial_cost(params: dict, base: TrainConfig) -> float:
    """Training compute of one trial in GFLOP: per image, times the images it trains on."""
    return training_flop(params["width"]) * base.num_epochs * base.train_size / 1e9
# --8<-- [end:cost]


# %% [markdown]
# Per weight, that is less than the 6 operations of the usual rule of thumb (2 forward,
# 4 backward): the first layer, which holds most of the weights, passes no gradient down.

# %%
grid_widths = dict(CONFIG.grid)["width"]
narrow, wide = min(grid_widths), max(grid_widths)
flop_per_weight = {width: training_flop(width) / num_weights(width) for width in (narrow, wide)}
first_layer = mlp_sizes(wide)[0] * mlp_sizes(wide)[1]  # the first layer's weights

# %% tags=["report"]
flop_per_weight_narrow = flop_per_weight[narrow]
flop_per_weight_wide = flop_per_weight[wide]
first_layer_share_wide = first_layer / num_weights(wide)
first_layer_share_narrow = mlp_sizes(narrow)[0] * mlp_sizes(narrow)[1] / num_weights(narrow)
flop_per_weight_between_4_and_6 = all(4 <= v < 6 for v in flop_per_weight.values())


# %% [markdown]
# ## The two searches by hand
#
# They share everything but the choice of configurations: every trial is recorded with
# its configuration, its objective (validation accuracy) and its time. The grid spends
# what its grid costs; the random search draws until the next draw would not fit in
# that budget.

# %%
# --8<-- [start:searches]
@dataclass
class Trial:
    number: int  # 1, 2, ... in the order tried
    params: dict[str, Any]
    value: float  # the objective: validation accuracy
    seconds: float


def grid_search(objective: Callable[[dict], float], grid: dict[str, list]) -> list[Trial]:
    """Every combination of the values in ``grid``: the Cartesian product, in order."""
    names = list(grid)
    configs = [dict(zip(names, values)) for values in itertools.product(*grid.values())]
    return run_trials(objective, configs)


def random_search(objective: Callable[[dict], float], space: dict, budget: float,
                  cost: Callable[[dict], float], seed: int = 0) -> list[Trial]:
    """Independent draws of every hyperparameter, while their ``cost`` fits in ``budget``."""
    rng = random.Random(seed)  # its own generator: the draws never depend on training
    configs, spent = [], 0.0
    while True:
        params = {name: dist.sample(rng) for name, dist in space.items()}
        if spent + cost(params) > budget:
            return run_trials(objective, configs)
        configs.append(params)
        spent += cost(params)


def run_trials(objective, configs: list[dict]) -> list[Trial]:
    trials = []
    for number, params in enumerate(configs, start=1):
        start = time.perf_counter()
        value = objective(params)
        trials.append(Trial(number, params, value, time.perf_counter() - start))
    return trials


def best_so_far(trials: list[Trial]) -> list[float]:
    """The best objective found after 1, 2, ... trials."""
    return list(itertools.accumulate((t.value for t in trials), max))


def best_trial(trials: list[Trial]) -> Trial:
    return max(trials, key=lambda t: t.value)
# --8<-- [end:searches]


# %% [markdown]
# ## The objective
#
# A trial trains the lesson's MLP family with the trial's learning rate, batch size and
# width, and returns its validation accuracy (never the test accuracy).

# %%
# --8<-- [start:objective]
def mlp_config(params: dict, base: TrainConfig) -> TrainConfig:
    """``base`` with a trial's ``lr``, ``batch_size`` and ``width``.

    ``width`` is the first hidden layer; the second has a quarter of it, as in the
    lesson MLP (1024 -> 256).
    """
    return dataclasses.replace(base, lr=params["lr"], batch_size=params["batch_size"],
                               hidden=(params["width"], params["width"] // 4))


def mlp_trial(base, mnist, device=None) -> Callable[[dict], float]:
    """The objective: train ``base`` with the trial's values, return validation accuracy."""
    # A tiny run first: the first optimiser of a process imports part of torch (seconds),
    # a start-up cost that would otherwise be billed to whichever trial comes first.
    train_model(dataclasses.replace(base, train_size=256, val_size=256, test_size=256),
                mnist, device=device)

    def objective(params: dict) -> float:
        result = train_model(mlp_config(params, base), mnist, device=device)
        return result.epoch_val_accuracy[-1]

    return objective
# --8<-- [end:objective]


# %% [markdown]
# ## The same search with Optuna, in two processes
#
# Optuna keeps the study (every trial, its values and its state) in a database. Each
# worker process opens the same study, asks it for a trial, trains, and records the
# result there; TPE, Optuna's default sampler, draws its first trials at random and then
# more often where the good trials so far are. The workers share the same compute budget
# through the study: each trial records its cost there before it trains.

# %%
# --8<-- [start:optuna]
def suggest(trial: optuna.Trial, space: dict) -> dict:
    """The trial's values, drawn by Optuna from the distributions of ``space``."""
    params = {}
    for name, dist in space.items():
        if isinstance(dist, IntLogUniform):
            params[name] = trial.suggest_int(name, int(dist.low), int(dist.high), log=True)
        elif isinstance(dist, LogUniform):
            params[name] = trial.suggest_float(name, dist.low, dist.high, log=True)
        else:
            params[name] = trial.suggest_categorical(name, list(dist.values))
    return params


def spent(study: optuna.Study) -> float:
    """The cost of the study's trials, trained or in training (in any worker)."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)
    return sum(t.user_attrs.get("cost", 0.0) for t in study.get_trials(deepcopy=False,
                                                                        states=states))


def optuna_worker(worker: int, make_objective: Callable, space: dict, budget: float,
                  cost: Callable[[dict], float], storage: str, study_name: str,
                  seed: int = 0, num_startup_trials: int = NUM_STARTUP_TRIALS) -> None:
    """One process: trials of the shared study, while the study's ``cost`` fits in ``budget``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a new process: Optuna's default
    objective = make_objective()  # e.g. load the data, once per process
    # TPE samples at random until num_startup_trials trials exist, then from its model.
    # A seed of its own per worker, or both would draw the same random start;
    # constant_liar: a trial still running in the other worker counts as a poor one,
    # so that the two do not both sample next to the same good trial.
    sampler = optuna.samplers.TPESampler(n_startup_trials=num_startup_trials,
                                         seed=seed + worker, constant_liar=True)
    study = optuna.create_study(study_name=study_name, storage=storage, sampler=sampler,
                                direction="maximize", load_if_exists=True)
    def run(trial: optuna.Trial) -> float:
        finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                            optuna.trial.TrialState.PRUNED))
        # What TPE will do for this trial: it counts finished trials, as here.
        trial.set_user_attr("sampled_by", "TPE" if len(finished) >= num_startup_trials
                            else "random start")
        params = suggest(trial, space)
        trial.set_user_attr("cost", cost(params))  # written first: the others now see it
        if spent(study) > budget:  # this trial does not fit: the random search's rule
            study.stop()  # this worker's last trial: recorded as pruned, not trained
            raise optuna.TrialPruned("over the budget")
        trial.set_user_attr("worker", worker)
        trial.set_user_attr("process", os.getpid())
        start = time.perf_counter()
        value = objective(params)
        trial.set_user_attr("seconds", time.perf_counter() - start)
        return value

    study.optimize(run, n_trials=1_000)  # in practice the budget stops it first


def optuna_search(make_objective: Callable, space: dict, budget: float,
                  cost: Callable[[dict], float], storage: str = "sqlite:///search-study.db",
                  study_name: str = "mlp", num_workers: int = NUM_WORKERS,
                  seed: int = 0) -> optuna.Study:
    """A fresh study, then ``num_workers`` processes share it and its ``budget``."""
    try:  # start over: a rerun of the notebook would otherwise add to the last study
        optuna.delete_study(study_name=study_name, storage=storage)
    except KeyError:
        pass
    optuna.create_study(study_name=study_name, storage=storage, direction="maximize")
    # Processes, not threads: each worker is a program of its own, as it would be on
    # another machine, and Python's lock does not serialise them. joblib's default backend
    # starts fresh interpreters and ships functions defined in a notebook with
    # cloudpickle, so this works the same in Jupyter, Colab, macOS and Windows (a
    # 'spawn' multiprocessing pool cannot import a notebook's functions; 'fork' does
    # not exist on Windows, is unsafe on macOS and breaks CUDA once the notebook has
    # used the GPU). joblib also limits each worker to its share of the CPU's cores.
    joblib.Parallel(n_jobs=num_workers)(
        joblib.delayed(optuna_worker)(worker, make_objective, space, budget, cost, storage,
                                      study_name, seed)
        for worker in range(num_workers))
    return optuna.load_study(study_name=study_name, storage=storage)


def study_trials(study: optuna.Study) -> list[Trial]:
    """The study's trained trials, in the order they were asked for, as ``Trial`` records."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return [Trial(t.number + 1, dict(t.params), t.value, t.user_attrs["seconds"])
            for t in sorted(done, key=lambda t: t.number)]
# --8<-- [end:optuna]


# %% [markdown]
# ## The three searches, then the winner on the test set, once

# %%
# --8<-- [start:run]
mnist = load_mnist()
objective = mlp_trial(CONFIG.trial, mnist, device)
grid_trials = grid_search(objective, dict(CONFIG.grid))
cost = functools.partial(trial_cost, base=CONFIG.trial)  # cost(params) in GFLOP
budget = sum(cost(t.params) for t in grid_trials)  # what the grid spent
random_trials = random_search(objective, dict(CONFIG.space), budget, cost, seed=CONFIG.seed)
study = optuna_search(lambda: mlp_trial(CONFIG.trial, load_mnist(), device),
                      dict(CONFIG.space), budget, cost, seed=CONFIG.seed)
optuna_trials = study_trials(study)

searches = {"grid": grid_trials, "random": random_trials, "Optuna": optuna_trials}
best = best_trial(grid_trials + random_trials + optuna_trials)
# Only now, and only for the winner: all training images, then the test set once.
final = train_model(dataclasses.replace(
    mlp_config(best.params, CONFIG.trial), num_epochs=CONFIG.retrain_epochs,
    train_size=CONFIG.retrain_size), mnist, device=device)
# --8<-- [end:run]


# %% [markdown]
# Each search's budget, trials and best trial. Optuna's trials differ from run to run:
# which worker asks first decides what TPE has seen, so its numbers get a tolerance.

# %%
def params_text(params: dict) -> list[str]:
    return [f"{params['lr']:.2g}", str(params["width"]), str(params["batch_size"])]


used = {method: sum(cost(t.params) for t in trials) for method, trials in searches.items()}
seconds = {method: sum(t.seconds for t in trials) for method, trials in searches.items()}
best_of = {method: best_trial(trials) for method, trials in searches.items()}
trained = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
processes = {t.user_attrs["process"] for t in trained}
sampled_by = {t.number + 1: t.user_attrs["sampled_by"] for t in trained}
num_tpe = sum(how == "TPE" for how in sampled_by.values())

# %% tags=["report"]
budget_gflop = budget
grid_best = best_of["grid"].value
random_best = best_of["random"].value
optuna_best = best_of["Optuna"].value
num_trials = {name.lower(): len(trials) for name, trials in searches.items()}
# How many of the workers finished a trial before the budget ran out: a race.
optuna_workers = len(processes)
optuna_startup_trials = NUM_STARTUP_TRIALS
trial_seconds = statistics.fmean(t.seconds for t in grid_trials + random_trials)
searches_share_grid_budget = used["grid"] == budget and max(used.values()) <= budget
trials_ran_in_workers = os.getpid() not in processes
if current_profile() == "full":  # smoke: a handful of short trials, maybe all in one worker
    each_search_spends_half_budget = min(used.values()) > budget / 2
    both_workers_recorded_trials = len(processes) == NUM_WORKERS
    study_goes_past_random_start = num_tpe > 0
report.table(
    "searches", ["search", "trials", "compute (GFLOP)", "training seconds",
                 "best validation accuracy"],
    [[method, len(trials), used[method], seconds[method], best_of[method].value]
     for method, trials in searches.items()],
    units={"compute (GFLOP)": ("number", 1), "training seconds": ("number", 1),
           "best validation accuracy": "percent"})
report.table(
    "trials", ["search", "trial", "lr", "width", "batch size", "GFLOP",
               "validation accuracy", "seconds"],
    [[method if method != "Optuna" else f"Optuna ({sampled_by[t.number]})",
      t.number, *params_text(t.params), cost(t.params), t.value, t.seconds]
     for method, trials in searches.items() for t in trials],
    units={"GFLOP": ("number", 1), "validation accuracy": "percent", "seconds": ("number", 1)})

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


distinct_lr = {method: len({t.params["lr"] for t in trials})
               for method, trials in searches.items()}
grid_distinct_lr = distinct_lr["grid"]
random_distinct_lr = distinct_lr["random"]
# Differences of accuracies are in percentage points: 100 × (a - b), unit "number".
lr_spread = 100 * spread(grid_trials, "lr")
width_spread = 100 * spread(grid_trials, "width")
worst = min(grid_trials, key=lambda t: t.value)
grid_worst = worst.value
bests = [trial.value for trial in best_of.values()]

# %% tags=["report"]
# Optuna's best moves with the race, and with it this range, anywhere from 0 up.
bests_range = 100 * (max(bests) - min(bests))
# ...and every random trial tries a new one
grid_tries_fewer_learning_rates = distinct_lr["grid"] < distinct_lr["random"] == len(random_trials)
if current_profile() == "full":  # smoke: 4 trials on 512 images say little
    # neither dominates: their spreads are within a factor of 2 of each other
    lr_and_width_matter_alike = 0.5 < lr_spread / width_spread < 2
    grid_worst_is_slowest_narrowest = (worst.params["lr"] == min(dict(CONFIG.grid)["lr"])
                                       and worst.params["width"] == narrow)


# %%
def best_so_far_figure(searches: dict[str, list[Trial]], cost: Callable[[dict], float],
                       budget: float) -> str:
    markers = {"grid": "s", "random": "o", "Optuna": "^"}
    with plots.figure(1, 2, figsize=(9, 3.6), layout="constrained") as (fig, (left, right)):
        for method, trials in searches.items():
            spent = np.cumsum([cost(t.params) for t in trials])
            left.step(spent, np.array(best_so_far(trials)) * 100, where="post",
                      marker=markers[method], label=method)
            right.scatter([t.params["lr"] for t in trials], [t.value * 100 for t in trials],
                          marker=markers[method], s=[12 + t.params["width"] / 8 for t in trials],
                          alpha=0.75, label=method)
        left.axvline(budget, color="0.5", linestyle=":", linewidth=1)
        left.set_xlabel("compute spent (GFLOP of training)")
        left.set_ylabel("best validation accuracy so far (%)")
        left.legend(frameon=False)
        right.set_xscale("log")
        right.set_xlabel("learning rate (log scale)")
        right.set_ylabel("validation accuracy (%)")
        right.set_title("every trial (marker area grows with width)", fontsize=9)
        right.legend(frameon=False)
        return plots.to_svg(fig)

# %% tags=["report"]
report.figure("best_so_far", best_so_far_figure(searches, cost, budget))

# %% [markdown]
# The winner, retrained on all training images: the only test-set evaluation of the search.

# %% tags=["report"]
winner = next(method for method, trials in searches.items() if best in trials)
# Optuna's trials, and so maybe the winner and its batch size, change from run to run.
best_lr = best.params["lr"]
retrain_steps = len(final.step_loss)
# The training lesson's recipe, for the page's comparison: epochs, steps, peak lr, batch size.
lesson = TrainConfig.recipe("final")

# %% tags=["report"]
lesson_epochs = lesson.num_epochs
lesson_steps = lesson.num_epochs * -(-NUM_TRAIN // lesson.batch_size)
lesson_lr = lesson.lr
lesson_batch_size = lesson.batch_size
test_accuracy = final.test_accuracy
final_val_accuracy = final.epoch_val_accuracy[-1]
# 98 %: what the training lesson checks that its recipe reaches.
winner_stays_below_98_percent = final.test_accuracy < 0.98
if current_profile() == "full":  # smoke: 256 validation images, too few to compare
    winner_val_and_test_agree = abs(final.test_accuracy - final.epoch_val_accuracy[-1]) < 0.01
report.table(
    "winner", ["found by", "lr", "width", "batch size", "validation accuracy (trial)",
               "test accuracy (retrained)"],
    [[winner, *params_text(best.params), best.value, final.test_accuracy]],
    units={"validation accuracy (trial)": "percent", "test accuracy (retrained)": "percent"})
