"""The command line of the course: ``python -m mnist_tutorial --help``.

    python -m mnist_tutorial data                 check (or download) MNIST
    python -m mnist_tutorial train                train the lesson MLP (final recipe)
    python -m mnist_tutorial train --recipe plain --epochs 3 --logdir runs

Progress bars go to stderr; the last line printed is a one-line summary. The runs behind
the course website are the lessons' notebooks (lessons/*.py in a copy of the course),
run by the site's build: ``python -m sitebuild --help`` there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from .config import RECIPES, TrainConfig
from .errors import MNISTDataError

EPILOG = """\
environment variables:
  MNIST_TUTORIAL_DATA      folder holding MNIST/raw/ (default ~/.cache/mnist_tutorial)
  MNIST_TUTORIAL_DOWNLOAD  0 to never download (default: download when missing)
  MNIST_TUTORIAL_PROFILE   full (default) or smoke: a few hundred images, one epoch
  MNIST_TUTORIAL_DEVICE    auto (default: CUDA, then MPS, else CPU), cpu, cuda, cuda:N, mps
  MNIST_TUTORIAL_PRECISION auto (default: bf16 autocast where a probe finds it clearly
                           faster, else fp32), fp32, bf16
"""


def _positive(kind):
    """An argparse type: a number of ``kind`` above zero, or a message naming the rule."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__} number") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be from 0 to 2**63 - 1, not {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_tutorial",
        description="Train and evaluate the course's neural networks on MNIST.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("data", help="check that MNIST is in place and intact (downloads it if missing)")

    train = commands.add_parser(
        "train", help="train the lesson MLP (784-1024-256-10) and report its test accuracy",
        description="Train the lesson MLP on the 50,000 training images, check it on the "
                    "10,000 validation images after every epoch and report the accuracy on "
                    "the 10,000 test images once at the end.")
    train.add_argument("--recipe", choices=sorted(RECIPES), default="final",
                       help="plain: Adam at a fixed lr {plain[lr]:g} for {plain[num_epochs]} epochs; "
                            "final (default): one-cycle schedule peaking at lr {final[lr]:g}, "
                            "{final[num_epochs]} epochs".format(**RECIPES))
    train.add_argument("--epochs", type=_positive(int),
                       help="number of passes over the training set (default: the recipe's)")
    train.add_argument("--batch-size", type=_positive(int),
                       help="images per optimiser step (default: the recipe's)")
    train.add_argument("--lr", type=_positive(float),
                       help="learning rate; with the final recipe, its peak (default: the recipe's)")
    train.add_argument("--seed", type=_seed, nargs="+", default=[0],
                       help="random seed(s) for the initial weights and the shuffling; "
                            "several seeds train several models and report mean ± std (default: 0)")
    train.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps (default: "
                                        "$MNIST_TUTORIAL_DEVICE, else auto: CUDA, then MPS, else CPU)")
    train.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                       help="fp32, or bf16 autocast (default: $MNIST_TUTORIAL_PRECISION, else "
                            "auto: bf16 where a short probe finds it clearly faster)")
    train.add_argument("--logdir", metavar="DIR",
                       help="write TensorBoard logs under DIR, one folder per run named "
                            "<recipe>-seed<k>-<YYYYmmdd-HHMMSS> (view them side by side: "
                            "tensorboard --logdir DIR)")
    train.add_argument("--pipeline", choices=["tensor", "lesson"], default="tensor",
                       help="tensor (default): batches cut from tensors on the device (fast); lesson: the "
                            "lessons' Dataset + ToTensor + DataLoader (same batches, slower)")
    train.add_argument("--softmax-bug", action="store_true",
                       help="put a softmax before CrossEntropyLoss, the classic mistake, to see its cost")
    train.add_argument("--train-size", type=_positive(int), help="train on the first N training images only")

    return parser


def _train(args) -> str:
    import torch

    from .data import load_mnist
    from .training import pick_device, pick_precision, run_logdir, train_model

    overrides = {k: v for k, v in dict(num_epochs=args.epochs, batch_size=args.batch_size,
                                       lr=args.lr, train_size=args.train_size).items()
                 if v is not None}
    if args.logdir:  # fail now, not after the first epoch
        try:
            Path(args.logdir).mkdir(parents=True, exist_ok=True)
            probe = Path(args.logdir) / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise ValueError(f"--logdir {args.logdir}: cannot write there "
                             f"({error.strerror or error}); give a folder you can write") from None
    mnist = load_mnist()
    precision = (pick_precision(pick_device(args.device))
                 if args.precision in (None, "auto") else args.precision)
    accuracies = []
    start = time.perf_counter()
    for seed in args.seed:
        config = TrainConfig.recipe(args.recipe, seed=seed, softmax_output=args.softmax_bug,
                                    **overrides)
        name = args.recipe + ("-softmax-bug" if args.softmax_bug else "")
        logdir = run_logdir(args.logdir, name, seed) if args.logdir else None
        result = train_model(config, mnist, device=args.device, logdir=logdir,
                             progress=True, pipeline=args.pipeline, precision=precision)
        accuracies.append(result.test_accuracy)
        print(f"seed {seed}: test accuracy {result.test_accuracy:.2%}, validation "
              f"{result.epoch_val_accuracy[-1]:.2%}, {sum(result.epoch_seconds):.1f} s training "
              f"({result.device}, {result.precision}, {torch.get_num_threads()} CPU threads)"
              + (f"; TensorBoard log in {logdir}" if logdir else ""), flush=True)
    wall = time.perf_counter() - start
    mean = statistics.fmean(accuracies)
    if len(accuracies) > 1:
        spread = f" ± {statistics.pstdev(accuracies):.2%} (mean of {len(accuracies)} seeds)"
    else:
        spread = ""
    return f"test accuracy {mean:.2%}{spread}, {args.recipe} recipe, wall time {wall:.1f} s"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "data":
            from .data import ensure_mnist

            summary = f"MNIST is ready in {ensure_mnist()}: all four checksums match."
        else:
            summary = _train(args)
    except (MNISTDataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
