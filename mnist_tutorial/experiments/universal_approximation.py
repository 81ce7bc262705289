"""Experiment of the universal-approximation lesson: one hidden layer, growing width.

It draws the bump constructions (sigmoids and ReLUs), sums bumps to follow the target,
and trains ``x -> width ReLU units -> y`` on ``sin(3x) + 0.3 x²`` over [-2, 2] for each
width and seed, with L-BFGS in float64. It asserts that the error falls with width,
and runs the exercises' solutions. One figure per width (``fit_1``, ``fit_2``, ...)
feeds the page's width slider.

Run it with ``python -m mnist_tutorial run universal_approximation``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..registry import experiment, metric, scientific_text, table


@dataclass(frozen=True)
class ApproximationConfig:
    widths: tuple[int, ...] = (1, 2, 4, 8, 16, 64)  # hidden units; one slider figure each
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # an odd number: the median is one of the runs
    num_points: int = 256  # training inputs, evenly spaced over [-2, 2]
    num_test_points: int = 2001  # where the error is measured: a much finer grid
    max_iter: int = 400  # L-BFGS iterations per fit
    bump_counts: tuple[int, int] = (8, 32)  # the sum-of-bumps figure
    sharpness: float = 20.0  # step steepness times bump width
    tolerances: tuple[float, ...] = (0.4, 0.2, 0.1)  # exercise: bumps needed for each


APPROXIMATION = ApproximationConfig()
APPROXIMATION_SMOKE = dataclasses.replace(APPROXIMATION, seeds=(0,), max_iter=80,
                                          num_test_points=801, tolerances=(0.4, 0.2))


def seeds_text(config: ApproximationConfig) -> str:
    """"median of 5 seeds", or "one seed" when there is only one."""
    n = len(config.seeds)
    return f"median of {n} seeds" if n > 1 else "one seed"


def sci_metric(value: float) -> dict:
    return metric(value, unit="scientific")


def bumps_figure() -> str:
    import torch

    from .. import plots
    from ..universal_approximation import ramp, relu_bump, sigmoid_bump, step

    x = torch.linspace(-2, 2, 401, dtype=torch.float64)
    left, right = -0.5, 0.5
    with plots.figure(1, 2, figsize=(9, 3.2), sharey=True) as (fig, (ax1, ax2)):
        ax1.plot(x, step(x, left, 10), "--", lw=1.2, label="step up: $\\sigma(10(x+0.5))$")
        ax1.plot(x, step(x, right, 10), "--", lw=1.2, label="step down: $\\sigma(10(x-0.5))$")
        ax1.plot(x, sigmoid_bump(x, left, right, 1.0, 10), "k", lw=2, label="difference: a bump")
        ax1.set_title("two sigmoid units")
        ax2.plot(x, ramp(x, left, 0.3), "--", lw=1.2, label="ramp up (2 ReLUs)")
        ax2.plot(x, ramp(x, right, 0.3), "--", lw=1.2, label="ramp down (2 ReLUs)")
        ax2.plot(x, relu_bump(x, left, right, 1.0, 0.3), "k", lw=2, label="difference: a bump")
        ax2.set_title("four ReLU units")
        for ax in (ax1, ax2):
            ax.set_xlabel("x")
            ax.set_ylim(-0.1, 1.45)
            ax.legend(frameon=False, fontsize=8, loc="upper left")
        return plots.to_svg(fig)


def bump_sum_figure(config: ApproximationConfig) -> tuple[str, dict]:
    import torch

    from .. import plots
    from ..universal_approximation import DOMAIN, bump_network, grid, max_error, target

    X = grid(config.num_test_points)
    errors = {}
    with plots.figure(1, len(config.bump_counts), figsize=(9, 3.2), sharey=True) as (fig, axes):
        for ax, num_bumps in zip(axes, config.bump_counts):
            net = bump_network(target, num_bumps, config.sharpness)
            errors[num_bumps] = max_error(net, target, X)
            with torch.no_grad():
                units = torch.sigmoid(net[0](X)) * net[2].weight  # (N, 2n): each unit's share
                bumps = units[:, :num_bumps] + units[:, num_bumps:]  # (N, n): one column per bump
                bumps[bumps.abs() < 1e-2] = float("nan")  # draw each bump only where it is up
                ax.plot(X, bumps, color="#3f51b5", lw=0.6, alpha=0.5)
                ax.plot(X, target(X), color="#9e9e9e", lw=4, alpha=0.6, label="target f")
                ax.plot(X, net(X), color="#e65100", lw=1.5, label="sum of the bumps")
            ax.set_title(f"{num_bumps} bumps ({2 * num_bumps} sigmoid units): "
                         f"largest error {errors[num_bumps]:.2f}", fontsize=9)
            ax.set_xlabel("x")
            ax.set_xlim(*DOMAIN)
        axes[0].legend(frameon=False, fontsize=8, loc="upper center")
        return plots.to_svg(fig), errors


def fits_figure(nets: dict, mses: dict) -> str:
    import torch

    from .. import plots
    from ..universal_approximation import grid, target

    X = grid(401)
    with plots.figure(2, (len(nets) + 1) // 2, figsize=(9, 4.6), sharex=True, sharey=True) as (fig, axes):
        for ax, (width, net) in zip(axes.flat, nets.items()):
            with torch.no_grad():
                ax.plot(X, target(X), color="#9e9e9e", lw=4, alpha=0.6)
                ax.plot(X, net(X), color="#3f51b5", lw=1.5)
            ax.set_title(f"{width} unit{'s' if width > 1 else ''}: MSE {scientific_text(mses[width])}", fontsize=9)
        fig.tight_layout()
        return plots.to_svg(fig)


def width_figure(width: int, net, value: float, y_limits) -> str:
    """One slider frame: the fit and its kinks, and the error below on its own scale."""
    import torch

    from .. import plots
    from ..universal_approximation import DOMAIN, grid, kinks, target

    X = grid(401)
    with torch.no_grad():
        y, y_hat = target(X), net(X)
    with plots.figure(2, 1, figsize=(7, 4.2), sharex=True,
                      gridspec_kw={"height_ratios": [2.2, 1]}) as (fig, (top, bottom)):
        top.plot(X, y, color="#9e9e9e", lw=4, alpha=0.6, label="target f(x) = sin(3x) + 0.3x²")
        units = f"{width} ReLU unit{'s' if width > 1 else ''}"
        top.plot(X, y_hat, color="#3f51b5", lw=1.6, label=f"network, {units}")
        where = kinks(net)
        top.plot(where, [y_limits[0] + 0.08] * len(where), "|", color="#e65100", ms=9, mew=1.2,
                 label=f"kinks ({len(where)} inside the interval)")
        top.set_ylim(*y_limits)
        top.set_xlim(*DOMAIN)
        top.legend(frameon=False, fontsize=8, loc="upper center", ncol=3)
        top.set_title(f"{width} hidden unit{'s' if width > 1 else ''}: mean squared error {scientific_text(value)}",
                      fontsize=10)
        bottom.plot(X, y_hat - y, color="#ad1457", lw=1.2)
        bottom.axhline(0, color="k", lw=0.6)
        bottom.set_ylabel("error\n(own scale)", fontsize=8)
        bottom.set_xlabel("x")
        fig.align_ylabels()
        return plots.to_svg(fig)


def error_figure(config: ApproximationConfig, runs: dict, medians: dict) -> str:
    from .. import plots

    with plots.figure(figsize=(6, 3.6)) as (fig, ax):
        for i, width in enumerate(config.widths):
            ax.plot([width] * len(runs[width]), runs[width], "o", color="#3f51b5", alpha=0.4, ms=4,
                    label=f"one seed ({len(config.seeds)} per width)" if i == 0 else None)
        ax.plot(config.widths, [medians[w] for w in config.widths], "-", color="#e65100", lw=2,
                marker="s", label="median over seeds")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(config.widths, [str(w) for w in config.widths])
        ax.set_xlabel("hidden units (log scale)")
        ax.set_ylabel("mean squared error (log scale)")
        ax.legend(frameon=False)
        return plots.to_svg(fig)


def extrapolation_figure(net, width: int) -> str:
    import torch

    from .. import plots
    from ..universal_approximation import DOMAIN, grid, target

    X = grid(401, (DOMAIN[0] - 2, DOMAIN[1] + 2))
    with plots.figure(figsize=(7, 3.2)) as (fig, ax):
        ax.axvspan(*DOMAIN, color="#2e7d32", alpha=0.08, label="training interval")
        with torch.no_grad():
            ax.plot(X, target(X), color="#9e9e9e", lw=4, alpha=0.6, label="target f")
            ax.plot(X, net(X), color="#3f51b5", lw=1.5, label=f"network, {width} ReLU units")
        ax.set_xlabel("x")
        ax.legend(frameon=False, fontsize=8)
        return plots.to_svg(fig)


@experiment("universal_approximation",
            "One hidden layer of growing width fits sin(3x) + 0.3x² on [-2, 2]",
            full=APPROXIMATION, smoke=APPROXIMATION_SMOKE)
def universal_approximation(config: ApproximationConfig) -> dict:
    from ..capacity import single_thread

    with single_thread():  # tensors of a few hundred numbers: one thread is fastest
        return measure(config)


def measure(config: ApproximationConfig) -> dict:
    import statistics

    from ..universal_approximation import (bumps_needed, extrapolation, fit, grid, mse,
                                           relu_interpolant, shallow_net, target)

    X, X_test = grid(config.num_points), grid(config.num_test_points)
    y = target(X)
    runs, nets = {}, {}
    for width in config.widths:
        trained = []
        for seed in config.seeds:
            net = shallow_net(width, seed)
            fit(net, X, y, config.max_iter)
            trained.append((mse(net, target, X_test), seed, net))
        trained.sort(key=lambda run: run[0])
        runs[width] = [value for value, _, _ in trained]
        nets[width] = trained[len(trained) // 2][2]  # the median run is the one shown
    medians = {w: statistics.median(runs[w]) for w in config.widths}

    # The lesson's claim: the error falls with width. Adjacent widths can swap places (an
    # L-BFGS run can stall in a poor fit), so the check compares the ends and the middle.
    widths = config.widths
    narrow, middle, wide = widths[0], widths[len(widths) // 2], widths[-1]
    if not medians[wide] < medians[middle] < medians[narrow]:
        raise AssertionError(
            f"the error should fall with width, but the median MSE is {medians[narrow]:.2e} "
            f"with {narrow} units, {medians[middle]:.2e} with {middle}, {medians[wide]:.2e} with {wide}")

    bump_svg, bump_errors = bump_sum_figure(config)
    few, many = config.bump_counts
    if not bump_errors[many] < bump_errors[few]:
        raise AssertionError(f"more bumps should follow the target more closely: largest error "
                             f"{bump_errors[few]:.3f} with {few} bumps, {bump_errors[many]:.3f} with {many}")

    # Exercise 1: bumps needed for each tolerance; halving it should about double them.
    needed = {tol: bumps_needed(target, tol, config.sharpness) for tol in config.tolerances}
    for coarse, fine in zip(config.tolerances, config.tolerances[1:]):
        growth, expected = needed[fine] / needed[coarse], coarse / fine
        if not 0.75 * expected <= growth <= 1.25 * expected:
            raise AssertionError(f"bumps needed: {needed[coarse]} for {coarse}, {needed[fine]} for "
                                 f"{fine}; expected about {coarse / fine:.1f} times more")

    # Exercise 2: the hand-built ReLU interpolant against training, at every width.
    interpolant = {w: mse(relu_interpolant(target, w), target, X_test) for w in config.widths}
    if not interpolant[wide] < medians[wide]:
        raise AssertionError(f"with {wide} units the hand-built interpolant ({interpolant[wide]:.2e}) "
                             f"should beat training ({medians[wide]:.2e})")
    if not interpolant[narrow] > medians[narrow]:
        raise AssertionError(f"with {narrow} unit(s) training ({medians[narrow]:.2e}) should beat the "
                             f"evenly spaced interpolant ({interpolant[narrow]:.2e})")

    # Exercise 3: outside the training interval, nothing is promised.
    inside, outside = extrapolation(nets[wide], target)
    if not outside > 100 * inside:
        raise AssertionError(f"extrapolation: MSE {outside:.2e} outside vs {inside:.2e} inside; "
                             f"expected a gap of at least 100x")

    y_test = target(X_test)
    spread = float(y_test.max() - y_test.min())
    # The same vertical range in every slider frame, with room for the legend at the top.
    y_limits = (float(y_test.min()) - 0.25 * spread, float(y_test.max()) + 0.45 * spread)
    width_text = ", ".join(f"{w}: {scientific_text(medians[w])}" for w in config.widths)
    points = metric(config.num_test_points, unit="count")["text"]
    figures = {
        "bumps": {
            "svg": bumps_figure(),
            "alt": ("Two panels. Left: two steep sigmoid steps, one rising at x = -0.5 and one "
                    "at x = 0.5, and their difference, a bump of height 1 between -0.5 and 0.5 "
                    "and near 0 elsewhere. Right: the same with two ReLU ramps, each the "
                    "difference of two ReLUs, giving a flat-topped bump."),
            "caption": "A bump is a step up minus a step down: two sigmoid units (left) or "
                       "four ReLU units (right).",
        },
        "bump_sum": {
            "svg": bump_svg,
            "alt": (f"Two panels: the target sin(3x) + 0.3x² on [-2, 2] and a sum of {few} bumps "
                    f"(largest error {bump_errors[few]:.2f}), then of {many} bumps (largest error "
                    f"{bump_errors[many]:.2f}); the sums are staircases that follow the curve, "
                    f"finer with more bumps."),
            "caption": f"Networks built by hand: each bump (thin blue) is as high as the target "
                       f"at its centre; their sum (orange) is a staircase. Steepness: "
                       f"{config.sharpness:g} divided by the bump width.",
        },
        "fits": {
            "svg": fits_figure(nets, medians),
            "alt": (f"{len(nets)} panels, one per width, each showing the target and the trained "
                    f"network (the median seed) on [-2, 2]; the fits follow the curve more closely "
                    f"as the width grows. Median mean squared error by width: {width_text}."),
            "caption": f"Trained fits ({seeds_text(config)} for each width; grey: the target).",
        },
        "error": {
            "svg": error_figure(config, runs, medians),
            "alt": (f"Log-log plot of mean squared error against hidden units. The median falls "
                    f"from {scientific_text(medians[narrow])} with {narrow} unit to {scientific_text(medians[wide])} with "
                    f"{wide} units; per width: {width_text}."),
            "caption": f"Error on {points} evenly spaced points of [-2, 2] after "
                       f"{config.max_iter} L-BFGS iterations: every seed (dots) and the median (line).",
        },
        "extrapolation": {
            "svg": extrapolation_figure(nets[wide], wide),
            "alt": (f"The target and the {wide}-unit fit on [-4, 4]. They overlap on the training "
                    f"interval [-2, 2] (MSE {scientific_text(inside)}); outside it the network continues in "
                    f"straight lines while the target curves up (MSE {scientific_text(outside)})."),
            "caption": f"The {wide}-unit fit beyond the interval it was trained on.",
        },
    }
    for width in config.widths:
        figures[f"fit_{width}"] = {
            "svg": width_figure(width, nets[width], medians[width], y_limits),
            "alt": (f"The target and a network with {width} ReLU hidden unit{'s' if width > 1 else ''} "
                    f"trained on it, mean squared error {scientific_text(medians[width])}; orange ticks mark "
                    f"where the units bend; below, the error on its own scale."),
            "caption": f"{width} hidden unit{'s' if width > 1 else ''} ({seeds_text(config)}).",
        }

    metrics = {f"mse_{w}": sci_metric(medians[w]) for w in config.widths}
    metrics.update({
        "error_drop": sci_metric(medians[narrow] / medians[wide]),
        "narrowest": metric(narrow, unit="count"),
        "middle": metric(middle, unit="count"),
        "widest": metric(wide, unit="count"),
        "num_seeds": metric(len(config.seeds), unit="count"),
        "num_points": metric(config.num_points, unit="count"),
        "num_test_points": metric(config.num_test_points, unit="count"),
        "max_iter": metric(config.max_iter, unit="count"),
        "bump_error_few": metric(bump_errors[few], digits=2),
        "bump_error_many": metric(bump_errors[many], digits=2),
        "bumps_few": metric(few, unit="count"),
        "bumps_many": metric(many, unit="count"),
        "interpolant_mse_wide": sci_metric(interpolant[wide]),
        "inside_mse": sci_metric(inside),
        "outside_mse": sci_metric(outside),
        "outside_ratio": sci_metric(outside / inside),
    })
    return {
        "metrics": metrics,
        "tables": {
            "widths": table(
                ["hidden units", "parameters", "median MSE", "best seed", "worst seed"],
                [[w, 3 * w + 1, scientific_text(medians[w]), scientific_text(runs[w][0]), scientific_text(runs[w][-1])]
                 for w in config.widths],
                caption=f"Mean squared error on [-2, 2] after training, {len(config.seeds)} "
                        f"seed{'s' if len(config.seeds) > 1 else ''} per width"),
            "bumps_needed": table(
                ["largest error allowed", "bumps needed", "sigmoid units"],
                [[f"{tol:g}", needed[tol], 2 * needed[tol]] for tol in config.tolerances],
                caption="The fewest bumps whose sum stays within the tolerance everywhere on [-2, 2]"),
            "interpolant": table(
                ["hidden units", "built by hand (interpolation)", "trained (median)"],
                [[w, scientific_text(interpolant[w]), scientific_text(medians[w])] for w in config.widths],
                caption="Mean squared error on [-2, 2]: the ReLU interpolant against L-BFGS"),
        },
        "figures": figures,
        "histories": {"mse_per_seed": {str(w): runs[w] for w in config.widths},
                      "interpolant_mse": {str(w): interpolant[w] for w in config.widths}},
        "seeds": list(config.seeds),
    }
