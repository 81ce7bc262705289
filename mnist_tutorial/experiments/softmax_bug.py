"""Experiment of the training lesson: the classic mistake, softmax before CrossEntropyLoss.

``python -m mnist_tutorial run softmax_bug`` runs (or loads) it: the lesson MLP with
the plain recipe and one seed, once returning logits (right: that run is the first
seed of the ``mlp_plain`` experiment, taken from its result rather than trained again)
and once returning softmax probabilities (``TrainConfig(softmax_output=True)``, wrong,
trained here: in the full profile under a minute on an idle laptop CPU).

Claims the lesson makes and this experiment asserts: with the softmax inside the
network the training loss can never fall below log(1 + 9/e) (``loss_floor`` computes
it), while the correct network's loss falls far below it; at the same initial weights
the buggy network's gradient is smaller; the buggy network still learns something
(well above chance); and, in the full profile, the correct network is more accurate
after the first epoch and on the test set at the end.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import RECIPES, SeedsConfig
from ..registry import experiment, metric, table
from .training import PLAIN


@dataclass(frozen=True)
class SoftmaxBugConfig:
    runs: SeedsConfig  # the ``mlp_plain`` experiment's config: its first seed is the correct run
    profile: str  # which profile's ``mlp_plain`` result

    @property
    def train(self):  # the buggy run differs from the correct one only in softmax_output
        return dataclasses.replace(self.runs.train, seed=self.runs.seeds[0])


FULL = SoftmaxBugConfig(PLAIN, "full")
SMOKE = SoftmaxBugConfig(PLAIN.smoke(), "smoke")


# --8<-- [start:loss_floor]
def loss_floor(num_classes=10):
    """The smallest cross-entropy a network with a softmax output layer can reach.

    Its outputs p lie in [0, 1]; CrossEntropyLoss applies softmax again, so the best
    case is p = one-hot, where the true class gets e / (e + num_classes - 1).
    """
    import math

    return math.log(1 + (num_classes - 1) / math.e)
# --8<-- [end:loss_floor]


def first_step_gradient_norms(config: TrainConfig, mnist) -> tuple[float, float]:
    """Gradient norm of the first batch's loss, correct vs buggy, at the same initial weights."""
    import torch
    from torch import nn

    from ..data import TensorBatches, make_split
    from ..models import MLP

    split = make_split(mnist, config.train_size, config.val_size, config.test_size)
    X, y = next(iter(TensorBatches(mnist.train_images[split.train], mnist.train_labels[split.train],
                                   config.batch_size, shuffle=True, seed=config.seed)))
    norms = []
    for softmax_output in (False, True):
        torch.manual_seed(config.seed)  # identical weights for both networks
        net = MLP(config.hidden, config.activation, softmax_output)
        nn.CrossEntropyLoss()(net(X), y).backward()
        norms.append(torch.cat([p.grad.flatten() for p in net.parameters()]).norm().item())
    return norms[0], norms[1]


def comparison_figure(right, wrong, floor: float) -> str:
    import numpy as np
    from matplotlib.ticker import FormatStrFormatter

    from .. import plots

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


@experiment("softmax_bug", "Softmax before CrossEntropyLoss vs logits (plain recipe, seed 0)",
            full=FULL, smoke=SMOKE)
def softmax_bug(config: SoftmaxBugConfig) -> dict:
    from types import SimpleNamespace

    from ..data import load_mnist
    from ..registry import get_result, requested_device
    from ..training import train_model

    mnist = load_mnist()
    floor = loss_floor()
    right = SimpleNamespace(**get_result("mlp_plain", config.profile)["histories"]["runs"][0])
    wrong = train_model(dataclasses.replace(config.train, softmax_output=True), mnist,
                        device=requested_device(), progress=True)
    grad_right, grad_wrong = first_step_gradient_norms(config.train, mnist)

    if min(wrong.step_loss) < floor - 1e-6:
        raise AssertionError(f"the softmax network's loss {min(wrong.step_loss)} fell below "
                             f"the floor {floor}: is the softmax still in the network?")
    if grad_wrong >= grad_right:
        raise AssertionError(f"gradient norm with the bug {grad_wrong} is not smaller than "
                             f"without {grad_right}")
    if wrong.test_accuracy < 0.2:
        raise AssertionError(f"the softmax network reached only {wrong.test_accuracy:.2%}: the "
                             f"lesson says it still learns something (chance is 10 %)")
    full = config.train.train_size is None
    if full and not (right.epoch_train_loss[-1] < floor / 10
                     and right.epoch_val_accuracy[0] > wrong.epoch_val_accuracy[0]
                     and right.test_accuracy > wrong.test_accuracy):
        raise AssertionError(
            f"the lesson says the correct network ends with a far lower loss and is ahead after "
            f"the first epoch and at the end; correct: loss {right.epoch_train_loss[-1]:.3f}, "
            f"accuracy {right.epoch_val_accuracy[0]:.4f} -> {right.test_accuracy:.4f}; "
            f"softmax: accuracy {wrong.epoch_val_accuracy[0]:.4f} -> {wrong.test_accuracy:.4f}")

    n = config.train.num_epochs
    recipes = [[name, r["num_epochs"], r["batch_size"], f"{r['lr']:g}",
                {"constant": "constant", "onecycle": "one-cycle (lr is the peak)"}[r["schedule"]]]
               for name, r in RECIPES.items()]
    return {
        "metrics": {
            "right_accuracy": metric(right.test_accuracy, unit="percent", digits=2),
            "wrong_accuracy": metric(wrong.test_accuracy, unit="percent", digits=2),
            "right_val_accuracy_first": metric(right.epoch_val_accuracy[0], unit="percent", digits=1),
            "wrong_val_accuracy_first": metric(wrong.epoch_val_accuracy[0], unit="percent", digits=1),
            "accuracy_gap": metric(100 * (right.test_accuracy - wrong.test_accuracy), digits=1),
            "right_final_loss": metric(right.epoch_train_loss[-1], digits=3),
            "wrong_final_loss": metric(wrong.epoch_train_loss[-1], digits=3),
            "loss_floor": metric(floor, digits=3),
            "grad_right": metric(grad_right, digits=3),
            "grad_wrong": metric(grad_wrong, digits=3),
            "grad_ratio": metric(grad_right / grad_wrong, digits=1),
            "num_epochs": metric(n, unit="count"),
        },
        "tables": {
            "recipes": table(["recipe", "epochs", "batch size", "lr", "learning-rate schedule"],
                             recipes, "The two training recipes (mnist_tutorial/config.py)."),
        },
        "figures": {
            "comparison": {
                "svg": comparison_figure(right, wrong, floor),
                "alt": (f"Two charts, same seed and recipe. Left: training loss per step; with "
                        f"logits it falls to {right.epoch_train_loss[-1]:.3f} (last-epoch mean), "
                        f"with a softmax output it stays at {wrong.epoch_train_loss[-1]:.3f}, "
                        f"above the floor log(1 + 9/e) = {floor:.3f}. Right: validation "
                        f"accuracy per epoch, ending at {right.epoch_val_accuracy[-1]:.1%} with "
                        f"logits and {wrong.epoch_val_accuracy[-1]:.1%} with the softmax output."),
                "caption": (f"The same MLP, seed and plain recipe ({n} epoch{'s' if n > 1 else ''}), "
                            f"trained on logits (correct) and on softmax outputs (the bug)."),
            },
        },
        "histories": {"wrong": wrong.history()},  # the right run is in mlp_plain's histories
        "seeds": [config.train.seed],
    }
