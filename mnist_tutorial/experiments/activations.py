"""Experiments of the activations lesson.

* ``activations``: plots of each function and its derivative (hand-written, checked
  against autograd), and the gradient that reaches each layer of a 20-layer network
  at initialisation. No data needed, a few seconds.
* ``activations_mnist``: the lesson MLP trained with each activation on MNIST,
  one epoch of the final recipe, 2 seeds each (10 epochs of training in all).

Run one with ``python -c "from mnist_tutorial import registry; print(registry.get_result('activations')['tables'])"``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import TrainConfig
from ..registry import experiment, metric, scientific_text, table

NAMES = ("relu", "leaky_relu", "gelu", "tanh", "sigmoid")
LABELS = {"relu": "ReLU", "leaky_relu": "leaky ReLU", "gelu": "GELU", "tanh": "tanh",
          "sigmoid": "sigmoid", "silu": "SiLU"}
# Leaky ReLU nearly coincides with ReLU: a thin dashed line over a wide pale one.
STYLES = {"relu": dict(lw=3.5, alpha=0.5), "leaky_relu": dict(ls="--", lw=1.4)}


@dataclass(frozen=True)
class ActivationsConfig:
    depth: int = 20
    width: int = 256
    batch_size: int = 512
    seed: int = 0
    x_range: float = 4.0  # the plots show [-x_range, x_range]


ACTIVATIONS = ActivationsConfig()
ACTIVATIONS_SMOKE = dataclasses.replace(ACTIVATIONS, width=128, batch_size=256)


def _functions_figure(x, values, derivatives, autograd):
    from .. import plots

    every = len(x) // 16  # autograd's dots, sparse enough to see the line under them
    with plots.figure(1, 2, figsize=(9, 3.6)) as (fig, (left, right)):
        for name in NAMES:
            style = {"lw": 1.8, **STYLES.get(name, {})}
            line, = left.plot(x, values[name], label=LABELS[name], **style)
            right.plot(x, derivatives[name], color=line.get_color(), label=LABELS[name],
                       **style)
            right.plot(x[::every], autograd[name][::every], "o", ms=3.5, mfc="none",
                       color=line.get_color())
        right.plot([], [], "o", ms=3.5, mfc="none", color="#546e7a", label="autograd")
        left.set_title("f(x)")
        right.set_title("f′(x): formula (lines), autograd (circles)")
        for ax in (left, right):
            ax.set_xlabel("x")
        left.set_ylim(-1.5, 4.2)
        left.legend(frameon=False, loc="upper left")
        right.legend(frameon=False, loc="upper left", fontsize=8)
        return plots.to_svg(fig)


def _gradients_figure(norms, depth):
    from .. import plots

    with plots.figure(1, 2, figsize=(9, 3.6), sharey=True) as (fig, axes):
        for ax, init, title in zip(axes, ("default", "scaled"),
                                   ("nn.Linear's default initialisation",
                                    "weights scaled for the activation")):
            for name in NAMES:
                style = {"lw": 1.5, "marker": ".", **STYLES.get(name, {})}
                ax.plot(range(1, depth + 1), norms[init][name], label=LABELS[name],
                        **style)
            ax.set_yscale("log")
            ax.set_xlabel("layer (1 = next to the input)")
            ax.set_title(title)
        axes[0].set_ylabel("‖∂loss/∂W‖ at initialisation")
        axes[1].legend(frameon=False, fontsize=8)
        return plots.to_svg(fig)


@experiment("activations", "Activation functions, their derivatives, and gradient flow at depth 20",
            full=ACTIVATIONS, smoke=ACTIVATIONS_SMOKE)
def activations(config: ActivationsConfig) -> dict:
    import torch

    from ..activations import (FUNCTIONS, TORCH_FUNCTIONS, autograd_derivative, gradient_norms,
                               shrink_per_layer)
    from ..capacity import single_thread

    # Float64, so that any difference above rounding is a wrong formula; the grid holds
    # exactly 0, where ReLU and leaky ReLU have their kink.
    x = torch.arange(-400, 401, dtype=torch.float64) * (config.x_range / 400)
    values, derivatives, autograd, errors = {}, {}, {}, {}
    for name, (f, f_prime) in FUNCTIONS.items():
        values[name], derivatives[name] = f(x), f_prime(x)
        autograd[name] = autograd_derivative(TORCH_FUNCTIONS[name], x)
        errors[name] = max(float((derivatives[name] - autograd[name]).abs().max()),
                           float((values[name] - TORCH_FUNCTIONS[name](x)).abs().max()))
        if errors[name] > 1e-12:
            raise AssertionError(f"hand-written {name} or its derivative is off torch's by "
                                 f"{errors[name]:.1e}")
    sigmoid_prime_max = float(derivatives["sigmoid"].max())
    if abs(sigmoid_prime_max - 0.25) > 1e-12:
        raise AssertionError(f"max of sigmoid' should be 1/4, got {sigmoid_prime_max}")

    with single_thread():
        norms = {init: {name: gradient_norms(name, config.depth, config.width, init,
                                             config.batch_size, config.seed)
                        for name in NAMES}
                 for init in ("default", "scaled")}
    ratio = {init: {name: n[0] / n[-1] for name, n in by_name.items()}
             for init, by_name in norms.items()}
    if not ratio["scaled"]["sigmoid"] < 1e-6:
        raise AssertionError(f"sigmoid's gradient should vanish over {config.depth} layers: "
                             f"first/last = {ratio['scaled']['sigmoid']:.1e}")
    if not 0.1 < ratio["scaled"]["relu"] < 10:
        raise AssertionError(f"ReLU with scaled weights should keep the gradient's size: "
                             f"first/last = {ratio['scaled']['relu']:.1e}")
    if not ratio["scaled"]["tanh"] > 1:
        raise AssertionError(f"tanh's gradient should grow towards the input with scaled "
                             f"weights: first/last = {ratio['scaled']['tanh']:.2f}")
    shrink = {name: shrink_per_layer(norms["scaled"][name]) for name in NAMES}
    if not (0.15 < shrink["sigmoid"] < 0.3 and 0.8 < shrink["relu"] < 1.25):
        raise AssertionError(f"per-layer factors should be near 1/4 (sigmoid) and 1 (ReLU): "
                             f"{shrink}")
    if not norms["default"]["sigmoid"][0] < 1e-3 * norms["default"]["relu"][0]:
        raise AssertionError("with default weights too, sigmoid's first-layer gradient should "
                             "be far below ReLU's")
    if not (max(ratio["default"].values()) < 1e-2
            and min(ratio["default"], key=ratio["default"].get) == "sigmoid"):
        raise AssertionError(f"with default weights every gradient should shrink towards the "
                             f"input, sigmoid's most: {ratio['default']}")

    rows = [[LABELS[name], scientific_text(norms["default"][name][0]),
             scientific_text(ratio["default"][name]),
             scientific_text(norms["scaled"][name][0]),
             scientific_text(ratio["scaled"][name])] for name in NAMES]
    xs = x.numpy()
    functions_svg = _functions_figure(
        xs, {n: v.numpy() for n, v in values.items()},
        {n: v.numpy() for n, v in derivatives.items()},
        {n: v.numpy() for n, v in autograd.items()})
    gradients_svg = _gradients_figure(norms, config.depth)
    first = {init: {name: n[0] for name, n in by_name.items()} for init, by_name in norms.items()}
    return {
        "metrics": {
            "derivative_error": metric(max(errors[name] for name in NAMES), "scientific"),
            "silu_error": metric(errors["silu"], "scientific"),
            "sigmoid_prime_max": metric(sigmoid_prime_max, digits=4),
            "depth": metric(config.depth, "count"),
            "width": metric(config.width, "count"),
            "relu_first": metric(first["scaled"]["relu"], "scientific"),
            "sigmoid_first": metric(first["scaled"]["sigmoid"], "scientific"),
            "relu_ratio": metric(ratio["scaled"]["relu"], "scientific"),
            "sigmoid_ratio": metric(ratio["scaled"]["sigmoid"], "scientific"),
            "tanh_ratio": metric(ratio["scaled"]["tanh"], "scientific"),
            "relu_ratio_default": metric(ratio["default"]["relu"], "scientific"),
            "sigmoid_shrink": metric(shrink["sigmoid"], digits=3),
            "relu_shrink": metric(shrink["relu"], digits=3),
            "tanh_shrink": metric(shrink["tanh"], digits=3),
            "sigmoid_ratio_default": metric(ratio["default"]["sigmoid"], "scientific"),
        },
        "tables": {
            "gradients": table(
                ["activation", "default init: first layer", "default init: first / last",
                 "scaled init: first layer", "scaled init: first / last"], rows,
                f"Norm of the loss gradient for the first layer's weights of a "
                f"{config.depth}-layer, width-{config.width} network at initialisation, and "
                f"its ratio to the last hidden layer's (1 = no loss on the way)."),
        },
        "figures": {
            "functions": {
                "svg": functions_svg,
                "alt": ("Two line charts over x from -4 to 4. Left: ReLU, leaky ReLU and GELU "
                        "rise like x for positive x and stay near 0 for negative x; tanh and "
                        "sigmoid flatten into horizontal S shapes. Right: their derivatives; "
                        "ReLU's jumps from 0 to 1 at 0, sigmoid's peaks at "
                        f"{sigmoid_prime_max:.2f}, tanh's at 1, and the autograd circles lie "
                        f"on the hand-written lines (largest difference "
                        f"{max(errors[n] for n in NAMES):.0e})."),
                "caption": "Five activation functions (left) and their derivatives (right), "
                           "from the formulas in activations.py; the circles are "
                           "torch.autograd's derivatives of torch's own functions.",
            },
            "gradients": {
                "svg": gradients_svg,
                "alt": (f"Two log-scale line charts of the gradient norm per layer of a "
                        f"{config.depth}-layer network. With weights scaled for the "
                        f"activation (right), ReLU's gradient stays near "
                        f"{first['scaled']['relu']:.1e} in every layer, while sigmoid's falls "
                        f"to {first['scaled']['sigmoid']:.0e} at the first layer. With the "
                        f"default initialisation (left) every curve falls towards the input, "
                        f"sigmoid's fastest, to {first['default']['sigmoid']:.0e}."),
                "caption": (f"The gradient each weight matrix receives on the first step "
                            f"(one batch of {config.batch_size} random inputs), layer by "
                            f"layer; log scale."),
            },
        },
        "histories": {"gradient_norms": norms},
        "seeds": [config.seed],
    }


@dataclass(frozen=True)
class ActivationsMNISTConfig:
    train: TrainConfig = TrainConfig.recipe("final", num_epochs=1)
    activations: tuple[str, ...] = NAMES
    seeds: tuple[int, ...] = (0, 1)
    min_accuracy: float = 0.93  # every activation must reach it
    max_spread: float = 0.015  # best - worst mean accuracy, sigmoid left out

    def smoke(self) -> "ActivationsMNISTConfig":
        # Four steps on 1,024 images, one seed: enough to see learning start, not to
        # rank the activations, so the claims about the ranking are not checked.
        return dataclasses.replace(self, train=self.train.smoke(), seeds=(0,),
                                   min_accuracy=0.15, max_spread=1.0)


ACTIVATIONS_MNIST = ActivationsMNISTConfig()


@experiment("activations_mnist", "The lesson MLP with each activation on MNIST, 2 seeds",
            full=ACTIVATIONS_MNIST, smoke=ACTIVATIONS_MNIST.smoke())
def activations_mnist(config: ActivationsMNISTConfig) -> dict:
    import statistics
    import time

    from ..data import load_mnist
    from ..registry import requested_device
    from ..training import train_model

    mnist = load_mnist()
    start = time.perf_counter()
    accuracy, epoch_seconds, devices = {}, {}, set()
    for name in config.activations:
        runs = [train_model(dataclasses.replace(config.train, activation=name, seed=seed), mnist,
                            device=requested_device(), progress=True)
                for seed in config.seeds]
        accuracy[name] = [r.test_accuracy for r in runs]
        epoch_seconds[name] = [s for r in runs for s in r.epoch_seconds]
        devices.update(r.device for r in runs)
    total = time.perf_counter() - start

    mean = {name: statistics.fmean(a) for name, a in accuracy.items()}
    low = [name for name in config.activations if min(accuracy[name]) < config.min_accuracy]
    if low:
        raise AssertionError(f"every activation should reach {config.min_accuracy:.0%}; "
                             f"{', '.join(low)} did not: {accuracy}")
    if min(mean, key=mean.get) != "sigmoid":
        raise AssertionError(f"sigmoid should learn slowest of the five: {mean}")
    others = [mean[name] for name in config.activations if name != "sigmoid"]
    if max(others) - min(others) > config.max_spread:
        raise AssertionError(f"apart from sigmoid, the activations should be within "
                             f"{config.max_spread:.0%} of each other: {mean}")

    def std(values):
        return statistics.pstdev(values) if len(values) > 1 else None

    rows = [[LABELS[name], metric(mean[name], "percent", 2, std(accuracy[name]))["text"],
             metric(statistics.fmean(epoch_seconds[name]), "seconds", 2)["text"]]
            for name in config.activations]
    best = max(mean, key=mean.get)
    return {
        "metrics": {
            **{f"{name}_accuracy": metric(mean[name], "percent", 2, std(accuracy[name]))
               for name in config.activations},
            "gap": metric(mean["relu"] - mean["sigmoid"], "percent", 2),
            "best_gap": metric(mean[best] - mean["relu"], "percent", 2),
            "total_seconds": metric(total, "seconds", 0),
            # What the full profile checks (the page says so, also on a smoke build).
            "min_accuracy": metric(ACTIVATIONS_MNIST.min_accuracy, "percent", 0),
            "max_spread": metric(ACTIVATIONS_MNIST.max_spread, "percent", 1),
            "num_epochs": metric(config.train.num_epochs, "count"),
            "num_seeds": metric(len(config.seeds), "count"),
            "num_runs": metric(len(config.seeds) * len(config.activations), "count"),
        },
        "tables": {
            "comparison": table(
                ["activation", "test accuracy", "seconds per epoch"], rows,
                f"The lesson MLP (784-1024-256-10), final recipe for "
                f"{config.train.num_epochs} epoch(s), mean ± std over "
                f"{len(config.seeds)} seed(s); seconds per epoch on "
                f"{', '.join(sorted(devices))}."),
        },
        "histories": {"test_accuracy": accuracy, "epoch_seconds": epoch_seconds},
        "seeds": list(config.seeds),
    }
