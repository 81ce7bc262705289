"""Activation functions written out by hand, with their derivatives, and gradient flow.

* ``FUNCTIONS`` maps each name (relu, leaky_relu, gelu, tanh, sigmoid, and silu for an
  exercise) to ``(f, f_prime)``: the function and its derivative, both written from
  the formulas. ``autograd_derivative`` gets the same derivative from torch.autograd,
  which the lesson's experiment and ``tests/test_activations.py`` compare against.
* ``gradient_norms`` builds a deep stack of layers with one activation and measures
  how large the loss gradient still is when it reaches each layer.

Run ``python -m mnist_tutorial.activations`` to print both checks.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LEAKY_SLOPE = 0.01  # nn.LeakyReLU's default


# --8<-- [start:functions]
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


# --8<-- [start:silu]
def silu(x):
    return x * sigmoid(x)  # also called swish


def silu_prime(x):
    s = sigmoid(x)
    return s * (1 + x * (1 - s))  # product rule: s + x s (1 - s)
# --8<-- [end:silu]


FUNCTIONS = {
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


# --8<-- [start:autograd]
def autograd_derivative(f, x):
    """f'(x) for an element-wise ``f``, by backpropagation through ``f``."""
    x = x.detach().clone().requires_grad_(True)
    # d(sum_i f(x_i)) / dx_i = f'(x_i): one backward pass gives them all
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad
# --8<-- [end:autograd]


# The weight scale ``init="scaled"`` uses for each activation: torch's gain for it
# (He initialisation for the ReLU family; GELU, which torch has no gain for, takes ReLU's).
GAIN_NAME = {"relu": "relu", "leaky_relu": "leaky_relu", "gelu": "relu", "tanh": "tanh",
             "sigmoid": "sigmoid"}
MODULES = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "tanh": nn.Tanh,
           "sigmoid": nn.Sigmoid}


# --8<-- [start:gradient_norms]
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


# --8<-- [start:shrink]
def shrink_per_layer(norms) -> float:
    """The factor the gradient is multiplied by per layer (geometric mean).

    ``norms`` runs from the first layer to the last, so the gradient went
    back through ``len(norms) - 1`` layers from the last entry to the first.
    """
    return (norms[0] / norms[-1]) ** (1 / (len(norms) - 1))
# --8<-- [end:shrink]


def main() -> None:
    x = torch.linspace(-5, 5, 10_001, dtype=torch.float64)
    for name, (f, f_prime) in FUNCTIONS.items():
        error = (f_prime(x) - autograd_derivative(TORCH_FUNCTIONS[name], x)).abs().max()
        print(f"{name:>10}: max |hand-written f' - autograd f'| = {float(error):.1e}")
    for name in MODULES:
        norms = gradient_norms(name, init="scaled")
        print(f"{name:>10}: gradient norm, first layer {norms[0]:.1e}, last hidden {norms[-1]:.1e}")


if __name__ == "__main__":
    main()
