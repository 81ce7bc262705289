"""Looking inside a test accuracy: predictions, confusion matrix, per-class accuracy, mistakes.

The code of the evaluation lesson. ``python -m mnist_tutorial run evaluation`` trains
the final recipe once and runs all of it; the lesson's notebook calls the same
functions on a model it trains itself.

Every function takes tensors in the order of the test set: the test batches must not
be shuffled, or predictions and labels would no longer belong to the same images.
"""

from __future__ import annotations

import torch

from . import plots


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


# --8<-- [start:misclassified]
def misclassified(y, y_pred, k=24):
    """Indices of the first ``k`` wrongly predicted examples, in test-set order."""
    return torch.nonzero(y_pred != y).flatten()[:k]
# --8<-- [end:misclassified]


def confusion_figure(cm) -> str:
    """The confusion matrix as a heat map with the counts written in (SVG text)."""
    import numpy as np
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FormatStrFormatter

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


def mistakes_figure(images, y, y_pred, confidence, cols=8) -> str:
    """A gallery of test images titled ``true → predicted (probability)`` (SVG text)."""
    rows = -(-len(images) // cols)
    with plots.figure(rows, cols, figsize=(cols * 1.0, rows * 1.25), squeeze=False) as (fig, axes):
        for ax in axes.flat:
            ax.set_axis_off()
        for ax, image, true, pred, p in zip(axes.flat, images, y, y_pred, confidence):
            ax.imshow(image.numpy(), cmap="gray_r", vmin=0, vmax=255)
            ax.set_title(f"{int(true)} → {int(pred)}\n{float(p):.0%}", fontsize=9, pad=2)
        return plots.to_svg(fig)
