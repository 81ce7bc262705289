"""Small problems that several theory lessons share: two moons and tiny classifiers.

* ``make_moons``: two interleaved half circles in 2-D (seeded), the course's smallest
  task that no straight line solves;
* ``fit_classifier`` / ``accuracy``: full-batch Adam on the cross-entropy loss, and the
  share of points classified correctly;
* ``regions_figure``: the decision regions of a few networks, side by side;
* ``single_thread``: tiny models run faster on one CPU thread.

Run ``python -m mnist_tutorial.toy`` to fit a line and a small MLP to two moons.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def single_thread():
    """Run tiny models on one CPU thread: for them, thread hand-offs cost more than the maths."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# --8<-- [start:moons]
def make_moons(num_points: int, noise: float = 0.15, seed: int = 0):
    """Two interleaved half circles in 2-D, labels 0 (upper) and 1 (lower)."""
    g = torch.Generator().manual_seed(seed)
    angle = math.pi * torch.rand(num_points, generator=g)
    y = torch.arange(num_points) % 2  # half the points in each class
    upper = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], dim=1)
    X = torch.where(y.unsqueeze(1) == 0, upper, lower)  # (N, 2)
    X = X + noise * torch.randn(num_points, 2, generator=g)
    return X, y
# --8<-- [end:moons]


# --8<-- [start:fit_classifier]
def fit_classifier(net, X, y, num_steps: int = 500, lr: float = 0.01):
    """Full-batch Adam on the cross-entropy loss; returns the final loss."""
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(num_steps):
        loss = loss_fn(net(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def accuracy(net, X, y):
    with torch.no_grad():
        return float((net(X).argmax(dim=1) == y).float().mean())
# --8<-- [end:fit_classifier]


def decision_grid(net, X, num=200, margin=0.5):
    """Predicted class on a ``num`` x ``num`` grid covering ``X`` (for drawing regions)."""
    low, high = X.min(dim=0).values - margin, X.max(dim=0).values + margin
    xs = torch.linspace(float(low[0]), float(high[0]), num)
    ys = torch.linspace(float(low[1]), float(high[1]), num)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")
    points = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)  # (num², 2)
    with torch.no_grad():
        classes = net(points).argmax(dim=1).reshape(num, num)
    return grid_x, grid_y, classes


def regions_figure(nets, titles, X, y):
    """A matplotlib figure: each net's decision regions, with the points of ``X`` on top."""
    from matplotlib.colors import ListedColormap

    from . import plots

    with plots.figure(1, len(nets), figsize=(4 * len(nets), 3.6), sharey=True,
                      squeeze=False) as (fig, panels):
        axes = panels[0]  # one row, even of one panel
        for ax, net, title in zip(axes, nets, titles):
            grid_x, grid_y, classes = decision_grid(net, X)
            ax.contourf(grid_x.numpy(), grid_y.numpy(), classes.numpy(), levels=[-0.5, 0.5, 1.5],
                        cmap=ListedColormap(["#c5cae9", "#ffe0b2"]))
            for label, color, marker in ((0, "#3f51b5", "o"), (1, "#e65100", "^")):
                points = X[y == label]
                ax.scatter(points[:, 0], points[:, 1], s=6, color=color, marker=marker,
                           label=f"class {label}")
            ax.set_title(title)
            ax.set_xlabel("$x_1$")
            ax.grid(False)
        axes[0].set_ylabel("$x_2$")
        axes[0].legend(frameon=False, loc="lower left")
        return plots.to_svg(fig)


def main() -> None:
    X, y = make_moons(1000, seed=0)
    X_test, y_test = make_moons(1000, seed=1)
    torch.manual_seed(0)
    for name, net in (("a line", nn.Linear(2, 2)),
                      ("an MLP", nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2)))):
        fit_classifier(net, X, y)
        print(f"two moons, {name}: {accuracy(net, X_test, y_test):.1%} of test points correct")


if __name__ == "__main__":
    main()
