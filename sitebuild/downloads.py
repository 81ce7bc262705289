"""What a site build publishes for readers to take away, beside its pages.

* The course's wheel, ``downloads/mnist_tutorial-<version>-py3-none-any.whl``: the
  notebooks' setup cell installs it where the course is missing (Colab), so nothing is
  cloned or built there; ``git+https://github.com/OWNER/NAME@<commit>`` is the fallback.
* The offline copy, ``downloads/course-offline.zip`` (``$MNIST_TUTORIAL_OFFLINE_COPY=1``;
  the deploy sets it): the same site built again with Material's ``offline`` plugin, so
  that its pages, search, figures, maths and interactive pages work from ``file://``.

The mnist-course plugin (``sitebuild/plugin/``) calls these; nothing here runs a lesson.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from mnist_tutorial import settings
from sitebuild.cache import write_atomically

ROOT = Path(__file__).resolve().parent.parent
DOWNLOADS = "downloads"
OFFLINE_ZIP = f"{DOWNLOADS}/course-offline.zip"
OFFLINE_FOLDER = "mnist-course"  # what unzipping the copy creates
OFFLINE_COPY_ENV = settings.SETTINGS["OFFLINE_COPY"].variable  # 1: this build also writes the copy
OFFLINE_ENV = settings.SETTINGS["OFFLINE"].variable  # set in the copy's own build (mkdocs.yml)
# Zip entries and the wheel carry this date (1980-01-01, zip's first), not the build's: the
# same site gives the same bytes, and the deploy's upload changes only what changed.
FIXED_DATE = 315532800
WHEEL_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "mnist_tutorial")
# What the learner's wheel leaves out of pyproject.toml: the site's build, its plugin.
BUILD_ONLY_TABLE = re.compile(r'^\[project\.entry-points\."mkdocs\.plugins"\]\n(?:[^\[\n].*\n|\n)*',
                              re.MULTILINE)
BUILD_ONLY_PACKAGES = ', "sitebuild*"'


class DownloadError(RuntimeError):
    """A download could not be built; the message names the cause and the fix."""


def truthy(name: str) -> bool:
    """Whether the yes/no variable ``name`` (``OFFLINE_ENV``, ``OFFLINE_COPY_ENV``) is on."""
    return settings.flag(name)


def wheel_name(root: Path = ROOT) -> str:
    """The wheel's file name, from pyproject.toml (the notebooks name it before it exists)."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    name = re.search(r'^name\s*=\s*"([^"]+)"', text, re.MULTILINE)
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not (name and version):
        raise DownloadError("pyproject.toml has no [project] name and version")
    return f"{re.sub(r'[-_.]+', '_', name.group(1)).lower()}-{version.group(1)}-py3-none-any.whl"


def has_package(root: Path = ROOT) -> bool:
    """Whether there is a package to publish (a preview or test project may have none)."""
    return (root / "pyproject.toml").is_file()


def course_addresses(site_url: str | None, wheel: str | None, repo: str,
                     commit: str | None) -> list[str]:
    """Where the notebooks' setup cell installs the course from, in order: the wheel
    this site publishes (a file name; only a site with an address has one a notebook can
    reach), then the repository at the site's commit (built from source by pip)."""
    addresses = []
    if site_url and wheel:
        addresses.append(f"{site_url.rstrip('/')}/{DOWNLOADS}/{wheel}")
    if repo:
        addresses.append(f"git+https://github.com/{repo}" + (f"@{commit}" if commit else ""))
    return addresses


def learner_pyproject(text: str) -> str:
    """pyproject.toml without the site's build: no ``sitebuild`` package and no entry
    point to the MkDocs plugin (the wheel does not hold it)."""
    learner = BUILD_ONLY_TABLE.sub("", text).replace(BUILD_ONLY_PACKAGES, "")
    if '"mkdocs.plugins"' in learner or '"sitebuild*"' in learner:
        raise DownloadError("pyproject.toml's plugin entry point or packages.find include changed: "
                            "update BUILD_ONLY_TABLE / BUILD_ONLY_PACKAGES in sitebuild/downloads.py")
    return learner


def copy_wheel_inputs(root: Path, source: Path) -> None:
    """The files the learner's wheel is built from, into ``source``."""
    source.mkdir(parents=True, exist_ok=True)
    for name in WHEEL_INPUTS:
        path = root / name
        if name == "pyproject.toml":
            text = learner_pyproject(path.read_text(encoding="utf-8"))
            (source / name).write_text(text, encoding="utf-8")
        elif path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)


def build_wheel(root: Path = ROOT) -> bytes:
    """The course's wheel, built from a copy of the package's files (no build/ or
    *.egg-info left in the checkout, and concurrent builds do not meet) with the
    setuptools installed here (pinned in constraints.txt; nothing is downloaded)."""
    with tempfile.TemporaryDirectory(prefix="mnist-wheel-") as tmp:
        source, out = Path(tmp) / "source", Path(tmp) / "out"
        copy_wheel_inputs(root, source)
        process = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--no-cache-dir", "--quiet", "-w", str(out), str(source)],
            capture_output=True, text=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_DATE),
                 "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        wheels = list(out.glob("*.whl"))
        if process.returncode != 0 or len(wheels) != 1:
            raise DownloadError(f"building the course's wheel failed (pip wheel, exit "
                                f"{process.returncode}):\n{process.stderr[-2000:]}\nIs setuptools "
                                f"installed? pip install -r requirements.txt -c constraints.txt")
        if wheels[0].name != wheel_name(root):
            raise DownloadError(f"pip built {wheels[0].name}, expected {wheel_name(root)}")
        return wheels[0].read_bytes()


def asset_script(data: bytes) -> str:
    """A script that hands ``data`` to the page that loads it: an offline copy's pages
    are opened as file://, where browsers refuse fetch() (docs/javascripts/assets.js)."""
    encoded = base64.b64encode(data).decode("ascii")
    return ("(window.courseAssets = window.courseAssets || {})"
            f'[document.currentScript.src.replace(/\\.js$/, "")] = "{encoded}";\n')


def build_offline_copy(config_file: str, site_dir: str) -> Path:
    """Build the site again with Material's offline plugin and zip it into the site's
    ``downloads/course-offline.zip``; the run cache serves every lesson (the main build
    has just run them), so this costs a second rendering, not a second run."""
    zip_path = Path(site_dir) / OFFLINE_ZIP
    with tempfile.TemporaryDirectory(prefix="mnist-offline-") as tmp:
        folder = Path(tmp) / OFFLINE_FOLDER
        env = {**os.environ, OFFLINE_ENV: "true", OFFLINE_COPY_ENV: "0"}
        process = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", config_file,
             "-d", str(folder)],
            cwd=Path(config_file).parent, env=env, capture_output=True, text=True)
        if process.returncode != 0:
            raise DownloadError(f"the offline copy's build failed:\n{process.stderr[-3000:]}")
        write_atomically(zip_path, zip_folder(folder))
    zip_path.chmod(0o644)  # the site's other files' mode, not the temporary file's
    return zip_path


def zip_folder(folder: Path) -> bytes:
    """``folder`` as a zip whose entries sit under ``folder.name/``, in sorted order and
    with one fixed date: the same files give the same bytes."""
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as buffer:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                name = f"{folder.name}/{path.relative_to(folder).as_posix()}"
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
        buffer.seek(0)
        return buffer.read()
