# %% [markdown]
# # Training
#
# The code and the runs of the lesson *Training*: Adam's update written out and checked
# against PyTorch's, the lesson MLP trained with the plain recipe and with the course's
# final recipe, three seeds each, every run logged for TensorBoard, then the classic
# mistake (a softmax before `CrossEntropyLoss`) measured against the plain recipe's first
# seed. Two or three minutes on a laptop CPU, well under one on a GPU; set
# `MNIST_TUTORIAL_PROFILE=smoke` for a quick run.

# %%
# --8<-- [start:setup]
import dataclasses
import datetime
import inspect
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.ticker import FormatStrFormatter
from torch import nn

from mnist_tutorial import plots, settings
from mnist_tutorial.config import RECIPES, TrainConfig, current_profile
from mnist_tutorial.data import TensorBatches, load_mnist, make_split, normalise
from mnist_tutorial.models import MLP, count_parameters
from mnist_tutorial.training import checkpoint_dir, pick_device, run_logdir, save_checkpoint, train_model


@dataclass(frozen=True)
class Config:
    final: TrainConfig = TrainConfig.recipe("final")  # one-cycle Adam, 5 epochs
    plain: TrainConfig = TrainConfig.recipe("plain")  # Adam at lr 1e-3, 8 epochs
    seeds: tuple[int, ...] = (0, 1, 2)  # each recipe runs once per seed
    min_test_accuracy: float = 0.98  # the final recipe's mean reaches it (full data set)


FULL = Config()
SMOKE = dataclasses.replace(FULL, final=FULL.final.smoke(), plain=FULL.plain.smoke())
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()  # $MNIST_TUTORIAL_DEVICE, else CUDA if a GPU is visible, else the CPU
mnist = load_mnist()
# --8<-- [end:setup]
from mnist_tutorial.report import Report

report = Report("training", seeds=CONFIG.seeds, device=device)
report.config(CONFIG)
print("device:", device)

# %% [markdown]
# ## Two recipes
#
# A recipe fixes everything about training except the seed. The loop that runs it is
# `fit` in `mnist_tutorial/training.py`: in Jupyter, `??fit` and `??train_epoch` show it.

# %%
schedules = {"constant": "constant", "onecycle": "one-cycle (lr is the peak)"}

# %% tags=["report"]
report.table("softmax_recipes", ["recipe", "epochs", "batch size", "lr", "learning-rate schedule"],
             [[name, r["num_epochs"], r["batch_size"], f"{r['lr']:g}", schedules[r["schedule"]]]
              for name, r in RECIPES.items()])

# %% [markdown]
# ## Adam's update, by hand
#
# The lesson writes Adam's update as formulas. Here they are in code, checked against
# `torch.optim.Adam` (whose `weight_decay` adds $d\,\theta$ to the gradient) and
# `torch.optim.AdamW` (which shrinks $\theta$ by $\eta\, d\, \theta$ outside the update).


# %%
# --8<-- [start:adam_by_hand]
def adam_by_hand(theta, gradient, num_steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.0, decoupled=False):
    """``theta`` after ``num_steps`` Adam steps on the gradient ``gradient(theta)``.

    ``weight_decay`` is torch.optim.Adam's (added to the gradient), or with
    ``decoupled=True`` torch.optim.AdamW's (theta shrunk outside the update).
    """
    beta1, beta2 = betas
    m = torch.zeros_like(theta)  # running average of the gradient
    v = torch.zeros_like(theta)  # running average of its square
    for t in range(1, num_steps + 1):
        g = gradient(theta)
        if decoupled:
            theta = theta - lr * weight_decay * theta  # AdamW
        else:
            g = g + weight_decay * theta  # Adam: the gradient of (d/2)·||theta||²
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat = m / (1 - beta1 ** t)  # the averages start at zero: undo that bias
        v_hat = v / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (v_hat.sqrt() + eps)  # element by element
    return theta
# --8<-- [end:adam_by_hand]


def adam_by_torch(theta, gradient, num_steps, optimizer_class, **options):
    """The same steps with a torch.optim optimiser."""
    theta = theta.clone().requires_grad_()
    optimizer = optimizer_class([theta], **options)
    for _ in range(num_steps):
        theta.grad = gradient(theta.detach())
        optimizer.step()
    return theta.detach()


# %%
def quadratic_gradient(theta):
    """The gradient of sum(scale * (theta - 1)²), with scales a million apart."""
    scale = torch.logspace(-3, 3, len(theta), dtype=theta.dtype)
    return 2 * scale * (theta - 1)


theta0 = torch.linspace(-2, 2, 7, dtype=torch.float64)
adam_defaults = {name: parameter.default
                 for name, parameter in inspect.signature(torch.optim.Adam).parameters.items()}
adam_defaults_as_stated = ((adam_defaults["lr"], adam_defaults["betas"], adam_defaults["eps"])
                           == (1e-3, (0.9, 0.999), 1e-8))
adam_differences = []  # by hand vs torch.optim: Adam, Adam with weight_decay, AdamW
for options, decoupled, optimizer_class in [({}, False, torch.optim.Adam),
                                            ({"weight_decay": 0.5}, False, torch.optim.Adam),
                                            ({"weight_decay": 0.5}, True, torch.optim.AdamW)]:
    by_hand = adam_by_hand(theta0, quadratic_gradient, 50, lr=0.1, decoupled=decoupled, **options)
    by_torch = adam_by_torch(theta0, quadratic_gradient, 50, optimizer_class, lr=0.1, **options)
    difference = (by_hand - by_torch).abs().max().item()
    print(f"{optimizer_class.__name__} {options}: largest difference {difference:.1e}")
    adam_differences.append(difference)
adam_by_hand_matches_torch = all(difference < 1e-12 for difference in adam_differences)


# %%
# --8<-- [start:train_seeds]
def train_seeds(config, recipe, seeds, mnist, device):
    """Train ``config`` once per seed, each run logged to ``runs/<recipe>-seed<k>-<time>``."""
    return [train_model(dataclasses.replace(config, seed=seed), mnist, device=str(device),
                        logdir=run_logdir("runs", recipe, seed), progress=True)
            for seed in seeds]
# --8<-- [end:train_seeds]


def summarise(runs) -> dict:
    """What the page says of one recipe's runs (a list per seed reads mean ± std)."""
    test_acc = [r.test_accuracy for r in runs]
    return {"test_accuracy": test_acc, "test_accuracy_min": min(test_acc),
            "val_accuracy": [r.epoch_val_accuracy[-1] for r in runs],
            "first_loss": [r.step_loss[0] for r in runs],
            "final_train_loss": [r.epoch_train_loss[-1] for r in runs],
            "seconds_per_epoch": statistics.fmean(s for r in runs for s in r.epoch_seconds),
            "num_epochs": len(runs[0].epoch_seconds), "num_seeds": len(runs),
            "parameters": count_parameters(runs[0].net)}


def loss_figure(runs):
    steps_per_epoch = len(runs[0].step_loss) // len(runs[0].epoch_seconds)
    return plots.loss_curves([r.step_loss for r in runs], steps_per_epoch,
                             [r.epoch_val_loss for r in runs])


# %% [markdown]
# ## The plain recipe
#
# Adam at a constant learning rate, where most tutorials start. Its first seed is also
# the correct network of the softmax comparison at the end.

# %%
plain_runs = train_seeds(CONFIG.plain, "plain", CONFIG.seeds, mnist, device)

# %%
plain = summarise(plain_runs)
report.figure("plain_loss_curve", loss_figure(plain_runs))

# %% [markdown]
# ## The final recipe: one cycle
#
# The learning rate warms up to its peak over the first 30 % of the steps, then anneals
# to almost zero. The first seed's weights are saved for the evaluation notebook.

# %%
# --8<-- [start:final_runs]
final_runs = train_seeds(CONFIG.final, "final", CONFIG.seeds, mnist, device)
# --8<-- [end:final_runs]

# %%
final = summarise(final_runs)
report.figure("loss_curve", loss_figure(final_runs))

# %% tags=["report"]
if CONFIG == FULL:
    final_reaches_min_test_accuracy = (statistics.fmean(r.test_accuracy for r in final_runs)
                                       >= CONFIG.min_test_accuracy)

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
# per epoch to a folder of its own, `runs/<recipe>-seed<k>-<date>-<time>`:

# %%
run_folders = sorted(folder for folder in Path("runs").iterdir() if folder.is_dir())
for folder in run_folders:
    print(folder)

# %% tags=["report"]
one_log_per_run_folder = all(len(list(folder.glob("events.out.tfevents.*"))) == 1
                             for folder in run_folders)

# %% [markdown]
# Load TensorBoard's notebook extension, then start it on the parent folder: every run
# appears as a curve of its own, and running this notebook again adds new curves
# instead of mixing with the old ones. (Outside a notebook: `tensorboard --logdir runs`
# in a terminal in this folder, then open <http://localhost:6006>.)

# %%
# %load_ext tensorboard

# %%
if settings.read("REPORT"):  # set by the site's build: no browser to show it
    print("Built by the course's site: no TensorBoard server is started here.")
else:
    print("TensorBoard on every run under runs/ (a server on http://localhost:6006):")
    # %tensorboard --logdir runs

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


# --8<-- [start:logit_gradients]
def logit_gradients(z, y):
    """Per-example gradient norms of the loss w.r.t. the logits ``z`` (N, 10), without
    and with a softmax between them and ``CrossEntropyLoss``."""
    z = z.detach().requires_grad_()
    norms = []
    for extra_softmax in (False, True):
        y_hat = torch.softmax(z, dim=1) if extra_softmax else z  # what the loss sees
        # summed, not averaged: row i of the gradient is then example i's own gradient
        loss = nn.functional.cross_entropy(y_hat, y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, z)  # (N, 10)
        norms.append(grad.norm(dim=1))  # (N,)
    return norms[0], norms[1]
# --8<-- [end:logit_gradients]


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
                    device=str(device), progress=True,
                    logdir=run_logdir("runs", "plain-softmax-bug", right.config.seed))
grad_right, grad_wrong = first_step_gradient_norms(right.config, mnist)

# %% tags=["report"]
softmax_right_accuracy = right.test_accuracy
softmax_wrong_accuracy = wrong.test_accuracy
softmax_right_val_accuracy_first = right.epoch_val_accuracy[0]
softmax_wrong_val_accuracy_first = wrong.epoch_val_accuracy[0]
softmax_accuracy_gap = 100 * (right.test_accuracy - wrong.test_accuracy)
softmax_right_final_loss = right.epoch_train_loss[-1]
softmax_wrong_final_loss = wrong.epoch_train_loss[-1]
softmax_loss_floor = floor
softmax_grad_ratio = grad_right / grad_wrong
softmax_num_epochs = right.config.num_epochs

softmax_loss_above_floor = min(wrong.step_loss) >= floor - 1e-6
softmax_first_gradient_smaller = grad_wrong < grad_right  # same initial weights, same batch
softmax_still_learns = wrong.test_accuracy >= 0.2  # chance is 10 %
if CONFIG == FULL:
    logits_loss_below_tenth_of_floor = right.epoch_train_loss[-1] < floor / 10
    logits_ahead_after_first_epoch = right.epoch_val_accuracy[0] > wrong.epoch_val_accuracy[0]
    logits_more_accurate_on_test = right.test_accuracy > wrong.test_accuracy

# %% [markdown]
# How much does the loss of the trained buggy network still depend on how wrong it is?
# Its logits are the output of every layer but the final softmax. Over the test images:
# the range of the doubly-softmaxed probabilities the loss sees, and the gradient with
# respect to the logits of the digits it gets wrong, with the extra softmax and as if
# the loss had seen those logits directly.

# %%
split = make_split(mnist, right.config.train_size, right.config.val_size, right.config.test_size)
X_test = normalise(mnist.test_images[split.test]).to(device)  # (N, 1, 28, 28)
y_test = mnist.test_labels[split.test].to(device)  # (N,)
wrong.net.eval()
with torch.no_grad():  # no_grad, not inference_mode: logit_gradients differentiates z
    z = wrong.net.layers[:-1](X_test)  # (N, 10): the logits, before the network's softmax
p = torch.softmax(z, dim=1)  # (N, 10): what the buggy network outputs
q = torch.softmax(p, dim=1)  # (N, 10): what CrossEntropyLoss turns them into
grad_plain, grad_bug = logit_gradients(z, y_test)  # (N,), (N,)
mistakes = p.argmax(dim=1) != y_test  # (N,)
confidence = torch.where(mistakes, p.max(dim=1).values, -1.0)  # (N,): -1 for right answers
worst = confidence.argmax()  # the most confident mistake

q_low, q_high = 1 / (math.e + 9), math.e / (math.e + 9)  # the bounds for a one-hot p
ceiling = math.log(math.e + 9)  # the loss of a one-hot p on a wrong digit
softmax_q_min = q.min().item()
softmax_q_max = q.max().item()
# 1 - max(p) rounds to 0 in float32: sum the other nine probabilities in log space
z_worst = z[worst].double()  # (10,)
others = torch.cat([z_worst[:z_worst.argmax()], z_worst[z_worst.argmax() + 1:]])  # (9,)
rest = (torch.logsumexp(others, dim=0) - torch.logsumexp(z_worst, dim=0)).exp().item()

# %% tags=["report"]
softmax_worst_grad_plain = grad_plain[worst].item()
softmax_worst_grad_bug = grad_bug[worst].item()
softmax_worst_grad_ratio = (grad_plain[worst] / grad_bug[worst]).item()
softmax_mistakes_median_ratio = (grad_plain[mistakes] / grad_bug[mistakes]).median().item()
softmax_q_within_bounds = q_low - 1e-6 <= q.min().item() and q.max().item() <= q_high + 1e-6
softmax_shrinks_every_mistake_gradient = (bool(mistakes.any())
                                          and (grad_bug[mistakes] < grad_plain[mistakes]).all().item())
if CONFIG == FULL:
    softmax_shrinks_worst_mistake_tenfold = grad_bug[worst] < grad_plain[worst] / 10

# %% tags=["report"]
report.figure("softmax_comparison", comparison_figure(right, wrong, floor))

# %% [markdown]
# ## Try it
#
# * Train with `dataclasses.replace(CONFIG.final, schedule="constant")`: what does the
#   one-cycle schedule buy?
# * Double `lr` in the plain recipe and watch the loss curve in TensorBoard.
# * Remove `optimizer.zero_grad(...)` from a copy of `train_epoch`: what happens to the
#   loss?
