"""The build's command line: ``python -m sitebuild --help``.

    python -m sitebuild list                      every home, its page, and whether it is cached
    python -m sitebuild run training              run one home (or load it from the cache)
    python -m sitebuild run --refresh training    run it again even if cached
    python -m sitebuild verify model data         rerun from scratch, compare every number
    python -m sitebuild verify --other-seeds      rerun with seeds shifted by 1000: which claims flip?
    python -m sitebuild prune site/results.json   keep only the entries that built site used
    python -m sitebuild fetch [URL]               the published site's runs of unchanged homes
    MNIST_TUTORIAL_PROFILE=smoke python -m sitebuild run     all homes, smoke profile
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_tutorial.config import current_profile
from mnist_tutorial.report import DIFFERENT, VERDICTS

from . import cache, reseed, share
from .homes import HomeError, discover
from .run import PROFILES, BuildError, build
from .verify import other_seeds, verify


def main(argv: list[str] | None = None) -> int:
    try:
        profile = current_profile()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m sitebuild", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=PROFILES, default=profile,
                        help="default: $MNIST_TUTORIAL_PROFILE, else full")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every home, its page, what it uses, cached or not")
    run = commands.add_parser("run", help="run homes (default: all), or load them from the cache")
    run.add_argument("homes", nargs="*")
    run.add_argument("--refresh", action="store_true", help="run the named homes even if cached")
    check = commands.add_parser("verify", help="rerun homes (default: all) in a scratch cache and "
                                               "compare every number with the cached run")
    check.add_argument("homes", nargs="*")
    check.add_argument("--other-seeds", action="store_true",
                       help="instead, rerun with every seed shifted (by --offset) and list "
                            "each claim the pages state that no longer holds")
    check.add_argument("--offset", type=int, default=reseed.OFFSET,
                       help=f"how far --other-seeds shifts the seeds (default {reseed.OFFSET})")
    prune = commands.add_parser("prune", help="remove cache entries no build will load: "
                                              "leftovers, damaged entries and, given a built "
                                              "site's results.json, every entry it did not use")
    prune.add_argument("results", nargs="?", help="a built site's results.json (if it is "
                                                  "missing, every entry is kept)")
    fetch = commands.add_parser("fetch", help="download the published runs whose keys match "
                                              "the local code into the cache (checked as "
                                              "the cache checks its own); list what must run here")
    fetch.add_argument("url", nargs="?", default=share.default_url(),
                       help=f"the published site (default: ${share.RUNS_URL_ENV}, else "
                            f"${share.SITE_URL_ENV})")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            homes = discover()
            planned = cache.plan(homes, list(homes), args.profile, cache.device_kind())
            for name, (key, _) in planned.items():
                home = homes[name]
                cached = cache.Cache().entry_path(name, key).is_dir()
                uses = f"  uses {', '.join(home.uses)}" if home.uses else ""
                print(f"{home.name:24} docs/{home.page:36} {'cached' if cached else 'to run':7}{uses}")
            return 0
        if args.command == "prune":
            return _prune(args.results)
        if args.command == "fetch":
            return _fetch(args.url, args.profile)
        if args.command == "verify" and args.other_seeds:
            return _other_seeds(args)
        if args.command == "verify":
            rows = verify(args.profile, args.homes or None, discover(complete=False),
                          log=lambda line: print(line, file=sys.stderr))
            width = max(len(f"{home}.{key}") for home, key, *_ in rows)
            for home, key, cached, rerun, verdict in rows:
                print(f"{home + '.' + key:{width}}  {cached:>24}  {rerun:>24}  {verdict}")
            counts = {v: sum(row[-1] == v for row in rows) for v in VERDICTS}
            print(", ".join(f"{n} {v}" for v, n in counts.items() if n) +
                  f" ({len(rows)} numbers, {args.profile} profile)")
            return 1 if counts[DIFFERENT] else 0
        entries = build(args.profile, args.homes or None,
                        refresh=tuple(args.homes) if args.refresh else (),
                        log=lambda line: print(line, file=sys.stderr))
        for name, entry in entries.items():
            p = entry.provenance
            print(f"{name:24} {len(entry.report['values']):3} values  "
                  f"{p['wall_time_s']:7.1f} s  {entry.path}")
        return 0
    except (HomeError, BuildError, RuntimeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the homes that finished are cached; the one that was running "
              "left nothing behind", file=sys.stderr)
        return 130


def _prune(results: str | None) -> int:
    used = None
    if results and Path(results).is_file():
        document = json.loads(Path(results).read_text(encoding="utf-8"))
        used = {name: home["provenance"]["key"] for name, home in document["homes"].items()}
    elif results:
        print(f"{results} does not exist (did the build fail?): every entry is kept",
              file=sys.stderr)
    runs = cache.Cache()
    removed = runs.prune(list(discover(complete=False)), used)
    print(f"pruned {removed} entries from {runs.root}")
    return 0


def _fetch(url: str | None, profile: str) -> int:
    if not url:
        print(f"error: no address to fetch from: pass the published site's URL, or set "
              f"{share.RUNS_URL_ENV}", file=sys.stderr)
        return 2
    try:
        result = share.fetch(url, discover(), profile, log=lambda line: print(line, file=sys.stderr))
    except share.FetchError as error:
        print(f"error: {error}: nothing fetched (the build runs every uncached home here)",
              file=sys.stderr)
        return 1
    total = len(result.fetched) + len(result.cached) + len(result.to_run)
    print(f"fetched {len(result.fetched)} runs ({result.downloaded_bytes / 1e6:.1f} MB) from "
          f"{url}; {len(result.cached)} were cached already; {len(result.to_run)} of {total} "
          f"pages must run here{':' if result.to_run else ''}")
    for name, reason in result.to_run.items():
        print(f"  {name:24} {reason}")
    for name, reason in result.rejected.items():
        print(f"REJECTED {name}: {reason}", file=sys.stderr)
    return 1 if result.rejected else 0


def _other_seeds(args) -> int:
    claims, errors = other_seeds(args.profile, args.homes or None, discover(complete=False),
                                 args.offset, log=lambda line: print(line, file=sys.stderr))
    for home, key, where, holds in claims:
        print(f"{home:24} {'holds' if holds else 'FLIPS'}  {key} ({where})")
    for home, error in errors.items():
        print(f"{home:24} FAILED {error}")
    flipped = sum(not holds for *_, holds in claims)
    print(f"{len(claims) - flipped} claims hold, {flipped} flip, {len(errors)} homes failed "
          f"(seeds shifted by {args.offset}, {args.profile} profile)")
    return 1 if flipped or errors else 0


if __name__ == "__main__":
    sys.exit(main())
