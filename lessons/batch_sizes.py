# %% [markdown]
# # Batch sizes
#
# The solution of the exercise *Batch sizes* (try it yourself first): the lesson MLP
# trained with batch sizes 16 to 1024, the same epochs on the same images, three seeds
# each, compared per example seen and per second, plus one more epoch per batch size
# that records how far every Adam update moves the weights. Every number the page quotes
# is computed here. About half a minute on a laptop CPU; set
# `MNIST_TUTORIAL_PROFILE=smoke` for a quicker run.

# %%
# --8<-- [start:setup]
import dataclasses
import statistics
from dataclasses import dataclass

import numpy as np
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import load_mnist
from mnist_tutorial.models import MLP, count_parameters
from mnist_tutorial.training import pick_device, train_model


@dataclass(frozen=True)
class Config:
    train: TrainConfig  # the plain recipe; batch_size and seed are replaced in each run
    batch_sizes: tuple[int, ...] = (16, 64, 256, 1024)
    seeds: tuple[int, ...] = (0, 1, 2)
    bin_examples: int = 1024  # one point of each loss curve per this many examples
    check_claims: bool = True  # the smoke profile's runs are too short to show the claims


# 8,192 = 8 x 1024 images: every batch size divides it, so no epoch ends on a short batch.
FULL = Config(TrainConfig.recipe("plain", num_epochs=2, train_size=8192))
SMOKE = Config(TrainConfig.recipe("plain", num_epochs=1, train_size=1024, val_size=256,
                                  test_size=256), check_claims=False)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()
# --8<-- [end:setup]
from mnist_tutorial.report import Report, seed_difference, significant_gain

report = Report("batch_sizes", seeds=CONFIG.seeds, device=device)

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## One axis for every batch size
#
# Step $t$ of a run with batch size $B$ has seen $t \cdot B$ examples. Averaging the
# per-step losses over blocks of `bin_examples` examples gives every curve the same
# points on that axis.

# %%
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


# %% [markdown]
# ## The runs
#
# The training lesson's `train_model`, once per batch size and seed. Each run keeps the
# loss of every step, the seconds of every epoch and the validation loss and accuracy
# after every epoch.

# %%
# --8<-- [start:runs]
mnist = load_mnist()
runs = {batch_size: [train_model(dataclasses.replace(CONFIG.train, batch_size=batch_size,
                                                      seed=seed),
                                 mnist, device=device)
                     for seed in CONFIG.seeds]
        for batch_size in CONFIG.batch_sizes}
# --8<-- [end:runs]
train_size = CONFIG.train.train_size or 50_000

# %% [markdown]
# ## Time per epoch and validation accuracy

# %%
rows, sec, val_acc = [], {}, {}
for batch_size, seed_runs in runs.items():
    epoch_s = [s for r in seed_runs for s in r.epoch_seconds]
    val_acc[batch_size] = [r.epoch_val_accuracy[-1] for r in seed_runs]
    rows.append([batch_size, -(-train_size // batch_size), epoch_s,
                 train_size / statistics.fmean(epoch_s),
                 [r.epoch_val_loss[-1] for r in seed_runs], val_acc[batch_size]])  # per seed
    sec[batch_size] = statistics.fmean(epoch_s)

num_epochs = CONFIG.train.num_epochs

# %% tags=["report"]
report.table(
    "summary",
    ["batch size", "steps per epoch", "seconds per epoch", "images per second",
     "validation loss", "validation accuracy"],
    rows, units={"seconds per epoch": "number", "images per second": "count",
                 "validation loss": ("number", 3), "validation accuracy": ("percent", 2)})

# %% [markdown]
# ## What the page claims
#
# Small batches make more updates per epoch and end lower; beyond a point more updates
# bring nothing measurable; an epoch costs more time at small batches.

# %% tags=["report"]
small, large = min(CONFIG.batch_sizes), max(CONFIG.batch_sizes)
last_epoch_loss = {b: statistics.fmean(r.epoch_train_loss[-1] for r in seed_runs)
                   for b, seed_runs in runs.items()}
num_seeds = len(CONFIG.seeds)
examples_seen = train_size * num_epochs
slowdown = sec[small] / sec[large]
# What one epoch on all 50,000 images would cost at the smallest batch, all seeds.
full_epoch_seconds_small = sec[small] * 50_000 / train_size * len(CONFIG.seeds)
# Batch 16 against the next size up: 4 times the updates, and what they bring.
next_size = sorted(CONFIG.batch_sizes)[1]
gain, gain_error = seed_difference(val_acc[small], val_acc[next_size])

# %% tags=["report"]
small_gain_points = 100 * gain
small_gain_error_points = 100 * gain_error
if CONFIG.check_claims:
    # Validation accuracy after the same number of epochs, the smallest batch against the largest.
    smallest_batch_beats_largest = significant_gain(val_acc[small], val_acc[large])
    largest_batch_ends_highest_loss = max(last_epoch_loss, key=last_epoch_loss.get) == large
    # The smallest batch's four times as many updates bring no gain over the next size up.
    more_updates_no_gain = not significant_gain(val_acc[small], val_acc[next_size])
    small_batch_epoch_slower = sec[small] > 2 * sec[large]  # more than twice as long an epoch

# %% [markdown]
# ## How far does one update move the weights?
#
# Adam moves each parameter by $\mathrm{lr} \cdot \hat m / (\sqrt{\hat v} + \epsilon)$: a
# running mean of its gradient divided by the root of a running mean of the gradient's
# square. The scale of the gradient cancels, so no parameter moves much more than `lr`
# per step; when successive gradients disagree in sign, $\hat m$ partly cancels and the
# step shrinks. A *full step*, every parameter moving by `lr`, has norm
# $\mathrm{lr}\sqrt{P}$ for $P$ parameters. One more epoch per batch size (seed 0)
# records the norm of every update:

# %%
# --8<-- [start:update_sizes]
def update_sizes(config, mnist, device):
    """Norm of the change every optimiser step makes to the weights, over one run."""
    sizes, before = [], {}

    def snapshot(optimizer, args, kwargs):  # called before every optimizer.step()
        before.update({p: p.detach().clone()
                       for group in optimizer.param_groups for p in group["params"]})

    def measure(optimizer, args, kwargs):  # and after it
        squares = sum(((p.detach() - old) ** 2).sum() for p, old in before.items())
        sizes.append(squares.sqrt().item())

    hooks = [register_optimizer_step_pre_hook(snapshot),
             register_optimizer_step_post_hook(measure)]
    try:
        train_model(config, mnist, device=device)
    finally:
        for hook in hooks:
            hook.remove()
    return sizes
# --8<-- [end:update_sizes]


def displacement(run):
    """How far a run's final weights are from its initial ones (L2 norm over all)."""
    torch.manual_seed(run.config.seed)  # train_model's initial weights, rebuilt
    start = MLP(run.config.hidden, run.config.activation, run.config.softmax_output)
    return torch.sqrt(sum(((p.detach().cpu() - p0) ** 2).sum()
                          for p, p0 in zip(run.net.parameters(), start.parameters()))).item()


# %%
one_epoch = dataclasses.replace(CONFIG.train, num_epochs=1, seed=CONFIG.seeds[0])
full_step = CONFIG.train.lr * count_parameters(runs[small][0].net) ** 0.5  # lr * sqrt(P)
step_ratio, path, moved, update_rows = {}, {}, {}, []
for batch_size in CONFIG.batch_sizes:
    sizes = update_sizes(dataclasses.replace(one_epoch, batch_size=batch_size), mnist, device)
    step_ratio[batch_size] = statistics.fmean(sizes) / full_step
    path[batch_size] = sum(sizes)  # distance travelled along the way in the first epoch
    moved[batch_size] = statistics.fmean(displacement(r) for r in runs[batch_size])
    update_rows.append([batch_size, len(sizes), step_ratio[batch_size], path[batch_size],
                        moved[batch_size]])

# %% tags=["report"]
path_ratio = path[small] / path[large]
moved_column = f"distance from the initial weights after {num_epochs} epoch{'s' * (num_epochs != 1)}"
report.table(
    "updates",
    ["batch size", "steps in the first epoch", "mean step ÷ full step (lr·√P)",
     "distance travelled in the first epoch", moved_column], update_rows,
    units={"mean step ÷ full step (lr·√P)": "number",
           "distance travelled in the first epoch": ("number", 1), moved_column: ("number", 1)})
# No batch size's mean Adam step is longer than a full step lr·√P (give or take 5 %).
steps_within_full_step = all(0 < r <= 1.05 for r in step_ratio.values())
if CONFIG.check_claims:
    small_batch_steps_shorter = step_ratio[small] < step_ratio[large]
    # Yet the smallest batch's weights travel farther, and end farther from their start.
    small_batch_travels_farther = path[small] > path[large] and moved[small] > moved[large]

# %% [markdown]
# ## Per example seen and per second

# %%
with plots.figure(1, 2, figsize=(9.5, 3.8), layout="constrained") as (fig, (left, right)):
    for batch_size, seed_runs in runs.items():
        binned = [binned_loss(r.step_loss, batch_size, CONFIG.bin_examples) for r in seed_runs]
        mean, std = plots.mean_std(binned)  # (num_bins,)
        x = np.arange(1, len(mean) + 1) * CONFIG.bin_examples  # examples seen
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
    left.set_title(f"mean ± std over {len(CONFIG.seeds)} seeds, "
                   f"binned per {CONFIG.bin_examples:,} examples", fontsize=9)
    right.set_xlabel("training time (seconds, cumulative)")
    right.set_ylabel("validation loss (log scale)")
    right.set_title("after each epoch", fontsize=9)
    report.figure("curves", fig)
