# %% [markdown]
# # Universal approximation
#
# The code and the runs of the lesson *Universal approximation*: bumps built from two
# sigmoids (or four ReLUs), one-hidden-layer networks whose weights are written down by
# hand, then networks of growing width trained with L-BFGS on sin(3x) + 0.3x² over
# [-2, 2], and the exercises' solutions. Every number the lesson quotes is computed here.
# Under a minute on a laptop CPU; set `MNIST_TUTORIAL_PROFILE=smoke` for a quick run.

# %%
# --8<-- [start:setup]
import dataclasses
import json
import statistics
from dataclasses import dataclass

import torch
from torch import nn

from mnist_tutorial import plots
from mnist_tutorial.config import current_profile
from mnist_tutorial.toy import single_thread


@dataclass(frozen=True)
class Config:
    widths: tuple[int, ...] = (1, 2, 4, 8, 16, 64)  # hidden units; one slider figure each
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # an odd number: the median is one of the runs
    num_points: int = 256  # training inputs, evenly spaced over [-2, 2]
    num_test_points: int = 2001  # where the error is measured: a much finer grid
    max_iter: int = 400  # L-BFGS iterations per fit
    bump_counts: tuple[int, int] = (8, 32)  # the sum-of-bumps figure
    sharpness: float = 20.0  # step steepness times bump width
    tolerances: tuple[float, ...] = (0.4, 0.2, 0.1)  # exercise 1: bumps needed for each


FULL = Config()
SMOKE = dataclasses.replace(FULL, seeds=(0,), max_iter=80, num_test_points=801,
                            tolerances=(0.4, 0.2))
CONFIG = FULL if current_profile() == "full" else SMOKE
DOMAIN = (-2.0, 2.0)
# --8<-- [end:setup]
from mnist_tutorial.report import Report, scientific_text

report = Report("universal_approximation", seeds=CONFIG.seeds, precision="fp32")

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## The target
#
# Inputs are (N, 1) columns of float64 numbers, so that a network `nn.Linear(1, width)`
# reads them directly and rounding stays far below the errors we measure.

# %%
# --8<-- [start:target]
def target(x):
    """The function to approximate: continuous, wiggly, not a polynomial of low degree."""
    return torch.sin(3 * x) + 0.3 * x**2


def grid(num_points: int, domain=DOMAIN):
    """``num_points`` evenly spaced inputs covering ``domain``, as a (N, 1) float64 column."""
    return torch.linspace(*domain, num_points, dtype=torch.float64).unsqueeze(1)


def max_error(net, f, X) -> float:
    """The largest gap between ``net`` and ``f`` over the inputs ``X`` (N, 1)."""
    with torch.no_grad():
        return (net(X) - f(X)).abs().max().item()


def mse(net, f, X) -> float:
    """Mean squared gap between ``net`` and ``f`` over the inputs ``X`` (N, 1)."""
    with torch.no_grad():
        return ((net(X) - f(X)) ** 2).mean().item()
# --8<-- [end:target]


# %% [markdown]
# ## Bumps from two sigmoids or four ReLUs
#
# A steep sigmoid is almost a step; a step up minus a step down is a bump.

# %%
# --8<-- [start:bumps]
def step(x, at, steepness):
    """A smooth step from 0 to 1 at ``at``: one sigmoid unit, weight k and bias -k * at."""
    return torch.sigmoid(steepness * (x - at))


def sigmoid_bump(x, left, right, height, steepness):
    """``height`` between ``left`` and ``right``, close to 0 elsewhere: step up, step down."""
    return height * (step(x, left, steepness) - step(x, right, steepness))


def ramp(x, at, width):
    """The ReLU version of a step: 0 before, 1 after, a straight ramp ``width`` wide at ``at``."""
    return (torch.relu(x - at + width / 2) - torch.relu(x - at - width / 2)) / width


def relu_bump(x, left, right, height, width):
    """A flat-topped bump from four ReLU units: ramp up at ``left``, ramp down at ``right``."""
    return height * (ramp(x, left, width) - ramp(x, right, width))
# --8<-- [end:bumps]


# %%
x = torch.linspace(-2, 2, 401, dtype=torch.float64)  # (401,)
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
    report.figure("bumps", plots.to_svg(fig))

# %% [markdown]
# ## A network built by hand: a row of bumps
#
# No training: every weight of this sigmoid network is written down.

# %%
# --8<-- [start:bump_network]
def bump_network(f, num_bumps: int, sharpness: float = 20.0, domain=DOMAIN) -> nn.Sequential:
    """A one-hidden-layer sigmoid network whose weights are set, not trained.

    Bump i is centred on the i-th of ``num_bumps`` evenly spaced points, as wide as
    their spacing, and as high as ``f`` there. Its two steps are two hidden units.
    """
    centres = torch.linspace(*domain, num_bumps, dtype=torch.float64)  # (n,)
    half = (domain[1] - domain[0]) / (num_bumps - 1) / 2
    edges = torch.cat([centres - half, centres + half])  # (2n,): n left edges, n right edges
    heights = f(centres)  # (n,)
    steepness = sharpness / (2 * half)  # narrower bumps need steeper steps

    net = nn.Sequential(nn.Linear(1, 2 * num_bumps), nn.Sigmoid(),
                        nn.Linear(2 * num_bumps, 1)).double()
    with torch.no_grad():
        net[0].weight.fill_(steepness)  # (2n, 1): unit j is sigmoid(k * (x - edge_j))
        net[0].bias.copy_(-steepness * edges)
        net[2].weight.copy_(torch.cat([heights, -heights]).unsqueeze(0))  # (1, 2n): up, then down
        net[2].bias.zero_()
    return net
# --8<-- [end:bump_network]


# %%
X_test = grid(CONFIG.num_test_points)  # (N_test, 1): where every error is measured
bump_errors = {}
with plots.figure(1, len(CONFIG.bump_counts), figsize=(9, 3.2), sharey=True) as (fig, axes):
    for ax, num_bumps in zip(axes, CONFIG.bump_counts):
        net = bump_network(target, num_bumps, CONFIG.sharpness)
        bump_errors[num_bumps] = max_error(net, target, X_test)
        with torch.no_grad():
            units = torch.sigmoid(net[0](X_test)) * net[2].weight  # (N, 2n): each unit's share
            bumps = units[:, :num_bumps] + units[:, num_bumps:]  # (N, n): one column per bump
            bumps[bumps.abs() < 1e-2] = float("nan")  # draw each bump only where it is up
            ax.plot(X_test, bumps, color="#3f51b5", lw=0.6, alpha=0.5)
            ax.plot(X_test, target(X_test), color="#9e9e9e", lw=4, alpha=0.6, label="target f")
            ax.plot(X_test, net(X_test), color="#e65100", lw=1.5, label="sum of the bumps")
        ax.set_title(f"{num_bumps} bumps ({2 * num_bumps} sigmoid units): "
                     f"largest error {bump_errors[num_bumps]:.2f}", fontsize=9)
        ax.set_xlabel("x")
        ax.set_xlim(*DOMAIN)
    axes[0].legend(frameon=False, fontsize=8, loc="upper center")
    bump_sum_svg = plots.to_svg(fig)

few, many = CONFIG.bump_counts

# %% tags=["report"]
bump_error_few = bump_errors[few]
bump_error_many = bump_errors[many]
more_bumps_follow_closer = bump_errors[many] < bump_errors[few]  # largest error
report.figure("bump_sum", bump_sum_svg)

# %% [markdown]
# ## Training instead of building
#
# `x -> width ReLU units -> y`, every kink started inside the interval, trained
# full-batch with L-BFGS.

# %%
# --8<-- [start:shallow_net]
def shallow_net(width: int, seed: int = 0, domain=DOMAIN) -> nn.Sequential:
    """``x -> width ReLU units -> y`` in float64, every unit's kink inside ``domain``.

    PyTorch's default initialisation puts many kinks ``-b / w`` far outside a small
    interval, where those units are useless (straight over the whole interval). Here
    unit i is ``relu(w_i * (x - kink_i))`` with ``kink_i`` uniform over the interval.
    """
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, 1)).double()
    slopes = torch.randn(width, generator=g, dtype=torch.float64)  # (width,), both signs
    kinks = domain[0] + (domain[1] - domain[0]) * torch.rand(width, generator=g, dtype=torch.float64)
    with torch.no_grad():
        net[0].weight.copy_(slopes.unsqueeze(1))  # (width, 1)
        net[0].bias.copy_(-slopes * kinks)  # (width,)
        net[2].weight.copy_(torch.randn(1, width, generator=g, dtype=torch.float64) / width**0.5)
        net[2].bias.zero_()
    return net
# --8<-- [end:shallow_net]


# %%
# --8<-- [start:fit]
def fit(net, X, y, max_iter: int = 400) -> float:
    """Minimise the mean squared error on all of (X, y) at once with L-BFGS; return it.

    Full batch, because the whole data set is a few hundred numbers. L-BFGS builds a
    picture of the loss surface's curvature from recent gradients and takes much
    longer, better-aimed steps than plain gradient descent on a problem this small.
    """
    optimizer = torch.optim.LBFGS(net.parameters(), lr=1, max_iter=max_iter, history_size=50,
                                  line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():  # L-BFGS calls it several times per step (its line search)
        optimizer.zero_grad()
        loss = ((net(X) - y) ** 2).mean()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return ((net(X) - y) ** 2).mean().item()
# --8<-- [end:fit]


def kinks(net: nn.Sequential, domain=DOMAIN) -> list[float]:
    """Where the ReLU units of a ``shallow_net`` bend, for those inside ``domain``."""
    w, b = net[0].weight.detach().squeeze(1), net[0].bias.detach()
    at = -b[w != 0] / w[w != 0]
    return sorted(x for x in at.tolist() if domain[0] <= x <= domain[1])


# %% [markdown]
# Every width is trained from every seed; the error is measured on the fine grid
# `X_test`, and the run with the median error is the one the figures show.

# %%
X = grid(CONFIG.num_points)  # (N, 1)
y = target(X)  # (N, 1)
runs, nets = {}, {}  # per width: every seed's test MSE (sorted), the median seed's network
with single_thread():  # tensors of a few hundred numbers: one thread is fastest
    for width in CONFIG.widths:
        trained = []
        for seed in CONFIG.seeds:
            net = shallow_net(width, seed)
            fit(net, X, y, CONFIG.max_iter)
            trained.append((mse(net, target, X_test), seed, net))
        trained.sort(key=lambda run: run[0])
        runs[width] = [value for value, _, _ in trained]
        nets[width] = trained[len(trained) // 2][2]  # the median run is the one shown
medians = {w: statistics.median(runs[w]) for w in CONFIG.widths}

# %% [markdown]
# The lesson's claim: the error falls with width. Adjacent widths can swap places (an
# L-BFGS run can stall in a poor fit), so the check compares the ends and the middle.

# %%
narrow, middle, wide = CONFIG.widths[0], CONFIG.widths[len(CONFIG.widths) // 2], CONFIG.widths[-1]

# %% tags=["report"]
error_drop = medians[narrow] / medians[wide]
num_seeds = len(CONFIG.seeds)
error_falls_with_width = medians[wide] < medians[middle] < medians[narrow]

report.table("widths", ["hidden units", "parameters", "median MSE", "best seed", "worst seed"],
             [[w, 3 * w + 1, medians[w], runs[w][0], runs[w][-1]] for w in CONFIG.widths],
             units=dict.fromkeys(["median MSE", "best seed", "worst seed"], "scientific"))

# %%
def plural(n: int, word: str) -> str:
    """"1 hidden unit", "8 hidden units"."""
    return f"{n} {word}{'s' if n > 1 else ''}"


X_plot = grid(401)  # (401, 1): for drawing
with plots.figure(2, (len(nets) + 1) // 2, figsize=(9, 4.6), sharex=True, sharey=True) as (fig, axes):
    for ax, (width, net) in zip(axes.flat, nets.items()):
        with torch.no_grad():
            ax.plot(X_plot, target(X_plot), color="#9e9e9e", lw=4, alpha=0.6)
            ax.plot(X_plot, net(X_plot), color="#3f51b5", lw=1.5)
        ax.set_title(f"{plural(width, 'unit')}: MSE {scientific_text(medians[width])}", fontsize=9)
    fig.tight_layout()
    report.figure("fits", plots.to_svg(fig))

with plots.figure(figsize=(6, 3.6)) as (fig, ax):
    for i, width in enumerate(CONFIG.widths):
        ax.plot([width] * len(runs[width]), runs[width], "o", color="#3f51b5", alpha=0.4, ms=4,
                label=f"one seed ({len(CONFIG.seeds)} per width)" if i == 0 else None)
    ax.plot(CONFIG.widths, [medians[w] for w in CONFIG.widths], "-", color="#e65100", lw=2,
            marker="s", label="median over seeds")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(CONFIG.widths, [str(w) for w in CONFIG.widths])
    ax.set_xlabel("hidden units (log scale)")
    ax.set_ylabel("mean squared error (log scale)")
    ax.legend(frameon=False)
    report.figure("error", plots.to_svg(fig))

# %% [markdown]
# ## Step through the widths
#
# One figure per width, `fit_1`, `fit_2`, ...: the page shows them under a slider. The
# fit with its kinks on top, the error on its own scale below, the same vertical range
# in every frame.

# %%
y_test = target(X_test)
spread = float(y_test.max() - y_test.min())
y_limits = (float(y_test.min()) - 0.25 * spread, float(y_test.max()) + 0.45 * spread)  # room for the legend
y_plot = target(X_plot)  # (401, 1)
for width in CONFIG.widths:
    net, value = nets[width], medians[width]
    with torch.no_grad():
        y_hat = net(X_plot)  # (401, 1)
    with plots.figure(2, 1, figsize=(7, 4.2), sharex=True,
                      gridspec_kw={"height_ratios": [2.2, 1]}) as (fig, (top, bottom)):
        top.plot(X_plot, y_plot, color="#9e9e9e", lw=4, alpha=0.6, label="target f(x) = sin(3x) + 0.3x²")
        top.plot(X_plot, y_hat, color="#3f51b5", lw=1.6, label=f"network, {plural(width, 'ReLU unit')}")
        where = kinks(net)
        top.plot(where, [y_limits[0] + 0.08] * len(where), "|", color="#e65100", ms=9, mew=1.2,
                 label=f"kinks ({len(where)} inside the interval)")
        top.set_ylim(*y_limits)
        top.set_xlim(*DOMAIN)
        top.legend(frameon=False, fontsize=8, loc="upper center", ncol=3)
        top.set_title(f"{plural(width, 'hidden unit')}: mean squared error "
                      f"{scientific_text(value)}", fontsize=10)
        bottom.plot(X_plot, y_hat - y_plot, color="#ad1457", lw=1.2)
        bottom.axhline(0, color="k", lw=0.6)
        bottom.set_ylabel("error\n(own scale)", fontsize=8)
        bottom.set_xlabel("x")
        fig.align_ylabels()
        report.figure(f"fit_{width}", plots.to_svg(fig))

# %% [markdown]
# ## Build it from bumps
#
# The page's bump builder draws the reader's own sum of ReLU bumps against the target,
# and its "fit it for me" button shows what training found: it loads the target and the
# median fit of each width on the plotting grid.

# %%
def rounded(values) -> list[float]:
    return [round(float(v), 6) for v in values]


with torch.no_grad():
    curves = {"x": rounded(X_plot.flatten()), "target": rounded(y_plot.flatten()),
              "numSeeds": len(CONFIG.seeds),
              "fits": {str(w): {"y": rounded(nets[w](X_plot).flatten()), "mse": medians[w]}
                       for w in CONFIG.widths}}

# %% tags=["report"]
report.asset("curves", json.dumps(curves).encode(), ".json")
# the bump builder gets the target and every width's fit on one grid
fits_share_one_grid = len(curves["x"]) == len(curves["target"]) and all(
    len(fit["y"]) == len(curves["x"]) for fit in curves["fits"].values())


# %% [markdown]
# ## Exercise 1: how many bumps?

# %%
# --8<-- [start:bumps_needed]
def bumps_needed(f, tolerance: float, sharpness: float = 20.0, domain=DOMAIN) -> int:
    """The fewest bumps with which ``bump_network`` stays within ``tolerance`` of ``f``."""
    X = grid(2001, domain)
    num_bumps = 2
    while max_error(bump_network(f, num_bumps, sharpness, domain), f, X) > tolerance:
        num_bumps += 1
    return num_bumps
# --8<-- [end:bumps_needed]


needed = {tol: bumps_needed(target, tol, CONFIG.sharpness) for tol in CONFIG.tolerances}

# %% tags=["report"]
report.table("bumps_needed", ["largest error allowed", "bumps needed", "sigmoid units"],
             [[f"{tol:g}", needed[tol], 2 * needed[tol]] for tol in CONFIG.tolerances])
# Halving the tolerance should about double the bumps: dividing the tolerance by r
# multiplies the bumps needed by r, within 25 %.
bumps_scale_with_tolerance = all(
    0.75 * coarse / fine <= needed[fine] / needed[coarse] <= 1.25 * coarse / fine
    for coarse, fine in zip(CONFIG.tolerances, CONFIG.tolerances[1:]))

# %% [markdown]
# ## Exercise 2: a ReLU network built by hand

# %%
# --8<-- [start:relu_interpolant]
def relu_interpolant(f, num_units: int, domain=DOMAIN) -> nn.Sequential:
    """The straight-line interpolation of ``f`` between ``num_units + 1`` evenly spaced
    knots, written as a one-hidden-layer ReLU network with ``num_units`` units."""
    knots = torch.linspace(*domain, num_units + 1, dtype=torch.float64)  # (n+1,)
    values = f(knots)  # (n+1,)
    slopes = torch.diff(values) / torch.diff(knots)  # (n,): slope of each straight piece
    turns = torch.diff(slopes, prepend=torch.zeros(1, dtype=torch.float64))  # (n,): slope change at each knot

    net = nn.Sequential(nn.Linear(1, num_units), nn.ReLU(), nn.Linear(num_units, 1)).double()
    with torch.no_grad():
        net[0].weight.fill_(1.0)  # unit i is relu(x - knot_i): zero left of the knot
        net[0].bias.copy_(-knots[:-1])
        net[2].weight.copy_(turns.unsqueeze(0))  # (1, n): each unit bends the line by turn_i
        net[2].bias.fill_(values[0].item())  # start at f(left end)
    return net
# --8<-- [end:relu_interpolant]


interpolant = {w: mse(relu_interpolant(target, w), target, X_test) for w in CONFIG.widths}

# %% tags=["report"]
interpolant_mse_wide = interpolant[wide]
report.table("interpolant", ["hidden units", "built by hand (interpolation)", "trained (median)"],
             [[w, interpolant[w], medians[w]] for w in CONFIG.widths],
             units=dict.fromkeys(["built by hand (interpolation)", "trained (median)"], "scientific"))
interpolant_wins_when_wide = interpolant[wide] < medians[wide]
training_wins_when_narrow = interpolant[narrow] > medians[narrow]

# %% [markdown]
# ## Exercise 3: outside the interval

# %%
# --8<-- [start:extrapolation]
def extrapolation(net, f, domain=DOMAIN, reach: float = 2.0) -> tuple[float, float]:
    """Mean squared error of ``net`` inside ``domain`` and in the ``reach`` beyond each end."""
    lo, hi = domain
    inside = grid(2001, domain)
    outside = torch.cat([grid(1001, (lo - reach, lo)), grid(1001, (hi, hi + reach))])
    return mse(net, f, inside), mse(net, f, outside)
# --8<-- [end:extrapolation]


inside, outside = extrapolation(nets[wide], target)
inside_mse = inside
outside_mse = outside
outside_ratio = outside / inside
outside_error_100_times_larger = outside > 100 * inside

x_wide = grid(401, (DOMAIN[0] - 2, DOMAIN[1] + 2))  # (401, 1) on [-4, 4]
with plots.figure(figsize=(7, 3.2)) as (fig, ax):
    ax.axvspan(*DOMAIN, color="#2e7d32", alpha=0.08, label="training interval")
    with torch.no_grad():
        ax.plot(x_wide, target(x_wide), color="#9e9e9e", lw=4, alpha=0.6, label="target f")
        ax.plot(x_wide, nets[wide](x_wide), color="#3f51b5", lw=1.5,
                label=f"network, {wide} ReLU units")
    ax.set_xlabel("x")
    ax.legend(frameon=False, fontsize=8)
    report.figure("extrapolation", plots.to_svg(fig))
