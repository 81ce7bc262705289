"""The build's command line: ``python -m sitebuild --help``.

    python -m sitebuild list                      every home, its page, and whether it is cached
    python -m sitebuild run training              run one home (or load it from the cache)
    python -m sitebuild run --refresh training    run it again even if cached
    MNIST_TUTORIAL_PROFILE=smoke python -m sitebuild run     all homes, smoke profile
"""

from __future__ import annotations

import argparse
import os
import sys

from . import cache
from .homes import HomeError, discover, in_order
from .run import PROFILES, BuildError, build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sitebuild", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=PROFILES,
                        default=os.environ.get("MNIST_TUTORIAL_PROFILE") or "full")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every home, its page, what it uses, cached or not")
    run = commands.add_parser("run", help="run homes (default: all), or load them from the cache")
    run.add_argument("homes", nargs="*")
    run.add_argument("--refresh", action="store_true", help="run the named homes even if cached")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            homes = discover()
            device = cache.device_kind()
            keys = {}
            for home in in_order(homes, list(homes)):
                keys[home.name] = cache.key(home, args.profile,
                                            {u: keys[u] for u in home.uses}, device)
                cached = cache.entry_path(home.name, keys[home.name]).is_dir()
                uses = f"  uses {', '.join(home.uses)}" if home.uses else ""
                print(f"{home.name:24} docs/{home.page:36} {'cached' if cached else 'to run':7}{uses}")
            return 0
        entries = build(args.profile, args.homes or None,
                        refresh=tuple(args.homes) if args.refresh else (),
                        log=lambda line: print(line, file=sys.stderr))
        for name, entry in entries.items():
            p = entry.provenance
            print(f"{name:24} {len(entry.report['metrics']):3} numbers  "
                  f"{len(entry.report['claims']):3} claims  {p['wall_time_s']:7.1f} s  {entry.path}")
        return 0
    except (HomeError, BuildError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
