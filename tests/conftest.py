"""Shared fixtures: the real data folder and the smoke-profile site, built once per run.

The data root comes from ``$MNIST_TUTORIAL_DATA`` (CI points it at ``../shared/mnist``).
Nothing here downloads: ``MNIST_TUTORIAL_DOWNLOAD=0`` is set for the whole session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ["MNIST_TUTORIAL_DOWNLOAD"] = "0"
os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    from mnist_tutorial.data import data_root, raw_folder

    root = data_root().resolve()  # absolute: notebook kernels and builds run elsewhere
    if not raw_folder(root).is_dir():
        pytest.fail(f"MNIST is not in {raw_folder(root)}: set MNIST_TUTORIAL_DATA "
                    f"(CI uses ../shared/mnist)")
    return root


def build_site(dest: Path, directory_urls: bool = True, extra_env: dict | None = None,
               config: Path | None = None) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of the smoke profile into ``dest``; returns the process."""
    env = {**os.environ, "MNIST_TUTORIAL_PROFILE": "smoke",
           "MNIST_TUTORIAL_DIRECTORY_URLS": "true" if directory_urls else "false",
           **(extra_env or {})}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(dest)]
    if config is not None:
        command += ["-f", str(config)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def _built(dest: Path, directory_urls: bool) -> Path:
    process = build_site(dest, directory_urls)
    if process.returncode != 0:
        pytest.fail(f"smoke build failed:\n{process.stdout[-3000:]}\n{process.stderr[-5000:]}")
    return dest


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory, mnist_root) -> Path:
    """The smoke site as it is served (directory URLs)."""
    return _built(tmp_path_factory.mktemp("site"), directory_urls=True)


@pytest.fixture(scope="session")
def flat_site_dir(tmp_path_factory, site_dir) -> Path:
    """The smoke site with ``page.html`` URLs, so link checkers can verify anchors."""
    return _built(tmp_path_factory.mktemp("flat-site"), directory_urls=False)
