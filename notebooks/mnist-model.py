# %% [markdown]
# # The model: a multilayer perceptron
#
# The notebook of the lesson *The model*: build the lesson MLP (784 → 1024 → 256 → 10),
# see what `nn.Module` registers, count its parameters, and look at its outputs —
# logits, not probabilities. Nothing is trained here; it runs in seconds on a CPU or a
# GPU.

# %% [markdown]
# ## Setup
#
# In a copy of the course repository, `pip install -r requirements.txt` installs
# everything this notebook needs, including the course package `mnist_tutorial`. On
# Google Colab the next cell installs the package from GitHub; elsewhere it does nothing.

# %%
import sys

COURSE_REPO = None  # OWNER/NAME of the course on GitHub; the course website fills it in

if "google.colab" in sys.modules:
    import subprocess

    if COURSE_REPO is None:
        raise RuntimeError("Set COURSE_REPO to the OWNER/NAME of the course repository on GitHub.")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"git+https://github.com/{COURSE_REPO}"], check=True)

# %%
import torch
from torch import nn

from mnist_tutorial.data import load_mnist, normalise
from mnist_tutorial.models import MLP, count_parameters
from mnist_tutorial.training import pick_device

device = pick_device()  # CUDA if a GPU is visible, else the CPU
torch.manual_seed(0)  # the initial weights
net = MLP().to(device)
print(net)
print("device:", device)

# %% [markdown]
# ## Parameters
#
# Every layer assigned to an attribute (here: inside `nn.Sequential`) is registered, and
# `net.parameters()` yields its weights and biases: that is what the optimiser will train.

# %%
for name, p in net.named_parameters():
    print(f"{name:<16} {str(tuple(p.shape)):<14} {p.numel():>9,}")

sizes = [784, 1024, 256, 10]
by_formula = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
print(f"count_parameters: {count_parameters(net):,}   formula: {by_formula:,}")

# %% [markdown]
# A layer kept in a plain Python list is *not* registered — the optimiser would never see it:

# %%
class Forgetful(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [nn.Linear(784, 10)]  # a plain list: nn.Module never looks inside


class Registered(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(784, 10)])


print("Forgetful:", count_parameters(Forgetful()), "parameters")
print("Registered:", count_parameters(Registered()), "parameters")

# %% [markdown]
# ## `net(X)`, not `net.forward(X)`
#
# Calling the module runs its hooks around `forward`; calling `forward` directly skips them.

# %%
mnist = load_mnist()
X = normalise(mnist.test_images[:8]).to(device)  # (8, 1, 28, 28)
y = mnist.test_labels[:8].to(device)  # (8,)

calls = []
hook = net.register_forward_hook(lambda module, inputs, output: calls.append(tuple(output.shape)))
with torch.no_grad():
    y_hat = net(X)  # (8, 10)
    print("after net(X):        hook calls", calls)
    same = torch.equal(net.forward(X), y_hat)
    print("after net.forward(X): hook calls", calls, "| same output:", same)
hook.remove()

# %% [markdown]
# ## Logits
#
# The ten outputs are logits: any real numbers. `torch.softmax` turns them into
# probabilities; `nn.CrossEntropyLoss` takes the logits and does the softmax itself.

# %%
probs = torch.softmax(y_hat, dim=1)
print(f"logits of the first image (a {y[0].item()}):", [round(v, 3) for v in y_hat[0].tolist()])
print("probabilities:                 ", [round(v, 3) for v in probs[0].tolist()])
print("rows of probs sum to", probs.sum(dim=1).tolist())

loss = nn.CrossEntropyLoss()(y_hat, y)
by_hand = -torch.log(probs[torch.arange(len(y)), y]).mean()
print(f"CrossEntropyLoss: {loss:.4f}   -log p(true class): {by_hand:.4f}   ln 10: {torch.log(torch.tensor(10.)):.4f}")

# %% [markdown]
# ## Try it
#
# * Build `MLP(hidden=(128,))` and count its parameters with the formula and with
#   `count_parameters`.
# * Build `MLP(softmax_output=True)`: what do its outputs sum to? The training notebook
#   measures what this mistake costs.
