"""Tests of the regularisation lesson's code: the L2 penalty and AdamW's decay (both on the
weights, not the biases), Adam + L2 against AdamW, dropout in train() and eval() mode, and
the augmentation of training batches.

The lesson's runs and claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lesson_code import definitions
from mnist_tutorial.models import MLP

lesson = definitions("regularisation")
Technique, l2_penalty, make_optimizer = lesson.Technique, lesson.l2_penalty, lesson.make_optimizer
weights_and_biases = lesson.weights_and_biases
DropoutMLP, accuracy_in_mode = lesson.DropoutMLP, lesson.accuracy_in_mode
make_augment, Augmented, BACKGROUND = lesson.make_augment, lesson.Augmented, lesson.BACKGROUND


def test_l2_penalty_is_lambda_times_the_sum_of_squares_of_the_weights():
    net = nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]))
        net.bias.copy_(torch.tensor([2.0, -0.5]))  # left out of the penalty
    expected = 1 + 4 + 0.25 + 0 + 9 + 1
    assert l2_penalty(net, 0.1).item() == pytest.approx(0.1 * expected)


def test_l2_penalty_gradient_is_two_lambda_w_and_leaves_the_biases_alone():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    l2 = 0.03
    l2_penalty(net, l2).backward()
    for name, p in net.named_parameters():
        if name.endswith("bias"):
            assert p.grad is None  # not part of the penalty at all
        else:
            torch.testing.assert_close(p.grad, 2 * l2 * p.detach())


def test_weights_and_biases_splits_every_parameter_of_the_mlps():
    for net in (MLP(), DropoutMLP()):
        weights, biases = weights_and_biases(net)
        assert [tuple(w.shape) for w in weights] == [(1024, 784), (256, 1024), (10, 256)]
        assert [tuple(b.shape) for b in biases] == [(1024,), (256,), (10,)]
        assert len(weights) + len(biases) == len(list(net.parameters()))


def _one_step(technique: Technique, w0: torch.Tensor, data_grad: torch.Tensor, lr: float):
    """One optimiser step from ``w0`` on the loss w·data_grad (+ the technique's penalty)."""
    net = nn.Linear(len(w0), 1, bias=False)
    with torch.no_grad():
        net.weight.copy_(w0.unsqueeze(0))
    optimizer = make_optimizer(net, technique, lr)
    loss = (net.weight * data_grad).sum() + (l2_penalty(net, technique.l2) if technique.l2 else 0)
    loss.backward()
    optimizer.step()
    return net.weight.detach().squeeze(0)


def test_the_baseline_uses_adam_and_weight_decay_uses_adamw():
    net = nn.Linear(2, 1)
    assert type(make_optimizer(net, Technique("baseline"), 1e-3)) is torch.optim.Adam
    assert type(make_optimizer(net, Technique("l2", l2=1e-3), 1e-3)) is torch.optim.Adam
    adamw = make_optimizer(net, Technique("wd", weight_decay=0.5), 1e-3)
    assert type(adamw) is torch.optim.AdamW
    decayed, kept = adamw.param_groups
    assert decayed["weight_decay"] == 0.5 and decayed["params"] == [net.weight]
    assert kept["weight_decay"] == 0 and kept["params"] == [net.bias]


def test_adamw_decays_the_weights_and_not_the_biases():
    # No data gradient: the weights shrink by (1 - lr * decay), the biases stay put.
    net = nn.Linear(3, 2)
    w0, b0 = net.weight.detach().clone(), net.bias.detach().clone()
    lr, decay = 0.01, 0.5
    optimizer = make_optimizer(net, Technique("wd", weight_decay=decay), lr)
    (0 * net(torch.ones(1, 3)).sum()).backward()
    optimizer.step()
    torch.testing.assert_close(net.weight.detach(), (1 - lr * decay) * w0)
    torch.testing.assert_close(net.bias.detach(), b0)


def test_adamw_shrinks_every_weight_by_the_same_factor():
    # No data gradient: AdamW's step is the decay alone, w <- (1 - lr * decay) w.
    w0 = torch.tensor([1e-3, 0.1, -2.0, 5.0])
    lr, decay = 0.01, 0.5
    w1 = _one_step(Technique("wd", weight_decay=decay), w0, torch.zeros(4), lr)
    torch.testing.assert_close(w1, (1 - lr * decay) * w0)


def test_adam_with_l2_moves_every_weight_by_lr_whatever_its_size():
    # No data gradient: the penalty's gradient 2 λ w is all Adam sees, and its first step
    # m / sqrt(v) = g / |g| is the sign of w: tiny and large weights move by the same lr.
    w0 = torch.tensor([1e-3, 0.1, -2.0, 5.0])
    lr = 0.01
    w1 = _one_step(Technique("l2", l2=1e-2), w0, torch.zeros(4), lr)
    torch.testing.assert_close(w0 - w1, lr * torch.sign(w0), rtol=0, atol=1e-5)


def test_adam_rescales_the_penalty_away_where_the_loss_gradient_is_large():
    # Same penalty, one weight with a large loss gradient and one with none: with Adam + L2
    # the decay of the first drowns in its gradient's normalisation; AdamW decays both alike.
    w0 = torch.tensor([1.0, 1.0])
    data_grad = torch.tensor([100.0, 0.0])
    lr, l2 = 0.01, 1e-3
    w_l2 = _one_step(Technique("l2", l2=l2), w0, data_grad, lr)
    w_adam = _one_step(Technique("baseline"), w0, data_grad, lr)
    w_adamw = _one_step(Technique("wd", weight_decay=2 * l2), w0, data_grad, lr)
    pull_l2 = w_adam - w_l2  # what the penalty added to Adam's step, per weight
    pull_adamw = w_adam - w_adamw
    assert pull_l2[0] < 1e-4 * lr  # the busy weight: almost no decay
    assert pull_l2[1] == pytest.approx(lr, rel=1e-3)  # the idle one: a full lr step
    torch.testing.assert_close(pull_adamw, lr * 2 * l2 * w0)  # AdamW: the same for both


def test_dropout_mlp_has_the_lesson_shape():
    net = DropoutMLP()
    linear = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(784, 1024), (1024, 256),
                                                                   (256, 10)]
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 2
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_dropout_zeroes_and_rescales_in_train_mode():
    torch.manual_seed(0)
    p = 0.5
    dropout = DropoutMLP(p=p).layers[3]  # the first Dropout, after Linear and ReLU
    assert isinstance(dropout, nn.Dropout)
    x = torch.ones(200, 1000)
    dropout.train()
    out = dropout(x)
    kept = out != 0
    assert 0.45 < kept.float().mean() < 0.55  # about 1 - p of the units survive
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    assert float(out.mean()) == pytest.approx(1.0, abs=0.02)  # the expectation is kept


def test_dropout_mlp_is_deterministic_in_eval_and_random_in_train():
    torch.manual_seed(0)
    net = DropoutMLP(p=0.5)
    X = torch.randn(8, 1, 28, 28)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(X), net(X))
        without_dropout = nn.Sequential(*[m for m in net.layers if not isinstance(m, nn.Dropout)])
        torch.testing.assert_close(net(X), without_dropout(X))  # eval(): dropout is identity
        net.train()
        assert not torch.equal(net(X), net(X))  # train(): a new mask every call


def test_accuracy_in_mode_sets_the_mode():
    torch.manual_seed(0)
    net = DropoutMLP(p=0.5)
    X, y = torch.randn(50, 1, 28, 28), torch.randint(0, 10, (50,))
    with torch.no_grad():
        expected = float((net.eval()(X).argmax(dim=1) == y).float().mean())
    assert accuracy_in_mode(net, [(X, y)], training=False) == pytest.approx(expected)
    assert not net.training
    accuracy_in_mode(net, [(X, y)], training=True)
    assert net.training


def _digit_batch():
    """Four normalised 'digits': a bright square on the blank background, (4, 1, 28, 28)."""
    X = torch.full((4, 1, 28, 28), BACKGROUND)
    X[:, :, 10:18, 11:17] = (1 - 0.1307) / 0.3081  # a white pixel after normalisation
    return X


def test_background_is_a_blank_pixel_after_normalisation():
    assert BACKGROUND == pytest.approx((0 - 0.1307) / 0.3081)


def test_augmentation_keeps_shape_range_and_labels():
    torch.manual_seed(0)
    X, y = _digit_batch(), torch.tensor([3, 1, 4, 1])
    batches = Augmented([(X, y)], make_augment(max_degrees=10, max_shift=0.1))
    assert len(batches) == 1
    ((X_aug, y_aug),) = list(batches)
    assert X_aug.shape == X.shape and X_aug.dtype == X.dtype
    assert torch.equal(y_aug, y)
    # the shifted-in border is background, never a new grey value
    assert X_aug.min() >= BACKGROUND - 1e-6 and X_aug.max() <= X.max() + 1e-6
    assert torch.equal(X_aug[..., 0, 0], torch.full((4, 1), BACKGROUND))  # a corner stays blank


def test_augmentation_draws_once_per_batch_and_anew_for_every_batch():
    torch.manual_seed(0)
    X = _digit_batch()  # 4 copies of the same square
    batches = Augmented([(X, torch.zeros(4))] * 16, make_augment(10, 0.1))
    outputs = [X_aug for X_aug, _ in batches]
    for X_aug in outputs:  # one draw per call: every image of a batch moves alike
        assert all(torch.equal(x, X_aug[0]) for x in X_aug)
    distinct = {tuple(X_aug[0].flatten().tolist()) for X_aug in outputs}
    # every batch gets a new draw (on whole pixels two draws can land on one image)
    assert len(distinct) > len(outputs) // 2


def test_augmentation_shifts_by_at_most_max_shift():
    torch.manual_seed(0)
    X = _digit_batch()[:1]  # (1, 1, 28, 28)
    batches = Augmented([(X, torch.zeros(1))] * 64, make_augment(0, 0.1))
    X_aug = torch.cat([X_aug for X_aug, _ in batches])  # 64 draws, (64, 1, 28, 28)
    ink = (X_aug > 0).float().squeeze(1)  # (64, 28, 28)
    assert torch.equal(ink.sum(dim=(1, 2)), torch.full((64,), 8.0 * 6))  # nothing cut off
    rows = (ink.sum(dim=2) * torch.arange(28)).sum(dim=1) / ink.sum(dim=(1, 2))
    cols = (ink.sum(dim=1) * torch.arange(28)).sum(dim=1) / ink.sum(dim=(1, 2))
    centre_row, centre_col = 13.5, 13.5  # of the square before augmentation
    assert (rows - centre_row).abs().max() <= 0.1 * 28 + 0.5
    assert (cols - centre_col).abs().max() <= 0.1 * 28 + 0.5
    assert (rows - centre_row).abs().max() >= 1  # and it does shift


def test_no_augmentation_is_the_identity():
    X = _digit_batch()
    ((X_aug, _),) = list(Augmented([(X, torch.zeros(4))], make_augment(0, 0.0)))
    torch.testing.assert_close(X_aug, X)


def test_the_full_profile_measures_every_technique_on_several_seeds():
    config = lesson.FULL
    assert len(config.seeds) >= 3
    assert config.train.train_size == 1000 and config.train.batch_size == 64  # the exercise's
    assert config.train.schedule == "constant"
    # validation images: some watch the epochs, the others (all the rest) compare
    assert config.train.val_size == 2000 and config.compare_size is None
    assert config.train.test_size is None  # the test set, once, whole
    names = [t.name for t in config.techniques]
    assert names[0] == "baseline" and len(set(names)) == len(names)
    assert set(config.figure_techniques) <= set(names)
    baseline = config.techniques[0]
    assert not (baseline.l2 or baseline.weight_decay or baseline.dropout or baseline.augment
                or baseline.patience)
