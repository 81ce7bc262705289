"""Do the published numbers reproduce? Rerun cached homes from scratch and compare.

``python -m sitebuild verify [HOME ...]`` reruns each named home (default: all), and the
homes they use, in a temporary cache, then compares every number the pages quote, as they
quote it, with the cached one:

the rule and the words of the notebook's last cell (``mnist_tutorial.report.reproduces``):
equal to 1 part in a million, or within the cached mean ± 2 std where the number has a seed
spread, or within the tolerance its home declared; a measure of speed is shown, not compared.

It prints one line per number and a summary, and exits 1 if any number is DIFFERENT.

``python -m sitebuild verify --other-seeds [HOME ...]`` asks another question: do the
claims hold for the method, or only for the seeds the site used? It reruns the homes with
every seed shifted by 1000 (``sitebuild.reseed``; nothing is cached) and lists each claim
the pages state (``<!-- claim HOME.KEY -->``) with the page that states it; a claim whose
variable is no longer True has *flipped*. It exits 1 if any claim flipped or any home
failed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from mnist_tutorial.report import DIFFERENT, lookup, metric, reproduces

from . import cache, reseed, run
from .homes import DOCS, Home
from .plugin.shortcodes import published_claims, published_formats


def verify(profile: str, names: list[str] | None, homes: dict[str, Home],
           log: Callable[[str], None] = print, docs: Path = DOCS,
           ) -> list[tuple[str, str, str, str, str]]:
    """Rows (home, key, cached text, rerun text, verdict) for every number of ``names``
    that the pages in ``docs`` quote."""
    cached = run.build(profile, names, log=log, homes=homes)  # what the site publishes
    with tempfile.TemporaryDirectory(prefix="mnist-verify-") as scratch:
        fresh = run.build(profile, names, log=log, homes=homes, runs=cache.Cache(Path(scratch)))
    quoted = published_formats(_pages(docs), {name: set(entry.report["config"])
                                              for name, entry in cached.items()})
    rows = []
    for name in cached:
        if names and name not in names:
            continue
        for key, fmt in sorted(quoted.get(name, {}).items()):
            report = cached[name].report
            published = metric(lookup(report["values"], key)[0], fmt, report["config"])
            try:
                rerun = metric(lookup(fresh[name].report["values"], key)[0], fmt, report["config"])
            except KeyError:
                rows.append((name, key, published["text"], "missing", DIFFERENT))
                continue
            rows.append((name, key, published["text"], rerun["text"], reproduces(published, rerun)))
    return rows


def other_seeds(profile: str, names: list[str] | None, homes: dict[str, Home],
                offset: int = reseed.OFFSET, log: Callable[[str], None] = print,
                docs: Path = DOCS) -> tuple[list[tuple[str, str, str, bool]], dict[str, run.BuildError]]:
    """Every claim the pages in ``docs`` state about ``names`` (default: all), rerun with
    seeds shifted by ``offset``, as (home, key, the page that states it, whether its
    variable is True); and the homes that failed (an exception, or a home they use that
    failed)."""
    entries, failures = run.build_all(profile, names, homes=homes, log=log, keep_going=True,
                                      seed_offset=offset)
    stated = published_claims(_pages(docs))
    claims = []
    for name, entry in entries.items():
        for key, where in sorted(stated.get(name, {}).items()):
            try:
                holds = lookup(entry.report["values"], key)[0] is True
            except KeyError:
                holds = False
            claims.append((name, key, where, holds))
    return claims, failures


def _pages(docs: Path) -> list[tuple[str, str]]:
    return [(str(path.relative_to(docs)), path.read_text(encoding="utf-8"))
            for path in docs.rglob("*.md")]
