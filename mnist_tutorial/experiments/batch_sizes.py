"""Exercise 1, batch sizes: the lesson MLP trained with batch sizes 16 to 1024.

* ``batch_sizes``: the plain recipe (Adam, constant lr 1e-3) with every batch size of
  the config, the same number of epochs on the same training images, over several
  seeds. Loss curves are put on a common axis, *examples seen* (steps x batch size),
  and binned so that every curve has a point after each ``bin_examples`` examples.

``python -m mnist_tutorial run batch_sizes`` runs (or loads) it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import TrainConfig
from ..registry import experiment, metric, table


@dataclass(frozen=True)
class BatchSizesConfig:
    train: TrainConfig  # batch_size and seed are replaced
    batch_sizes: tuple[int, ...] = (16, 64, 256, 1024)
    seeds: tuple[int, ...] = (0, 1, 2)
    bin_examples: int = 1024  # one point of each loss curve per this many examples
    check_claims: bool = True  # assert what the page says (full profile)


# 8,192 = 8 x 1024 images: every batch size divides it, so no epoch ends on a short batch.
FULL = BatchSizesConfig(TrainConfig.recipe("plain", num_epochs=2, train_size=8192))
SMOKE = BatchSizesConfig(TrainConfig.recipe("plain", num_epochs=1, train_size=1024,
                                            val_size=256, test_size=256),
                         check_claims=False)


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("s" if n != 1 else "")


# --8<-- [start:examples_seen]
def binned_loss(step_loss, batch_size: int, bin_examples: int) -> list[float]:
    """Mean training loss over each run of ``bin_examples`` examples seen.

    Step ``i`` has seen ``(i + 1) * batch_size`` examples: on that axis runs with
    different batch sizes share one domain, and binning gives them the same points.
    """
    if bin_examples % batch_size:
        raise ValueError(f"bin_examples={bin_examples} is not a multiple of the batch size "
                         f"{batch_size}")
    steps_per_bin = bin_examples // batch_size
    return [sum(step_loss[i:i + steps_per_bin]) / steps_per_bin
            for i in range(0, len(step_loss) - steps_per_bin + 1, steps_per_bin)]
# --8<-- [end:examples_seen]


def _figure(config: BatchSizesConfig, runs: dict, train_size: int) -> str:
    import numpy as np

    from .. import plots

    with plots.figure(1, 2, figsize=(9.5, 3.8), layout="constrained") as (fig, (left, right)):
        for batch_size, seed_runs in runs.items():
            binned = [binned_loss(r.step_loss, batch_size, config.bin_examples) for r in seed_runs]
            mean, std = plots.mean_std(binned)
            x = np.arange(1, len(mean) + 1) * config.bin_examples
            line, = left.plot(x, mean, lw=1.3, marker="o" if len(x) < 4 else None,
                              label=f"batch {batch_size}")
            left.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.25, lw=0)
            seconds = np.cumsum(plots.mean_std([r.epoch_seconds for r in seed_runs])[0])
            val_mean, val_std = plots.mean_std([r.epoch_val_loss for r in seed_runs])
            right.errorbar(seconds, val_mean, yerr=val_std, marker="o", capsize=3,
                           color=line.get_color(), label=f"batch {batch_size}")
        for ax in (left, right):
            ax.set_yscale("log")
            ax.legend(frameon=False, fontsize=8)
        left.set_xlabel("examples seen (steps × batch size)")
        left.set_ylabel("training loss (log scale)")
        left.set_title(f"mean ± std over {len(config.seeds)} seeds, "
                       f"binned per {config.bin_examples:,} examples", fontsize=9)
        right.set_xlabel("training time (seconds, cumulative)")
        right.set_ylabel("validation loss (log scale)")
        right.set_title("after each epoch", fontsize=9)
        return plots.to_svg(fig)


@experiment("batch_sizes", "The lesson MLP with batch sizes 16 to 1024, 3 seeds each",
            full=FULL, smoke=SMOKE)
def batch_sizes(config: BatchSizesConfig) -> dict:
    import dataclasses
    import statistics

    from ..data import load_mnist
    from ..registry import requested_device
    from ..training import train_model

    mnist = load_mnist()
    # --8<-- [start:runs]
    runs = {batch_size: [train_model(dataclasses.replace(config.train, batch_size=batch_size,
                                                          seed=seed),
                                     mnist, device=requested_device())
                         for seed in config.seeds]
            for batch_size in config.batch_sizes}
    # --8<-- [end:runs]
    train_size = config.train.train_size or 50_000

    def pm(values, scale=1.0, digits=2, suffix=""):
        return (f"{statistics.fmean(values) * scale:.{digits}f} ± "
                f"{statistics.pstdev(values) * scale:.{digits}f}{suffix}").replace(" ", "\u00a0")

    rows, metrics = [], {}
    for batch_size, seed_runs in runs.items():
        epoch_s = [s for r in seed_runs for s in r.epoch_seconds]
        val_acc = [r.epoch_val_accuracy[-1] for r in seed_runs]
        rows.append([batch_size, -(-train_size // batch_size),
                     pm(epoch_s), metric(train_size / statistics.fmean(epoch_s), "count")["text"],
                     pm([r.epoch_val_loss[-1] for r in seed_runs], digits=3),
                     pm(val_acc, 100, 2, "\u00a0%")])
        metrics[f"val_accuracy_{batch_size}"] = metric(
            statistics.fmean(val_acc), "percent", 2, std=statistics.pstdev(val_acc))
        metrics[f"seconds_per_epoch_{batch_size}"] = metric(statistics.fmean(epoch_s), "seconds", 2)

    small, large = min(config.batch_sizes), max(config.batch_sizes)
    acc = {b: metrics[f"val_accuracy_{b}"]["value"] for b in config.batch_sizes}
    sec = {b: metrics[f"seconds_per_epoch_{b}"]["value"] for b in config.batch_sizes}
    last_epoch_loss = {b: statistics.fmean(r.epoch_train_loss[-1] for r in seed_runs)
                       for b, seed_runs in runs.items()}
    best = max(acc, key=acc.get)
    if config.check_claims:  # what the page says
        if not acc[small] > acc[large]:
            raise AssertionError(f"batch {small} should beat batch {large} after the same epochs: "
                                 f"{acc[small]:.2%} vs {acc[large]:.2%}")
        if max(last_epoch_loss, key=last_epoch_loss.get) != large:
            raise AssertionError(f"batch {large} should end with the highest training loss: "
                                 f"{last_epoch_loss}")
        if best in (small, large):
            raise AssertionError(f"the best validation accuracy should be at a middle batch "
                                 f"size, not {best}: {acc}")
        if not sec[small] > sec[large]:
            raise AssertionError(f"an epoch at batch {small} should take longer than at {large}: "
                                 f"{sec[small]:.2f} s vs {sec[large]:.2f} s")

    metrics |= {
        "num_epochs": metric(config.train.num_epochs, "count"),
        "train_size": metric(train_size, "count"),
        "num_seeds": metric(len(config.seeds), "count"),
        "examples_seen": metric(train_size * config.train.num_epochs, "count"),
        "slowdown": metric(sec[small] / sec[large], "number", 0),
        "best_batch_size": metric(best, "count"),
        "best_val_accuracy": metrics[f"val_accuracy_{best}"],
        # What one epoch on all 50,000 images would cost at the smallest batch, all seeds.
        "full_epoch_seconds_small": metric(sec[small] * 50_000 / train_size * len(config.seeds),
                                           "seconds", 0),
    }
    return {
        "metrics": metrics,
        "tables": {
            "summary": table(
                ["batch size", "steps per epoch", "seconds per epoch", "images per second",
                 "validation loss", "validation accuracy"],
                rows,
                f"{_epochs(config.train.num_epochs)} on {metric(train_size, 'count')['text']} "
                f"training images, Adam at a constant lr {config.train.lr:g}; validation after "
                f"the last epoch; mean ± std over {len(config.seeds)} seeds. Times measured "
                "when this page was built."),
        },
        "figures": {
            "curves": {
                "svg": _figure(config, runs, train_size),
                "alt": (f"Two charts. Left: training loss against examples seen (up to "
                        f"{train_size * config.train.num_epochs:,}) for batch sizes "
                        f"{', '.join(map(str, config.batch_sizes))}; batch {large} ends "
                        f"highest, at {last_epoch_loss[large]:.3f} in its last epoch, batch "
                        f"{small} at {last_epoch_loss[small]:.3f}. Right: validation loss "
                        f"against training "
                        f"time; batch {small} ends at {acc[small]:.1%} validation accuracy "
                        f"after {sec[small] * config.train.num_epochs:.0f} s, batch {large} "
                        f"at {acc[large]:.1%} after {sec[large] * config.train.num_epochs:.0f} s."),
                "caption": (f"Left: training loss on a common axis, examples seen, mean ± std "
                            f"over {len(config.seeds)} seeds. Right: validation loss after each "
                            "epoch against the time spent training (mean ± std)."),
            },
        },
        "histories": {str(b): [r.history() for r in seed_runs] for b, seed_runs in runs.items()},
        "seeds": list(config.seeds),
    }
