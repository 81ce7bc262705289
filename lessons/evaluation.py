# ---
# jupyter:
#   mnist_tutorial:
#     uses: [training]
# ---

# %% [markdown]
# # Evaluation: what the test accuracy hides
#
# The code and the runs of the lesson *Evaluation*: load the network the training
# notebook saved (the final recipe, seed 0), compute its test accuracy the right way,
# compare `torch.no_grad()` with `torch.inference_mode()`, then compute its confusion
# matrix, per-class accuracy and a gallery of its mistakes. A few
# seconds; without the training notebook's file it first trains that network (about
# half a minute on a laptop CPU). `MNIST_TUTORIAL_PROFILE=smoke` gives a quick run.

# %%
# --8<-- [start:setup]
import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.ticker import FormatStrFormatter
from torch import nn

from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import TensorBatches, load_mnist, make_split
from mnist_tutorial.models import MLP
from mnist_tutorial.training import (
    EVAL_BATCH_SIZE,
    checkpoint_dir,
    evaluate,
    load_mlp,
    pick_device,
    save_checkpoint,
    train_model,
)


@dataclass(frozen=True)
class Config:
    train: TrainConfig = TrainConfig.recipe("final", seed=0)  # the training notebook's seed 0
    num_mistakes: int = 24  # digits in the gallery
    min_accuracy: float | None = 0.98  # the test accuracy the lessons promise


FULL = Config()
SMOKE = dataclasses.replace(FULL, train=FULL.train.smoke(), min_accuracy=None)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()  # $MNIST_TUTORIAL_DEVICE, else CUDA if a GPU is visible, else the CPU
# --8<-- [end:setup]
from mnist_tutorial.report import Report

report = Report("evaluation", seeds=[CONFIG.train.seed], device=device)
report.config(CONFIG)
print("device:", device)

# %% [markdown]
# ## The trained network
#
# The training notebook saved the weights of its first final-recipe run with
# `save_checkpoint`, next to a note of that run's recipe and test accuracy; `load_mlp`
# rebuilds the network and loads them. Without that file (or with one from another
# recipe or profile), the same run is trained here and saved.

# %%
mnist = load_mnist()
checkpoint = checkpoint_dir() / "mlp-final-seed0.pt"
note = checkpoint.with_suffix(".json")  # {"config": ..., "test_accuracy": ...}
saved = json.loads(note.read_text()) if note.is_file() and checkpoint.is_file() else None
if saved is not None and saved["config"] == repr(CONFIG.train):
    net = load_mlp(checkpoint, CONFIG.train, device)
    print(f"loaded {checkpoint}")
else:
    print(f"No {checkpoint.name} from the training notebook for this recipe and profile: "
          f"training it here (half a minute on a CPU).")
    run = train_model(CONFIG.train, mnist, device=str(device), progress=True)
    net = run.net
    saved = {"config": repr(run.config), "test_accuracy": run.test_accuracy}
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(net, checkpoint)
    note.write_text(json.dumps(saved))
recorded_accuracy = saved["test_accuracy"]  # what the training run measured at its end
print(f"test accuracy at the end of training: {recorded_accuracy:.2%}")

# %% [markdown]
# ## Test accuracy, computed the right way
#
# `evaluate` (in `mnist_tutorial/training.py`) switches to `eval()` mode, runs under
# `torch.inference_mode()` and counts on the device; the test batches keep their stored
# order (`shuffle=False`). To look inside the number we keep every prediction instead of
# only counting them:

# %%
# --8<-- [start:predict]
def predict(net, batches):
    """Softmax probabilities (N, 10) and true labels (N,) for every example, in order."""
    net.eval()
    probs, labels = [], []
    with torch.inference_mode():
        for X, y in batches:  # X: (B, 1, 28, 28), y: (B,)
            probs.append(torch.softmax(net(X), dim=1))  # (B, 10)
            labels.append(y)
    return torch.cat(probs).cpu(), torch.cat(labels).cpu()
# --8<-- [end:predict]


# %%
split = make_split(mnist, CONFIG.train.train_size, CONFIG.train.val_size, CONFIG.train.test_size)
images, labels = mnist.test_images[split.test], mnist.test_labels[split.test]  # (N, 28, 28), (N,)
num_test = len(labels)
loss_fn = nn.CrossEntropyLoss()


def batches(shuffle):
    """The test set in batches on the device; shuffled, always in the same order (seed 1)."""
    return TensorBatches(images, labels, EVAL_BATCH_SIZE, shuffle=shuffle, seed=1, device=device)


probs, y = predict(net, batches(shuffle=False))  # (N, 10), (N,)
y_pred = probs.argmax(dim=1)  # (N,)
test_loss, test_accuracy = evaluate(net, batches(shuffle=False), loss_fn)
print(f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.2%}")

# %% tags=["report"]
predict_keeps_test_order = torch.equal(y, labels)
# the saved weights score what their training run ended with; GPU kernels may flip one
weights_score_recorded_accuracy = abs(test_accuracy - recorded_accuracy) <= 2 / num_test
if CONFIG.min_accuracy is not None:
    reaches_min_accuracy = test_accuracy >= CONFIG.min_accuracy

# %% [markdown]
# Shuffled test batches give the same accuracy, but their predictions no longer line up
# with the labels in stored order:

# %%
_, shuffled_accuracy = evaluate(net, batches(shuffle=True), loss_fn)
shuffled_probs, _ = predict(net, batches(shuffle=True))  # the same shuffled order
misaligned = (shuffled_probs.argmax(dim=1) == labels).float().mean().item()

# %% tags=["report"]
shuffling_keeps_accuracy = abs(shuffled_accuracy - test_accuracy) < 1e-9
misaligned_predictions_score_lower = misaligned <= test_accuracy - 0.3

# %% [markdown]
# `eval()` only matters for layers that behave differently in training (dropout, batch
# norm); the lesson MLP has none, so both modes give the same outputs.

# %%
X = next(iter(batches(shuffle=False)))[0]  # (B, 1, 28, 28): the first test batch
with torch.inference_mode():
    net.train()
    y_hat_train = net(X)  # (B, 10)
    net.eval()
    y_hat_eval = net(X)

# %% tags=["report"]
train_and_eval_modes_agree = torch.equal(y_hat_train, y_hat_eval)


# %% [markdown]
# ## `torch.no_grad()` and `torch.inference_mode()`
#
# Both stop autograd from recording; the outputs of `inference_mode` are *inference
# tensors*, which autograd refuses to use later. `use_in_autograd` feeds a tensor into a
# computation that needs a gradient and returns the error, if any:

# %%
# --8<-- [start:grad_modes]
def outputs_under(mode, net, X):
    """``net(X)`` computed under ``mode``: ``torch.no_grad`` or ``torch.inference_mode``."""
    with mode():
        return net(X)  # (B, 10)


def use_in_autograd(y_hat):
    """Multiply ``y_hat`` by a weight that needs a gradient and backpropagate.

    Returns None if autograd accepts ``y_hat``, else the first line of its error.
    """
    w = torch.ones(y_hat.shape[1], device=y_hat.device, requires_grad=True)  # (10,)
    try:
        (y_hat @ w).sum().backward()  # the product saves y_hat for the backward pass
    except RuntimeError as error:
        return str(error).splitlines()[0]
    return None
# --8<-- [end:grad_modes]


# %% tags=["report"]
y_hat_no_grad = outputs_under(torch.no_grad, net, X)  # (B, 10)
y_hat_inference = outputs_under(torch.inference_mode, net, X)  # (B, 10)
cases = {"torch.no_grad()": y_hat_no_grad, "torch.inference_mode()": y_hat_inference,
         "torch.inference_mode(), then .clone()": y_hat_inference.clone()}
report.table("grad_modes",
             ["outputs computed under", "requires_grad", "is_inference()",
              "then used in autograd"],
             [[name, str(y_hat.requires_grad), str(y_hat.is_inference()),
               f"RuntimeError: {error}" if (error := use_in_autograd(y_hat)) else "accepted"]
              for name, y_hat in cases.items()])
inference_error = use_in_autograd(y_hat_inference)

# %% tags=["report"]
grad_modes_agree = torch.equal(y_hat_no_grad, y_hat_inference)
neither_mode_records_graph = not y_hat_no_grad.requires_grad and not y_hat_inference.requires_grad
no_grad_output_usable = use_in_autograd(y_hat_no_grad) is None
inference_output_rejected = inference_error is not None and "Inference tensors" in inference_error
inference_clone_usable = use_in_autograd(y_hat_inference.clone()) is None  # made outside the mode


# %% [markdown]
# ## The confusion matrix
#
# One `bincount` computes all 100 counts at once; the accuracy on each digit and the
# most frequent confusions are read off it.

# %%
# --8<-- [start:confusion_matrix]
def confusion_matrix(y, y_pred, num_classes=10):
    """``cm[i, j]``: how many examples of class ``i`` were predicted as class ``j``."""
    pair = y * num_classes + y_pred  # one number per (true, predicted) pair
    counts = torch.bincount(pair, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)  # rows: true, columns: predicted
# --8<-- [end:confusion_matrix]


# --8<-- [start:per_class_accuracy]
def per_class_accuracy(cm):
    """Share of each true class that was predicted correctly: diagonal / row sums."""
    return cm.diagonal() / cm.sum(dim=1)
# --8<-- [end:per_class_accuracy]


# --8<-- [start:most_confused]
def most_confused(cm, k=3):
    """The ``k`` largest off-diagonal cells as (true, predicted, count), largest first."""
    errors = cm.clone()
    errors.fill_diagonal_(0)  # correct predictions are not confusions
    counts, flat = errors.flatten().topk(k)
    num_classes = cm.shape[1]
    return [(int(i) // num_classes, int(i) % num_classes, int(c)) for i, c in zip(flat, counts)]
# --8<-- [end:most_confused]


def confusion_figure(cm):
    """The confusion matrix as a heat map with the counts written in (SVG text)."""
    counts = cm.numpy()
    with plots.figure(figsize=(5.6, 4.8)) as (fig, ax):
        shown = np.where(counts > 0, counts, np.nan)  # empty cells stay white
        image = ax.imshow(shown, cmap="Blues", norm=LogNorm(vmin=1, vmax=max(2, counts.max())))
        for i in range(counts.shape[0]):
            for j in range(counts.shape[1]):
                if counts[i, j]:
                    dark = counts[i, j] > counts.max() ** 0.6
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
        ax.set_xticks(range(10))
        ax.set_yticks(range(10))
        ax.set_xlabel("predicted digit")
        ax.set_ylabel("true digit")
        ax.grid(False)
        fig.colorbar(image, ax=ax, label="test images (log scale)", shrink=0.8,
                     format=FormatStrFormatter("%g"))
        return plots.to_svg(fig)


# %%
cm = confusion_matrix(y, y_pred)  # (10, 10)
num_correct = cm.trace().item()
num_errors = num_test - num_correct
accuracy = num_correct / num_test
confusion_accuracy_matches = cm.sum().item() == num_test and abs(accuracy - test_accuracy) < 1e-9

confused = most_confused(cm, k=3)
top_true, top_pred, top_count = confused[0]
top3_share = sum(c for _, _, c in confused) / max(1, num_errors)

# %% tags=["report"]
# more than twice the share of the mistakes the top 3 of the 90 off-diagonal cells would hold evenly
top_confusions_cluster = num_errors == 0 or top3_share >= 2 * 3 / 90
report.table("most_confused", ["true digit", "predicted as", "test images"],
             [[t, p, c] for t, p, c in confused])

# %%
per_class = per_class_accuracy(cm)  # (10,)
worst, best = int(per_class.argmin()), int(per_class.argmax())

# %% tags=["report"]
report.figure("confusion_matrix", confusion_figure(cm))


# %% [markdown]
# ## Per-class accuracy
#
# Each row of the confusion matrix is one true digit; the share of the row on the
# diagonal is the accuracy on that digit (`per_class_accuracy`, above).

# %%
worst_accuracy = per_class[worst].item()
best_accuracy = per_class[best].item()
rows = []
for d in range(10):
    errors = cm[d].clone()
    errors[d] = 0  # the wrong guesses for digit d
    rows.append([d, int(cm[d].sum()), int(cm[d, d]), per_class[d].item(),
                 f"{int(errors.argmax())} ({int(errors.max())})" if errors.max() > 0 else "–"])

# %% tags=["report"]
report.table("per_class",
             ["digit", "test images", "correct", "accuracy", "most frequent wrong guess (count)"],
             rows, units={"accuracy": ("percent", 1)})


# %% [markdown]
# ## The mistakes themselves

# %%
# --8<-- [start:misclassified]
def misclassified(y, y_pred, k=24):
    """Indices of the first ``k`` wrongly predicted examples, in test-set order."""
    return torch.nonzero(y_pred != y).flatten()[:k]
# --8<-- [end:misclassified]


def mistakes_figure(images, y, y_pred, confidence, cols=8):
    """A gallery of test images titled ``true → predicted (probability)`` (SVG text)."""
    rows = -(-len(images) // cols)
    with plots.figure(rows, cols, figsize=(cols * 1.0, rows * 1.25), squeeze=False) as (fig, axes):
        for ax in axes.flat:
            ax.set_axis_off()
        for ax, image, true, pred, p in zip(axes.flat, images, y, y_pred, confidence):
            ax.imshow(image.numpy(), cmap="gray_r", vmin=0, vmax=255)
            ax.set_title(f"{int(true)} → {int(pred)}\n{float(p):.0%}", fontsize=9, pad=2)
        return plots.to_svg(fig)


# %%
wrong = misclassified(y, y_pred, CONFIG.num_mistakes)
confidence = probs[wrong].max(dim=1).values  # the probability of each wrong answer
num_mistakes_shown = len(wrong)
low_confidence_mistakes = int((confidence < 0.9).sum())

# %% tags=["report"]
report.figure("mistakes", mistakes_figure(images[wrong], y[wrong], y_pred[wrong], confidence))

# %% [markdown]
# ## Try it
#
# * Show the next 24 mistakes: `misclassified(y, y_pred, k=48)[24:]`.
# * Which mistakes was the model most *sure* about? Sort `wrong` by `confidence`.
# * Train the plain recipe instead (`TrainConfig.recipe("plain")`): which digits gain
#   the most from the final recipe?
