"""Content-addressed cache of the homes' runs.

An entry is a folder ``<cache>/<home>/<key>/`` holding

* ``report.json``     what the run's ``Report`` recorded (values, tables, figures);
* ``notebook.ipynb``  the executed notebook, with its outputs;
* ``files/``          files the run saved for other homes (the trained network);
* ``assets/``         files its report publishes for the page's scripts (``report.asset``);
* ``manifest.json``   the SHA-256 of each file above, and the run's provenance.

The key hashes everything that decides the run's numbers: the home's source, the source
of each package module it imports (directly or not, which pins the data's checksums that
``mnist_tutorial/data.py`` holds), the keys of the homes it uses, the profile, torch's
release (``torch_release``: the CUDA and the CPU wheel of one release share entries) and
the kind of device torch picks with the precision it trains in. Editing one home reruns
that home and those that use it, nothing else.

The key leaves out what does not change a run's numbers, so that a run made on one
machine answers on another (``sitebuild.share`` publishes runs with the site and fetches
them back): the machine, its CPU model (site builds train in fp32 unless
``$MNIST_TUTORIAL_PRECISION`` says otherwise: bf16 would tie results to the CPU's
instructions) and the Python version (the numbers come from torch, numpy and the
standard library's seeded ``random``, whose sequences Python keeps stable).

An entry is built in a temporary folder and renamed into place in one step, so an
interrupted build leaves no half-written entry. On load every file is checked against
the manifest: an entry that does not match is moved aside (``<cache>/.damaged/``) and
recomputed, never published.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mnist_tutorial import settings

from .homes import FINISH, FINISH_TEXT, REPORT_TAG, ROOT, SETUP, Home, in_order, library_modules

CACHE_ENV = settings.SETTINGS["CACHE"].variable
DEVICE_ENV = settings.SETTINGS["DEVICE"].variable
PRECISION_ENV = settings.SETTINGS["PRECISION"].variable
SCHEMA = 1  # bump when the layout of an entry changes
SITE_PRECISION = "fp32"  # what site builds train in unless $MNIST_TUTORIAL_PRECISION says
ORIGIN = "origin.json"  # beside a fetched entry's files: where it came from (not digested)


def cache_dir() -> Path:
    """``$MNIST_TUTORIAL_CACHE``, else ``.cache/`` in the course checkout."""
    return (settings.path("CACHE", default=str(ROOT / ".cache"))).resolve()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str:
    # mnist_tutorial.data reads files the same way, but importing it imports torch.
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def torch_release() -> str:
    """torch's version without its local label: ``2.14.1`` for ``2.14.1+cpu`` too.

    The label names a build of the release, not the release: PyPI's Linux wheel
    (``2.14.1``, with CUDA), PyTorch's own CUDA (``2.14.1+cu130``) and CPU (``2.14.1+cpu``,
    which CI installs) wheels. All compute the same thing on the CPU, so their runs share
    cache entries. The device a run used is a separate part of the key (``device_kind``),
    so a CUDA run never answers for a CPU one.
    """
    return importlib.metadata.version("torch").split("+", 1)[0]


def device_kind() -> str:
    """The device type torch picks here for ``$MNIST_TUTORIAL_DEVICE`` and the precision
    training runs in there: ``cpu bf16``, ``cuda fp32``, ...

    Asked of torch in a child process (importing torch here would slow every rebuild) and
    remembered until the machine reboots, the torch version or the settings change. The
    build's kernels are told the precision (``$MNIST_TUTORIAL_PRECISION``), so that every home of a
    build trains in the one its cache key names: ``SITE_PRECISION`` unless
    ``$MNIST_TUTORIAL_PRECISION`` is set (``auto`` lets the kernel's probe choose).
    """
    requested = " ".join([settings.read("DEVICE"), settings.read("PRECISION", default=SITE_PRECISION)])
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = None  # not Linux: ask torch every time
    memo = cache_dir() / "device.json"
    # The full version, local label included (not torch_release()): swapping the CUDA wheel
    # for the CPU one changes which device torch can pick, so it must ask torch again.
    fact = {"torch": importlib.metadata.version("torch"), "requested": requested, "boot": boot}
    if not boot:
        return _ask_torch(requested)
    import fcntl  # POSIX, as /proc is: imported here so that the module loads on Windows
    # Two builds started together must agree: the precision probe times the machine, and
    # each build slowing the other could tip them to different answers (and cache keys).
    # The first takes the lock and probes; the second waits and reads what it found.
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        lock = open(memo.with_suffix(".lock"), "a")
    except OSError:
        return _ask_torch(requested)  # an unwritable cache: store() will say why
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            known = json.loads(memo.read_text())
            if known["fact"] == fact:
                return known["kind"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        kind = _ask_torch(requested)
        try:
            write_atomically(memo, json.dumps({"fact": fact, "kind": kind}).encode())
        except OSError:
            pass  # an unwritable cache: ask torch again next time (store() says why)
        return kind


def _ask_torch(requested: str) -> str:
    device, precision = requested.split()
    probe = subprocess.run(
        [sys.executable, "-c", "from mnist_tutorial.training import pick_device, pick_precision; "
                               "device = pick_device(); print(device.type, pick_precision(device))"],
        capture_output=True, text=True,
        env={**os.environ, DEVICE_ENV: device, PRECISION_ENV: precision, "PYTHONPATH": str(ROOT)})
    if probe.returncode != 0:
        raise RuntimeError(f"{DEVICE_ENV} {PRECISION_ENV} = {requested!r}: "
                           f"{probe.stderr.strip().splitlines()[-1]}")
    return probe.stdout.strip()


def key_inputs(home: Home, profile: str, used: dict[str, str], device: str) -> dict:
    """What ``home``'s key hashes; ``used`` maps each home it uses to its key. Published
    with each shared run, so that ``fetch`` can say why a local key differs."""
    return {
        "schema": SCHEMA,
        "home": sha256(home.path.read_bytes()),
        # The cells the build adds around the home's own (setup, comparison): a cached
        # notebook with older ones would ship them in every download.
        "notebook": sha256("\n".join((SETUP, FINISH_TEXT, FINISH, REPORT_TAG)).encode()),
        "library": {path.name: sha256(path.read_bytes())
                    for path in library_modules(home.source())},
        "uses": used,
        "reads": {read: sha256((home.path.parent.parent / read).read_bytes()) for read in home.reads},
        "profile": profile,
        "device": device,
        "torch": torch_release(),
    }


def key_of(inputs: dict) -> str:
    return sha256(json.dumps(inputs, sort_keys=True).encode())[:32]


def key(home: Home, profile: str, used: dict[str, str], device: str) -> str:
    """The cache key of ``home``'s run; ``used`` maps each home it uses to its key."""
    return key_of(key_inputs(home, profile, used, device))


def plan(homes: dict[str, Home], names: list[str], profile: str, device: str
         ) -> dict[str, tuple[str, dict]]:
    """(key, the inputs it hashes) of each home in ``names`` and of the homes they use,
    in the order a build runs them."""
    planned: dict[str, tuple[str, dict]] = {}
    for home in in_order(homes, names):
        inputs = key_inputs(home, profile, {u: planned[u][0] for u in home.uses}, device)
        planned[home.name] = (key_of(inputs), inputs)
    return planned


def write_atomically(path: Path, data: bytes) -> None:
    """A temporary file in the same folder, then one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Entry:
    """A verified entry: its report, the path of its notebook, its files."""

    def __init__(self, path: Path, manifest: dict):
        self.path = path
        self.manifest = manifest
        self.report = json.loads((path / "report.json").read_text(encoding="utf-8"))

    @property
    def notebook(self) -> Path:
        return self.path / "notebook.ipynb"

    @property
    def files(self) -> list[Path]:
        return [self.path / name for name in sorted(self.manifest["digests"])
                if name.startswith("files/")]

    @property
    def assets(self) -> dict[str, Path]:
        """The files ``report.asset`` recorded, by file name."""
        return {asset["file"]: self.path / "assets" / asset["file"]
                for asset in self.report.get("assets", {}).values()}

    @property
    def provenance(self) -> dict:
        """How the run was made; with ``origin`` (the site's address) if it was fetched."""
        origin = self.path / ORIGIN
        fetched = json.loads(origin.read_text(encoding="utf-8")) if origin.is_file() else {}
        return {**self.report["provenance"], **self.manifest["provenance"], **fetched}


def verified(path: Path) -> Entry:
    """The entry in ``path``; raises (OSError, ValueError, KeyError, TypeError) unless every
    file matches the manifest's digest and the report has a report's shape."""
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    for relative, digest in manifest["digests"].items():
        if _file_digest(path / relative) != digest:
            raise ValueError(f"{relative} does not match its digest")
    entry = Entry(path, manifest)
    shape = {"values": dict, "tables": dict, "figures": dict, "provenance": dict}
    if not isinstance(entry.report, dict) or not all(
            isinstance(entry.report.get(section), kind) for section, kind in shape.items()):
        raise ValueError("report.json is not a report (values, tables, figures, "
                         "provenance)")
    for asset in entry.report.get("assets", {}).values():
        if manifest["digests"].get(f"assets/{asset['file']}") != asset["sha256"]:
            raise ValueError(f"the report's asset {asset['file']} is missing or differs")
    return entry


STALE_AFTER_S = 24 * 3600  # a staging folder this old belongs to a build that was killed


def remove_stale_staging(folder: Path) -> None:
    """Staging folders and temporary files left by killed builds (SIGKILL skips cleanup)."""
    now = time.time()
    for path in folder.glob(".*.tmp"):
        try:
            if now - path.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        except OSError:
            pass


@contextmanager
def staged(final: Path) -> Iterator[Path]:
    """A new folder beside ``final`` to fill, renamed to ``final`` in one step when the
    block ends; removed instead if the block raises, or if a concurrent build put the
    same entry (same key, same inputs) there first."""
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(final.parent)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        yield staging
        if final.exists():
            shutil.rmtree(staging)
        else:
            os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@dataclass(frozen=True)
class Cache:
    """The run cache under ``root``: one verified entry per home and key,
    ``root/<home>/<key>/``. ``Cache()`` is the build's (``cache_dir()``); ``verify`` and
    the seed-shifted runs use one of their own, so that nothing swaps the build's."""

    root: Path = field(default_factory=lambda: cache_dir())

    def entry_path(self, name: str, key_: str) -> Path:
        return self.root / name / key_

    def load(self, name: str, key_: str, log=None) -> Entry | None:
        """The entry if it exists and every file matches its digest; else None."""
        path = self.entry_path(name, key_)
        try:
            if not path.is_dir():
                return None
        except PermissionError:  # an unreadable cache is a miss; storing the run will say more
            return None
        try:
            return verified(path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            damaged = self.root / ".damaged" / f"{name}-{key_}-{int(time.time())}"
            try:
                damaged.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), damaged)
                where = f"moved to {damaged}"
            except OSError as move_error:
                where = f"left in place ({move_error.strerror or move_error})"
            if log:
                log(f"{name}: the cache entry {path} is damaged ({error}); {where}; "
                    f"running it again")
            return None

    def store(self, name: str, key_: str, report: bytes, notebook: bytes, files: dict[str, Path],
              provenance: dict, assets: dict[str, Path] | None = None) -> Entry:
        """Write an entry beside its final place, then rename it there in one step.
        ``assets``: the files ``report.asset`` wrote, by name."""
        final = self.entry_path(name, key_)
        with staged(final) as staging:
            (staging / "report.json").write_bytes(report)
            (staging / "notebook.ipynb").write_bytes(notebook)
            for filename, source in files.items():
                (staging / "files").mkdir(exist_ok=True)
                shutil.copyfile(source, staging / "files" / filename)
            for filename, source in (assets or {}).items():
                (staging / "assets").mkdir(exist_ok=True)
                shutil.copyfile(source, staging / "assets" / filename)
            digests = {p.relative_to(staging).as_posix(): _file_digest(p)
                       for p in sorted(staging.rglob("*")) if p.is_file()}
            manifest = {"schema": SCHEMA, "key": key_, "digests": digests, "provenance": provenance}
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        return Entry(final, manifest)

    def prune(self, homes: list[str], used: dict[str, str] | None, log=print) -> int:
        """Remove what a build left that no build will load: leftovers of interrupted runs
        (``*.tmp``), entries set aside as damaged, and, if ``used`` maps each home to the key
        a build used (a built site's ``results.json`` lists them), every other entry of those
        ``homes``. Other folders of the cache (``site/``, mkdocs-jupyter's) are left alone.
        Returns how many entries went."""
        root, removed = self.root, 0
        if not root.is_dir():
            return 0
        doomed = [root / ".damaged"] if (root / ".damaged").is_dir() else []
        for name in homes:
            for path in sorted((root / name).glob("*")) if (root / name).is_dir() else []:
                if path.name.endswith(".tmp") or (used is not None and path.name != used.get(name)):
                    doomed.append(path)
        for path in doomed:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            log(f"pruned {path}")
            removed += 1
        return removed
