# %% [markdown]
# # Training
#
# The code and the runs of the lesson *Training*: the lesson MLP trained with the plain
# recipe and with the course's final recipe, three seeds each, every run logged for
# TensorBoard, then the classic mistake (a softmax before `CrossEntropyLoss`) measured
# against the plain recipe's first seed. Two or three minutes on a laptop CPU, well under
# one on a GPU; set `MNIST_TUTORIAL_PROFILE=smoke` for a quick run.

# %%
import dataclasses
import json
import math
import statistics
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.ticker import FormatStrFormatter
from torch import nn

from mnist_tutorial import plots
from mnist_tutorial.config import RECIPES, TrainConfig, current_profile
from mnist_tutorial.data import TensorBatches, load_mnist, make_split
from mnist_tutorial.models import MLP, count_parameters
from mnist_tutorial.report import Report
from mnist_tutorial.training import checkpoint_dir, pick_device, save_checkpoint, train_model


@dataclass(frozen=True)
class Config:
    final: TrainConfig = TrainConfig.recipe("final")  # one-cycle Adam, 5 epochs
    plain: TrainConfig = TrainConfig.recipe("plain")  # Adam at lr 1e-3, 8 epochs
    seeds: tuple[int, ...] = (0, 1, 2)  # each recipe runs once per seed


FULL = Config()
SMOKE = dataclasses.replace(FULL, final=FULL.final.smoke(), plain=FULL.plain.smoke())
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()  # $MNIST_TUTORIAL_DEVICE, else CUDA if a GPU is visible, else the CPU
report = Report("training", seeds=CONFIG.seeds, device=device)
print(CONFIG)
print("device:", device)

# %% [markdown]
# ## Two recipes
#
# A recipe fixes everything about training except the seed. The loop that runs it is
# `fit` in `mnist_tutorial/training.py`: in Jupyter, `??fit` and `??train_epoch` show it.

# %%
schedules = {"constant": "constant", "onecycle": "one-cycle (lr is the peak)"}
report.table("softmax_recipes", ["recipe", "epochs", "batch size", "lr", "learning-rate schedule"],
             [[name, r["num_epochs"], r["batch_size"], f"{r['lr']:g}", schedules[r["schedule"]]]
              for name, r in RECIPES.items()],
             "The two training recipes (mnist_tutorial/config.py).")


# %%
def train_seeds(config, seeds, mnist, device, logdir):
    """Train ``config`` once per seed; TensorBoard logs go to ``logdir/seed<k>``."""
    return [train_model(dataclasses.replace(config, seed=seed), mnist, device=str(device),
                        logdir=f"{logdir}/seed{seed}", progress=True)
            for seed in seeds]


def record_runs(report, runs, label, prefix=""):
    """Record the metrics, histories and loss figure of one recipe's runs."""
    test_acc = [r.test_accuracy for r in runs]
    first = statistics.fmean(r.step_loss[0] for r in runs)
    last = statistics.fmean(r.epoch_train_loss[-1] for r in runs)
    num_epochs = len(runs[0].epoch_seconds)
    steps_per_epoch = len(runs[0].step_loss) // num_epochs
    report.metric(f"{prefix}test_accuracy", statistics.fmean(test_acc), "percent", 1)
    report.metric(f"{prefix}test_accuracy_pm", test_acc, "percent", 2)  # mean ± std
    report.metric(f"{prefix}test_accuracy_min", min(test_acc), "percent", 1)
    report.metric(f"{prefix}val_accuracy", statistics.fmean(r.epoch_val_accuracy[-1] for r in runs),
                  "percent", 1)
    report.metric(f"{prefix}first_loss", first, "number", 2)
    report.metric(f"{prefix}final_train_loss", last, "number", 3)
    report.metric(f"{prefix}seconds_per_epoch",
                  statistics.fmean(s for r in runs for s in r.epoch_seconds), "seconds", 1)
    report.metric(f"{prefix}num_epochs", num_epochs, "count")
    report.metric(f"{prefix}num_seeds", len(runs), "count")
    report.metric(f"{prefix}parameters", count_parameters(runs[0].net), "count")
    report.history(f"{prefix}test_accuracy_per_seed", test_acc)
    report.history(f"{prefix}runs", [r.history() for r in runs])
    epochs = f"{num_epochs} epoch{'s' if num_epochs > 1 else ''}"
    report.figure(
        f"{prefix}loss_curve",
        plots.loss_curves([r.step_loss for r in runs], steps_per_epoch,
                          [r.epoch_val_loss for r in runs]),
        alt=(f"Line chart: the {label}'s training loss falls from {first:.2f} to {last:.3f} "
             f"over {epochs} (mean of {len(runs)} seeds, log scale); validation loss is "
             f"marked once per epoch."),
        caption=(f"Training loss of the {label}, every step, mean ± std over {len(runs)} "
                 f"seeds; dots: validation loss after each epoch."))


# %% [markdown]
# ## The plain recipe
#
# Adam at a constant learning rate, where most tutorials start. Its first seed is also
# the correct network of the softmax comparison at the end.

# %%
mnist = load_mnist()
plain_runs = train_seeds(CONFIG.plain, CONFIG.seeds, mnist, device, "runs/plain")

# %%
record_runs(report, plain_runs, "lesson MLP (plain recipe)", prefix="plain_")

# %% [markdown]
# ## The final recipe: one cycle
#
# The learning rate warms up to its peak over the first 30 % of the steps, then anneals
# to almost zero. The first seed's weights are saved for the evaluation notebook.

# %%
final_runs = train_seeds(CONFIG.final, CONFIG.seeds, mnist, device, "runs/final")

# %%
record_runs(report, final_runs, "lesson MLP")
if CONFIG == FULL:
    report.check(statistics.fmean(r.test_accuracy for r in final_runs) >= 0.98,
                 "the final recipe reaches 98 % mean test accuracy")

# %%
run = final_runs[0]  # seed 0
checkpoint = checkpoint_dir() / "mlp-final-seed0.pt"
checkpoint.parent.mkdir(parents=True, exist_ok=True)
save_checkpoint(run.net, checkpoint)
# What the evaluation notebook checks the weights against: the run's recipe and result.
checkpoint.with_suffix(".json").write_text(
    json.dumps({"config": repr(run.config), "test_accuracy": run.test_accuracy}))
print(f"saved {checkpoint} (test accuracy {run.test_accuracy:.2%})")

# %% [markdown]
# ## Watching training with TensorBoard
#
# Every run above wrote its training loss per step and its validation loss and accuracy
# per epoch under `runs/`. In a terminal in this notebook's folder:
#
# ```bash
# tensorboard --logdir runs
# ```
#
# and open <http://localhost:6006>; in Jupyter or Colab, `%load_ext tensorboard` followed
# by `%tensorboard --logdir runs` shows it inside the notebook.

# %% [markdown]
# ## The classic mistake: softmax before `CrossEntropyLoss`
#
# With `softmax_output=True` the lesson MLP ends with `nn.Softmax`, so the loss applies
# a softmax to probabilities. The best the network can then do is a one-hot output:

# %%
# --8<-- [start:loss_floor]
def loss_floor(num_classes=10):
    """The smallest cross-entropy a network with a softmax output layer can reach.

    Its outputs p lie in [0, 1]; CrossEntropyLoss applies softmax again, so the best
    case is p = one-hot, where the true class gets e / (e + num_classes - 1).
    """
    return math.log(1 + (num_classes - 1) / math.e)
# --8<-- [end:loss_floor]


floor = loss_floor()
print(f"lowest loss the softmax network can reach: log(1 + 9/e) = {floor:.4f}")


# %% [markdown]
# At the same initial weights and on the same first batch, how large is the gradient
# with and without the mistake?

# %%
def first_step_gradient_norms(config, mnist):
    """Gradient norm of the first batch's loss, correct vs buggy, at the same initial weights."""
    split = make_split(mnist, config.train_size, config.val_size, config.test_size)
    X, y = next(iter(TensorBatches(mnist.train_images[split.train], mnist.train_labels[split.train],
                                   config.batch_size, shuffle=True, seed=config.seed)))
    norms = []
    for softmax_output in (False, True):
        torch.manual_seed(config.seed)  # identical weights for both networks
        net = MLP(config.hidden, config.activation, softmax_output)
        y_hat = net(X)  # (B, 10): logits, or probabilities with the mistake
        nn.CrossEntropyLoss()(y_hat, y).backward()
        norms.append(torch.cat([p.grad.flatten() for p in net.parameters()]).norm().item())
    return norms[0], norms[1]


def comparison_figure(right, wrong, floor):
    """Training loss per step and validation accuracy per epoch of both runs (SVG text)."""
    steps_per_epoch = len(right.step_loss) // len(right.epoch_seconds)
    with plots.figure(1, 2, figsize=(9, 3.6)) as (fig, (ax_loss, ax_acc)):
        for run, label in ((right, "logits (correct)"), (wrong, "softmax output (bug)")):
            x = np.arange(1, len(run.step_loss) + 1) / steps_per_epoch
            ax_loss.plot(x, run.step_loss, lw=1, label=label)
            epochs = np.arange(1, len(run.epoch_val_accuracy) + 1)
            ax_acc.plot(epochs, 100 * np.asarray(run.epoch_val_accuracy), marker="o", label=label)
        ax_loss.axhline(floor, color="black", lw=0.8, ls="--",
                        label=f"floor with the bug, log(1 + 9/e) = {floor:.3f}")
        ax_loss.set_yscale("log")
        ax_loss.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax_loss.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("training loss (log scale)")
        ax_loss.legend(frameon=False, fontsize=8)
        ax_acc.set_xlabel("epoch")
        ax_acc.set_ylabel("validation accuracy (%)")
        ax_acc.set_xticks(epochs)
        ax_acc.legend(frameon=False, fontsize=8)
        return plots.to_svg(fig)


# %% [markdown]
# Same recipe, same seed, with and without the mistake. The correct run is the plain
# recipe's first seed from above; only the buggy one is trained here.

# %%
right = plain_runs[0]  # logits: the plain recipe, seed 0
wrong = train_model(dataclasses.replace(right.config, softmax_output=True), mnist,
                    device=str(device), logdir="runs/softmax_bug", progress=True)
grad_right, grad_wrong = first_step_gradient_norms(right.config, mnist)

# %%
report.metric("softmax_right_accuracy", right.test_accuracy, "percent", 2)
report.metric("softmax_wrong_accuracy", wrong.test_accuracy, "percent", 2)
report.metric("softmax_right_val_accuracy_first", right.epoch_val_accuracy[0], "percent", 1)
report.metric("softmax_wrong_val_accuracy_first", wrong.epoch_val_accuracy[0], "percent", 1)
report.metric("softmax_accuracy_gap", 100 * (right.test_accuracy - wrong.test_accuracy),
              "number", 1)  # percentage points
report.metric("softmax_right_final_loss", right.epoch_train_loss[-1], "number", 3)
report.metric("softmax_wrong_final_loss", wrong.epoch_train_loss[-1], "number", 3)
report.metric("softmax_loss_floor", floor, "number", 3)
report.metric("softmax_grad_right", grad_right, "number", 3)
report.metric("softmax_grad_wrong", grad_wrong, "number", 3)
report.metric("softmax_grad_ratio", grad_right / grad_wrong, "number", 1)
report.metric("softmax_num_epochs", right.config.num_epochs, "count")
report.history("softmax_wrong", wrong.history())  # the right run is in plain_runs

report.check(min(wrong.step_loss) >= floor - 1e-6,
             "the softmax network's loss never falls below the floor log(1 + 9/e)")
report.check(grad_wrong < grad_right,
             "at the same initial weights the gradient is smaller with the softmax")
report.check(wrong.test_accuracy >= 0.2,
             "the softmax network still learns something (20 % or more; chance is 10 %)")
if CONFIG == FULL:
    report.check(right.epoch_train_loss[-1] < floor / 10,
                 "the correct network's loss ends far below the floor (under a tenth of it)")
    report.check(right.epoch_val_accuracy[0] > wrong.epoch_val_accuracy[0],
                 "the correct network is ahead after the first epoch")
    report.check(right.test_accuracy > wrong.test_accuracy,
                 "the correct network is more accurate on the test set")

# %%
n = right.config.num_epochs
epochs = f"{n} epoch{'s' if n > 1 else ''}"
report.figure(
    "softmax_comparison", comparison_figure(right, wrong, floor),
    alt=(f"Two charts, same seed and recipe. Left: training loss per step; with logits it "
         f"falls to {right.epoch_train_loss[-1]:.3f} (last-epoch mean), with a softmax output "
         f"it stays at {wrong.epoch_train_loss[-1]:.3f}, above the floor log(1 + 9/e) = "
         f"{floor:.3f}. Right: validation accuracy per epoch, ending at "
         f"{right.epoch_val_accuracy[-1]:.1%} with logits and {wrong.epoch_val_accuracy[-1]:.1%} "
         f"with the softmax output."),
    caption=(f"The same MLP, seed and plain recipe ({epochs}), trained on logits (correct) "
             f"and on softmax outputs (the bug)."))

# %% [markdown]
# ## Try it
#
# * Train with `dataclasses.replace(CONFIG.final, schedule="constant")`: what does the
#   one-cycle schedule buy?
# * Double `lr` in the plain recipe and watch the loss curve in TensorBoard.
# * Remove `optimizer.zero_grad(...)` from a copy of `train_epoch`: what happens to the
#   loss?
