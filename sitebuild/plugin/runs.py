"""Running the code homes for a build: all of them first under ``mkdocs build``; under
``mkdocs serve`` the cached ones at once and the rest in the background
(``sitebuild.background``), and a failed home shows on its page instead of stopping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mkdocs.exceptions import PluginError

from mnist_tutorial import settings
from sitebuild import background, homes, run
from sitebuild.plugin.state import BuildState

log = logging.getLogger("mkdocs.plugins.mnist_course")
# Under `mkdocs serve` a failed home is reported on this logger: outside "mkdocs.", so that
# `strict: true` does not count it and stop serving the other pages.
serve_log = logging.getLogger("mnist_tutorial.serve")


def set_up_serve_log() -> None:
    if not serve_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-8s-  %(message)s"))
        serve_log.addHandler(handler)
        serve_log.setLevel(logging.INFO)
        serve_log.propagate = False


def run_homes(state: BuildState, found: dict[str, homes.Home], live_reload: bool,
              runner: Callable[[], background.Runner]) -> tuple[dict, dict]:
    """The cache entries of the homes that have a page, and (under serve) the failures.
    ``runner()``: the serve session's background runner."""
    names = [h.name for h in found.values() if h.page]
    try:
        if state.serving and live_reload:
            return _serve(state, found, names, runner())
        if state.serving:  # no live reload: a page could not show a run that ends later
            return run.build_all(state.profile, names, log=log.info, homes=found, keep_going=True)
        if settings.read("ONLY"):
            raise PluginError(f"{background.ONLY_ENV} is for `mkdocs serve`: a build runs "
                              f"every page. Unset it to build.")
        return run.build_all(state.profile, names, log=log.info, homes=found)
    except (homes.HomeError, run.BuildError, RuntimeError, ValueError) as error:
        raise PluginError(str(error)) from None


def _serve(state: BuildState, found: dict, names: list[str], runner: background.Runner
           ) -> tuple[dict, dict]:
    """What is cached now, and the rest handed to the background runner (only what
    ``$MNIST_TUTORIAL_ONLY`` names, if set)."""
    allowed = background.only(found)
    entries, failures, pending, keys = background.status(state.profile, found, names, log.info)
    runner.finished = lambda: background.touch(background.signal_folder())
    to_run = [name for name in pending if allowed is None or name in allowed]
    runner.request(found, to_run, keys)
    state.pending = {name: runner if name in to_run else None for name in pending}
    for name in pending:
        state.homes[name] = found[name]
    if to_run:
        serve_log.info(f"{len(to_run)} page(s) wait for their runs: {', '.join(to_run)}")
    return entries, failures


def report_failures(failures: dict) -> None:
    for error in failures.values():  # only under `mkdocs serve`
        serve_log.error(f"{error}\n  Its page shows this; the other pages are built as usual. "
                        f"Fix it and save: the home runs again.")


def watch_background_runs(server) -> None:
    """A finished background run touches a file in this folder: MkDocs rebuilds and the
    open pages reload with its results."""
    folder = background.signal_folder()
    server.watch(str(folder))

    def after_start():  # a run that ended before the watcher started: rebuild once it has
        deadline = time.monotonic() + 60
        while not server.observer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        background.touch(folder)

    threading.Thread(target=after_start, name="mnist-first-reload", daemon=True).start()
