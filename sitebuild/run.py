"""Run the homes' notebooks in fresh Jupyter kernels, or load their runs from the cache.

``build(profile)`` returns a verified cache entry for every home, running (in order of
their ``uses``) only those whose key has no entry. A run is the notebook the learner
downloads, executed top to bottom in a new kernel, in an empty working folder, with:

* ``MNIST_TUTORIAL_PROFILE``      the profile (full or smoke);
* ``MNIST_TUTORIAL_REPORT``       where ``report.finish()`` writes ``report.json`` (and
  ``report.asset`` its files, under ``assets/``);
* ``MNIST_TUTORIAL_CHECKPOINTS``  a folder holding the files of the homes it uses; what
  the run saves there becomes this entry's files;
* ``TQDM_DISABLE=1``              no progress bars in the published outputs.

A cell that raises stops the home's run, and the build names the home, the cell and the
error; ``build_all(keep_going=True)`` (``mkdocs serve``) goes on with the other homes and
hands the failures back. Whether the claims hold is not the run's to say: a claim is a
variable of the notebook that a page states, and the site's build checks it
(``sitebuild.plugin.publishing``).
"""

from __future__ import annotations

import atexit
import datetime
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from mnist_tutorial import settings

from . import cache, reseed
from .homes import ROOT, Home, discover, to_notebook

PROFILES = settings.SETTINGS["PROFILE"].choices


class BuildError(RuntimeError):
    """A home could not run; the message names the home, the cell and the error.

    ``home``: its name; ``report``: what its report recorded, if it got that far;
    ``notebook``: the notebook as far as it ran, with the
    error's traceback; ``cell``: the execution count of the cell that raised."""

    def __init__(self, message: str, home: str | None = None, report: dict | None = None,
                 notebook: nbformat.NotebookNode | None = None, cell: int | None = None):
        super().__init__(message)
        self.home, self.report, self.notebook, self.cell = home, report, notebook, cell


# Runs that failed in this process, by (home, key): a rebuild under `mkdocs serve` shows
# the failure again instead of rerunning a home whose code has not changed.
FAILED: dict[tuple[str, str], BuildError] = {}


def git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lessons", "mnist_tutorial"],
                               cwd=ROOT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def build(profile: str, names: list[str] | None = None, refresh: tuple[str, ...] = (),
          log: Callable[[str], None] = print,
          homes: dict[str, Home] | None = None, runs: cache.Cache | None = None,
          ) -> dict[str, cache.Entry]:
    """An entry for each home in ``names`` (default: all) and the homes they use, from
    ``runs`` (default: the build's cache); the first home that fails raises its ``BuildError``."""
    entries, failures = build_all(profile, names, refresh, log, homes, runs=runs)
    if failures:
        raise next(iter(failures.values()))
    return entries


def build_all(profile: str, names: list[str] | None = None, refresh: tuple[str, ...] = (),
              log: Callable[[str], None] = print, homes: dict[str, Home] | None = None,
              keep_going: bool = False, seed_offset: int = 0, runs: cache.Cache | None = None,
              ) -> tuple[dict[str, cache.Entry], dict[str, BuildError]]:
    """Entries of the homes that ran (or were cached), and the failure of each that did not.

    ``keep_going``: a failed home does not stop the others (those that use it are not run;
    their failure says why); a failure is remembered for this process, so the same code
    is not run again. ``seed_offset``: run with every seed shifted (``sitebuild.reseed``);
    such runs are not kept in the cache. ``runs``: the cache (default: the build's)."""
    runs = runs or cache.Cache()
    if profile not in PROFILES:
        raise BuildError(f"unknown profile {profile!r}; use one of {PROFILES}")
    homes = homes if homes is not None else discover(complete=False)
    device = cache.device_kind()
    entries: dict[str, cache.Entry] = {}
    failures: dict[str, BuildError] = {}
    for name, (key, _) in cache.plan(homes, names or list(homes), profile, device).items():
        home = homes[name]
        broken = [u for u in home.uses if u in failures]
        if broken:
            failures[home.name] = BuildError(
                f"{home.where} was not run: it uses {', '.join(broken)}, whose run failed",
                home=home.name)
            continue
        if seed_offset:
            key = f"{key}-seeds+{seed_offset}"
        if keep_going and (home.name, key) in FAILED and home.name not in refresh:
            failures[home.name] = FAILED[(home.name, key)]
            log(f"{home.name}: its run failed before and its code has not changed:\n"
                f"{failures[home.name]}")
            continue
        entry = None if home.name in refresh or seed_offset else runs.load(home.name, key, log)
        if entry is None:
            try:
                entry = execute(home, profile, key, [entries[u] for u in home.uses], log,
                                precision=device.split()[-1], seed_offset=seed_offset,
                                runs=runs)
            except BuildError as error:
                if not keep_going:
                    raise
                FAILED[(home.name, key)] = failures[home.name] = error
                continue
        entries[home.name] = entry
    return entries, failures


_SCRATCH: list[Path] = []


def _scratch() -> Path:
    """A cache folder for this process only, removed when it exits."""
    if not _SCRATCH:
        _SCRATCH.append(Path(tempfile.mkdtemp(prefix="mnist-cache-unkept-")))
        atexit.register(shutil.rmtree, _SCRATCH[0], ignore_errors=True)
    return _SCRATCH[0]


def _environment(work: Path, profile: str, precision: str | None) -> dict[str, str]:
    return {**settings.kernel_environment(profile, work / "report", work / "checkpoints", precision),
            "TQDM_DISABLE": "1",
            "MPLBACKEND": "Agg",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of IPython's tracebacks


def _failure(home: Home, error: Exception, nb: nbformat.NotebookNode,
             report: dict | None) -> BuildError:
    cell = next((c.get("execution_count") for c in nb.cells if c.cell_type == "code"
                 and any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
    where = f"cell [{cell}] of its notebook" if cell else "its notebook"
    if isinstance(error, CellExecutionError):
        lines = [line for line in ANSI.sub("", str(error)).splitlines() if line.strip()]
        message = f"{home.where} failed in {where}:\n  " + "\n  ".join(lines[-12:])
    else:
        message = f"{home.where}: the kernel died ({error})"
    return BuildError(message, home=home.name, report=report, notebook=nb, cell=cell)


LIVE_KERNELS: set[KernelManager] = set()  # kernels running now (on any thread)


def stop_kernels() -> None:
    """Kill every kernel running now (``mkdocs serve`` shutting down with a run going)."""
    for kernel in list(LIVE_KERNELS):
        pgid = getattr(kernel.provisioner, "pgid", None)
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass


def _run_interruptibly(client: NotebookClient, kernel: KernelManager, env: dict) -> None:
    """``client.execute(env=env)``, stopped cleanly by Ctrl-C.

    The kernel runs in a session of its own, so the terminal's SIGINT reaches only us.
    nbclient, run on the main thread, answers it by shutting the kernel down under its own
    feet (the run then fails with an unrelated AssertionError once the cell ends), so it
    runs on a worker thread here, and Ctrl-C interrupts the kernel instead: its cell
    raises, the client returns, and KeyboardInterrupt follows. A kernel that has not begun
    a cell is still starting up (a SIGINT then prints a traceback from its imports): it is
    interrupted in its first cell. A second Ctrl-C, 3 s after the interrupt without an
    end, or 10 s without a cell kills it: a SIGINT that reaches the kernel while it
    receives a cell makes it drop that request ("KeyboardInterrupt caught in kernel"), and
    the client then waits for a reply that never comes, blocking its thread; that thread
    is left behind (a daemon) 2 s after the kill. While it runs, Ctrl-C is counted by a
    handler of ours rather than raised wherever this loop happens to be.
    """
    failure: list[BaseException] = []
    LIVE_KERNELS.add(kernel)
    in_a_cell = threading.Event()  # set once the kernel has answered and runs the first cell
    client.on_cell_start = lambda cell, cell_index: in_a_cell.set()

    def work():
        # The kernel manager is not thread-safe: it is started and stopped on this thread only.
        try:
            try:
                client.execute(env=env)
            finally:
                if kernel.has_kernel:  # a kernel manager we made is ours to stop
                    kernel.shutdown_kernel(now=True)
        except BaseException as error:  # re-raised on the caller's thread
            failure.append(error)

    presses: list[float] = []  # when Ctrl-C was pressed

    def count(signum, frame):  # instead of KeyboardInterrupt, which may strike anywhere below
        presses.append(time.monotonic())

    live = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    previous = signal.signal(signal.SIGINT, count) if live else None
    worker = threading.Thread(target=work, name="home-kernel", daemon=True)
    worker.start()
    def send(pgid: int, signum: int) -> None:
        try:
            os.killpg(pgid, signum)
        except OSError:  # it has just exited
            pass

    try:
        signalled = 0.0  # the last SIGINT
        interrupted = killed = None  # when the first SIGINT, and the SIGKILL, went
        while worker.is_alive():
            worker.join(0.2)
            pgid = getattr(kernel.provisioner, "pgid", None)
            now = time.monotonic()
            if not presses or not pgid:
                continue
            if killed is not None:
                if now - killed > 2:
                    break  # the client waits for a reply the dead kernel never sends
            elif (len(presses) > 1 or now - presses[0] > 10
                  or (interrupted is not None and now - interrupted > 3)):
                send(pgid, signal.SIGKILL)
                killed = now
            elif in_a_cell.is_set() and now - signalled > 1:
                # Repeated once a second: an idle kernel ignores SIGINT, a cell may catch it.
                send(pgid, signal.SIGINT)
                signalled = now
                interrupted = interrupted if interrupted is not None else now
    finally:
        LIVE_KERNELS.discard(kernel)
        if live:
            signal.signal(signal.SIGINT, previous)
    if presses:
        raise KeyboardInterrupt
    if failure:
        raise failure[0]


def execute(home: Home, profile: str, key: str, used: list[cache.Entry],
            log: Callable[[str], None] = print, precision: str | None = None,
            seed_offset: int = 0, runs: cache.Cache | None = None) -> cache.Entry:
    """Run ``home``'s notebook in a new kernel and store the entry under ``key`` in ``runs``
    (default: the build's cache); its
    training runs in ``precision`` (default: what the kernel picks). ``seed_offset``: run
    it with every seed shifted, in a cache of this process only (never published)."""
    log(f"running {home.where} ({profile} profile"
        + (f", seeds shifted by {seed_offset}" if seed_offset else "") + ")...")
    nb = to_notebook(home)
    if seed_offset:
        nb.cells.insert(2, nbformat.v4.new_code_cell(reseed.cell(seed_offset),
                                                     id=f"{home.slug}-reseed"))
    with tempfile.TemporaryDirectory(prefix=f"mnist-{home.name}-") as tmp:
        work = Path(tmp)
        (work / "report").mkdir()
        checkpoints = work / "checkpoints"
        checkpoints.mkdir()
        inherited = set()
        for entry in used:
            for path in entry.files:
                shutil.copyfile(path, checkpoints / path.name)
                inherited.add(path.name)
        started = datetime.datetime.now(datetime.timezone.utc)
        start = time.perf_counter()
        # IPC sockets in the run's own folder: nothing listens on the network.
        kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(work / "kernel"))
        client = NotebookClient(nb, km=kernel, timeout=None, allow_errors=False,
                                resources={"metadata": {"path": str(work)}})
        try:
            _run_interruptibly(client, kernel, _environment(work, profile, precision))
        except (CellExecutionError, DeadKernelError) as error:
            saved = work / "report" / "report.json"
            report = json.loads(saved.read_text(encoding="utf-8")) if saved.is_file() else None
            raise _failure(home, error, nb, report) from None
        wall = time.perf_counter() - start
        report = work / "report" / "report.json"
        if not report.is_file():
            raise BuildError(f"{home.where} ran but wrote no report: "
                             f"does it end with report.finish()?")
        files = {p.name: p for p in sorted(checkpoints.iterdir())
                 if p.is_file() and p.name not in inherited}
        assets = {p.name: p for p in sorted((work / "report" / "assets").glob("*"))}
        provenance = {
            "home": home.where,
            "commit": git_commit(),
            "wall_time_s": round(wall, 1),
            "date": started.isoformat(timespec="seconds"),
            "key": key,
            "nbclient": importlib.metadata.version("nbclient"),
        }
        stored = (home.name, key, report.read_bytes(), nbformat.writes(nb).encode(), files,
                  provenance)
        try:
            runs = cache.Cache(_scratch()) if seed_offset else (runs or cache.Cache())
            entry = runs.store(*stored, assets=assets)
        except OSError as error:
            log(f"warning: {home.name}: the cache {runs.root} cannot be written "
                f"({error.strerror or error}); this build uses the run, but it is not kept. "
                f"Fix: make that folder writable, or set {cache.CACHE_ENV} to one you can "
                f"write.")
            entry = cache.Cache(_scratch()).store(*stored, assets=assets)
    log(f"{home.name}: done in {wall:.1f} s")
    return entry
