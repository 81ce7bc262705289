# %% [markdown]
# # The model: a multilayer perceptron
#
# The code and the runs of the lesson *The model*: see what `nn.Module` registers and
# what `net(X)` does besides `forward`, build the lesson MLP (784 → 1024 → 256 → 10),
# count its parameters, and look at its outputs: logits, not probabilities. Every number
# the lesson quotes is computed here. Nothing is trained: seconds on a laptop CPU.

# %%
# --8<-- [start:setup]
from dataclasses import dataclass

import matplotlib.patches as patches
import torch
from torch import nn

from mnist_tutorial import plots
from mnist_tutorial.config import current_profile
from mnist_tutorial.data import load_mnist, normalise
from mnist_tutorial.models import ACTIVATIONS, MLP, count_parameters


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (1024, 256)
    seed: int = 0  # the initial weights
    batch_size: int = 8  # test images pushed through the untrained network


FULL = Config()
SMOKE = FULL  # nothing is trained: both profiles are the same
CONFIG = FULL if current_profile() == "full" else SMOKE
# --8<-- [end:setup]
from mnist_tutorial.report import Report, format_value

report = Report("model", seeds=[CONFIG.seed], precision="fp32")

# %% tags=["report"]
report.config(CONFIG)

# %% [markdown]
# ## `nn.Module` registers parameters
#
# A layer assigned to an attribute is registered, and `net.parameters()` yields its
# weights and biases. A layer kept in a plain Python list is not: the optimiser would
# never see it.

# %%
# --8<-- [start:registration]
class Forgetful(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [nn.Linear(784, 10)]  # a plain list: nn.Module never looks inside


class Registered(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(784, 10)])  # registered with the module
# --8<-- [end:registration]


# %% tags=["report"]
forgetful = count_parameters(Forgetful())
registered = count_parameters(Registered())

# %% tags=["report"]
only_module_list_registers = forgetful == 0 and registered == 784 * 10 + 10

# %% [markdown]
# ## The lesson MLP

# %%
torch.manual_seed(CONFIG.seed)  # the initial weights
net = MLP(CONFIG.hidden)
print(net)

# %% [markdown]
# ## A layer in maths and in PyTorch
#
# The maths writes one example as a column, $\mathbf{y} = W\mathbf{x} + \mathbf{b}$;
# `nn.Linear` takes a batch as rows, $Y = XW^\top + \mathbf{b}$, with the same $W$ of
# shape `(n_out, n_in)`; some texts store the transpose and write $Y = XW + \mathbf{b}$.
# All three give the same numbers.


# %%
# --8<-- [start:notation]
def linear_three_ways(layer, X):
    """``layer(X)`` for a batch ``X`` of shape (B, n_in), and the same three ways by hand."""
    W, b = layer.weight, layer.bias  # (n_out, n_in), (n_out,)
    one_at_a_time = torch.stack([W @ x + b for x in X])  # y = W x + b for each row x
    as_rows = X @ W.T + b  # Y = X Wᵀ + b: (B, n_in) @ (n_in, n_out), b added to every row
    W_in_out = W.T  # (n_in, n_out): the W of texts that write Y = X W + b
    transposed = X @ W_in_out + b
    return layer(X), one_at_a_time, as_rows, transposed
# --8<-- [end:notation]


# %%
torch.manual_seed(CONFIG.seed)
with torch.no_grad():
    outputs = linear_three_ways(nn.Linear(5, 3), torch.randn(4, 5))  # n_in 5, n_out 3, B 4
print("shapes:", [tuple(y.shape) for y in outputs])

# %% tags=["report"]
# nn.Linear computes X Wᵀ + b, row by row W x + b, with its weight of shape (n_out, n_in)
linear_three_ways_agree = all(y.shape == (4, 3) and torch.allclose(y, outputs[0]) for y in outputs)

# %% [markdown]
# ## The network, drawn
#
# Walk the module's layers, read each `nn.Linear`'s sizes and parameter counts off the
# object itself, and draw the network with a few units per layer (the rest elided).

# %%
# --8<-- [start:linear_layers]
def linear_layers(net):
    """Each ``nn.Linear`` of ``net`` in order: its widths, parameter counts and activation."""
    leaves = [m for m in net.modules() if not list(m.children())]  # Flatten, Linear, ReLU, ...
    layers = []
    for i, module in enumerate(leaves):
        if isinstance(module, nn.Linear):
            after = leaves[i + 1] if i + 1 < len(leaves) else None
            layers.append({
                "n_in": module.in_features, "n_out": module.out_features,
                "weights": module.weight.numel(),  # n_out x n_in: one per edge
                "biases": module.bias.numel(),  # one per unit of the layer
                "activation": None if after is None or isinstance(after, nn.Linear)
                else type(after).__name__,
            })
    return layers
# --8<-- [end:linear_layers]


def network_diagram(layers):
    """SVG of a fully connected network: five units per layer drawn, the rest elided.

    Labels every part the lessons name (units, weights, bias, activation, logits, width,
    depth) and each layer's parameter count, all taken from ``layers``.
    """
    widths = [layers[0]["n_in"]] + [layer["n_out"] for layer in layers]
    names = ["input layer"] + [f"hidden layer {i}" for i in range(1, len(layers))] + ["output layer"]
    shown_y = [3.0, 2.0, 1.0, -1.0, -2.0]  # three units on top, two at the bottom, dots between
    ink, edge, accent = "#212121", "#9e9e9e", "#e65100"
    fill = ["#e8eaf6"] + ["#c5cae9"] * (len(layers) - 1) + ["#c8e6c9"]
    xs = [4.6 * i for i in range(len(widths))]  # layer columns
    with plots.figure(figsize=(10, 6.2)) as (fig, ax):
        ax.set_axis_off()
        ax.set_aspect("equal")
        for i in range(len(layers)):  # weights: every drawn unit to every drawn unit
            for y0 in shown_y:
                for y1 in shown_y:
                    ax.plot([xs[i] + 0.3, xs[i + 1] - 0.3], [y0, y1], color=edge, lw=0.6, zorder=1)
            bias_y = 4.3  # the bias: a constant input 1 with its own weight to each unit
            ax.add_patch(patches.Rectangle((xs[i] - 0.25, bias_y - 0.25), 0.5, 0.5, fc="white",
                                           ec=accent, lw=1.2, zorder=3))
            ax.text(xs[i], bias_y, "1", ha="center", va="center", color=ink, fontsize=9, zorder=4)
            for y1 in shown_y:
                ax.plot([xs[i] + 0.25, xs[i + 1] - 0.3], [bias_y, y1], color=accent, lw=0.7,
                        ls=(0, (3, 2)), zorder=1)
        for i, x in enumerate(xs):
            for y in shown_y:
                ax.add_patch(patches.Circle((x, y), 0.3, fc=fill[i], ec=ink, lw=1, zorder=2))
            for dy in (-0.35, 0.0, 0.35):  # the elided units
                ax.add_patch(patches.Circle((x, dy), 0.06, color=ink, zorder=2))
            ax.text(x, 5.55, names[i], ha="center", fontsize=10, fontweight="bold", color=ink)
            ax.text(x, 5.05, f"width {format_value(widths[i], 'count')}", ha="center",
                    fontsize=9, color=ink)
        for i, layer in enumerate(layers):
            x = (xs[i] + xs[i + 1]) / 2
            counts = (f"W: {layer['n_out']} × {layer['n_in']} = "
                      f"{format_value(layer['weights'], 'count')}\n"
                      f"b: {format_value(layer['biases'], 'count')}\n"
                      f"{format_value(layer['weights'] + layer['biases'], 'count')} parameters")
            ax.text(x, -3.55, counts, ha="center", va="top", fontsize=8.5, color=ink,
                    linespacing=1.4)
            if layer["activation"]:
                ax.text(xs[i + 1], -2.75, layer["activation"], ha="center", va="center",
                        fontsize=8.5, color=ink,
                        bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": ink, "lw": 0.8})
        for y, label in zip(shown_y, ["pixel 1", "pixel 2", "pixel 3", f"pixel {widths[0] - 1}",
                                      f"pixel {widths[0]}"]):
            ax.text(xs[0] - 0.45, y, label, ha="right", va="center", fontsize=8.5, color=ink)
        digits = [0, 1, 2, widths[-1] - 2, widths[-1] - 1]
        for y, digit in zip(shown_y, digits):
            ax.text(xs[-1] + 0.45, y, f"logit of {digit}", ha="left", va="center",
                    fontsize=8.5, color=ink)
        arrow = {"arrowstyle": "->", "color": ink, "lw": 0.8}
        # Labels that sit on edges get a white box, drawn above the edges, below the units.
        label = {"fontsize": 8.5, "bbox": {"fc": "white", "ec": "none", "pad": 1}, "zorder": 2.5}
        unit = f"{layers[0]['activation']}(weighted sum + bias)" if layers[0]["activation"] else ""
        ax.annotate(f"a unit (neuron):\n{unit}", xy=(xs[1] + 0.22, 3.2),
                    xytext=(xs[1] + 0.8, 3.75), color=ink, arrowprops=arrow, **label)
        ax.annotate("a weight (an edge)", xy=(xs[2] + 2.3, -2.0), xytext=(xs[2] + 1.2, -2.85),
                    color=ink, ha="left", arrowprops=arrow, **label)
        ax.annotate("bias", xy=(xs[0] - 0.27, 4.3), xytext=(xs[0] - 1.6, 4.3),
                    color=ink, va="center", arrowprops={**arrow, "color": accent}, **label)
        left, right, y = xs[1] - 0.3, xs[-1] + 0.3, -5.35  # depth: the layers with weights
        ax.plot([left, left, right, right], [y + 0.15, y, y, y + 0.15], color=ink, lw=0.9)
        ax.text((left + right) / 2, y - 0.25,
                f"depth {len(layers)}: {len(layers)} layers of weights · "
                f"{format_value(sum(layer['weights'] + layer['biases'] for layer in layers), 'count')} "
                f"parameters in all", ha="center", va="top", fontsize=9, color=ink)
        ax.set_xlim(xs[0] - 2.2, xs[-1] + 2.2)
        ax.set_ylim(-6.3, 6.0)
        return plots.to_svg(fig)


# %% tags=["report"]
layers = linear_layers(net)
for layer in layers:
    print(layer)
drawn_widths_are_layer_sizes = ([layers[0]["n_in"]] + [layer["n_out"] for layer in layers]
                                == [28 * 28, *CONFIG.hidden, 10])
drawn_counts_sum_to_total = (sum(layer["weights"] + layer["biases"] for layer in layers)
                             == count_parameters(net))
depth = len(layers)
hidden_units = sum(layer["n_out"] for layer in layers[:-1])

# %% tags=["report"]
report.figure("network", network_diagram(layers))

# %% [markdown]
# ## `net(X)`, not `net.forward(X)`
#
# Calling the module runs its hooks around `forward`; calling `forward` directly skips
# them. A forward hook that counts its calls shows the difference.

# %%
# --8<-- [start:call_vs_forward]
def call_vs_forward(net, X):
    """Outputs of ``net(X)`` and ``net.forward(X)``, and how often a forward hook ran."""
    calls = []
    hook = net.register_forward_hook(lambda module, inputs, output: calls.append(output.shape))
    y_hat_call = net(X)  # __call__: hooks, then forward, then more hooks
    after_call = len(calls)
    y_hat_forward = net.forward(X)  # forward alone: the hook does not run
    hook.remove()
    return y_hat_call, y_hat_forward, after_call, len(calls) - after_call
# --8<-- [end:call_vs_forward]


# %%
mnist = load_mnist()
X, y = normalise(mnist.test_images[: CONFIG.batch_size]), mnist.test_labels[: CONFIG.batch_size]
print("X", tuple(X.shape), "| y", tuple(y.shape))  # (B, 1, 28, 28), (B,)
with torch.no_grad():
    y_hat_call, y_hat_forward, hook_calls, hook_calls_forward = call_vs_forward(net, X)
print("hook calls: net(X)", hook_calls, "| net.forward(X)", hook_calls_forward)

# %% tags=["report"]
call_equals_forward_but_runs_hook = (torch.equal(y_hat_call, y_hat_forward)
                                     and (hook_calls, hook_calls_forward) == (1, 0))

# %% [markdown]
# ## Counting parameters
#
# Every tensor `net.parameters()` hands to the optimiser, and the count from the layer
# sizes alone (exercise 1 of the lesson).

# %%
# --8<-- [start:parameters_from_sizes]
def parameters_from_sizes(sizes):
    """Weights plus biases of fully connected layers ``sizes[0] -> sizes[1] -> ...``."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
# --8<-- [end:parameters_from_sizes]


# %% tags=["report"]
sizes = [28 * 28, *CONFIG.hidden, 10]
rows = [[name, " × ".join(map(str, p.shape)), format_value(p.numel(), "count")]
        for name, p in net.named_parameters()]
report.table("parameters", ["parameter", "shape", "numbers"], rows)
total = count_parameters(net)
per_layer = [layer["weights"] + layer["biases"] for layer in layers]
first_layer_share = per_layer[0] / total
print(f"from the layer sizes {sizes}: {parameters_from_sizes(sizes):,}")

# %% tags=["report"]
count_matches_layer_sizes = total == parameters_from_sizes(sizes)
weight_and_bias_per_layer = len(rows) == 2 * (len(sizes) - 1)

# %% [markdown]
# ## Logits
#
# The ten outputs are logits: any real numbers. `torch.softmax` turns them into
# probabilities; `nn.CrossEntropyLoss` takes the logits and does the softmax itself.

# %%
with torch.no_grad():
    y_hat = net(X)  # (B, 10) logits
    probs = torch.softmax(y_hat, dim=1)  # (B, 10), rows sum to 1
    loss = nn.CrossEntropyLoss()(y_hat, y).item()
    by_hand = -torch.log(probs[torch.arange(len(y)), y]).mean().item()
print(f"CrossEntropyLoss {loss:.4f}, -log p(true class) {by_hand:.4f}, "
      f"ln 10 {torch.log(torch.tensor(10.)):.4f}")

# %% tags=["report"]
ten_logits_per_image = y_hat.shape == (CONFIG.batch_size, 10)
cross_entropy_is_minus_log_softmax = abs(loss - by_hand) <= 1e-5  # of the true class
softmax_rows_sum_to_one = torch.allclose(probs.sum(dim=1), torch.ones(len(y)))

first_label = int(y[0])
logit_min = y_hat.min().item()
logit_max = y_hat.max().item()
max_probability = probs.max().item()
report.table("logits", ["digit", "logit", "softmax probability"],
             [[d, f"{y_hat[0, d]:+.3f}", f"{probs[0, d]:.3f}"] for d in range(10)])

# %% [markdown]
# ## Try it
#
# * Build `MLP(hidden=(128,))` and count its parameters with `parameters_from_sizes` and
#   with `count_parameters`.
# * Build `MLP(softmax_output=True)`: what do its outputs sum to? The training lesson
#   measures what this mistake costs.
