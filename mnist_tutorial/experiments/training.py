"""Experiments of the training lesson: the lesson MLP, trained with both recipes.

``python -m mnist_tutorial run mlp`` runs (or loads) one of them.
"""

from __future__ import annotations

from ..config import SeedsConfig, TrainConfig
from ..registry import experiment, metric

FINAL = SeedsConfig(TrainConfig.recipe("final"))
PLAIN = SeedsConfig(TrainConfig.recipe("plain"))


def train_seeds(config: SeedsConfig) -> list:
    """Train ``config.train`` once per seed (on the device ``$MNIST_TUTORIAL_DEVICE`` names)."""
    import dataclasses

    from ..data import load_mnist
    from ..registry import requested_device
    from ..training import train_model

    mnist = load_mnist()
    return [train_model(dataclasses.replace(config.train, seed=seed), mnist,
                        device=requested_device(), progress=True)
            for seed in config.seeds]


def summarise(runs: list, label: str) -> dict:
    """Metrics, histories and the loss figure of several seeds of one config."""
    import statistics

    from .. import plots
    from ..models import count_parameters

    def mean(values):
        return statistics.fmean(values)

    test_acc = [r.test_accuracy for r in runs]
    val_acc = [r.epoch_val_accuracy[-1] for r in runs]
    final_loss = [r.epoch_train_loss[-1] for r in runs]
    epoch_s = [s for r in runs for s in r.epoch_seconds]
    steps_per_epoch = len(runs[0].step_loss) // len(runs[0].epoch_seconds)
    first, last = mean([r.step_loss[0] for r in runs]), mean(final_loss)
    num_epochs = len(runs[0].epoch_seconds)
    loss_svg = plots.loss_curves([r.step_loss for r in runs], steps_per_epoch,
                                 [r.epoch_val_loss for r in runs])
    return {
        "metrics": {
            "test_accuracy": metric(mean(test_acc), unit="percent", digits=1),
            "test_accuracy_pm": metric(mean(test_acc), unit="percent", digits=2,
                                       std=statistics.pstdev(test_acc)),
            "test_accuracy_min": metric(min(test_acc), unit="percent", digits=1),
            "val_accuracy": metric(mean(val_acc), unit="percent", digits=1),
            "first_loss": metric(first, digits=2),
            "final_train_loss": metric(last, digits=3),
            "seconds_per_epoch": metric(mean(epoch_s), unit="seconds", digits=1),
            "num_epochs": metric(num_epochs, unit="count"),
            "num_seeds": metric(len(runs), unit="count"),
            "parameters": metric(count_parameters(runs[0].net), unit="count"),
        },
        "histories": {
            "test_accuracy_per_seed": test_acc,
            "runs": [r.history() for r in runs],
        },
        "figures": {
            "loss_curve": {
                "svg": loss_svg,
                "alt": (f"Line chart: the {label}'s training loss falls from {first:.2f} to "
                        f"{last:.3f} over {num_epochs} epoch{'s' if num_epochs > 1 else ''} (mean of {len(runs)} seeds, "
                        f"log scale); validation loss is marked once per epoch."),
                "caption": (f"Training loss of the {label}, every step, mean ± std over "
                            f"{len(runs)} seeds; dots: validation loss after each epoch."),
            },
        },
        "seeds": [r.config.seed for r in runs],
    }


def checkpoint_name(seed: int) -> str:
    """The file of ``mlp``'s cache entry that holds the weights trained with ``seed``."""
    return f"seed{seed}.pt"


@experiment("mlp", "The lesson MLP, final recipe (one-cycle Adam), 3 seeds",
            full=FINAL, smoke=FINAL.smoke())
def mlp(config: SeedsConfig) -> dict:
    """Also saves the first seed's weights, which the evaluation lesson examines."""
    import io

    from ..training import save_checkpoint

    runs = train_seeds(config)
    checkpoint = io.BytesIO()
    save_checkpoint(runs[0].net, checkpoint)
    return summarise(runs, "lesson MLP") | {
        "files": {checkpoint_name(runs[0].config.seed): checkpoint.getvalue()}}


@experiment("mlp_plain", "The lesson MLP, plain recipe (Adam, lr 1e-3, 8 epochs), 3 seeds",
            full=PLAIN, smoke=PLAIN.smoke())
def mlp_plain(config: SeedsConfig) -> dict:
    return summarise(train_seeds(config), "lesson MLP (plain recipe)")
