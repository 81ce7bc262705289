"""The command line of the course: ``python -m mnist_tutorial --help``.

    python -m mnist_tutorial data                 check (or download) MNIST
    python -m mnist_tutorial train                train the lesson MLP (final recipe)
    python -m mnist_tutorial train --recipe plain --epochs 3 --logdir runs/plain
    python -m mnist_tutorial list                 the experiments behind the site
    python -m mnist_tutorial run mlp              run one (or load it from the cache)

Progress bars go to stderr; the last line printed is a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from .config import PROFILES, RECIPES, TrainConfig
from .errors import ExperimentError, MNISTDataError

EPILOG = """\
environment variables:
  MNIST_TUTORIAL_DATA      folder holding MNIST/raw/ (default ~/.cache/mnist_tutorial)
  MNIST_TUTORIAL_DOWNLOAD  0 to never download (default: download when missing)
  MNIST_TUTORIAL_PROFILE   full (default) or smoke: a few hundred images, one epoch
  MNIST_TUTORIAL_CACHE     where experiment results are cached (default .cache/)
  MNIST_TUTORIAL_DEVICE    auto (default: CUDA if available, else CPU), cpu, cuda, mps
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_tutorial",
        description="Train and evaluate the course's neural networks on MNIST, and run "
                    "the experiments whose results the course website shows.",
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
    train.add_argument("--epochs", type=int, help="number of passes over the training set (default: the recipe's)")
    train.add_argument("--batch-size", type=int, help="images per optimiser step (default: the recipe's)")
    train.add_argument("--lr", type=float, help="learning rate; with the final recipe, its peak (default: the recipe's)")
    train.add_argument("--seed", type=int, nargs="+", default=[0],
                       help="random seed(s) for the initial weights and the shuffling; "
                            "several seeds train several models and report mean ± std (default: 0)")
    train.add_argument("--device", default="auto", help="auto (default: CUDA if available, else CPU), cpu, cuda, cuda:1, mps")
    train.add_argument("--logdir", help="write TensorBoard logs here (view: tensorboard --logdir DIR)")
    train.add_argument("--pipeline", choices=["tensor", "lesson"], default="tensor",
                       help="tensor (default): batches cut from tensors on the device (fast); lesson: the "
                            "lessons' Dataset + ToTensor + DataLoader (same batches, slower)")
    train.add_argument("--softmax-bug", action="store_true",
                       help="put a softmax before CrossEntropyLoss, the classic mistake, to see its cost")
    train.add_argument("--train-size", type=int, help="train on the first N training images only")

    commands.add_parser("list", help="list the experiments behind the site and whether they are cached")

    run = commands.add_parser("run", help="run one experiment, or load it from the cache",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    run.add_argument("names", nargs="+", metavar="NAME", help="experiment name(s) (see `list`)")
    run.add_argument("--profile", choices=PROFILES, help="default: $MNIST_TUTORIAL_PROFILE or full")
    run.add_argument("--refresh", action="store_true", help="run even if the cache holds a result")
    run.add_argument("--json", action="store_true", help="print the whole result as JSON (no figures)")
    run.add_argument("--manifest", action="store_true",
                     help="for tools (the site build): go on after a failure and print, as the "
                          "last line, JSON mapping each name to its cache entry or its error")
    return parser


def _train(args) -> str:
    import torch

    from .data import load_mnist
    from .training import train_model

    overrides = {k: v for k, v in dict(num_epochs=args.epochs, batch_size=args.batch_size,
                                       lr=args.lr, train_size=args.train_size).items()
                 if v is not None}
    mnist = load_mnist()
    accuracies = []
    start = time.perf_counter()
    for seed in args.seed:
        config = TrainConfig.recipe(args.recipe, seed=seed, softmax_output=args.softmax_bug,
                                    **overrides)
        logdir = f"{args.logdir}/seed{seed}" if args.logdir and len(args.seed) > 1 else args.logdir
        result = train_model(config, mnist, device=args.device, logdir=logdir,
                             progress=True, pipeline=args.pipeline)
        accuracies.append(result.test_accuracy)
        print(f"seed {seed}: test accuracy {result.test_accuracy:.2%}, validation "
              f"{result.epoch_val_accuracy[-1]:.2%}, {sum(result.epoch_seconds):.1f} s training "
              f"({result.device}, {torch.get_num_threads()} CPU threads)", flush=True)
    wall = time.perf_counter() - start
    mean = statistics.fmean(accuracies)
    if len(accuracies) > 1:
        spread = f" ± {statistics.pstdev(accuracies):.2%} (mean of {len(accuracies)} seeds)"
    else:
        spread = ""
    return f"test accuracy {mean:.2%}{spread}, {args.recipe} recipe, wall time {wall:.1f} s"


def _list() -> str:
    from . import registry

    rows = [(name, "cached" if registry.is_cached(name) else "-", exp.title)
            for name, exp in registry.experiments().items()]
    width = max((len(r[0]) for r in rows), default=4)
    for name, cached, title in rows:
        print(f"{name:<{width}}  {cached:<6}  {title}")
    return f"{len(rows)} experiments, cache in {registry.cache_dir()}"


def _run(args) -> str:
    from . import registry
    from .config import current_profile

    profile = args.profile or current_profile()
    manifest = {}
    start = time.perf_counter()
    for name in args.names:
        try:
            result = registry.get_result(name, profile, refresh=args.refresh,
                                         log=lambda m: print(m, file=sys.stderr, flush=True))
        except (MNISTDataError, ExperimentError) as error:
            if not args.manifest:
                raise
            manifest[name] = {"error": str(error)}
            continue
        path = registry.entry_path(name, result["provenance"]["cache_key"])
        if path.is_file():
            manifest[name] = {"path": str(path)}
        else:  # the package changed while it ran: its result describes no current code
            manifest[name] = {"error": "the code in mnist_tutorial/ changed while it ran, "
                                       "so its result was not cached; build again"}
        if args.json:
            figures = {k: {"alt": v["alt"], "caption": v["caption"]}
                       for k, v in result["figures"].items()}
            print(json.dumps({**result, "figures": figures}, indent=1))
        elif not args.manifest:
            print(f"{name} ({profile} profile): computed in "
                  f"{result['provenance']['wall_time_s']:.1f} s on {result['provenance']['device']}")
            for key, value in result["metrics"].items():
                print(f"  {key:<28} {value['text']}")
    took = time.perf_counter() - start
    if args.manifest:
        return json.dumps(manifest)
    return f"{len(args.names)} experiment(s), {profile} profile, returned in {took:.2f} s"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "data":
            from .data import ensure_mnist

            summary = f"MNIST is ready in {ensure_mnist()}: all four checksums match."
        elif args.command == "train":
            summary = _train(args)
        elif args.command == "list":
            summary = _list()
        else:
            summary = _run(args)
    except (MNISTDataError, ExperimentError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written to the cache", file=sys.stderr)
        return 130
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
