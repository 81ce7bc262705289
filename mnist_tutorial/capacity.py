"""Capacity: what a linear model can and cannot fit, measured on small problems.

* House prices (synthetic, seeded): a straight line fits price against size well,
  and fails on price against age, which is U-shaped.
* Two moons (a 2-D toy classification set, seeded): a linear classifier can only cut
  the plane with a straight line; a small MLP bends its boundary around the moons.
* MNIST pixels: a linear classifier scores each digit by one weight *template* per
  class; ``train_linear_mnist`` trains one on a small subset so the templates can be
  looked at.

Run ``python -m mnist_tutorial.capacity`` to print the fits and accuracies (no data
needed; the MNIST part is in ``mnist_tutorial.experiments.capacity``).
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


# --8<-- [start:houses]
def make_houses(num_houses: int = 200, seed: int = 0):
    """Synthetic houses: size (m²), age (years), two prices (thousand €).

    ``price_by_size`` grows linearly with size; ``price_by_age`` is U-shaped
    in age (new builds and historic houses both sell high). Both are noisy.
    """
    g = torch.Generator().manual_seed(seed)
    size = 40 + 160 * torch.rand(num_houses, generator=g, dtype=torch.float64)
    age = 100 * torch.rand(num_houses, generator=g, dtype=torch.float64)
    noise = torch.randn(2, num_houses, generator=g, dtype=torch.float64)
    price_by_size = 50 + 3.0 * size + 40 * noise[0]
    price_by_age = 200 + 0.1 * (age - 45) ** 2 + 25 * noise[1]
    return size, age, price_by_size, price_by_age
# --8<-- [end:houses]


# --8<-- [start:fit_line]
def fit_line(x, y):
    """Least-squares slope and intercept of ``y ≈ w x + b``: the best line."""
    X = torch.stack([x, torch.ones_like(x)], dim=1)  # (N, 2): 1 column/weight
    w, b = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1)
    return float(w), float(b)


def r_squared(y, y_hat):
    """Share of the variance of ``y`` the fit explains (1: all, 0: none)."""
    return float(1 - ((y - y_hat) ** 2).sum() / ((y - y.mean()) ** 2).sum())
# --8<-- [end:fit_line]


# --8<-- [start:fit_polynomial]
def fit_polynomial(x, y, degree: int):
    """Least squares on the features 1, x, x², ..., x^degree.

    Still a linear model: linear in its weights, whatever the features.
    """
    scale = x.abs().max()  # keeps the powers of x in a range lstsq likes
    powers = [(x / scale) ** k for k in range(degree + 1)]
    X = torch.stack(powers, dim=1)  # (N, degree + 1)
    weights = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1)
    return X @ weights  # the fitted values
# --8<-- [end:fit_polynomial]


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


# --8<-- [start:classifiers]
def linear_classifier():
    return nn.Linear(2, 2)  # (B, 2) -> (B, 2) logits; its boundary: a line


def small_mlp(hidden: int = 32):
    return nn.Sequential(
        nn.Linear(2, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, 2),  # (B, 2) logits
    )
# --8<-- [end:classifiers]


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


# --8<-- [start:width_sweep]
def width_sweep(X_train, y_train, X_test, y_test, widths=(1, 2, 4, 8, 32),
                seeds=(0, 1, 2), num_steps=500):
    """Test accuracy of one hidden ReLU layer, per hidden width and seed."""
    results = {}
    for width in widths:
        results[width] = []
        for seed in seeds:
            torch.manual_seed(seed)
            net = nn.Sequential(nn.Linear(2, width), nn.ReLU(),
                                nn.Linear(width, 2))
            fit_classifier(net, X_train, y_train, num_steps)
            results[width].append(accuracy(net, X_test, y_test))
    return results
# --8<-- [end:width_sweep]


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


# --8<-- [start:linear_mnist]
def train_linear_mnist(X, y, num_steps: int = 100, lr: float = 0.5):
    """A linear classifier on raw pixels: 10 weighted sums of 784 pixels.

    Plain full-batch gradient descent from all-zero weights: each step adds
    to every template a weighted sum of training images, so the templates
    stay image-like.
    """
    net = nn.Linear(28 * 28, 10)  # weight: (10, 784), one template per digit
    nn.init.zeros_(net.weight)
    nn.init.zeros_(net.bias)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    X = X.flatten(1)  # (N, 1, 28, 28) -> (N, 784)
    for _ in range(num_steps):
        loss = loss_fn(net(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net
# --8<-- [end:linear_mnist]


def main() -> None:
    size, age, price_by_size, price_by_age = make_houses()
    for name, x, y in [("size", size, price_by_size), ("age", age, price_by_age)]:
        w, b = fit_line(x, y)
        print(f"price against {name}: line y = {w:.2f} x + {b:.1f}, "
              f"R² = {r_squared(y, w * x + b):.3f}")
    X, y = make_moons(1000, seed=0)
    X_test, y_test = make_moons(1000, seed=1)
    for name, make in [("linear classifier", linear_classifier), ("small MLP", small_mlp)]:
        torch.manual_seed(0)
        net = make()
        with single_thread():
            fit_classifier(net, X, y)
        print(f"two moons, {name}: test accuracy {accuracy(net, X_test, y_test):.1%}")


if __name__ == "__main__":
    main()
