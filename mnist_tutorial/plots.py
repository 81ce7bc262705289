"""Figures for the site: matplotlib drawn to deterministic SVG text.

The same inputs give byte-identical SVG (fixed ids, no date), so cached figures and
rebuilt ones never differ. Text stays text (``svg.fonttype = none``): small files
that the browser renders in the page's font. The site shows figures on a light card
in both colour schemes, so one set of colours serves both.
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "mnist-tutorial",
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.figsize": (7, 3.6),
    "figure.dpi": 100,
    "axes.prop_cycle": matplotlib.cycler(color=[
        "#3f51b5", "#e65100", "#2e7d32", "#ad1457", "#00838f", "#6d4c41", "#546e7a"]),
}


@contextmanager
def figure(*args, **kwargs):
    """``plt.subplots`` in the site's style; closes the figure afterwards."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(*args, **kwargs)
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def to_svg(fig) -> str:
    with plt.rc_context(STYLE):
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight",
                    metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def mean_std(runs):
    """Mean and standard deviation across runs of equal length (lists of floats)."""
    import numpy as np

    array = np.asarray(runs, dtype=float)
    return array.mean(axis=0), array.std(axis=0)


def loss_curves(step_losses, steps_per_epoch, val_losses=None, label="training loss"):
    """Per-step training loss (mean ± std over seeds) and per-epoch validation loss."""
    import numpy as np

    mean, std = mean_std(step_losses)
    epochs = np.arange(1, len(mean) + 1) / steps_per_epoch
    with figure() as (fig, ax):
        ax.plot(epochs, mean, lw=1, label=f"{label} (per step)")
        if len(step_losses) > 1:
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.25, lw=0,
                            label=f"± 1 std over {len(step_losses)} seeds")
        if val_losses is not None:
            val_mean, val_std = mean_std(val_losses)
            x = np.arange(1, len(val_mean) + 1)
            ax.errorbar(x, val_mean, yerr=val_std if len(val_losses) > 1 else None,
                        marker="o", lw=1.5, capsize=3, label="validation loss (per epoch)")
        ax.set_yscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)  # 0.1, not 10^-1
        ax.yaxis.set_minor_formatter(plain if np.ptp(mean) < 9 * mean.min() else
                                     matplotlib.ticker.NullFormatter())
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss (log scale)")
        ax.legend(frameon=False)
        return to_svg(fig)
