# %% [markdown]
# # Fighting overfitting
#
# The code and the runs of the lesson *Fighting overfitting*: the lesson MLP on the
# overfitting exercise's 1,000 training images, trained without regularisation and with
# each of five remedies (an L2 penalty, AdamW's decoupled weight decay, dropout, data
# augmentation, early stopping), three seeds each, all measured on the 10,000 test
# images. Every number the page quotes is computed here. About 90 s on a laptop CPU;
# set `MNIST_TUTORIAL_PROFILE=smoke` for a quick run.

# %%
import copy
import statistics
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchvision.transforms import v2

from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import MEAN, STD, TensorBatches, load_mnist, make_split
from mnist_tutorial.models import MLP
from mnist_tutorial.report import Report, format_value, seed_difference
from mnist_tutorial.training import EVAL_BATCH_SIZE, evaluate, pick_device, train_epoch


@dataclass(frozen=True)
class Technique:
    """One way to train the network; everything off is the unregularised baseline."""

    name: str
    l2: float = 0.0  # λ of the penalty λ·Σw² added to the loss (optimiser: Adam)
    weight_decay: float = 0.0  # AdamW's decoupled decay (optimiser: AdamW)
    dropout: float = 0.0  # probability of zeroing each hidden unit in training
    augment: bool = False  # random shifts and rotations of every training batch
    patience: int | None = None  # early stopping: epochs without a new best validation loss

    def setting(self) -> str:
        """The technique's strength, for the table."""
        return ", ".join(text for value, text in [
            (self.l2, f"λ = {self.l2:g}"), (self.weight_decay, f"decay {self.weight_decay:g}"),
            (self.dropout, f"p = {self.dropout:g}"), (self.augment, "shifts, rotations"),
            (self.patience, f"patience {self.patience}")] if value) or "–"


TECHNIQUES = (
    Technique("baseline"),
    Technique("L2 penalty (Adam)", l2=1e-4),
    Technique("weight decay (AdamW)", weight_decay=2.0),
    Technique("dropout", dropout=0.5),
    Technique("augmentation", augment=True),
    Technique("early stopping", patience=5),
)


@dataclass(frozen=True)
class Config:
    train: TrainConfig  # the exercise's training set, batch size and plain recipe
    seeds: tuple[int, ...] = (0, 1, 2)
    techniques: tuple[Technique, ...] = TECHNIQUES
    max_degrees: float = 10.0  # augmentation: rotations up to ±10°
    max_shift: float = 0.1  # and shifts up to ±10 % of the side, about 3 pixels
    check_claims: bool = True  # the smoke profile's runs are too short to show the claims
    # the figure's loss curves: four are legible, six are not
    figure_techniques: tuple[str, ...] = ("baseline", "weight decay (AdamW)", "dropout",
                                          "augmentation")


# The exercise's 1,000 training images and batch size 64; 30 epochs are enough for the
# baseline to overfit (its validation loss turns up after a handful), and validating
# after each of them on 2,000 images rather than 5,000 keeps the 18 runs under 90 s.
FULL = Config(TrainConfig.recipe("plain", num_epochs=30, batch_size=64, train_size=1000,
                                 val_size=2000))
SMOKE = Config(TrainConfig.recipe("plain", num_epochs=2, batch_size=64, train_size=256,
                                  val_size=256, test_size=256), check_claims=False)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()
# fp32 on every machine: bf16 autocast saved 8 % of the time here, and in a trial run
# it narrowed dropout's lead over the baseline to within the seeds' spread.
report = Report("regularisation", seeds=CONFIG.seeds, device=device, precision="fp32")
print(CONFIG)

# %% [markdown]
# ## Weight decay, two ways
#
# An L2 penalty added to the loss, which Adam then rescales weight by weight, and
# AdamW, which shrinks every weight by the same factor outside Adam's rescaling.

# %%
# --8<-- [start:l2_penalty]
def l2_penalty(net: nn.Module, l2: float) -> torch.Tensor:
    """λ · Σ w² over every parameter: its gradient is 2 λ w."""
    return l2 * sum((p ** 2).sum() for p in net.parameters())
# --8<-- [end:l2_penalty]


# --8<-- [start:optimizer]
def make_optimizer(net: nn.Module, technique: Technique, lr: float):
    """AdamW when the technique decays weights itself, else Adam (the baseline's)."""
    if technique.weight_decay:
        # each step: w <- w - lr * decay * w, then Adam's step on the loss alone
        return torch.optim.AdamW(net.parameters(), lr=lr,
                                 weight_decay=technique.weight_decay)
    return torch.optim.Adam(net.parameters(), lr=lr)
# --8<-- [end:optimizer]


# %% [markdown]
# ## Dropout
#
# The lesson MLP's shape, 784-1024-256-10, with an `nn.Dropout` after each hidden ReLU.

# %%
# --8<-- [start:dropout_mlp]
class DropoutMLP(nn.Module):
    """784 -> 1024 -> 256 -> 10 with ReLU, each hidden layer followed by dropout."""

    def __init__(self, hidden=(1024, 256), p=0.5):
        super().__init__()
        sizes = [28 * 28, *hidden]
        layers = [nn.Flatten()]  # (B, 1, 28, 28) -> (B, 784)
        for n_in, n_out in zip(sizes, sizes[1:]):
            # in train(): zero each unit with probability p, scale the rest by 1/(1-p)
            # in eval(): pass everything through unchanged
            layers += [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(p)]
        layers.append(nn.Linear(sizes[-1], 10))  # (B, 10) logits
        self.layers = nn.Sequential(*layers)

    def forward(self, X):  # X: (B, 1, 28, 28)
        return self.layers(X)  # (B, 10)
# --8<-- [end:dropout_mlp]


# --8<-- [start:accuracy_in_mode]
@torch.inference_mode()
def accuracy_in_mode(net: nn.Module, batches, training: bool) -> float:
    """Accuracy over ``batches`` with the network in train() or eval() mode."""
    net.train(training)  # train(False) is eval()
    correct = count = 0
    for X, y in batches:
        correct += int((net(X).argmax(dim=1) == y).sum())
        count += len(y)
    return correct / count
# --8<-- [end:accuracy_in_mode]


# %% [markdown]
# ## Data augmentation
#
# `torchvision.transforms.v2` works on tensors, so the augmentation runs on the
# normalised batches that the training loop already has.

# %%
# --8<-- [start:augment]
# A blank pixel after normalisation: what the shifted-in border must be filled with.
BACKGROUND = (0.0 - MEAN) / STD


def make_augment(max_degrees: float, max_shift: float) -> v2.Transform:
    """A random rotation of up to ±max_degrees and shift of up to ±max_shift."""
    return v2.RandomAffine(degrees=max_degrees, translate=(max_shift, max_shift),
                           fill=BACKGROUND)


class Augmented:
    """Training batches moved by ``augment``: a new random draw for every batch."""

    def __init__(self, batches, augment):
        self.batches, self.augment = batches, augment

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for X, y in self.batches:  # X: (B, 1, 28, 28)
            # One call per batch: v2 draws one transform and applies it to all B images.
            # A call per image would be B times slower for the same expected gradient.
            yield self.augment(X), y  # (B, 1, 28, 28), the same labels
# --8<-- [end:augment]


# %% [markdown]
# ## One run
#
# The training lesson's `train_epoch` and `evaluate`, with the regulariser of the
# technique; validation after every epoch, and early stopping inside the loop: keep a
# copy of the best weights, stop once `patience` epochs bring no better ones.

# %%
@dataclass
class Data:
    train_images: torch.Tensor  # (N, 28, 28) uint8
    train_labels: torch.Tensor  # (N,)
    train: TensorBatches  # the training images, unshuffled, for the training accuracy
    val: TensorBatches
    test: TensorBatches


@dataclass
class Run:
    net: nn.Module
    val_loss: list[float]  # after every epoch trained
    val_accuracy: list[float]
    best_epoch: int  # lowest validation loss


# --8<-- [start:train]
def train(technique: Technique, seed: int, data: Data, config: Config) -> Run:
    """A new network trained with ``technique``, validated after every epoch."""
    torch.manual_seed(seed)  # initial weights, dropout masks and augmentations
    net = (DropoutMLP(p=technique.dropout) if technique.dropout else MLP()).to(device)
    optimizer = make_optimizer(net, technique, config.train.lr)
    cross_entropy = nn.CrossEntropyLoss()

    def loss_fn(y_hat, y):
        loss = cross_entropy(y_hat, y)
        return loss + l2_penalty(net, technique.l2) if technique.l2 else loss

    batches = TensorBatches(data.train_images, data.train_labels, config.train.batch_size,
                            shuffle=True, seed=seed, device=device)
    if technique.augment:
        batches = Augmented(batches, make_augment(config.max_degrees, config.max_shift))
    run = Run(net, [], [], best_epoch=0)
    for epoch in range(1, config.train.num_epochs + 1):
        train_epoch(net, batches, optimizer, loss_fn)
        val_loss, val_accuracy = evaluate(net, data.val, cross_entropy)
        run.val_loss.append(val_loss)
        run.val_accuracy.append(val_accuracy)
        if val_loss < min(run.val_loss[:-1], default=float("inf")):
            run.best_epoch, best_weights = epoch, copy.deepcopy(net.state_dict())
        elif technique.patience and epoch - run.best_epoch >= technique.patience:
            break  # no new best for `patience` epochs
    if technique.patience:
        net.load_state_dict(best_weights)  # early stopping keeps the best epoch's weights
    return run
# --8<-- [end:train]


# %% [markdown]
# ## Every technique, every seed

# %%
mnist = load_mnist()
split = make_split(mnist, CONFIG.train.train_size, CONFIG.train.val_size,
                   CONFIG.train.test_size)
images, labels = mnist.train_images[split.train], mnist.train_labels[split.train]


def eval_batches(images, labels):
    return TensorBatches(images, labels, EVAL_BATCH_SIZE, shuffle=False, device=device)


data = Data(images, labels, eval_batches(images, labels),
            eval_batches(mnist.train_images[split.val], mnist.train_labels[split.val]),
            eval_batches(mnist.test_images[split.test], mnist.test_labels[split.test]))

runs, results = {}, {}
for technique in CONFIG.techniques:
    runs[technique.name] = [train(technique, seed, data, CONFIG) for seed in CONFIG.seeds]
    results[technique.name] = [
        {"test": accuracy_in_mode(run.net, data.test, training=False),
         "train": accuracy_in_mode(run.net, data.train, training=False),
         "epochs": len(run.val_loss), "best_epoch": run.best_epoch,
         "weight_norm": l2_penalty(run.net, 1.0).item() ** 0.5}  # ||w||, all parameters
        for run in runs[technique.name]]
    if technique.name in ("baseline", "dropout"):  # the same test images in train() mode
        for run, result in zip(runs[technique.name], results[technique.name]):
            result["test_train_mode"] = accuracy_in_mode(run.net, data.test, training=True)
    print(technique.name, [f"{r['test']:.2%}" for r in results[technique.name]])

# %% [markdown]
# ## The table

# %%
def per_seed(name: str, key: str) -> list[float]:
    return [r[key] for r in results[name]]


def mean(name: str, key: str) -> float:
    return statistics.fmean(per_seed(name, key))


def std(name: str, key: str) -> float:
    return statistics.pstdev(per_seed(name, key))


def pm(name: str, key: str, unit: str = "percent", digits: int = 1) -> str:
    return format_value(mean(name, key), unit, digits, std(name, key))


BASE = "baseline"
rows = []
for technique in CONFIG.techniques:
    name = technique.name
    gains = [t - b for t, b in zip(per_seed(name, "test"), per_seed(BASE, "test"))]
    rows.append([name, technique.setting(), pm(name, "test", digits=2),
                 "–" if name == BASE else f"{statistics.fmean(gains) * 100:+.2f}",
                 pm(name, "train"),
                 f"{(mean(name, 'train') - mean(name, 'test')) * 100:.1f}",
                 format_value(mean(name, "epochs"), "number", 0 if name != "early stopping"
                              else 1)])
report.table("comparison", ["technique", "setting", "test accuracy", "vs baseline (points)",
                            "training accuracy", "train − test gap (points)", "epochs"], rows,
             f"The lesson MLP on {CONFIG.train.train_size:,} training images, batch size "
             f"{CONFIG.train.batch_size}, Adam(W) at lr {CONFIG.train.lr:g}, up to "
             f"{CONFIG.train.num_epochs} epochs; accuracies on the "
             f"{len(split.test):,} test images, mean ± std over {len(CONFIG.seeds)} seeds. "
             f"The gap is training minus test accuracy, both in eval() mode.")

# %% [markdown]
# ## The numbers the page quotes, and its claims

# %%
KEYS = {"baseline": "baseline", "L2 penalty (Adam)": "l2", "weight decay (AdamW)": "adamw",
        "dropout": "dropout", "augmentation": "augment", "early stopping": "early"}
# Differences of two accuracies are in percentage points: 100 × (a - b), unit "number".
for technique in CONFIG.techniques:
    key = KEYS[technique.name]
    report.metric(f"{key}_test", per_seed(technique.name, "test"), "percent", 2)
    report.metric(f"{key}_train", per_seed(technique.name, "train"), "percent", 1)
    report.metric(f"{key}_gap", 100 * (mean(technique.name, "train")
                                       - mean(technique.name, "test")), "number", 1)
    if technique.name != BASE:
        report.metric(f"{key}_gain", 100 * (mean(technique.name, "test") - mean(BASE, "test")),
                      "number", 2)
    report.metric(f"{key}_final_val_loss", [run.val_loss[-1] for run in runs[technique.name]],
                  "number", 2)

report.metric("train_size", CONFIG.train.train_size, "count")
report.metric("val_size", len(split.val), "count")
report.metric("test_size", len(split.test), "count")
report.metric("batch_size", CONFIG.train.batch_size, "count")
report.metric("num_epochs", CONFIG.train.num_epochs, "count")
report.metric("num_seeds", len(CONFIG.seeds), "count")
report.metric("lr", CONFIG.train.lr, "scientific")
settings = {t.name: t for t in CONFIG.techniques}
report.metric("l2", settings["L2 penalty (Adam)"].l2, "scientific")
report.metric("weight_decay", settings["weight decay (AdamW)"].weight_decay, "number", 1)
report.metric("dropout_p", settings["dropout"].dropout, "number", 1)
report.metric("patience", settings["early stopping"].patience, "count")
report.metric("max_degrees", CONFIG.max_degrees, "number", 0)
report.metric("max_shift_px", CONFIG.max_shift * 28, "number", 1)
report.metric("baseline_best_epoch", per_seed(BASE, "best_epoch"), "number", 1)
report.metric("early_epochs", per_seed("early stopping", "epochs"), "number", 1)
report.metric("baseline_weight_norm", per_seed(BASE, "weight_norm"), "number", 1)
report.metric("l2_weight_norm", per_seed("L2 penalty (Adam)", "weight_norm"), "number", 1)
report.metric("adamw_weight_norm", per_seed("weight decay (AdamW)", "weight_norm"), "number", 1)
report.metric("dropout_train_mode_test", per_seed("dropout", "test_train_mode"), "percent", 2)
mode_gaps = [100 * (e - t) for e, t in zip(per_seed("dropout", "test"),
                                           per_seed("dropout", "test_train_mode"))]
report.metric("dropout_mode_gap", mode_gaps, "number", 2)
baseline_mode_gap = max(100 * abs(e - t) for e, t in zip(per_seed(BASE, "test"),
                                                          per_seed(BASE, "test_train_mode")))
report.metric("baseline_mode_gap", baseline_mode_gap, "number", 2)


def gaps(name: str) -> list[float]:
    """Training minus test accuracy, seed by seed."""
    return [r["train"] - r["test"] for r in results[name]]


def final_val_loss(name: str) -> list[float]:
    return [run.val_loss[-1] for run in runs[name]]


for technique in CONFIG.techniques[1:]:  # each gain in points, with its standard error
    _, error = seed_difference(per_seed(technique.name, "test"), per_seed(BASE, "test"))
    report.metric(f"{KEYS[technique.name]}_gain_error", 100 * error, "number", 2)

report.check(baseline_mode_gap == 0, "train() and eval() give the lesson MLP the same "
                                     "accuracy: it has no layer that the mode changes",
             largest_gap_points=baseline_mode_gap)
if CONFIG.check_claims:
    ADAMW, L2, AUGMENT, EARLY = ("weight decay (AdamW)", "L2 penalty (Adam)", "augmentation",
                                 "early stopping")
    report.check(min(mode_gaps) > 0, "in train() mode the dropout network scores lower on "
                                     "the test set than in eval() mode, for every seed",
                 gaps_points=mode_gaps)
    report.check(mean(BASE, "train") > 0.999, "the baseline fits its training images "
                                              "(training accuracy above 99.9 %)",
                 train_accuracy=per_seed(BASE, "train"))
    report.check_gain(per_seed(AUGMENT, "test"), per_seed(BASE, "test"),
                      "augmentation beats the baseline by more than 2 standard errors")
    report.check_gain(per_seed(ADAMW, "test"), per_seed(L2, "test"),
                      "AdamW beats the L2 penalty with Adam by more than 2 standard errors")
    # A ranking of means, not a difference beyond two standard errors: augmentation's
    # spread over 3 seeds is wide, and its lead over the next best came out between 2
    # and 14 standard errors on different seeds and CPUs.
    gains = {t.name: mean(t.name, "test") - mean(BASE, "test") for t in CONFIG.techniques[1:]}
    report.check(max(gains, key=gains.get) == AUGMENT,
                 "augmentation has the largest mean gain over the baseline", **{
                     KEYS[name]: gain for name, gain in gains.items()})
    report.check_gain(gaps(BASE), gaps(AUGMENT),
                      "augmentation narrows the train-test gap by more than 2 standard errors")
    next_smallest = min((t.name for t in CONFIG.techniques if t.name != AUGMENT),
                        key=lambda name: statistics.fmean(gaps(name)))
    report.check_gain(gaps(next_smallest), gaps(AUGMENT),
                      f"augmentation has the smallest train-test gap, more than 2 standard "
                      f"errors below the next ({next_smallest})")
    report.check(statistics.fmean(gaps(BASE)) - statistics.fmean(gaps(ADAMW)) < 0.02,
                 "AdamW narrows the train-test gap by less than 2 points",
                 baseline_gap=statistics.fmean(gaps(BASE)), adamw_gap=statistics.fmean(gaps(ADAMW)))
    report.check_gain(final_val_loss(BASE), final_val_loss(AUGMENT),
                      "augmentation ends with a lower validation loss than the baseline")
    report.check_gain(final_val_loss(BASE), final_val_loss(ADAMW),
                      "AdamW ends with a lower validation loss than the baseline")
    val_loss = {name: plots.mean_std([run.val_loss for run in runs[name]])[0]
                for name in (BASE, "dropout")}  # the mean curve over the seeds, (num_epochs,)
    report.check(all(val_loss[name][-1] > 1.05 * val_loss[name].min() for name in val_loss),
                 "the baseline's and dropout's validation losses end more than 5 % above "
                 "their minimum", **{f"{KEYS[name]}_end_over_min": val_loss[name][-1]
                                     / val_loss[name].min() for name in val_loss})
    report.check_gain(per_seed(L2, "test"), per_seed(BASE, "test"),
                      "the L2 penalty with Adam does not beat the baseline by more than 2 "
                      "standard errors", expect=False)
    report.check(mean(ADAMW, "weight_norm") < mean(L2, "weight_norm") < mean(BASE, "weight_norm"),
                 "the L2 penalty shrinks the weights, AdamW more",
                 adamw=mean(ADAMW, "weight_norm"), l2=mean(L2, "weight_norm"),
                 baseline=mean(BASE, "weight_norm"))
    report.check(abs(mean(EARLY, "test") - mean(BASE, "test")) < 0.01,
                 "early stopping ends within a point of the baseline's test accuracy",
                 early=mean(EARLY, "test"), baseline=mean(BASE, "test"))
    report.check_gain(per_seed(EARLY, "test"), per_seed(BASE, "test"),
                      "early stopping does not beat the baseline by more than 2 standard "
                      "errors", expect=False)
    report.check(mean(EARLY, "epochs") < CONFIG.train.num_epochs / 2,
                 "early stopping trains less than half the epochs",
                 epochs=per_seed(EARLY, "epochs"))

# %% [markdown]
# ## The figure: validation loss per epoch, test accuracy per seed

# %%
epochs = np.arange(1, CONFIG.train.num_epochs + 1)
names = [t.name for t in CONFIG.techniques]
with plots.figure(1, 2, figsize=(10, 3.8), layout="constrained") as (fig, (left, right)):
    colours = dict(zip(names, plots.STYLE["axes.prop_cycle"].by_key()["color"]))
    for name in CONFIG.figure_techniques:
        loss_mean, loss_std = plots.mean_std([run.val_loss for run in runs[name]])
        left.plot(epochs, loss_mean, color=colours[name], label=name)
        left.fill_between(epochs, loss_mean - loss_std, loss_mean + loss_std,
                          color=colours[name], alpha=0.2, lw=0)
    left.set_ylim(bottom=0)
    left.set_xlabel("epoch")
    left.set_ylabel("validation loss")
    left.set_title(f"mean ± std over {len(CONFIG.seeds)} seeds", fontsize=9)
    left.legend(frameon=False, fontsize=8)
    base_mean = mean(BASE, "test") * 100
    right.axvline(base_mean, color="black", ls="--", lw=1, label="baseline mean")
    for i, name in enumerate(names):
        accuracies = np.array(per_seed(name, "test")) * 100
        right.scatter(accuracies, np.full(len(accuracies), i), color=colours[name], s=18,
                      alpha=0.7)
        right.errorbar(accuracies.mean(), i, xerr=accuracies.std(), color=colours[name],
                       marker="|", markersize=14, capsize=4, lw=1.5)
    right.set_yticks(range(len(names)), names)
    right.invert_yaxis()
    right.set_xlabel("test accuracy (%)")
    right.set_title("each seed (dots), mean ± std (bar)", fontsize=9)
    right.legend(frameon=False, fontsize=8, loc="lower right")
    report.figure(
        "comparison", fig,
        alt=("Two charts. Left: validation loss after each of "
             f"{CONFIG.train.num_epochs} epochs for "
             + ", ".join(CONFIG.figure_techniques)
             + f"; the baseline's is lowest at epoch {mean(BASE, 'best_epoch'):.0f} on "
             f"average and then rises to {statistics.fmean(r.val_loss[-1] for r in runs[BASE]):.2f}"
             ". Right: test accuracy of every seed for each technique: "
             + "; ".join(f"{name} {pm(name, 'test', digits=2)}" for name in names) + "."),
        caption=(f"Left: validation loss after every epoch, mean ± std over "
                 f"{len(CONFIG.seeds)} seeds (the L2 penalty and early stopping are left out "
                 f"for legibility; early stopping follows the baseline until it stops). Right: "
                 f"test accuracy on {len(split.test):,} images, one dot per seed, the bar "
                 f"mean ± std; dashed, the baseline's mean."))
