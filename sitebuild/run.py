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

A cell that raises (a failed claim among them) stops the build with the home, the cell
and the error named.
"""

from __future__ import annotations

import atexit
import datetime
import importlib.metadata
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

from . import cache
from .homes import ROOT, Home, discover, in_order, to_notebook

PROFILES = ("full", "smoke")
CHECKPOINTS_ENV = "MNIST_TUTORIAL_CHECKPOINTS"
REPORT_ENV = "MNIST_TUTORIAL_REPORT"
DATA_ENV = "MNIST_TUTORIAL_DATA"


class BuildError(RuntimeError):
    """A home could not run; the message names the home, the cell and the error."""


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
          homes: dict[str, Home] | None = None) -> dict[str, cache.Entry]:
    """An entry for each home in ``names`` (default: all) and the homes they use."""
    if profile not in PROFILES:
        raise BuildError(f"unknown profile {profile!r}; use one of {PROFILES}")
    homes = homes if homes is not None else discover(complete=False)
    device = cache.device_kind()
    keys: dict[str, str] = {}
    entries: dict[str, cache.Entry] = {}
    for home in in_order(homes, names or list(homes)):
        key = cache.key(home, profile, {u: keys[u] for u in home.uses}, device)
        keys[home.name] = key
        entry = None if home.name in refresh else cache.load(home.name, key, log)
        if entry is None:
            entry = execute(home, profile, key, [entries[u] for u in home.uses], log,
                            precision=device.split()[-1])
        entries[home.name] = entry
    return entries


_SCRATCH: list[Path] = []


def _scratch() -> Path:
    """A cache folder for this process only, removed when it exits."""
    if not _SCRATCH:
        _SCRATCH.append(Path(tempfile.mkdtemp(prefix="mnist-cache-unkept-")))
        atexit.register(shutil.rmtree, _SCRATCH[0], ignore_errors=True)
    return _SCRATCH[0]


def _environment(work: Path, profile: str, precision: str | None) -> dict[str, str]:
    env = {**os.environ,
           "MNIST_TUTORIAL_PROFILE": profile,
           **({cache.PRECISION_ENV: precision} if precision else {}),
           REPORT_ENV: str(work / "report"),
           CHECKPOINTS_ENV: str(work / "checkpoints"),
           "TQDM_DISABLE": "1",
           "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if env.get(DATA_ENV):  # the kernel runs in another folder: a relative root would move
        env[DATA_ENV] = str(Path(env[DATA_ENV]).expanduser().resolve())
    return env


ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of IPython's tracebacks


def _failure(home: Home, error: Exception) -> str:
    if isinstance(error, CellExecutionError):
        lines = [line for line in ANSI.sub("", str(error)).splitlines() if line.strip()]
        return (f"{home.where} failed in its notebook:\n  "
                + "\n  ".join(lines[-12:]))
    return f"{home.where}: the kernel died ({error})"


def _run_interruptibly(client: NotebookClient, kernel: KernelManager, env: dict) -> None:
    """``client.execute(env=env)``, stopped cleanly by Ctrl-C.

    The kernel runs in a session of its own, so the terminal's SIGINT reaches only us.
    nbclient, run on the main thread, answers it by shutting the kernel down under its own
    feet (the run then fails with an unrelated AssertionError once the cell ends), so it
    runs on a worker thread here, and Ctrl-C interrupts the kernel instead: its cell
    raises, the client returns, and KeyboardInterrupt follows. A kernel that has not begun
    a cell is still starting up (a SIGINT then prints a traceback from its imports): it is
    interrupted in its first cell. A second Ctrl-C, or 10 s without an end, kills it.
    While it runs, Ctrl-C is counted by a handler of ours rather than raised wherever
    this loop happens to be.
    """
    failure: list[BaseException] = []
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
    try:
        signalled = 0.0
        while worker.is_alive():
            worker.join(0.2)
            pgid = getattr(kernel.provisioner, "pgid", None)
            now = time.monotonic()
            if presses and pgid and now - signalled > 1:
                # Repeated once a second: an idle kernel ignores SIGINT, a cell may catch it.
                kill = len(presses) > 1 or now - presses[0] > 10
                if kill or in_a_cell.is_set():
                    try:
                        os.killpg(pgid, signal.SIGKILL if kill else signal.SIGINT)
                    except OSError:  # it has just exited
                        pass
                    signalled = now
    finally:
        if live:
            signal.signal(signal.SIGINT, previous)
    if presses:
        raise KeyboardInterrupt
    if failure:
        raise failure[0]


def execute(home: Home, profile: str, key: str, used: list[cache.Entry],
            log: Callable[[str], None] = print, precision: str | None = None) -> cache.Entry:
    """Run ``home``'s notebook in a new kernel and store the entry under ``key``; its
    training runs in ``precision`` (default: what the kernel picks)."""
    log(f"running {home.where} ({profile} profile)...")
    nb = to_notebook(home)
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
            raise BuildError(_failure(home, error)) from None
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
            entry = cache.store(*stored, assets=assets)
        except OSError as error:
            log(f"warning: {home.name}: the cache {cache.cache_dir()} cannot be written "
                f"({error.strerror or error}); this build uses the run, but it is not kept. "
                f"Fix: make that folder writable, or set {cache.CACHE_ENV} to one you can "
                f"write.")
            entry = cache.store(*stored, root=_scratch(), assets=assets)
    log(f"{home.name}: done in {wall:.1f} s")
    return entry
