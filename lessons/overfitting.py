# %% [markdown]
# # Validation and overfitting
#
# The solution of the exercise *Validation and overfitting* (try it yourself first): the
# lesson MLP trained on 1,000 images for 60 epochs and validated after each, where the
# validation loss turns up while the training loss keeps falling, and where early
# stopping would stop. Every number the page quotes is computed here. About 10 s on a
# laptop CPU; set `MNIST_TUTORIAL_PROFILE=smoke` for a quicker run.

# %%
# --8<-- [start:setup]
from dataclasses import dataclass

import numpy as np

from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import load_mnist
from mnist_tutorial.training import pick_device, train_model


@dataclass(frozen=True)
class Config:
    train: TrainConfig
    patience: int = 5  # epochs without a new best validation loss before stopping
    min_rise: float = 0.2  # "clearly above": at least 20 % above the minimum
    check_claims: bool = True  # the smoke profile's 3 epochs are too few to overfit


# Validating on half of the validation images halves the cost of 60 evaluations.
FULL = Config(TrainConfig.recipe("plain", num_epochs=60, batch_size=64, train_size=1000,
                                 val_size=5000))
SMOKE = Config(TrainConfig.recipe("plain", num_epochs=3, batch_size=64, train_size=256,
                                  val_size=256, test_size=256), check_claims=False)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()
# --8<-- [end:setup]
from mnist_tutorial.report import Report

report = Report("overfitting", seeds=[CONFIG.train.seed], device=device)

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## Early stopping and the overfitting check
#
# Plain Python over the two loss curves, one value per epoch.

# %%
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


# %% [markdown]
# ## A small training set, many epochs
#
# `train_model` validates after every epoch: `epoch_train_loss`, `epoch_val_loss` and
# `epoch_val_accuracy` hold one value per epoch.

# %%
result = train_model(CONFIG.train, load_mnist(), device=device)
train_loss, val_loss = result.epoch_train_loss, result.epoch_val_loss
val_accuracy = result.epoch_val_accuracy

best_epoch, stop_epoch = early_stopping(val_loss, CONFIG.patience)
overfits = is_overfitting(train_loss, val_loss, CONFIG.min_rise)
b, num_epochs = best_epoch - 1, len(val_loss)  # b: the best epoch's index

# %% tags=["report"]
val_size = CONFIG.train.val_size or 10_000
min_val_loss = val_loss[b]
final_val_loss = val_loss[-1]
val_loss_rise = val_loss[-1] / val_loss[b] - 1
final_train_loss = train_loss[-1]
val_accuracy_at_best = val_accuracy[b]
final_val_accuracy = val_accuracy[-1]
max_val_accuracy = max(val_accuracy)
if CONFIG.check_claims:
    # The validation loss ends min_rise or more above its minimum, the training loss still falls.
    val_loss_rises_while_train_falls = overfits

# %% [markdown]
# ## The two curves, and where early stopping stops

# %%
epochs = np.arange(1, num_epochs + 1)
with plots.figure(1, 2, figsize=(9.5, 3.6), layout="constrained") as (fig, (left, right)):
    left.plot(epochs, train_loss, label="training loss")
    left.plot(epochs, val_loss, label="validation loss")
    left.set_ylim(bottom=0)  # linear: a log scale would flatten the validation loss's rise
    left.set_ylabel("cross-entropy loss")
    right.plot(epochs, np.array(val_accuracy) * 100, color="#2e7d32",
               label="validation accuracy")
    right.set_ylabel("validation accuracy (%)")
    for ax in (left, right):
        ax.axvline(best_epoch, color="black", ls="--", lw=1,
                   label=f"lowest validation loss (epoch {best_epoch})")
        ax.axvspan(best_epoch, stop_epoch, color="grey", alpha=0.15, lw=0,
                   label=f"early stopping waits until epoch {stop_epoch}")
        ax.set_xlabel("epoch")
        ax.legend(frameon=False, fontsize=8)
    report.figure("curves", fig)
