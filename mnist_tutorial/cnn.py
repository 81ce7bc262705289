"""A small convolutional network for MNIST, and its training run.

The lesson MLP flattens each image into 784 numbers and never learns that pixel
(3, 4) sits next to pixel (3, 5). A convolution slides the same small filter over
every position, so what it learns about a stroke in one place serves everywhere:
far fewer weights, and a prior that suits images.

``train_cnn(config)`` trains ``CNN`` with the course's own loop (``training.fit``,
the loop of ``train_model``) on the same split and batches as the MLP, and returns a
``TrainResult`` like ``train_model``.

Run ``python -m mnist_tutorial.cnn`` to print the network, its parameter count and
the output shape for a batch of two images.
"""

from __future__ import annotations

import dataclasses
import time

import torch
from torch import nn

from .data import MNIST
from .training import TrainResult, fit, pick_device


# --8<-- [start:cnn]
class CNN(nn.Module):
    def __init__(self, channels=(16, 32), kernel_size=5, hidden=128):
        super().__init__()
        c1, c2 = channels
        pad = kernel_size // 2  # "same" padding: the pooling alone halves the size
        # Pooling before ReLU gives the same numbers as after (ReLU keeps order)
        # and applies ReLU to a quarter as many values.
        self.layers = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size, padding=pad),  # (B, c1, 28, 28)
            nn.MaxPool2d(2), nn.ReLU(),  # (B, c1, 14, 14)
            nn.Conv2d(c1, c2, kernel_size, padding=pad),  # (B, c2, 14, 14)
            nn.MaxPool2d(2), nn.ReLU(),  # (B, c2, 7, 7)
            nn.Flatten(),  # (B, c2 * 49)
            nn.Linear(c2 * 7 * 7, hidden), nn.ReLU(),  # (B, hidden)
            nn.Linear(hidden, 10),  # (B, 10) logits
        )

    def forward(self, X):  # X: (B, 1, 28, 28)
        return self.layers(X)
# --8<-- [end:cnn]


def multiply_adds(net: nn.Module) -> int:
    """Multiply-adds of one forward pass of one image through the conv and linear layers."""
    counts = []

    def count(layer, inputs, output):
        # Every output value is one dot product over a layer's fan-in.
        fan_in = layer.weight[0].numel()
        counts.append(output[0].numel() * fan_in)

    hooks = [m.register_forward_hook(count) for m in net.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.inference_mode():
        net(torch.zeros(1, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    return sum(counts)


def seconds_per_step(net: nn.Module, batch_size: int, steps: int = 10,
                     channels_last: bool = False) -> float:
    """Wall-clock seconds of one training step on a random batch (after two warm-up steps)."""
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    X, y = torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,))
    optimizer, loss_fn = torch.optim.Adam(net.parameters()), nn.CrossEntropyLoss()
    for step in range(steps + 2):
        if step == 2:  # the first steps allocate memory and pick kernels
            start = time.perf_counter()
        loss = loss_fn(net(X), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


# --8<-- [start:permute]
def permute_pixels(mnist: MNIST, seed: int = 0) -> MNIST:
    """MNIST with one fixed shuffle of the 784 pixel positions applied to every image."""
    order = torch.randperm(28 * 28, generator=torch.Generator().manual_seed(seed))

    def shuffle(images):  # (N, 28, 28) -> the same pixels, moved: (N, 28, 28)
        return images.flatten(1)[:, order].reshape(images.shape)

    return dataclasses.replace(mnist, train_images=shuffle(mnist.train_images),
                               test_images=shuffle(mnist.test_images))
# --8<-- [end:permute]


def train_cnn(config, mnist: MNIST | None = None, device: str = "auto",
              progress: bool = False) -> TrainResult:
    """Train ``CNN`` with the loop that trains the MLP: validate every epoch, test once.

    ``config`` has the fields of ``TrainConfig`` that training reads (``num_epochs``,
    ``batch_size``, ``lr``, ``schedule``, ``seed``, the split sizes) plus ``channels``,
    ``kernel_size``, ``hidden`` and ``channels_last``.
    """
    device = pick_device(device)
    # --8<-- [start:train_cnn]
    torch.manual_seed(config.seed)  # the initial weights
    net = CNN(config.channels, config.kernel_size, config.hidden).to(device)
    if config.channels_last:  # (B, H, W, C) in memory: faster convolutions on CPUs
        net = net.to(memory_format=torch.channels_last)
    return fit(net, config, mnist, device, progress=progress)
    # --8<-- [end:train_cnn]

if __name__ == "__main__":
    from .models import count_parameters

    net = CNN()
    print(net)
    print(f"{count_parameters(net):,} parameters")
    print("output shape for a batch of 2:", tuple(net(torch.zeros(2, 1, 28, 28)).shape))
