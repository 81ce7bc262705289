# %% [markdown]
# # Activation functions
#
# The code and the runs of the lesson *Activation functions*: five activations and their
# derivatives written from the formulas and checked against torch.autograd, the gradient
# that reaches each layer of a 20-layer network, and the lesson's MLP trained on MNIST
# with each activation. Every number the lesson quotes is computed here. About half a
# minute on a GPU, a few minutes on a laptop CPU; set `MNIST_TUTORIAL_PROFILE=smoke` for
# a quick run.

# %%
# --8<-- [start:setup]
import dataclasses
import math
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from mnist_tutorial import plots
from mnist_tutorial.config import TrainConfig, current_profile
from mnist_tutorial.data import load_mnist
from mnist_tutorial.toy import single_thread
from mnist_tutorial.training import pick_device, train_model


@dataclass(frozen=True)
class Config:
    # gradient flow at initialisation
    depth: int = 20
    width: int = 256
    batch_size: int = 512  # random inputs in the one batch
    seed: int = 0
    x_range: float = 4.0  # the plots show [-x_range, x_range]
    # the lesson MLP on MNIST, once per activation and seed
    train: TrainConfig = TrainConfig.recipe("final", num_epochs=1)
    seeds: tuple[int, ...] = (0, 1)
    min_accuracy: float = 0.93  # every activation must reach it
    max_spread: float = 0.015  # best - worst mean accuracy, sigmoid left out
    gain_k: float = 2.0  # a ranking must exceed this many standard errors (significant_gain)


FULL = Config()
# Smoke: four steps on 1,024 images, one seed, enough to see learning start, not to
# rank the activations, so the thresholds on accuracy and spread are relaxed.
SMOKE = dataclasses.replace(FULL, width=128, batch_size=256, train=FULL.train.smoke(),
                            seeds=(0,), min_accuracy=0.15, max_spread=1.0)
CONFIG = FULL if current_profile() == "full" else SMOKE

device = pick_device()
# --8<-- [end:setup]
from mnist_tutorial.report import Report, significant_gain

report = Report("activations", seeds=sorted({CONFIG.seed, *CONFIG.seeds}), device=device)
report.config(CONFIG)
print(CONFIG, device)

# %% [markdown]
# ## Five activations and their derivatives, from the formulas

# %%
# --8<-- [start:functions]
LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default


def relu(x):
    return torch.where(x > 0, x, 0.0)


def relu_prime(x):
    return (x > 0).to(x.dtype)  # 0 at x = 0, as torch.autograd takes it


def leaky_relu(x, slope=LEAKY_SLOPE):
    return torch.where(x > 0, x, slope * x)


def leaky_relu_prime(x, slope=LEAKY_SLOPE):
    # slope at x = 0, as torch.autograd takes it
    return torch.where(x > 0, torch.ones_like(x), slope)


def sigmoid(x):
    return 1 / (1 + torch.exp(-x))


def sigmoid_prime(x):
    s = sigmoid(x)
    return s * (1 - s)  # at most 1/4, at x = 0


def tanh(x):
    # (e^x - e^-x) / (e^x + e^-x), rewritten so that e^x cannot overflow
    return 2 * sigmoid(2 * x) - 1


def tanh_prime(x):
    return 1 - tanh(x) ** 2  # at most 1, at x = 0


def normal_cdf(x):
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))  # Φ(x)


def gelu(x):
    # x Φ(x): x, weighted by the chance that a N(0, 1) draw is below x
    return x * normal_cdf(x)


def gelu_prime(x):
    density = torch.exp(-x**2 / 2) / math.sqrt(2 * math.pi)  # φ(x)
    return normal_cdf(x) + x * density
# --8<-- [end:functions]


# %% [markdown]
# SiLU is exercise 1 of the lesson; it is checked with the others.

# %%
# --8<-- [start:silu]
def silu(x):
    return x * sigmoid(x)  # also called swish


def silu_prime(x):
    s = sigmoid(x)
    return s * (1 + x * (1 - s))  # product rule: s + x s (1 - s)
# --8<-- [end:silu]


FUNCTIONS = {  # name: (f, f')
    "relu": (relu, relu_prime),
    "leaky_relu": (leaky_relu, leaky_relu_prime),
    "gelu": (gelu, gelu_prime),
    "tanh": (tanh, tanh_prime),
    "sigmoid": (sigmoid, sigmoid_prime),
    "silu": (silu, silu_prime),
}

# torch's own implementation of each, to check the hand-written ones against.
TORCH_FUNCTIONS = {
    "relu": torch.relu,
    "leaky_relu": lambda x: nn.functional.leaky_relu(x, LEAKY_SLOPE),
    "gelu": nn.functional.gelu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "silu": nn.functional.silu,
}
NAMES = ("relu", "leaky_relu", "gelu", "tanh", "sigmoid")  # the five the lesson compares
LABELS = {"relu": "ReLU", "leaky_relu": "leaky ReLU", "gelu": "GELU", "tanh": "tanh",
          "sigmoid": "sigmoid", "silu": "SiLU"}
# Leaky ReLU nearly coincides with ReLU: a thin dashed line over a wide pale one.
STYLES = {"relu": dict(lw=3.5, alpha=0.5), "leaky_relu": dict(ls="--", lw=1.4)}


# %% [markdown]
# ## Checking the derivatives with autograd

# %%
# --8<-- [start:autograd]
def autograd_derivative(f, x):
    """f'(x) for an element-wise ``f``, by backpropagation through ``f``."""
    x = x.detach().clone().requires_grad_(True)
    # d(sum_i f(x_i)) / dx_i = f'(x_i): one backward pass gives them all
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad
# --8<-- [end:autograd]


# %% [markdown]
# On a float64 grid that holds exactly 0 (the kink of ReLU and leaky ReLU), so that any
# difference above rounding is a wrong formula.

# %%
x = torch.arange(-400, 401, dtype=torch.float64) * (CONFIG.x_range / 400)  # (801,)
values, derivatives, autograd, errors = {}, {}, {}, {}
for name, (f, f_prime) in FUNCTIONS.items():
    values[name], derivatives[name] = f(x), f_prime(x)
    autograd[name] = autograd_derivative(TORCH_FUNCTIONS[name], x)
    errors[name] = max(float((derivatives[name] - autograd[name]).abs().max()),
                       float((values[name] - TORCH_FUNCTIONS[name](x)).abs().max()))
sigmoid_prime_max = float(derivatives["sigmoid"].max())

derivative_error = max(errors[name] for name in NAMES)

# %% tags=["report"]
silu_error = errors["silu"]
formulas_match_torch = max(errors.values()) <= 1e-12  # SiLU's included
sigmoid_prime_peaks_at_quarter = abs(sigmoid_prime_max - 0.25) <= 1e-12

# %%
every = len(x) // 16  # autograd's circles, sparse enough to see the line under them
with plots.figure(1, 2, figsize=(9, 3.6)) as (fig, (left, right)):
    for name in NAMES:
        style = {"lw": 1.8, **STYLES.get(name, {})}
        line, = left.plot(x.numpy(), values[name].numpy(), label=LABELS[name], **style)
        right.plot(x.numpy(), derivatives[name].numpy(), color=line.get_color(),
                   label=LABELS[name], **style)
        right.plot(x[::every].numpy(), autograd[name][::every].numpy(), "o", ms=3.5,
                   mfc="none", color=line.get_color())
    right.plot([], [], "o", ms=3.5, mfc="none", color="#546e7a", label="autograd")
    left.set_title("f(x)")
    right.set_title("f′(x): formula (lines), autograd (circles)")
    for ax in (left, right):
        ax.set_xlabel("x")
    left.set_ylim(-1.5, 4.2)
    left.legend(frameon=False, loc="upper left")
    right.legend(frameon=False, loc="upper left", fontsize=8)
    report.figure("functions", fig)

# %% [markdown]
# ## Saturation and vanishing gradients
#
# A stack of `depth` layers with one activation, initialised either by `nn.Linear`'s
# default or with weights scaled by the gain torch recommends for the activation; one
# batch of random inputs, and the gradient each layer's weights receive.

# %%
# --8<-- [start:gradient_norms]
# The weight scale ``init="scaled"`` uses for each activation: torch's gain for it
# (He initialisation for the ReLU family; GELU, which torch has no gain for, takes ReLU's).
GAIN_NAME = {"relu": "relu", "leaky_relu": "leaky_relu", "gelu": "relu", "tanh": "tanh",
             "sigmoid": "sigmoid"}
MODULES = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "tanh": nn.Tanh,
           "sigmoid": nn.Sigmoid}


def deep_stack(activation, depth=20, width=256, init="default"):
    """``depth`` times Linear(width, width) + activation, then to 10 logits.

    ``init="default"`` keeps nn.Linear's own initialisation; ``"scaled"``
    draws weights with std gain / sqrt(width), with the gain torch
    recommends for the activation.
    """
    layers = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        if init == "scaled":
            nn.init.kaiming_normal_(linear.weight, a=LEAKY_SLOPE,
                                    nonlinearity=GAIN_NAME[activation])
            nn.init.zeros_(linear.bias)
        layers += [linear, MODULES[activation]()]
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def gradient_norms(activation, depth=20, width=256, init="default",
                   batch_size=512, seed=0) -> list[float]:
    """Norm of the loss gradient for each hidden layer's weights, in order.

    One batch of random inputs and labels through a freshly initialised
    network: the gradient each layer would get on the first training step.
    """
    torch.manual_seed(seed)
    net = deep_stack(activation, depth, width, init)
    X = torch.randn(batch_size, width)  # (B, width)
    y = torch.randint(0, 10, (batch_size,))  # (B,)
    loss = nn.functional.cross_entropy(net(X), y)
    loss.backward()
    hidden = [layer for layer in net if isinstance(layer, nn.Linear)][:-1]
    return [float(layer.weight.grad.norm()) for layer in hidden]
# --8<-- [end:gradient_norms]


# %% tags=["report"]
with single_thread():
    norms = {init: {name: gradient_norms(name, CONFIG.depth, CONFIG.width, init,
                                         CONFIG.batch_size, CONFIG.seed)
                    for name in NAMES}
             for init in ("default", "scaled")}
first = {init: {name: n[0] for name, n in by_name.items()} for init, by_name in norms.items()}
ratio = {init: {name: n[0] / n[-1] for name, n in by_name.items()}  # first / last hidden
         for init, by_name in norms.items()}

relu_first = first["scaled"]["relu"]
sigmoid_first = first["scaled"]["sigmoid"]
relu_ratio = ratio["scaled"]["relu"]
sigmoid_ratio = ratio["scaled"]["sigmoid"]
tanh_ratio = ratio["scaled"]["tanh"]
relu_ratio_default = ratio["default"]["relu"]
sigmoid_ratio_default = ratio["default"]["sigmoid"]
sigmoid_gradient_vanishes = ratio["scaled"]["sigmoid"] < 1e-6
relu_keeps_gradient_size = 0.1 < ratio["scaled"]["relu"] < 10
tanh_gradient_grows = ratio["scaled"]["tanh"] > 1  # towards the input
sigmoid_first_gradient_far_below_relu = first["default"]["sigmoid"] < 1e-3 * first["default"]["relu"]
default_gradients_shrink_sigmoid_most = (max(ratio["default"].values()) < 1e-2
                                         and min(ratio["default"], key=ratio["default"].get)
                                         == "sigmoid")

rows = [[LABELS[name], first["default"][name], ratio["default"][name], first["scaled"][name],
         ratio["scaled"][name]] for name in NAMES]

# %% tags=["report"]
report.table("gradients", ["activation", "default init: first layer",
                           "default init: first / last", "scaled init: first layer",
                           "scaled init: first / last"], rows, units=dict.fromkeys(
    ["default init: first layer", "default init: first / last", "scaled init: first layer",
     "scaled init: first / last"], "scientific"))

# %% tags=["report"]
with plots.figure(1, 2, figsize=(9, 3.6), sharey=True) as (fig, axes):
    for ax, init, title in zip(axes, ("default", "scaled"),
                               ("nn.Linear's default initialisation",
                                "weights scaled for the activation")):
        for name in NAMES:
            style = {"lw": 1.5, "marker": ".", **STYLES.get(name, {})}
            ax.plot(range(1, CONFIG.depth + 1), norms[init][name], label=LABELS[name], **style)
        ax.set_yscale("log")
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_title(title)
    axes[0].set_ylabel("‖∂loss/∂W‖ at initialisation")
    axes[1].legend(frameon=False, fontsize=8)
    report.figure("gradients", fig)

# %% [markdown]
# ## Exercise 2: how much is lost per layer?

# %%
# --8<-- [start:shrink]
def shrink_per_layer(norms) -> float:
    """The factor the gradient is multiplied by per layer (geometric mean).

    ``norms`` runs from the first layer to the last, so the gradient went
    back through ``len(norms) - 1`` layers from the last entry to the first.
    """
    return (norms[0] / norms[-1]) ** (1 / (len(norms) - 1))
# --8<-- [end:shrink]


shrink = {name: shrink_per_layer(norms["scaled"][name]) for name in NAMES}

# %% tags=["report"]
sigmoid_shrink = shrink["sigmoid"]
relu_shrink = shrink["relu"]
tanh_shrink = shrink["tanh"]
shrink_factors_near_quarter_and_one = 0.15 < shrink["sigmoid"] < 0.3 and 0.8 < shrink["relu"] < 1.25

# %% [markdown]
# ## On MNIST
#
# The lesson's MLP (784-1024-256-10) with each activation, trained with the final recipe
# of the training lesson shortened to `train.num_epochs` epochs, once per seed. A ranking
# of two activations is claimed only where the gain exceeds `gain_k` standard errors over
# the seeds.

# %%
mnist = load_mnist()
start = time.perf_counter()
accuracy, epoch_seconds = {}, {}
for name in NAMES:
    runs = [train_model(dataclasses.replace(CONFIG.train, activation=name, seed=seed), mnist,
                        device=device, progress=True)
            for seed in CONFIG.seeds]
    accuracy[name] = [r.test_accuracy for r in runs]
    epoch_seconds[name] = [s for r in runs for s in r.epoch_seconds]
total_seconds = time.perf_counter() - start

# %% tags=["report"]
mean = {name: statistics.fmean(accuracy[name]) for name in NAMES}
best = max(mean, key=mean.get)
# Differences of two accuracies are in percentage points (100 × the difference).
non_saturating = ("relu", "leaky_relu", "gelu")
mnist_gap_points = 100 * (mean["relu"] - mean["sigmoid"])
mnist_best_gap_points = 100 * (mean[best] - mean["relu"])
mnist_tanh_gap_points = 100 * (min(mean[name] for name in non_saturating) - mean["tanh"])
# The thresholds the full profile checks (the page states them, also on a smoke build).
mnist_min_accuracy = FULL.min_accuracy
mnist_max_spread_points = 100 * FULL.max_spread
mnist_gain_k = FULL.gain_k
# How long and on how many seeds the comparison trains (the page says so, from here).
recipe_num_epochs = TrainConfig.recipe("final").num_epochs
mnist_num_seeds = len(CONFIG.seeds)
mnist_num_runs = len(CONFIG.seeds) * len(NAMES)
others = [mean[name] for name in NAMES if name != "sigmoid"]
every_activation_reaches_min_accuracy = all(min(accuracy[name]) >= CONFIG.min_accuracy
                                            for name in NAMES)  # with every seed
sigmoid_has_lowest_accuracy = min(mean, key=mean.get) == "sigmoid"
others_within_max_spread = max(others) - min(others) <= CONFIG.max_spread
if CONFIG == FULL:  # one short smoke run per activation cannot rank them
    # Rankings between runs must hold for the method, not for this draw of seeds:
    # each gain must exceed gain_k standard errors of the difference over the seeds.
    others_beat_sigmoid = all(significant_gain(accuracy[name], accuracy["sigmoid"], k=CONFIG.gain_k)
                              for name in NAMES if name != "sigmoid")
    # tanh saturates like sigmoid: it trails the three that do not.
    non_saturating_beat_tanh = all(significant_gain(accuracy[name], accuracy["tanh"],
                                                    k=CONFIG.gain_k) for name in non_saturating)

rows = [[LABELS[name], accuracy[name], statistics.fmean(epoch_seconds[name])] for name in NAMES]

# %% tags=["report"]
report.table("mnist_comparison", ["activation", "test accuracy", "seconds per epoch"], rows,
             units={"test accuracy": ("percent", 2), "seconds per epoch": ("seconds", 2)})
