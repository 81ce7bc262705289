"""The runs behind ``mkdocs serve``: the site is served at once, the homes run meanwhile.

Under ``mkdocs serve`` the mnist-course plugin (``sitebuild/plugin/runs.py``) asks
``status`` which homes are cached (their pages show their results), which failed and which
are pending, and hands the pending ones to the session's one ``Runner``. Its thread
runs them one at a time in the build's order (each in a fresh kernel, as ``mkdocs build``
does) and, after each, touches a file in a folder the server watches: MkDocs rebuilds
(loading the new entry from the cache) and the open pages reload. A rebuild hands it a
new list (an edited home joins it, a home no longer needed leaves it); the home running
then finishes first.

``MNIST_TUTORIAL_ONLY=training,evaluation`` runs only those homes and the homes they use;
the others are served from the cache, or say they were not run.
``MNIST_TUTORIAL_FETCH=1`` first fetches the published runs (``sitebuild.share``).

The plugin object lasts the whole ``mkdocs serve`` session (it has ``on_startup``) and
holds the one ``Runner``; its build state is made afresh at each rebuild.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mnist_tutorial import settings

from . import cache, run, share
from .homes import Home, in_order

ONLY_ENV = settings.SETTINGS["ONLY"].variable
FETCH_ENV = settings.SETTINGS["FETCH"].variable


def only(homes: dict[str, Home]) -> set[str] | None:
    """The homes ``$MNIST_TUTORIAL_ONLY`` names and those they use; None when unset."""
    setting = settings.read("ONLY")
    if not setting:
        return None
    names = [name.strip().replace("-", "_") for name in setting.split(",") if name.strip()]
    unknown = [name for name in names if name not in homes]
    if unknown:
        raise ValueError(f"{ONLY_ENV} names {', '.join(unknown)}, which are not homes; "
                         f"known: {', '.join(sorted(homes))}")
    return {home.name for home in in_order(homes, names)}


def status(profile: str, homes: dict[str, Home], names: list[str], log=None
           ) -> tuple[dict[str, cache.Entry], dict[str, run.BuildError], list[str], dict[str, str]]:
    """Without running anything: the cached entries, the failures this process remembers
    (and the homes that use a failed one), the homes still to run, in order, and each
    home's key."""
    keys = {name: key for name, (key, _) in
            cache.plan(homes, names, profile, cache.device_kind()).items()}
    entries: dict[str, cache.Entry] = {}
    failures: dict[str, run.BuildError] = {}
    pending: list[str] = []
    for home in (homes[name] for name in keys):
        broken = [u for u in home.uses if u in failures]
        if broken:
            failures[home.name] = run.BuildError(
                f"{home.where} was not run: it uses {', '.join(broken)}, whose run failed",
                home=home.name)
        elif (home.name, keys[home.name]) in run.FAILED:
            failures[home.name] = run.FAILED[(home.name, keys[home.name])]
        elif (entry := cache.Cache().load(home.name, keys[home.name], log)) is not None:
            entries[home.name] = entry
        else:
            pending.append(home.name)
    return entries, failures, pending, keys


def past_wall_time(name: str, published: dict | None = None) -> float | None:
    """How long ``name`` ran before: in the published index, else in any cached entry
    of it (the newest), else None."""
    if published and name in published.get("homes", {}):
        return published["homes"][name]["provenance"].get("wall_time_s")
    best = None
    for manifest in (cache.cache_dir() / name).glob("*/manifest.json"):
        try:
            stamp = manifest.stat().st_mtime
            seconds = json.loads(manifest.read_text())["provenance"]["wall_time_s"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if best is None or stamp > best[0]:
            best = (stamp, seconds)
    return best[1] if best else None


class Runner:
    """One thread that runs pending homes in order and calls ``finished`` after each."""

    def __init__(self, profile: str, log: Callable[[str], None]):
        self.profile, self.log = profile, log
        self.finished: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._homes: dict[str, Home] = {}
        self._keys: dict[str, str] = {}
        self.queue: list[str] = []  # still to run, in order; the running one first
        self.done: list[str] = []  # run since the queue was last empty
        self.current: str | None = None
        self.started = 0.0
        self.published: dict | None = None
        self.estimates: dict[str, float | None] = {}
        self._fetch_first = settings.read("FETCH") == "1"
        self._thread = threading.Thread(target=self._loop, name="mnist-runs", daemon=True)
        self._thread.start()

    def request(self, homes: dict[str, Home], pending: list[str], keys: dict[str, str]) -> None:
        """Run ``pending`` (in this order) from now on; ``keys``: every home's key."""
        with self._lock:
            self._homes, self._keys = homes, keys
            keep = [self.current] if self.current in pending else []
            self.queue = keep + [name for name in pending if name != self.current]
            for name in self.queue:
                self.estimates.setdefault(name, past_wall_time(name, self.published))
        if self.queue or self._fetch_first:
            self._wake.set()

    def progress(self, name: str) -> tuple[int, int, float | None] | None:
        """(k, n, seconds left until ``name``'s run ends, or None if unknown) while
        ``name`` waits or runs; None otherwise."""
        with self._lock:
            if name not in self.queue:
                return None
            ahead = self.queue[: self.queue.index(name) + 1]
            left = 0.0
            for other in ahead:
                estimate = self.estimates.get(other)
                if estimate is None:
                    return len(self.done) + len(ahead), len(self.done) + len(self.queue), None
                if other == self.current:
                    estimate = max(estimate - (time.monotonic() - self.started), 1.0)
                left += estimate
            return len(self.done) + len(ahead), len(self.done) + len(self.queue), left

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._fetch_first:
                self._fetch_first = False
                self._fetch()
            while True:
                with self._lock:
                    if not self.queue:
                        self.done = []
                        break
                    name, homes, key = self.queue[0], self._homes, self._keys.get(self.queue[0])
                    self.current, self.started = name, time.monotonic()
                k, n, left = self.progress(name)
                eta = f"about {left:.0f} s left" if left is not None else "time unknown"
                self.log(f"run {k} of {n}: lessons/{name}.py ({eta} for it; "
                         f"the site is served meanwhile)")
                try:
                    run.build_all(self.profile, [name], log=self.log, homes=homes,
                                  keep_going=True)
                except Exception as error:  # a broken home must not stop the others
                    # Remembered under its key, so that the rebuild shows it, not reruns it.
                    run.FAILED[(name, key)] = run.BuildError(f"lessons/{name}.py: {error}",
                                                             home=name)
                    self.log(f"{name}: {error}")
                with self._lock:
                    self.current = None
                    if name in self.queue:
                        self.queue.remove(name)
                    self.done.append(name)
                self.finished()

    def _fetch(self) -> None:
        url = share.default_url()
        if not url:
            self.log(f"{FETCH_ENV}=1 but no address: set {share.RUNS_URL_ENV}")
            return
        try:
            result = share.fetch(url, self._homes, self.profile, log=self.log)
        except share.FetchError as error:
            self.log(f"fetch: {error}; the homes run here")
            return
        self.published = result.published
        self.log(f"fetched {len(result.fetched)} runs from {url}")
        with self._lock:
            self.queue = [name for name in self.queue if name not in result.fetched]
            for name in self.queue:
                self.estimates[name] = past_wall_time(name, self.published)
        if result.fetched:
            self.finished()


def signal_folder() -> Path:
    """The folder ``mkdocs serve`` watches for finished runs."""
    folder = cache.cache_dir() / "serve"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def touch(folder: Path) -> None:
    cache.write_atomically(folder / "finished", f"{time.time()}\n".encode())
