"""Shared runs: the built site carries its cache entries, and ``fetch`` brings them back.

A build writes each entry it used into the site as ``runs/<home>/<key>.tar.gz`` (its
report, executed notebook, saved files and manifest: the files ``cache.load`` verifies)
and lists them in ``runs/index.json`` with the archive's SHA-256 and size, the entry's
provenance and the inputs its key hashes (``cache.key_inputs``). The deploy publishes
them with the pages.

    python -m sitebuild fetch [URL]

computes the local key of every home, downloads each published entry whose key matches,
checks the archive against the index and every file against the entry's manifest
(exactly as ``cache.load`` does), and renames it into the cache in one step. A home whose
key differs is listed with the reason (its code or the package changed, a home it uses
changed, another torch, another device or precision, another profile): ``mkdocs build``
runs those here. URL defaults to ``$MNIST_TUTORIAL_RUNS_URL``, else the site's address
(``$MNIST_TUTORIAL_SITE_URL``), else the GitHub Pages address of the clone's ``origin``
(``pages_url``: the address the deploy publishes to).
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import re
import subprocess
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from mnist_tutorial import settings

from . import cache
from .homes import ROOT, Home

RUNS = "runs"
INDEX = f"{RUNS}/index.json"
RUNS_URL_ENV = settings.SETTINGS["RUNS_URL"].variable
SITE_URL_ENV = settings.SETTINGS["SITE_URL"].variable
INDEX_SCHEMA = 1
TIMEOUT_S = 30
MEMBERS = ("manifest.json", "report.json", "notebook.ipynb")  # and files/*, assets/*


class FetchError(RuntimeError):
    """The published runs cannot be read: the message says which address and why."""


# ---------------------------------------------------------------- publishing


def pack(entry: cache.Entry) -> bytes:
    """The entry as a gzipped tar, byte for byte the same for the same entry (sorted
    names, no times or owners), so that an unchanged run publishes an unchanged file."""
    names = ["manifest.json", *sorted(entry.manifest["digests"])]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            data = (entry.path / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def index(profile: str, entries: dict[str, cache.Entry], inputs: dict[str, dict],
          archives: dict[str, bytes]) -> dict:
    """What ``runs/index.json`` lists: per home its key, archive, digest, size, provenance
    and key inputs."""
    return {
        "schema": INDEX_SCHEMA,
        "profile": profile,
        "homes": {name: {"key": entry.manifest["key"],
                         "file": archive_path(name, entry.manifest["key"]),
                         "sha256": cache.sha256(archives[name]),
                         "size": len(archives[name]),
                         "inputs": inputs[name],
                         "provenance": entry.manifest["provenance"]}
                  for name, entry in sorted(entries.items())},
    }


def archive_path(name: str, key: str) -> str:
    return f"{RUNS}/{name}/{key}.tar.gz"


# ---------------------------------------------------------------- why a key differs


def why(local: dict, published: dict | None) -> str:
    """Why a home's local key inputs differ from the published ones, in a few words."""
    if published is None:
        return "the published site has no run of it"
    reasons = []
    if local["schema"] != published.get("schema"):
        reasons.append("another cache layout")
    if local["home"] != published.get("home"):
        reasons.append("its code changed")
    if local.get("notebook") != published.get("notebook"):
        reasons.append("the notebook's setup or comparison cell changed")
    changed = sorted(name for name in set(local["library"]) | set(published.get("library", {}))
                     if local["library"].get(name) != published.get("library", {}).get(name))
    if changed:
        reasons.append(f"mnist_tutorial/{', '.join(changed)} changed")
    uses = sorted(name for name, key in local["uses"].items()
                  if published.get("uses", {}).get(name) != key)
    if uses:
        reasons.append(f"it uses {', '.join(uses)}, whose run differs")
    reads = sorted(name for name, digest in local["reads"].items()
                   if published.get("reads", {}).get(name) != digest)
    if reads:
        reasons.append(f"{', '.join(reads)} changed")
    for part, words in (("profile", "profile"), ("device", "device or precision"),
                        ("torch", "torch")):
        if local[part] != published.get(part):
            reasons.append(f"another {words} (published: {published.get(part)}, "
                           f"here: {local[part]})")
    return "; ".join(reasons) or "another key"


# ---------------------------------------------------------------- fetching


def default_url() -> str | None:
    """``$MNIST_TUTORIAL_RUNS_URL``, else ``$MNIST_TUTORIAL_SITE_URL``, else the address
    the deploy gives a GitHub repository's site (the clone's ``origin``), else None."""
    given = settings.read("RUNS_URL") or settings.read("SITE_URL")
    if given:
        return given
    try:
        origin = subprocess.run(["git", "remote", "get-url", "origin"], cwd=ROOT,
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return pages_url(origin)


def pages_url(remote: str) -> str | None:
    """GitHub Pages' address of a GitHub repository, as the deploy workflow computes it:
    ``https://owner.github.io/name/``, or the root for a repository named owner.github.io."""
    match = re.fullmatch(r"(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)"
                         r"([\w.-]+)/([\w.-]+?)(?:\.git)?/?", remote)
    if not match:
        return None
    owner, name = match.group(1).lower(), match.group(2)
    if name.lower() == f"{owner}.github.io":
        return f"https://{owner}.github.io/"
    return f"https://{owner}.github.io/{name}/"


def _base(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _get(url: str) -> bytes:
    """The body at ``url`` (http(s) or file); FetchError with one line if it cannot be read."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        raise FetchError(f"{url}: {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise FetchError(f"cannot reach {url}: {error.reason}") from None
    except (OSError, ValueError) as error:  # timeouts, resets, malformed addresses
        raise FetchError(f"cannot read {url}: {error}") from None


def read_index(url: str) -> dict:
    where = _base(url) + INDEX
    try:
        document = json.loads(_get(where))
        if document["schema"] != INDEX_SCHEMA or not isinstance(document["homes"], dict):
            raise ValueError(f"schema {document['schema']}")
    except (ValueError, KeyError, TypeError) as error:
        raise FetchError(f"{where} is not an index of published runs ({error})") from None
    return document


def unpack(archive: bytes, name: str, key: str, origin: dict) -> cache.Entry:
    """Check and place one downloaded entry: ValueError, and nothing written into the
    cache, if any file is missing, unexpected or does not match its digest."""
    final = cache.Cache().entry_path(name, key)
    with cache.staged(final) as staging:
        try:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                for member in tar.getmembers():
                    path = PurePosixPath(member.name)
                    allowed = (member.name in MEMBERS or (
                        len(path.parts) == 2 and path.parts[0] in ("files", "assets")
                        and path.parts[1] not in ("..", ".")))
                    if not member.isfile() or not allowed:
                        raise ValueError(f"unexpected member {member.name!r}")
                    (staging / path).parent.mkdir(exist_ok=True)
                    (staging / path).write_bytes(tar.extractfile(member).read())
        except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as error:
            raise ValueError(f"not a readable archive ({error})") from None
        try:
            entry = cache.verified(staging)
        except (OSError, KeyError, TypeError) as error:
            raise ValueError(f"incomplete entry ({error})") from None
        if entry.manifest.get("key") != key:
            raise ValueError(f"its manifest names key {entry.manifest.get('key')}")
        unlisted = {p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()}
        unlisted -= {"manifest.json", *entry.manifest["digests"]}
        if unlisted:
            raise ValueError(f"files its manifest does not list: {', '.join(sorted(unlisted))}")
        (staging / cache.ORIGIN).write_text(json.dumps(origin), encoding="utf-8")
    return cache.verified(final)


@dataclass
class Fetched:
    """What ``fetch`` did: homes fetched, already cached, rejected, and still to run (why)."""
    fetched: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    to_run: dict[str, str] = field(default_factory=dict)
    downloaded_bytes: int = 0
    published: dict = field(default_factory=dict)  # the index


def fetch(url: str, homes: dict[str, Home], profile: str,
          log: Callable[[str], None] = print) -> Fetched:
    """Bring every published run whose key matches the local one into the cache."""
    document = read_index(url)
    result = Fetched(published=document)
    plan = cache.plan(homes, list(homes), profile, cache.device_kind())
    origin = {"origin": _base(url),
              "fetched": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    for name, (key, inputs) in plan.items():
        if cache.Cache().load(name, key, log) is not None:
            result.cached.append(name)
            continue
        published = document["homes"].get(name)
        if published is None or published.get("key") != key:
            result.to_run[name] = why(inputs, published and published.get("inputs"))
            continue
        where = _base(url) + published["file"]
        try:
            archive = _get(where)
            result.downloaded_bytes += len(archive)
            if len(archive) != published["size"] or cache.sha256(archive) != published["sha256"]:
                raise ValueError(f"{len(archive)} bytes that do not match the index's digest "
                                 f"({published['size']} bytes expected): truncated or altered")
            unpack(archive, name, key, origin)
        except (FetchError, ValueError) as error:
            result.rejected[name] = f"{where}: {error}"
            result.to_run[name] = "its published run was rejected"
            log(f"{name}: rejected {where}: {error}; it runs here instead")
            continue
        result.fetched.append(name)
    return result
