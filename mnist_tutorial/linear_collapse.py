"""Depth without non-linearity collapses: a stack of linear layers is one linear layer.

``collapse(layers)`` multiplies a stack of ``nn.Linear`` layers out into the single
``nn.Linear`` that computes the same function (W = W_L ... W_1, and the biases carried
through). ``collapse_error`` measures, in float64, how far the stack and its collapse
are apart on random inputs (rounding error only).

Run ``python -m mnist_tutorial.linear_collapse`` to print the check for a few depths.
"""

from __future__ import annotations

import torch
from torch import nn


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


# --8<-- [start:rank]
def collapsed_rank(sizes, seed: int = 0) -> int:
    """Rank of the one matrix a deep linear network multiplies out to."""
    torch.manual_seed(seed)
    net = deep_net(sizes, dtype=torch.float64)
    return int(torch.linalg.matrix_rank(collapse(net).weight))
# --8<-- [end:rank]


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


def main() -> None:
    for depth in (1, 2, 5, 10, 20):
        sizes = [16] + [32] * (depth - 1) + [8]
        error, scale = collapse_error(sizes)
        print(f"{depth:2d} linear layers {sizes[0]}->...->{sizes[-1]}: max |stack - collapse| "
              f"= {error:.1e} (outputs up to {scale:.1e})")


if __name__ == "__main__":
    main()
