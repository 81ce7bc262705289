"""The course's wheel, as a learner on Colab gets it: published with the site, installed by
the downloaded notebook's setup cell where the course is missing.

The end-to-end test builds the smoke site with a loopback address standing in for the
published one, serves it, and runs a downloaded notebook in a kernel of a fresh
virtualenv that has torch and the rest (a path file pointing at this environment's
packages) but not the course: the setup cell must install the site's wheel, with pip
told to use no package index, and the notebook must then agree with the site.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from browser_util import serve
from conftest import ROOT, build_site
from sitebuild import downloads

NOTEBOOK = "linear-collapse"  # the quickest page's notebook


def test_the_wheel_holds_the_package_and_its_licence():
    with zipfile.ZipFile(__import__("io").BytesIO(downloads.build_wheel())) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        points = wheel.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
    assert "mnist_tutorial/training.py" in names
    assert not [name for name in names if name.startswith(("lessons/", "sitebuild/", "tests/"))]
    # The site's plugin (sitebuild/plugin/) is not in the wheel, nor its entry point.
    assert b"mkdocs.plugins" not in points and b"sitebuild" not in points, points
    assert b"[console_scripts]" in points
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert re.search(r"^License-Expression: MIT$", metadata, re.MULTILINE), metadata[:600]


def test_the_wheel_is_the_same_bytes_each_build():
    assert downloads.build_wheel() == downloads.build_wheel()


def test_pip_wheel_emits_no_deprecation_warning(tmp_path):
    """``pip wheel .`` with the pinned setuptools (no build isolation: nothing downloaded);
    -v shows the backend's own output, where setuptools writes its deprecations."""
    source = tmp_path / "source"
    downloads.copy_wheel_inputs(ROOT, source)
    process = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "out"), str(source)], capture_output=True, text=True)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-3000:]
    assert "Created wheel for mnist-tutorial" in output  # -v did show the backend's output
    assert not re.search(r"deprecat", output, re.IGNORECASE), output[-5000:]


@pytest.fixture(scope="module")
def served_site(tmp_path_factory, mnist_root):
    """The smoke site, built for and served at a loopback address."""
    site = tmp_path_factory.mktemp("served-site")
    with serve(site) as url:
        # With Material's end-of-life notice on, as in CI's and the deploy's logs.
        process = build_site(site, extra_env={"MNIST_TUTORIAL_SITE_URL": url,
                                              "NO_MKDOCS_2_WARNING": ""})
        if process.returncode != 0:
            pytest.fail(f"smoke build failed:\n{process.stderr[-5000:]}")
        yield site, url, process.stdout + process.stderr


def test_the_build_log_shows_materials_notice_once(served_site):
    log = served_site[2]
    assert log.count("Material for MkDocs reaches end of life") == 1, log[:3000]


def fresh_virtualenv(folder: Path) -> Path:
    """A virtualenv without the course, seeing this environment's packages (torch, pip,
    ipykernel...) through a path file; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "course-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.kernel
def test_a_fresh_virtualenv_installs_the_sites_wheel_and_runs_a_notebook(
        served_site, tmp_path, monkeypatch, mnist_root):
    site, url, _ = served_site
    wheel_url = f"{url}downloads/{downloads.wheel_name()}"
    assert (site / "downloads" / downloads.wheel_name()).is_file()
    nb = nbformat.read(site / "downloads" / f"{NOTEBOOK}.ipynb", as_version=4)
    assert f"COURSE = [{wheel_url!r}]" in nb.cells[1].source  # no repository: no git+ fallback

    python = fresh_virtualenv(tmp_path / "venv")
    check = [str(python), "-c", "import importlib.util as u; print(u.find_spec('mnist_tutorial'))"]
    assert subprocess.run(check, capture_output=True, text=True, cwd=tmp_path).stdout.strip() == "None"
    kernels = tmp_path / "jupyter" / "kernels" / "fresh"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh virtualenv", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb.cells.append(nbformat.v4.new_code_cell("import mnist_tutorial\nprint(mnist_tutorial.__file__)"))

    env = {key: value for key, value in os.environ.items()
           if key not in ("MNIST_TUTORIAL_REPORT", "MNIST_TUTORIAL_CACHE", "VIRTUAL_ENV")}
    env |= {"MNIST_TUTORIAL_PROFILE": "smoke", "MNIST_TUTORIAL_DATA": str(mnist_root),
            "MPLBACKEND": "Agg", "TQDM_DISABLE": "1", "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "MNIST_TUTORIAL_PRECISION": "fp32"}
    work = tmp_path / "work"
    work.mkdir()
    client = NotebookClient(nb, timeout=600, kernel_name="fresh", allow_errors=False,
                            resources={"metadata": {"path": str(work)}})
    client.execute(env=env)

    def printed(cell):
        return "".join(output.get("text", "") for output in cell.outputs)

    assert f"Installing the course from {wheel_url}" in printed(nb.cells[1])
    assert "Your run agrees with the site's." in printed(nb.cells[-2])
    installed = Path(printed(nb.cells[-1]).strip())
    assert installed.is_relative_to(tmp_path / "venv"), installed  # the wheel's, not ours
