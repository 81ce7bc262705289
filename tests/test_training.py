"""mnist_tutorial.training: a step learns, runs repeat, both pipelines agree, eval is right;
the optimiser and its schedule; the training lesson's Adam update written out."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from lesson_code import definitions
from mnist_tutorial.config import TrainConfig
from mnist_tutorial.data import load_mnist
from mnist_tutorial.models import MLP
from mnist_tutorial.training import (
    evaluate,
    make_optimizer,
    pick_device,
    pick_precision,
    train_epoch,
    train_model,
)

TINY = TrainConfig.recipe("final", num_epochs=2, train_size=512, val_size=256, test_size=256)


@pytest.fixture(scope="module")
def mnist(mnist_root):
    return load_mnist(mnist_root)


def test_train_steps_lower_the_loss():
    torch.manual_seed(0)
    net = MLP(hidden=(64,))
    X, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = torch.cat([train_epoch(net, [(X, y)], optimizer, loss_fn) for _ in range(20)])
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_same_losses(mnist):
    first, second = (train_model(TINY, mnist, device="cpu") for _ in range(2))
    assert first.step_loss == second.step_loss
    assert first.test_accuracy == second.test_accuracy
    other = train_model(TrainConfig(**{**TINY.__dict__, "seed": 1}), mnist, device="cpu")
    assert other.step_loss != first.step_loss


def test_both_pipelines_train_equally_well(mnist):
    fast = train_model(TINY, mnist, device="cpu", pipeline="tensor")
    lesson = train_model(TINY, mnist, device="cpu", pipeline="lesson")
    assert len(fast.step_loss) == len(lesson.step_loss) == TINY.num_epochs * 2  # 512 / 256
    assert fast.step_loss[0] == pytest.approx(lesson.step_loss[0], rel=0.05)  # same init
    for result in (fast, lesson):
        assert result.step_loss[-1] < 0.8 * result.step_loss[0]


def test_history_shapes(mnist):
    result = train_model(TINY, mnist, device="cpu")
    assert len(result.epoch_val_accuracy) == len(result.epoch_seconds) == TINY.num_epochs
    assert 0.1 < result.test_accuracy <= 1.0
    assert len(result.step_loss) == 2 * TINY.num_epochs  # 2 steps an epoch


def test_evaluate_counts_correctly_in_eval_mode():
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.9), nn.Linear(784, 10))
    X, y = torch.randn(40, 1, 28, 28), torch.randint(0, 10, (40,))
    batches = [(X[:25], y[:25]), (X[25:], y[25:])]
    loss, accuracy = evaluate(net, batches, nn.CrossEntropyLoss())
    assert not net.training
    with torch.no_grad():
        y_hat = net(X)  # dropout is off in eval mode, so this is deterministic
    assert accuracy == pytest.approx((y_hat.argmax(1) == y).float().mean().item())
    assert loss == pytest.approx(nn.functional.cross_entropy(y_hat, y).item(), rel=1e-5)


def test_device_choice(monkeypatch):
    monkeypatch.delenv("MNIST_TUTORIAL_DEVICE", raising=False)
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no cuda device"):
            pick_device("cuda")
    monkeypatch.setenv("MNIST_TUTORIAL_DEVICE", "cpu")  # the setting the lessons' notebooks honour
    assert pick_device() == torch.device("cpu")
    monkeypatch.setenv("MNIST_TUTORIAL_DEVICE", "tpu")
    with pytest.raises(ValueError, match="MNIST_TUTORIAL_DEVICE='tpu' is not a device"):
        pick_device()


def test_unknown_recipe_and_schedule_are_clear_errors(mnist):
    with pytest.raises(ValueError, match="unknown recipe 'fast'"):
        TrainConfig.recipe("fast")
    with pytest.raises(ValueError, match="schedule must be 'constant' or 'onecycle', not 'cosine'"):
        TrainConfig(**{**TINY.__dict__, "schedule": "cosine"})


def test_a_checkpoint_gives_back_the_same_network(tmp_path):
    from mnist_tutorial.training import load_mlp, save_checkpoint

    config = TrainConfig(hidden=(32, 16), activation="tanh")
    torch.manual_seed(0)
    net = MLP(config.hidden, config.activation)
    save_checkpoint(net, tmp_path / "net.pt")
    loaded = load_mlp(tmp_path / "net.pt", config)
    X = torch.randn(5, 1, 28, 28)
    assert torch.equal(loaded(X), net(X)) and loaded is not net
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_mlp(tmp_path / "net.pt", TrainConfig(hidden=(64, 16)))


def test_progress_bars_only_where_someone_watches(monkeypatch):
    from mnist_tutorial import training

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert training._progress_bar(10, True) is None  # a log file: no redraws
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = training._progress_bar(10, True)
    assert bar is not None and bar.total == 10
    bar.close()
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert training._progress_bar(10, True) is None


def test_precision_setting_is_read_and_checked(monkeypatch):
    for setting in ("fp32", "bf16"):
        monkeypatch.setenv("MNIST_TUTORIAL_PRECISION", setting)
        assert pick_precision("cpu") == setting
    monkeypatch.setenv("MNIST_TUTORIAL_PRECISION", "fp16")
    with pytest.raises(ValueError, match="MNIST_TUTORIAL_PRECISION='fp16'.*auto, fp32 or bf16"):
        pick_precision("cpu")
    monkeypatch.setenv("MNIST_TUTORIAL_PRECISION", "auto")
    assert pick_precision("cpu") in ("fp32", "bf16")  # measured: it depends on the CPU


def test_bf16_autocast_computes_in_bf16_and_keeps_fp32_weights():
    torch.manual_seed(0)
    net = MLP(hidden=(64,))
    X, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)  # the same weights for both passes
    seen = []
    net.layers[1].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    loss_fp32 = train_epoch(net, [(X, y)], optimizer, nn.CrossEntropyLoss())
    loss_bf16 = train_epoch(net, [(X, y)], optimizer, nn.CrossEntropyLoss(), precision="bf16")
    assert seen == [torch.float32, torch.bfloat16]
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert loss_bf16.dtype == torch.float32 and abs(loss_bf16 - loss_fp32).item() < 0.02


def test_training_records_its_precision_and_label_smoothing_is_checked(mnist):
    result = train_model(TINY, mnist, device="cpu", precision="bf16")
    assert result.precision == "bf16" and result.test_accuracy > 0.5
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        train_model(TINY, mnist, device="cpu", precision="half")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        TrainConfig(label_smoothing=1.5)


def test_the_precision_probe_makes_no_optimiser_step():
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from mnist_tutorial.training import pass_seconds

    steps = []
    handle = register_optimizer_step_post_hook(lambda optimizer, args, kwargs: steps.append(1))
    try:
        seconds = pass_seconds(rounds=2)
    finally:
        handle.remove()
    assert steps == [] and set(seconds) == {"fp32", "bf16"} and min(seconds.values()) > 0


@pytest.mark.parametrize("fused", [None, False])
def test_make_optimizer_gives_adam_and_a_scheduler_only_for_one_cycle(fused):
    net = MLP(hidden=(16,))
    cpu = torch.device("cpu")
    optimizer, scheduler = make_optimizer(net, TrainConfig.recipe("plain"), 10, cpu, fused)
    assert type(optimizer) is torch.optim.Adam and scheduler is None  # a constant lr
    assert optimizer.defaults["fused"] is (fused is None)  # None: fused where torch has it
    assert optimizer.param_groups[0]["lr"] == TrainConfig.recipe("plain").lr
    optimizer, scheduler = make_optimizer(net, TrainConfig.recipe("final", num_epochs=2), 10, cpu,
                                          fused)
    assert isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR)
    assert scheduler.total_steps == 2 * 10
    assert optimizer.param_groups[0]["lr"] < TrainConfig.recipe("final").lr  # warming up


@pytest.mark.parametrize(("optimizer_class", "options", "decoupled"), [
    (torch.optim.Adam, {}, False),
    (torch.optim.Adam, {"betas": (0.8, 0.99), "eps": 1e-6}, False),
    (torch.optim.Adam, {"weight_decay": 0.3}, False),  # added to the gradient: an L2 penalty
    (torch.optim.AdamW, {"weight_decay": 0.3}, True),  # decoupled: theta shrinks outside
])
def test_the_lessons_adam_update_is_torchs(optimizer_class, options, decoupled):
    lesson = definitions("training")
    torch.manual_seed(0)
    theta0, target = torch.randn(20, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    scale = torch.logspace(-4, 2, 20, dtype=torch.float64)

    def gradient(theta):  # of sum(scale * (theta - target)²)
        return 2 * scale * (theta - target)

    by_hand = lesson.adam_by_hand(theta0, gradient, 30, lr=0.05, decoupled=decoupled, **options)
    by_torch = lesson.adam_by_torch(theta0, gradient, 30, optimizer_class, lr=0.05, **options)
    torch.testing.assert_close(by_hand, by_torch, rtol=0, atol=1e-12)
    assert not torch.equal(by_hand, theta0)


def test_adams_first_step_moves_every_number_by_about_lr():
    """The bias correction makes the first step lr · g / (|g| + eps): about lr, whatever |g|."""
    lesson = definitions("training")
    theta0 = torch.zeros(5, dtype=torch.float64)
    gradients = torch.tensor([1e-4, -1e-2, 1.0, -1e2, 1e4], dtype=torch.float64)
    moved = lesson.adam_by_hand(theta0, lambda theta: gradients, 1, lr=0.01) - theta0
    torch.testing.assert_close(moved, -0.01 * gradients.sign(), rtol=1e-3, atol=0)
