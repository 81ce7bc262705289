# %% [markdown]
# # Capacity: why simple models struggle
#
# The code and the runs of the lesson *Capacity*: a straight line on two kinds of house
# prices, a linear classifier against a small MLP on two moons, and the ten pixel
# templates of a linear classifier on MNIST. Every number the lesson quotes is computed
# here. Well under a minute on a laptop CPU; set `MNIST_TUTORIAL_PROFILE=smoke` for a
# quicker run.

# %%
# --8<-- [start:setup]
import dataclasses
import math
import statistics
from dataclasses import dataclass

import torch
from torch import nn

from mnist_tutorial import plots
from mnist_tutorial.config import current_profile
from mnist_tutorial.data import load_mnist, make_split, normalise
from mnist_tutorial.models import count_parameters
from mnist_tutorial.toy import accuracy, fit_classifier, make_moons, regions_figure, single_thread


@dataclass(frozen=True)
class Config:
    num_houses: int = 200
    num_points: int = 1000  # two-moons training points; the test set has as many
    noise: float = 0.15
    hidden: int = 32
    num_steps: int = 500
    seed: int = 0
    widths: tuple[int, ...] = (1, 2, 4, 8, 32)  # exercise 2: one hidden layer of each width
    sweep_seeds: tuple[int, ...] = (0, 1, 2)
    min_margin: float = 0.05  # the MLP must beat the line by this much test accuracy
    # the linear classifier on MNIST pixels
    train_size: int | None = 10_000
    test_size: int | None = None  # None: the whole 10,000-image test set
    mnist_steps: int = 100
    mnist_lr: float = 0.5
    min_accuracy: float = 0.85


FULL = Config()
# Every width in every profile: the page's slider has one figure per width.
SMOKE = dataclasses.replace(FULL, num_points=400, num_steps=300, sweep_seeds=(0,),
                            train_size=1024, test_size=512, mnist_steps=50, min_accuracy=0.7)
CONFIG = FULL if current_profile() == "full" else SMOKE
# --8<-- [end:setup]
from mnist_tutorial.report import Report

report = Report("capacity", seeds=sorted({CONFIG.seed, *CONFIG.sweep_seeds}), precision="fp32")

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## A line fits a linear relation ...
#
# Synthetic houses, generated with a fixed seed: price grows linearly with size, and is
# U-shaped in age.

# %%
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


# %% [markdown]
# The best line in the least-squares sense, solved exactly by `torch.linalg.lstsq`, and
# $R^2$, the share of the variance it explains.

# %%
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


# %%
size, age, price_by_size, price_by_age = make_houses(CONFIG.num_houses, CONFIG.seed)
fits = []  # (w, b, R²) for price against size, then against age
for x, y in ((size, price_by_size), (age, price_by_age)):
    w, b = fit_line(x, y)
    fits.append((w, b, r_squared(y, w * x + b)))

slope = fits[0][0]
intercept = fits[0][1]
r2_size = fits[0][2]
r2_age = fits[1][2]

# %% tags=["report"]
# the houses were generated with slope 3.0 and intercept 50
line_recovers_generating_line = abs(slope - 3.0) < 0.3 and abs(intercept - 50) < 20
line_fits_size_not_age = r2_size > 0.8 and r2_age < 0.4

# %% [markdown]
# ## ... and fails on a non-linear one

# %%
with plots.figure(1, 2, figsize=(8, 3.4), sharey=True) as (fig, axes):
    for ax, x, y, (w, b, r2), label in zip(
            axes, (size, age), (price_by_size, price_by_age), fits,
            ("size (m²)", "age (years)")):
        ax.scatter(x, y, s=8, alpha=0.6, label="houses")
        xs = [float(x.min()), float(x.max())]
        ax.plot(xs, [w * v + b for v in xs], color="#e65100", lw=2,
                label=f"best line, R² = {r2:.2f}")
        ax.set_xlabel(label)
        ax.legend(frameon=False, loc="upper left")
    axes[0].set_ylabel("price (thousand €)")
    report.figure("houses", fig)

# %% [markdown]
# ## Classification: one straight boundary
#
# Two moons (`make_moons` and `fit_classifier` come from `mnist_tutorial.toy`): a linear
# classifier and a small MLP, trained the same way with the same seed.

# %%
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


# %%
X, y = make_moons(CONFIG.num_points, CONFIG.noise, CONFIG.seed)  # X: (N, 2), y: (N,)
X_test, y_test = make_moons(CONFIG.num_points, CONFIG.noise, CONFIG.seed + 1)
nets, acc = {}, {}
with single_thread():
    for name, make in (("linear", linear_classifier),
                       ("mlp", lambda: small_mlp(CONFIG.hidden))):
        torch.manual_seed(CONFIG.seed)
        nets[name] = make()
        fit_classifier(nets[name], X, y, CONFIG.num_steps)
        acc[name] = accuracy(nets[name], X_test, y_test)

linear_accuracy = acc["linear"]
mlp_accuracy = acc["mlp"]
margin = acc["mlp"] - acc["linear"]

# %% tags=["report"]
linear_parameters = count_parameters(nets["linear"])
mlp_parameters = count_parameters(nets["mlp"])
mlp_beats_linear_on_moons = margin >= CONFIG.min_margin

# %% tags=["report"]
report.figure(
    "regions",
    regions_figure([nets["linear"], nets["mlp"]],
                   [f"linear classifier: {acc['linear']:.1%} test accuracy",
                    f"MLP 2-{CONFIG.hidden}-{CONFIG.hidden}-2: {acc['mlp']:.1%} test accuracy"],
                   X_test, y_test))

# %% [markdown]
# ## Pixels: one template per digit
#
# A linear classifier on raw MNIST pixels, trained from all-zero weights by plain
# full-batch gradient descent on a subset of the training images.

# %%
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


# %%
mnist = load_mnist()
split = make_split(mnist, CONFIG.train_size, 0, CONFIG.test_size)
X_mnist = normalise(mnist.train_images[split.train])  # (N, 1, 28, 28)
y_mnist = mnist.train_labels[split.train]
X_mnist_test = normalise(mnist.test_images[split.test])
y_mnist_test = mnist.test_labels[split.test]
with single_thread():
    net = train_linear_mnist(X_mnist, y_mnist, CONFIG.mnist_steps, CONFIG.mnist_lr)
with torch.no_grad():
    y_hat = net(X_mnist_test.flatten(1)).argmax(dim=1)  # (N,)
test_acc = float((y_hat == y_mnist_test).float().mean())

# %% tags=["report"]
templates_train_size = len(y_mnist)
templates_test_size = len(y_mnist_test)
templates_parameters = count_parameters(net)
linear_mnist_clears_floor = test_acc >= CONFIG.min_accuracy

# %% tags=["report"]
templates = net.weight.detach().reshape(10, 28, 28)  # one 28 x 28 image per digit
limit = float(templates.abs().max())
with plots.figure(2, 5, figsize=(8, 3.6)) as (fig, axes):
    for digit, ax in enumerate(axes.flat):
        image = ax.imshow(templates[digit].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"digit {digit}")
        ax.set_axis_off()
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    report.figure("templates", fig)

# %% [markdown]
# ## Exercise 1: a straight line through a U

# %%
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


r2_quadratic = r_squared(price_by_age, fit_polynomial(age, price_by_age, degree=2))

# %% tags=["report"]
quadratic_feature_rescues_fit = r2_quadratic > r2_age + 0.3

# %% [markdown]
# ## Exercise 2: how wide must the hidden layer be?

# %%
# --8<-- [start:width_sweep]
def width_sweep(X_train, y_train, X_test, y_test, widths=(1, 2, 4, 8, 32),
                seeds=(0, 1, 2), num_steps=500):
    """Test accuracy of one hidden ReLU layer, per hidden width and seed, and the
    network of each width's first seed."""
    results, first_nets = {}, {}
    for width in widths:
        results[width] = []
        for seed in seeds:
            torch.manual_seed(seed)
            net = nn.Sequential(nn.Linear(2, width), nn.ReLU(),
                                nn.Linear(width, 2))
            fit_classifier(net, X_train, y_train, num_steps)
            results[width].append(accuracy(net, X_test, y_test))
            first_nets.setdefault(width, net)
    return results, first_nets
# --8<-- [end:width_sweep]


with single_thread():
    sweep, sweep_nets = width_sweep(X, y, X_test, y_test, CONFIG.widths, CONFIG.sweep_seeds,
                                    CONFIG.num_steps)
sweep_mean = {width: statistics.fmean(a) for width, a in sweep.items()}
rows = [[width, 5 * width + 2,  # (2 w + w) for layer 1, (2 w + 2) for layer 2
         sweep[width]] for width in CONFIG.widths]  # per seed: mean ± std
report.table("width_sweep", ["hidden width", "parameters", "test accuracy"], rows,
             units={"test accuracy": ("percent", 1)})
widest, narrowest = max(CONFIG.widths), min(CONFIG.widths)

# %% tags=["report"]
widest_beats_narrowest = sweep_mean[widest] > sweep_mean[narrowest] + CONFIG.min_margin

# %% [markdown]
# The boundary of each width's first seed, one figure per width (`boundary_1`,
# `boundary_2`, ...): the page shows them under a slider. A quarter of the test points
# (both moons: the classes alternate) is drawn on top: the moons show, and the file is small.

# %% tags=["report"]
drawn = CONFIG.num_points // 4
for width, net in sweep_nets.items():
    units = f"{width} hidden unit{'s' if width > 1 else ''}"
    accuracy_text = f"{sweep[width][0]:.1%}"
    report.figure(f"boundary_{width}",
                  regions_figure([net], [f"{units}: {accuracy_text} test accuracy"],
                                 X_test[:drawn], y_test[:drawn]))
