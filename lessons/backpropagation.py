# %% [markdown]
# # Backpropagation
#
# The code and the runs of the lesson *Backpropagation*: the forward and backward pass
# of a two-layer MLP written by hand, checked against torch.autograd in float64, used
# for gradient descent, and timed against finite differences as the network grows; then
# the exercises' solutions. Every number the lesson quotes is computed here.
# A few seconds on a laptop CPU; set `MNIST_TUTORIAL_PROFILE=smoke` for a quicker run.

# %%
# --8<-- [start:setup]
import dataclasses
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mnist_tutorial import plots
from mnist_tutorial.config import current_profile
from mnist_tutorial.toy import single_thread


@dataclass(frozen=True)
class Config:
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
    num_steps: int = 200  # of gradient descent with train_step
    lr: float = 0.5
    weight_decay: float = 1e-3  # exercise 1
    mlp_sizes: tuple[int, ...] = (784, 1024, 256, 10)  # exercise 3: the lesson MLP
    seed: int = 0
    check_timing: bool = True  # the claims about seconds (the counts are always checked)


FULL = Config()
# Smoke sizes are too small for stable timings: its timing claims are not checked.
SMOKE = dataclasses.replace(FULL, check_shapes=FULL.check_shapes[:2], widths=(4, 12, 36),
                            repeats=20, num_steps=50, check_timing=False)
CONFIG = FULL if current_profile() == "full" else SMOKE
NAMES = ("W1", "b1", "W2", "b2")
# --8<-- [end:setup]
from mnist_tutorial.report import Report, format_value

report = Report("backpropagation", seeds=[CONFIG.seed], precision="fp32")

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## A two-layer MLP with its parameters in a dictionary
#
# `X -> linear -> ReLU -> linear -> softmax cross-entropy`, parameters `W1` (D, H),
# `b1` (H,), `W2` (H, C), `b2` (C,). The weights are stored (inputs, outputs), the
# transpose of `nn.Linear.weight`, so that a layer reads `X @ W + b`. Everything is in
# float64, so that rounding stays far below the differences we look for.

# %%
def init_params(d_in: int, d_hidden: int, d_out: int, seed: int = 0,
                dtype=torch.float64) -> dict:
    """Random weights scaled by 1/sqrt(fan-in) (as ``nn.Linear`` does), random biases."""
    g = torch.Generator().manual_seed(seed)

    def uniform(*shape, fan_in):
        return (2 * torch.rand(*shape, generator=g, dtype=dtype) - 1) / fan_in**0.5

    return {"W1": uniform(d_in, d_hidden, fan_in=d_in), "b1": uniform(d_hidden, fan_in=d_in),
            "W2": uniform(d_hidden, d_out, fan_in=d_hidden), "b2": uniform(d_out, fan_in=d_hidden)}


def toy_data(num_points: int, d_in: int, num_classes: int, seed: int = 0, dtype=torch.float64):
    """Gaussian inputs labelled by a random linear 'teacher': a problem an MLP can learn."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(num_points, d_in, generator=g, dtype=dtype)  # (N, D)
    teacher = torch.randn(d_in, num_classes, generator=g, dtype=dtype)  # (D, C)
    y = (X @ teacher).argmax(dim=1)  # (N,)
    return X, y


# %% [markdown]
# ## Forward, loss, backward

# %%
# --8<-- [start:forward]
def forward(params, X):
    """Logits for the batch ``X`` (B, D), and the cache the backward pass needs."""
    Z1 = X @ params["W1"] + params["b1"]  # (B, H): pre-activations
    H = torch.relu(Z1)  # (B, H)
    logits = H @ params["W2"] + params["b2"]  # (B, C)
    cache = {"X": X, "Z1": Z1, "H": H}
    return logits, cache
# --8<-- [end:forward]


# --8<-- [start:cross_entropy]
def cross_entropy(logits, y):
    """Mean cross-entropy of softmax(logits) against the labels ``y`` (B,), and its
    gradient with respect to the logits: (softmax - one-hot) / B."""
    B = logits.shape[0]
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (B, C), stable
    loss = -log_probs[torch.arange(B), y].mean()  # ()
    dlogits = log_probs.exp()  # (B, C): the softmax ...
    dlogits[torch.arange(B), y] -= 1  # ... minus the one-hot labels
    return loss, dlogits / B
# --8<-- [end:cross_entropy]


# --8<-- [start:backward]
def backward(params, cache, dlogits):
    """Gradients of the loss for every parameter, from dL/dlogits (B, C) and the cache."""
    X, Z1, H = cache["X"], cache["Z1"], cache["H"]
    dW2 = H.T @ dlogits  # (H, C) = (H, B) @ (B, C)
    db2 = dlogits.sum(dim=0)  # (C,): the bias is added to every row of the batch
    dH = dlogits @ params["W2"].T  # (B, H) = (B, C) @ (C, H)
    dZ1 = dH * (Z1 > 0)  # (B, H): ReLU passes the gradient only where it was active
    dW1 = X.T @ dZ1  # (D, H) = (D, B) @ (B, H)
    db1 = dZ1.sum(dim=0)  # (H,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
# --8<-- [end:backward]


# %% [markdown]
# ## The four steps of gradient descent
#
# Forward, loss, backward, update, repeated on a toy problem: the loss must fall.

# %%
# --8<-- [start:train_step]
def train_step(params, X, y, lr: float) -> float:
    """One step of gradient descent on the batch (X, y); updates ``params`` in place."""
    logits, cache = forward(params, X)  # 1. forward
    loss, dlogits = cross_entropy(logits, y)  # 2. loss
    grads = backward(params, cache, dlogits)  # 3. backward
    for name in params:  # 4. update
        params[name] -= lr * grads[name]
    return loss.item()
# --8<-- [end:train_step]


# %%
X, y = toy_data(CONFIG.train_points, CONFIG.d_in, CONFIG.num_classes, CONFIG.seed)  # (N, D), (N,)
params = init_params(CONFIG.d_in, CONFIG.train_width, CONFIG.num_classes, CONFIG.seed)
with single_thread():  # tensors this small: one thread is fastest
    losses = [train_step(params, X, y, CONFIG.lr) for _ in range(CONFIG.num_steps)]
    y_hat = forward(params, X)[0].argmax(dim=1)  # (N,)
accuracy = (y_hat == y).double().mean().item()

first_loss = losses[0]
final_loss = losses[-1]

# %% tags=["report"]
training_halves_loss = final_loss < 0.5 * first_loss

# %% [markdown]
# ## Checked against autograd
#
# The same network written independently with `torch.nn.functional`, differentiated by
# torch.autograd, for several shapes; every parameter, biases included, in float64.

# %%
# --8<-- [start:autograd_gradient]
def autograd_gradient(params, X, y):
    """The loss and its gradients from torch.autograd, written with torch.nn.functional
    (independently of ``forward`` and ``cross_entropy`` above)."""
    leaves = {name: p.detach().clone().requires_grad_(True) for name, p in params.items()}
    logits = F.linear(F.relu(F.linear(X, leaves["W1"].T, leaves["b1"])), leaves["W2"].T, leaves["b2"])
    loss = F.cross_entropy(logits, y)
    grads = torch.autograd.grad(loss, [leaves[name] for name in NAMES])
    return loss.detach(), dict(zip(NAMES, grads))
# --8<-- [end:autograd_gradient]


def max_relative_error(grads, reference) -> float:
    """Largest |difference| over all entries, relative to the largest |reference| entry."""
    worst = 0.0
    for name in reference:
        scale = reference[name].abs().max().item() or 1.0
        worst = max(worst, (grads[name] - reference[name]).abs().max().item() / scale)
    return worst


def check_against_autograd(batch_size: int, d_in: int, d_hidden: int, d_out: int,
                           seed: int = 0) -> tuple[float, float]:
    """Hand-written loss and gradients against autograd in float64, for one shape: the
    relative difference of the losses, and the largest relative difference over all four
    gradients (both about 1e-16 when they agree)."""
    X, y = toy_data(batch_size, d_in, d_out, seed)
    params = init_params(d_in, d_hidden, d_out, seed)
    logits, cache = forward(params, X)
    loss, dlogits = cross_entropy(logits, y)
    reference_loss, reference = autograd_gradient(params, X, y)
    loss_error = ((loss - reference_loss).abs() / reference_loss.abs()).item()
    return loss_error, max_relative_error(backward(params, cache, dlogits), reference)


# %%
with single_thread():
    checks = [(shape, *check_against_autograd(*shape, seed=CONFIG.seed))
              for shape in CONFIG.check_shapes]
max_check_error = max(error for _, _, error in checks)

# %% tags=["report"]
num_shapes = len(checks)
report.table("checks", ["batch", "inputs", "hidden", "classes", "parameters",
                        "largest relative difference from autograd"],
             [[*s, s[1] * s[2] + s[2] + s[2] * s[3] + s[3], error] for s, _, error in checks],
             units={"parameters": "count", "largest relative difference from autograd": "scientific"})
loss_matches_autograd = all(loss_error <= 1e-12 for _, loss_error, _ in checks)  # relative
gradients_match_autograd = max_check_error <= CONFIG.tolerance

# %% [markdown]
# ## The computational graph
#
# Forward on top, backward below it, the parameter gradients last; green frames mark
# the values the forward pass caches for the backward pass.

# %%
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

    node(x["logits"], bottom, "∂L/∂W₂ = Hᵀ ∂L/∂logits\n∂L/∂b₂ = column sums", plain, size=8)
    node(x["Z1"], bottom, "∂L/∂W₁ = Xᵀ ∂L/∂Z₁\n∂L/∂b₁ = column sums", plain, size=8)
    for px in (x["logits"], x["Z1"]):
        arrow((px, middle - 0.4), (px, bottom + 0.4), "#e65100", lw=1)

    ax.text(-0.15, -0.3, "green frame: kept from the forward pass (the cache) "
            "and read again by the backward pass", fontsize=8, color="#2e7d32")
    ax.text(10.25, middle, "backward:\nright to left", fontsize=8, color="#e65100",
            ha="right", va="center")
    report.figure("graph", plots.to_svg(fig))

# %% [markdown]
# ## The alternative: finite differences
#
# Two forward passes per parameter. Both methods are timed on networks of growing
# width, in CPU time on one thread (it measures the work, whatever else the machine
# runs), every parameter measured, nothing extrapolated.

# %%
def loss_of(params, X, y) -> float:
    """The loss alone: one forward pass, as finite differences use it."""
    return cross_entropy(forward(params, X)[0], y)[0].item()


# --8<-- [start:numerical_gradient]
def numerical_gradient(loss_fn, params, eps: float = 1e-6):
    """Central differences: nudge each parameter by ±eps, two forward passes for each.

    ``loss_fn(params)`` returns the loss as a float; ``params`` is restored afterwards.
    """
    grads = {}
    for name, p in params.items():
        flat, grad = p.view(-1), torch.zeros(p.numel(), dtype=p.dtype)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = loss_fn(params)
            flat[i] = old - eps
            down = loss_fn(params)
            flat[i] = old
            grad[i] = (up - down) / (2 * eps)
        grads[name] = grad.view_as(p)
    return grads
# --8<-- [end:numerical_gradient]


def time_gradients(config: Config, width: int) -> dict:
    """Forward passes and CPU time for one gradient, by backprop and by finite
    differences, on a d_in -> width -> num_classes network, and how far they differ."""
    X, y = toy_data(config.batch_size, config.d_in, config.num_classes, config.seed)
    params = init_params(config.d_in, width, config.num_classes, config.seed)

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

    start = time.process_time()  # the backward pass alone, from one forward pass's cache
    for _ in range(config.repeats):
        backward(params, cache, dlogits)
    backward_seconds = (time.process_time() - start) / config.repeats

    passes = 0

    def counted_loss(p):
        nonlocal passes
        passes += 1
        return loss_of(p, X, y)

    start = time.process_time()
    numerical = numerical_gradient(counted_loss, params, config.eps)
    fd_seconds = time.process_time() - start
    return {"width": width, "parameters": sum(p.numel() for p in params.values()),
            "fd_passes": passes, "bp_seconds": bp_seconds, "forward_seconds": forward_seconds,
            "backward_seconds": backward_seconds, "fd_seconds": fd_seconds,
            "fd_error": max_relative_error(numerical, grads)}


# %%
with single_thread():
    rows = [time_gradients(CONFIG, width) for width in CONFIG.widths]
small, large = rows[0], rows[-1]
# in forward passes of the loss (what finite differences repeat): one forward and one
# backward pass together, and the backward pass alone
bp_in_forwards = [r["bp_seconds"] / r["forward_seconds"] for r in rows]
backward_in_forwards = [r["backward_seconds"] / r["forward_seconds"] for r in rows]

# %% tags=["report"]
max_fd_error = max(r["fd_error"] for r in rows)
min_parameters = small["parameters"]
max_parameters = large["parameters"]
max_fd_passes = large["fd_passes"]
fd_seconds_large = large["fd_seconds"]
bp_ms_large = large["bp_seconds"] * 1e3
speedup_large = round(large["fd_seconds"] / large["bp_seconds"])
bp_in_forwards_min = min(bp_in_forwards)
bp_in_forwards_max = max(bp_in_forwards)
backward_in_forwards_min = min(backward_in_forwards)
backward_in_forwards_max = max(backward_in_forwards)
finite_differences_agree = all(r["fd_error"] <= CONFIG.fd_tolerance for r in rows)
two_passes_per_parameter = all(r["fd_passes"] == 2 * r["parameters"] for r in rows)
if CONFIG.check_timing:
    fd_10x_slower_at_largest = large["fd_seconds"] > 10 * large["bp_seconds"]
    fd_slows_with_size = large["fd_seconds"] > 5 * small["fd_seconds"]  # smallest to largest
    forward_backward_under_10_forwards = max(bp_in_forwards) < 10  # at every size
    backward_under_3_forwards = max(backward_in_forwards) < 3  # at every size

# %% tags=["report"]
report.table(
    "timing",
    ["hidden units", "parameters", "forward passes (finite diff.)", "backprop (ms)",
     "forward + backward, in forward passes", "backward alone, in forward passes",
     "finite diff. (ms)", "finite diff. / backprop", "largest relative difference"],
    [[r["width"], r["parameters"], r["fd_passes"], r["bp_seconds"] * 1e3,
      r["bp_seconds"] / r["forward_seconds"], r["backward_seconds"] / r["forward_seconds"],
      round(r["fd_seconds"] * 1e3), f"{format_value(round(r['fd_seconds'] / r['bp_seconds']), 'count')}×",
      r["fd_error"]] for r in rows],
    units={"parameters": "count", "forward passes (finite diff.)": "count", "backprop (ms)": "number",
           "forward + backward, in forward passes": ("number", 1),
           "backward alone, in forward passes": ("number", 1), "finite diff. (ms)": "count",
           "largest relative difference": "scientific"})

num_params = [r["parameters"] for r in rows]
with plots.figure(1, 2, figsize=(9, 3.6)) as (fig, (ax1, ax2)):
    ax1.plot(num_params, [r["fd_seconds"] for r in rows], "o-", color="#e65100",
             label="finite differences")
    ax1.plot(num_params, [r["bp_seconds"] for r in rows], "s-", color="#3f51b5",
             label="backpropagation")
    ax1.set_ylabel("CPU seconds per gradient")
    ax2.plot(num_params, [r["fd_passes"] for r in rows], "o-", color="#e65100",
             label="finite differences: 2 per parameter")
    ax2.plot(num_params, [1] * len(rows), "s-", color="#3f51b5",
             label="backpropagation: 1 (and 1 backward)")
    ax2.set_ylabel("forward passes per gradient")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(num_params, [format_value(n, "count") for n in num_params], minor=False)
        ax.minorticks_off()
        ax.set_xlabel("parameters (log scale)")
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    report.figure("timing", plots.to_svg(fig))

# %% [markdown]
# ## Exercise 1: weight decay

# %%
# --8<-- [start:weight_decay]
def weight_decay(params, grads, lam: float):
    """Gradients of loss + lam * (||W1||² + ||W2||²): each weight matrix gets 2 lam W
    added to its gradient; the biases are not penalised."""
    return {name: grads[name] + 2 * lam * params[name] if name.startswith("W") else grads[name]
            for name in grads}
# --8<-- [end:weight_decay]


# %% [markdown]
# ## Exercise 2: the gradient of the input

# %%
# --8<-- [start:input_gradient]
def input_gradient(params, cache, dlogits):
    """dL/dX (B, D): one more step of the chain rule, past the first layer."""
    dH = dlogits @ params["W2"].T  # (B, H)
    dZ1 = dH * (cache["Z1"] > 0)  # (B, H)
    return dZ1 @ params["W1"].T  # (B, D) = (B, H) @ (H, D)
# --8<-- [end:input_gradient]


# %% [markdown]
# Both solutions against autograd, on the largest shape checked above: autograd
# differentiates the penalised loss with respect to the parameters and the input.

# %%
batch_size, d_in, d_hidden, d_out = CONFIG.check_shapes[-1]
X, y = toy_data(batch_size, d_in, d_out, CONFIG.seed)
params = init_params(d_in, d_hidden, d_out, CONFIG.seed)
with single_thread():
    logits, cache = forward(params, X)
    _, dlogits = cross_entropy(logits, y)
    grads = backward(params, cache, dlogits)

    leaves = {name: p.clone().requires_grad_(True) for name, p in params.items()}
    X_leaf = X.clone().requires_grad_(True)
    loss = F.cross_entropy(torch.relu(X_leaf @ leaves["W1"] + leaves["b1"]) @ leaves["W2"]
                           + leaves["b2"], y)
    penalty = CONFIG.weight_decay * (leaves["W1"].square().sum() + leaves["W2"].square().sum())
    (loss + penalty).backward()
    reference = {name: leaf.grad for name, leaf in leaves.items()}

    decay_error = max_relative_error(weight_decay(params, grads, CONFIG.weight_decay), reference)
    input_error = max_relative_error({"X": input_gradient(params, cache, dlogits)},
                                     {"X": X_leaf.grad})
    plain_error = max_relative_error(grads, reference)  # the gradients without the penalty

# %% tags=["report"]
weight_decay_matches_autograd = decay_error <= CONFIG.tolerance
penalty_changes_gradients = plain_error >= 1e3 * CONFIG.tolerance  # so the claim above can fail
input_gradient_matches_autograd = input_error <= CONFIG.tolerance

# %% [markdown]
# ## Exercise 3: count the arithmetic

# %%
# --8<-- [start:matmul_counts]
def matmul_counts(sizes, batch_size: int, input_gradient: bool = False) -> tuple[int, int]:
    """Multiply-adds of the matrix products in one forward and one backward pass of an
    MLP with layer sizes ``sizes`` (e.g. (784, 1024, 256, 10)).

    Forward, per layer: X @ W, (B, n_in) @ (n_in, n_out). Backward, per layer: the
    weight gradient X.T @ dZ, same size, and the gradient passed down dZ @ W.T, same
    size again, which the first layer skips unless the input's gradient is wanted.
    """
    layers = [batch_size * n_in * n_out for n_in, n_out in zip(sizes, sizes[1:])]
    forward_count = sum(layers)
    backward_count = 2 * sum(layers) - (0 if input_gradient else layers[0])
    return forward_count, backward_count
# --8<-- [end:matmul_counts]


# %% tags=["report"]
sizes = CONFIG.mlp_sizes
forward_count, backward_count = matmul_counts(sizes, batch_size=1)
_, backward_with_input = matmul_counts(sizes, batch_size=1, input_gradient=True)
mlp_parameters = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))

mlp_fd_passes = 2 * mlp_parameters
forward_madds = forward_count
backward_madds = backward_count
ratio = backward_count / forward_count
ratio_with_input = backward_with_input / forward_count

# %% tags=["report"]
backward_costs_1_to_2_forwards = 1 <= ratio <= 2  # of multiply-adds
backward_with_input_costs_2_forwards = ratio_with_input == 2
