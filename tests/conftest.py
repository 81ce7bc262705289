"""Shared fixtures: the real data folder and the smoke-profile site, built once per run.

The data root comes from ``$MNIST_TUTORIAL_DATA`` (CI points it at ``../shared/mnist``).
Nothing here downloads: ``MNIST_TUTORIAL_DOWNLOAD=0`` is set for the whole session.

Markers (declared in pyproject.toml; quick runs in CONTRIBUTING.md) are given here, by
module and by fixture, so that a new test gets them without remembering to:
``browser`` (drives chromium), ``slow`` (builds the smoke site or runs notebooks),
``kernel`` (starts a Jupyter kernel, itself or through a build or a ``sitebuild``
command). A test without ``kernel`` cannot start one: while it runs, the kernel named
``python3`` is one that exits at once and says which marker is missing. Tests marked
``links`` (the network) are deselected unless ``-m`` names that marker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ["MNIST_TUTORIAL_DOWNLOAD"] = "0"
# Material's end-of-life notice, once per build: the tests' builds leave it out, but for
# one (tests/test_wheel.py, served_site), which checks that it shows exactly once.
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


def write_project(folder: Path, pages: dict[str, str], overrides: str = "",
                  copy_docs: bool | tuple[str, ...] = True) -> Path:
    """A temporary project: the course's docs (all, none, or the paths ``copy_docs`` names)
    plus ``pages``; returns its config. The config inherits the course's mkdocs.yml, with
    ``overrides`` appended; the paths that mkdocs resolves against the config file's folder
    (docs, overrides) are made absolute."""
    docs = folder / "docs"
    if copy_docs is True:
        shutil.copytree(ROOT / "docs", docs)
    for path in copy_docs if isinstance(copy_docs, tuple) else ():
        (docs / path).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (ROOT / "docs" / path).is_dir() else shutil.copy
        copy(ROOT / "docs" / path, docs / path)
    for name, text in pages.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding="utf-8")
    config = folder / "mkdocs.yml"
    config.write_text(f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: {docs}\n"
                      f"theme:\n  custom_dir: {ROOT / 'overrides'}\nwatch: []\n" + overrides,
                      encoding="utf-8")
    return config


def cli(*args, env: dict | None = None, module: str = "mnist_tutorial"
        ) -> subprocess.CompletedProcess:
    """``python -m MODULE ARGS`` in the repository, with ``env`` added to this process's."""
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)


def _built(dest: Path, directory_urls: bool, extra_env: dict | None = None) -> Path:
    process = build_site(dest, directory_urls, extra_env)
    if process.returncode != 0:
        pytest.fail(f"smoke build failed:\n{process.stdout[-3000:]}\n{process.stderr[-5000:]}")
    return dest


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory, mnist_root) -> Path:
    """The smoke site as it is served (directory URLs), with its offline copy, as deployed."""
    return _built(tmp_path_factory.mktemp("site"), directory_urls=True,
                  extra_env={"MNIST_TUTORIAL_OFFLINE_COPY": "1"})


@pytest.fixture(scope="session")
def flat_site_dir(tmp_path_factory, site_dir) -> Path:
    """The smoke site with ``page.html`` URLs, so link checkers can verify anchors."""
    return _built(tmp_path_factory.mktemp("flat-site"), directory_urls=False)


# ---------------------------------------------------------------- markers

BROWSER_MODULES = {"test_browser.py", "test_accessibility.py"}
BROWSER_FIXTURES = {"browser"}
SLOW_MODULES = {"test_notebooks.py", "test_site_build.py"}  # every test there builds or runs
SLOW_FIXTURES = {"site_dir", "flat_site_dir", "site_url", "broken_site_url",  # the smoke site
                 "served_site"}


# Notebooks run directly, or by the mkdocs serve that these modules start.
KERNEL_MODULES = {"test_notebooks.py", "test_serve_failure.py", "test_serve_background.py"}


@pytest.fixture(scope="session")
def _refusing_kernels(tmp_path_factory) -> Path:
    """A Jupyter path whose ``python3`` kernel exits at once, naming the missing marker."""
    path = tmp_path_factory.mktemp("jupyter")
    spec = path / "kernels" / "python3"
    spec.mkdir(parents=True)
    message = ("this test started a Jupyter kernel without the kernel marker: add "
               "@pytest.mark.kernel (or its module to KERNEL_MODULES in tests/conftest.py)")
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", f"import sys; sys.exit({message!r})", "{connection_file}"],
        "display_name": "no kernel here", "language": "python"}))
    return path


@pytest.fixture(autouse=True)
def _kernels_only_where_marked(request, monkeypatch):
    # Function-scoped, so set up after the session's smoke site (which runs its notebooks).
    if not request.node.get_closest_marker("kernel"):
        monkeypatch.setenv("JUPYTER_PATH", str(request.getfixturevalue("_refusing_kernels")))


@pytest.hookimpl(tryfirst=True)  # before -m selects on the markers given here
def pytest_collection_modifyitems(config, items):
    for item in items:
        module, fixtures = item.path.name, set(getattr(item, "fixturenames", ()))
        if module in BROWSER_MODULES or fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if module in SLOW_MODULES or fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if module in KERNEL_MODULES:
            item.add_marker(pytest.mark.kernel)
    # Network checks run only when asked for by name (-m links, -m "links or slow"):
    # deselected, not skipped, so that the default run reports no skips.
    if "links" not in config.getoption("markexpr", ""):
        network = [item for item in items if item.get_closest_marker("links")]
        if network:
            config.hook.pytest_deselected(items=network)
            items[:] = [item for item in items if not item.get_closest_marker("links")]
