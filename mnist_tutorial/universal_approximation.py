"""Universal approximation, seen in one dimension.

One hidden layer can follow any continuous function on an interval as closely as we
like, given enough units. This module shows it two ways on the target
``f(x) = sin(3x) + 0.3 x²`` over ``[-2, 2]``:

* By construction, without training: two steep sigmoids (or four ReLUs) make a
  *bump*; ``bump_network`` sets the weights of a one-hidden-layer sigmoid network by
  hand so that it is a row of bumps, each as high as the target at its centre.
* By training: ``shallow_net(width)`` is ``x -> width ReLU units -> y``, and ``fit``
  trains it full-batch with L-BFGS in float64 on evenly spaced points.

The exercises' solutions are here too: ``bumps_needed`` (how many bumps for a given
accuracy), ``relu_interpolant`` (a ReLU network built by hand) and ``extrapolation``
(what a fit does outside the interval it was trained on).

Run ``python -m mnist_tutorial.universal_approximation`` to print the error of a
trained fit for each width (a few seconds on a CPU).
"""

from __future__ import annotations

import torch
from torch import nn

DOMAIN = (-2.0, 2.0)


# --8<-- [start:target]
def target(x):
    """The function to approximate: continuous, wiggly, not a polynomial of low degree."""
    return torch.sin(3 * x) + 0.3 * x**2
# --8<-- [end:target]


def grid(num_points: int, domain=DOMAIN):
    """``num_points`` evenly spaced inputs covering ``domain``, as a (N, 1) float64 column."""
    return torch.linspace(*domain, num_points, dtype=torch.float64).unsqueeze(1)


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


def max_error(net, f, X) -> float:
    """The largest gap between ``net`` and ``f`` over the inputs ``X`` (N, 1)."""
    with torch.no_grad():
        return (net(X) - f(X)).abs().max().item()


def mse(net, f, X) -> float:
    """Mean squared gap between ``net`` and ``f`` over the inputs ``X`` (N, 1)."""
    with torch.no_grad():
        return ((net(X) - f(X)) ** 2).mean().item()


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


# --8<-- [start:bumps_needed]
def bumps_needed(f, tolerance: float, sharpness: float = 20.0, domain=DOMAIN) -> int:
    """The fewest bumps with which ``bump_network`` stays within ``tolerance`` of ``f``."""
    X = grid(2001, domain)
    num_bumps = 2
    while max_error(bump_network(f, num_bumps, sharpness, domain), f, X) > tolerance:
        num_bumps += 1
    return num_bumps
# --8<-- [end:bumps_needed]


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


# --8<-- [start:extrapolation]
def extrapolation(net, f, domain=DOMAIN, reach: float = 2.0) -> tuple[float, float]:
    """Mean squared error of ``net`` inside ``domain`` and in the ``reach`` beyond each end."""
    lo, hi = domain
    inside = grid(2001, domain)
    outside = torch.cat([grid(1001, (lo - reach, lo)), grid(1001, (hi, hi + reach))])
    return mse(net, f, inside), mse(net, f, outside)
# --8<-- [end:extrapolation]


def main() -> None:
    X = grid(256)
    y = target(X)
    for width in (1, 2, 4, 8, 16, 64):
        net = shallow_net(width, seed=0)
        train_mse = fit(net, X, y)
        print(f"width {width:3d}: training MSE {train_mse:.2e}, "
              f"MSE on a fine grid {mse(net, target, grid(2001)):.2e}")
    for num_bumps in (8, 32):
        error = max_error(bump_network(target, num_bumps), target, grid(2001))
        print(f"{num_bumps} bumps by hand ({2 * num_bumps} sigmoid units): largest error {error:.3f}")


if __name__ == "__main__":
    main()
