"""The networks of the course.

* ``MLP``: the lessons' multilayer perceptron, 784 -> 1024 -> 256 -> 10 with ReLU.
  It returns *logits*: ``nn.CrossEntropyLoss`` applies log-softmax itself, so a
  softmax inside the network would be applied twice (the classic bug; the flag
  ``softmax_output`` exists only so a lesson can measure what it costs).

Run ``python -m mnist_tutorial.models`` to print the model and its parameter count.
"""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


# --8<-- [start:mlp]
class MLP(nn.Module):
    def __init__(self, hidden=(1024, 256), activation="relu", softmax_output=False):
        super().__init__()
        sizes = [28 * 28, *hidden]
        layers = [nn.Flatten()]  # (B, 1, 28, 28) -> (B, 784)
        for n_in, n_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(n_in, n_out), ACTIVATIONS[activation]()]
        layers.append(nn.Linear(sizes[-1], 10))  # (B, 10): one logit per digit
        if softmax_output:  # WRONG with CrossEntropyLoss: kept to measure the damage
            layers.append(nn.Softmax(dim=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):  # X: (B, 1, 28, 28)
        return self.layers(X)  # (B, 10) logits
# --8<-- [end:mlp]


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


if __name__ == "__main__":
    net = MLP()
    print(net)
    print(f"{count_parameters(net):,} parameters")
    print("output shape for a batch of 2:", tuple(net(torch.zeros(2, 1, 28, 28)).shape))
