"""Experiment of the evaluation lesson: one model of the final recipe, examined on the test set.

``python -m mnist_tutorial run evaluation`` runs (or loads) it: it loads the weights
the ``mlp`` experiment of the training lesson saved for its first seed (training them
first if that result is not cached: it trains nothing twice), then computes the
confusion matrix, per-class accuracy and a gallery of misclassified test digits with
``mnist_tutorial.evaluation``.

Claims the lesson makes and this experiment asserts: the accuracy read off the
confusion matrix equals the one ``training.evaluate`` computes and the one the
training run recorded (so the checkpoint holds the weights that run ended with); shuffling the test
batches leaves the accuracy unchanged but breaks the link between a prediction and
its image; ``eval()`` changes nothing for this network (it has no dropout or batch
norm); the three most frequent confusions hold more than twice their even share
(3 of 90 cells) of the mistakes; and, in the full profile, the final recipe reaches at
least 98.0 % test accuracy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import SeedsConfig
from ..registry import experiment, metric, table
from .training import FINAL


@dataclass(frozen=True)
class EvaluationConfig:
    runs: SeedsConfig  # the ``mlp`` experiment's config: its first seed is examined
    profile: str  # which profile's ``mlp`` result
    num_mistakes: int = 24  # digits in the gallery
    min_accuracy: float | None = 0.98  # asserted test accuracy; None in the smoke profile

    @property
    def train(self):
        return dataclasses.replace(self.runs.train, seed=self.runs.seeds[0])


FULL = EvaluationConfig(FINAL, "full")
SMOKE = EvaluationConfig(FINAL.smoke(), "smoke", min_accuracy=None)


@experiment("evaluation", "The final recipe (seed 0) on the test set: confusion matrix, "
            "per-class accuracy, mistakes", full=FULL, smoke=SMOKE)
def evaluation_lesson(config: EvaluationConfig) -> dict:
    import torch
    from torch import nn

    from .. import evaluation as ev
    from ..data import TensorBatches, load_mnist, make_split
    from ..registry import get_file, get_result, requested_device
    from ..training import EVAL_BATCH_SIZE, evaluate, load_mlp, pick_device
    from .training import checkpoint_name

    mnist = load_mnist()
    device = pick_device(requested_device())
    checkpoint = get_file("mlp", checkpoint_name(config.train.seed), config.profile)
    net = load_mlp(checkpoint, config.train, device)
    recorded = get_result("mlp", config.profile)["histories"]["runs"][0]
    split = make_split(mnist, config.train.train_size, config.train.val_size,
                       config.train.test_size)
    images, labels = mnist.test_images[split.test], mnist.test_labels[split.test]
    num_test = len(labels)

    def test_batches(shuffle: bool):
        return TensorBatches(images, labels, EVAL_BATCH_SIZE, shuffle=shuffle, seed=1,
                             device=device)

    probs, y = ev.predict(net, test_batches(shuffle=False))  # (N, 10), (N,)
    y_pred = probs.argmax(dim=1)
    if not torch.equal(y, labels):
        raise AssertionError("predict() returned the labels out of test-set order")
    cm = ev.confusion_matrix(y, y_pred)
    accuracy = cm.trace().item() / num_test
    _, evaluated = evaluate(net, test_batches(shuffle=False), nn.CrossEntropyLoss())
    if cm.sum().item() != num_test or abs(accuracy - evaluated) > 1e-9:
        raise AssertionError(f"confusion-matrix accuracy {accuracy} != evaluate() {evaluated}")
    if abs(accuracy - recorded["test_accuracy"]) > 2 / num_test:  # GPU kernels may flip one
        raise AssertionError(f"the checkpoint scores {accuracy}, but its training run ended at "
                             f"{recorded['test_accuracy']}: the file holds other weights")
    if config.min_accuracy is not None and accuracy < config.min_accuracy:
        raise AssertionError(f"the final recipe reached {accuracy:.2%} test accuracy, "
                             f"below the {config.min_accuracy:.1%} the lessons promise")

    # Shuffling the test set: same accuracy, but predictions no longer line up with labels.
    loss_fn = nn.CrossEntropyLoss()
    _, shuffled_accuracy = evaluate(net, test_batches(shuffle=True), loss_fn)
    shuffled_probs, _ = ev.predict(net, test_batches(shuffle=True))
    misaligned = (shuffled_probs.argmax(dim=1) == labels).float().mean().item()
    if abs(shuffled_accuracy - accuracy) > 1e-9 or misaligned > accuracy - 0.3:
        raise AssertionError(f"shuffled test set: accuracy {shuffled_accuracy}, "
                             f"misaligned comparison {misaligned}")

    # eval() only matters for layers that behave differently in training (dropout, batch norm).
    X = next(iter(test_batches(shuffle=False)))[0]
    with torch.inference_mode():
        net.train()
        in_train_mode = net(X)
        net.eval()
        in_eval_mode = net(X)
    if not torch.equal(in_train_mode, in_eval_mode):
        raise AssertionError("the lesson MLP gives different outputs in train and eval mode")

    per_class = ev.per_class_accuracy(cm)
    worst, best = int(per_class.argmin()), int(per_class.argmax())
    confused = ev.most_confused(cm, k=3)
    (top_true, top_pred, top_count) = confused[0]
    wrong = ev.misclassified(y, y_pred, config.num_mistakes)
    num_errors = num_test - cm.trace().item()
    top3_share = sum(c for _, _, c in confused) / max(1, num_errors)
    if num_errors and top3_share < 2 * 3 / 90:
        raise AssertionError(f"the top three confusions hold only {top3_share:.1%} of the "
                             f"mistakes: the lesson says mistakes are not spread evenly")
    rows = []
    for d in range(10):
        errors = cm[d].clone()
        errors[d] = 0
        rows.append([d, int(cm[d].sum()), int(cm[d, d]), f"{100 * per_class[d].item():.1f}\u00a0%",
                     f"{int(errors.argmax())} ({int(errors.max())})" if errors.max() > 0 else "–"])
    shown = ", ".join(f"{int(y[i])} as {int(y_pred[i])}" for i in wrong)
    low_confidence = sum(float(probs[i].max()) < 0.9 for i in wrong)

    return {
        "metrics": {
            "test_accuracy": metric(accuracy, unit="percent", digits=2),
            "num_test": metric(num_test, unit="count"),
            "num_correct": metric(cm.trace().item(), unit="count"),
            "num_errors": metric(num_errors, unit="count"),
            "shuffled_accuracy": metric(shuffled_accuracy, unit="percent", digits=2),
            "misaligned_accuracy": metric(misaligned, unit="percent", digits=1),
            "worst_digit": metric(worst, unit="count"),
            "worst_accuracy": metric(per_class[worst].item(), unit="percent", digits=1),
            "best_digit": metric(best, unit="count"),
            "best_accuracy": metric(per_class[best].item(), unit="percent", digits=1),
            "top_confusion_true": metric(top_true, unit="count"),
            "top_confusion_pred": metric(top_pred, unit="count"),
            "top_confusion_count": metric(top_count, unit="count"),
            "top3_share": metric(top3_share, unit="percent", digits=0),
            "num_mistakes_shown": metric(len(wrong), unit="count"),
            "low_confidence_mistakes": metric(low_confidence, unit="count"),
        },
        "tables": {
            "per_class": table(
                ["digit", "test images", "correct", "accuracy", "most frequent wrong guess (count)"],
                rows, "Per-class accuracy on the test set (one model, seed 0)."),
            "most_confused": table(
                ["true digit", "predicted as", "test images"],
                [[t, p, c] for t, p, c in confused], "The three most frequent confusions."),
        },
        "figures": {
            "confusion_matrix": {
                "svg": ev.confusion_figure(cm),
                "alt": (f"Confusion matrix, true digit by row, predicted digit by column: "
                        f"{cm.trace().item():,} of {num_test:,} test images lie on the diagonal. "
                        f"The largest off-diagonal cell is true {top_true} predicted as "
                        f"{top_pred} ({top_count} images); digit {worst} has the lowest "
                        f"accuracy ({per_class[worst].item():.1%})."),
                "caption": ("Confusion matrix of the test set: row = true digit, column = "
                            "predicted digit, colour on a log scale."),
            },
            "mistakes": {
                "svg": ev.mistakes_figure(images[wrong], y[wrong], y_pred[wrong],
                                          probs[wrong].max(dim=1).values),
                "alt": (f"The first {len(wrong)} misclassified test digits, each titled with "
                        f"its true label, the predicted label and the model's probability for "
                        f"it. True as predicted: {shown}."),
                "caption": ("The first misclassified test images in test-set order: "
                            "true → predicted digit, and the probability the model gave "
                            "its (wrong) answer."),
            },
        },
        "seeds": [config.train.seed],
    }
