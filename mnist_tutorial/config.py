"""Frozen configurations that name a run, and the run profiles.

Kept free of torch on purpose: the site build reads the profile on every rebuild, and
importing torch alone takes seconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from . import settings

PROFILES = settings.SETTINGS["PROFILE"].choices

RECIPES = {
    "plain": dict(num_epochs=8, batch_size=256, lr=1e-3, schedule="constant"),
    "final": dict(num_epochs=5, batch_size=256, lr=3e-3, schedule="onecycle"),
}

# What the smoke profile cuts a run down to: a few hundred images, one epoch.
SMOKE = dict(num_epochs=1, train_size=1024, val_size=256, test_size=512)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's numbers (it is part of the cache key)."""

    num_epochs: int = 5
    batch_size: int = 256
    lr: float = 3e-3
    schedule: str = "onecycle"  # "constant" or "onecycle" (lr is then the peak)
    seed: int = 0
    hidden: tuple[int, ...] = (1024, 256)
    activation: str = "relu"
    softmax_output: bool = False  # the classic bug, only to measure it
    # ε of nn.CrossEntropyLoss: the target spreads ε over all ten digits, the true one
    # included (ε/10 each), so the true digit gets 1 - ε + ε/10 and each other one ε/10
    label_smoothing: float = 0.0
    train_size: int | None = None  # None: all 50,000 training images
    val_size: int | None = None
    test_size: int | None = None

    def __post_init__(self):
        problems = [f"{name} must be a positive whole number, not {getattr(self, name)!r}"
                    for name in ("num_epochs", "batch_size")
                    if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1)]
        problems += [f"{name} must be None (all) or a positive whole number, not {value!r}"
                     for name in ("train_size", "val_size", "test_size")
                     if (value := getattr(self, name)) is not None
                     and not (isinstance(value, int) and value >= 1)]
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < float("inf")):
            problems.append(f"lr must be a positive number, not {self.lr!r}")
        if not (isinstance(self.label_smoothing, (int, float)) and 0 <= self.label_smoothing < 1):
            problems.append(f"label_smoothing must be in [0, 1), not {self.label_smoothing!r}")
        if self.schedule not in ("constant", "onecycle"):
            problems.append(f"schedule must be 'constant' or 'onecycle', not {self.schedule!r}")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def recipe(cls, name: str, **overrides) -> TrainConfig:
        if name not in RECIPES:
            raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
        return cls(**{**RECIPES[name], **overrides})

    def smoke(self) -> TrainConfig:
        """The same run on the smoke profile's few hundred images and one epoch."""
        return dataclasses.replace(self, **SMOKE)


def current_profile() -> str:
    """``full`` (default) or ``smoke``, from ``$MNIST_TUTORIAL_PROFILE``."""
    return settings.read("PROFILE")
