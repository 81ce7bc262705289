"""Experiment of the backpropagation lesson: hand-written gradients, checked and timed.

It checks the hand-written backward pass of ``mnist_tutorial.backprop`` against
torch.autograd (float64, several shapes), trains the network a few steps with
``train_step``, and measures backpropagation against finite differences as the
number of parameters grows: forward passes counted, CPU time measured. It also runs
the exercises' solutions (weight decay, the input's gradient, counting multiply-adds).

Run it with ``python -m mnist_tutorial run backprop``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..registry import experiment, metric, scientific_text, table


@dataclass(frozen=True)
class BackpropConfig:
    # (batch size, inputs, hidden units, classes) checked against autograd
    check_shapes: tuple[tuple[int, int, int, int], ...] = (
        (1, 3, 4, 2), (16, 10, 32, 3), (64, 784, 128, 10))
    tolerance: float = 1e-12  # largest relative difference allowed from autograd (float64)
    fd_tolerance: float = 1e-6  # ... and between finite differences and backprop
    eps: float = 1e-6  # finite-difference nudge
    d_in: int = 10  # the timed networks: d_in -> width -> num_classes
    num_classes: int = 3
    batch_size: int = 64
    widths: tuple[int, ...] = (4, 12, 36, 108, 360)  # 59 to 5,043 parameters
    repeats: int = 200  # backprop is timed as the mean over this many passes
    train_points: int = 512
    train_width: int = 32
    train_steps: int = 200
    lr: float = 0.5
    weight_decay: float = 1e-3  # exercise 1
    mlp_sizes: tuple[int, ...] = (784, 1024, 256, 10)  # exercise 3: the lesson MLP
    seed: int = 0


BACKPROP = BackpropConfig()
BACKPROP_SMOKE = dataclasses.replace(BACKPROP, check_shapes=BACKPROP.check_shapes[:2],
                                     widths=(4, 12, 36), repeats=20, train_steps=50)


def thousands(n: int) -> str:
    """5 043 with a narrow no-break space, as the pages print counts (registry.metric)."""
    return f"{n:,}".replace(",", "\u202f")


def fmt_metric(value: float) -> dict:
    return metric(value, unit="scientific", digits=3)


def graph_figure() -> str:
    """The computational graph: forward on top, backward below it, parameter gradients last."""
    from .. import plots

    top, middle, bottom = 3.0, 1.6, 0.35  # rows: forward, backward, parameter gradients
    x = {"X": 0.45, "Z1": 2.55, "H": 4.7, "logits": 6.95, "L": 9.3}
    half = {"X": 0.35, "Z1": 0.75, "H": 0.65, "logits": 0.9, "L": 0.85}  # box half-widths
    blue = dict(boxstyle="round,pad=0.35", fc="#e8eaf6", ec="#3f51b5", lw=1)
    cached = dict(blue, ec="#2e7d32", lw=2.2)
    orange = dict(boxstyle="round,pad=0.35", fc="#fbe9e7", ec="#e65100", lw=1)
    plain = dict(boxstyle="round,pad=0.3", fc="#ffffff", ec="#9e9e9e", lw=0.8)
    with plots.figure(figsize=(9.5, 4.0)) as (fig, ax):
        ax.set_xlim(-0.2, 10.3)
        ax.set_ylim(-0.35, 4.3)
        ax.axis("off")

        def node(px, py, text, style, size=9):
            ax.text(px, py, text, ha="center", va="center", fontsize=size, bbox=style, zorder=3)

        def arrow(start, end, color, lw=1.3):
            ax.annotate("", xy=end, xytext=start, zorder=2,
                        arrowprops=dict(arrowstyle="-|>", color=color, lw=lw, shrinkA=0, shrinkB=0))

        node(x["X"], top, "X\n(B, D)", cached)
        node(x["Z1"], top, "Z₁ = X W₁ + b₁\n(B, H)", cached)
        node(x["H"], top, "H = relu(Z₁)\n(B, H)", cached)
        node(x["logits"], top, "logits = H W₂ + b₂\n(B, C)", blue)
        node(x["L"], top, "L = cross-entropy\n(one number)", blue)
        order = ["X", "Z1", "H", "logits", "L"]
        for left, right in zip(order, order[1:]):
            arrow((x[left] + half[left] + 0.1, top), (x[right] - half[right] - 0.1, top), "#3f51b5")
        for px, text in [(x["Z1"], "W₁, b₁"), (x["logits"], "W₂, b₂"), (x["L"], "labels y")]:
            node(px, 4.05, text, plain, size=8)
            arrow((px, 3.85), (px, top + 0.38), "#9e9e9e", lw=1)

        node(x["logits"], middle, "∂L/∂logits =\n(softmax − one-hot) / B", orange, size=8)
        node(x["H"], middle, "∂L/∂H =\n∂L/∂logits W₂ᵀ", orange, size=8)
        node(x["Z1"], middle, "∂L/∂Z₁ =\n∂L/∂H ⊙ [Z₁ > 0]", orange, size=8)
        arrow((x["L"], top - 0.4), (x["logits"] + 1.05, middle + 0.1), "#e65100")
        arrow((x["logits"] - 1.05, middle), (x["H"] + 0.75, middle), "#e65100")
        arrow((x["H"] - 0.75, middle), (x["Z1"] + 0.8, middle), "#e65100")

        node(x["logits"], bottom, "∂L/∂W₂ = Hᵀ ∂L/∂logits\n∂L/∂b₂ = column sums", plain,
             size=8)
        node(x["Z1"], bottom, "∂L/∂W₁ = Xᵀ ∂L/∂Z₁\n∂L/∂b₁ = column sums", plain, size=8)
        for px in (x["logits"], x["Z1"]):
            arrow((px, middle - 0.4), (px, bottom + 0.4), "#e65100", lw=1)

        ax.text(-0.15, -0.3, "green frame: kept from the forward pass (the cache) "
                "and read again by the backward pass", fontsize=8, color="#2e7d32")
        ax.text(10.25, middle, "backward:\nright to left", fontsize=8, color="#e65100",
                ha="right", va="center")
        return plots.to_svg(fig)


def timing_figure(rows: list[dict]) -> str:
    from .. import plots

    params = [r["parameters"] for r in rows]
    with plots.figure(1, 2, figsize=(9, 3.6)) as (fig, (ax1, ax2)):
        ax1.plot(params, [r["fd_seconds"] for r in rows], "o-", color="#e65100",
                 label="finite differences")
        ax1.plot(params, [r["bp_seconds"] for r in rows], "s-", color="#3f51b5",
                 label="backpropagation")
        ax1.set_ylabel("CPU seconds per gradient")
        ax2.plot(params, [r["fd_passes"] for r in rows], "o-", color="#e65100",
                 label="finite differences: 2 per parameter")
        ax2.plot(params, [1] * len(rows), "s-", color="#3f51b5",
                 label="backpropagation: 1 (and 1 backward)")
        ax2.set_ylabel("forward passes per gradient")
        for ax in (ax1, ax2):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(params, [thousands(p) for p in params], minor=False)
            ax.minorticks_off()
            ax.set_xlabel("parameters (log scale)")
            ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        return plots.to_svg(fig)


def time_gradients(config: BackpropConfig, width: int) -> dict:
    """Count forward passes and CPU time for one gradient, by backprop and by finite
    differences, on a d_in -> width -> num_classes network; check that they agree."""
    import time

    from ..backprop import (backward, cross_entropy, forward, init_params, loss_of,
                            max_relative_error, numerical_gradient, toy_data)

    X, y = toy_data(config.batch_size, config.d_in, config.num_classes, config.seed)
    params = init_params(config.d_in, width, config.num_classes, config.seed)
    num_params = sum(p.numel() for p in params.values())

    # CPU time, not wall time: on one thread it measures the work, whatever else runs.
    start = time.process_time()
    for _ in range(config.repeats):
        logits, cache = forward(params, X)
        _, dlogits = cross_entropy(logits, y)
        grads = backward(params, cache, dlogits)
    bp_seconds = (time.process_time() - start) / config.repeats

    start = time.process_time()
    for _ in range(config.repeats):
        loss_of(params, X, y)
    forward_seconds = (time.process_time() - start) / config.repeats

    passes = 0

    def counted_loss(p):
        nonlocal passes
        passes += 1
        return loss_of(p, X, y)

    start = time.process_time()
    numerical = numerical_gradient(counted_loss, params, config.eps)
    fd_seconds = time.process_time() - start

    error = max_relative_error(numerical, grads)
    if error > config.fd_tolerance:
        raise AssertionError(f"width {width}: finite differences and backprop differ by {error:.1e} "
                             f"(relative), more than {config.fd_tolerance:g}")
    if passes != 2 * num_params:
        raise AssertionError(f"finite differences used {passes} forward passes for "
                             f"{num_params} parameters; expected 2 per parameter")
    return {"width": width, "parameters": num_params, "fd_passes": passes,
            "bp_seconds": bp_seconds, "forward_seconds": forward_seconds,
            "fd_seconds": fd_seconds, "fd_error": error}


def exercise_checks(config: BackpropConfig) -> tuple[float, float]:
    """Exercises 1 and 2 against autograd: weight decay, and the gradient of the input."""
    import torch

    from ..backprop import (backward, cross_entropy, forward, init_params, input_gradient,
                            max_relative_error, toy_data, weight_decay)

    batch_size, d_in, d_hidden, d_out = config.check_shapes[-1]
    X, y = toy_data(batch_size, d_in, d_out, config.seed)
    params = init_params(d_in, d_hidden, d_out, config.seed)
    logits, cache = forward(params, X)
    _, dlogits = cross_entropy(logits, y)
    grads = backward(params, cache, dlogits)

    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    X_leaf = X.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(
        torch.relu(X_leaf @ leaves["W1"] + leaves["b1"]) @ leaves["W2"] + leaves["b2"], y)
    penalty = config.weight_decay * (leaves["W1"].square().sum() + leaves["W2"].square().sum())
    (loss + penalty).backward()
    reference = {name: leaf.grad for name, leaf in leaves.items()}

    decay_error = max_relative_error(weight_decay(params, grads, config.weight_decay), reference)
    input_error = max_relative_error({"X": input_gradient(params, cache, dlogits)}, {"X": X_leaf.grad})
    for what, error in [("weight decay", decay_error), ("input gradient", input_error)]:
        if error > config.tolerance:
            raise AssertionError(f"exercise ({what}): differs from autograd by {error:.1e}")
    if max_relative_error(grads, reference) < 1e3 * config.tolerance:
        raise AssertionError("exercise (weight decay): the penalty did not change the gradients")
    return decay_error, input_error


@experiment("backprop", "Backpropagation by hand: checked against autograd, timed against "
            "finite differences", full=BACKPROP, smoke=BACKPROP_SMOKE)
def backprop(config: BackpropConfig) -> dict:
    from ..backprop import check_against_autograd, forward, init_params, matmul_counts, toy_data, train_step
    from ..capacity import single_thread

    with single_thread():
        # 1. The hand-written gradients against autograd, float64, every shape.
        checks = []
        for shape in config.check_shapes:
            error = check_against_autograd(*shape, seed=config.seed)
            if error > config.tolerance:
                raise AssertionError(f"shape {shape}: hand-written gradients differ from autograd "
                                     f"by {error:.1e} (relative), more than {config.tolerance:g}")
            checks.append((shape, error))

        # 2. The four steps, repeated: the loss must fall.
        X, y = toy_data(config.train_points, config.d_in, config.num_classes, config.seed)
        params = init_params(config.d_in, config.train_width, config.num_classes, config.seed)
        losses = [train_step(params, X, y, config.lr) for _ in range(config.train_steps)]
        if not losses[-1] < 0.5 * losses[0]:
            raise AssertionError(f"train_step: the loss went from {losses[0]:.3f} to "
                                 f"{losses[-1]:.3f} in {config.train_steps} steps; expected it to halve")
        accuracy = (forward(params, X)[0].argmax(dim=1) == y).double().mean().item()

        # 3. Backprop against finite differences, as the parameter count grows.
        rows = [time_gradients(config, width) for width in config.widths]
        decay_error, input_error = exercise_checks(config)

    # Exercise 3: multiply-adds of the lesson MLP, per image.
    forward_count, backward_count = matmul_counts(config.mlp_sizes, batch_size=1)
    _, backward_with_input = matmul_counts(config.mlp_sizes, batch_size=1, input_gradient=True)
    ratio, ratio_with_input = backward_count / forward_count, backward_with_input / forward_count
    sizes = config.mlp_sizes
    mlp_parameters = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
    if not (1 <= ratio <= 2 and ratio_with_input == 2):
        raise AssertionError(f"backward / forward multiply-adds: {ratio:.2f} (expected 1 to 2), "
                             f"{ratio_with_input:.2f} with the input's gradient (expected 2)")

    # The lesson's claims: finite differences get slower with every parameter and are far
    # slower than backprop, which costs a few forward passes at every size.
    small, large = rows[0], rows[-1]
    bp_in_forwards = [r["bp_seconds"] / r["forward_seconds"] for r in rows]
    if not large["fd_seconds"] > 10 * large["bp_seconds"]:
        raise AssertionError(f"with {large['parameters']} parameters finite differences took "
                             f"{large['fd_seconds']:.3f} s and backprop {large['bp_seconds']:.4f} s; "
                             f"expected finite differences to be far slower")
    if not large["fd_seconds"] > 5 * small["fd_seconds"]:
        raise AssertionError("finite differences should get slower as the parameters grow: "
                             f"{small['fd_seconds']:.3f} s -> {large['fd_seconds']:.3f} s")
    if not max(bp_in_forwards) < 10:
        raise AssertionError(f"backprop cost {max(bp_in_forwards):.1f} forward passes; expected a few")

    params_text = ", ".join(thousands(r["parameters"]) for r in rows)
    return {
        "metrics": {
            "max_check_error": fmt_metric(max(error for _, error in checks)),
            "tolerance": fmt_metric(config.tolerance),
            "fd_tolerance": fmt_metric(config.fd_tolerance),
            "num_shapes": metric(len(checks), unit="count"),
            "max_fd_error": fmt_metric(max(r["fd_error"] for r in rows)),
            "first_loss": metric(losses[0], digits=3),
            "final_loss": metric(losses[-1], digits=3),
            "train_accuracy": metric(accuracy, unit="percent", digits=1),
            "train_steps": metric(config.train_steps, unit="count"),
            "min_parameters": metric(small["parameters"], unit="count"),
            "max_parameters": metric(large["parameters"], unit="count"),
            "max_fd_passes": metric(large["fd_passes"], unit="count"),
            "fd_seconds_large": metric(large["fd_seconds"], unit="seconds", digits=2),
            "bp_ms_large": metric(large["bp_seconds"] * 1e3, digits=2),
            "speedup_large": metric(round(large["fd_seconds"] / large["bp_seconds"]), unit="count"),
            "bp_in_forwards_min": metric(min(bp_in_forwards), digits=1),
            "bp_in_forwards_max": metric(max(bp_in_forwards), digits=1),
            "decay_error": fmt_metric(decay_error),
            "input_error": fmt_metric(input_error),
            "d_in": metric(config.d_in, unit="count"),
            "num_classes": metric(config.num_classes, unit="count"),
            "mlp_parameters": metric(mlp_parameters, unit="count"),
            "mlp_fd_passes": metric(2 * mlp_parameters, unit="count"),
            "forward_madds": metric(forward_count, unit="count"),
            "backward_madds": metric(backward_count, unit="count"),
            "backward_madds_input": metric(backward_with_input, unit="count"),
            "backward_ratio": metric(ratio, digits=2),
            "backward_ratio_input": metric(ratio_with_input, digits=2),
        },
        "tables": {
            "checks": table(
                ["batch", "inputs", "hidden", "classes", "parameters",
                 "largest relative difference from autograd"],
                [[*s, thousands(s[1] * s[2] + s[2] + s[2] * s[3] + s[3]), scientific_text(e)] for s, e in checks],
                caption="Hand-written backward pass against torch.autograd, float64"),
            "timing": table(
                ["hidden units", "parameters", "forward passes (finite diff.)", "backprop (ms)",
                 "backprop in forward passes", "finite diff. (ms)", "finite diff. / backprop",
                 "largest relative difference"],
                [[r["width"], thousands(r["parameters"]), thousands(r["fd_passes"]),
                  f"{r['bp_seconds'] * 1e3:.2f}", f"{r['bp_seconds'] / r['forward_seconds']:.1f}",
                  thousands(round(r["fd_seconds"] * 1e3)),
                  f"{thousands(round(r['fd_seconds'] / r['bp_seconds']))}×",
                  scientific_text(r["fd_error"])] for r in rows],
                caption=(f"CPU time for one gradient of a {config.d_in} → hidden → "
                         f"{config.num_classes} network on a batch of {config.batch_size}, one "
                         f"thread; every parameter measured, nothing extrapolated")),
        },
        "figures": {
            "graph": {
                "svg": graph_figure(),
                "alt": ("Computational graph of the two-layer network. Top row, left to right "
                        "(forward): X, Z1 = X W1 + b1, H = relu(Z1), logits = H W2 + b2, "
                        "L = cross-entropy, with the parameters feeding in from above. Middle "
                        "row, right to left (backward): dL/dlogits = (softmax − one-hot)/B, "
                        "dL/dH = dL/dlogits W2ᵀ, dL/dZ1 = dL/dH times [Z1 > 0]. Bottom row: "
                        "dL/dW2 = Hᵀ dL/dlogits and dL/dW1 = Xᵀ dL/dZ1. Dashed green arrows "
                        "show the forward values X, Z1 and H reused by the backward pass."),
                "caption": "The network as a computational graph: forward (blue), backward "
                           "(orange), and the cached forward values that the backward pass "
                           "reads (green).",
            },
            "timing": {
                "svg": timing_figure(rows),
                "alt": (f"Two log-log plots against the parameter count ({params_text}). Left: "
                        f"CPU time per gradient; finite differences grow with the parameter "
                        f"count, up to {large['fd_seconds']:.2f} s, while backpropagation takes "
                        f"{small['bp_seconds'] * 1e3:.2f} to {large['bp_seconds'] * 1e3:.2f} ms. "
                        f"Right: forward passes per "
                        f"gradient, 2 per parameter (up to {thousands(large['fd_passes'])}) against 1."),
                "caption": "One gradient by finite differences and by backpropagation, measured "
                           "at every size (CPU time, one thread).",
            },
        },
        "histories": {"train_loss": losses, "timing": rows},
        "seeds": [config.seed],
    }
