"""Training and evaluating a network on MNIST.

Two recipes for the lesson MLP:

* ``plain``: the starting point of the lessons (Adam, lr 1e-3, batch 256, 8 epochs).
* ``final``: the course's recipe for the same network: a one-cycle learning-rate
  schedule (warm up to lr 3e-3, then anneal) with fused Adam, fewer epochs.

Training runs in the precision this machine is fastest at (``pick_precision``): bf16
autocast where a short probe shows it pays (CPUs with native bf16, most recent GPUs),
fp32 elsewhere; ``$MNIST_TUTORIAL_PRECISION`` (auto, fp32, bf16) overrides it.

``train_model(config)`` runs one recipe on one seed and returns the trained network
and its history (loss per step, validation loss/accuracy per epoch, test accuracy);
``fit(net, config)`` is its loop, for any network (the CNN exercise uses it).

Run ``python -m mnist_tutorial train --help`` for the command line.
"""

from __future__ import annotations

import datetime
import functools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from . import settings
from .config import RECIPES, TrainConfig  # noqa: F401  (re-exported for the lessons)
from .data import MNIST, TensorBatches, lesson_loader, load_mnist, make_split
from .gpu import warn_if_gpu_unusable
from .models import MLP

EVAL_BATCH_SIZE = 1000
DEVICE_ENV = settings.SETTINGS["DEVICE"].variable
PRECISIONS = ("fp32", "bf16")


def checkpoint_dir() -> Path:
    """Where lessons save trained networks for later lessons: ``$MNIST_TUTORIAL_CHECKPOINTS``,
    else ``~/.cache/mnist_tutorial/checkpoints``."""
    return settings.path("CHECKPOINTS")


def pick_device(name: str | None = None) -> torch.device:
    """The device to train on: ``name``, else ``$MNIST_TUTORIAL_DEVICE``, else ``auto``.

    ``auto`` is CUDA when a GPU is visible, then Apple's MPS, else the CPU; any torch
    device name (``cpu``, ``cuda:1``, ``mps``) works. When ``auto`` ends on the CPU but an
    NVIDIA GPU is here that torch cannot use (a CPU-only torch, a driver too old for its
    CUDA), it warns once, saying why and how to fix it (``mnist_tutorial.gpu``).
    """
    setting = None if name else f"{DEVICE_ENV}={settings.read('DEVICE')!r}"
    name = name or settings.read("DEVICE")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        warn_if_gpu_unusable()
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"{setting or repr(name)} is not a device: use auto, cpu, cuda, "
                         f"cuda:N or mps ({error})") from None
    available = {"cuda": torch.cuda.is_available,
                 "mps": lambda: getattr(torch.backends, "mps", None) is not None
                 and torch.backends.mps.is_available()}.get(device.type, lambda: True)
    if not available():
        raise ValueError(f"{setting or repr(name)} asks for {device.type}, but torch sees no "
                         f"{device.type} device here; use auto or cpu.")
    return device


def pick_precision(device: str | torch.device = "cpu") -> str:
    """``fp32`` or ``bf16``: ``$MNIST_TUTORIAL_PRECISION`` if set, else what ``auto`` measures.

    ``auto`` times the lesson MLP's forward and backward pass both ways on ``device``
    (``pass_seconds``: under a second, once per process) and picks bf16 autocast only
    where it is clearly faster: CPUs with native bf16 instructions run it about twice as
    fast, older ones emulate it and run it several times slower.
    """
    setting = settings.read("PRECISION")
    if setting in PRECISIONS:
        return setting
    return _measured_precision(torch.device(device).type)


@functools.cache
def _measured_precision(device_type: str) -> str:
    if device_type == "cuda" and not torch.cuda.is_bf16_supported():
        return "fp32"
    if device_type not in ("cpu", "cuda"):
        return "fp32"  # autocast to bf16 elsewhere (MPS) is not worth a probe's risk
    seconds = pass_seconds(device_type)
    return "bf16" if seconds["fp32"] > 1.3 * seconds["bf16"] else "fp32"


def pass_seconds(device_type: str = "cpu", batch_size: int = 512, rounds: int = 8) -> dict:
    """Seconds of one forward and backward pass of the lesson MLP, in each precision.

    The passes alternate between the precisions, and the fastest of each counts: another
    program slowing the machine down slows both alike, and can only lengthen a pass. No
    optimiser steps: the update is the same fp32 arithmetic in both precisions, and a
    probe that called ``optimizer.step()`` would show up in any optimiser hooks a lesson
    has registered.
    """
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(batch_size, 1, 28, 28, generator=generator).to(device_type)
    y = torch.randint(0, 10, (batch_size,), generator=generator).to(device_type)
    nets = {precision: MLP().to(device_type) for precision in PRECISIONS}
    times = {precision: [] for precision in PRECISIONS}
    for round_ in range(rounds + 1):  # round 0 warms up
        for precision, net in nets.items():
            net.zero_grad(set_to_none=True)
            start = time.perf_counter()
            with torch.autocast(device_type, torch.bfloat16, enabled=precision == "bf16"):
                loss = nn.functional.cross_entropy(net(X), y)
            loss.backward()
            if device_type == "cuda":
                torch.cuda.synchronize()
            if round_:
                times[precision].append(time.perf_counter() - start)
    return {precision: min(t) for precision, t in times.items()}


# --8<-- [start:optimizer]
def make_optimizer(net: nn.Module, config: TrainConfig, steps_per_epoch: int, device: torch.device,
                   fused: bool | None = None):
    """Adam and the recipe's learning-rate schedule: ``(optimizer, scheduler)``, where the
    scheduler is None for a constant learning rate.

    ``fused=None`` picks Adam's fused implementation (a few kernels per step for all the
    parameters together) where PyTorch has one; ``fused=False`` asks for its for-loop
    implementation instead (several small kernels per parameter tensor).
    """
    if fused is None:
        fused = device.type in ("cpu", "cuda")  # where PyTorch has a fused Adam
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, fused=fused)
    if config.schedule == "onecycle":  # lr is the peak; the schedule needs the total steps
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=config.num_epochs * steps_per_epoch)
    elif config.schedule == "constant":
        scheduler = None  # no schedule: train_epoch leaves the learning rate alone
    else:
        raise ValueError(f"unknown schedule {config.schedule!r}; use 'constant' or 'onecycle'")
    return optimizer, scheduler
# --8<-- [end:optimizer]


# --8<-- [start:train_epoch]
def train_epoch(net, batches, optimizer, loss_fn, scheduler=None, progress=None, precision="fp32"):
    """One pass over ``batches``; returns the loss of every step as a tensor."""
    net.train()
    device_type = next(net.parameters()).device.type
    losses = []
    for X, y in batches:  # X: (B, 1, 28, 28), y: (B,)
        # bf16: the matrix products in bfloat16, the weights and their updates in float32
        with torch.autocast(device_type, torch.bfloat16, enabled=precision == "bf16"):
            y_hat = net(X)  # (B, 10) logits
            loss = loss_fn(y_hat, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.detach())  # no .item(): it would wait for the GPU every step
        if progress is not None:
            progress.update(1)
    return torch.stack(losses)
# --8<-- [end:train_epoch]


# --8<-- [start:evaluate]
def evaluate(net, batches, loss_fn):
    """Mean loss and accuracy over ``batches``, with dropout/batch-norm in eval mode."""
    net.eval()
    total_loss = correct = count = 0
    with torch.inference_mode():  # no autograd graph: less memory, faster
        for X, y in batches:
            y_hat = net(X)
            total_loss += loss_fn(y_hat, y) * len(y)
            correct += (y_hat.argmax(dim=1) == y).sum()
            count += len(y)
    return float(total_loss) / count, float(correct) / count
# --8<-- [end:evaluate]


@dataclass
class TrainResult:
    net: nn.Module
    config: TrainConfig
    device: str
    precision: str = "fp32"
    step_loss: list[float] = field(default_factory=list)  # every optimiser step
    epoch_train_loss: list[float] = field(default_factory=list)
    epoch_val_loss: list[float] = field(default_factory=list)
    epoch_val_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    test_loss: float = float("nan")
    test_accuracy: float = float("nan")


def train_model(config: TrainConfig, mnist: MNIST | None = None, device: str | None = None,
                logdir: str | None = None, progress: bool = False,
                pipeline: str = "tensor", precision: str | None = None) -> TrainResult:
    """Train the lesson MLP with ``config``; validate every epoch, test once at the end.

    ``pipeline="tensor"`` batches pre-normalised tensors on the device (fast);
    ``"lesson"`` uses the lessons' ``Dataset`` + ``DataLoader`` (same batches).
    """
    device = pick_device(device)
    torch.manual_seed(config.seed)  # the initial weights
    net = MLP(config.hidden, config.activation, config.softmax_output).to(device)
    return fit(net, config, mnist, device, logdir, progress, pipeline, precision)


def fit(net: nn.Module, config, mnist: MNIST | None = None, device: str | torch.device = "cpu",
        logdir: str | None = None, progress: bool = False, pipeline: str = "tensor",
        precision: str | None = None) -> TrainResult:
    """Train ``net`` (already on ``device``) with the recipe in ``config``.

    ``config`` has the fields of ``TrainConfig`` that training reads: ``num_epochs``,
    ``batch_size``, ``lr``, ``schedule``, ``seed`` (the order of the batches), the split
    sizes and, optionally, ``label_smoothing``. Any network that maps (B, 1, 28, 28) images to (B, 10)
    logits works. ``precision``: fp32 or bf16, default ``pick_precision(device)``.
    """
    mnist = load_mnist() if mnist is None else mnist
    device = torch.device(device)
    precision = precision or pick_precision(device)
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of {PRECISIONS}")
    split = make_split(mnist, config.train_size, config.val_size, config.test_size)
    images, labels = mnist.train_images[split.train], mnist.train_labels[split.train]
    if pipeline == "tensor":
        train_batches = TensorBatches(images, labels, config.batch_size, shuffle=True,
                                      seed=config.seed, device=device)
    elif pipeline == "lesson":
        train_batches = _to_device(
            lesson_loader(images, labels, config.batch_size, shuffle=True, seed=config.seed), device)
    else:
        raise ValueError(f"unknown pipeline {pipeline!r}; use 'tensor' or 'lesson'")
    val_batches = TensorBatches(mnist.train_images[split.val], mnist.train_labels[split.val],
                                EVAL_BATCH_SIZE, shuffle=False, device=device)
    test_batches = TensorBatches(mnist.test_images[split.test], mnist.test_labels[split.test],
                                 EVAL_BATCH_SIZE, shuffle=False, device=device)

    # --8<-- [start:loop]
    loss_fn = nn.CrossEntropyLoss(label_smoothing=getattr(config, "label_smoothing", 0.0))
    optimizer, scheduler = make_optimizer(net, config, len(train_batches), device)
    result = TrainResult(net=net, config=config, device=str(device), precision=precision)
    writer = _summary_writer(logdir)
    bar = _progress_bar(config.num_epochs * len(train_batches), progress)
    for epoch in range(config.num_epochs):
        start = time.perf_counter()
        step_loss = train_epoch(net, train_batches, optimizer, loss_fn, scheduler, bar,
                                precision).tolist()
        result.epoch_seconds.append(time.perf_counter() - start)
        val_loss, val_accuracy = evaluate(net, val_batches, loss_fn)
        result.step_loss += step_loss
        result.epoch_train_loss.append(sum(step_loss) / len(step_loss))
        result.epoch_val_loss.append(val_loss)
        result.epoch_val_accuracy.append(val_accuracy)
        if bar is not None:
            bar.set_postfix(epoch=epoch + 1, val_acc=f"{val_accuracy:.2%}")
        if writer is not None:
            _log_epoch(writer, result, epoch, len(train_batches))
    if bar is not None:
        bar.close()
    result.test_loss, result.test_accuracy = evaluate(net, test_batches, loss_fn)
    # --8<-- [end:loop]
    if writer is not None:
        writer.add_scalar("accuracy/test", result.test_accuracy, len(result.step_loss))
        writer.close()
    return result


# --8<-- [start:checkpoint]
def save_checkpoint(net: nn.Module, file) -> None:
    """Save the weights (not the code: rebuild the network, then load them)."""
    torch.save(net.state_dict(), file)


def load_mlp(file, config: TrainConfig, device: str | torch.device = "cpu") -> MLP:
    """The lesson MLP of ``config`` with the weights ``save_checkpoint`` saved in ``file``."""
    net = MLP(config.hidden, config.activation, config.softmax_output)
    net.load_state_dict(torch.load(file, map_location=device, weights_only=True))
    return net.to(device)
# --8<-- [end:checkpoint]


def _to_device(loader, device):
    class OnDevice:
        def __len__(self):
            return len(loader)

        def __iter__(self):
            for X, y in loader:
                yield X.to(device, non_blocking=True), y.to(device, non_blocking=True)

    return OnDevice()


# --8<-- [start:run_logdir]
def run_logdir(root, recipe: str, seed: int, when: datetime.datetime | None = None) -> Path:
    """A new TensorBoard folder for one run: ``root/<recipe>-seed<k>-<YYYYmmdd-HHMMSS>``.

    One folder per run: ``tensorboard --logdir root`` then shows every run as a curve of
    its own, and a rerun adds a new curve instead of piling its points onto the last.
    """
    stamp = (when or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    folder = Path(root) / f"{recipe}-seed{seed}-{stamp}"
    suffix = 1
    while folder.exists():  # the same run started twice within a second
        suffix += 1
        folder = Path(root) / f"{recipe}-seed{seed}-{stamp}-{suffix}"
    return folder
# --8<-- [end:run_logdir]


def _summary_writer(logdir):
    if not logdir:
        return None
    # --8<-- [start:summary_writer]
    from torch.utils.tensorboard import SummaryWriter  # slow import: only when logging

    return SummaryWriter(log_dir=str(logdir))
    # --8<-- [end:summary_writer]


def _log_epoch(writer, result: TrainResult, epoch: int, steps_per_epoch: int) -> None:
    # --8<-- [start:tensorboard]
    first_step = epoch * steps_per_epoch
    for i, loss in enumerate(result.step_loss[first_step:]):
        writer.add_scalar("loss/train", loss, first_step + i)
    step = (epoch + 1) * steps_per_epoch
    writer.add_scalar("loss/val", result.epoch_val_loss[-1], step)
    writer.add_scalar("accuracy/val", result.epoch_val_accuracy[-1], step)
    # --8<-- [end:tensorboard]


def _progress_bar(total: int, enabled: bool):
    if not enabled or os.environ.get("TQDM_DISABLE"):  # the site's build sets it
        return None
    # A bar redraws itself with carriage returns: fine on a terminal or in a notebook, a
    # flood in a log file (CI, nohup, a pipe). The per-run summary lines remain.
    if "ipykernel" not in sys.modules and not sys.stderr.isatty():
        return None
    import warnings

    with warnings.catch_warnings():  # in Jupyter without ipywidgets: a text bar, no warning
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

        return tqdm(total=total, unit="step", dynamic_ncols=True, leave=False)
