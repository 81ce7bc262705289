"""Exercise 3, grid search against random search, the same budget of trials each.

* ``search``: a grid (learning rate x width, batch size fixed) and a random search
  (learning rate, width and batch size all drawn) of the same number of trials;
  each trial trains the MLP for one epoch on a part of the training set and is scored
  on the validation set. The best configuration of both is then retrained on all
  training images and tested once: the only use of the test set.

``python -m mnist_tutorial run search`` runs (or loads) it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import TrainConfig
from ..registry import experiment, metric, table
from ..search import Choice, IntLogUniform, LogUniform


@dataclass(frozen=True)
class SearchConfig:
    trial: TrainConfig  # what one trial trains (lr, batch size and width replaced)
    grid: tuple[tuple[str, tuple], ...]  # (name, values) pairs
    space: tuple[tuple[str, object], ...]  # (name, distribution) pairs
    num_random_trials: int
    seed: int  # of the random search's draws
    retrain_epochs: int  # the winner, on all training images
    retrain_size: int | None = None  # None: all 50,000


# --8<-- [start:config]
GRID = (("lr", (1e-4, 1e-3, 1e-2)), ("width", (64, 256, 1024)), ("batch_size", (128,)))
SPACE = (("lr", LogUniform(1e-4, 1e-2)), ("width", IntLogUniform(64, 1024)),
         ("batch_size", Choice((32, 64, 128, 256, 512))))
TRIAL = TrainConfig(num_epochs=1, schedule="constant", train_size=10_000)
# --8<-- [end:config]

FULL = SearchConfig(TRIAL, GRID, SPACE, num_random_trials=9, seed=0, retrain_epochs=2)
SMOKE = SearchConfig(
    dataclasses.replace(TRIAL, train_size=512, val_size=256, test_size=512),
    (("lr", (1e-3, 1e-2)), ("width", (64, 256)), ("batch_size", (128,))), SPACE,
    num_random_trials=4, seed=0, retrain_epochs=1, retrain_size=1024)


def spread(trials, name: str) -> float:
    """Range of the mean objective over the values of ``name`` (the others averaged out)."""
    values: dict = {}
    for t in trials:
        values.setdefault(t.params[name], []).append(t.value)
    means = [sum(v) / len(v) for v in values.values()]
    return max(means) - min(means)


def _fmt_params(params: dict) -> list[str]:
    return [f"{params['lr']:.2g}", str(params["width"]), str(params["batch_size"])]


def _figure(grid_trials, random_trials):
    import numpy as np

    from .. import plots
    from ..search import best_so_far

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


@experiment("search", "Grid search vs random search over lr, width and batch size",
            full=FULL, smoke=SMOKE)
def search(config: SearchConfig) -> dict:
    import statistics

    from ..data import load_mnist
    from ..registry import requested_device
    from ..search import best_trial, grid_search, mlp_config, mlp_trial, random_search
    from ..training import train_model

    mnist = load_mnist()
    device = requested_device()
    # --8<-- [start:run]
    objective = mlp_trial(config.trial, mnist, device)
    grid_trials = grid_search(objective, dict(config.grid))
    random_trials = random_search(objective, dict(config.space), config.num_random_trials,
                                  seed=config.seed)
    all_trials = grid_trials + random_trials
    best = best_trial(all_trials)
    # Only now, and only for the winner: all training images, then the test set once.
    final = train_model(dataclasses.replace(
        mlp_config(best.params, config.trial), num_epochs=config.retrain_epochs,
        train_size=config.retrain_size), mnist, device=device)
    # --8<-- [end:run]

    grid_best, random_best = best_trial(grid_trials), best_trial(random_trials)
    rows = [[method, t.number, *_fmt_params(t.params), f"{t.value:.2%}".replace("%", "\u00a0%"),
             f"{t.seconds:.1f}"]
            for method, trials in (("grid", grid_trials), ("random", random_trials))
            for t in trials]
    num_trials = len(grid_trials)
    distinct_lr = {name: len({t.params["lr"] for t in trials})
                   for name, trials in (("grid", grid_trials), ("random", random_trials))}
    winner = "grid" if best in grid_trials else "random"
    # On the grid every lr meets every width: the spread of the averages says which matters.
    lr_spread, width_spread = spread(grid_trials, "lr"), spread(grid_trials, "width")
    return {
        "metrics": {
            "grid_best": metric(grid_best.value, "percent", 2),
            "random_best": metric(random_best.value, "percent", 2),
            "grid_trials": metric(num_trials, "count"),
            "random_trials": metric(len(random_trials), "count"),
            "grid_distinct_lr": metric(distinct_lr["grid"], "count"),
            "random_distinct_lr": metric(distinct_lr["random"], "count"),
            "best_lr": metric(best.params["lr"], "number", 4),
            "best_width": metric(best.params["width"], "count"),
            "best_batch_size": metric(best.params["batch_size"], "count"),
            "lr_spread": metric(lr_spread, "percent", 1),
            "width_spread": metric(width_spread, "percent", 1),
            "trial_seconds": metric(statistics.fmean(t.seconds for t in all_trials), "seconds", 1),
            "search_seconds": metric(sum(t.seconds for t in all_trials), "seconds", 0),
            "retrain_epochs": metric(config.retrain_epochs, "count"),
            "trial_train_size": metric(config.trial.train_size, "count"),
            "test_accuracy": metric(final.test_accuracy, "percent", 2),
            "final_val_accuracy": metric(final.epoch_val_accuracy[-1], "percent", 2),
        },
        "tables": {
            "trials": table(
                ["search", "trial", "lr", "width", "batch size", "validation accuracy", "seconds"],
                rows,
                f"Every trial: one epoch on {config.trial.train_size:,} training images, "
                "constant learning rate, scored on the validation images."),
            "winner": table(
                ["found by", "lr", "width", "batch size", "validation accuracy (trial)",
                 "test accuracy (retrained)"],
                [[winner, *_fmt_params(best.params), f"{best.value:.2%}".replace("%", "\u00a0%"),
                  f"{final.test_accuracy:.2%}".replace("%", "\u00a0%")]],
                f"The best trial of both searches, retrained for {config.retrain_epochs} "
                f"epoch(s) on {metric(config.retrain_size or 50_000, 'count')['text']} training "
                "images; the only test-set evaluation of the search."),
        },
        "figures": {
            "best_so_far": {
                "svg": _figure(grid_trials, random_trials),
                "alt": (f"Two charts. Left: best validation accuracy after each of "
                        f"{num_trials} trials; grid search ends at {grid_best.value:.2%}, "
                        f"random search at {random_best.value:.2%}. Right: validation "
                        f"accuracy of every trial against its learning rate (log scale): "
                        f"the grid tries {distinct_lr['grid']} learning rates, random search "
                        f"{distinct_lr['random']}."),
                "caption": ("Left: the best validation accuracy found so far, trial by trial "
                            "(grid trials in the grid's order). Right: every trial, by "
                            "learning rate."),
            },
        },
        "histories": {
            "grid": [dataclasses.asdict(t) for t in grid_trials],
            "random": [dataclasses.asdict(t) for t in random_trials],
            "final": final.history(),
        },
        "seeds": [config.trial.seed],
    }
