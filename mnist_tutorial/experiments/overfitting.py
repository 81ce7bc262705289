"""Exercise 2, validation and overfitting: the lesson MLP on 1,000 images for many epochs.

* ``overfitting``: the plain recipe (Adam, constant lr) on a small training set,
  validated after every epoch; the experiment asserts that the validation loss ends
  clearly above its minimum while the training loss keeps falling, and finds where
  early stopping would have stopped.

``early_stopping`` and ``is_overfitting`` are plain Python (no torch), so the tests
can check them on hand-made curves. ``python -m mnist_tutorial run overfitting``
runs (or loads) the experiment.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import TrainConfig
from ..registry import experiment, metric


@dataclass(frozen=True)
class OverfittingConfig:
    train: TrainConfig
    patience: int = 5  # epochs without a new best validation loss before stopping
    min_rise: float = 0.2  # "clearly above": at least 20 % above the minimum
    check_claims: bool = True


# Validating on half of the validation images halves the cost of 60 evaluations.
FULL = OverfittingConfig(TrainConfig.recipe("plain", num_epochs=60, batch_size=64,
                                            train_size=1000, val_size=5000))
SMOKE = OverfittingConfig(TrainConfig.recipe("plain", num_epochs=3, batch_size=64, train_size=256,
                                             val_size=256, test_size=256), check_claims=False)


# --8<-- [start:early_stopping]
def early_stopping(val_losses: list[float], patience: int) -> tuple[int, int]:
    """(best epoch, epoch at which training stops), counting epochs from 1.

    Training stops once ``patience`` epochs in a row bring no new lowest validation
    loss; the weights to keep are those of the best epoch.
    """
    best_epoch, best = 0, float("inf")
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best_epoch, best = epoch, loss
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, len(val_losses)


def is_overfitting(train_losses: list[float], val_losses: list[float],
                   min_rise: float = 0.2) -> bool:
    """True when the validation loss ends ``min_rise`` above its minimum while the
    training loss is still lower than it was at that minimum."""
    best = min(range(len(val_losses)), key=val_losses.__getitem__)
    return (val_losses[-1] >= (1 + min_rise) * val_losses[best]
            and train_losses[-1] < train_losses[best])
# --8<-- [end:early_stopping]


def _figure(result, best_epoch: int, stop_epoch: int) -> str:
    import numpy as np

    from .. import plots

    epochs = np.arange(1, len(result.epoch_val_loss) + 1)
    with plots.figure(1, 2, figsize=(9.5, 3.6), layout="constrained") as (fig, (left, right)):
        left.plot(epochs, result.epoch_train_loss, label="training loss")
        left.plot(epochs, result.epoch_val_loss, label="validation loss")
        left.set_ylim(bottom=0)  # linear: a log scale would flatten the validation loss's rise
        left.set_ylabel("cross-entropy loss")
        right.plot(epochs, np.array(result.epoch_val_accuracy) * 100, color="#2e7d32",
                   label="validation accuracy")
        right.set_ylabel("validation accuracy (%)")
        for ax in (left, right):
            ax.axvline(best_epoch, color="black", ls="--", lw=1,
                       label=f"lowest validation loss (epoch {best_epoch})")
            ax.axvspan(best_epoch, stop_epoch, color="grey", alpha=0.15, lw=0,
                       label=f"early stopping waits until epoch {stop_epoch}")
            ax.set_xlabel("epoch")
            ax.legend(frameon=False, fontsize=8)
        return plots.to_svg(fig)


@experiment("overfitting", "The lesson MLP on 1,000 training images, validated every epoch",
            full=FULL, smoke=SMOKE)
def overfitting(config: OverfittingConfig) -> dict:
    from ..data import load_mnist
    from ..registry import requested_device
    from ..training import train_model

    result = train_model(config.train, load_mnist(), device=requested_device())
    train_loss, val_loss = result.epoch_train_loss, result.epoch_val_loss
    best_epoch, stop_epoch = early_stopping(val_loss, config.patience)
    overfits = is_overfitting(train_loss, val_loss, config.min_rise)
    if config.check_claims and not overfits:
        raise AssertionError(
            f"no clear overfitting: validation loss {val_loss[-1]:.3f} at the end vs "
            f"{min(val_loss):.3f} at its minimum (epoch {best_epoch}); training loss "
            f"{train_loss[-1]:.4f} at the end vs {train_loss[best_epoch - 1]:.4f} then")
    b, n = best_epoch - 1, len(val_loss)
    return {
        "metrics": {
            "train_size": metric(config.train.train_size, "count"),
            "num_epochs": metric(n, "count"),
            "batch_size": metric(config.train.batch_size, "count"),
            "val_size": metric(config.train.val_size or 10_000, "count"),
            "best_epoch": metric(best_epoch, "count"),
            "stop_epoch": metric(stop_epoch, "count"),
            "patience": metric(config.patience, "count"),
            "min_val_loss": metric(val_loss[b], "number", 3),
            "final_val_loss": metric(val_loss[-1], "number", 3),
            "val_loss_rise": metric(val_loss[-1] / val_loss[b] - 1, "percent", 0),
            "train_loss_at_best": metric(train_loss[b], "number", 4),
            "final_train_loss": metric(train_loss[-1], "number", 4),
            "val_accuracy_at_best": metric(result.epoch_val_accuracy[b], "percent", 2),
            "final_val_accuracy": metric(result.epoch_val_accuracy[-1], "percent", 2),
            "max_val_accuracy": metric(max(result.epoch_val_accuracy), "percent", 2),
            "overfitting": metric(int(overfits), "count"),
        },
        "figures": {
            "curves": {
                "svg": _figure(result, best_epoch, stop_epoch),
                "alt": (f"Two charts over {n} epochs of training on "
                        f"{config.train.train_size:,} images. Left: the training loss falls "
                        f"to {train_loss[-1]:.4f}; the validation loss is lowest, "
                        f"{val_loss[b]:.3f}, at epoch {best_epoch} (dashed line) and then "
                        f"rises to {val_loss[-1]:.3f}. Right: validation accuracy, "
                        f"{result.epoch_val_accuracy[b]:.1%} at epoch {best_epoch} and "
                        f"{result.epoch_val_accuracy[-1]:.1%} at the end."),
                "caption": (f"Training and validation loss after every epoch (left) and "
                            f"validation accuracy (right). Dashed: the epoch with the lowest "
                            f"validation loss; shaded: the {config.patience} epochs early "
                            f"stopping waits for a new best before it stops."),
            },
        },
        "histories": {"run": result.history()},
        "seeds": [config.train.seed],
    }
