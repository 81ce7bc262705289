# %% [markdown]
# # Training
#
# The notebook of the lesson *Training*: train the lesson MLP with the course's final
# recipe in a loop you can read and change, log runs to TensorBoard, and measure the
# classic mistake — a softmax before `CrossEntropyLoss`. On a laptop CPU it takes two or
# three minutes in all; on a GPU, well under one.

# %% [markdown]
# ## Setup
#
# In a copy of the course repository, `pip install -r requirements.txt` installs
# everything this notebook needs, including the course package `mnist_tutorial`. On
# Google Colab the next cell installs the package from GitHub; elsewhere it does nothing.

# %%
import sys

COURSE_REPO = None  # OWNER/NAME of the course on GitHub; the course website fills it in

if "google.colab" in sys.modules:
    import subprocess

    if COURSE_REPO is None:
        raise RuntimeError("Set COURSE_REPO to the OWNER/NAME of the course repository on GitHub.")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"git+https://github.com/{COURSE_REPO}"], check=True)

# %%
import dataclasses

import torch
from IPython.display import SVG, display
from torch import nn

from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import TensorBatches, load_mnist, make_split
from mnist_tutorial.experiments.softmax_bug import comparison_figure, loss_floor
from mnist_tutorial.models import MLP
from mnist_tutorial.training import evaluate, make_optimizer, pick_device, train_epoch, train_model

device = pick_device()  # CUDA if a GPU is visible, else the CPU
smoke = current_profile() == "smoke"  # MNIST_TUTORIAL_PROFILE=smoke: the course's quick tests
config = TrainConfig.recipe("final", seed=0)
if smoke:
    config = config.smoke()
print(config)
print("device:", device)

# %% [markdown]
# ## The data, on the device
#
# `TensorBatches` cuts shuffled batches from one normalised tensor (the lesson's
# `DataLoader` gives the same kind of batches, more slowly).

# %%
mnist = load_mnist()
split = make_split(mnist, config.train_size, config.val_size, config.test_size)
train_batches = TensorBatches(mnist.train_images[split.train], mnist.train_labels[split.train],
                              config.batch_size, shuffle=True, seed=config.seed, device=device)
val_batches = TensorBatches(mnist.train_images[split.val], mnist.train_labels[split.val],
                            1000, shuffle=False, device=device)
print(len(train_batches), "steps per epoch")

# %% [markdown]
# ## Network, loss, optimiser — and the loop
#
# `train_epoch` runs one pass: for each batch `zero_grad`, `backward`, `step` (see
# `??train_epoch`); `evaluate` measures the validation set after each epoch.

# %%
torch.manual_seed(config.seed)  # the initial weights
net = MLP().to(device)
loss_fn = nn.CrossEntropyLoss()  # takes logits
optimizer, scheduler = make_optimizer(net, config, len(train_batches), device)

step_loss, val_loss = [], []
for epoch in range(config.num_epochs):
    losses = train_epoch(net, train_batches, optimizer, loss_fn, scheduler)
    loss, accuracy = evaluate(net, val_batches, loss_fn)
    step_loss += losses.tolist()
    val_loss.append(loss)
    print(f"epoch {epoch + 1}: training loss {losses.mean():.4f}, "
          f"validation loss {loss:.4f}, validation accuracy {accuracy:.2%}")

display(SVG(plots.loss_curves([step_loss], len(train_batches), [val_loss])))

# %% [markdown]
# ## TensorBoard
#
# `train_model` runs the same loop and, given a `logdir`, writes the training loss of
# every step and the validation loss and accuracy of every epoch for TensorBoard. The next
# cells train the plain recipe twice — once correctly, once with the softmax bug — and log
# both under `runs/`. Then, in a terminal in this folder:
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
# `MLP(softmax_output=True)` ends with `nn.Softmax`, so the loss applies a softmax to
# probabilities. Same recipe, same seed, with and without the mistake:

# %%
plain = TrainConfig.recipe("plain", seed=0)
if smoke:
    plain = plain.smoke()
right = train_model(plain, mnist, device=str(device), logdir="runs/plain")
wrong = train_model(dataclasses.replace(plain, softmax_output=True), mnist,
                    device=str(device), logdir="runs/softmax_bug")
print(f"logits:          final training loss {right.epoch_train_loss[-1]:.4f}, "
      f"test accuracy {right.test_accuracy:.2%}")
print(f"softmax output:  final training loss {wrong.epoch_train_loss[-1]:.4f}, "
      f"test accuracy {wrong.test_accuracy:.2%}")
print(f"lowest loss the softmax network can reach: log(1 + 9/e) = {loss_floor():.4f}")
display(SVG(comparison_figure(right, wrong, loss_floor())))

# %% [markdown]
# ## Try it
#
# * Train with `dataclasses.replace(config, schedule="constant")`: what does the one-cycle
#   schedule buy?
# * Double `lr` in the plain recipe and watch the loss curve in TensorBoard.
# * Remove `optimizer.zero_grad(...)` from a copy of `train_epoch`: what happens to the
#   loss?
