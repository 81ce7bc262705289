# %% [markdown]
# # The model: a multilayer perceptron
#
# The code and the runs of the lesson *The model*: see what `nn.Module` registers and
# what `net(X)` does besides `forward`, build the lesson MLP (784 → 1024 → 256 → 10),
# count its parameters, and look at its outputs: logits, not probabilities. Every number
# the lesson quotes is computed here. Nothing is trained: seconds on a laptop CPU.

# %%
from dataclasses import dataclass

import torch
from torch import nn

from mnist_tutorial.config import current_profile
from mnist_tutorial.data import load_mnist, normalise
from mnist_tutorial.models import MLP, count_parameters
from mnist_tutorial.report import Report, format_value


@dataclass(frozen=True)
class Config:
    hidden: tuple[int, ...] = (1024, 256)
    seed: int = 0  # the initial weights
    batch_size: int = 8  # test images pushed through the untrained network


FULL = Config()
SMOKE = FULL  # nothing is trained: both profiles are the same
CONFIG = FULL if current_profile() == "full" else SMOKE

report = Report("model", seeds=[CONFIG.seed])
print(CONFIG)

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


# %%
forgetful = report.metric("forgetful_parameters", count_parameters(Forgetful()), "count")
registered = report.metric("registered_parameters", count_parameters(Registered()), "count")
report.check(forgetful == 0 and registered == 784 * 10 + 10,
             "a layer in a plain list is not registered, one in an nn.ModuleList is")

# %% [markdown]
# ## The lesson MLP

# %%
torch.manual_seed(CONFIG.seed)  # the initial weights
net = MLP(CONFIG.hidden)
print(net)

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
report.check(torch.equal(y_hat_call, y_hat_forward) and (hook_calls, hook_calls_forward) == (1, 0),
             "net(X) and net.forward(X) return the same output; only net(X) runs the hook")

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


# %%
sizes = [28 * 28, *CONFIG.hidden, 10]
rows = [[name, " × ".join(map(str, p.shape)), format_value(p.numel(), "count")]
        for name, p in net.named_parameters()]
report.table("parameters", ["parameter", "shape", "numbers"], rows,
             "Every tensor that net.parameters() hands to the optimiser.")
total = report.metric("parameters", count_parameters(net), "count")
report.metric("num_tensors", len(rows), "count")
per_layer = [count_parameters(layer) for layer in net.modules() if isinstance(layer, nn.Linear)]
report.metric("first_layer_share", per_layer[0] / total, "percent", 0)
print(f"from the layer sizes {sizes}: {parameters_from_sizes(sizes):,}")
report.check(total == parameters_from_sizes(sizes),
             "the MLP's parameter count equals the formula from its layer sizes")
report.check(len(rows) == 2 * (len(sizes) - 1), "the MLP has a weight and a bias per layer")

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
print(f"CrossEntropyLoss {loss:.4f}, -log p(true class) {by_hand:.4f}, ln 10 {torch.log(torch.tensor(10.)):.4f}")
report.check(y_hat.shape == (CONFIG.batch_size, 10), "the network returns 10 logits per image")
report.check(abs(loss - by_hand) <= 1e-5,
             "CrossEntropyLoss on the logits equals -log of the softmax probability of the true class")
report.check(torch.allclose(probs.sum(dim=1), torch.ones(len(y))), "softmax rows sum to 1")

report.metric("batch_size", CONFIG.batch_size, "count")
report.metric("first_label", int(y[0]), "count")
report.metric("logit_min", y_hat.min().item(), digits=2)
report.metric("logit_max", y_hat.max().item(), digits=2)
report.metric("max_probability", probs.max().item(), digits=3)
report.metric("initial_loss", loss, digits=3)
report.table("logits", ["digit", "logit", "softmax probability"],
             [[d, f"{y_hat[0, d]:+.3f}", f"{probs[0, d]:.3f}"] for d in range(10)],
             f"The untrained network's output for the first test image (a {int(y[0])}), "
             f"seed {CONFIG.seed}.")

# %% [markdown]
# ## Try it
#
# * Build `MLP(hidden=(128,))` and count its parameters with `parameters_from_sizes` and
#   with `count_parameters`.
# * Build `MLP(softmax_output=True)`: what do its outputs sum to? The training lesson
#   measures what this mistake costs.
