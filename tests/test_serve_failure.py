"""A home whose claim stops holding: ``mkdocs serve`` keeps serving and shows it on the
page; ``mkdocs build --strict`` fails, naming the claim and the page that states it.

A copy of the course's code (lessons, package, build, hooks, templates) in a temporary
folder, with one claim of ``lessons/linear_collapse.py`` made false, and a small site of
two lessons: that one and ``model``. The runs reuse the session's smoke cache where their
code is the course's own (the model lesson), so only the broken home runs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from conftest import ROOT
from sitebuild import cache

pytestmark = pytest.mark.slow

BROKEN, OTHER = "lessons/linear-collapse.md", "lessons/model.md"
TRUE_CLAIM = "relu_helps_by_five_points = deep_relu > deep_linear + 0.05"
FALSE_CLAIM = "relu_helps_by_five_points = deep_relu > deep_linear + 0.95"
STATED = "lessons/linear-collapse.md: linear_collapse.relu_helps_by_five_points"


def make_project(folder: Path, old: str, new: str) -> Path:
    """The course's code and two lessons in ``folder``, with ``old`` replaced by ``new``
    in lessons/linear_collapse.py."""
    for code in ("mnist_tutorial", "sitebuild", "hooks", "overrides"):
        shutil.copytree(ROOT / code, folder / code,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "lessons").mkdir()
    for page in (BROKEN, OTHER):  # every home has a page, every page a home
        name = Path(page).stem.replace("-", "_") + ".py"
        shutil.copy(ROOT / "lessons" / name, folder / "lessons" / name)
    home = folder / "lessons" / "linear_collapse.py"
    source = home.read_text(encoding="utf-8")
    assert old in source, "the line this test breaks has changed: update the test"
    home.write_text(source.replace(old, new), encoding="utf-8")
    docs = folder / "docs"
    for shared in ("assets", "javascripts", "stylesheets"):
        shutil.copytree(ROOT / "docs" / shared, docs / shared)
    (docs / "index.md").write_text("# Home\n\nThe course's home page.\n", encoding="utf-8")
    shutil.copy(ROOT / "docs" / "glossary.md", docs / "glossary.md")  # the glossary hook's
    for page in (BROKEN, OTHER):
        (docs / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "docs" / page, docs / page)
    (folder / "mkdocs.yml").write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\n"
        "validation:\n  links:\n    not_found: info\n"  # links to pages left out
        f"nav:\n  - index.md\n  - {BROKEN}\n  - {OTHER}\n  - glossary.md\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def project(tmp_path_factory, mnist_root) -> Path:
    return make_project(tmp_path_factory.mktemp("broken-claim"), TRUE_CLAIM, FALSE_CLAIM)


def environment() -> dict[str, str]:
    return {**os.environ, "MNIST_TUTORIAL_PROFILE": "smoke",
            "MNIST_TUTORIAL_CACHE": str(cache.cache_dir()),
            "PYTHONPATH": ""}  # the copy's package, not the checkout's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


class Server:
    """``mkdocs serve`` of a project on a free port, until the block ends."""

    def __init__(self, project: Path):
        self.project, self.port = project, free_port()
        self.log = project / "serve.log"

    def __enter__(self):
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mkdocs", "serve", "--no-livereload", "-a",
                 f"127.0.0.1:{self.port}"], cwd=self.project, env=environment(), stdout=out,
                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while "Serving on" not in self.log.read_text() and time.monotonic() < deadline:
            assert self.process.poll() is None, (
                f"mkdocs serve stopped:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)
        self.output = self.log.read_text()
        assert "Serving on" in self.output, self.output[-3000:]
        return self

    def page(self, path: str) -> str:
        return fetch(f"http://127.0.0.1:{self.port}/{path}")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


def test_serve_shows_the_false_claim_and_keeps_serving(project):
    with Server(project) as server:
        output = server.output  # the terminal names the claim and the page that states it
        assert "ERROR   -  1 claim(s) the pages state do not hold" in output, output[-3000:]
        assert f"  - lessons/linear_collapse.py: {STATED}" in output
        page = server.page("lessons/linear-collapse/")
        box = re.search(r'<div class="admonition failure result-failure".*?</div>', page, re.S)
        assert box, "the page shows no failure box"
        assert STATED in box.group(0)
        # Where the page states it, the claim is marked false, linked to the cell that set it.
        mark = BeautifulSoup(page, "html.parser").select_one(
            'a.result-claim-false[data-result="linear_collapse.relu_helps_by_five_points"]')
        assert mark is not None and mark.get_text() == "✗", "the false claim is not marked"
        assert re.fullmatch(r"\.\./\.\./notebooks/linear-collapse/#in-\d+", mark["href"])
        # The failed run's numbers are still on its page, linked to their cells.
        assert 'data-result="linear_collapse.' in page.replace(box.group(0), "")
        other = server.page("lessons/model/")
        assert "result-failure" not in other and 'class="result-value"' in other
        assert "run failed" not in other
        assert server.process.poll() is None, "the server stopped"


def test_serve_shows_an_error_with_its_cell_and_marks_the_numbers_it_never_computed(
        tmp_path):
    project = make_project(tmp_path, 'report = Report("linear_collapse"',
                           'raise RuntimeError("broken on purpose")\nreport = Report("linear_collapse"')
    with Server(project) as server:
        assert "RuntimeError: broken on purpose" in server.output
        page = server.page("lessons/linear-collapse/")
        box = re.search(r'<div class="admonition failure result-failure".*?</div>', page, re.S)
        assert box and "RuntimeError: broken on purpose" in box.group(0)
        cell = re.search(r'<a href="\.\./\.\./notebooks/linear-collapse/#in-(\d+)">cell '
                         r'\[(\d+)\] of its notebook</a>', box.group(0))
        assert cell and cell.group(1) == cell.group(2)
        assert 'class="result-missing" data-result="linear_collapse' in page
        notebook = server.page("notebooks/linear-collapse/")  # the traceback, at that cell
        assert f'id="in-{cell.group(1)}"' in notebook and "broken on purpose" in notebook
        assert "result-failure" not in server.page("lessons/model/")


def test_a_strict_build_fails_naming_the_claim_and_the_page_that_states_it(project, tmp_path):
    process = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                              str(tmp_path / "site")], cwd=project, env=environment(),
                             capture_output=True, text=True, timeout=600)
    assert process.returncode == 1
    assert ("1 claim(s) the pages state do not hold in this build's runs (each is a variable "
            "of the home's notebook, False or unset):\n"
            f"  - lessons/linear_collapse.py: {STATED}") in process.stderr, process.stderr[-3000:]
    assert not (tmp_path / "site" / "index.html").exists()
