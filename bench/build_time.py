"""How long the site takes to build: cold, warm after a prose edit, after a code edit.

    python bench/build_time.py                    # full profile, once each
    python bench/build_time.py --profile smoke --repeat 3

(a) cold: ``mkdocs build --strict`` with an empty cache (``MNIST_TUTORIAL_CACHE`` points at
    a new temporary folder), so every page's notebook runs;
(b) warm: the same build again after a prose-only edit of ``docs/index.md``, with the
    cache from (a): what a contributor fixing a typo waits for;
(c) code edit: a comment added to one theory page's code home (``lessons/linear_collapse.py``):
    only that home may run again. The homes that ran are listed with their own run time,
    and the rest of the rebuild is reported as the overhead.

It also prints the weight of the pages mkdocs-jupyter rendered (``notebooks/*/``) and the
peak memory (max RSS) of the cold build's processes: mkdocs and the notebook kernels.

The checkout (without .git, environments, caches and outputs) is copied to a
temporary folder first, so the edit never touches the checkout. Each build is a fresh
``python -m mkdocs`` process; its wall time includes starting Python and importing
MkDocs, and mkdocs' own "Documentation built in" time is printed next to it. With
``--repeat N`` each phase runs N times and the median is reported.

Run it from the repository root with the course's environment (``MNIST_TUTORIAL_DATA``);
nothing is downloaded (``MNIST_TUTORIAL_DOWNLOAD=0``). A cold full-profile build trains
every experiment on all of MNIST: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Top-level entries not copied: git state, environments, caches and build outputs.
SKIP = {".git", ".venv", "venv", ".cache", "site", "runs", "test-artifacts", "data", "MNIST",
        ".pytest_cache", "bench"}
EDITED_PAGE = "docs/index.md"
EDITED_HOME = "lessons/linear_collapse.py"
BUILT_IN = re.compile(r"Documentation built in ([0-9.]+) seconds")
RAN = re.compile(r"(\w+): done in ([0-9.]+) s")


def copy_project(dest: Path) -> Path:
    """The checkout without git state, environments, caches and outputs (a few MB)."""
    def ignore(folder, names):
        top = Path(folder) == ROOT
        return {n for n in names if (top and n in SKIP) or n == "__pycache__"
                or n.endswith((".pyc", ".egg-info"))}

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def build(project: Path, cache: Path, profile: str, site: Path) -> tuple:
    """One strict build: (wall seconds, seconds mkdocs reports or None, {home: run seconds})."""
    env = {**os.environ, "MNIST_TUTORIAL_PROFILE": profile, "MNIST_TUTORIAL_CACHE": str(cache),
           "NO_MKDOCS_2_WARNING": "1"}
    env.setdefault("MNIST_TUTORIAL_DOWNLOAD", "0")
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)]
    start = time.perf_counter()
    process = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"build failed ({profile} profile):\n{process.stderr[-4000:]}")
    log = process.stderr + process.stdout
    reported = BUILT_IN.search(log)
    ran = {name: float(seconds) for name, seconds in RAN.findall(log)}
    return wall, float(reported.group(1)) if reported else None, ran


def prose_edit(project: Path, round_: int) -> None:
    """Append a sentence to the home page: a change of prose only, no code, no config."""
    page = project / EDITED_PAGE
    page.write_text(page.read_text(encoding="utf-8")
                    + f"\nA sentence added by the build-time benchmark (round {round_}).\n",
                    encoding="utf-8")


def code_edit(project: Path, round_: int) -> None:
    """Append a comment to one theory page's code home: only its run is stale."""
    home = project / EDITED_HOME
    home.write_text(home.read_text(encoding="utf-8") + f"# benchmark edit {round_}\n",
                    encoding="utf-8")


def notebook_pages(site: Path) -> list[tuple[str, int]]:
    return sorted((page.parent.name, page.stat().st_size)
                  for page in (site / "notebooks").glob("*/index.html"))


def fmt(seconds: float | None) -> str:
    return "   n/a" if seconds is None else f"{seconds:6.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=("smoke", "full"), default="full",
                        help="experiment profile to build with (default: full)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run each phase N times and report the median (default: 1)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary project, caches and sites (path is printed)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="mnist-build-time-"))
    try:
        project = copy_project(work / "project")
        cold, warm, edited = [], [], []
        for round_ in range(1, args.repeat + 1):
            cache = work / f"cache-{round_}"  # empty: every home runs
            cold.append(build(project, cache, args.profile, work / "site"))
            print(f"round {round_}: cold {fmt(cold[-1][0])} s (mkdocs: {fmt(cold[-1][1])} s), "
                  f"{len(cold[-1][2])} notebooks run", flush=True)
            prose_edit(project, round_)
            warm.append(build(project, cache, args.profile, work / "site"))
            print(f"round {round_}: warm {fmt(warm[-1][0])} s (mkdocs: {fmt(warm[-1][1])} s), "
                  f"ran: {', '.join(warm[-1][2]) or 'nothing'}", flush=True)
            code_edit(project, round_)
            edited.append(build(project, cache, args.profile, work / "site"))
            ran = ", ".join(f"{name} ({seconds:.1f} s)" for name, seconds in edited[-1][2].items())
            print(f"round {round_}: code edit {fmt(edited[-1][0])} s, ran: {ran or 'nothing'}",
                  flush=True)

        def median(runs, i):
            values = [run[i] for run in runs if run[i] is not None]
            return statistics.median(values) if values else None

        cold_s, warm_s = median(cold, 0), median(warm, 0)
        print(f"\n{args.profile} profile, median of {args.repeat} "
              f"(wall time of `mkdocs build --strict`, mkdocs' own figure in brackets):")
        print(f"  cold build, empty cache:        {fmt(cold_s)} s  ({fmt(median(cold, 1))} s)")
        print(f"  warm rebuild after prose edit:  {fmt(warm_s)} s  ({fmt(median(warm, 1))} s)")
        print(f"  ratio cold / warm:              {cold_s / warm_s:6.1f}x")
        edit_s = median(edited, 0)
        overhead = statistics.median(run[0] - sum(run[2].values()) for run in edited)
        print(f"  rebuild after a code edit:      {fmt(edit_s)} s  (of which the rerun "
              f"notebooks' own time: {fmt(edit_s - overhead)} s; the rest: {fmt(overhead)} s)")
        pages = notebook_pages(work / "site")
        total = sum(size for _, size in pages)
        print(f"  notebook pages: {len(pages)}, {total / 1e6:.1f} MB in all, largest "
              f"{max(pages, key=lambda p: p[1])[0]} ({max(s for _, s in pages) / 1e3:.0f} kB)")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"  peak memory of one build process (max RSS): {peak:.0f} MB")
        if args.keep:
            print(f"kept: {work}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
