# %% [markdown]
# # How fast can it learn?
#
# The code of the lesson *How fast can it learn?*: the lesson MLP, unchanged, trained to
# 98 % validation accuracy in as little wall time as this machine allows, every ingredient
# of the recipe removed in turn and measured, and the seed notebook's recipe timed beside
# it. Every choice is made on the validation images; the test images are used once, for the
# recipe's final accuracy. About three minutes on a laptop CPU; set
# `MNIST_TUTORIAL_PROFILE=smoke` for a quicker run.

# %%
# --8<-- [start:setup]
import dataclasses
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import TensorBatches, lesson_loader, load_mnist, make_split
from mnist_tutorial.models import MLP
from mnist_tutorial.training import (
    EVAL_BATCH_SIZE,
    evaluate,
    make_optimizer,
    pick_device,
    pick_precision,
    train_epoch,
)


@dataclass(frozen=True)
class Config:
    recipe: TrainConfig  # the speedrun's recipe; its seed is replaced in each run
    seed_recipe: TrainConfig  # the seed notebook's: Adam at lr 1e-3, batch 256, no schedule
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # the recipe's runs
    ablation_seeds: tuple[int, ...] = (0, 1)  # each change to the training, on these seeds
    # The smallest effect, judged on every seed of the recipe: on two seeds, one no-smoothing
    # run at 97.95 % made its gain (0.25 points) fall within 2 standard errors.
    every_seed_ablations: tuple[str, ...] = ("no label smoothing",)
    target: float = 0.98  # validation accuracy: the finish line
    # The seed notebook's recipe hovers right at 98 % (with some seeds it never gets there),
    # so it is compared with the recipe where both always get.
    compare_at: float = 0.975
    # Validation stands in for the test set only if the two agree: on every seed of the
    # recipe, their accuracies differ by less than this.
    max_val_test_gap: float = 0.01
    precision_steps: int = 10  # the other precision is timed on this many steps ...
    precision_rounds: int = 3  # ... this many times, alternating with this machine's
    check_claims: bool = True  # the smoke profile's runs are too short to show the claims


# --8<-- [start:recipe]
RECIPE = TrainConfig(num_epochs=2, batch_size=256, lr=5e-3, schedule="onecycle",
                     label_smoothing=0.1)
# --8<-- [end:recipe]
# The seed notebook's: a constant lr 1e-3, batch 256, 8 epochs (here up to 12: it stops
# at the first epoch that reaches `compare_at`).
SEED_RECIPE = TrainConfig.recipe("plain", num_epochs=12)
FULL = Config(RECIPE, SEED_RECIPE)
SMOKE = Config(RECIPE.smoke(), SEED_RECIPE.smoke(), seeds=(0, 1), ablation_seeds=(0, 1),
               target=0.3, compare_at=0.3, precision_steps=5, precision_rounds=2,
               check_claims=False)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()
precision = pick_precision(device)  # bf16 where this machine runs it clearly faster
mnist = load_mnist()
# --8<-- [end:setup]
from mnist_tutorial.report import Report, format_value, significant_gain

report = Report("speedrun", seeds=CONFIG.seeds, device=device)
report.config(CONFIG)
print(CONFIG, precision, sep="\n")

# %% [markdown]
# ## The clock
#
# One run trains for a fixed number of epochs. The clock runs while the network trains
# (preparing the batches included) and stops while it is measured on the validation
# images after each epoch: the time to 98 % is the training time up to the first epoch
# that reaches it. The test images are only used at the end of the recipe's own runs.

# %%
# --8<-- [start:speedrun]
@dataclass
class Run:
    accuracy: list[float]  # validation accuracy after each epoch
    seconds: list[float]  # training seconds up to the end of each epoch
    test_accuracy: float | None = None  # measured once, after the last epoch, if asked

    def time_to(self, target: float) -> float | None:
        return next((s for a, s in zip(self.accuracy, self.seconds) if a >= target), None)


def speedrun(config: TrainConfig, precision: str, pipeline: str = "tensor",
             fused: bool | None = None, threads: int | None = None,
             stop_at: float | None = None, test: bool = False) -> Run:
    """Train the lesson MLP with ``config``; measure it on the validation images after
    every epoch, off the clock, and stop early once that accuracy reaches ``stop_at``.
    With ``test``, measure the trained network on the test images once, at the end."""
    split = make_split(mnist, config.train_size, config.val_size, config.test_size)
    val_batches = TensorBatches(mnist.train_images[split.val], mnist.train_labels[split.val],
                                EVAL_BATCH_SIZE, shuffle=False, device=device)
    torch.manual_seed(config.seed)
    net = MLP().to(device)
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads or default_threads)
    clock, run = time.perf_counter(), Run([], [])
    images, labels = mnist.train_images[split.train], mnist.train_labels[split.train]
    if pipeline == "tensor":  # normalised once, sliced into batches on the device
        batches = TensorBatches(images, labels, config.batch_size, shuffle=True,
                                seed=config.seed, device=device)
    else:  # the seed notebook's: PIL image -> ToTensor -> Normalize, one image at a time
        batches = lesson_loader(images, labels, config.batch_size, shuffle=True, seed=config.seed)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    optimizer, scheduler = make_optimizer(net, config, len(batches), device, fused)
    trained = 0.0
    for _ in range(config.num_epochs):
        on_device = ((X.to(device), y.to(device)) for X, y in batches)  # a no-op on the CPU
        train_epoch(net, on_device, optimizer, loss_fn, scheduler, precision=precision)
        trained += time.perf_counter() - clock
        run.seconds.append(trained)
        run.accuracy.append(evaluate(net, val_batches, nn.CrossEntropyLoss())[1])  # off the clock
        if stop_at is not None and run.accuracy[-1] >= stop_at:
            break
        clock = time.perf_counter()
    torch.set_num_threads(default_threads)
    if test:  # once, after every choice has been made on the validation images
        test_batches = TensorBatches(mnist.test_images[split.test], mnist.test_labels[split.test],
                                     EVAL_BATCH_SIZE, shuffle=False, device=device)
        run.test_accuracy = evaluate(net, test_batches, nn.CrossEntropyLoss())[1]
    return run
# --8<-- [end:speedrun]


# Warm-up: the first epoch of a process also pays for one-time setup (allocations, kernels).
speedrun(dataclasses.replace(CONFIG.recipe, num_epochs=1), precision)

# %% [markdown]
# ## The recipe and its ablations
#
# The speedrun recipe on five seeds, each also measured once on the test images at the
# end. Each ablation changes one ingredient of it back, on two seeds (label smoothing,
# the smallest effect, on all five), and is judged on the validation images only; a
# seed's runs follow each other, so that a change in the machine's speed (another
# program, the CPU's clock) hits the recipe and its ablations alike. The changes that
# only make the same steps faster or slower (the pipeline, Adam's implementation, the
# threads) are timed on the first epoch of seed 0, against the recipe's first epoch.

# %%
# --8<-- [start:ablations]
ablations = {  # name: the recipe changed in one way
    "batch 128": {"batch_size": 128},
    "batch 512": {"batch_size": 512},
    "no one-cycle (constant lr 1e-3)": {"schedule": "constant", "lr": 1e-3},
    "one-cycle peaking at lr 1e-2": {"lr": 1e-2},
    "1 epoch": {"num_epochs": 1},
    "no label smoothing": {"label_smoothing": 0.0},
}
speed_only = {  # name: how the same steps are run
    "the seed's DataLoader pipeline": {"pipeline": "lesson"},
    "for-loop Adam instead of fused": {"fused": False},
    "1 thread": {"threads": 1},
}
recipe_runs, ablation_runs, speed_runs = [], {name: [] for name in ablations}, {}
for seed in CONFIG.seeds:
    recipe_runs.append(speedrun(dataclasses.replace(CONFIG.recipe, seed=seed), precision,
                                test=True))
    if seed == CONFIG.seeds[0]:
        one_epoch = dataclasses.replace(CONFIG.recipe, seed=seed, num_epochs=1)
        for name, how in speed_only.items():
            speed_runs[name] = speedrun(one_epoch, **{"precision": precision, **how})
    for name, changes in ablations.items():
        if seed in CONFIG.ablation_seeds or name in CONFIG.every_seed_ablations:
            ablation_runs[name].append(speedrun(dataclasses.replace(CONFIG.recipe, seed=seed, **changes),
                                                precision))
# --8<-- [end:ablations]

# %% [markdown]
# ## The other precision, timed on a few steps
#
# A CPU without native bf16 emulates it, more than ten times slower than fp32: training
# every seed to the end in the precision this machine did not pick would take most of
# the page's run there. It does not change how many epochs the recipe needs, only the
# cost of each step, so the two precisions are timed on the same few training steps,
# alternating, and the fastest of each kept (robust to a busy machine).

# %%
# --8<-- [start:time_steps]
def seconds_per_step(precision: str, num_steps: int) -> float:
    """Training seconds per step of the recipe's network and batch in ``precision``."""
    torch.manual_seed(0)
    net = MLP().to(device)
    optimizer, scheduler = make_optimizer(net, CONFIG.recipe, num_steps, device)
    size = CONFIG.recipe.batch_size
    batch = next(iter(TensorBatches(mnist.train_images[:size], mnist.train_labels[:size], size,
                                    shuffle=False, device=device)))  # (B, 1, 28, 28), (B,)
    batches = [batch] * num_steps
    start = time.perf_counter()
    train_epoch(net, batches, optimizer, nn.CrossEntropyLoss(), scheduler, precision=precision)
    return (time.perf_counter() - start) / num_steps
# --8<-- [end:time_steps]


other_precision = "fp32" if precision == "bf16" else "bf16"
step_seconds = {precision: [], other_precision: []}
for _ in range(CONFIG.precision_rounds):
    for p in (precision, other_precision):
        step_seconds[p].append(seconds_per_step(p, CONFIG.precision_steps))
other_precision_slowdown = min(step_seconds[other_precision]) / min(step_seconds[precision])

# %% [markdown]
# ## The seed notebook's recipe
#
# Its `DataLoader` pipeline, plain Adam at a constant learning rate, fp32, on one seed.
# Its 8 epochs end right at 98 %, above on some seeds and below on others, so it is
# compared with the recipe at 97.5 % validation accuracy, which both reach on every seed.
# Trained through its own pipeline it alone would take longer than the rest of this page,
# so its time is measured in its two factors: the epochs it needs, counted on the
# in-memory pipeline (the same recipe on the same images, shuffled in another order),
# times the seconds one epoch of its `DataLoader` pipeline takes.

# %%
counted = speedrun(CONFIG.seed_recipe, "fp32", fused=False, stop_at=CONFIG.compare_at)
seed_epoch_seconds = speedrun(dataclasses.replace(CONFIG.seed_recipe, num_epochs=1), "fp32",
                              pipeline="lesson", fused=False).seconds[0]
seed_run = Run(counted.accuracy,
               [seed_epoch_seconds * epoch for epoch in range(1, len(counted.accuracy) + 1)])

# %% [markdown]
# ## The table and the figure

# %%
def row(name: str, runs: list[Run]) -> list:
    times = [r.time_to(CONFIG.target) for r in runs]
    reached = [t for t in times if t is not None]
    return [name, f"{len(reached)} of {len(runs)}", [r.accuracy[-1] for r in runs],
            [r.seconds[-1] for r in runs], reached or "never"]  # per seed: mean ± std


# Each change to the speed only, on the first epoch, against the recipe's first epoch.
slowdown = {name: run.seconds[0] / recipe_runs[0].seconds[0] for name, run in speed_runs.items()}
target_text = format_value(CONFIG.target, "percent", 0)
report.table(
    "ablations",
    ["run", f"reach {target_text}", "validation accuracy", "training time",
     f"time to {target_text}"],
    [row(f"**the recipe** ({precision})", recipe_runs)]
    + [row(name, runs) for name, runs in ablation_runs.items()]
    + [[name, "same steps", "–", f"{slowdown[name]:.2f}\u00a0× the first epoch's", "–"]
       for name in speed_only]
    + [[f"{other_precision} instead of {precision}", "same steps", "–",
        f"{other_precision_slowdown:.2f}\u00a0× per step", "–"]],
    units={"validation accuracy": "percent", "training time": ("seconds", 1),
           f"time to {target_text}": ("seconds", 1)})

# Room between the panels for the right one's labels.
with plots.figure(1, 2, figsize=(10, 3.8), gridspec_kw={"wspace": 0.8}) as (fig, (left, right)):
    for label, run in [("seed notebook's recipe", seed_run), ("speedrun recipe", recipe_runs[0])]:
        left.plot(run.seconds, [100 * a for a in run.accuracy], marker="o", label=label)
    left.axhline(100 * CONFIG.target, color="#546e7a", linestyle="--", linewidth=1)
    left.axhline(100 * CONFIG.compare_at, color="#546e7a", linestyle=":", linewidth=1)
    left.set(xscale="log", xlabel="training seconds (log scale)",
             ylabel="validation accuracy (%)", title="One point per epoch")
    left.legend(loc="lower right")
    names = ["the recipe", *ablation_runs]
    runs_of = [recipe_runs, *ablation_runs.values()]
    seconds = [statistics.fmean(r.seconds[-1] for r in runs) for runs in runs_of]
    accuracy = [statistics.fmean(100 * r.accuracy[-1] for r in runs) for runs in runs_of]
    right.barh(range(len(names)), seconds, color=["#3f51b5"] + ["#90a4ae"] * len(ablation_runs))
    for i, a in enumerate(accuracy):
        right.text(seconds[i], i, f" {a:.2f} %", va="center", fontsize=8)
    right.set_yticks(range(len(names)), names, fontsize=8)
    right.invert_yaxis()
    right.set(xlabel="training seconds",
              title="Each change, and the validation accuracy it ends at")
    right.set_xlim(0, 1.3 * max(seconds))
    report.figure("speedrun", fig)

# %% [markdown]
# ## The numbers the page quotes

# %% tags=["report"]
recipe_times = [r.time_to(CONFIG.target) for r in recipe_runs]
compare_times = [r.time_to(CONFIG.compare_at) for r in recipe_runs]
seed_time = seed_run.time_to(CONFIG.compare_at)
compare_at = CONFIG.compare_at
num_seeds = len(CONFIG.seeds)
num_ablation_seeds = len(CONFIG.ablation_seeds)
recipe_reached = sum(t is not None for t in recipe_times)
recipe_accuracy = [r.accuracy[-1] for r in recipe_runs]
recipe_min_accuracy = min(r.accuracy[-1] for r in recipe_runs)
# The test images, once: the final recipe's accuracy, and how far validation was from it.
recipe_test = [r.test_accuracy for r in recipe_runs]
val_minus_test = [r.accuracy[-1] - r.test_accuracy for r in recipe_runs]  # per seed
recipe_test_min_accuracy = min(recipe_test)
recipe_test_reached = sum(a >= CONFIG.target for a in recipe_test)
val_minus_test_points = [100 * d for d in val_minus_test]
val_minus_test_max = 100 * max(abs(d) for d in val_minus_test)
max_val_test_gap = 100 * CONFIG.max_val_test_gap
recipe_seconds = [r.seconds[-1] for r in recipe_runs]
seed_recipe_accuracy = seed_run.accuracy[-1]
seed_recipe_epoch_reached = next(
    (i + 1 for i, a in enumerate(seed_run.accuracy) if a >= CONFIG.compare_at), 0)
if seed_time is not None and None not in compare_times:
    seed_time_to_target = seed_time
    recipe_time_to_compare = compare_times
    speedup = seed_time / statistics.fmean(compare_times)
    # The speed-up is fewer epochs times faster epochs.
    seed_epochs = len(seed_run.accuracy)  # it stopped at the first epoch that got there
    recipe_epochs = statistics.fmean(r.seconds.index(t) + 1 for r, t in zip(recipe_runs, compare_times))
    epochs_ratio = seed_epochs / recipe_epochs
    recipe_epoch_seconds = statistics.fmean(t / (r.seconds.index(t) + 1)
                                            for r, t in zip(recipe_runs, compare_times))
    epoch_speedup = seed_time / seed_epochs / recipe_epoch_seconds
no_smoothing = ablation_runs["no label smoothing"]

# %% tags=["report"]
no_smoothing_accuracy = [r.accuracy[-1] for r in no_smoothing]
num_no_smoothing_seeds = len(no_smoothing)
one_epoch_accuracy = [r.accuracy[-1] for r in ablation_runs["1 epoch"]]
slowdowns = {key: slowdown[name] for name, key in [
    ("the seed's DataLoader pipeline", "dataloader"), ("1 thread", "one_thread"),
    ("for-loop Adam instead of fused", "forloop_adam")]}
if CONFIG.check_claims:
    # Not "on every seed": one of 5 seeds ended at 97.99 % (test, when the finish line was
    # the test set) in fp32 on an AVX-512 CPU.
    recipe_mean_reaches_target = (statistics.fmean(r.accuracy[-1] for r in recipe_runs)
                                  >= CONFIG.target)
    validation_matches_test = max(abs(d) for d in val_minus_test) < CONFIG.max_val_test_gap
    one_epoch_falls_short = max(r.accuracy[-1] for r in ablation_runs["1 epoch"]) < CONFIG.target
    label_smoothing_helps = significant_gain([r.accuracy[-1] for r in recipe_runs],
                                             [r.accuracy[-1] for r in no_smoothing])
    # Reaching compare_at: about 8x on an idle machine; 2.96x with a test suite beside it.
    seed_recipe_over_twice_as_slow = (seed_time is not None and None not in compare_times
                                      and seed_time > 2 * statistics.fmean(compare_times))
report.finish()
