# %% [markdown]
# # Depth without non-linearity collapses
#
# The code and the runs of the lesson *Depth without non-linearity collapses*: a stack
# of linear layers is one linear layer, checked numerically, then measured on two moons,
# a task that needs a curved boundary. Every number the lesson quotes is computed here.
# A few minutes on a laptop CPU; set `MNIST_TUTORIAL_PROFILE=smoke` for a quick run.

# %%
# --8<-- [start:setup]
import copy
import dataclasses
import statistics
from dataclasses import dataclass

import torch
from torch import nn

from mnist_tutorial.config import current_profile
from mnist_tutorial.models import count_parameters
from mnist_tutorial.toy import accuracy, fit_classifier, make_moons, regions_figure, single_thread


@dataclass(frozen=True)
class Config:
    depths: tuple[int, ...] = (1, 2, 3, 5, 8)  # layers in the numeric check
    width: int = 256  # hidden width of the check's 784 -> ... -> 10 networks
    tolerance: float = 1e-10
    num_layers: int = 5  # of the trained deep networks
    hidden: int = 32
    num_points: int = 1000  # two-moons training points; the test set has as many
    noise: float = 0.15
    num_steps: int = 500
    seeds: tuple[int, ...] = (0, 1, 2)
    rank_sizes: tuple[int, ...] = (10, 64, 3, 64, 10)  # exercise 1: a bottleneck of width 3


FULL = Config()
SMOKE = dataclasses.replace(FULL, depths=(1, 2, 5), width=64, num_points=400, num_steps=300,
                            seeds=(0,))
CONFIG = FULL if current_profile() == "full" else SMOKE
# --8<-- [end:setup]
from mnist_tutorial.report import Report

report = Report("linear_collapse", seeds=CONFIG.seeds, precision="fp32")

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## Two layers are one, any depth by induction
#
# The proof is also an algorithm: start from the identity map and apply the induction
# step $A \leftarrow W_\ell A$, $\mathbf{c} \leftarrow W_\ell \mathbf{c} + \mathbf{b}_\ell$
# once per layer.

# %%
# --8<-- [start:collapse]
@torch.no_grad()
def collapse(layers) -> nn.Linear:
    """The one ``nn.Linear`` equal to the ``nn.Linear`` layers, in order."""
    layers = list(layers)
    for layer in layers:
        if not isinstance(layer, nn.Linear):
            name = type(layer).__name__
            raise TypeError(f"only linear layers collapse, got {name}")
    n, dtype = layers[0].in_features, layers[0].weight.dtype
    W = torch.eye(n, dtype=dtype)  # start from the identity map x -> x
    b = torch.zeros(n, dtype=dtype)
    for layer in layers:  # apply W_k x + b_k to the map built so far
        W = layer.weight @ W  # (out_k, in_1)
        b = layer.weight @ b
        if layer.bias is not None:
            b = b + layer.bias
    single = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype)
    single.weight.copy_(W)
    single.bias.copy_(b)
    return single
# --8<-- [end:collapse]


# %% [markdown]
# ## Checking it numerically
#
# Stacks of `nn.Linear` layers shaped like the MNIST networks (784 inputs, 10 outputs),
# each compared with its collapse on random inputs, in float64.

# %%
# --8<-- [start:deep_net]
def deep_net(sizes, activation=None, dtype=torch.float32):
    """Linear layers of the given sizes, ``activation()`` between them."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(n_in, n_out, dtype=dtype))
        is_output = i == len(sizes) - 2
        if activation is not None and not is_output:
            layers.append(activation())
    return nn.Sequential(*layers)
# --8<-- [end:deep_net]


# %%
# --8<-- [start:collapse_error]
@torch.no_grad()
def collapse_error(sizes, seed: int = 0, num_inputs: int = 256):
    """Largest |net(x) - collapse(net)(x)| over random inputs, in float64,
    and the largest |net(x)|, the scale to compare that difference with."""
    torch.manual_seed(seed)
    net = deep_net(sizes, dtype=torch.float64)
    X = torch.randn(num_inputs, sizes[0], dtype=torch.float64)  # (N, in)
    y_hat = net(X)  # (N, out)
    error = (y_hat - collapse(net)(X)).abs().max()
    return float(error), float(y_hat.abs().max())
# --8<-- [end:collapse_error]


# %%
check_rows, errors = [], []
for depth in CONFIG.depths:
    sizes = [28 * 28] + [CONFIG.width] * (depth - 1) + [10]
    error, scale = collapse_error(sizes, seed=depth)
    errors.append(error)
    check_rows.append([depth, " → ".join(map(str, sizes)), scale, error])

# %% tags=["report"]
report.table("check", ["linear layers", "sizes", "largest |output|", "largest difference"], check_rows,
             units={"largest |output|": "number", "largest difference": "scientific"})
max_error = max(errors)
max_depth = max(CONFIG.depths)
collapse_matches_every_stack = max(errors) < CONFIG.tolerance

# %% [markdown]
# ## Depth without activation on a non-linear task
#
# One linear layer, a deep linear network and the same network with a ReLU after each
# hidden layer, trained on the same two moons with the same optimiser and seeds. After
# training, each deep linear network is collapsed and must classify every test point
# exactly as the deep one does (in float64, so rounding cannot flip a boundary point).

# %%
X, y = make_moons(CONFIG.num_points, CONFIG.noise, seed=0)
X_test, y_test = make_moons(CONFIG.num_points, CONFIG.noise, seed=1)
deep_sizes = [2] + [CONFIG.hidden] * (CONFIG.num_layers - 1) + [2]
LINEAR, DEEP, RELU = ("1 linear layer", f"{CONFIG.num_layers} linear layers",
                      f"{CONFIG.num_layers} layers with ReLU")
models = {
    LINEAR: lambda: nn.Linear(2, 2),
    DEEP: lambda: deep_net(deep_sizes),
    RELU: lambda: deep_net(deep_sizes, nn.ReLU),
}
acc = {name: [] for name in models}
nets, disagreements = {}, 0
with single_thread():
    for seed in CONFIG.seeds:
        for name, make in models.items():
            torch.manual_seed(seed)
            net = make()
            fit_classifier(net, X, y, CONFIG.num_steps)
            acc[name].append(accuracy(net, X_test, y_test))
            nets.setdefault(name, net)  # the first seed's, for the figure
            if name == DEEP:
                deep = copy.deepcopy(net).double()
                with torch.no_grad():
                    y_hat = deep(X_test.double()).argmax(dim=1)
                    y_hat_single = collapse(deep)(X_test.double()).argmax(dim=1)
                disagreements += int((y_hat != y_hat_single).sum())

# %% tags=["report"]
linear_accuracy, deep_linear_accuracy, deep_relu_accuracy = acc[LINEAR], acc[DEEP], acc[RELU]
linear, deep_linear, deep_relu = (statistics.fmean(acc[name]) for name in (LINEAR, DEEP, RELU))
num_seeds = len(CONFIG.seeds)
collapsed_classifies_like_deep = disagreements == 0  # on every test point, every seed
depth_alone_does_not_help = abs(deep_linear - linear) <= 0.03  # within 3 points of one layer
relu_helps_by_five_points = deep_relu > deep_linear + 0.05

rows = [[name, count_parameters(nets[name]), acc[name]] for name in models]  # acc: per seed

# %% tags=["report"]
report.table("moons", ["network", "parameters", "test accuracy"], rows,
             units={"parameters": "count", "test accuracy": ("percent", 1)})

# %% tags=["report"]
report.figure(
    "regions",
    regions_figure([nets[DEEP], nets[RELU]],
                   [f"{DEEP}: {acc[DEEP][0]:.1%}", f"{RELU}: {acc[RELU][0]:.1%}"], X_test, y_test))

# %% [markdown]
# ## Exercise 1: a bottleneck caps the rank

# %%
# --8<-- [start:rank]
def collapsed_rank(sizes, seed: int = 0) -> int:
    """Rank of the one matrix a deep linear network multiplies out to."""
    torch.manual_seed(seed)
    net = deep_net(sizes, dtype=torch.float64)
    return int(torch.linalg.matrix_rank(collapse(net).weight))
# --8<-- [end:rank]


rank = collapsed_rank(CONFIG.rank_sizes)

# %% tags=["report"]
rank_is_narrowest_width = rank == min(CONFIG.rank_sizes)

# %% [markdown]
# ## Exercise 2: a test for affine maps

# %%
# --8<-- [start:affine_defect]
@torch.no_grad()
def affine_defect(net, in_features, seed=0, num_pairs=256) -> float:
    """Largest |f((x + z) / 2) - (f(x) + f(z)) / 2| over random pairs x, z.

    Zero (up to rounding) for every affine map W x + b, however deep; a
    network with ReLUs fails as soon as x and z switch on different units.
    """
    g = torch.Generator().manual_seed(seed)
    dtype = next(net.parameters()).dtype
    x = torch.randn(num_pairs, in_features, generator=g, dtype=dtype)
    z = torch.randn(num_pairs, in_features, generator=g, dtype=dtype)
    return float((net((x + z) / 2) - (net(x) + net(z)) / 2).abs().max())
# --8<-- [end:affine_defect]


torch.manual_seed(0)
defect_linear = affine_defect(deep_net(deep_sizes, dtype=torch.float64), 2)
torch.manual_seed(0)
defect_relu = affine_defect(deep_net(deep_sizes, nn.ReLU, dtype=torch.float64), 2)

# %% tags=["report"]
# the linear network passes the midpoint test (rounding only), the ReLU one fails it
midpoint_test_separates_linear_from_relu = defect_linear < 1e-12 and defect_relu > 1e-6
