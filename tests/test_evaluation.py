"""The evaluation lesson's code: predictions in order, confusion matrix, per-class accuracy, mistakes.

The run and the lesson's claims are checked when lessons/evaluation.py runs as a
notebook (tests/test_notebooks.py and the site build).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from lesson_code import definitions
from mnist_tutorial.data import TensorBatches
from mnist_tutorial.training import evaluate

ev = definitions("evaluation")


def _loop_confusion(y, y_pred, num_classes=10):
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for t, p in zip(y.tolist(), y_pred.tolist()):
        cm[t, p] += 1
    return cm


def test_confusion_matrix_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (500,), generator=g)
    y_pred = torch.where(torch.rand(500, generator=g) < 0.7, y, torch.randint(0, 10, (500,), generator=g))
    cm = ev.confusion_matrix(y, y_pred)
    assert torch.equal(cm, _loop_confusion(y, y_pred))
    assert cm.sum() == 500
    assert cm.trace() == (y == y_pred).sum()
    assert torch.equal(cm.sum(dim=1), torch.bincount(y, minlength=10))  # rows: true labels


def test_confusion_matrix_keeps_empty_classes():
    cm = ev.confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), num_classes=4)
    assert cm.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_per_class_accuracy_is_diagonal_over_rows():
    cm = torch.tensor([[8, 2], [1, 3]])
    assert ev.per_class_accuracy(cm).tolist() == pytest.approx([0.8, 0.75])


def test_most_confused_ignores_the_diagonal_and_sorts():
    cm = torch.tensor([[50, 1, 7], [4, 60, 0], [0, 9, 40]])
    assert ev.most_confused(cm, k=3) == [(2, 1, 9), (0, 2, 7), (1, 0, 4)]
    assert cm[0, 0] == 50  # the input is not modified


def test_misclassified_returns_the_first_indices_in_order():
    y = torch.tensor([1, 2, 3, 4, 5, 6])
    y_pred = torch.tensor([1, 0, 3, 0, 0, 6])
    assert ev.misclassified(y, y_pred, k=2).tolist() == [1, 3]
    assert ev.misclassified(y, y_pred, k=10).tolist() == [1, 3, 4]


def test_predict_keeps_test_order_and_agrees_with_evaluate():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    images = torch.randint(0, 256, (250, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (250,))
    batches = TensorBatches(images, labels, 64, shuffle=False)
    net.train()
    probs, y = ev.predict(net, batches)
    assert not net.training, "predict must leave the network in eval mode"
    assert probs.shape == (250, 10) and not probs.requires_grad
    assert torch.equal(y, labels)
    assert torch.allclose(probs.sum(dim=1), torch.ones(250))
    _, accuracy = evaluate(net, batches, nn.CrossEntropyLoss())
    assert (probs.argmax(dim=1) == y).float().mean().item() == pytest.approx(accuracy)


def test_figures_are_svg():
    cm = torch.tensor([[5, 1], [0, 4]])
    cm10 = torch.zeros(10, 10, dtype=torch.int64)
    cm10[:2, :2] = cm
    assert ev.confusion_figure(cm10).lstrip().startswith("<?xml")
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    svg = ev.mistakes_figure(images, torch.tensor([1, 2, 3]), torch.tensor([7, 7, 8]),
                             torch.tensor([0.5, 0.9, 0.99]))
    assert "1 → 7" in svg and "99%" in svg


def test_the_promised_accuracy_is_checked_in_full_only():
    assert ev.FULL.min_accuracy == 0.98 and ev.FULL.train.train_size is None
    assert ev.SMOKE.min_accuracy is None and ev.SMOKE.train.train_size is not None


def test_without_a_checkpoint_it_trains_the_training_lessons_network():
    # The evaluation examines the final recipe's seed 0 that lessons/training.py saves;
    # a learner without that file trains the same run, in either profile.
    training = definitions("training")
    for evaluation, train in ((ev.FULL, training.FULL), (ev.SMOKE, training.SMOKE)):
        assert evaluation.train == dataclasses.replace(train.final, seed=train.seeds[0])


def test_inference_mode_outputs_are_refused_by_autograd_no_grad_outputs_are_not():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    X = torch.randn(4, 1, 28, 28)
    no_grad = ev.outputs_under(torch.no_grad, net, X)
    inference = ev.outputs_under(torch.inference_mode, net, X)
    assert torch.equal(no_grad, inference)
    assert not no_grad.requires_grad and not inference.requires_grad
    assert inference.is_inference() and not no_grad.is_inference()
    assert ev.use_in_autograd(no_grad) is None
    assert ev.use_in_autograd(inference).startswith("Inference tensors cannot be saved for backward")
    assert ev.use_in_autograd(inference.clone()) is None
    assert ev.outputs_under(torch.enable_grad, net, X).requires_grad  # recording: a graph
