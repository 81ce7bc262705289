"""Experiments of the capacity lesson: lines on house prices, a line vs an MLP on two moons,
and the ten pixel templates of a linear classifier on MNIST.

``capacity`` needs no data; ``capacity_templates`` reads MNIST (a small subset).
Run one with ``python -c "from mnist_tutorial import registry; print(registry.get_result('capacity')['metrics'])"``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..registry import experiment, metric, table


@dataclass(frozen=True)
class CapacityConfig:
    num_houses: int = 200
    num_points: int = 1000  # two-moons training points; the test set has as many
    noise: float = 0.15
    hidden: int = 32
    num_steps: int = 500
    seed: int = 0
    widths: tuple[int, ...] = (1, 2, 4, 8, 32)
    sweep_seeds: tuple[int, ...] = (0, 1, 2)
    min_margin: float = 0.05  # the MLP must beat the line by this much test accuracy


CAPACITY = CapacityConfig()
CAPACITY_SMOKE = dataclasses.replace(CAPACITY, num_points=400, num_steps=300, widths=(1, 4, 32),
                                     sweep_seeds=(0,))


def _house_figure(size, age, price_by_size, price_by_age, fits):
    from .. import plots

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
        return plots.to_svg(fig)


def regions_figure(nets, titles, X, y):
    from matplotlib.colors import ListedColormap

    from .. import plots
    from ..capacity import decision_grid

    with plots.figure(1, len(nets), figsize=(4 * len(nets), 3.6), sharey=True) as (fig, axes):
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


@experiment("capacity", "A line and a small MLP on house prices and two moons",
            full=CAPACITY, smoke=CAPACITY_SMOKE)
def capacity(config: CapacityConfig) -> dict:
    import statistics

    import torch

    from ..capacity import (accuracy, fit_classifier, fit_line, fit_polynomial, linear_classifier,
                            make_houses, make_moons, r_squared, single_thread, small_mlp,
                            width_sweep)
    from ..models import count_parameters

    size, age, price_by_size, price_by_age = make_houses(config.num_houses, config.seed)
    fits = []
    for x, y in ((size, price_by_size), (age, price_by_age)):
        w, b = fit_line(x, y)
        fits.append((w, b, r_squared(y, w * x + b)))
    r2_size, r2_age = fits[0][2], fits[1][2]
    if not (abs(fits[0][0] - 3.0) < 0.3 and abs(fits[0][1] - 50) < 20):
        raise AssertionError(f"the line should come close to the generating slope 3.0 and "
                             f"intercept 50: got {fits[0][0]:.2f} and {fits[0][1]:.1f}")
    r2_quadratic = r_squared(price_by_age, fit_polynomial(age, price_by_age, degree=2))
    if not (r2_size > 0.8 and r2_age < 0.4):
        raise AssertionError(f"the line should fit price-by-size (R² {r2_size:.2f} > 0.8) "
                             f"and fail on price-by-age (R² {r2_age:.2f} < 0.4)")
    if not r2_quadratic > r2_age + 0.3:
        raise AssertionError(f"the age² feature should rescue the fit: R² {r2_quadratic:.2f} "
                             f"vs {r2_age:.2f} for the line")

    X, y = make_moons(config.num_points, config.noise, config.seed)
    X_test, y_test = make_moons(config.num_points, config.noise, config.seed + 1)
    nets, acc = {}, {}
    with single_thread():
        for name, make in (("linear", linear_classifier),
                           ("mlp", lambda: small_mlp(config.hidden))):
            torch.manual_seed(config.seed)
            nets[name] = make()
            fit_classifier(nets[name], X, y, config.num_steps)
            acc[name] = accuracy(nets[name], X_test, y_test)
        sweep = width_sweep(X, y, X_test, y_test, config.widths, config.sweep_seeds,
                            config.num_steps)
    margin = acc["mlp"] - acc["linear"]
    if margin < config.min_margin:
        raise AssertionError(f"the MLP ({acc['mlp']:.1%}) should beat the linear classifier "
                             f"({acc['linear']:.1%}) on two moons by at least "
                             f"{config.min_margin:.0%}")
    sweep_mean = {w: statistics.fmean(a) for w, a in sweep.items()}
    widest = max(config.widths)
    if not sweep_mean[widest] > sweep_mean[min(config.widths)] + config.min_margin:
        raise AssertionError(f"width {widest} should beat width {min(config.widths)}: "
                             f"{sweep_mean}")

    houses_svg = _house_figure(size, age, price_by_size, price_by_age, fits)
    regions_svg = regions_figure(
        [nets["linear"], nets["mlp"]],
        [f"linear classifier: {acc['linear']:.1%} test accuracy",
         f"MLP 2-{config.hidden}-{config.hidden}-2: {acc['mlp']:.1%} test accuracy"],
        X_test, y_test)
    sweep_rows = [[w, 5 * w + 2,  # (2w + w) for layer 1, (2w + 2) for layer 2
                   metric(sweep_mean[w], "percent", 1,
                          statistics.pstdev(sweep[w]) if len(sweep[w]) > 1 else None)["text"]]
                  for w in config.widths]
    return {
        "metrics": {
            "r2_size": metric(r2_size, digits=2),
            "r2_age": metric(r2_age, digits=2),
            "r2_age_quadratic": metric(r2_quadratic, digits=2),
            "slope": metric(fits[0][0], digits=2),
            "intercept": metric(fits[0][1], digits=0),
            "linear_accuracy": metric(acc["linear"], "percent", 1),
            "mlp_accuracy": metric(acc["mlp"], "percent", 1),
            "margin": metric(margin, "percent", 1),
            "num_points": metric(config.num_points, "count"),
            "num_houses": metric(config.num_houses, "count"),
            "linear_parameters": metric(count_parameters(nets["linear"]), "count"),
            "mlp_parameters": metric(count_parameters(nets["mlp"]), "count"),
        },
        "tables": {
            "width_sweep": table(
                ["hidden width", "parameters", "test accuracy"], sweep_rows,
                f"One hidden ReLU layer on two moons, {len(config.sweep_seeds)} seed(s) "
                f"per width (mean ± std)."),
        },
        "figures": {
            "houses": {
                "svg": houses_svg,
                "alt": (f"Two scatter plots of {config.num_houses} synthetic houses with the "
                        f"least-squares line. Left, price against size: the line follows "
                        f"the points, R² = {r2_size:.2f}. Right, price against age: the points "
                        f"form a U and the line cuts across it, R² = {r2_age:.2f}."),
                "caption": "The best straight line, fitted by least squares, on a linear "
                           "relation (left) and a U-shaped one (right).",
            },
            "regions": {
                "svg": regions_svg,
                "alt": (f"Two panels of the two-moons test set coloured by the predicted "
                        f"class. Left, the linear classifier splits the plane with one "
                        f"straight line and gets {acc['linear']:.1%} right. Right, the MLP's "
                        f"boundary curves between the moons and gets {acc['mlp']:.1%} right."),
                "caption": (f"Decision regions on {config.num_points} held-out points: "
                            f"a straight line against a small ReLU MLP, both trained with "
                            f"full-batch Adam for {config.num_steps} steps."),
            },
        },
        "histories": {"width_sweep": {str(w): a for w, a in sweep.items()}},
        "seeds": [config.seed],
    }


@dataclass(frozen=True)
class TemplatesConfig:
    train_size: int | None = 10_000
    test_size: int | None = None  # None: the whole 10,000-image test set
    num_steps: int = 100
    lr: float = 0.5
    min_accuracy: float = 0.85


TEMPLATES = TemplatesConfig()
TEMPLATES_SMOKE = dataclasses.replace(TEMPLATES, train_size=1024, test_size=512, num_steps=50,
                                      min_accuracy=0.7)


@experiment("capacity_templates", "A linear classifier on MNIST pixels and its ten templates",
            full=TEMPLATES, smoke=TEMPLATES_SMOKE)
def capacity_templates(config: TemplatesConfig) -> dict:
    import torch

    from .. import plots
    from ..capacity import single_thread, train_linear_mnist
    from ..data import load_mnist, make_split, normalise

    mnist = load_mnist()
    split = make_split(mnist, config.train_size, 0, config.test_size)
    X, y = normalise(mnist.train_images[split.train]), mnist.train_labels[split.train]
    X_test, y_test = normalise(mnist.test_images[split.test]), mnist.test_labels[split.test]
    with single_thread():
        net = train_linear_mnist(X, y, config.num_steps, config.lr)
    with torch.no_grad():
        test_acc = float((net(X_test.flatten(1)).argmax(dim=1) == y_test).float().mean())
    if test_acc < config.min_accuracy:
        raise AssertionError(f"the linear classifier should reach {config.min_accuracy:.0%} "
                             f"on MNIST, got {test_acc:.1%}")

    templates = net.weight.detach().reshape(10, 28, 28)
    limit = float(templates.abs().max())
    with plots.figure(2, 5, figsize=(8, 3.6)) as (fig, axes):
        for digit, ax in enumerate(axes.flat):
            image = ax.imshow(templates[digit].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"digit {digit}")
            ax.set_axis_off()
        fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
        svg = plots.to_svg(fig)
    return {
        "metrics": {
            "test_accuracy": metric(test_acc, "percent", 1),
            "train_size": metric(len(y), "count"),
            "test_size": metric(len(y_test), "count"),
            "num_steps": metric(config.num_steps, "count"),
            "parameters": metric(sum(p.numel() for p in net.parameters()), "count"),
        },
        "figures": {
            "templates": {
                "svg": svg,
                "alt": (f"Ten 28 by 28 heat maps, one per digit 0 to 9: the weights of a "
                        f"linear classifier trained on {len(y):,} MNIST images "
                        f"({test_acc:.1%} test accuracy). Red pixels add to the digit's "
                        f"score, blue pixels subtract; in several maps, 0 and 1 most "
                        f"clearly, the red pixels trace the shape of the digit."),
                "caption": (f"The ten rows of the weight matrix of a linear classifier on "
                            f"pixels, drawn as images (red: positive, blue: negative), after "
                            f"{config.num_steps} steps of full-batch gradient descent from zero on "
                            f"{len(y):,} images."),
            },
        },
    }
