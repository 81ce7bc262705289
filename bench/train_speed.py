"""Benchmark: the seed notebook's input pipeline vs the course's fast path, side by side.

    MNIST_TUTORIAL_DATA=../shared/mnist python bench/train_speed.py [--epochs 3]

Same model (the lesson MLP), same hyperparameters (Adam, lr 1e-3, batch 256), same
50,000 training images. Three ways to run an epoch, measured in turn (A, B, C, A, B, C,
...) so that drift in the machine's speed hits all of them alike:

* seed:   ``Dataset`` + PIL + ``ToTensor`` + ``DataLoader``, Adam (foreach), fp32
* tensor: batches sliced from one normalised tensor, Adam (foreach), fp32
* fast:   batches sliced from one normalised tensor, fused Adam, in the precision
          training picks on this machine (``pick_precision``: bf16 autocast where the
          CPU runs it natively and clearly faster, else fp32): what training uses

Then the matmul bound in the fast path's precision, measured in every round right after
the epochs (the machine's speed drifts, so each round's epochs are compared with that
round's bound): the time ``torch.mm`` takes for exactly the matrix products one training
step performs (3 forward, 3 weight-gradient and 2 input-gradient products; the images
need no gradient), on operands of that precision, times the steps in an epoch. Two ways
to count, both printed:

* executed GEMMs (strict): fast-path epoch vs the time of the products it really runs;
* model FLOPs, the usual "6 x parameters x examples" of model-FLOP utilisation (MFU),
  which also counts the first layer's input gradient that is never computed, at
  ``torch.mm``'s measured rate: the convention the course's speed goal was set in.

The last line is the ratio seed / fast seconds per epoch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from mnist_tutorial.data import TensorBatches, lesson_loader, load_mnist, make_split
from mnist_tutorial.models import MLP, count_parameters
from mnist_tutorial.training import pick_precision, train_epoch

BATCH_SIZE, LR = 256, 1e-3
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def make_runner(name: str, images, labels, precision: str):
    torch.manual_seed(0)
    net = MLP()
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, fused=(name == "fast"))
    precision = precision if name == "fast" else "fp32"
    if name == "seed":
        batches = lesson_loader(images, labels, BATCH_SIZE, shuffle=True, seed=0)
    else:
        batches = TensorBatches(images, labels, BATCH_SIZE, shuffle=True, seed=0)
    loss_fn = nn.CrossEntropyLoss()

    def epoch() -> float:
        start = time.perf_counter()
        train_epoch(net, batches, optimizer, loss_fn, precision=precision)
        return time.perf_counter() - start

    return epoch


def step_gemm_shapes(batch: int, sizes=(784, 1024, 256, 10)):
    """(m, k, n) of every matrix product in one forward + backward pass of the MLP."""
    shapes = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        shapes.append((batch, n_in, n_out))  # forward: (B, in) @ (in, out)
        shapes.append((n_out, batch, n_in))  # weight gradient: (out, B) @ (B, in)
        if i > 0:  # the input images need no gradient
            shapes.append((batch, n_out, n_in))  # input gradient: (B, out) @ (out, in)
    return shapes


def gemm_seconds_per_step(batch: int, dtype: torch.dtype = torch.float32,
                          repeats: int = 100) -> tuple[float, float]:
    """Median seconds for one step's matrix products with torch.mm in ``dtype``, and their FLOPs."""
    shapes = step_gemm_shapes(batch)
    operands = [(torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)) for m, k, n in shapes]
    flops = sum(2 * m * k * n for m, k, n in shapes)
    for a, b in operands * 10:  # warm up caches and thread pools
        torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for a, b in operands:
            torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return statistics.median(times), flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3,
                        help="measured rounds (one epoch per variant and one bound each)")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                        help="the fast path's precision (default: what training picks here)")
    args = parser.parse_args()
    precision = pick_precision() if args.precision == "auto" else args.precision

    mnist = load_mnist()
    split = make_split(mnist)
    images, labels = mnist.train_images[split.train], mnist.train_labels[split.train]
    names = ["seed", "tensor", "fast"]
    runners = {name: make_runner(name, images, labels, precision) for name in names}
    steps = -(-len(labels) // BATCH_SIZE)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{len(labels):,} images, batch {BATCH_SIZE}, {steps} steps per epoch; "
          f"fast path and matmul bound in {precision}")

    for name in names:  # one unmeasured warm-up epoch each
        runners[name]()
    seconds = {name: [] for name in names + ["bound"]}
    for _ in range(args.epochs):
        for name in names:
            seconds[name].append(runners[name]())
        step_seconds, gemm_flops = gemm_seconds_per_step(BATCH_SIZE, DTYPES[precision])
        seconds["bound"].append(step_seconds * steps)
    median = {name: statistics.median(times) for name, times in seconds.items()}
    for name in names + ["bound"]:
        times = ", ".join(f"{t:.2f}" for t in seconds[name])
        label = "matmul bound" if name == "bound" else name
        print(f"{label:>12}: {median[name]:6.2f} s/epoch (median of {args.epochs}: {times})")

    # Per round: that round's bound over that round's fast epoch.
    share = statistics.median(b / f for b, f in zip(seconds["bound"], seconds["fast"]))
    rate = gemm_flops * steps / median["bound"] / 1e9
    model_flops = 6 * count_parameters(MLP()) * len(labels)
    mfu = statistics.median(model_flops / f / (gemm_flops * steps / b)
                            for b, f in zip(seconds["bound"], seconds["fast"]))
    print(f"torch.mm on the step's shapes in {precision}: {rate:.0f} GFLOP/s")
    print(f"executed GEMMs: {gemm_flops * steps / 1e9:.0f} GFLOP per epoch; fast path at "
          f"{gemm_flops * steps / median['fast'] / 1e9:.0f} GFLOP/s = {share:.0%} of the matmul bound")
    print(f"model FLOPs (6 x parameters x images): {model_flops / 1e9:.0f} GFLOP per epoch; "
          f"fast path at {model_flops / median['fast'] / 1e9:.0f} GFLOP/s = {mfu:.0%} of "
          f"torch.mm's rate (MFU)")
    print(f"tensor / fast: {median['tensor'] / median['fast']:.2f}x")
    print(f"seed / fast: {median['seed'] / median['fast']:.2f}x faster per epoch")


if __name__ == "__main__":
    main()
