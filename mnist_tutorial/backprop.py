"""Backpropagation by hand for a two-layer MLP, checked against torch.autograd.

The network: ``X -> linear -> ReLU -> linear -> softmax cross-entropy``, with the
parameters in a plain dict (``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,)),
so every multiplication is visible. The weights are stored (inputs, outputs), the
transpose of ``nn.Linear.weight``, so that a layer reads ``X @ W + b``.

* ``forward`` computes the logits and keeps (caches) the intermediate terms,
* ``cross_entropy`` computes the loss and its gradient with respect to the logits,
* ``backward`` turns that gradient into the gradient of every parameter, using the cache,
* ``train_step`` is the four steps of gradient descent: forward, loss, backward, update.

To check them: ``autograd_gradient`` gets the same gradients from torch.autograd (on an
independent implementation with ``torch.nn.functional``), and ``numerical_gradient``
by central finite differences, two forward passes per parameter.

The exercises' solutions are here too: ``weight_decay``, ``input_gradient`` and
``matmul_counts``.

Run ``python -m mnist_tutorial.backprop`` to print the gradient check for a few shapes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NAMES = ("W1", "b1", "W2", "b2")


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


def loss_of(params, X, y) -> float:
    """The loss alone: one forward pass, as finite differences use it."""
    return cross_entropy(forward(params, X)[0], y)[0].item()


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


def max_relative_error(grads, reference) -> float:
    """Largest |difference| over all entries, relative to the largest |reference| entry."""
    worst = 0.0
    for name in reference:
        scale = reference[name].abs().max().item() or 1.0
        worst = max(worst, (grads[name] - reference[name]).abs().max().item() / scale)
    return worst


def check_against_autograd(batch_size: int, d_in: int, d_hidden: int, d_out: int,
                           seed: int = 0) -> float:
    """Hand-written gradients against autograd in float64 for one shape; the largest
    relative difference over all four parameters (about 1e-16 when they agree)."""
    X, y = toy_data(batch_size, d_in, d_out, seed)
    params = init_params(d_in, d_hidden, d_out, seed)
    logits, cache = forward(params, X)
    loss, dlogits = cross_entropy(logits, y)
    reference_loss, reference = autograd_gradient(params, X, y)
    if not torch.allclose(loss, reference_loss, rtol=1e-12, atol=0):
        raise AssertionError(f"loss {loss.item()} differs from autograd's {reference_loss.item()}")
    return max_relative_error(backward(params, cache, dlogits), reference)


# --8<-- [start:weight_decay]
def weight_decay(params, grads, lam: float):
    """Gradients of loss + lam * (||W1||² + ||W2||²): each weight matrix gets 2 lam W
    added to its gradient; the biases are not penalised."""
    return {name: grads[name] + 2 * lam * params[name] if name.startswith("W") else grads[name]
            for name in grads}
# --8<-- [end:weight_decay]


# --8<-- [start:input_gradient]
def input_gradient(params, cache, dlogits):
    """dL/dX (B, D): one more step of the chain rule, past the first layer."""
    dH = dlogits @ params["W2"].T  # (B, H)
    dZ1 = dH * (cache["Z1"] > 0)  # (B, H)
    return dZ1 @ params["W1"].T  # (B, D) = (B, H) @ (H, D)
# --8<-- [end:input_gradient]


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


def main() -> None:
    for shape in [(1, 3, 4, 2), (8, 10, 32, 3), (64, 784, 128, 10)]:
        error = check_against_autograd(*shape)
        print(f"batch {shape[0]:3d}, {shape[1]:3d} -> {shape[2]:3d} -> {shape[3]:2d}: "
              f"largest relative difference from autograd {error:.1e}")
    X, y = toy_data(4, 3, 2)
    params = init_params(3, 5, 2)
    numerical = numerical_gradient(lambda p: loss_of(p, X, y), params)
    error = max_relative_error(numerical, autograd_gradient(params, X, y)[1])
    print(f"finite differences on a 3 -> 5 -> 2 network: largest relative difference {error:.1e}")


if __name__ == "__main__":
    main()
