"""Other seeds: run a home with every random seed it sets shifted by a fixed offset.

``python -m sitebuild verify --other-seeds`` runs each home's notebook with a first cell
that calls ``shift_seeds(offset)``: from then on ``torch.manual_seed(s)``,
``torch.Generator().manual_seed(s)``, ``numpy.random.default_rng(s)``,
``numpy.random.seed(s)``, ``random.seed(s)`` and ``random.Random(s)`` all use
``s + offset``. The notebook's code is unchanged, so a claim that holds with seeds 0, 1, 2
and fails with 1000, 1001, 1002 rested on the draw, not on the method.

Processes the notebook starts (the search exercise's Optuna workers) import their modules
afresh and keep their own seeds. Build machinery only: no home imports this.
"""

from __future__ import annotations

import numbers
import random

OFFSET = 1000  # far above every seed a home uses (they count from 0)


def shift_seeds(offset: int = OFFSET) -> None:
    import numpy as np
    import torch

    manual_seed = torch.manual_seed

    def shifted_manual_seed(seed):
        return manual_seed(int(seed) + offset)

    torch.manual_seed = torch.random.manual_seed = shifted_manual_seed

    class Generator(torch.Generator):
        def manual_seed(self, seed):
            return super().manual_seed(int(seed) + offset)

    torch.Generator = Generator

    default_rng, numpy_seed = np.random.default_rng, np.random.seed

    def shifted_default_rng(seed=None):
        return default_rng(None if seed is None else _shift(seed, offset))

    np.random.default_rng = shifted_default_rng
    np.random.seed = lambda seed=None: numpy_seed(None if seed is None else _shift(seed, offset))
    random_seed = random.seed
    random.seed = lambda a=None, version=2: random_seed(_shift(a, offset), version)

    class Random(random.Random):
        def seed(self, a=None, version=2):
            super().seed(_shift(a, offset), version)

    random.Random = Random


def _shift(seed, offset):
    """An integer seed (numpy's count as numbers.Integral) shifted; anything else as is."""
    return int(seed) + offset if isinstance(seed, numbers.Integral) else seed


def cell(offset: int = OFFSET) -> str:
    """The notebook cell that shifts the seeds (the build inserts it after the setup)."""
    return (f"# Inserted by `python -m sitebuild verify --other-seeds`: every seed below is "
            f"shifted by {offset}.\nfrom sitebuild.reseed import shift_seeds\n\n"
            f"shift_seeds({offset})")
