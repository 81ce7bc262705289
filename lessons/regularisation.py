# %% [markdown]
# # Fighting overfitting
#
# The code and the runs of the lesson *Fighting overfitting*: the lesson MLP on the
# overfitting exercise's 1,000 training images, trained without regularisation and with
# each of five remedies (an L2 penalty, AdamW's decoupled weight decay, dropout, data
# augmentation, early stopping), three seeds each, compared on validation images; the
# technique they pick is then measured once on the 10,000 test images. Every number the
# page quotes is computed here. About 90 s on a laptop CPU; set
# `MNIST_TUTORIAL_PROFILE=smoke` for a quick run.

# %%
# --8<-- [start:setup]
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
from mnist_tutorial.training import EVAL_BATCH_SIZE, evaluate, pick_device, train_epoch


@dataclass(frozen=True)
class Technique:
    """One way to train the network; everything off is the unregularised baseline."""

    name: str
    l2: float = 0.0  # λ of the penalty λ·Σw² (weights, not biases) added to the loss (Adam)
    weight_decay: float = 0.0  # AdamW's decoupled decay of the weights (optimiser: AdamW)
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
    # Validation images: train.val_size of them watch every epoch (the loss curves, early
    # stopping); the next compare_size (None: all the rest) compare the techniques.
    compare_size: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    techniques: tuple[Technique, ...] = TECHNIQUES
    max_degrees: float = 10.0  # augmentation: rotations up to ±10°
    max_shift: float = 0.1  # and shifts up to ±10 % of the side, about 3 pixels
    check_claims: bool = True  # the smoke profile's runs are too short to show the claims
    min_baseline_train: float = 0.999  # the baseline's training accuracy ends above it
    min_val_loss_rise: float = 1.05  # its and dropout's validation losses end above this × min
    # the figure's loss curves: four are legible, six are not
    figure_techniques: tuple[str, ...] = ("baseline", "weight decay (AdamW)", "dropout",
                                          "augmentation")


# The exercise's 1,000 training images and batch size 64; 30 epochs are enough for the
# baseline to overfit (its validation loss turns up after a handful), and validating
# after each of them on 2,000 images rather than 5,000 keeps the 18 runs under 90 s.
# The other 8,000 validation images are scored once per run, for the comparison.
FULL = Config(TrainConfig.recipe("plain", num_epochs=30, batch_size=64, train_size=1000,
                                 val_size=2000))
SMOKE = Config(TrainConfig.recipe("plain", num_epochs=2, batch_size=64, train_size=256,
                                  val_size=256, test_size=256), compare_size=256,
               check_claims=False)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()
# fp32 on every machine: bf16 autocast saved 8 % of the time here, and in a trial run
# it narrowed dropout's lead over the baseline to within the seeds' spread.
# --8<-- [end:setup]
from mnist_tutorial.report import Report, format_value, seed_difference, significant_gain

report = Report("regularisation", seeds=CONFIG.seeds, device=device, precision="fp32")

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## Weight decay, two ways
#
# An L2 penalty added to the loss, which Adam then rescales weight by weight, and
# AdamW, which shrinks every weight by the same factor outside Adam's rescaling.

# %%
# --8<-- [start:l2_penalty]
def weights_and_biases(net: nn.Module) -> tuple[list, list]:
    """The network's weight matrices, and its biases, which no penalty touches."""
    weights, biases = [], []
    for name, p in net.named_parameters():
        (biases if name.endswith("bias") else weights).append(p)
    return weights, biases


def l2_penalty(net: nn.Module, l2: float) -> torch.Tensor:
    """λ · Σ w² over the weights (not the biases): its gradient is 2 λ w."""
    weights, _ = weights_and_biases(net)
    return l2 * sum((w ** 2).sum() for w in weights)
# --8<-- [end:l2_penalty]


# --8<-- [start:optimizer]
def make_optimizer(net: nn.Module, technique: Technique, lr: float):
    """AdamW when the technique decays weights itself, else Adam (the baseline's)."""
    if technique.weight_decay:
        # each step: w <- w - lr * decay * w for the weights (two parameter groups: the
        # biases are not decayed), then Adam's step on the loss alone
        weights, biases = weights_and_biases(net)
        groups = [{"params": weights, "weight_decay": technique.weight_decay},
                  {"params": biases, "weight_decay": 0.0}]
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)
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
# --8<-- [start:train]
@dataclass
class Data:
    train_images: torch.Tensor  # (N, 28, 28) uint8
    train_labels: torch.Tensor  # (N,)
    train: TensorBatches  # the training images, unshuffled, for the training accuracy
    val: TensorBatches  # validation images that watch every epoch (early stopping too)
    compare: TensorBatches  # the other validation images: they compare the techniques
    test: TensorBatches  # used once, for the technique the comparison picks


@dataclass
class Run:
    net: nn.Module
    val_loss: list[float]  # after every epoch trained
    val_accuracy: list[float]
    best_epoch: int  # lowest validation loss


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
split = make_split(mnist, CONFIG.train.train_size, None, CONFIG.train.test_size)
images, labels = mnist.train_images[split.train], mnist.train_labels[split.train]
watch = split.val[:CONFIG.train.val_size]  # validated after every epoch
compare_end = None if CONFIG.compare_size is None else CONFIG.train.val_size + CONFIG.compare_size
compare = split.val[CONFIG.train.val_size:compare_end]  # the comparison's, nothing else


def eval_batches(images, labels):
    return TensorBatches(images, labels, EVAL_BATCH_SIZE, shuffle=False, device=device)


data = Data(images, labels, eval_batches(images, labels),
            eval_batches(mnist.train_images[watch], mnist.train_labels[watch]),
            eval_batches(mnist.train_images[compare], mnist.train_labels[compare]),
            eval_batches(mnist.test_images[split.test], mnist.test_labels[split.test]))

runs, results = {}, {}
for technique in CONFIG.techniques:
    runs[technique.name] = [train(technique, seed, data, CONFIG) for seed in CONFIG.seeds]
    results[technique.name] = [
        {"val": accuracy_in_mode(run.net, data.compare, training=False),
         "train": accuracy_in_mode(run.net, data.train, training=False),
         "epochs": len(run.val_loss), "best_epoch": run.best_epoch,
         "weight_norm": l2_penalty(run.net, 1.0).item() ** 0.5}  # ||w||, weight matrices
        for run in runs[technique.name]]
    if technique.name in ("baseline", "dropout"):  # the same images in train() mode
        for run, result in zip(runs[technique.name], results[technique.name]):
            result["val_train_mode"] = accuracy_in_mode(run.net, data.compare, training=True)
    print(technique.name, [f"{r['val']:.2%}" for r in results[technique.name]])

# %% [markdown]
# ## The table: every technique on the comparison's validation images

# %%
def per_seed(name: str, key: str) -> list[float]:
    return [r[key] for r in results[name]]


def mean(name: str, key: str) -> float:
    return statistics.fmean(per_seed(name, key))


BASE = "baseline"
rows = []
for technique in CONFIG.techniques:
    name = technique.name
    gains = [t - b for t, b in zip(per_seed(name, "val"), per_seed(BASE, "val"))]
    rows.append([name, technique.setting(), per_seed(name, "val"),
                 "–" if name == BASE else f"{statistics.fmean(gains) * 100:+.2f}",
                 per_seed(name, "train"), (mean(name, "train") - mean(name, "val")) * 100,
                 format_value(mean(name, "epochs"), "number", 0 if name != "early stopping"
                              else 1)])

# %% tags=["report"]
report.table("comparison", ["technique", "setting", "validation accuracy",
                            "vs baseline (points)", "training accuracy",
                            "train − validation gap (points)", "epochs"], rows,
             units={"validation accuracy": "percent", "training accuracy": ("percent", 1),
                    "train − validation gap (points)": ("number", 1)})

# %% [markdown]
# ## The test set, once
#
# The comparison picks the technique with the highest mean validation accuracy; only
# its networks meet the test set.

# %%
chosen = max(CONFIG.techniques, key=lambda t: mean(t.name, "val")).name
for run, result in zip(runs[chosen], results[chosen]):
    result["test"] = accuracy_in_mode(run.net, data.test, training=False)
print(f"chosen: {chosen}; test accuracy", [f"{r['test']:.2%}" for r in results[chosen]])

# %% [markdown]
# ## The numbers the page quotes, and its claims

# %% tags=["report"]
KEYS = {"baseline": "baseline", "L2 penalty (Adam)": "l2", "weight decay (AdamW)": "adamw",
        "dropout": "dropout", "augmentation": "augment", "early stopping": "early"}
# Differences of two accuracies are in percentage points: 100 × (a - b), unit "number".
val, train, gap, gain, final_loss = {}, {}, {}, {}, {}
for technique in CONFIG.techniques:
    key = KEYS[technique.name]
    val[key], train[key] = per_seed(technique.name, "val"), per_seed(technique.name, "train")
    gap[key] = 100 * (mean(technique.name, "train") - mean(technique.name, "val"))
    if technique.name != BASE:
        gain[key] = 100 * (mean(technique.name, "val") - mean(BASE, "val"))
    final_loss[key] = [run.val_loss[-1] for run in runs[technique.name]]

chosen_val = per_seed(chosen, "val")
chosen_test = per_seed(chosen, "test")
chosen_test_minus_val = 100 * (mean(chosen, "test") - mean(chosen, "val"))
val_size = len(watch)
compare_size = len(compare)
test_size = len(split.test)
num_seeds = len(CONFIG.seeds)
num_techniques = len(CONFIG.techniques)
settings = {t.name: t for t in CONFIG.techniques}
l2 = settings["L2 penalty (Adam)"].l2
l2_as_adam_decay = 2 * settings["L2 penalty (Adam)"].l2
dropout_p = settings["dropout"].dropout
patience = settings["early stopping"].patience
max_shift_px = CONFIG.max_shift * 28
baseline_best_epoch = per_seed(BASE, "best_epoch")
early_epochs = per_seed("early stopping", "epochs")
weights, biases = weights_and_biases(MLP())
mlp_parameters = sum(p.numel() for p in weights + biases)
mlp_biases = sum(p.numel() for p in biases)

# AdamW's decay over the whole run: each step multiplies every weight by (1 - lr * d)
# before Adam's step on the loss, so the decay alone would shrink it by (1 - lr d)^steps.
decay = settings["weight decay (AdamW)"].weight_decay
default_decay = torch.optim.AdamW([torch.zeros(1)]).defaults["weight_decay"]  # PyTorch's
steps_per_epoch = len(TensorBatches(images, labels, CONFIG.train.batch_size, shuffle=False))
num_steps = CONFIG.train.num_epochs * steps_per_epoch
weight_decay = decay
decay_over_default = round(decay / default_decay)
decay_per_step = CONFIG.train.lr * decay
adamw_shrink = (1 - CONFIG.train.lr * decay) ** num_steps
default_shrink = (1 - CONFIG.train.lr * default_decay) ** num_steps
initial_norms = []
for seed in CONFIG.seeds:  # train() seeds torch the same way before it builds the network
    torch.manual_seed(seed)
    initial_norms.append(l2_penalty(MLP(), 1.0).item() ** 0.5)
baseline_weight_norm = per_seed(BASE, "weight_norm")
l2_weight_norm = per_seed("L2 penalty (Adam)", "weight_norm")
adamw_weight_norm = per_seed("weight decay (AdamW)", "weight_norm")
dropout_train_mode_val = per_seed("dropout", "val_train_mode")
mode_gaps = [100 * (e - t) for e, t in zip(per_seed("dropout", "val"),
                                           per_seed("dropout", "val_train_mode"))]
baseline_mode_gap = max(100 * abs(e - t) for e, t in zip(per_seed(BASE, "val"),
                                                          per_seed(BASE, "val_train_mode")))


def gaps(name: str) -> list[float]:
    """Training minus validation accuracy, seed by seed."""
    return [r["train"] - r["val"] for r in results[name]]


def final_val_loss(name: str) -> list[float]:
    return [run.val_loss[-1] for run in runs[name]]


gain_error = {}  # each gain in points, with its standard error
for technique in CONFIG.techniques[1:]:
    _, error = seed_difference(per_seed(technique.name, "val"), per_seed(BASE, "val"))
    gain_error[KEYS[technique.name]] = 100 * error

# The lesson MLP has no layer that train() and eval() change: both modes give it the same accuracy.
mlp_modes_agree = baseline_mode_gap == 0
if CONFIG.check_claims:
    ADAMW, L2, AUGMENT, EARLY = ("weight decay (AdamW)", "L2 penalty (Adam)", "augmentation",
                                 "early stopping")
    dropout_train_mode_lower = min(mode_gaps) > 0  # on the validation images, for every seed
    baseline_fits_training = mean(BASE, "train") > CONFIG.min_baseline_train
    augmentation_beats_baseline = significant_gain(per_seed(AUGMENT, "val"), per_seed(BASE, "val"))
    adamw_beats_l2 = significant_gain(per_seed(ADAMW, "val"), per_seed(L2, "val"))
    # A ranking of means, not a difference beyond two standard errors: augmentation's
    # spread over 3 seeds is wide, and its lead over the next best came out between 2
    # and 14 standard errors on different seeds and CPUs.
    gains = {t.name: mean(t.name, "val") - mean(BASE, "val") for t in CONFIG.techniques[1:]}
    augmentation_has_largest_gain = max(gains, key=gains.get) == AUGMENT == chosen
    chosen_test_near_val = abs(chosen_test_minus_val) < 1  # points
    augmentation_narrows_gap = significant_gain(gaps(BASE), gaps(AUGMENT))
    next_smallest = min((t.name for t in CONFIG.techniques if t.name != AUGMENT),
                        key=lambda name: statistics.fmean(gaps(name)))
    augmentation_gap_smallest = significant_gain(gaps(next_smallest), gaps(AUGMENT))
    adamw_narrows_gap_little = statistics.fmean(gaps(BASE)) - statistics.fmean(gaps(ADAMW)) < 0.02
    augmentation_lowers_final_loss = significant_gain(final_val_loss(BASE), final_val_loss(AUGMENT))
    adamw_lowers_final_loss = significant_gain(final_val_loss(BASE), final_val_loss(ADAMW))
    val_loss = {name: plots.mean_std([run.val_loss for run in runs[name]])[0]
                for name in (BASE, "dropout")}  # the mean curve over the seeds, (num_epochs,)
    baseline_and_dropout_loss_rise = all(
        val_loss[name][-1] > CONFIG.min_val_loss_rise * val_loss[name].min() for name in val_loss)
    l2_no_gain = not significant_gain(per_seed(L2, "val"), per_seed(BASE, "val"))
    weights_shrink = (mean(ADAMW, "weight_norm") < mean(L2, "weight_norm")
                      < mean(BASE, "weight_norm"))
    # AdamW's weights end smaller than at initialisation, larger than the decay alone leaves them.
    adamw_norm_between_bounds = (adamw_shrink * statistics.fmean(initial_norms)
                                 < mean(ADAMW, "weight_norm") < statistics.fmean(initial_norms))
    early_stopping_near_baseline = abs(mean(EARLY, "val") - mean(BASE, "val")) < 0.01
    early_stopping_no_gain = not significant_gain(per_seed(EARLY, "val"), per_seed(BASE, "val"))
    early_stopping_halves_epochs = mean(EARLY, "epochs") < CONFIG.train.num_epochs / 2

# %% [markdown]
# ## The figure: validation loss per epoch, validation accuracy per seed

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
    base_mean = mean(BASE, "val") * 100
    right.axvline(base_mean, color="black", ls="--", lw=1, label="baseline mean")
    for i, name in enumerate(names):
        accuracies = np.array(per_seed(name, "val")) * 100
        right.scatter(accuracies, np.full(len(accuracies), i), color=colours[name], s=18,
                      alpha=0.7)
        right.errorbar(accuracies.mean(), i, xerr=accuracies.std(), color=colours[name],
                       marker="|", markersize=14, capsize=4, lw=1.5)
    right.set_yticks(range(len(names)), names)
    right.invert_yaxis()
    right.set_xlabel("validation accuracy (%)")
    right.set_title("each seed (dots), mean ± std (bar)", fontsize=9)
    right.legend(frameon=False, fontsize=8, loc="lower right")
    report.figure("comparison", fig)
