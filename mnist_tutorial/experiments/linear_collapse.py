"""Experiment of the linear-collapse lesson: a deep linear network is one linear layer.

It checks the collapse numerically (float64) for several depths, then trains one
linear layer, a deep linear network and the same network with ReLUs on two moons.
Run it with ``python -c "from mnist_tutorial import registry; print(registry.get_result('linear_collapse')['tables'])"``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..registry import experiment, metric, scientific_text, table


@dataclass(frozen=True)
class CollapseConfig:
    depths: tuple[int, ...] = (1, 2, 3, 5, 8)  # layers in the numeric check
    width: int = 256  # hidden width of the check's 784 -> ... -> 10 networks
    tolerance: float = 1e-10
    num_layers: int = 5  # of the trained deep networks
    hidden: int = 32
    num_points: int = 1000  # two-moons training points; the test set has as many
    noise: float = 0.15
    num_steps: int = 500
    seeds: tuple[int, ...] = (0, 1, 2)
    rank_sizes: tuple[int, ...] = (10, 64, 3, 64, 10)  # exercise: a bottleneck of width 3


COLLAPSE = CollapseConfig()
COLLAPSE_SMOKE = dataclasses.replace(COLLAPSE, depths=(1, 2, 5), width=64, num_points=400,
                                     num_steps=300, seeds=(0,))


@experiment("linear_collapse", "Deep linear networks collapse to one layer; ReLU does not",
            full=COLLAPSE, smoke=COLLAPSE_SMOKE)
def linear_collapse(config: CollapseConfig) -> dict:
    import copy
    import statistics

    import torch
    from torch import nn

    from ..capacity import accuracy, fit_classifier, make_moons, single_thread
    from ..linear_collapse import affine_defect, collapse, collapse_error, collapsed_rank, deep_net
    from ..models import count_parameters
    from .capacity import regions_figure

    # 1. The identity W2 (W1 x + b1) + b2 = W x + b, checked numerically.
    check_rows, errors = [], []
    for depth in config.depths:
        sizes = [28 * 28] + [config.width] * (depth - 1) + [10]
        error, scale = collapse_error(sizes, seed=depth)
        if not error < config.tolerance:
            raise AssertionError(f"{depth} linear layers differ from their collapse by "
                                 f"{error:.1e} > {config.tolerance:.0e}")
        errors.append(error)
        check_rows.append([depth, " → ".join(map(str, sizes)), f"{scale:.2f}",
                           scientific_text(error)])

    # 2. Trained on a non-linear task: depth alone buys nothing, depth + ReLU does.
    X, y = make_moons(config.num_points, config.noise, seed=0)
    X_test, y_test = make_moons(config.num_points, config.noise, seed=1)
    deep_sizes = [2] + [config.hidden] * (config.num_layers - 1) + [2]
    models = {
        "1 linear layer": lambda: nn.Linear(2, 2),
        f"{config.num_layers} linear layers": lambda: deep_net(deep_sizes),
        f"{config.num_layers} layers with ReLU": lambda: deep_net(deep_sizes, nn.ReLU),
    }
    acc = {name: [] for name in models}
    nets, disagreements = {}, 0
    with single_thread():
        for seed in config.seeds:
            for name, make in models.items():
                torch.manual_seed(seed)
                net = make()
                fit_classifier(net, X, y, config.num_steps)
                acc[name].append(accuracy(net, X_test, y_test))
                nets.setdefault(name, net)  # the first seed's, for the figure
                if name.endswith("linear layers"):
                    # in float64, so rounding cannot flip a point on the boundary
                    deep = copy.deepcopy(net).double()
                    with torch.no_grad():
                        y_hat = deep(X_test.double()).argmax(dim=1)
                        y_hat_single = collapse(deep)(X_test.double()).argmax(dim=1)
                    disagreements += int((y_hat != y_hat_single).sum())
    mean = {name: statistics.fmean(a) for name, a in acc.items()}
    linear, deep_linear, deep_relu = (mean[name] for name in models)
    deep_linear_name = f"{config.num_layers} linear layers"
    if disagreements:
        raise AssertionError(f"the collapsed networks should classify every test point like "
                             f"the deep ones; {disagreements} point(s) differ")
    if abs(deep_linear - linear) > 0.03:
        raise AssertionError(f"depth without activation should not help: {deep_linear:.1%} "
                             f"({config.num_layers} linear layers) vs {linear:.1%} (one)")
    if not deep_relu > deep_linear + 0.05:
        raise AssertionError(f"ReLUs should help by 5 points or more: {deep_relu:.1%} vs "
                             f"{deep_linear:.1%}")

    # 3. The exercises: a bottleneck caps the rank; only affine maps pass the midpoint test.
    rank = collapsed_rank(config.rank_sizes)
    if rank != min(config.rank_sizes):
        raise AssertionError(f"rank {rank}, expected the narrowest width {min(config.rank_sizes)}")
    torch.manual_seed(0)
    defect_linear = affine_defect(deep_net(deep_sizes, dtype=torch.float64), 2)
    torch.manual_seed(0)
    defect_relu = affine_defect(deep_net(deep_sizes, nn.ReLU, dtype=torch.float64), 2)
    if not (defect_linear < 1e-12 and defect_relu > 1e-6):
        raise AssertionError(f"midpoint test: linear {defect_linear:.1e}, ReLU {defect_relu:.1e}")

    rows = [[name, metric(count_parameters(nets[name]), "count")["text"],
             metric(mean[name], "percent", 1,
                    statistics.pstdev(acc[name]) if len(acc[name]) > 1 else None)["text"]]
            for name in models]
    regions_svg = regions_figure(
        [nets[deep_linear_name], nets[f"{config.num_layers} layers with ReLU"]],
        [f"{config.num_layers} linear layers: {acc[deep_linear_name][0]:.1%}",
         f"{config.num_layers} layers with ReLU: "
         f"{acc[f'{config.num_layers} layers with ReLU'][0]:.1%}"],
        X_test, y_test)
    return {
        "metrics": {
            "max_error": metric(max(errors), "scientific"),
            "tolerance": metric(config.tolerance, "scientific"),
            "max_depth": metric(max(config.depths), "count"),
            "linear_accuracy": metric(linear, "percent", 1),
            "deep_linear_accuracy": metric(deep_linear, "percent", 1),
            "deep_relu_accuracy": metric(deep_relu, "percent", 1),
            "num_layers": metric(config.num_layers, "count"),
            "num_seeds": metric(len(config.seeds), "count"),
            "rank": metric(rank, "count"),
            "defect_linear": metric(defect_linear, "scientific"),
            "defect_relu": metric(defect_relu, "scientific"),
        },
        "tables": {
            "check": table(["linear layers", "sizes", "largest |output|", "largest difference"],
                           check_rows,
                           "A stack of nn.Linear layers against its collapse, in float64, "
                           "on 256 random inputs."),
            "moons": table(["network", "parameters", "test accuracy"], rows,
                           f"Two moons, full-batch Adam for {config.num_steps} steps, "
                           f"mean ± std over {len(config.seeds)} seed(s)."),
        },
        "figures": {
            "regions": {
                "svg": regions_svg,
                "alt": (f"Two panels of the two-moons test set coloured by predicted class. "
                        f"Left, the {config.num_layers}-layer linear network still splits the "
                        f"plane with one straight line ({acc[deep_linear_name][0]:.1%} "
                        f"correct). Right, the same network with ReLUs bends its boundary "
                        f"around the moons "
                        f"({acc[f'{config.num_layers} layers with ReLU'][0]:.1%} correct)."),
                "caption": (f"Decision regions of two {config.num_layers}-layer networks of "
                            f"the same shape ({' → '.join(map(str, deep_sizes))}), seed "
                            f"{config.seeds[0]}: without and with ReLU between the layers."),
            },
        },
        "histories": {"test_accuracy": acc},
        "seeds": list(config.seeds),
    }
