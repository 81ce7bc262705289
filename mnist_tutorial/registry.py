"""Named experiments and the content-addressed cache of their results.

An experiment is a pure function of a frozen config that returns plain results:
``metrics`` (numbers with units), ``histories`` (lists), ``tables`` and ``figures``
(SVG text with alt text), and optionally ``files`` (name -> bytes, e.g. a checkpoint
another experiment loads with ``get_file``; stored beside the entry, never in it). Each lesson declares its experiments in a module of
``mnist_tutorial/experiments/`` with the ``@experiment`` decorator, one config per
profile (``full`` for the site, ``smoke`` for tests and previews).

``get_result(name)`` returns the cached result when one exists for exactly this

* experiment name, profile and config,
* source of every ``.py`` file in ``mnist_tutorial/`` (which also pins the data:
  ``data.py`` holds the published SHA-256 of the four files, checked on every load),
* torch version and device kind (cpu / cuda / mps),

and runs the experiment otherwise. Entries and their files are written to a temporary
file and renamed into place, files first, so an interrupted run never leaves a
half-written entry or an entry without its files.

This module and the experiment modules import no torch at import time: a site
rebuild that hits the cache stays fast (importing torch alone takes seconds).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib
import importlib.metadata
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .config import PROFILES, current_profile
from .errors import ExperimentError

PACKAGE_DIR = Path(__file__).resolve().parent
CACHE_ENV = "MNIST_TUTORIAL_CACHE"
DEVICE_ENV = "MNIST_TUTORIAL_DEVICE"


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    run: Callable[[Any], dict]
    configs: dict[str, Any]  # profile -> frozen config

    def config(self, profile: str):
        return self.configs[profile]


_REGISTRY: dict[str, Experiment] = {}


def experiment(name: str, title: str, full, smoke):
    """Register ``run(config) -> results`` under ``name`` with one config per profile."""

    def register(run):
        if name in _REGISTRY and _REGISTRY[name].run.__module__ != run.__module__:
            raise ExperimentError(f"experiment {name!r} is declared twice")
        _REGISTRY[name] = Experiment(name, title, run, {"full": full, "smoke": smoke})
        return run

    return register


def experiments() -> dict[str, Experiment]:
    """Every experiment, by name (imports the torch-free experiment modules)."""
    from . import experiments as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))


def find(name: str) -> Experiment:
    registry = experiments()
    if name not in registry:
        raise ExperimentError(
            f"unknown experiment {name!r}; known: {', '.join(registry) or 'none'}")
    return registry[name]


# ---------------------------------------------------------------- results helpers

def scientific_text(value: float, digits: int = 2) -> str:
    """0.27, 42 or 1.2 × 10⁻¹⁶: for numbers that span many powers of ten."""
    if value == 0:
        return "0"
    if 1e-2 <= abs(value) < 10 ** digits:
        return f"{value:.{digits}g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    superscript = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mantissa}\u00a0×\u00a010{superscript}"


def metric(value: float, unit: str = "number", digits: int = 2, std: float | None = None) -> dict:
    """A number with the text the pages show for it (so prose and results.json agree).

    Units: percent (value in 0..1), seconds, number, count, scientific (any magnitude).
    """
    if unit == "scientific":
        return {"value": value, "unit": unit, "std": std, "text": scientific_text(value, digits)}
    scale, suffix = {"percent": (100, "\u00a0%"), "seconds": (1, "\u00a0s"),
                     "number": (1, ""), "count": (1, "")}[unit]
    if unit == "count":
        text = f"{int(value):,}".replace(",", "\u202f")  # narrow no-break space
    else:
        text = f"{value * scale:.{digits}f}"
        if std is not None:
            text += f"\u00a0±\u00a0{std * scale:.{digits}f}"
        text += suffix
    return {"value": value, "unit": unit, "std": std, "text": text}


def table(columns: list[str], rows: list[list], caption: str = "") -> dict:
    """A table for the pages: ``rows`` hold display strings or numbers."""
    return {"columns": columns, "rows": rows, "caption": caption}


# ---------------------------------------------------------------- the cache

def cache_dir() -> Path:
    """``$MNIST_TUTORIAL_CACHE``, else ``.cache/`` in the course checkout (or the user cache)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    checkout = PACKAGE_DIR.parent
    if (checkout / "mkdocs.yml").is_file():
        return checkout / ".cache"
    return Path("~/.cache/mnist_tutorial/results").expanduser()


def source_digest() -> str:
    """SHA-256 over the path and bytes of every ``.py`` file of the package."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def requested_device() -> str:
    return os.environ.get(DEVICE_ENV, "auto") or "auto"


def device_kind() -> str:
    """The device type ``auto`` resolves to, found without importing torch if possible."""
    requested = requested_device()
    if requested != "auto":
        return requested.split(":")[0]
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if Path("/proc/driver/nvidia/version").exists() else "cpu"


def _jsonable(config) -> Any:
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config


def cache_key(exp: Experiment, profile: str) -> str:
    blob = json.dumps({
        "experiment": exp.name,
        "profile": profile,
        "config": _jsonable(exp.config(profile)),
        "source": source_digest(),
        "torch": importlib.metadata.version("torch"),
        "device": device_kind(),
    }, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def entry_path(name: str, key: str) -> Path:
    return cache_dir() / name / f"{key}.json"


def load_entry(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        path.unlink(missing_ok=True)  # unreadable: never trust it, recompute
        return None


def file_path(entry: Path, filename: str) -> Path:
    """Where the file ``filename`` of the entry at ``entry`` lives: ``<key>.<filename>``."""
    return entry.with_name(f"{entry.stem}.{filename}")


def _write_atomically(path: Path, data: bytes) -> None:
    """A temporary file in the same folder, then one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_entry(path: Path, result: dict, files: dict[str, bytes] | None = None) -> None:
    """Write the entry's files, then the entry: each atomically, the entry last."""
    for filename, data in (files or {}).items():
        _write_atomically(file_path(path, filename), data)
    _write_atomically(path, json.dumps(result).encode())


# ---------------------------------------------------------------- running

def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=PACKAGE_DIR,
                             capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=PACKAGE_DIR,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+changes" if dirty else "")


def _device_description(kind: str) -> str:
    torch = sys.modules.get("torch")
    if torch is not None and kind == "cuda" and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    if torch is not None and kind == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return kind


def run_experiment(exp: Experiment, profile: str) -> dict:
    """Run ``exp`` now, without looking at the cache, and return its full result."""
    config = exp.config(profile)
    started = datetime.datetime.now(datetime.timezone.utc)
    start = time.perf_counter()
    try:
        out = exp.run(config)
    except Exception as error:
        raise ExperimentError(
            f"experiment {exp.name!r} ({profile} profile) failed: "
            f"{type(error).__name__}: {error}") from error
    wall = time.perf_counter() - start
    kind = device_kind()
    return {
        "experiment": exp.name,
        "title": exp.title,
        "profile": profile,
        "config": _jsonable(config),
        "metrics": out.get("metrics", {}),
        "histories": out.get("histories", {}),
        "tables": out.get("tables", {}),
        "figures": out.get("figures", {}),
        "files": out.get("files", {}),  # name -> bytes; the stored entry lists the names
        "provenance": {
            "commit": _git_commit(),
            "torch": importlib.metadata.version("torch"),
            "device": _device_description(kind),
            "seeds": out.get("seeds"),
            "wall_time_s": round(wall, 2),
            "date": started.isoformat(timespec="seconds"),
            "profile": profile,
        },
    }


def get_result(name: str, profile: str | None = None, refresh: bool = False,
               log: Callable[[str], None] | None = None) -> dict:
    """The result of experiment ``name``: from the cache if possible, else run and store it.

    A result is stored only if the package's source on disk is the one this process
    imported and did not change during the run: otherwise the key (computed from the
    files) would not describe the code that ran. A long-lived process (``mkdocs serve``,
    a notebook kernel) whose package was edited gets an error asking for a new process.
    """
    profile = profile or current_profile()
    if profile not in PROFILES:
        raise ExperimentError(f"unknown profile {profile!r}; use one of {PROFILES}")
    exp = find(name)
    key = cache_key(exp, profile)
    path = entry_path(name, key)
    if not refresh:
        cached = load_entry(path)
        if cached is not None:
            return cached
    digest = source_digest()
    if digest != _SOURCE_AT_IMPORT:
        raise ExperimentError(
            f"the code in {PACKAGE_DIR} changed after this process imported it, so a result "
            f"computed here would not match its cache key; run it in a new process: "
            f"python -m mnist_tutorial run {name} (in a notebook: restart the kernel)")
    if log:
        log(f"running experiment {name!r} ({profile} profile, not in the cache {path.parent})")
    result = run_experiment(exp, profile)
    files, result["files"] = result["files"], sorted(result["files"])
    result["provenance"]["cache_key"] = key
    if source_digest() != digest:
        if log:
            log(f"experiment {name!r}: the package changed while it ran; result not cached")
        return result
    store_entry(path, result, files)
    if log:
        log(f"experiment {name!r} done in {result['provenance']['wall_time_s']:.1f} s")
    return result


def get_file(name: str, filename: str, profile: str | None = None,
             log: Callable[[str], None] | None = None) -> Path:
    """The path of a file experiment ``name`` saved beside its cached result (run if needed)."""
    result = get_result(name, profile, log=log)
    path = file_path(entry_path(name, result["provenance"]["cache_key"]), filename)
    if filename not in result.get("files", []):
        raise ExperimentError(f"experiment {name!r} saves no file {filename!r}; "
                              f"it saves: {', '.join(result.get('files', [])) or 'none'}")
    if not path.is_file():  # deleted by hand: the entry alone cannot give it back
        result = get_result(name, profile, refresh=True, log=log)
    if not path.is_file():
        raise ExperimentError(f"experiment {name!r} ran but {path} was not written "
                              f"(did the package change while it ran? build again)")
    return path


def is_cached(name: str, profile: str | None = None) -> bool:
    profile = profile or current_profile()
    return entry_path(name, cache_key(find(name), profile)).is_file()


_SOURCE_AT_IMPORT = source_digest()
